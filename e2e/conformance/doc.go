// Package conformance is a Go port of the Autobahn|Testsuite fuzzing client,
// cases 1.* to 10.*, for testing a WebSocket echo endpoint (chatd -echo,
// ws://HOST:PORT/echo) for RFC 6455 conformance.
//
// It is a port because the original (wstest, Python 2 + Twisted) cannot run
// on the machines of this project: see README.md in this folder.
//
// The port reproduces, for every case, the frames the original sends (opcode,
// FIN, RSV, payload, TCP chopping and timing), what it expects back, and the
// verdict rules of autobahntestsuite/case/case.py: a "behavior" verdict from
// the observed events (OK, NON-STRICT, FAILED, INFORMATIONAL) and a
// "behaviorClose" verdict from the closing handshake (OK, WRONG CODE,
// UNCLEAN, FAILED BY CLIENT, FAILED). The client side of the protocol
// (frame validation of what the server sends, closing handshake, timeouts,
// fail-by-drop) follows autobahn's WebSocketProtocol as the fuzzing client
// configures it.
//
// Frames are built by this package's own encoder over a plain net.Conn; the
// package does not use the server's codec.
package conformance
