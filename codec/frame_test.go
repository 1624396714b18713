package codec

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/fnv"
	"math/rand/v2"
	"strings"
	"testing"
	"unsafe"

	"github.com/gobwas/ws"
)

// frameOf builds a client frame with gobwas/ws, an independent encoder:
// masked with a key derived from the payload (so that fuzz seeds are
// reproducible), with the given FIN bit and opcode.
func frameOf(fin bool, op ws.OpCode, payload string) []byte {
	h := fnv.New32a()
	h.Write([]byte(payload))
	mask := [4]byte(binary.LittleEndian.AppendUint32(nil, h.Sum32()|0x01010101))
	f := ws.MaskFrameWith(ws.NewFrame(op, fin, []byte(payload)), mask)
	var b bytes.Buffer
	if err := ws.WriteFrame(&b, f); err != nil {
		panic(err)
	}
	return b.Bytes()
}

// rawFrame builds a client frame from an arbitrary header, for the frames
// that break the rules.
func rawFrame(h ws.Header, payload string) []byte {
	h.Length = int64(len(payload))
	p := []byte(payload)
	if h.Masked {
		ws.Cipher(p, h.Mask, 0)
	}
	var b bytes.Buffer
	if err := ws.WriteHeader(&b, h); err != nil {
		panic(err)
	}
	return append(b.Bytes(), p...)
}

var testMask = [4]byte{0xa1, 0xb2, 0xc3, 0xd4}

// event is what a parse run produced: a message, or an error's close code.
type event struct {
	Op      ws.OpCode
	Payload string
}

func (e event) String() string { return fmt.Sprintf("%v:%q", e.Op, e.Payload) }

// closeCodeEvent records a *CloseError in an event list.
func closeCodeEvent(code ws.StatusCode) event { return event{Op: 0xff, Payload: fmt.Sprint(code)} }

// runParser feeds stream to a fresh Parser in chunks of the given sizes (the
// rest in one piece), the way OnTraffic does: append what arrived, call
// Next until it needs more, discard what was consumed. It records every
// message and the close code of the first error.
func runParser(t testing.TB, stream []byte, chunks []int, maxMessage int) []event {
	var (
		p       Parser
		pending []byte
		events  []event
	)
	stream = bytes.Clone(stream) // Next unmasks in place
	for len(stream) > 0 {
		k := len(stream)
		if len(chunks) > 0 {
			k, chunks = min(chunks[0], k), chunks[1:]
		}
		pending, stream = append(pending, stream[:k]...), stream[k:]
		for {
			m, n, err := p.Next(pending, maxMessage)
			var ce *CloseError
			if errors.As(err, &ce) {
				return append(events, closeCodeEvent(ce.Code))
			}
			if err != nil || n < 0 || n > len(pending) {
				t.Fatalf("Next = %d, %v; want a *CloseError or 0 <= n <= %d", n, err, len(pending))
			}
			if n == 0 {
				if p.Need() <= len(pending) {
					t.Fatalf("Need() = %d with %d bytes buffered and no progress", p.Need(), len(pending))
				}
				break
			}
			if m.Op != 0 {
				events = append(events, event{m.Op, string(m.Payload)})
			}
			pending = bytes.Clone(pending[n:]) // discard: the old bytes may be reused
		}
	}
	return events
}

func cat(frames ...[]byte) []byte { return bytes.Join(frames, nil) }

type parserCase struct {
	name   string
	stream []byte
	max    int
	want   []event
}

func parserCases() []parserCase {
	big := strings.Repeat("é", 40000) // 80000 bytes: 64-bit length
	euro := "€"                       // E2 82 AC
	text, bin, cont := ws.OpText, ws.OpBinary, ws.OpContinuation
	rsv := func(bits byte) []byte {
		return rawFrame(ws.Header{Fin: true, Rsv: bits, OpCode: text, Masked: true, Mask: testMask}, "x")
	}
	closeWith := func(code uint16, reason string) []byte {
		return frameOf(true, ws.OpClose, string(binary.BigEndian.AppendUint16(nil, code))+reason)
	}
	cases := []parserCase{
		{"text", frameOf(true, text, "hello"), 0, []event{{text, "hello"}}},
		{"empty text", frameOf(true, text, ""), 0, []event{{text, ""}}},
		{"binary 16-bit length", frameOf(true, bin, strings.Repeat("b", 300)), 0, []event{{bin, strings.Repeat("b", 300)}}},
		{"text 64-bit length", frameOf(true, text, big), 0, []event{{text, big}}},
		{"two messages", cat(frameOf(true, text, "a"), frameOf(true, bin, "\xff")), 0, []event{{text, "a"}, {bin, "\xff"}}},
		{"ping pong", cat(frameOf(true, ws.OpPing, "p"), frameOf(true, ws.OpPong, "")), 0, []event{{ws.OpPing, "p"}, {ws.OpPong, ""}}},
		{"close empty", frameOf(true, ws.OpClose, ""), 0, []event{{ws.OpClose, ""}}},
		{"close with reason", closeWith(1000, "bye"), 0, []event{{ws.OpClose, "\x03\xe8bye"}}},
		{"fragmented text", cat(frameOf(false, text, "he"), frameOf(false, cont, "l"), frameOf(true, cont, "lo")), 0,
			[]event{{text, "hello"}}},
		{"fragmented empty", cat(frameOf(false, text, ""), frameOf(true, cont, "")), 0, []event{{text, ""}}},
		{"fragmented binary", cat(frameOf(false, bin, "\x00"), frameOf(true, cont, "\xff")), 0, []event{{bin, "\x00\xff"}}},
		{"control frames between fragments", cat(frameOf(false, text, "a"), frameOf(true, ws.OpPing, "1"),
			frameOf(false, cont, "b"), frameOf(true, ws.OpPong, "2"), frameOf(true, cont, "c"), frameOf(true, text, "d")), 0,
			[]event{{ws.OpPing, "1"}, {ws.OpPong, "2"}, {text, "abc"}, {text, "d"}}},
		{"close between fragments", cat(frameOf(false, text, "a"), frameOf(true, ws.OpClose, "")), 0, []event{{ws.OpClose, ""}}},
		{"utf-8 split across fragments", cat(frameOf(false, text, euro[:1]), frameOf(false, cont, euro[1:2]),
			frameOf(true, cont, euro[2:]+"!")), 0, []event{{text, euro + "!"}}},
		{"binary need not be utf-8", frameOf(true, bin, "\xff\xfe"), 0, []event{{bin, "\xff\xfe"}}},
		{"at the size limit", frameOf(true, text, strings.Repeat("a", 100)), 100, []event{{text, strings.Repeat("a", 100)}}},
		{"fragments at the size limit", cat(frameOf(false, text, strings.Repeat("a", 60)), frameOf(true, cont, strings.Repeat("a", 40))), 100,
			[]event{{text, strings.Repeat("a", 100)}}},
		{"control frames are not limited", cat(frameOf(false, text, "aaaa"), frameOf(true, ws.OpPing, strings.Repeat("p", 125)), frameOf(true, cont, "a")), 5,
			[]event{{ws.OpPing, strings.Repeat("p", 125)}, {text, "aaaaa"}}},

		{"RSV1", rsv(4), 0, []event{closeCodeEvent(1002)}},
		{"RSV2", rsv(2), 0, []event{closeCodeEvent(1002)}},
		{"RSV3", rsv(1), 0, []event{closeCodeEvent(1002)}},
		{"unmasked", rawFrame(ws.Header{Fin: true, OpCode: text}, "x"), 0, []event{closeCodeEvent(1002)}},
		{"fragmented ping", frameOf(false, ws.OpPing, ""), 0, []event{closeCodeEvent(1002)}},
		{"ping of 126 bytes", frameOf(true, ws.OpPing, strings.Repeat("p", 126)), 0, []event{closeCodeEvent(1002)}},
		{"close of 126 bytes", closeWith(1000, strings.Repeat("r", 124)), 0, []event{closeCodeEvent(1002)}},
		{"continuation first", frameOf(true, cont, "x"), 0, []event{closeCodeEvent(1002)}},
		{"continuation after a message", cat(frameOf(true, text, "a"), frameOf(true, cont, "x")), 0,
			[]event{{text, "a"}, closeCodeEvent(1002)}},
		{"text inside text", cat(frameOf(false, text, "a"), frameOf(true, text, "b")), 0, []event{closeCodeEvent(1002)}},
		{"binary inside text", cat(frameOf(false, text, "a"), frameOf(false, bin, "b")), 0, []event{closeCodeEvent(1002)}},
		{"64-bit length top bit", append([]byte{0x82, 0xff, 0x80, 0, 0, 0, 0, 0, 0, 1}, testMask[:]...), 0, []event{closeCodeEvent(1002)}},
		{"invalid utf-8", frameOf(true, text, "a\xffb"), 0, []event{closeCodeEvent(1007)}},
		{"surrogate", frameOf(true, text, "\xed\xa0\x80"), 0, []event{closeCodeEvent(1007)}},
		{"invalid utf-8 fragment", cat(frameOf(false, text, "\xc0\xaf"), frameOf(true, cont, "")), 0, []event{closeCodeEvent(1007)}},
		{"text ends inside a character", cat(frameOf(false, text, "a"), frameOf(true, cont, euro[:2])), 0, []event{closeCodeEvent(1007)}},
		{"close of 1 byte", frameOf(true, ws.OpClose, "\x03"), 0, []event{closeCodeEvent(1002)}},
		{"close reason not utf-8", closeWith(1000, "\xff"), 0, []event{closeCodeEvent(1007)}},
		{"text over the limit", frameOf(true, text, strings.Repeat("a", 101)), 100, []event{closeCodeEvent(1009)}},
		{"fragments over the limit", cat(frameOf(false, text, strings.Repeat("a", 60)), frameOf(true, cont, strings.Repeat("a", 41))), 100,
			[]event{closeCodeEvent(1009)}},
	}
	for _, op := range []ws.OpCode{3, 4, 5, 6, 7, 0xb, 0xc, 0xd, 0xe, 0xf} {
		cases = append(cases, parserCase{fmt.Sprintf("opcode %#x", byte(op)),
			rawFrame(ws.Header{Fin: true, OpCode: op, Masked: true, Mask: testMask}, ""), 0, []event{closeCodeEvent(1002)}})
	}
	for _, code := range []uint16{1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 3000, 3999, 4000, 4999} {
		cases = append(cases, parserCase{fmt.Sprintf("close code %d", code), closeWith(code, "r"), 0,
			[]event{{ws.OpClose, string(binary.BigEndian.AppendUint16(nil, code)) + "r"}}})
	}
	for _, code := range []uint16{0, 999, 1004, 1005, 1006, 1012, 1013, 1014, 1015, 1016, 1100, 2000, 2999, 5000, 65535} {
		cases = append(cases, parserCase{fmt.Sprintf("close code %d", code), closeWith(code, ""), 0, []event{closeCodeEvent(1002)}})
	}
	return cases
}

// TestNext checks every case fed whole, byte by byte, and split at random
// points: the results must not depend on how the bytes arrive.
func TestNext(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, tt := range parserCases() {
		t.Run(tt.name, func(t *testing.T) {
			splits := map[string][]int{"whole": nil, "bytes": ones(len(tt.stream))}
			for i := range 3 {
				splits[fmt.Sprint("random", i)] = randomChunks(rng, len(tt.stream))
			}
			for how, chunks := range splits {
				if got := runParser(t, tt.stream, chunks, tt.max); fmt.Sprint(got) != fmt.Sprint(tt.want) {
					t.Errorf("Next(%s, fed %s) = %v; want %v", tt.name, how, trunc(got), trunc(tt.want))
				}
			}
		})
	}
}

func ones(n int) []int {
	s := make([]int, n)
	for i := range s {
		s[i] = 1
	}
	return s
}

// randomChunks returns chunk sizes adding up to n, small ones favoured.
func randomChunks(rng *rand.Rand, n int) []int {
	var s []int
	for n > 0 {
		k := 1 + rng.IntN(min(n, 1+rng.IntN(64)))
		s, n = append(s, k), n-k
	}
	return s
}

// trunc shortens long payloads in failure messages.
func trunc(evs []event) string {
	s := fmt.Sprint(evs)
	if len(s) > 300 {
		return s[:300] + "..."
	}
	return s
}

// TestNextLimitFromHeader checks that a frame over the limit is refused from
// its header alone, before its payload (or even its mask key) has arrived.
func TestNextLimitFromHeader(t *testing.T) {
	tests := []struct {
		name string
		buf  []byte
		max  int
		code ws.StatusCode
	}{
		{"terabyte, length only", []byte{0x82, 0xff, 0, 0, 1, 0, 0, 0, 0, 0}, 1 << 20, 1009},
		{"terabyte, no limit", []byte{0x82, 0xff, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, 0, 1009},
		{"top bit, length only", []byte{0x82, 0xff, 0x80, 0, 0, 0, 0, 0, 0, 0}, 1 << 20, 1002},
		{"16-bit length over limit", []byte{0x81, 0xfe, 0x01, 0x00}, 255, 1009},
		{"7-bit length over limit", []byte{0x81, 0x80 | 101}, 100, 1009},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var p Parser
			_, n, err := p.Next(tt.buf, tt.max)
			if ce, ok := err.(*CloseError); !ok || ce.Code != tt.code || n != 0 {
				t.Errorf("Next(% x) = %d, %v; want 0, close %d", tt.buf, n, err, tt.code)
			}
		})
	}
	t.Run("continuation over what is left", func(t *testing.T) {
		var p Parser
		first := frameOf(false, ws.OpBinary, strings.Repeat("a", 60))
		if _, n, err := p.Next(first, 100); n != len(first) || err != nil {
			t.Fatalf("Next(first fragment) = %d, %v; want %d, nil", n, err, len(first))
		}
		hdr := frameOf(true, ws.OpContinuation, strings.Repeat("a", 41))[:6]
		if _, _, err := p.Next(hdr, 100); !errors.Is(err, ErrTooLarge) {
			t.Errorf("Next(% x) = %v; want 1009 from the header alone", hdr, err)
		}
	})
}

// TestNextFailFast checks that invalid UTF-8 in a fragment fails as soon as
// that fragment arrives, before the final one.
func TestNextFailFast(t *testing.T) {
	tests := []struct {
		name      string
		fragments []string
	}{
		{"invalid byte", []string{"ok", "\xff"}},
		{"overlong lead", []string{"\xc1"}},
		{"bad second byte after E0", []string{"a\xe0", "\x80"}},
		{"bad second byte after F4", []string{"\xf4", "\x90"}},
		{"bad third byte", []string{"\xe2\x82", "a"}},
		{"bad fourth byte", []string{"\xf0\x9f", "\x98", "a"}},
		{"invalid after a carry", []string{"\xe2", "\x82\xac\xff"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var p Parser
			op := ws.OpText
			for i, frag := range tt.fragments {
				buf := frameOf(false, op, frag)
				op = ws.OpContinuation
				_, n, err := p.Next(buf, 0)
				last := i == len(tt.fragments)-1
				if last && !errors.Is(err, ErrInvalidUTF8) || !last && (err != nil || n != len(buf)) {
					t.Fatalf("Next(fragment %d %q) = %d, %v; want 1007 exactly at the last non-final fragment", i, frag, n, err)
				}
			}
		})
	}
}

func TestNeed(t *testing.T) {
	small := frameOf(true, ws.OpText, "hello")                   // 2+4+5
	medium := frameOf(true, ws.OpText, strings.Repeat("m", 200)) // 4+4+200
	large := frameOf(true, ws.OpBinary, strings.Repeat("l", 70000))
	tests := []struct {
		name     string
		buf      []byte
		wantNeed int
	}{
		{"nothing", nil, 2},
		{"one byte", small[:1], 2},
		{"small, 2 bytes", small[:2], 6},
		{"small, header", small[:6], 7},          // a text frame: its first payload byte starts the stream
		{"small, partial payload", small[:8], 1}, // a text frame streams: every byte is progress
		{"binary, partial payload", frameOf(true, ws.OpBinary, "hello")[:8], 11},
		{"medium, 2 bytes", medium[:2], 8},
		{"medium, length", medium[:4], 8},
		{"medium, header", medium[:8], 9}, // a text frame: its first payload byte starts the stream
		{"large, 2 bytes", large[:2], 14},
		{"large, header", large[:14], 70014},
		{"large, most", large[:70013], 70014},
		{"complete", small, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var p Parser
			p.Next(bytes.Clone(tt.buf), 0)
			if got := p.Need(); got != tt.wantNeed {
				t.Errorf("Need() after Next(%d bytes) = %d; want %d", len(tt.buf), got, tt.wantNeed)
			}
		})
	}
}

// TestNextUnmask is a differential test of the in-place unmasking against a
// naive byte-by-byte XOR, over sizes around every length encoding and the
// 8- and 16-byte strides of ws.Cipher.
func TestNextUnmask(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	sizes := []int{0, 1, 3, 4, 7, 8, 9, 15, 16, 17, 31, 33, 125, 126, 127, 1000, 65535, 65536, 70001}
	for range 50 {
		sizes = append(sizes, rng.IntN(4096))
	}
	for _, size := range sizes {
		payload := make([]byte, size)
		for i := range payload {
			payload[i] = byte(rng.Uint32())
		}
		mask := [4]byte{byte(rng.Uint32()), byte(rng.Uint32()), byte(rng.Uint32()), byte(rng.Uint32())}
		frame := appendHeader(nil, ws.OpBinary, size)
		frame[1] |= 0x80
		frame = append(frame, mask[:]...)
		for i, c := range payload {
			frame = append(frame, c^mask[i%4])
		}
		var p Parser
		m, n, err := p.Next(frame, 0)
		if err != nil || n != len(frame) || !bytes.Equal(m.Payload, payload) {
			t.Fatalf("Next(%d-byte frame, mask % x) = %d, %v, payload equal %v; want %d, nil, true",
				size, mask, n, err, bytes.Equal(m.Payload, payload), len(frame))
		}
	}
}

// TestNextIncompleteTwice checks that re-parsing an incomplete (binary)
// frame does not unmask anything, so the complete frame is unmasked
// exactly once. (An incomplete text frame streams instead:
// TestNextStream.)
func TestNextIncompleteTwice(t *testing.T) {
	frame := frameOf(true, ws.OpBinary, "hello, world")
	orig := bytes.Clone(frame)
	var p Parser
	for range 3 {
		if _, n, err := p.Next(frame[:len(frame)-1], 0); n != 0 || err != nil {
			t.Fatalf("Next(incomplete) = %d, %v; want 0, nil", n, err)
		}
	}
	if !bytes.Equal(frame, orig) {
		t.Fatalf("Next(incomplete) modified the buffer: % x; want % x", frame, orig)
	}
	if m, _, err := p.Next(frame, 0); err != nil || string(m.Payload) != "hello, world" {
		t.Errorf("Next(complete) = %q, %v; want \"hello, world\"", m.Payload, err)
	}
}

// TestNextAliasing checks the memory rules: an unfragmented payload aliases
// the input; a reassembled payload is handed over, the parser keeps
// nothing of the message, and the next call to Next takes the buffer back
// (TestReassemblyPool), after which the parser holds no buffer.
func TestNextAliasing(t *testing.T) {
	var p Parser
	buf := frameOf(true, ws.OpText, "zero copy")
	m, _, _ := p.Next(buf, 0)
	if &m.Payload[0] != &buf[6] {
		t.Errorf("Next(unfragmented).Payload does not alias the input")
	}
	p.Next(frameOf(false, ws.OpText, "frag"), 0)
	if p.buf == nil {
		t.Fatalf("Next(first fragment): no reassembly buffer")
	}
	m, _, _ = p.Next(frameOf(true, ws.OpContinuation, "ment"), 0)
	if len(p.buf) != 0 || p.op != 0 || string(m.Payload) != "fragment" {
		t.Errorf("Next(final fragment) = %q, parser buffer %q; want \"fragment\", empty", m.Payload, p.buf)
	}
	if p.Next(nil, 0); p.buf != nil {
		t.Errorf("Next after the message: parser buffer of %d bytes; want nil", cap(p.buf))
	}
	p.Next(frameOf(false, ws.OpText, "open"), 0)
	p.Reset()
	if p.buf != nil || p.op != 0 || p.need != 0 || p.utf8 != (utf8State{}) {
		t.Errorf("Reset() left %+v; want the zero Parser", p)
	}
}

func TestParserSize(t *testing.T) {
	if size := unsafe.Sizeof(Parser{}); size > 48 {
		t.Errorf("unsafe.Sizeof(Parser{}) = %d; want <= 48", size)
	}
}

func TestParseClose(t *testing.T) {
	tests := []struct {
		payload string
		code    ws.StatusCode
		reason  string
	}{
		{"", ws.StatusNoStatusRcvd, ""},
		{"\x03\xe8", 1000, ""},
		{"\x03\xe9going", 1001, "going"},
	}
	for _, tt := range tests {
		code, reason := ParseClose([]byte(tt.payload))
		if code != tt.code || string(reason) != tt.reason {
			t.Errorf("ParseClose(%q) = %d, %q; want %d, %q", tt.payload, code, reason, tt.code, tt.reason)
		}
	}
}

func TestCloseErrorIs(t *testing.T) {
	tests := []struct {
		err  *CloseError
		want error
	}{
		{errRSV, ErrProtocol},
		{errTextUTF8, ErrInvalidUTF8},
		{errMessageLarge, ErrTooLarge},
		{&CloseError{ws.StatusPolicyViolation, "x"}, ErrClose},
	}
	for _, tt := range tests {
		if !errors.Is(tt.err, tt.want) || !strings.HasPrefix(tt.err.Error(), "codec: close ") {
			t.Errorf("errors.Is(%v, %v) = false; want true", tt.err, tt.want)
		}
	}
}

// TestNextStream: a text frame that arrives in parts is consumed as it
// arrives, and invalid UTF-8 fails with 1007 at the part that holds the
// byte making it invalid, before the frame is complete (Autobahn 6.4.3 and
// 6.4.4: one frame in three chops; 6.4.1 and 6.4.2, the same in three
// fragments, are TestNextFailFast). A valid frame gives its message at
// its last byte, in a buffer it owns; the input is never modified.
func TestNextStream(t *testing.T) {
	kosme := "\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5"
	whole := kosme + "\xf4\x90\x80\x80" + "edited"
	tests := []struct {
		name   string
		frames [][]byte // the stream, as frames
		chops  []int    // where the stream is cut into reads
		fail   int      // index of the read that must fail with 1007; -1: none
		want   string   // the message when none fails
	}{
		{"6.4.3", [][]byte{frameOf(true, ws.OpText, whole)}, []int{6 + 11, 4}, 1, ""},
		{"6.4.4", [][]byte{frameOf(true, ws.OpText, whole)}, []int{6 + 12, 1}, 1, ""},
		{"6.4.4, header read alone", [][]byte{frameOf(true, ws.OpText, whole)}, []int{6, 12, 1}, 2, ""},
		{"invalid in the first part", [][]byte{frameOf(true, ws.OpText, "\xff"+strings.Repeat("a", 20))}, []int{7, 5}, 0, ""},
		{"invalid in the last part", [][]byte{frameOf(true, ws.OpText, strings.Repeat("a", 20)+"\xff")}, []int{10, 5}, 2, ""},
		{"incomplete at the end", [][]byte{frameOf(true, ws.OpText, kosme+"\xe2\x82")}, []int{8, 3}, 2, ""},
		{"valid, byte by byte", [][]byte{frameOf(true, ws.OpText, kosme)}, []int{6, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1}, -1, kosme},
		{"valid, split in a character", [][]byte{frameOf(true, ws.OpText, "€uro€")}, []int{7, 4}, -1, "€uro€"},
		{"streamed fragment, then a ping, then the rest", [][]byte{
			frameOf(false, ws.OpText, "fragm"), frameOf(true, ws.OpPing, "p"), frameOf(true, ws.OpContinuation, "ent\xe2\x82\xac"),
		}, []int{8, 10, 7}, -1, "fragment€"},
		{"streamed continuation fails", [][]byte{
			frameOf(false, ws.OpText, "\xe2"), frameOf(true, ws.OpContinuation, "\x82\xac"+strings.Repeat("x", 10)+"\xc0"+"abc"),
		}, []int{7, 6 + 5, 8}, 2, ""},
		{"binary is not streamed", [][]byte{frameOf(true, ws.OpBinary, "\xff\xff")}, []int{7}, -1, "\xff\xff"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			stream := bytes.Join(tt.frames, nil)
			orig := bytes.Clone(stream)
			var p Parser
			var pending []byte
			var got []string
			for i := 0; len(stream) > 0; i++ {
				k := len(stream)
				if i < len(tt.chops) {
					k = min(k, tt.chops[i])
				}
				pending, stream = append(pending, stream[:k]...), stream[k:]
				before := bytes.Clone(pending)
				for len(pending) >= p.Need() { // as the server does: Next only when Need is met
					m, n, err := p.Next(pending, 0)
					if err != nil {
						if i != tt.fail || !errors.Is(err, ErrInvalidUTF8) {
							t.Fatalf("read %d: Next = %v; want 1007 at read %d", i, err, tt.fail)
						}
						return
					}
					if n == 0 {
						break
					}
					if m.Op == ws.OpText || m.Op == ws.OpBinary {
						got = append(got, string(m.Payload))
					}
					if p.InFrame() && n != len(pending) {
						t.Fatalf("read %d: InFrame() after %d of %d bytes; a streaming frame takes all", i, n, len(pending))
					}
					pending = pending[n:]
				}
				if p.InFrame() && !bytes.Equal(before, orig[len(orig)-len(stream)-len(before):len(orig)-len(stream)]) {
					t.Fatalf("read %d: Next modified its input", i)
				}
				pending = bytes.Clone(pending)
			}
			if tt.fail >= 0 {
				t.Fatalf("no 1007; want it at read %d", tt.fail)
			}
			if len(got) != 1 || got[0] != tt.want || p.InFrame() {
				t.Fatalf("messages %q, InFrame %v; want [%q], false", got, p.InFrame(), tt.want)
			}
		})
	}
}

func TestNextAllocs(t *testing.T) {
	for _, size := range []int{16, 1 << 10, 64 << 10} {
		frame := frameOf(true, ws.OpText, strings.Repeat("x", size))
		buf := make([]byte, len(frame))
		var p Parser
		got := testing.AllocsPerRun(100, func() {
			copy(buf, frame)
			p.Next(buf, 1<<20)
		})
		if got != 0 {
			t.Errorf("AllocsPerRun(Next(%d-byte text frame)) = %v; want 0", size, got)
		}
	}
	// A text frame that arrives in two reads streams into a buffer of the
	// pool: the next call to Next gives it back, and the next such frame
	// takes it (one allocation per message before the pool, when the
	// first part was at least half of it).
	frame := frameOf(true, ws.OpText, strings.Repeat("x", 1<<10))
	half := 8 + 512 // header and half the payload
	buf := make([]byte, len(frame))
	var p Parser
	got := testing.AllocsPerRun(100, func() {
		copy(buf, frame)
		_, n, _ := p.Next(buf[:half], 1<<20)
		p.Next(buf[n:], 1<<20)
	})
	if got != 0 {
		t.Errorf("AllocsPerRun(Next(1 KiB text frame in two reads)) = %v; want 0", got)
	}
}

// TestNextAllocsReassembled: messages reassembled from parts cost no
// allocation once the pool holds their buffers (each is taken back at the
// next call to Next): a text frame in TCP-segment reads, a fragmented
// message.
func TestNextAllocsReassembled(t *testing.T) {
	stream := func(rd int, frame []byte) func() {
		buf, p := make([]byte, len(frame)), new(Parser)
		return func() {
			copy(buf, frame)
			for off := 0; off < len(buf); {
				_, n, err := p.Next(buf[off:min(off+rd, len(buf))], 1<<20)
				if err != nil || n == 0 {
					t.Fatalf("Next at %d = %d, %v", off, n, err)
				}
				off += n
			}
		}
	}
	var fragmented []byte
	for i := range 8 {
		op := ws.OpText
		if i > 0 {
			op = ws.OpContinuation
		}
		fragmented = append(fragmented, frameOf(i == 7, op, strings.Repeat("y", 1000))...)
	}
	for _, tt := range []struct {
		name string
		run  func()
	}{
		{"64 KiB text frame in 1460-byte reads", stream(1460, frameOf(true, ws.OpText, strings.Repeat("x", 64<<10)))},
		{"4 KiB text frame in 100-byte reads", stream(100, frameOf(true, ws.OpText, strings.Repeat("x", 4<<10)))},
		{"8 fragments of 1000 bytes", stream(1<<20, fragmented)},
	} {
		if got := testing.AllocsPerRun(100, tt.run); got != 0 {
			t.Errorf("AllocsPerRun(%s) = %v; want 0", tt.name, got)
		}
	}
}

// drainBufPool empties the pool's free lists, so that a test does not
// depend on what earlier tests gave back.
func drainBufPool() {
	for _, l := range bufPool {
		for len(l) > 0 {
			<-l
		}
	}
}

// TestReassemblyPool: a reassembled Payload is lent until the next call to
// Next, which gives it back to the pool (never sooner, never a payload
// that aliases the input); the next reassembled message reuses it; Reset
// gives back an unfinished message's buffer; the free lists are bounded.
func TestReassemblyPool(t *testing.T) {
	drainBufPool()
	free := func() int { return len(bufPool[0]) } // the 512-byte class
	var p Parser
	p.Next(frameOf(false, ws.OpText, "frag"), 0)
	m, _, _ := p.Next(frameOf(true, ws.OpContinuation, "ment"), 0)
	if free() != 0 || cap(p.buf) == 0 {
		t.Fatalf("after the final fragment: %d free buffers, lent %d bytes; want 0, the payload's buffer", free(), cap(p.buf))
	}
	first := &m.Payload[0]
	whole, _, _ := p.Next(frameOf(true, ws.OpText, "whole"), 0)
	if free() != 1 || p.buf != nil {
		t.Fatalf("after the next Next: %d free buffers, lent %d bytes; want 1, none", free(), cap(p.buf))
	}
	p.Next(whole.Payload[:0], 0) // a whole message's payload aliases the input: nothing to give back
	if free() != 1 {
		t.Fatalf("after a whole message: %d free buffers; want 1", free())
	}
	p.Next(frameOf(false, ws.OpText, "again "), 0)
	m, _, _ = p.Next(frameOf(true, ws.OpContinuation, "reused"), 0)
	if string(m.Payload) != "again reused" || &m.Payload[0] != first {
		t.Errorf("next reassembled message = %q in a new buffer; want \"again reused\" in the one given back", m.Payload)
	}
	p.Next(frameOf(false, ws.OpText, "open"), 0) // gives back the lent one, takes it again
	p.Reset()
	if free() != 1 || p.buf != nil || p.op != 0 {
		t.Errorf("after Reset: %d free buffers, parser %+v; want 1, the zero Parser", free(), p)
	}
	for range cap(bufPool[0]) + 10 {
		putBuf(make([]byte, 0, 512))
	}
	if free() != cap(bufPool[0]) {
		t.Errorf("the free list holds %d of %d", free(), cap(bufPool[0]))
	}
	putBuf(make([]byte, 0, 700)) // not a class: ignored
	drainBufPool()
}
