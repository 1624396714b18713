package room

// InRoom reports whether uid is in the user list of room roomID as this
// node knows it: on a single node, the room's members; in cluster mode,
// the room's members on every node, for a room that has members on this
// one (a room without local members is not followed here, so it has
// nobody). The answer may be stale by the time the caller acts on it.
// Safe for concurrent use; it scans the room's list under its lock.
func (h *Hub) InRoom(roomID string, uid uint64) bool {
	if roomID == "" {
		roomID = h.cfg.DefaultRoom
	}
	h.mu.Lock()
	r := h.rooms[roomID]
	h.mu.Unlock()
	if r == nil {
		return false
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	return !r.dead && r.indexOf(uid) >= 0
}
