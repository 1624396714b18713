package codec

import (
	"encoding/binary"
	"unicode/utf8"

	"github.com/gobwas/ws"
)

// Server frames are never masked (RFC 6455 section 5.1) and are always
// built as header and payload in one buffer, so that each goes out in one
// write.

// maxCloseReason is the room for a reason in a close frame: 125 bytes of
// control payload minus the 2-byte code.
const maxCloseReason = 125 - 2

// AppendFrame appends a final, unmasked frame with opcode op and payload to
// dst. Control frames (close, ping, pong) must have payloads of at most 125
// bytes; that is the caller's duty.
func AppendFrame(dst []byte, op ws.OpCode, payload []byte) []byte {
	return append(appendHeader(dst, op, len(payload)), payload...)
}

// appendHeader appends the header of a final, unmasked frame of n bytes.
func appendHeader(dst []byte, op ws.OpCode, n int) []byte {
	b0 := 0x80 | byte(op)
	switch {
	case n <= 125:
		return append(dst, b0, byte(n))
	case n <= 0xffff:
		return append(dst, b0, 126, byte(n>>8), byte(n))
	}
	return binary.BigEndian.AppendUint64(append(dst, b0, 127), uint64(n))
}

// HeaderLen returns the size of the header of an unmasked frame with a
// payload of n bytes: 2, 4 or 10. Callers use it to pre-size buffers.
func HeaderLen(n int) int {
	switch {
	case n <= 125:
		return 2
	case n <= 0xffff:
		return 4
	}
	return 10
}

// MaxHeaderLen is the longest header of a server frame (HeaderLen).
const MaxHeaderLen = 10

// PlaceHeader frames in place a payload encoded after MaxHeaderLen bytes
// reserved at the start of b (the payload is b[MaxHeaderLen:]): it writes
// the header right before the payload and returns the frame, a suffix of
// b. A payload of unknown size is so encoded straight into the buffer of
// its frame, with no copy.
func PlaceHeader(b []byte, op ws.OpCode) []byte {
	n := len(b) - MaxHeaderLen
	at := MaxHeaderLen - HeaderLen(n)
	appendHeader(b[at:at], op, n)
	return b[at:]
}

// NewFrame returns a new exactly-sized frame (exactly one allocation).
func NewFrame(op ws.OpCode, payload []byte) []byte {
	n := HeaderLen(len(payload)) + len(payload)
	return AppendFrame(make([]byte, 0, n), op, payload)
}

// AppendClose appends a close frame with code and reason (reason truncated
// to fit 125 bytes on a UTF-8 boundary). Code 0 or ws.StatusNoStatusRcvd
// (1005, which must not be sent) gives a close frame without payload.
func AppendClose(dst []byte, code ws.StatusCode, reason string) []byte {
	if code == 0 || code == ws.StatusNoStatusRcvd {
		return append(dst, 0x80|byte(ws.OpClose), 0)
	}
	reason = truncateUTF8(reason, maxCloseReason)
	dst = appendHeader(dst, ws.OpClose, 2+len(reason))
	dst = binary.BigEndian.AppendUint16(dst, uint16(code))
	return append(dst, reason...)
}

// truncateUTF8 cuts s to at most n bytes without splitting a character.
func truncateUTF8(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

// PingFrame is a precompiled empty ping (server to client). It is shared:
// callers must not modify it.
var PingFrame = []byte{0x80 | byte(ws.OpPing), 0}

// closeFrames holds the precompiled close frames of CloseFrame.
var closeFrames = compileCloseFrames()

// compileCloseFrames builds the close frames of the common codes, once.
func compileCloseFrames() map[ws.StatusCode][]byte {
	reasons := map[ws.StatusCode]string{
		ws.StatusNormalClosure:           "normal closure",
		ws.StatusGoingAway:               "going away",
		ws.StatusProtocolError:           "protocol error",
		ws.StatusInvalidFramePayloadData: "invalid UTF-8",
		ws.StatusPolicyViolation:         "policy violation",
		ws.StatusMessageTooBig:           "message too big",
		ws.StatusInternalServerError:     "internal error",
	}
	frames := make(map[ws.StatusCode][]byte, len(reasons))
	for code, reason := range reasons {
		frames[code] = AppendClose(nil, code, reason)
	}
	return frames
}

// CloseFrame returns a precompiled close frame for the common codes (1000,
// 1001, 1002, 1007, 1008, 1009, 1011) with a short standard reason,
// computed once and shared: callers must not modify it. Other codes get a
// new frame without reason.
func CloseFrame(code ws.StatusCode) []byte {
	if f, ok := closeFrames[code]; ok {
		return f
	}
	return AppendClose(nil, code, "")
}
