package room

import "chatd/codec"

// Conn is what a Member needs from its connection. The server implements
// it with gnet.Conn. Both methods are called only on the member's loop.
type Conn interface {
	// Write writes b or queues it in the connection's outbound buffer;
	// b may be reused by the caller as soon as Write returns.
	Write(b []byte) (int, error)
	// OutboundBuffered reports the bytes accepted by Write but not yet sent.
	OutboundBuffered() int
}

// Member is one connection's chat endpoint: its identity once logged in
// and its place in its shard's outbound queue. It is set up per connection
// by Shard.InitMember (usually embedded in the server's connection state,
// so it costs no allocation of its own) and used on that shard's loop.
// Every idle connection carries one: keep it small.
type Member struct {
	// Immutable after InitMember.
	shard *Shard
	conn  Conn

	// Owned by the member's loop; uid and dialect are fixed by the first
	// login (written before the member is listed in Hub.users, so others
	// that find it there may read them), name is written with Hub.umu
	// held, so others read it with umu read-locked.
	uid     uint64        // 0 until the first login; kept across re-logins
	name    string        // HTML-escaped, as sent in user_list and login
	room    *Room         // room the member has joined (sequenced), nil if none
	listed  *Room         // room whose local list on the member's loop holds it (addLocal), nil if none
	pos     int32         // index in room.local[shard.idx] once the join is applied
	queued  int32         // bytes queued in the shard for this member
	head    int32         // first queued frame: index+1 in shard.queue, 0 if none
	tail    int32         // last queued frame: index+1 in shard.queue
	dirty   bool          // listed in shard.dirty
	closed  bool          // connection closed: never written again
	slow    bool          // cut off as a slow consumer
	dialect codec.Dialect // the wire dialect of the connection
}

// Bound reports whether m was set up by InitMember (or NewMember).
func (m *Member) Bound() bool { return m.shard != nil }

// UID returns the member's uid, 0 before its first login. Loop-owned.
func (m *Member) UID() uint64 { return m.uid }

// Dialect returns the member's wire dialect. Loop-owned.
func (m *Member) Dialect() codec.Dialect { return m.dialect }

// SetDialect sets the member's wire dialect before its first login; the
// dialect is fixed from then on, and later calls are ignored. Loop-owned.
func (m *Member) SetDialect(d codec.Dialect) {
	if m.uid == 0 {
		m.dialect = d
	}
}

// Name returns the member's HTML-escaped name. Loop-owned.
func (m *Member) Name() string { return m.name }

// LoggedIn reports whether the member is in a room. Loop-owned.
func (m *Member) LoggedIn() bool { return m.room != nil }

// RoomID returns the id of the member's room, "" if none. Loop-owned.
func (m *Member) RoomID() string {
	if m.room == nil {
		return ""
	}
	return m.room.id
}

// Queued reports the bytes queued for the member and not yet handed to
// its connection. Loop-owned.
func (m *Member) Queued() int { return int(m.queued) }

// Conn returns the connection the member was created for.
func (m *Member) Conn() Conn { return m.conn }
