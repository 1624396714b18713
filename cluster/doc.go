// Package cluster joins chatd nodes into one chat over NATS. It
// implements room.Bus: the room package decides what to publish and how
// to apply what arrives; this package moves the bytes and watches the
// other nodes.
//
// Subjects (Prefix "chatd" by default):
//
//	chatd.r.<room>    a room's stream: joins, says, leaves, markers,
//	                  evictions, reconciles. Captured by the JetStream
//	                  memory stream CHATD_ROOMS, whose sequence is the
//	                  room's order (sequence.go).
//	chatd.o.<room>    the same events republished by the stream in its
//	                  order; subscribed only by nodes with members in the
//	                  room (chatd.r.<room> itself without JetStream).
//	chatd.h.<room>    snapshot requests, a queue group of the nodes that
//	                  hold the room's list (no responders: empty room).
//	chatd.n.<node>    a node's inbox (private messages); answers come
//	                  back on chatd.n.<node>.<from uid>.
//	chatd.hb          heartbeats: a node silent for NodeTTL is gone and
//	                  its members are evicted from every room.
//
// Room ids are base64url-encoded in subjects (any string is a room id).
//
// Threads: the event loops never call NATS. Stream.Publish and friends
// append to the bus queue (a mutex and a slice) and one bus goroutine
// issues every publish, subscribe and unsubscribe in queue order, so a
// room's SUB reaches the server before its first PUB and a node's events
// leave in the order the rooms sequenced them. NATS delivers each
// subscription on its own goroutine; those call the hub, which hands
// frames to the loops through the shards' inboxes. A control goroutine
// sends heartbeats, expires silent nodes and turns connection changes
// into Hub.BusDown / Hub.BusUp.
package cluster
