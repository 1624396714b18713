package bench

import (
	"bytes"
	"io"
	"strings"
	"testing"

	"github.com/gobwas/ws"
)

// The frames are checked with gobwas/ws, an independent implementation.

func TestAppendClientFrameReadsBack(t *testing.T) {
	for _, n := range []int{0, 1, 7, 8, 9, 125, 126, 127, 65535, 65536, 100000} {
		payload := bytes.Repeat([]byte("abcdefghij"), n/10+1)[:n]
		b := AppendClientFrame([]byte("prefix"), OpText, payload)
		if !bytes.HasPrefix(b, []byte("prefix")) {
			t.Fatalf("AppendClientFrame dropped dst")
		}
		r := bytes.NewReader(b[len("prefix"):])
		h, err := ws.ReadHeader(r)
		if err != nil {
			t.Fatalf("n=%d: ReadHeader: %v", n, err)
		}
		got := make([]byte, h.Length)
		if _, err := io.ReadFull(r, got); err != nil {
			t.Fatalf("n=%d: read payload: %v", n, err)
		}
		if !h.Fin || h.OpCode != ws.OpText || !h.Masked {
			t.Errorf("n=%d: header %+v; want fin, text, masked", n, h)
		}
		ws.Cipher(got, h.Mask, 0)
		if !bytes.Equal(got, payload) || r.Len() != 0 {
			t.Errorf("n=%d: payload round trip differs (trailing %d bytes)", n, r.Len())
		}
	}
}

// serverFrames returns frames written by gobwas/ws as a server would.
func serverFrames(t testing.TB, payloads ...string) []byte {
	var buf bytes.Buffer
	for i, p := range payloads {
		op := ws.OpText
		if i%3 == 2 {
			op = ws.OpPing
		}
		if err := ws.WriteFrame(&buf, ws.NewFrame(op, true, []byte(p))); err != nil {
			t.Fatal(err)
		}
	}
	return buf.Bytes()
}

func TestParseFrameAtEverySplit(t *testing.T) {
	payloads := []string{`{"type":"login"}`, strings.Repeat("x", 300), "ping", strings.Repeat("y", 70000), ""}
	stream := serverFrames(t, payloads...)
	for split := 0; split <= len(stream); split += 1 + split/50 {
		var got []string
		var pending []byte
		for _, chunk := range [][]byte{stream[:split], stream[split:]} {
			pending = append(pending, chunk...)
			for {
				f, n, _, err := ParseFrame(pending, 1<<20)
				if err != nil {
					t.Fatalf("split %d: %v", split, err)
				}
				if n == 0 {
					break
				}
				got = append(got, string(f.Payload))
				pending = pending[n:]
			}
		}
		if len(got) != len(payloads) || len(pending) != 0 {
			t.Fatalf("split %d: got %d frames, %d bytes left; want %d, 0", split, len(got), len(pending), len(payloads))
		}
		for i := range got {
			if got[i] != payloads[i] {
				t.Errorf("split %d: frame %d differs", split, i)
			}
		}
	}
}

func TestParseFrameErrors(t *testing.T) {
	masked := AppendClientFrame(nil, OpText, []byte("hi"))
	if _, _, _, err := ParseFrame(masked, 100); err != ErrMaskedServerFrame {
		t.Errorf("ParseFrame(masked) = %v; want %v", err, ErrMaskedServerFrame)
	}
	big := serverFrames(t, strings.Repeat("z", 200))
	if _, _, _, err := ParseFrame(big, 100); err != ErrFrameTooLarge {
		t.Errorf("ParseFrame(200 bytes, limit 100) = %v; want %v", err, ErrFrameTooLarge)
	}
	_, n, need, err := ParseFrame(big[:10], 1000)
	if n != 0 || need != len(big) || err != nil {
		t.Errorf("ParseFrame(partial) = n %d, need %d, %v; want 0, %d, nil", n, need, err, len(big))
	}
}

func FuzzParseFrame(f *testing.F) {
	f.Add(serverFrames(f, "a", "bb", "ccc"), 2)
	f.Fuzz(func(t *testing.T, stream []byte, split int) {
		if split < 0 || split > len(stream) {
			return
		}
		whole := parseAll(stream)
		pending := append([]byte(nil), stream[:split]...)
		parts := parseAll(pending)
		rest := pending[sumLen(parts):]
		parts = append(parts, parseAll(append(rest, stream[split:]...))...)
		if len(parts) != len(whole) {
			t.Errorf("split at %d parsed %d frames; whole stream %d", split, len(parts), len(whole))
		}
	})
}

func parseAll(b []byte) []int {
	var sizes []int
	for {
		_, n, _, err := ParseFrame(b, 1<<16)
		if err != nil || n == 0 {
			return sizes
		}
		sizes = append(sizes, n)
		b = b[n:]
	}
}

func sumLen(s []int) int {
	t := 0
	for _, n := range s {
		t += n
	}
	return t
}

func TestUpgradeResponse(t *testing.T) {
	ok := "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: " + handshakeAccept + "\r\n\r\n"
	tests := []struct {
		name, in string
		n        int
		err      error
	}{
		{"complete", ok + "\x81\x00", len(ok), nil},
		{"partial", ok[:20], 0, nil},
		{"refused", "HTTP/1.1 400 Bad Request\r\n\r\n", 0, ErrBadHandshake},
		{"wrong accept", strings.Replace(ok, handshakeAccept, "AAAA", 1), 0, ErrBadHandshake},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n, err := ParseUpgradeResponse([]byte(tt.in))
			if n != tt.n || err != tt.err {
				t.Errorf("ParseUpgradeResponse(%q) = %d, %v; want %d, %v", tt.in, n, err, tt.n, tt.err)
			}
		})
	}
	if !strings.Contains(string(UpgradeRequest("127.0.0.1:1")), "Sec-WebSocket-Key: "+handshakeKey) {
		t.Error("UpgradeRequest lacks the key")
	}
}

func BenchmarkAppendClientFrame(b *testing.B) {
	payload := []byte(`{"type":"say","to_uid":"all","content":"12345 1700000000000000000"}`)
	buf := make([]byte, 0, 256)
	b.SetBytes(int64(len(payload)))
	b.ReportAllocs()
	for range b.N {
		buf = AppendClientFrame(buf[:0], OpText, payload)
	}
}
