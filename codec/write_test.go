package codec

import (
	"bytes"
	"fmt"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/gobwas/ws"
)

// readServerFrame parses one server frame with gobwas/ws, an independent
// decoder, and checks that it is final, unmasked and exactly the input.
func readServerFrame(t *testing.T, raw []byte) ws.Frame {
	t.Helper()
	r := bytes.NewReader(raw)
	f, err := ws.ReadFrame(r)
	if err != nil || r.Len() != 0 || !f.Header.Fin || f.Header.Masked || f.Header.Rsv != 0 {
		t.Fatalf("ws.ReadFrame(% .20x) = %+v, %v, %d left; want one final unmasked frame", raw, f.Header, err, r.Len())
	}
	return f
}

func TestAppendFrame(t *testing.T) {
	for _, size := range []int{0, 1, 125, 126, 127, 65535, 65536, 70000} {
		for _, op := range []ws.OpCode{ws.OpText, ws.OpBinary} {
			t.Run(fmt.Sprintf("%v/%d", op, size), func(t *testing.T) {
				payload := bytes.Repeat([]byte{'p'}, size)
				raw := AppendFrame([]byte("prefix"), op, payload)
				if !bytes.HasPrefix(raw, []byte("prefix")) {
					t.Fatalf("AppendFrame(%v, %d bytes) lost the prefix of dst", op, size)
				}
				f := readServerFrame(t, raw[6:])
				if f.Header.OpCode != op || !bytes.Equal(f.Payload, payload) {
					t.Errorf("AppendFrame(%v, %d bytes) = %v with %d bytes; want %v", op, size, f.Header.OpCode, len(f.Payload), op)
				}
				if n := HeaderLen(size) + size; len(raw)-6 != n {
					t.Errorf("AppendFrame(%v, %d bytes) wrote %d bytes; want HeaderLen+size = %d", op, size, len(raw)-6, n)
				}
				if nf := NewFrame(op, payload); !bytes.Equal(nf, raw[6:]) || cap(nf) != len(nf) {
					t.Errorf("NewFrame(%v, %d bytes) differs from AppendFrame or is not exactly sized (cap %d)", op, size, cap(nf))
				}
			})
		}
	}
}

// TestPlaceHeader frames payloads encoded after the reserved room, for
// each header size, and checks the frames with gobwas/ws.
func TestPlaceHeader(t *testing.T) {
	for _, size := range []int{0, 1, 125, 126, 65535, 65536, 70000} {
		payload := bytes.Repeat([]byte{'p'}, size)
		b := make([]byte, MaxHeaderLen, MaxHeaderLen+size)
		b = append(b, payload...)
		raw := PlaceHeader(b, ws.OpText)
		f := readServerFrame(t, raw)
		if f.Header.OpCode != ws.OpText || !bytes.Equal(f.Payload, payload) {
			t.Errorf("PlaceHeader(%d bytes) = %v with %d bytes; want the text payload", size, f.Header.OpCode, len(f.Payload))
		}
		if !bytes.Equal(raw, NewFrame(ws.OpText, payload)) {
			t.Errorf("PlaceHeader(%d bytes) differs from NewFrame", size)
		}
		if &raw[len(raw)-1] != &b[len(b)-1] {
			t.Errorf("PlaceHeader(%d bytes) copied the payload; want a suffix of b", size)
		}
	}
}

func TestAppendClose(t *testing.T) {
	long := strings.Repeat("a", 122) + "é" // the é straddles byte 123
	tests := []struct {
		name       string
		code       ws.StatusCode
		reason     string
		wantReason string
		empty      bool
	}{
		{"normal", 1000, "bye", "bye", false},
		{"no reason", 1001, "", "", false},
		{"fits exactly", 1000, strings.Repeat("r", 123), strings.Repeat("r", 123), false},
		{"truncated", 1000, strings.Repeat("r", 200), strings.Repeat("r", 123), false},
		{"truncated on a boundary", 1008, long, strings.Repeat("a", 122), false},
		{"no status", ws.StatusNoStatusRcvd, "ignored", "", true},
		{"zero", 0, "ignored", "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := readServerFrame(t, AppendClose(nil, tt.code, tt.reason))
			if f.Header.OpCode != ws.OpClose || len(f.Payload) > 125 {
				t.Fatalf("AppendClose(%d, %q) = %v of %d bytes; want a close frame <= 125", tt.code, tt.reason, f.Header.OpCode, len(f.Payload))
			}
			if tt.empty {
				if len(f.Payload) != 0 {
					t.Errorf("AppendClose(%d, %q) payload = %q; want empty", tt.code, tt.reason, f.Payload)
				}
				return
			}
			code, reason := ParseClose(f.Payload)
			if code != tt.code || string(reason) != tt.wantReason || !utf8.Valid(reason) {
				t.Errorf("AppendClose(%d, %q) = %d, %q; want %d, %q", tt.code, tt.reason, code, reason, tt.code, tt.wantReason)
			}
		})
	}
}

func TestCloseFrame(t *testing.T) {
	for _, code := range []ws.StatusCode{1000, 1001, 1002, 1007, 1008, 1009, 1011, 4000} {
		t.Run(fmt.Sprint(code), func(t *testing.T) {
			frame := CloseFrame(code)
			f := readServerFrame(t, frame)
			got, reason := ParseClose(f.Payload)
			if f.Header.OpCode != ws.OpClose || got != code || checkClose(f.Payload) != nil {
				t.Errorf("CloseFrame(%d) = %v %d %q; want a valid close frame with code %d", code, f.Header.OpCode, got, reason, code)
			}
			if code < 4000 && (len(reason) == 0 || &CloseFrame(code)[0] != &frame[0]) {
				t.Errorf("CloseFrame(%d) = %q, precompiled %v; want a reason and the same precompiled frame", code, reason, &CloseFrame(code)[0] == &frame[0])
			}
		})
	}
	if got := testing.AllocsPerRun(10, func() { CloseFrame(1000) }); got != 0 {
		t.Errorf("AllocsPerRun(CloseFrame(1000)) = %v; want 0", got)
	}
}

func TestPingFrame(t *testing.T) {
	f := readServerFrame(t, PingFrame)
	if f.Header.OpCode != ws.OpPing || len(f.Payload) != 0 {
		t.Errorf("PingFrame = %v %q; want an empty ping", f.Header.OpCode, f.Payload)
	}
}

func TestWriteAllocs(t *testing.T) {
	payload := bytes.Repeat([]byte("x"), 1000)
	dst := make([]byte, 0, 2048)
	tests := []struct {
		name string
		fn   func()
		want float64
	}{
		{"AppendFrame", func() { AppendFrame(dst[:0], ws.OpText, payload) }, 0},
		{"AppendClose", func() { AppendClose(dst[:0], 1000, "bye") }, 0},
		{"NewFrame", func() { NewFrame(ws.OpText, payload) }, 1},
	}
	for _, tt := range tests {
		if got := testing.AllocsPerRun(100, tt.fn); got != tt.want {
			t.Errorf("AllocsPerRun(%s) = %v; want %v", tt.name, got, tt.want)
		}
	}
}
