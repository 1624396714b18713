// Package codec turns bytes into chat messages and back, for a server that
// runs on non-blocking event loops.
//
// It has three layers, each in its own files:
//
//   - handshake.go parses the HTTP/1.1 upgrade request (RFC 6455 section 4.2)
//     and writes the 101 response or an HTTP error response.
//   - frame.go, utf8.go and write.go read client frames and write server
//     frames (RFC 6455 section 5): Parser.Next unmasks in place, reassembles
//     fragmented messages (into buffers of a bounded pool, bufpool.go),
//     validates UTF-8 incrementally and reports every protocol violation
//     as a *CloseError carrying the close code to send.
//   - message.go decodes the JSON client messages of PROTOCOL.md with sonic
//     (zero copy, zero allocations; the configuration is decodeOptions);
//     json.go appends the server messages with table-driven quoting, and
//     escape.go HTML-escapes what users typed. AppendSayEscaping does both
//     in one pass.
//
// Nothing here blocks or does I/O. The parsers take the bytes buffered so
// far and resume: an incomplete request or frame is reported as n == 0 with
// a nil error ("need more bytes"), never as an error, so that a gnet
// OnTraffic callback can peek, parse every complete unit, discard what was
// consumed and return.
//
// Borrowed memory: every []byte or string returned by a parser aliases the
// caller's buffer (or, for a reassembled message, a pooled buffer the next
// Parser.Next takes back) and is valid only until the caller discards
// those bytes (the exact rule is stated on each function). Anything kept longer must be
// copied. The Append* functions only append to dst and never retain it.
//
// Errors that go on the wire are typed values: *HTTPError (a handshake
// refusal), *CloseError (a WebSocket close code) and *Reply (a JSON error
// message for the client). Each unwraps to one of the sentinels in
// errors.go, so callers can classify them with errors.Is.
package codec
