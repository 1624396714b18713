package room

import (
	"chatd/codec"
)

// The apply step. Every room event, on a single node and in a cluster,
// changes the room's state and reaches its members here, with the room's
// mutex held, in the room's log order; it is framed once per dialect
// that has members in the room.

// Apply applies the event at log sequence seq of r. The log calls it in
// sequence order, once per event; an event at or below the room's
// sequence is a duplicate and is ignored.
func (h *Hub) Apply(r *Room, seq uint64, ev *Event) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.dead || seq <= r.seq {
		return
	}
	r.seq = seq
	h.apply(r, ev, true)
}

// apply applies ev to r; owned: ev's strings are the event's own (see
// keep). Called with r.mu held.
func (h *Hub) apply(r *Room, ev *Event, owned bool) {
	switch ev.Kind {
	case KindJoin:
		h.applyJoin(r, ev)
	case KindLeave:
		if i := r.indexOf(ev.UID); i >= 0 {
			name := r.users[i].Name
			r.removeAt(i)
			h.broadcast(r, &codec.Event{Kind: codec.EventLogout, UID: ev.UID, Name: name, Time: ev.time(), ID: h.id(r)})
		}
	case KindSay:
		// A say from a member the log no longer lists (evicted meanwhile)
		// is dropped the same way on every node. It is kept for history
		// even with no local member joined yet (a joiner's room syncing).
		if r.indexOf(ev.UID) >= 0 {
			fs := h.broadcast(r, &codec.Event{Kind: codec.EventSay, UID: ev.UID, Name: ev.Name, Content: ev.Content, Time: ev.time(), ID: h.id(r)})
			h.keep(r, ev, &fs, owned)
		}
	case KindEvict:
		h.applyEvict(r, ev)
	}
}

// applyJoin lists the member; a local joiner gets the user_list (or its
// dialect's equivalent), then every local member the login. A join of a
// listed member changes nothing (a node re-announcing its members).
func (h *Hub) applyJoin(r *Room, ev *Event) {
	listed := r.indexOf(ev.UID) >= 0
	var m *Member
	var want codec.Resume
	if ev.Node == h.node && ev.Boot == h.boot {
		m, want = r.popPending(ev.UID)
	}
	if listed && m == nil {
		return
	}
	if !listed {
		r.users = append(r.users, codec.User{UID: ev.UID, Name: ev.Name})
		r.owners = append(r.owners, Owner{ev.Node, ev.Boot})
		h.watch(Owner{ev.Node, ev.Boot})
	}
	login := codec.Event{Kind: codec.EventLogin, UID: ev.UID, Name: ev.Name, Time: ev.time(), ID: h.id(r)}
	if m == nil {
		h.broadcast(r, &login)
		return
	}
	h.joinLocal(r, m, &want, &login, r.users)
}

// joinLocal completes the join of local member m, which asked want of
// the room's history; its user_list is users (the room's list as of its
// join). Called with r.mu held.
func (h *Hub) joinLocal(r *Room, m *Member, want *codec.Resume, login *codec.Event, users []codec.User) {
	r.joined = append(r.joined, m)
	r.count(m, 1)
	var fs frames
	r.encode(&fs, login, &r.scratch)
	var hist *[]byte
	if want.Wanted() {
		hist = scratches.Get().(*[]byte)
		*hist = h.historyJSON((*hist)[:0], r, m.dialect, want)
	}
	join := joinFrames(m.dialect, login, users, fs[m.dialect], hist)
	if hist != nil {
		trim(hist)
		scratches.Put(hist)
	}
	h.post(r, event{kind: evBroadcast, room: r, frames: fs}, m, join)
}

// id returns the log position of r's last applied event. Called with
// r.mu held.
func (h *Hub) id(r *Room) codec.ID {
	if r.seq == 0 {
		return codec.ID{}
	}
	return codec.ID{Epoch: h.Epoch(), Seq: r.seq}
}

// watch tells the cluster about an owner that is not this node's boot.
func (h *Hub) watch(o Owner) {
	if h.cl != nil && o != (Owner{h.node, h.boot}) {
		h.cl.Watch(o)
	}
}

// applyEvict removes every member of the evicted node (and boot). If
// that is this node (others thought it dead), its members join again.
func (h *Hub) applyEvict(r *Room, ev *Event) {
	self := false
	for i := 0; i < len(r.users); {
		o := r.owners[i]
		if o.Node != ev.Node || (ev.Boot != 0 && o.Boot != ev.Boot) {
			i++
			continue
		}
		u := r.users[i]
		r.removeAt(i)
		self = self || o == (Owner{h.node, h.boot})
		h.broadcast(r, &codec.Event{Kind: codec.EventLogout, UID: u.UID, Name: u.Name, Time: ev.time(), ID: h.id(r)})
	}
	if self && h.cl != nil {
		h.rejoin(r)
	}
}

// rejoin appends a join for every joined local member the list lacks and
// a leave for every entry of this node's boot that no local member
// backs. Called with r.mu held, in a cluster, once the room is caught up.
func (h *Hub) rejoin(r *Room) {
	now := h.now()
	for _, m := range r.joined {
		if r.indexOf(m.uid) < 0 {
			h.log.Append(r, Event{Kind: KindJoin, UID: m.uid, Name: m.name, Node: h.node, Boot: h.boot, Time: now})
		}
	}
	for i, u := range r.users {
		if r.owners[i] == (Owner{h.node, h.boot}) && !r.backs(u.UID) {
			h.log.Append(r, Event{Kind: KindLeave, UID: u.UID, Time: now})
		}
	}
}

// backs reports whether a local member with uid is joined or joining.
func (r *Room) backs(uid uint64) bool {
	for _, m := range r.joined {
		if m.uid == uid {
			return true
		}
	}
	for _, j := range r.pending {
		if j.m.uid == uid {
			return true
		}
	}
	return false
}

// broadcast frames ev once per dialect with members in r and posts it to
// every loop with members; it returns the frames. Called with r.mu held.
func (h *Hub) broadcast(r *Room, ev *codec.Event) (fs frames) {
	if r.total == 0 {
		return fs
	}
	r.encode(&fs, ev, &r.scratch)
	h.post(r, event{kind: evBroadcast, room: r, frames: fs}, nil, nil)
	return fs
}

// post posts e to every loop with members of r. With joiner set, the
// joiner's loop gets e as its evJoin, with join for the joiner. Called
// with r.mu held.
func (h *Hub) post(r *Room, e event, joiner *Member, join []byte) {
	for i, n := range r.counts {
		switch {
		case joiner != nil && i == joiner.shard.idx:
			j := e
			j.kind, j.member, j.one = evJoin, joiner, join
			h.shards[i].post(j, r.from)
		case n > 0:
			h.shards[i].post(e, r.from)
		}
	}
}
