// Package cluster joins chatd nodes into one chat over NATS JetStream.
// It implements room.Cluster: the room package applies events; this
// package keeps each room's replicated log, brings every open room's
// events to the hub strictly in log order, and watches the other nodes.
//
// Subjects (Prefix "chatd" by default; room ids base64url-encoded):
//
//	chatd.r.<room>  a room's log: the subjects of the JetStream stream
//	                CHATD_ROOMS (replicated; R3 on a 3+ server cluster).
//	                A stream sequence is a log position.
//	chatd.o.<room>  every stored event again, republished by the stream
//	                leader in sequence order with Nats-Sequence and
//	                Nats-Last-Sequence (the previous sequence of the same
//	                room): a gap is detected, never trusted away.
//	chatd.uid.<node> a node's next free uid counter: the subjects of the
//	                stream CHATD_UID_FLOORS (the last message of each kept).
//	chatd.n.<node>  a node's inbox (private messages); answers come back
//	                on chatd.n.<node>.<from uid>.
//	chatd.hb        heartbeats (node, boot): a node silent for NodeTTL,
//	                or back with a new boot, has its members evicted.
//
// KV bucket CHATD_STATE: room.<room> holds a room's latest checkpoint
// (its list and kept says as of a log sequence, written every
// checkpointEvery events by one node with members, picked per room by
// rendezvous hashing). The next free uid counter of a node, reserved in
// blocks, is kept twice, in KV bucket CHATD_UIDS (uid.<node>) and on
// chatd.uid.<node>, so that uids are never reused even when one of them
// is deleted (uids.go).
//
// A node opening a room subscribes to its republished subject, reads the
// checkpoint, then reads the log after it (JetStream message get, next by
// subject) until its end, and only then applies live events, each of
// which must follow the last applied one of the room; otherwise (a gap:
// a dropped message, a leader change, a reconnect) it repairs from the
// log the same way. Appends wait for the stream's ack, retried with the
// same message id (deduplicated by the stream); says and logins give up
// after AppendTimeout and their senders get an error, leaves and
// evictions are retried until they are in the log.
//
// Goroutines per node, whatever the number of rooms: the publisher, the
// dispatcher (one channel shared by every room subscription), the worker
// (syncs, repairs, checkpoints, uid blocks) and the control loop
// (heartbeats, liveness, connection changes), plus nats.go's own.
package cluster
