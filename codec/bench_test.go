package codec

import (
	"bytes"
	"fmt"
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

func BenchmarkAppendSayNewFrame(b *testing.B) {
	for _, size := range []int{16, 1 << 10, 4 << 10} {
		b.Run(byteSize(size), func(b *testing.B) {
			content := string(bytes.Repeat([]byte("a<b "), size/4))
			now := time.Now()
			var esc, js []byte
			b.ReportAllocs()
			b.SetBytes(int64(size))
			for b.Loop() {
				esc = AppendEscaped(esc[:0], content, true)
				js = AppendSay(js[:0], 783700053, true, 0, string(esc), now)
				_ = NewFrame(ws.OpText, js)
			}
		})
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
