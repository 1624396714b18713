package codec

import (
	"bytes"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/gobwas/ws"
)

// maskedFrame returns a final client frame with a fixed mask, built by
// gobwas/ws as an independent encoder.
func maskedFrame(op ws.OpCode, payload []byte) []byte {
	f := ws.MaskFrameWith(ws.NewFrame(op, true, payload), [4]byte{1, 2, 3, 4})
	return ws.MustCompileFrame(f)
}

func BenchmarkParserNext(b *testing.B) {
	for _, size := range []int{16, 1 << 10, 64 << 10} {
		b.Run(byteSize(size), func(b *testing.B) {
			frame := maskedFrame(ws.OpBinary, bytes.Repeat([]byte("x"), size))
			buf := make([]byte, len(frame))
			b.ReportAllocs()
			b.SetBytes(int64(size))
			var p Parser
			for b.Loop() {
				copy(buf, frame) // Next unmasks in place
				if _, n, err := p.Next(buf, 1<<20); n != len(buf) || err != nil {
					b.Fatalf("Next = %d, %v", n, err)
				}
			}
		})
	}
}

func BenchmarkParserNextText(b *testing.B) {
	for _, size := range []int{16, 1 << 10, 64 << 10} {
		b.Run(byteSize(size), func(b *testing.B) {
			frame := maskedFrame(ws.OpText, bytes.Repeat([]byte("x"), size))
			buf := make([]byte, len(frame))
			b.ReportAllocs()
			b.SetBytes(int64(size))
			var p Parser
			for b.Loop() {
				copy(buf, frame)
				if _, n, err := p.Next(buf, 1<<20); n != len(buf) || err != nil {
					b.Fatalf("Next = %d, %v", n, err)
				}
			}
		})
	}
}

// BenchmarkParserNextTextSplit parses a 64 KiB text frame that arrives in
// reads of 1460 bytes (a TCP segment) or 16 KiB, the way OnTraffic does:
// append what arrived, Next until no progress, discard what was consumed.
// A text frame streams into the parser (validated as it arrives); before
// that, Next waited for the whole frame.
func BenchmarkParserNextTextSplit(b *testing.B) {
	const size = 64 << 10
	frame := maskedFrame(ws.OpText, bytes.Repeat([]byte("x"), size))
	for _, read := range []int{1460, 16 << 10} {
		b.Run(byteSize(read), func(b *testing.B) {
			pending := make([]byte, 0, len(frame))
			b.ReportAllocs()
			b.SetBytes(size)
			var p Parser
			for b.Loop() {
				pending = pending[:0]
				got := 0
				for rest := frame; len(rest) > 0; {
					k := min(read, len(rest))
					pending, rest = append(pending, rest[:k]...), rest[k:]
					for {
						m, n, err := p.Next(pending, 1<<20)
						if err != nil {
							b.Fatal(err)
						}
						if n == 0 {
							break
						}
						got += len(m.Payload)
						pending = append(pending[:0], pending[n:]...)
					}
				}
				if got != size {
					b.Fatalf("got %d bytes; want %d", got, size)
				}
			}
		})
	}
}

var typicalSay = []byte(`{"type":"say","to_uid":"all","content":"hi, all ! how is everybody doing today?"}`)

func BenchmarkDecodeInbound(b *testing.B) {
	cases := []struct{ name, json string }{
		{"say", string(typicalSay)},
		{"private", `{"type":"say","to_uid":783654164,"content":"psst"}`},
		{"login", `{"type":"login","name":"mynick","room_id":"r1"}`},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			payload := []byte(c.json)
			b.ReportAllocs()
			b.SetBytes(int64(len(payload)))
			var in Inbound
			for b.Loop() {
				if err := DecodeInbound(payload, &in); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// sayContent returns chat text of about size bytes: ASCII words, some
// Chinese, and an HTML special and a line break now and then.
func sayContent(size int) string {
	words := []string{"hello ", "world ", "猪猪 ", "a<b ", "& ", "ok\n", "\"quoted\" "}
	var b strings.Builder
	for i := 0; b.Len() < size; i++ {
		b.WriteString(words[i%len(words)])
	}
	return truncateUTF8(b.String(), size)
}

// BenchmarkAppendSayNewFrame measures encoding one broadcast: the JSON of a
// say (content already escaped, as AppendSay takes it) framed by NewFrame.
func BenchmarkAppendSayNewFrame(b *testing.B) {
	for _, size := range []int{16, 1 << 10, 4 << 10} {
		content := string(AppendEscaped(nil, sayContent(size), true))
		b.Run(byteSize(size), func(b *testing.B) {
			now := time.Now()
			js := make([]byte, 0, 2*len(content)+128)
			b.ReportAllocs()
			b.SetBytes(int64(size))
			for b.Loop() {
				js = AppendSay(js[:0], 783700053, true, 0, content, now)
				_ = NewFrame(ws.OpText, js)
			}
		})
	}
}

// BenchmarkAppendSayEscapingNewFrame is the same from raw content, escaped
// in the same pass.
func BenchmarkAppendSayEscapingNewFrame(b *testing.B) {
	for _, size := range []int{16, 1 << 10, 4 << 10} {
		raw := sayContent(size)
		b.Run(byteSize(size), func(b *testing.B) {
			now := time.Now()
			js := make([]byte, 0, 2*len(raw)+128)
			b.ReportAllocs()
			b.SetBytes(int64(size))
			for b.Loop() {
				js = AppendSayEscaping(js[:0], 783700053, true, 0, raw, now)
				_ = NewFrame(ws.OpText, js)
			}
		})
	}
}

func BenchmarkParseRequest(b *testing.B) {
	buf := []byte(seedRequest)
	b.ReportAllocs()
	b.SetBytes(int64(len(buf)))
	for b.Loop() {
		if _, n, err := ParseRequest(buf, 0); n != len(buf) || err != nil {
			b.Fatal(n, err)
		}
	}
}

func BenchmarkAppendAccept(b *testing.B) {
	dst := make([]byte, 0, 256)
	key := []byte("zPDr6m4czzUdOFnsxIUEAw==")
	b.ReportAllocs()
	for b.Loop() {
		dst = AppendAccept(dst[:0], key)
	}
}

func byteSize(n int) string {
	switch {
	case n >= 1<<20 && n%(1<<20) == 0:
		return fmt.Sprintf("%dMiB", n>>20)
	case n >= 1<<10 && n%(1<<10) == 0:
		return fmt.Sprintf("%dKiB", n>>10)
	}
	return fmt.Sprintf("%dB", n)
}
