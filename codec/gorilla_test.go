package codec

import (
	"bytes"
	"errors"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/gobwas/ws"
	"github.com/gorilla/websocket"
)

// serveEcho runs a minimal blocking echo server on conn using only this
// package: ParseRequest, AppendAccept, Parser.Next, AppendFrame. It
// mirrors what OnTraffic does, with a plain read loop instead of gnet.
func serveEcho(conn net.Conn, maxMessage int) error {
	defer conn.Close()
	var (
		pending  []byte
		p        Parser
		upgraded bool
		buf      = make([]byte, 4096)
	)
	for {
		n, err := conn.Read(buf)
		if err != nil {
			return err
		}
		pending = append(pending, buf[:n]...)
		for {
			var used int
			var out []byte
			var done bool
			if !upgraded {
				req, k, err := ParseRequest(pending, 0)
				if err != nil {
					conn.Write(AppendHTTPError(nil, err.(*HTTPError)))
					return err
				}
				used, upgraded, out = k, k > 0, AppendAccept(nil, req.Key)
			} else {
				m, k, err := p.Next(pending, maxMessage)
				var ce *CloseError
				if errors.As(err, &ce) {
					conn.Write(AppendClose(nil, ce.Code, ce.Reason))
					return err
				}
				used, out, done = k, echoReply(m), m.Op == ws.OpClose
			}
			if used == 0 {
				break
			}
			if _, err := conn.Write(out); err != nil || done {
				return err
			}
			pending = append([]byte(nil), pending[used:]...)
		}
	}
}

// echoReply answers a message: echo data, pong a ping, close a close.
func echoReply(m Message) []byte {
	switch m.Op {
	case ws.OpText, ws.OpBinary:
		return NewFrame(m.Op, m.Payload)
	case ws.OpPing:
		return AppendFrame(nil, ws.OpPong, m.Payload)
	case ws.OpClose:
		code, reason := ParseClose(m.Payload)
		return AppendClose(nil, code, string(reason))
	}
	return nil
}

// dialGorilla starts serveEcho on a loopback listener (port 0) and connects
// gorilla/websocket, an independent implementation, to it.
func dialGorilla(t *testing.T, maxMessage int, writeBuf int) (*websocket.Conn, chan error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	served := make(chan error, 1)
	go func() {
		conn, err := ln.Accept()
		if err != nil {
			served <- err
			return
		}
		served <- serveEcho(conn, maxMessage)
	}()
	d := websocket.Dialer{ReadBufferSize: 1024, WriteBufferSize: writeBuf, HandshakeTimeout: 10 * time.Second}
	c, _, err := d.Dial("ws://"+ln.Addr().String()+"/echo", nil)
	if err != nil {
		t.Fatalf("gorilla handshake with ParseRequest/AppendAccept: %v", err)
	}
	c.NetConn().SetDeadline(time.Now().Add(10 * time.Second))
	t.Cleanup(func() { c.Close() })
	return c, served
}

// TestGorillaEcho talks to the codec through gorilla/websocket. gorilla
// fragments messages larger than its write buffer, so the big ones test
// reassembly against a real client.
func TestGorillaEcho(t *testing.T) {
	c, served := dialGorilla(t, 1<<20, 512)
	pongs := make(chan string, 1)
	c.SetPongHandler(func(s string) error { pongs <- s; return nil })
	if err := c.WriteControl(websocket.PingMessage, []byte("are you there"), time.Now().Add(time.Second)); err != nil {
		t.Fatal(err)
	}
	msgs := []struct {
		typ  int
		data string
	}{
		{websocket.TextMessage, `{"type":"say","to_uid":"all","content":"hi"}`},
		{websocket.BinaryMessage, "\x00\xff"},
		{websocket.TextMessage, strings.Repeat("猪", 3000)}, // fragmented by gorilla
		{websocket.BinaryMessage, strings.Repeat("b", 70000)},
		{websocket.TextMessage, ""},
	}
	for _, m := range msgs {
		if err := c.WriteMessage(m.typ, []byte(m.data)); err != nil {
			t.Fatal(err)
		}
		typ, data, err := c.ReadMessage()
		if err != nil || typ != m.typ || string(data) != m.data {
			t.Fatalf("echo of %d bytes (type %d) = %d bytes (type %d), %v", len(m.data), m.typ, len(data), typ, err)
		}
	}
	select {
	case s := <-pongs:
		if s != "are you there" {
			t.Errorf("pong = %q; want the ping's payload", s)
		}
	default:
		t.Errorf("no pong received")
	}
	c.WriteMessage(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, "bye"))
	_, _, err := c.ReadMessage()
	if !websocket.IsCloseError(err, websocket.CloseNormalClosure) {
		t.Errorf("after close: %v; want close 1000", err)
	}
	if err := <-served; err != nil {
		t.Errorf("server: %v", err)
	}
}

// TestGorillaTooBig checks that a message over the limit is answered with a
// close frame 1009 that gorilla understands.
func TestGorillaTooBig(t *testing.T) {
	c, served := dialGorilla(t, 1000, 4096)
	c.WriteMessage(websocket.BinaryMessage, bytes.Repeat([]byte("x"), 1001))
	_, _, err := c.ReadMessage()
	if !websocket.IsCloseError(err, websocket.CloseMessageTooBig) {
		t.Errorf("ReadMessage after a 1001-byte message = %v; want close 1009", err)
	}
	if err := <-served; !errors.Is(err, ErrTooLarge) {
		t.Errorf("server: %v; want ErrTooLarge", err)
	}
}
