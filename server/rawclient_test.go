package server_test

// The raw client of the end-to-end tests: a plain TCP connection for
// hand-built handshakes and frames (malformed, split, unmasked), read back
// with gobwas/ws's header reader, never with the server's codec.

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gobwas/ws"
)

// rawClient is a plain TCP connection for hand-built bytes.
type rawClient struct {
	t  testing.TB
	nc net.Conn
	br *bufio.Reader
}

func rawDial(t testing.TB, addr string) *rawClient {
	t.Helper()
	nc, err := net.DialTimeout("tcp", addr, readTimeout)
	if err != nil {
		t.Fatalf("dial %s: %v", addr, err)
	}
	t.Cleanup(func() { _ = nc.Close() })
	return &rawClient{t: t, nc: nc, br: bufio.NewReader(nc)}
}

// rawUpgrade dials and completes a WebSocket handshake on path.
func rawUpgrade(t testing.TB, addr, path string) *rawClient {
	t.Helper()
	r := rawDial(t, addr)
	r.write([]byte(upgradeRequest(path)))
	r.expectSwitch(sampleAccept)
	return r
}

// sampleKey is RFC 6455's sample nonce; sampleAccept its accept value.
const (
	sampleKey    = "dGhlIHNhbXBsZSBub25jZQ=="
	sampleAccept = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
)

func upgradeRequest(path string) string {
	return "GET " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
		"Sec-WebSocket-Key: " + sampleKey + "\r\nSec-WebSocket-Version: 13\r\n\r\n"
}

// write sends all parts in one write.
func (r *rawClient) write(parts ...[]byte) {
	r.t.Helper()
	_ = r.nc.SetWriteDeadline(time.Now().Add(readTimeout))
	if _, err := r.nc.Write(bytes.Join(parts, nil)); err != nil {
		r.t.Fatalf("write: %v", err)
	}
}

// response reads an HTTP response head.
func (r *rawClient) response() *http.Response {
	r.t.Helper()
	_ = r.nc.SetReadDeadline(time.Now().Add(readTimeout))
	resp, err := http.ReadResponse(r.br, nil)
	if err != nil {
		r.t.Fatalf("reading the HTTP response: %v", err)
	}
	return resp
}

func (r *rawClient) expectSwitch(accept string) {
	r.t.Helper()
	resp := r.response()
	if resp.StatusCode != http.StatusSwitchingProtocols {
		r.t.Fatalf("handshake status = %d; want 101", resp.StatusCode)
	}
	if got := resp.Header.Get("Sec-WebSocket-Accept"); got != accept {
		r.t.Fatalf("Sec-WebSocket-Accept = %q; want %q", got, accept)
	}
	if !strings.EqualFold(resp.Header.Get("Upgrade"), "websocket") {
		r.t.Fatalf("Upgrade = %q; want websocket", resp.Header.Get("Upgrade"))
	}
}

// frame reads one server frame within timeout.
func (r *rawClient) frame(timeout time.Duration) (ws.Header, []byte, error) {
	_ = r.nc.SetReadDeadline(time.Now().Add(timeout))
	h, err := ws.ReadHeader(r.br)
	if err != nil {
		return h, nil, err
	}
	p := make([]byte, h.Length)
	if _, err := io.ReadFull(r.br, p); err != nil {
		return h, nil, err
	}
	if h.Masked || h.Rsv != 0 {
		return h, p, fmt.Errorf("server frame with mask %v rsv %d", h.Masked, h.Rsv)
	}
	return h, p, nil
}

// next reads the next text message, answering pings.
func (r *rawClient) next() []byte {
	r.t.Helper()
	for {
		h, p, err := r.frame(readTimeout)
		if err != nil {
			r.t.Fatalf("reading a frame: %v", err)
		}
		switch {
		case h.OpCode == ws.OpPing:
			r.write(frame(ws.OpPong, true, p))
		case h.OpCode == ws.OpText && h.Fin:
			return p
		default:
			r.t.Fatalf("got frame op %v fin %v payload %q; want a text message", h.OpCode, h.Fin, p)
		}
	}
}

func (r *rawClient) expect(want string) {
	r.t.Helper()
	got := r.next()
	if err := sameJSON(got, want); err != nil {
		r.t.Fatalf("got %s; want %s: %v", got, want, err)
	}
}

func (r *rawClient) expectError(code string) {
	r.t.Helper()
	got := r.next()
	if err := isError(got, code); err != nil {
		r.t.Fatalf("got %s; want an error %q: %v", got, code, err)
	}
}

// login logs the raw client in and checks user_list and login.
func (r *rawClient) login(name string, members ...user) user {
	r.t.Helper()
	r.write(frame(ws.OpText, true, []byte(loginMsg(name, ""))))
	return r.expectLogin(htmlEscape(name), members...)
}

// expectLogin checks the user_list (members, then itself) and the login
// that answer a login as name, and returns the new member.
func (r *rawClient) expectLogin(name string, members ...user) user {
	r.t.Helper()
	raw := r.next()
	var ul struct {
		UserList []struct{ UID int64 } `json:"user_list"`
	}
	if err := json.Unmarshal(raw, &ul); err != nil || len(ul.UserList) == 0 {
		r.t.Fatalf("got %s; want a user_list (%v)", raw, err)
	}
	me := user{uid: ul.UserList[len(ul.UserList)-1].UID, name: name}
	if err := sameJSON(raw, jUserList(append(append([]user(nil), members...), me)...)); err != nil {
		r.t.Fatalf("got %s: %v", raw, err)
	}
	r.expect(jLogin(me))
	return me
}

// expectClose reads the next frame, which must be a close with code (or,
// with code 0, an empty close), and then the end of the connection.
func (r *rawClient) expectClose(codes ...ws.StatusCode) {
	r.t.Helper()
	h, p, err := r.frame(readTimeout)
	if err != nil {
		r.t.Fatalf("reading the close frame: %v", err)
	}
	if h.OpCode != ws.OpClose {
		r.t.Fatalf("got frame op %v payload %q; want a close %v", h.OpCode, p, codes)
	}
	got := ws.StatusCode(0)
	if len(p) >= 2 {
		got, _ = ws.ParseCloseFrameData(p)
	}
	ok := false
	for _, c := range codes {
		ok = ok || c == got
	}
	if !ok {
		r.t.Fatalf("close code = %d (payload %q); want one of %v", got, p, codes)
	}
	r.expectEOF()
}

// expectEOF checks that the server closes the connection (FIN or reset)
// without sending anything more.
func (r *rawClient) expectEOF() {
	r.t.Helper()
	_ = r.nc.SetReadDeadline(time.Now().Add(readTimeout))
	b, err := r.br.ReadByte()
	if err == nil {
		rest, _ := r.br.Peek(r.br.Buffered())
		r.t.Fatalf("got %q after the close; want the end of the connection", append([]byte{b}, rest...))
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		r.t.Fatalf("connection still open %v after the close", readTimeout)
	}
}

// frame is a masked client frame.
func frame(op ws.OpCode, fin bool, payload []byte) []byte {
	return encodeFrame(ws.MaskFrame(ws.NewFrame(op, fin, payload)))
}

func encodeFrame(f ws.Frame) []byte {
	var b bytes.Buffer
	_ = ws.WriteFrame(&b, f)
	return b.Bytes()
}

// header is a masked client frame header alone.
func header(op ws.OpCode, fin bool, length int64) []byte {
	var b bytes.Buffer
	_ = ws.WriteHeader(&b, ws.Header{Fin: fin, OpCode: op, Masked: true, Mask: ws.NewMask(), Length: length})
	return b.Bytes()
}

func closeBody(code ws.StatusCode, reason string) []byte { return ws.NewCloseFrameBody(code, reason) }
