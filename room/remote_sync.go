package room

import (
	"errors"
	"slices"

	"chatd/codec"
)

// Synchronising a room. A node that opens a room (first local member, or
// the bus came back) subscribes to the room's stream, then asks the
// room's holders (nodes with members and a synchronised list, a queue
// group on the bus) for a snapshot. The holder that gets the request
// publishes a marker on the stream and, when the stream delivers its own
// marker, sends its list as of that point. The new node buffers the
// stream from before its request, so it applies exactly the events after
// the marker on top of the snapshot. "No holder" (NATS no-responders)
// proves the room empty at the time of the request: every node with
// members holds, from before its first join is published until after
// its last leave is. Own events are held back until the room is live.

// startSync starts (or restarts) the synchronisation of r. Called with
// r.mu held.
func (h *Hub) startSync(r *Room) {
	c := r.cl
	c.phase = phaseSync
	c.token = h.cl.token.Add(1)
	c.inbuf, c.marker, c.snap = nil, -1, nil
	c.stream.Hold(false)
	c.stream.Sync(c.token)
}

// Event implements Receiver.
func (l *link) Event(ev []byte) {
	r := l.r
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.dead || len(ev) == 0 {
		return
	}
	switch r.cl.phase {
	case phaseLive:
		l.h.apply(r, ev)
	case phaseSync:
		r.cl.inbuf = append(r.cl.inbuf, ev)
		if ev[0] == wireMarker && r.cl.marker < 0 && markerToken(ev) == r.cl.token {
			r.cl.marker = len(r.cl.inbuf)
			l.h.trySynced(r)
		}
	}
}

func markerToken(ev []byte) uint64 {
	rd := reader{b: ev[1:]}
	_, token := rd.uint(), rd.uint()
	return token
}

// Requested implements Receiver: a holder answers through the stream, so
// that the snapshot is taken at a point the requester can find.
func (l *link) Requested(token uint64, reply string) {
	r := l.r
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.dead && r.cl.phase == phaseLive {
		w := wire(make([]byte, 0, 24+len(reply))).bytes([]byte{wireMarker}).uint(l.h.cl.node).uint(token).str(reply)
		r.cl.stream.Publish(w)
	}
}

// Synced implements Receiver.
func (l *link) Synced(token uint64, snap []byte, err error) {
	r, h := l.r, l.h
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.dead || r.cl.phase != phaseSync || token != r.cl.token {
		return
	}
	switch {
	case errors.Is(err, ErrNoHolder):
		h.synced(r, nil, nil, r.cl.inbuf)
	case err != nil:
		h.startSync(r)
	default:
		r.cl.snap = snap
		h.trySynced(r)
	}
}

// trySynced completes the sync once both the snapshot and its marker are
// in.
func (h *Hub) trySynced(r *Room) {
	c := r.cl
	if c.snap == nil || c.marker < 0 {
		return
	}
	users, nodes, ok := decodeSnapshot(c.snap)
	if !ok {
		h.startSync(r)
		return
	}
	h.synced(r, users, nodes, c.inbuf[c.marker:])
}

// synced makes users/nodes r's list, tells local members about the other
// nodes' members they did not know, applies the events after the
// snapshot, then goes live: it holds the room, announces its own members
// if the list has them wrong, and sends the events it held back.
func (h *Hub) synced(r *Room, users []codec.User, nodes []uint64, replay [][]byte) {
	c := r.cl
	old, oldNodes := r.users, c.nodes
	r.users, c.nodes = users, nodes
	for i, u := range users {
		if nodes[i] == h.cl.node {
			continue
		}
		h.cl.bus.Watch(nodes[i])
		if !slices.Contains(oldNodes, nodes[i]) || !containsUID(old, u.UID) {
			h.notifyLogin(r, u)
		}
	}
	for i, u := range old {
		if oldNodes[i] != h.cl.node && r.indexOf(u.UID) < 0 {
			h.notifyLogout(r, u)
		}
	}
	c.phase = phaseLive
	c.stream.Hold(true)
	for _, ev := range replay {
		h.apply(r, ev)
	}
	c.inbuf, c.snap, c.marker = nil, nil, -1
	if !h.ownEntriesRight(r) {
		c.stream.Publish(h.reconcileEvent(r, ownEntries(old, oldNodes, h.cl.node)))
	}
	for _, ev := range c.outq {
		c.stream.Publish(ev)
	}
	c.outq = nil
	h.endResync(r)
}

func containsUID(users []codec.User, uid uint64) bool {
	return slices.ContainsFunc(users, func(u codec.User) bool { return u.UID == uid })
}

func ownEntries(users []codec.User, nodes []uint64, node uint64) []codec.User {
	var own []codec.User
	for i, u := range users {
		if nodes[i] == node {
			own = append(own, u)
		}
	}
	return own
}

// ownEntriesRight reports whether r lists exactly this node's joined
// members.
func (h *Hub) ownEntriesRight(r *Room) bool {
	n := 0
	for i, u := range r.users {
		if r.cl.nodes[i] != h.cl.node {
			continue
		}
		if _, ok := r.cl.joined[u.UID]; !ok {
			return false
		}
		n++
	}
	return n == len(r.cl.joined)
}

// goLocal switches r to local phase when the bus is down: the list keeps
// only this node's joined members (the others get logouts), held events
// apply, and joins still in flight apply locally. Called with r.mu held.
func (h *Hub) goLocal(r *Room) {
	c := r.cl
	h.endResync(r)
	c.phase = phaseLocal
	c.stream.Hold(false)
	c.inbuf, c.snap, c.marker = nil, nil, -1
	for i := 0; i < len(r.users); {
		u := r.users[i]
		if _, ok := c.joined[u.UID]; ok && c.nodes[i] == h.cl.node {
			i++
			continue
		}
		r.removeAt(i)
		h.notifyLogout(r, u)
	}
	for uid, j := range c.joined { // silently evicted earlier: list them again
		if r.indexOf(uid) < 0 {
			r.users = append(r.users, codec.User{UID: uid, Name: j.name})
			c.nodes = append(c.nodes, h.cl.node)
		}
	}
	q := c.outq
	c.outq = nil
	for _, ev := range q {
		h.apply(r, ev)
	}
	now := h.cfg.Now()
	for len(c.pending) > 0 {
		p := c.pending[0]
		h.apply(r, h.joinEvent(p.m.uid, p.name, now))
		c.dropPending(p.m) // applied above unless already listed
	}
}
