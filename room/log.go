package room

// Log is the ordered log behind a hub: every room event (join, say,
// leave, eviction) is appended to its room's log and applied, on every
// node that has the room open, by Hub.Apply in the log's order — the one
// apply step of a single node and of a cluster. A single node uses an
// in-memory log that applies an event as it is appended; a cluster's log
// is a replicated JetStream stream (package cluster).
type Log interface {
	// Open starts bringing r's events to the hub: the log sets r's state
	// (Hub.Reset) and then applies every later event in order. Called
	// with r's mutex held when the room gets its first local member.
	Open(r *Room)
	// Append adds ev to r's log. The event comes back through Hub.Apply
	// once it is in the log, or through Hub.Rejected if the log did not
	// take it. Called with r's mutex held; it never blocks.
	Append(r *Room, ev Event)
	// Close stops bringing r's events (no local member is left; r is
	// retired). Called without r's mutex: a log may hold a lock of its
	// own while it applies (Hub.Apply takes r's mutex).
	Close(r *Room)
}

// memLog is a single node's log: a room's events are sequenced by its
// mutex and applied as they are appended. It keeps nothing; nothing is
// lost, so there is nothing to repair. Sequences are handed out by one
// counter for every room of the hub, so a room that is retired and opened
// again never repeats an id of its earlier life (history.go).
type memLog struct{ h *Hub }

func (memLog) Open(*Room)  {}
func (memLog) Close(*Room) {}

func (l memLog) Append(r *Room, ev Event) {
	r.seq = l.h.seqs.Add(1)
	l.h.apply(r, &ev, false)
}
