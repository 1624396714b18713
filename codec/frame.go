package codec

import (
	"encoding/binary"
	"math"
	"unicode/utf8"

	"github.com/gobwas/ws"
)

// Message is one complete WebSocket message or control frame returned by
// Parser.Next.
type Message struct {
	// Op is ws.OpText, ws.OpBinary, ws.OpPing, ws.OpPong or ws.OpClose; 0
	// when Next consumed bytes (a non-final fragment, or part of a text
	// frame still arriving) but no message is complete yet.
	Op ws.OpCode
	// Payload is the unmasked payload. Valid until the caller discards the
	// consumed bytes or calls Next again, whichever comes first (a
	// reassembled Payload goes back to the codec's pool then).
	Payload []byte
}

// CloseError is a protocol failure that must close the connection with Code
// and Reason (RFC 6455 section 7.4).
type CloseError struct {
	Code   ws.StatusCode
	Reason string
}

// Error returns the close code and reason prefixed with "codec: ".
func (e *CloseError) Error() string {
	return "codec: close " + itoa(int(e.Code)) + ": " + e.Reason
}

// Unwrap returns the sentinel of the close code: ErrProtocol (1002),
// ErrInvalidUTF8 (1007), ErrTooLarge (1009) or ErrClose.
func (e *CloseError) Unwrap() error {
	switch e.Code {
	case ws.StatusProtocolError:
		return ErrProtocol
	case ws.StatusInvalidFramePayloadData:
		return ErrInvalidUTF8
	case ws.StatusMessageTooBig:
		return ErrTooLarge
	}
	return ErrClose
}

// The protocol failures are preallocated: refusing a hostile peer costs no
// garbage. Callers must not modify them.
var (
	errRSV          = &CloseError{ws.StatusProtocolError, "reserved bits set"}
	errOpcode       = &CloseError{ws.StatusProtocolError, "reserved opcode"}
	errUnmasked     = &CloseError{ws.StatusProtocolError, "client frame not masked"}
	errCtlFragment  = &CloseError{ws.StatusProtocolError, "fragmented control frame"}
	errCtlLength    = &CloseError{ws.StatusProtocolError, "control frame payload over 125 bytes"}
	errNoMessage    = &CloseError{ws.StatusProtocolError, "continuation without a message"}
	errMessageOpen  = &CloseError{ws.StatusProtocolError, "new message inside a fragmented message"}
	errLength63     = &CloseError{ws.StatusProtocolError, "payload length with the top bit set"}
	errCloseLength  = &CloseError{ws.StatusProtocolError, "close payload of one byte"}
	errCloseCode    = &CloseError{ws.StatusProtocolError, "invalid close code"}
	errCloseUTF8    = &CloseError{ws.StatusInvalidFramePayloadData, "close reason is not valid UTF-8"}
	errTextUTF8     = &CloseError{ws.StatusInvalidFramePayloadData, "text message is not valid UTF-8"}
	errMessageLarge = &CloseError{ws.StatusMessageTooBig, "message too big"}
)

// Parser is the per-connection frame parser state. The zero value is ready
// to use. It takes 40 bytes on 64-bit platforms (pinned by a test), and
// holds no buffer between messages once Next has been called again.
type Parser struct {
	// buf is the reassembly buffer of the open fragmented message, or of
	// a text message whose frame is streaming in, taken from the codec's
	// bounded pool (bufpool.go). Next hands it over as the complete
	// message's Payload, which is valid until the next call to Next: until
	// then buf keeps it, empty, with op 0 (lent; see giveBack), and that
	// call gives it back to the pool. So buf is nil between messages once
	// Next has been called again (or Reset), and an idle connection keeps
	// no reassembly memory alive.
	buf []byte
	// need is what Need reports (0 means the initial 2); while a frame
	// streams in, the payload bytes still due. An int32 keeps the Parser
	// at 40 bytes: frames are limited to math.MaxInt32 bytes (length).
	need int32
	// mask is a streaming frame's mask key, rotated so that mask[0]
	// applies to its next payload byte.
	mask [4]byte
	// op is the opcode of the open message (fragmented or streaming), 0
	// if none.
	op ws.OpCode
	// stream is 0, or streamOn (a text frame's payload is streaming in)
	// with streamFin if that frame is final.
	stream uint8
	// utf8 carries an incomplete UTF-8 sequence across text fragments
	// and the parts of a streaming frame.
	utf8 utf8State
}

// The bits of Parser.stream.
const (
	streamOn  = 1 << iota // a text frame's payload is streaming in
	streamFin             // that frame has the FIN bit
)

// header is a decoded frame header.
type header struct {
	fin    bool
	op     ws.OpCode
	size   int // header bytes, 0 when the header is not complete
	length int // payload bytes
	mask   [4]byte
}

// Next parses at most one frame from the start of buf (client-to-server
// frames: they must be masked, else 1002). It returns n == 0 and err == nil
// when buf does not hold enough for progress yet (see Need). Otherwise n is
// the number of bytes consumed and m is a complete message (Op != 0), or
// Op == 0 for a consumed non-final fragment or part of a streaming text
// frame (InFrame). On error n is 0 and err is a *CloseError; the
// connection must then be closed (the parser state is undefined).
//
// maxMessage limits a frame's payload and a reassembled message's total
// size (1009); it is checked from the header alone, before the payload has
// arrived. maxMessage <= 0 means no limit but the Parser's own: a frame of
// math.MaxInt32 bytes or more, header included, is 1009.
//
// Rules (RFC 6455 section 5): reserved bits, reserved opcodes, unmasked
// frames, fragmented or over-long (> 125) control frames, a continuation
// without an open message, a new data frame inside an open message and a
// 64-bit length with the top bit set are 1002. Invalid UTF-8 in a text
// message is 1007, found as early as possible (Autobahn 6.4.*, "fail
// fast"): each fragment is validated as it arrives, carrying an
// incomplete trailing sequence to the next, and so is each part of a text
// frame that arrives in several reads: once its header and some payload
// are buffered, Next streams the payload into the reassembly buffer as it
// comes, unmasking and validating only the new bytes (never rescanning).
// A
// close payload of one byte or with an invalid code (section 7.4) is 1002;
// a close reason that is not UTF-8 is 1007, like any other invalid UTF-8.
// Control frames between fragments are returned at once; the open message
// survives them. The length encoding is not required to be minimal.
//
// A complete frame's payload is unmasked in place, and only once the
// whole frame is in buf, so calling Next again on the same incomplete
// binary or control frame is harmless; a streaming frame's parts are
// copied before they are unmasked, and consumed. An unfragmented message
// that arrived whole has a Payload that aliases buf; a fragmented or
// streamed message is reassembled into a buffer of the codec's pool,
// which the next call to Next takes back.
func (p *Parser) Next(buf []byte, maxMessage int) (m Message, n int, err error) {
	if p.op == 0 && p.buf != nil {
		p.giveBack()
	}
	if p.stream != 0 {
		return p.streamPart(buf)
	}
	h, err := p.header(buf, maxMessage)
	if err != nil || h.size == 0 {
		return Message{}, 0, err
	}
	n = h.size + h.length
	if len(buf) < n {
		switch {
		case !p.isText(h.op):
			p.need = int32(n)
		case len(buf) > h.size:
			return p.streamStart(&h, buf)
		default:
			p.need = int32(h.size + 1) // the first payload byte starts the stream
		}
		return Message{}, 0, nil
	}
	p.need = 0
	payload := buf[h.size:n]
	ws.Cipher(payload, h.mask, 0)
	if m, err = p.frame(&h, payload); err != nil {
		return Message{}, 0, err
	}
	return m, n, nil
}

// header decodes and checks the frame header at the start of buf. It fails
// as soon as the bytes seen so far break a rule. h.size is 0 (and p.need
// set) when the header is not complete.
func (p *Parser) header(buf []byte, maxMessage int) (h header, err error) {
	if len(buf) < 2 {
		p.need = 2
		return h, nil
	}
	h.fin, h.op = buf[0]&0x80 != 0, ws.OpCode(buf[0]&0x0f)
	if err = p.checkStart(buf[0], buf[1]); err != nil {
		return h, err
	}
	size := 2 + extLengthSize(buf[1])
	if len(buf) < size {
		p.need = int32(size + 4)
		return h, nil
	}
	if h.length, err = p.length(h.op, buf[:size], maxMessage); err != nil {
		return h, err
	}
	if len(buf) < size+4 {
		p.need = int32(size + 4)
		return h, nil
	}
	h.mask = [4]byte(buf[size : size+4])
	h.size = size + 4
	return h, nil
}

// checkStart applies every rule that the first two header bytes decide.
func (p *Parser) checkStart(b0, b1 byte) error {
	op := ws.OpCode(b0 & 0x0f)
	switch {
	case b0&0x70 != 0:
		return errRSV
	case op.IsReserved():
		return errOpcode
	case b1&0x80 == 0:
		return errUnmasked
	case op.IsControl() && b0&0x80 == 0:
		return errCtlFragment
	case op.IsControl() && b1&0x7f > 125:
		return errCtlLength
	case op == ws.OpContinuation && p.op == 0:
		return errNoMessage
	case op != ws.OpContinuation && !op.IsControl() && p.op != 0:
		return errMessageOpen
	}
	return nil
}

// extLengthSize is the size of the extended payload length field.
func extLengthSize(b1 byte) int {
	switch b1 & 0x7f {
	case 126:
		return 2
	case 127:
		return 8
	}
	return 0
}

// length decodes the payload length from a header without its mask key and
// checks it against the limit, so a frame claiming terabytes is refused
// before any of its payload is read. A continuation frame counts against
// what is left of the limit; control frames are bounded by checkStart.
func (p *Parser) length(op ws.OpCode, hdr []byte, maxMessage int) (int, error) {
	var n uint64
	switch len(hdr) {
	case 2:
		n = uint64(hdr[1] & 0x7f)
	case 4:
		n = uint64(binary.BigEndian.Uint16(hdr[2:]))
	default:
		n = binary.BigEndian.Uint64(hdr[2:])
	}
	if n>>63 != 0 {
		return 0, errLength63
	}
	limit := uint64(math.MaxInt32 - 15) // n + header must fit Parser.need
	switch {
	case maxMessage <= 0 || op.IsControl():
	case op == ws.OpContinuation:
		limit = uint64(max(maxMessage-len(p.buf), 0))
	default:
		limit = uint64(maxMessage)
	}
	if n > limit {
		return 0, errMessageLarge
	}
	return int(n), nil
}

// frame handles the unmasked payload of a complete frame.
func (p *Parser) frame(h *header, payload []byte) (Message, error) {
	switch {
	case h.op.IsControl():
		return control(h.op, payload)
	case h.op == ws.OpContinuation:
		return p.continuation(h.fin, payload)
	}
	return p.start(h.op, h.fin, payload)
}

// control returns a ping, pong or validated close frame.
func control(op ws.OpCode, payload []byte) (Message, error) {
	if op == ws.OpClose {
		if err := checkClose(payload); err != nil {
			return Message{}, err
		}
	}
	return Message{Op: op, Payload: payload}, nil
}

// start handles the first frame of a message.
func (p *Parser) start(op ws.OpCode, fin bool, payload []byte) (Message, error) {
	if fin {
		if op == ws.OpText && !utf8.Valid(payload) {
			return Message{}, errTextUTF8
		}
		return Message{Op: op, Payload: payload}, nil
	}
	if op == ws.OpText && !p.utf8.feed(payload) {
		return Message{}, errTextUTF8
	}
	p.op, p.buf = op, p.buf[:0]
	p.buf = append(p.reserve(len(payload), math.MaxInt), payload...)
	return Message{}, nil
}

// continuation handles a continuation frame of the open message.
func (p *Parser) continuation(fin bool, payload []byte) (Message, error) {
	if p.op == ws.OpText && !p.utf8.feed(payload) {
		return Message{}, errTextUTF8
	}
	p.buf = append(p.reserve(len(payload), math.MaxInt), payload...)
	if !fin {
		return Message{}, nil
	}
	if p.op == ws.OpText && !p.utf8.done() {
		return Message{}, errTextUTF8
	}
	m := Message{Op: p.op, Payload: p.buf}
	p.lend()
	return m, nil
}

// isText reports whether a data frame with opcode op carries text: a text
// frame, or a continuation of a text message.
func (p *Parser) isText(op ws.OpCode) bool {
	return op == ws.OpText || op == ws.OpContinuation && p.op == ws.OpText
}

// streamStart consumes the header of a text frame that is not complete in
// buf, and streams what of its payload is there.
func (p *Parser) streamStart(h *header, buf []byte) (Message, int, error) {
	p.op = ws.OpText // a new message's, or already the open one's
	p.stream = streamOn
	if h.fin {
		p.stream |= streamFin
	}
	p.mask = h.mask
	p.need = int32(h.length)
	m, n, err := p.streamPart(buf[h.size:])
	if err != nil {
		return m, 0, err
	}
	return m, h.size + n, nil
}

// streamPart consumes the next payload bytes of the streaming frame from
// the start of buf: copied to the reassembly buffer, unmasked there and
// validated as UTF-8 (only these bytes, carrying the validator's state).
// The frame ends when its last byte arrives: a final frame completes the
// message.
func (p *Parser) streamPart(buf []byte) (Message, int, error) {
	n := min(len(buf), int(p.need))
	if n == 0 {
		return Message{}, 0, nil
	}
	start := len(p.buf)
	p.buf = append(p.reserve(n, start+int(p.need)), buf[:n]...)
	part := p.buf[start:]
	ws.Cipher(part, p.mask, 0)
	p.mask = rotateMask(p.mask, n)
	if p.need -= int32(n); !p.utf8.feed(part) {
		return Message{}, 0, errTextUTF8
	}
	if p.need > 0 {
		return Message{}, n, nil // the frame goes on
	}
	fin := p.stream&streamFin != 0
	p.stream = 0
	if !fin {
		return Message{}, n, nil // a fragment ended; the message goes on
	}
	if !p.utf8.done() {
		return Message{}, 0, errTextUTF8
	}
	m := Message{Op: p.op, Payload: p.buf}
	p.lend()
	return m, n, nil
}

// reserve makes room for n more bytes in the reassembly buffer: a buffer
// of the pool's class for twice what the buffer will then hold (at least
// 512 bytes), but not beyond end's class, end being the size the message
// is known to reach (a streaming frame's last byte; math.MaxInt when
// unknown). So growth is geometric, and memory follows the bytes that
// arrived, not the header's claim: a header that claims 64 KiB followed by
// one byte takes a 512-byte buffer. The outgrown buffer goes back to the
// pool.
func (p *Parser) reserve(n, end int) []byte {
	if len(p.buf)+n <= cap(p.buf) {
		return p.buf
	}
	b := append(getBuf(min(end, max(2*(len(p.buf)+n), 512))), p.buf...)
	putBuf(p.buf)
	return b
}

// rotateMask returns the mask key for the byte n positions further on.
func rotateMask(m [4]byte, n int) [4]byte {
	k := n & 3
	return [4]byte{m[k], m[(k+1)&3], m[(k+2)&3], m[(k+3)&3]}
}

// checkClose validates a close payload (RFC 6455 sections 5.5.1 and 7.4).
func checkClose(payload []byte) error {
	switch {
	case len(payload) == 0:
		return nil
	case len(payload) == 1:
		return errCloseLength
	case !validCloseCode(ws.StatusCode(binary.BigEndian.Uint16(payload))):
		return errCloseCode
	case !utf8.Valid(payload[2:]):
		return errCloseUTF8
	}
	return nil
}

// validCloseCode reports whether a peer may send code (RFC 6455 7.4.1 and
// 7.4.2, IANA registry): 1000-1003, 1007-1011 and 3000-4999.
func validCloseCode(code ws.StatusCode) bool {
	switch {
	case code >= 1000 && code <= 1003, code >= 1007 && code <= 1011:
		return true
	}
	return code >= 3000 && code <= 4999
}

// Need reports how many buffered bytes the next call to Next needs before it
// can make progress: the header size, or header plus payload once a
// previous call has seen the header; 2 initially and after each frame; 1
// while a text frame streams in (every byte of it is validated as it
// arrives).
func (p *Parser) Need() int {
	switch {
	case p.stream != 0:
		return 1
	case p.need == 0:
		return 2
	}
	return int(p.need)
}

// InFrame reports whether the last call to Next stopped inside a frame
// whose payload is streaming in (a text frame that arrives in parts): the
// bytes it consumed did not end a frame.
func (p *Parser) InFrame() bool { return p.stream != 0 }

// Reset returns the parser to its zero state and gives its reassembly
// buffer (of an unfinished message, or lent as the last Payload) back to
// the pool.
func (p *Parser) Reset() {
	p.giveBack()
	*p = Parser{}
}

// lend hands the reassembly buffer over as a complete message's Payload:
// the parser keeps it, empty, with op 0, to give it back to the pool at
// the next call to Next, when the Payload stops being valid. A buffer
// too large for the pool is forgotten at once.
func (p *Parser) lend() {
	p.buf, p.op, p.utf8 = p.buf[:0], 0, utf8State{}
	if !poolable(cap(p.buf)) {
		p.buf = nil
	}
}

// giveBack puts the reassembly buffer (lent, or of an unfinished message)
// back in the pool.
func (p *Parser) giveBack() {
	putBuf(p.buf)
	p.buf = nil
}

// ParseClose splits a (validated) close payload into code and reason; an
// empty payload gives ws.StatusNoStatusRcvd (1005). The reason aliases
// payload.
func ParseClose(payload []byte) (code ws.StatusCode, reason []byte) {
	if len(payload) < 2 {
		return ws.StatusNoStatusRcvd, nil
	}
	return ws.StatusCode(binary.BigEndian.Uint16(payload)), payload[2:]
}

// itoa formats a small non-negative int without strconv's allocation for
// the string; used only on error paths.
func itoa(n int) string {
	var b [20]byte
	i := len(b)
	for {
		i--
		b[i] = byte('0' + n%10)
		n /= 10
		if n == 0 {
			return string(b[i:])
		}
	}
}
