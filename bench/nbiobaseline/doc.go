// Command nbiobaseline is the second reference server of chatd's load
// benchmark: the chat protocol subset of bench/baseline written on
// github.com/lesismal/nbio (nbhttp + websocket, non-blocking IO mode) the way
// nbio's own examples recommend for many connections: one poller goroutine
// reads every socket, a few worker goroutines (nbio's task pool) run the
// message handlers, no goroutine per connection. See README.md for its
// configuration and why.
//
// Usage:
//
//	nbiobaseline -listen 127.0.0.1:7474 [-debug-listen 127.0.0.1:0] [-ping 25s] [-pollers 1] [-workers 4]
package main
