package bench

import (
	"bytes"
	"encoding/binary"
)

// Opcodes of RFC 6455 5.2.
const (
	OpContinuation = 0x0
	OpText         = 0x1
	OpBinary       = 0x2
	OpClose        = 0x8
	OpPing         = 0x9
	OpPong         = 0xA
)

// MaskKey is the masking key of every client frame. RFC 6455 5.3 asks for an
// unpredictable key to defeat proxy cache poisoning, which has no meaning on
// loopback; the server can only check that the mask bit is set. A fixed key
// lets the generator mask with one precomputed 64-bit word.
var MaskKey = [4]byte{0x3c, 0xa5, 0x5a, 0xc3}

var maskWord = binary.LittleEndian.Uint64([]byte{
	MaskKey[0], MaskKey[1], MaskKey[2], MaskKey[3],
	MaskKey[0], MaskKey[1], MaskKey[2], MaskKey[3],
})

// AppendClientFrame appends one final, masked frame of opcode op carrying
// payload to dst and returns the extended slice. Header and payload are built
// in one buffer so they go out in one write.
func AppendClientFrame(dst []byte, op byte, payload []byte) []byte {
	n := len(payload)
	dst = append(dst, 0x80|op)
	switch {
	case n < 126:
		dst = append(dst, 0x80|byte(n))
	case n <= 0xFFFF:
		dst = append(dst, 0x80|126, byte(n>>8), byte(n))
	default:
		dst = append(dst, 0x80|127)
		dst = binary.BigEndian.AppendUint64(dst, uint64(n))
	}
	dst = append(dst, MaskKey[:]...)
	start := len(dst)
	dst = append(dst, payload...)
	maskBytes(dst[start:])
	return dst
}

// maskBytes XORs b with MaskKey, starting at key offset 0, eight bytes at a
// time (the key repeats every 4 bytes, so a doubled key is a 64-bit word).
func maskBytes(b []byte) {
	i := 0
	for ; i+8 <= len(b); i += 8 {
		v := binary.LittleEndian.Uint64(b[i:])
		binary.LittleEndian.PutUint64(b[i:], v^maskWord)
	}
	for ; i < len(b); i++ {
		b[i] ^= MaskKey[i&3]
	}
}

// Frame is one parsed server frame. Payload aliases the buffer given to
// ParseFrame and is valid until that buffer is reused.
type Frame struct {
	Fin     bool
	Op      byte
	Payload []byte
}

// ParseFrame parses the server frame at the start of b. It returns the frame
// and the number of bytes it occupies; n == 0 means b holds only part of a
// frame, and need then tells the total frame size once the header is
// complete (0 while the header itself is incomplete). Payloads longer than
// limit are an error.
func ParseFrame(b []byte, limit int) (f Frame, n, need int, err error) {
	if len(b) < 2 {
		return f, 0, 0, nil
	}
	if b[1]&0x80 != 0 {
		return f, 0, 0, ErrMaskedServerFrame
	}
	hdr := 2
	plen := uint64(b[1] & 0x7F)
	switch plen {
	case 126:
		hdr = 4
		if len(b) < hdr {
			return f, 0, 0, nil
		}
		plen = uint64(binary.BigEndian.Uint16(b[2:]))
	case 127:
		hdr = 10
		if len(b) < hdr {
			return f, 0, 0, nil
		}
		plen = binary.BigEndian.Uint64(b[2:])
	}
	if plen > uint64(limit) {
		return f, 0, 0, ErrFrameTooLarge
	}
	total := hdr + int(plen)
	if len(b) < total {
		return f, 0, total, nil
	}
	f = Frame{Fin: b[0]&0x80 != 0, Op: b[0] & 0x0F, Payload: b[hdr:total]}
	return f, total, total, nil
}

// handshakeKey is the fixed Sec-WebSocket-Key of every generated client and
// handshakeAccept its RFC 6455 4.2.2 answer (the example of RFC 6455 1.3).
const (
	handshakeKey    = "dGhlIHNhbXBsZSBub25jZQ=="
	handshakeAccept = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
)

// UpgradeRequest returns the HTTP/1.1 upgrade request for ws://host/.
func UpgradeRequest(host string) []byte {
	return []byte("GET / HTTP/1.1\r\nHost: " + host +
		"\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: " + handshakeKey +
		"\r\nSec-WebSocket-Version: 13\r\n\r\n")
}

// ParseUpgradeResponse checks the server's handshake response at the start
// of b. n is the length of the response head; n == 0 with a nil error means
// the head is not complete yet.
func ParseUpgradeResponse(b []byte) (n int, err error) {
	end := bytes.Index(b, []byte("\r\n\r\n"))
	if end < 0 {
		if len(b) > 8192 {
			return 0, ErrBadHandshake
		}
		return 0, nil
	}
	head := b[:end+4]
	if !bytes.HasPrefix(head, []byte("HTTP/1.1 101")) || !bytes.Contains(head, []byte(handshakeAccept)) {
		return 0, ErrBadHandshake
	}
	return len(head), nil
}
