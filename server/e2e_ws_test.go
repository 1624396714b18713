package server_test

import (
	"bytes"
	"fmt"
	"strings"
	"testing"

	"github.com/gobwas/ws"
	"github.com/gorilla/websocket"

	"chatd/server"
)

// TestE2EPingPong checks that a ping gets a pong with the same payload.
func TestE2EPingPong(t *testing.T) {
	t.Parallel()
	all := make([]byte, 125)
	for i := range all {
		all[i] = byte(i * 7)
	}
	tests := []struct {
		name    string
		payload []byte
	}{
		{"empty", nil},
		{"text", []byte("hello")},
		{"125 bytes", all},
	}
	ts := startServer(t)
	for _, path := range []string{"/", "/echo"} {
		for _, tt := range tests {
			t.Run(path+tt.name, func(t *testing.T) {
				t.Parallel()
				r := rawUpgrade(t, ts.addr, path)
				r.write(frame(ws.OpPing, true, tt.payload))
				h, p, err := r.frame(readTimeout)
				if err != nil {
					t.Fatal(err)
				}
				if h.OpCode != ws.OpPong || !h.Fin || !bytes.Equal(p, tt.payload) {
					t.Fatalf("ping(%q) = op %v fin %v payload %q; want a pong with the same payload", tt.payload, h.OpCode, h.Fin, p)
				}
			})
		}
	}
}

// TestE2ECloseHandshake checks that a client close gets a close with the
// same code and then the end of the connection.
func TestE2ECloseHandshake(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		body []byte
		want []ws.StatusCode
	}{
		{"1000 with reason", closeBody(1000, "bye"), []ws.StatusCode{1000}},
		{"1001", closeBody(1001, ""), []ws.StatusCode{1001}},
		{"1003", closeBody(1003, ""), []ws.StatusCode{1003}},
		{"1007", closeBody(1007, ""), []ws.StatusCode{1007}},
		{"1011", closeBody(1011, "oops"), []ws.StatusCode{1011}},
		{"3000", closeBody(3000, ""), []ws.StatusCode{3000}},
		{"4000", closeBody(4000, "app"), []ws.StatusCode{4000}},
		{"4999", closeBody(4999, ""), []ws.StatusCode{4999}},
		{"empty", nil, []ws.StatusCode{0, 1000}},
	}
	ts := startServer(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := rawUpgrade(t, ts.addr, "/")
			r.write(frame(ws.OpClose, true, tt.body))
			r.expectClose(tt.want...)
		})
	}
	t.Run("gorilla", func(t *testing.T) {
		c := dial(t, ts.addr, "C")
		c.login("c", "")
		if err := c.conn.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(4321, "done"), deadline()); err != nil {
			t.Fatal(err)
		}
		if got := c.closeCode(nil); got != 4321 {
			t.Fatalf("close(4321) answered with %d; want 4321", got)
		}
	})
}

// TestE2EProtocolErrors checks that RFC 6455 violations close the
// connection with the right code (and that the server closes TCP after).
func TestE2EProtocolErrors(t *testing.T) {
	t.Parallel()
	text := func(fin bool, s string) []byte { return frame(ws.OpText, fin, []byte(s)) }
	cont := func(fin bool, s string) []byte { return frame(ws.OpContinuation, fin, []byte(s)) }
	withRsv := func(op ws.OpCode, rsv byte) []byte {
		f := ws.MaskFrame(ws.NewFrame(op, true, []byte(`{"type":"pong"}`)))
		f.Header.Rsv = rsv
		return encodeFrame(f)
	}
	closeCode := func(code uint16) []byte { return frame(ws.OpClose, true, []byte{byte(code >> 8), byte(code)}) }
	spaces := strings.Repeat(" ", 40000)
	tests := []struct {
		name  string
		bytes [][]byte
		want  []ws.StatusCode
	}{
		{"unmasked text", [][]byte{encodeFrame(ws.NewFrame(ws.OpText, true, []byte(`{"type":"pong"}`)))}, []ws.StatusCode{1002}},
		{"unmasked ping", [][]byte{encodeFrame(ws.NewFrame(ws.OpPing, true, []byte("x")))}, []ws.StatusCode{1002}},
		{"rsv1", [][]byte{withRsv(ws.OpText, ws.Rsv(true, false, false))}, []ws.StatusCode{1002}},
		{"rsv2", [][]byte{withRsv(ws.OpText, ws.Rsv(false, true, false))}, []ws.StatusCode{1002}},
		{"rsv3 on ping", [][]byte{withRsv(ws.OpPing, ws.Rsv(false, false, true))}, []ws.StatusCode{1002}},
		{"opcode 3", [][]byte{frame(3, true, nil)}, []ws.StatusCode{1002}},
		{"opcode 7", [][]byte{frame(7, true, []byte("x"))}, []ws.StatusCode{1002}},
		{"opcode 0xB", [][]byte{frame(0xB, true, nil)}, []ws.StatusCode{1002}},
		{"opcode 0xF", [][]byte{frame(0xF, true, []byte("x"))}, []ws.StatusCode{1002}},
		{"fragmented ping", [][]byte{frame(ws.OpPing, false, []byte("x"))}, []ws.StatusCode{1002}},
		{"fragmented close", [][]byte{frame(ws.OpClose, false, closeBody(1000, ""))}, []ws.StatusCode{1002}},
		{"ping 126 bytes", [][]byte{frame(ws.OpPing, true, make([]byte, 126))}, []ws.StatusCode{1002}},
		{"close 126 bytes", [][]byte{frame(ws.OpClose, true, append(closeBody(1000, ""), make([]byte, 124)...))}, []ws.StatusCode{1002}},
		{"continuation without start", [][]byte{cont(true, "x")}, []ws.StatusCode{1002}},
		{"unfinished continuation without start", [][]byte{cont(false, "x")}, []ws.StatusCode{1002}},
		{"text inside a fragmented text", [][]byte{text(false, "{"), text(true, "}")}, []ws.StatusCode{1002}},
		{"binary inside a fragmented text", [][]byte{text(false, "{"), frame(ws.OpBinary, true, []byte("}"))}, []ws.StatusCode{1002}},
		{"close 1 byte", [][]byte{frame(ws.OpClose, true, []byte{3})}, []ws.StatusCode{1002}},
		{"close code 0", [][]byte{closeCode(0)}, []ws.StatusCode{1002}},
		{"close code 999", [][]byte{closeCode(999)}, []ws.StatusCode{1002}},
		{"close code 1004", [][]byte{closeCode(1004)}, []ws.StatusCode{1002}},
		{"close code 1005", [][]byte{closeCode(1005)}, []ws.StatusCode{1002}},
		{"close code 1006", [][]byte{closeCode(1006)}, []ws.StatusCode{1002}},
		{"close code 1015", [][]byte{closeCode(1015)}, []ws.StatusCode{1002}},
		{"close code 1016", [][]byte{closeCode(1016)}, []ws.StatusCode{1002}},
		{"close code 2999", [][]byte{closeCode(2999)}, []ws.StatusCode{1002}},
		{"close code 5000", [][]byte{closeCode(5000)}, []ws.StatusCode{1002}},
		{"close code 65535", [][]byte{closeCode(65535)}, []ws.StatusCode{1002}},
		// RFC 6455 allows either for an invalid close reason.
		{"close reason not UTF-8", [][]byte{frame(ws.OpClose, true, append(closeBody(1000, ""), 0xff))}, []ws.StatusCode{1002, 1007}},

		{"text not UTF-8", [][]byte{text(true, "\xff")}, []ws.StatusCode{1007}},
		{"overlong encoding", [][]byte{text(true, "{\"type\":\"say\",\"to_uid\":\"all\",\"content\":\"\xc0\xaf\"}")}, []ws.StatusCode{1007}},
		{"surrogate", [][]byte{text(true, "\xed\xa0\x80")}, []ws.StatusCode{1007}},
		{"beyond U+10FFFF", [][]byte{text(true, "\xf4\x90\x80\x80")}, []ws.StatusCode{1007}},
		{"message ends mid-rune", [][]byte{text(true, "abc\xe7\x8c")}, []ws.StatusCode{1007}},
		{"bad continuation across fragments", [][]byte{text(false, "abc\xe7"), cont(true, "(")}, []ws.StatusCode{1007}},
		{"mid-rune at the last fragment", [][]byte{text(false, "a\xe7"), cont(true, "\x8c")}, []ws.StatusCode{1007}},
		{"invalid first fragment", [][]byte{text(false, "\xff"), cont(true, "x")}, []ws.StatusCode{1007}},
		{"invalid last fragment", [][]byte{text(false, "{"), cont(false, "ok"), cont(true, "\xfe")}, []ws.StatusCode{1007}},

		{"frame header over 64KiB", [][]byte{header(ws.OpText, true, 64<<10+1)}, []ws.StatusCode{1009}},
		{"binary header over 64KiB", [][]byte{header(ws.OpBinary, true, 64<<10+1)}, []ws.StatusCode{1009}},
		{"64-bit length", [][]byte{header(ws.OpText, true, 1<<40)}, []ws.StatusCode{1009}},
		{"unfinished frame header over 64KiB", [][]byte{header(ws.OpText, false, 1<<20)}, []ws.StatusCode{1009}},
		{"fragments over 64KiB", [][]byte{text(false, spaces), header(ws.OpContinuation, true, 40000)}, []ws.StatusCode{1009}},
	}
	ts := startServer(t)
	t.Run("group", func(t *testing.T) {
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				t.Parallel()
				r := rawUpgrade(t, ts.addr, "/")
				r.write(tt.bytes...)
				r.expectClose(tt.want...)
			})
		}
	})
	if got := ts.srv.Stats().ProtocolErrors.Load(); got != int64(len(tests)) {
		t.Errorf("Stats().ProtocolErrors = %d; want %d", got, len(tests))
	}
}

// TestE2EMaxMessage checks that a message of exactly MaxMessage bytes,
// whole or fragmented, is accepted.
func TestE2EMaxMessage(t *testing.T) {
	t.Parallel()
	msg := `{"type":"pong"}`
	msg += strings.Repeat(" ", 64<<10-len(msg))
	tests := []struct {
		name   string
		frames [][]byte
	}{
		{"one frame", [][]byte{frame(ws.OpText, true, []byte(msg))}},
		{"fragmented", [][]byte{frame(ws.OpText, false, []byte(msg[:30000])), frame(ws.OpContinuation, true, []byte(msg[30000:]))}},
	}
	ts := startServer(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := rawUpgrade(t, ts.addr, "/")
			r.write(tt.frames...)
			r.write(frame(ws.OpText, true, []byte(loginMsg("big", `"`+tt.name+`"`))))
			r.expectLogin("big")
		})
	}
}

// TestE2EFragmented checks that fragmented messages are reassembled, with
// control frames between fragments and runes split across fragments.
func TestE2EFragmented(t *testing.T) {
	t.Parallel()
	ts := startServer(t, noRateLimit) // one-byte fragments are many frames
	t.Run("ping between fragments", func(t *testing.T) {
		r := rawUpgrade(t, ts.addr, "/")
		msg := loginMsg("frag", `"f1"`)
		r.write(frame(ws.OpText, false, []byte(msg[:5])), frame(ws.OpPing, true, []byte("p1")))
		h, p, err := r.frame(readTimeout)
		if err != nil || h.OpCode != ws.OpPong || string(p) != "p1" {
			t.Fatalf("ping between fragments = op %v payload %q err %v; want pong \"p1\"", h.OpCode, p, err)
		}
		r.write(frame(ws.OpContinuation, false, []byte(msg[5:12])), frame(ws.OpPong, true, []byte("unsolicited")),
			frame(ws.OpContinuation, false, nil), frame(ws.OpContinuation, true, []byte(msg[12:])))
		r.expectLogin("frag")
	})
	t.Run("rune split across fragments", func(t *testing.T) {
		r := rawUpgrade(t, ts.addr, "/")
		msg := []byte(loginMsg("猪猪", `"f2"`))
		i := bytes.Index(msg, []byte("猪")) + 1
		j := i + 3
		r.write(frame(ws.OpText, false, msg[:i]), frame(ws.OpContinuation, false, msg[i:j]), frame(ws.OpContinuation, true, msg[j:]))
		r.expectLogin("猪猪")
	})
	t.Run("one byte per fragment", func(t *testing.T) {
		r := rawUpgrade(t, ts.addr, "/")
		msg := []byte(loginMsg("tiny", `"f3"`))
		var frames [][]byte
		for i := range msg {
			op := ws.OpContinuation
			if i == 0 {
				op = ws.OpText
			}
			frames = append(frames, frame(op, i == len(msg)-1, msg[i:i+1]))
		}
		r.write(frames...)
		r.expectLogin("tiny")
	})
}

// TestE2EEcho checks the /echo endpoint.
func TestE2EEcho(t *testing.T) {
	t.Parallel()
	bin := make([]byte, 1<<20)
	for i := range bin {
		bin[i] = byte(i * 31)
	}
	tests := []struct {
		name string
		op   int
		data []byte
	}{
		{"text", websocket.TextMessage, []byte("hello")},
		{"empty text", websocket.TextMessage, nil},
		{"unicode", websocket.TextMessage, []byte("猪猪 😀")},
		{"not JSON", websocket.TextMessage, []byte(`{"type":`)},
		{"binary", websocket.BinaryMessage, bin[:256]},
		{"binary not UTF-8", websocket.BinaryMessage, []byte{0xff, 0xfe, 0}},
		{"text over the chat limit", websocket.TextMessage, bytes.Repeat([]byte("a"), 100000)},
		{"binary 1MiB", websocket.BinaryMessage, bin},
	}
	ts := startServer(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c, err := dialPath(t, ts.addr, "/echo", "echo")
			if err != nil {
				t.Fatal(err)
			}
			if err := c.conn.WriteMessage(tt.op, tt.data); err != nil {
				t.Fatal(err)
			}
			m, err := c.recv(readTimeout)
			if err != nil {
				t.Fatal(err)
			}
			if m.op != tt.op || !bytes.Equal(m.data, tt.data) {
				t.Fatalf("echo(op %d, %d bytes) = op %d, %d bytes; want the same", tt.op, len(tt.data), m.op, len(m.data))
			}
		})
	}
	for _, size := range []int{64 << 10, 1 << 20} {
		t.Run(fmt.Sprintf("one frame of %d bytes", size), func(t *testing.T) {
			t.Parallel()
			r := rawUpgrade(t, ts.addr, "/echo")
			r.write(frame(ws.OpBinary, true, bin[:size]))
			expectEcho(t, r, ws.OpBinary, bin[:size])
		})
	}
	t.Run("fragmented", func(t *testing.T) {
		t.Parallel()
		r := rawUpgrade(t, ts.addr, "/echo")
		r.write(frame(ws.OpText, false, []byte("Hel")), frame(ws.OpPing, true, []byte("p")), frame(ws.OpContinuation, true, []byte("lo")))
		h, p, err := r.frame(readTimeout)
		if err != nil || h.OpCode != ws.OpPong || string(p) != "p" {
			t.Fatalf("got op %v payload %q err %v; want pong \"p\"", h.OpCode, p, err)
		}
		if got := r.next(); string(got) != "Hello" {
			t.Fatalf("echo of fragments = %q; want \"Hello\"", got)
		}
	})
	t.Run("invalid UTF-8", func(t *testing.T) {
		t.Parallel()
		r := rawUpgrade(t, ts.addr, "/echo")
		r.write(frame(ws.OpText, true, []byte("a\xffb")))
		r.expectClose(1007)
	})
}

// TestE2EEchoLimits checks EchoMaxMessage and /echo with echo disabled.
func TestE2EEchoLimits(t *testing.T) {
	t.Parallel()
	t.Run("limit", func(t *testing.T) {
		t.Parallel()
		ts := startServer(t, func(c *server.Config) { c.EchoMaxMessage = 1 << 20 })
		data := bytes.Repeat([]byte("z"), 1<<20)
		r := rawUpgrade(t, ts.addr, "/echo")
		r.write(frame(ws.OpText, false, data[:1000]), frame(ws.OpContinuation, true, data[1000:]))
		expectEcho(t, r, ws.OpText, data)
		r = rawUpgrade(t, ts.addr, "/echo")
		r.write(header(ws.OpBinary, true, 1<<20+1))
		r.expectClose(1009)
	})
	t.Run("disabled", func(t *testing.T) {
		t.Parallel()
		ts := startServer(t, func(c *server.Config) { c.Echo = false })
		c, err := dialPath(t, ts.addr, "/echo", "chat")
		if err != nil {
			t.Fatal(err)
		}
		c.login("not echo", "")
	})
}

// expectEcho reads one (possibly fragmented) message from r and compares
// it with want.
func expectEcho(t *testing.T, r *rawClient, op ws.OpCode, want []byte) {
	t.Helper()
	var got []byte
	for {
		h, p, err := r.frame(readTimeout)
		if err != nil {
			t.Fatalf("reading the echo: %v", err)
		}
		if h.OpCode.IsControl() {
			t.Fatalf("got control frame %v %q; want the echo", h.OpCode, p)
		}
		if got == nil && h.OpCode != op || got != nil && h.OpCode != ws.OpContinuation {
			t.Fatalf("got frame op %v; want op %v and continuations", h.OpCode, op)
		}
		got = append(got, p...)
		if h.Fin {
			break
		}
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("echo of %d bytes = %d bytes (different); want the same", len(want), len(got))
	}
}

// TestE2ESplitFrames writes frames one byte per write: the server must
// resume a frame (header, mask or payload) split across any number of
// reads.
func TestE2ESplitFrames(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		content string
	}{
		{"7-bit length", "short"},
		{"16-bit length", strings.Repeat("m", 300)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ts := startServer(t)
			r := rawUpgrade(t, ts.addr, "/")
			me := r.login(tt.name)
			b := append(frame(ws.OpPing, true, []byte("split")), frame(ws.OpText, true, []byte(sayAll(tt.content)))...)
			for i := range b {
				r.write(b[i : i+1])
			}
			h, p, err := r.frame(readTimeout)
			if err != nil || h.OpCode != ws.OpPong || string(p) != "split" {
				t.Fatalf("ping written byte by byte = op %v payload %q err %v; want pong \"split\"", h.OpCode, p, err)
			}
			r.expect(jSay(me.uid, tt.content))
		})
	}
}
