package room

import (
	"crypto/rand"
	"encoding/binary"
	"strconv"
	"strings"
	"time"

	"chatd/codec"
)

// History and resume (PROTOCOL.md, "History" and "Resume"). Every room
// event sent to clients carries its id, "<epoch>-<seq>": seq is its
// position in the room's log (the apply step knows it: Room.seq), the
// epoch names the log (a single node: random per process; a cluster: the
// rooms stream, set by the cluster through SetEpoch). The same event has
// the same id on every node.
//
// A room keeps its last says (Config.HistoryMax, HistoryAge, and
// HistoryBytes for all rooms together) with the frames it sent for them,
// so that a newcomer's history message is built by copying JSON, not by
// encoding each say again; a dialect that had no member when a say was
// applied is encoded from the neutral say when asked for. On a single
// node the log and so the history are in memory only: a restarted
// process has another epoch, and every since from before it gets
// complete:false. A room retired (no member left) keeps its history in
// the hub's archive until it is opened again. In a cluster the log is
// the replicated stream: a node opening a room takes the room's last
// says from its checkpoint (Snapshot, Hub.SeedHistory), then keeps the
// ones it applies.

// said is one kept say: the neutral say and the frames sent for it.
type said struct {
	seq     uint64
	at      int64 // unix nanoseconds
	uid     uint64
	name    string
	content string
	frames  frames // nil for a dialect that had no member
	size    int64  // bytes accounted in Hub.histBytes
}

// saidOverhead is the accounted size of a kept say besides its strings
// and frames (the struct in its ring).
const saidOverhead = 128

// history is a room's kept says, oldest first, in a ring that grows up
// to Config.HistoryMax. Guarded by its room's mu (or Hub.amu while
// archived).
type history struct {
	epoch   string
	floor   uint64 // says at or below floor may be missing
	trimmed bool   // a say was dropped (bounds) or lost: history is not the room's whole past
	ring    []said
	head, n int
	bytes   int64
}

// randomEpoch returns a random epoch of 8 base-36 digits or fewer.
func randomEpoch() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return strconv.FormatUint(binary.LittleEndian.Uint64(b[:])%(1<<40), 36)
}

// SetEpoch sets the epoch of the hub's log (a cluster: the rooms stream;
// a new stream has a new epoch). Safe for concurrent use.
func (h *Hub) SetEpoch(e string) { h.epoch.Store(&e) }

// Epoch returns the epoch of the hub's log.
func (h *Hub) Epoch() string { return *h.epoch.Load() }

// HistoryBytes returns the memory accounted to kept says.
func (h *Hub) HistoryBytes() int64 { return h.histBytes.Load() }

// maxArchived bounds the retired rooms whose history a single node keeps.
const maxArchived = 10000

// reopenHistory returns the history of room id opened again: old (the
// retired room's, not yet archived), the archived one, or a new one
// whose floor is the log's current sequence (says of an earlier life of
// the room, if any, are lost). Called with h.mu held.
func (h *Hub) reopenHistory(id string, old *history) *history {
	if h.cl != nil {
		if old != nil {
			h.histBytes.Add(-old.bytes)
		}
		return &history{epoch: h.Epoch()}
	}
	if old != nil {
		return old
	}
	h.amu.Lock()
	hs := h.archive[id]
	delete(h.archive, id)
	h.amu.Unlock()
	if hs == nil {
		hs = &history{epoch: h.Epoch(), floor: h.seqs.Load()}
	}
	return hs
}

// retireHistory archives the history of a retired room (single node).
// Called with h.mu held.
func (h *Hub) retireHistory(id string, hs *history) {
	if hs == nil {
		return
	}
	if h.cl != nil {
		h.histBytes.Add(-hs.bytes)
		return
	}
	// Kept even with no say: its floor says that nothing was missed, so
	// a member back in a room that emptied meanwhile resumes completely.
	h.amu.Lock()
	defer h.amu.Unlock()
	for k, v := range h.archive {
		if len(h.archive) < maxArchived {
			break
		}
		h.histBytes.Add(-v.bytes)
		delete(h.archive, k)
	}
	h.archive[id] = hs
}

// keep adds the applied say ev (at r.seq, framed as fs) to r's history.
// owned: ev's strings belong to the event (decoded from the cluster's
// log); otherwise its content may alias the sender's buffer and only the
// frames are kept (no copy: a say costs no allocation here), from which
// another dialect is rendered when asked. Called with r.mu held.
func (h *Hub) keep(r *Room, ev *Event, fs *frames, owned bool) {
	limit := h.cfg.HistoryMax
	hs := r.hist
	if hs == nil || limit == 0 {
		return
	}
	hs.sameEpoch(h)
	hs.expire(h, h.now())
	s := said{seq: r.seq, at: ev.Time, uid: ev.UID, name: ev.Name, frames: *fs}
	switch {
	case owned:
		s.content = ev.Content
	case fs.none():
		s.content = strings.Clone(ev.Content)
	}
	s.size = saidOverhead + int64(len(s.name)+len(s.content))
	for _, f := range fs {
		s.size += int64(len(f))
	}
	if hs.n == limit {
		hs.drop(h)
	}
	hs.push(s, limit)
	hs.bytes += s.size
	if h.histBytes.Add(s.size) > h.cfg.HistoryBytes {
		h.shed(hs)
	}
}

// shed brings the kept says under Config.HistoryBytes: archived rooms'
// first, then the oldest of hs. Called with hs's room's mu held.
func (h *Hub) shed(hs *history) {
	h.amu.Lock()
	for k, v := range h.archive {
		if h.histBytes.Load() <= h.cfg.HistoryBytes {
			break
		}
		h.histBytes.Add(-v.bytes)
		delete(h.archive, k)
	}
	h.amu.Unlock()
	for hs.n > 0 && h.histBytes.Load() > h.cfg.HistoryBytes {
		hs.drop(h)
	}
}

// sameEpoch starts hs over if the log's epoch changed (a cluster's
// stream created anew): its says are of a log that is gone.
func (hs *history) sameEpoch(h *Hub) {
	if e := h.Epoch(); hs.epoch != e {
		for hs.n > 0 {
			hs.drop(h)
		}
		*hs = history{epoch: e, trimmed: true}
	}
}

// expire drops the says older than Config.HistoryAge.
func (hs *history) expire(h *Hub, now int64) {
	for hs.n > 0 && now-hs.at(0).at > int64(h.cfg.HistoryAge) {
		hs.drop(h)
	}
}

// at returns the i-th oldest kept say.
func (hs *history) at(i int) *said { return &hs.ring[(hs.head+i)%len(hs.ring)] }

// push appends s, growing the ring (doubling, up to max) when full.
func (hs *history) push(s said, limit int) {
	if hs.n == len(hs.ring) {
		ring := make([]said, min(limit, max(4, 2*len(hs.ring))))
		for i := 0; i < hs.n; i++ {
			ring[i] = *hs.at(i)
		}
		hs.ring, hs.head = ring, 0
	}
	*hs.at(hs.n) = s
	hs.n++
}

// drop forgets the oldest kept say.
func (hs *history) drop(h *Hub) {
	s := hs.at(0)
	hs.floor, hs.trimmed = s.seq, true
	hs.bytes -= s.size
	h.histBytes.Add(-s.size)
	*s = said{}
	hs.head = (hs.head + 1) % len(hs.ring)
	hs.n--
}

// historyJSON appends the history message that want asks of r for a
// member of dialect d (PROTOCOL.md): with since, every kept say after
// it; otherwise the last want.History; at most Config.HistoryMax (and
// want.History if given), oldest first. Says are copied from the frames
// sent for them. Called with r.mu held.
func (h *Hub) historyJSON(dst []byte, r *Room, d codec.Dialect, want *codec.Resume) []byte {
	dst = append(dst, codec.HistoryStart...)
	hs := r.hist
	if hs == nil {
		return codec.AppendHistoryEnd(dst, false)
	}
	hs.sameEpoch(h)
	hs.expire(h, h.now())
	from, complete := hs.start(want)
	complete = complete && h.cfg.HistoryMax > 0
	limit := h.cfg.HistoryMax
	if want.History > 0 && want.History < limit {
		limit = want.History
	}
	if hs.n-from > limit {
		from = hs.n - limit
		complete = complete && want.Since.Seq == 0
	}
	for i := from; i < hs.n; i++ {
		if i > from {
			dst = append(dst, ',')
		}
		dst = hs.at(i).appendJSON(dst, d, hs.epoch)
	}
	return codec.AppendHistoryEnd(dst, complete)
}

// start returns the index of the first say want asks for and whether
// hs holds every say it asks for (before any count limit).
func (hs *history) start(want *codec.Resume) (int, bool) {
	if want.Since.Seq == 0 {
		return 0, hs.n >= want.History || !hs.trimmed
	}
	if want.Since.Epoch != hs.epoch {
		return 0, false
	}
	i := 0
	for i < hs.n && hs.at(i).seq <= want.Since.Seq {
		i++
	}
	return i, want.Since.Seq >= hs.floor
}

// appendJSON appends s as the say message of dialect d: the frame sent
// for it without its header, or, if no member of d had it, rendered from
// the neutral say or from another dialect's frame.
func (s *said) appendJSON(dst []byte, d codec.Dialect, epoch string) []byte {
	if f := s.frames[d]; f != nil {
		return append(dst, payload(f)...)
	}
	ev := codec.Event{Kind: codec.EventSay, UID: s.uid, Name: s.name, Content: s.content,
		Time: time.Unix(0, s.at), ID: codec.ID{Epoch: epoch, Seq: s.seq}}
	if s.content == "" {
		for _, f := range s.frames {
			if f != nil {
				return codec.AppendSayBody(dst, d, &ev, codec.SayContentBody(payload(f)))
			}
		}
	}
	return codec.AppendEvent(dst, d, &ev)
}

// none reports whether no dialect was framed.
func (fs *frames) none() bool {
	for _, f := range fs {
		if f != nil {
			return false
		}
	}
	return true
}

// payload returns the payload of an unmasked server frame.
func payload(f []byte) []byte {
	switch f[1] & 0x7f {
	case 126:
		return f[4:]
	case 127:
		return f[10:]
	}
	return f[2:]
}

// Said is a say read from a cluster's log, at sequence Seq.
type Said struct {
	Seq   uint64
	Event Event
}

// HistoryMax returns Config.HistoryMax (0: no history kept).
func (h *Hub) HistoryMax() int { return h.cfg.HistoryMax }

// HistoryAge returns Config.HistoryAge.
func (h *Hub) HistoryAge() time.Duration { return h.cfg.HistoryAge }

// SeedHistory sets r's history, before its state is set, to the says of
// snap, a snapshot of the room taken by a node that applied its log (the
// strings owned): says at or below snap.Floor may be missing. A snapshot
// without history (none kept, or from an older chatd) gives an empty
// history whose floor is the snapshot's sequence.
func (h *Hub) SeedHistory(r *Room, snap *Snapshot) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.dead || r.hist == nil {
		return
	}
	hs := r.hist
	for hs.n > 0 {
		hs.drop(h)
	}
	*hs = history{epoch: h.Epoch(), floor: snap.Seq, trimmed: snap.Seq > 0}
	if !snap.Kept {
		return
	}
	hs.floor, hs.trimmed = snap.Floor, snap.Trimmed
	says := snap.Says
	seq := r.seq
	for i := max(0, len(says)-h.cfg.HistoryMax); i < len(says); i++ {
		r.seq = says[i].Seq
		h.keep(r, &says[i].Event, &frames{}, true)
	}
	r.seq = seq
	if len(says) > h.cfg.HistoryMax {
		hs.trimmed = true
		hs.floor = max(hs.floor, says[len(says)-h.cfg.HistoryMax-1].Seq)
	}
}
