// Package room holds chat membership and fan-out.
//
// A Hub owns the rooms, the uid allocator and the uid index used for
// private messages. Each gnet event loop has one Shard: the loop's inbox
// of room events and the loop-owned outbound queues of its members.
//
// Dialects: a member speaks the 2014 or the current workerman-chat
// dialect (codec.Dialect), fixed by its first login. An event stays
// dialect-neutral (codec.Event) until it is framed, once per dialect that
// has members in the room (a room counts its members per dialect), never
// per member; an inbox event carries one frame per dialect and the
// fan-out picks each member's (encode.go). What crosses the bus between
// nodes is the neutral event too.
//
// Sequencing: every room event (join, say, leave) is encoded and framed
// once per dialect by the sender, then, while the room's mutex is held,
// appended to the inbox of every loop that has members in the room. Inboxes are FIFO
// and all appends for one room happen under that room's lock, so every
// loop applies a room's events in the same order and every member sees
// the room's messages in the same order. Membership changes travel through
// the same inboxes, so a new member never sees a message sequenced before
// its join.
//
// Fan-out: a Shard drains its inbox on its loop in one pass (one Execute
// per pass, not per message). A room's says of the pass are kept as the
// room's run (shard.go): at the flush their shared, immutable frames are
// concatenated once per dialect and each local member of the room gets
// that buffer in one write. Frames for one member (replies, private
// messages, a newcomer's list) go to its pending queue, after the run of
// its room is sealed into the members' queues so that each member's order
// holds; a member's queue and its room's run go out in one write. A loop that posts to another loop's inbox (a say it read)
// wakes that loop once, at the end of its own next pass, not per event:
// the loops take turns with a room's traffic and each pass carries more
// messages per member. Several frames for one member go out in one write: a small
// loopback write costs 3-5 µs of CPU while 8-16 coalesced frames cost
// 0.3-0.6 µs each (measured on the target machine).
//
// Bounded outbound: a member whose unsent data (gnet's outbound buffer
// plus the pending queue) would pass Config.MaxOutbound is cut off through
// Config.OnSlow; the broadcast goes on for everyone else.
//
// History (history.go): every room event sent to clients carries its id,
// "<epoch>-<seq>" (the log's epoch, the event's log sequence); a room keeps
// its last says with the frames it sent for them, and a login that asks
// (history, since) gets one history frame built by copying them.
//
// room knows nothing of gnet: it declares the small interfaces it needs
// (Conn, Executor) and the server implements them.
package room
