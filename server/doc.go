// Package server is chatd's network layer: gnet event loops on
// edge-triggered epoll run the WebSocket endpoint, and net/http servers
// run the web page and the admin endpoints.
//
// Each connection is a conn owned by one loop. OnTraffic peeks what is
// buffered, lets the codec parse the upgrade request and then the
// complete frames, charges each frame to the connection's budget,
// handles each message, and discards what was consumed; a request or
// frame split across reads waits for more bytes (a large binary frame
// still arriving is not re-peeked: Parser.Need), except a text frame,
// whose payload the parser takes as it arrives so that invalid UTF-8
// fails at once (1007). One pass parses at most 256
// frames or 256 KiB; a connection with more input left is parked and
// resumed after the loop's other events (loop.park). There is no
// goroutine per connection: room traffic reaches a loop through its
// room.Shard inbox, and timers (handshake deadline, pings, idle and
// closing deadlines) are one sweep per loop per tick (a quarter of the
// shortest timer, 10-100ms), started from gnet's ticker goroutine with
// EventLoop.Execute. OnTick itself touches nothing loop-owned.
//
// Output: chat frames go through the member's queue in the room package
// (one write per member per loop pass); handshake replies, pongs, close
// frames and echo replies gathered during one callback go out in one
// write at its end (loop.out).
//
// Closing: a protocol error gets a close frame with its RFC 6455 code, the
// write side is shut down once the frame is sent, and the socket closes
// when the peer closes or CloseTimeout passes; a slow consumer and a
// connection past its frame or byte budget are closed at once with 1008.
//
// Accepting: chatd accepts chat connections on its own listener (one
// goroutine) and hands each to a loop with gnet's Engine.Register, because
// gnet's acceptor ends the engine on EMFILE; out of descriptors it sheds
// new connections with 503 through a spare descriptor (accept.go). The
// web page and admin listeners are capped and time out idle clients
// (caplisten.go).
//
// Operations (files by concern): admission limits (limits.go), the
// per-connection message, frame and byte buckets (budget.go), Origin and
// JWT checks at the handshake (origin.go, auth.go), Prometheus metrics
// read at scrape time from atomics and per-loop counters (metrics.go,
// admin.go), the paced drain on shutdown (drain.go), and cluster mode
// over NATS (cluster.go, with the cluster package).
package server
