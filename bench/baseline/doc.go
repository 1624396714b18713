// Command baseline is the reference server of chatd's load benchmark: the chat
// protocol of shared/PROTOCOL.md written the way most Go chat servers are
// written, so that every number of `make bench` is a ratio against it.
//
// It follows gorilla/websocket's chat example, made competent: one reader and
// one writer goroutine per connection, a hub goroutine that owns the rooms
// and handles every login, say and logout in arrival order, broadcasts
// encoded once (json.Marshal once, websocket.PreparedMessage framed once),
// and a per-connection send queue bounded in bytes (1 MiB, then close 1008
// and logout, as the protocol asks) instead of a channel that drops or
// blocks the hub. What it does not do is what chatd is for: coalescing
// several frames into one write, and holding idle connections without two
// goroutine stacks and buffers each.
//
// Usage:
//
//	baseline -listen 127.0.0.1:7373 [-debug-listen 127.0.0.1:0] [-ping 25s]
package main
