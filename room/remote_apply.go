package room

import (
	"slices"
	"strings"

	"chatd/codec"
)

// Applying a room's stream. Every function here is called with Room.mu
// held, by the room's stream goroutine (live phase), by the loop that
// emitted the event (local phase), or by a sync completion.

// apply applies one event of r's stream.
func (h *Hub) apply(r *Room, ev []byte) {
	if len(ev) == 0 {
		return
	}
	rd := reader{b: ev[1:]}
	switch ev[0] {
	case wireJoin:
		node, e := rd.uint(), rd.event(codec.EventLogin)
		if !rd.bad {
			h.applyJoin(r, node, &e)
		}
	case wireLeave:
		_, e := rd.uint(), rd.event(codec.EventLogout)
		if i := r.indexOf(e.UID); !rd.bad && i >= 0 {
			e.Name = r.users[i].Name
			r.removeAt(i)
			h.broadcast(r, &e)
		}
	case wireSay:
		if _, e := rd.uint(), rd.event(codec.EventSay); !rd.bad {
			h.broadcast(r, &e)
		}
	case wireMarker:
		node, token, reply := rd.uint(), rd.uint(), rd.str()
		if !rd.bad && node == h.cl.node && r.cl.phase == phaseLive {
			h.cl.bus.Reply(reply, r.snapshot(token))
		}
	case wireEvict:
		if _, gone := rd.uint(), rd.uint(); !rd.bad {
			h.evict(r, gone)
		}
	case wireReconcile:
		node, list := decodeReconcile(&rd)
		if !rd.bad {
			h.reconcile(r, node, list)
		}
	}
}

// applyJoin appends ev's member to the list; a local joiner gets its
// join frames (joinFrames), everyone else the login.
func (h *Hub) applyJoin(r *Room, node uint64, ev *codec.Event) {
	uid := ev.UID
	dup := r.indexOf(uid) >= 0
	var m *Member
	if node == h.cl.node {
		m = r.cl.popPending(uid)
	}
	if dup && m == nil {
		return
	}
	name := strings.Clone(ev.Name) // kept in the list; ev aliases the stream message
	if !dup {
		r.users = append(r.users, codec.User{UID: uid, Name: name})
		r.cl.nodes = append(r.cl.nodes, node)
		if node != h.cl.node {
			h.cl.bus.Watch(node)
		}
	}
	if m == nil {
		h.broadcast(r, ev)
		return
	}
	r.cl.joined[uid] = pendingJoin{m: m, name: name}
	r.count(m, 1)
	withScratch(func(b *[]byte) {
		var fs frames
		r.encode(&fs, ev, b)
		join := joinFrames(b, m.dialect, ev, r.users, fs[m.dialect])
		h.post(r, event{kind: evBroadcast, room: r, frames: fs}, m, join)
	})
}

// broadcast frames ev per dialect of r's local members and posts it to
// every loop with local members of r.
func (h *Hub) broadcast(r *Room, ev *codec.Event) {
	if r.total == 0 {
		return
	}
	withScratch(func(b *[]byte) {
		var fs frames
		r.encode(&fs, ev, b)
		h.post(r, event{kind: evBroadcast, room: r, frames: fs}, nil, nil)
	})
}

func (h *Hub) notifyLogin(r *Room, u codec.User) {
	h.broadcast(r, &codec.Event{Kind: codec.EventLogin, UID: u.UID, Name: u.Name, Time: h.cfg.Now()})
}

func (h *Hub) notifyLogout(r *Room, u codec.User) {
	h.broadcast(r, &codec.Event{Kind: codec.EventLogout, UID: u.UID, Name: u.Name, Time: h.cfg.Now()})
}

// evict removes every member of node gone. Members of other nodes get
// logouts; this node's own members are silently re-announced (someone
// thought this node dead).
func (h *Hub) evict(r *Room, gone uint64) {
	found := false
	for i := 0; i < len(r.users); {
		if r.cl.nodes[i] != gone {
			i++
			continue
		}
		found = true
		u := r.users[i]
		r.removeAt(i)
		if gone != h.cl.node {
			h.notifyLogout(r, u)
		}
	}
	if found && gone == h.cl.node && r.cl.phase == phaseLive && len(r.cl.joined) > 0 {
		h.emit(r, h.reconcileEvent(r, nil))
	}
}

// reconcile makes node's entries of r exactly list: entries not in list
// leave, missing ones are appended in list order. Other nodes notify
// their members; node itself has told its members already.
func (h *Hub) reconcile(r *Room, node uint64, list []codec.User) {
	notify := node != h.cl.node
	for i := 0; i < len(r.users); {
		u := r.users[i]
		if r.cl.nodes[i] != node || slices.ContainsFunc(list, func(v codec.User) bool { return v.UID == u.UID }) {
			i++
			continue
		}
		r.removeAt(i)
		if notify {
			h.notifyLogout(r, u)
		}
	}
	for _, u := range list {
		if r.indexOf(u.UID) >= 0 {
			continue
		}
		r.users = append(r.users, u)
		r.cl.nodes = append(r.cl.nodes, node)
		if notify {
			h.cl.bus.Watch(node)
			h.notifyLogin(r, u)
		}
	}
}

// reconcileEvent lists this node's joined members of r: first in the
// order of old (the node's own entries of an earlier list), then the
// rest by uid (a node's uids grow with time).
func (h *Hub) reconcileEvent(r *Room, old []codec.User) []byte {
	list := make([]codec.User, 0, len(r.cl.joined))
	for _, u := range old {
		if _, ok := r.cl.joined[u.UID]; ok {
			list = append(list, u)
		}
	}
	start := len(list)
	for uid, j := range r.cl.joined {
		if !slices.ContainsFunc(list, func(v codec.User) bool { return v.UID == uid }) {
			list = append(list, codec.User{UID: uid, Name: j.name})
		}
	}
	slices.SortFunc(list[start:], func(a, b codec.User) int { return cmpUint(a.UID, b.UID) })
	w := wire(make([]byte, 0, 16+len(list)*24)).bytes([]byte{wireReconcile}).uint(h.cl.node).uint(uint64(len(list)))
	for _, u := range list {
		w = w.uint(u.UID).str(u.Name)
	}
	return w
}

func cmpUint(a, b uint64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func decodeReconcile(rd *reader) (uint64, []codec.User) {
	node, n := rd.uint(), rd.uint()
	if n > uint64(len(rd.b)) {
		rd.bad = true
		return 0, nil
	}
	list := make([]codec.User, 0, n)
	for range n {
		list = append(list, codec.User{UID: rd.uint(), Name: rd.str()})
	}
	return node, list
}

// snapshot encodes r's list for a node that syncs: token, count, then
// (node, uid, name) per member in join order.
func (r *Room) snapshot(token uint64) []byte {
	w := wire(make([]byte, 0, 16+len(r.users)*28)).uint(token).uint(uint64(len(r.users)))
	for i, u := range r.users {
		w = w.uint(r.cl.nodes[i]).uint(u.UID).str(u.Name)
	}
	return w
}

func decodeSnapshot(b []byte) (users []codec.User, nodes []uint64, ok bool) {
	rd := reader{b: b}
	_, n := rd.uint(), rd.uint()
	if n > uint64(len(b)) {
		return nil, nil, false
	}
	for range n {
		nodes = append(nodes, rd.uint())
		users = append(users, codec.User{UID: rd.uint(), Name: rd.str()})
	}
	return users, nodes, !rd.bad
}

// indexOf returns uid's index in the list, -1 if absent.
func (r *Room) indexOf(uid uint64) int {
	for i := range r.users {
		if r.users[i].UID == uid {
			return i
		}
	}
	return -1
}

// removeAt deletes entry i of the list (and of its nodes).
func (r *Room) removeAt(i int) {
	r.users = slices.Delete(r.users, i, i+1)
	r.cl.nodes = slices.Delete(r.cl.nodes, i, i+1)
}

func (r *Room) hasNode(node uint64) bool { return slices.Contains(r.cl.nodes, node) }
