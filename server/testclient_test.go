package server_test

// Helpers of the end-to-end tests: a server on port 0, a WebSocket client
// built on gorilla/websocket (an implementation independent of the
// server's codec), and exact comparison of server messages including
// their key order. The raw TCP client is in rawclient_test.go.

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/gorilla/websocket"

	"chatd/server"
)

// readTimeout bounds every single read of a test; generous for -race on
// two cores, never reached when the server behaves.
const readTimeout = 5 * time.Second

// testServer is a running server and the means to stop it.
type testServer struct {
	srv    *server.Server
	addr   string
	cancel context.CancelFunc
	errc   chan error

	once   sync.Once
	runErr error
}

// startServer runs a server on 127.0.0.1:0 with the test defaults (web page
// and admin off, echo on, four loops so fan-out crosses loops) changed by
// opts; it is stopped when the test ends.
func startServer(t testing.TB, opts ...func(*server.Config)) *testServer {
	t.Helper()
	cfg := server.Config{
		Listen:      "127.0.0.1:0",
		WebListen:   "off",
		AdminListen: "off",
		Loops:       4,
		Echo:        true,
		Logger:      testLogger(),
	}
	for _, o := range opts {
		o(&cfg)
	}
	srv, err := server.New(cfg)
	if err != nil {
		t.Fatalf("server.New: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	ts := &testServer{srv: srv, cancel: cancel, errc: make(chan error, 1)}
	go func() { ts.errc <- srv.Run(ctx) }()
	select {
	case <-srv.Ready():
	case err := <-ts.errc:
		cancel()
		t.Fatalf("server.Run returned before Ready: %v", err)
	case <-time.After(readTimeout):
		cancel()
		t.Fatalf("server not Ready within %v", readTimeout)
	}
	ts.addr = srv.ChatAddr()
	t.Cleanup(func() {
		if err := ts.stop(); err != nil {
			t.Errorf("server stop: %v", err)
		}
	})
	return ts
}

// stop cancels Run and waits for it to return (bounded); idempotent.
func (ts *testServer) stop() error {
	ts.once.Do(func() {
		ts.cancel()
		select {
		case ts.runErr = <-ts.errc:
		case <-time.After(10 * time.Second):
			ts.runErr = errors.New("Run did not return within 10s of cancel")
		}
	})
	return ts.runErr
}

// noRateLimit lifts the per-connection message rate limit, for tests that
// send many messages on purpose.
func noRateLimit(c *server.Config) {
	c.MessageRate = 1e9
	c.MessageBurst = 1e9
}

func testLogger() *slog.Logger {
	if os.Getenv("CHATD_E2E_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

// deadline is a write deadline for control frames.
func deadline() time.Time { return time.Now().Add(readTimeout) }

// waitFor polls cond until it holds or d passes.
func waitFor(t testing.TB, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not reached within %v", what, d)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// ---------------------------------------------------------------------------
// gorilla client

// inMsg is one data message a client received.
type inMsg struct {
	op   int
	data []byte
}

// wsClient is a WebSocket client whose reader runs in the background (so
// pings are answered as a browser would) and queues data messages.
type wsClient struct {
	t     testing.TB
	name  string
	conn  *websocket.Conn
	in    chan inMsg
	done  chan struct{} // closed when the reader stops; err is then set
	quit  chan struct{}
	err   error
	pings atomic.Int64
	mute  atomic.Bool // don't answer pings
	wmu   sync.Mutex
}

// dial connects a client to path ("/" if empty) and fails the test on error.
func dial(t testing.TB, addr, name string) *wsClient {
	t.Helper()
	c, err := dialPath(t, addr, "/", name)
	if err != nil {
		t.Fatalf("dial %s: %v", name, err)
	}
	return c
}

// dialPath connects a client; safe to call from any goroutine.
func dialPath(t testing.TB, addr, path, name string) (*wsClient, error) {
	d := websocket.Dialer{HandshakeTimeout: readTimeout}
	conn, _, err := d.Dial("ws://"+addr+path, nil)
	if err != nil {
		return nil, err
	}
	c := &wsClient{
		t: t, name: name, conn: conn,
		in:   make(chan inMsg, 1<<14),
		done: make(chan struct{}),
		quit: make(chan struct{}),
	}
	conn.SetPingHandler(func(s string) error {
		c.pings.Add(1)
		if !c.mute.Load() {
			_ = conn.WriteControl(websocket.PongMessage, []byte(s), time.Now().Add(time.Second))
		}
		return nil
	})
	go c.read()
	t.Cleanup(c.close)
	return c, nil
}

func (c *wsClient) read() {
	defer close(c.done)
	for {
		op, data, err := c.conn.ReadMessage()
		if err != nil {
			c.err = err
			return
		}
		select {
		case c.in <- inMsg{op, data}:
		case <-c.quit:
			c.err = errors.New("client closed by test")
			return
		}
	}
}

func (c *wsClient) close() {
	select {
	case <-c.quit:
	default:
		close(c.quit)
	}
	_ = c.conn.Close()
	<-c.done
}

// sendRaw sends one text message; safe for concurrent use.
func (c *wsClient) sendRaw(s string) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	_ = c.conn.SetWriteDeadline(time.Now().Add(readTimeout))
	return c.conn.WriteMessage(websocket.TextMessage, []byte(s))
}

// send sends one text message and fails the test on error.
func (c *wsClient) send(s string) {
	c.t.Helper()
	if err := c.sendRaw(s); err != nil {
		c.t.Fatalf("%s: send %q: %v", c.name, s, err)
	}
}

// recv returns the next data message, or an error after timeout or once
// the connection is gone.
func (c *wsClient) recv(timeout time.Duration) (inMsg, error) {
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	select {
	case m := <-c.in:
		return m, nil
	case <-c.done:
		select {
		case m := <-c.in:
			return m, nil
		default:
		}
		return inMsg{}, fmt.Errorf("%s: connection ended: %v", c.name, c.err)
	case <-timer.C:
		return inMsg{}, fmt.Errorf("%s: no message within %v", c.name, timeout)
	}
}

// next returns the next data message or fails the test.
func (c *wsClient) next() []byte {
	c.t.Helper()
	m, err := c.recv(readTimeout)
	if err != nil {
		c.t.Fatal(err)
	}
	if m.op != websocket.TextMessage {
		c.t.Fatalf("%s: got a message of opcode %d (%q); want text", c.name, m.op, m.data)
	}
	return m.data
}

// expect reads the next message and compares it exactly with want (see
// sameJSON).
func (c *wsClient) expect(want string) []byte {
	c.t.Helper()
	got := c.next()
	if err := sameJSON(got, want); err != nil {
		c.t.Fatalf("%s: got %s; want %s: %v", c.name, got, want, err)
	}
	return got
}

// expectError reads the next message and checks that it is an error reply
// with code.
func (c *wsClient) expectError(code string) {
	c.t.Helper()
	got := c.next()
	if err := isError(got, code); err != nil {
		c.t.Fatalf("%s: got %s; want an error %q: %v", c.name, got, code, err)
	}
}

// expectNothingPending checks that no message is queued right now.
func (c *wsClient) expectNothingPending() {
	c.t.Helper()
	select {
	case m := <-c.in:
		c.t.Fatalf("%s: unexpected message %s", c.name, m.data)
	default:
	}
}

// closeCode waits for the connection to end and returns the close code the
// server sent (1006 if it sent none). Data messages before the close must
// satisfy allow (nil allows none).
func (c *wsClient) closeCode(allow func([]byte) bool) int {
	c.t.Helper()
	deadline := time.Now().Add(readTimeout)
	for {
		m, err := c.recv(time.Until(deadline))
		if err == nil {
			if allow == nil || !allow(m.data) {
				c.t.Fatalf("%s: got %s while waiting for the close", c.name, m.data)
			}
			continue
		}
		select {
		case <-c.done:
		default:
			c.t.Fatalf("%s: connection not closed within %v", c.name, readTimeout)
		}
		var ce *websocket.CloseError
		if errors.As(c.err, &ce) {
			return ce.Code
		}
		return websocket.CloseAbnormalClosure
	}
}

// user is a logged-in member as the server shows it.
type user struct {
	uid  int64
	name string // as sent by the server (HTML-escaped)
}

// login logs c in (room is a JSON value or "" for none) and checks the
// user_list (members, then c itself) and the login that follow exactly.
func (c *wsClient) login(name, room string, members ...user) user {
	c.t.Helper()
	c.send(loginMsg(name, room))
	return c.expectLogin(htmlEscape(name), members)
}

func (c *wsClient) expectLogin(name string, members []user) user {
	c.t.Helper()
	raw := c.next()
	var ul struct {
		UserList []struct {
			UID int64 `json:"uid"`
		} `json:"user_list"`
	}
	if err := json.Unmarshal(raw, &ul); err != nil || len(ul.UserList) == 0 {
		c.t.Fatalf("%s: got %s; want a user_list ending with itself (%v)", c.name, raw, err)
	}
	me := user{uid: ul.UserList[len(ul.UserList)-1].UID, name: name}
	want := jUserList(append(append([]user(nil), members...), me)...)
	if err := sameJSON(raw, want); err != nil {
		c.t.Fatalf("%s: got %s; want %s: %v", c.name, raw, want, err)
	}
	c.expect(jLogin(me))
	return me
}

// ---------------------------------------------------------------------------
// messages

func loginMsg(name, room string) string {
	if room == "" {
		return fmt.Sprintf(`{"type":"login","name":%s}`, jstr(name))
	}
	return fmt.Sprintf(`{"type":"login","name":%s,"room_id":%s}`, jstr(name), room)
}

func sayMsg(to, content string) string {
	return fmt.Sprintf(`{"type":"say","to_uid":%s,"content":%s}`, to, jstr(content))
}

func sayAll(content string) string { return sayMsg(`"all"`, content) }

// jUserList, jLogin, jSay and jLogout are the server messages of
// PROTOCOL.md, with "$T" standing for the time.
func jUserList(us ...user) string {
	parts := make([]string, len(us))
	for i, u := range us {
		parts[i] = fmt.Sprintf(`{"uid":%d,"name":%s}`, u.uid, jstr(u.name))
	}
	return `{"type":"user_list","user_list":[` + strings.Join(parts, ",") + `]}`
}

func jLogin(u user) string {
	return fmt.Sprintf(`{"type":"login","uid":%d,"name":%s,"time":"$T","id":"$ID"}`, u.uid, jstr(u.name))
}

// jSay is a say to all; jPrivate a private one.
func jSay(from int64, content string) string {
	return fmt.Sprintf(`{"type":"say","from_uid":%d,"to_uid":"all","content":%s,"time":"$T","id":"$ID"}`, from, jstr(content))
}

func jPrivate(from, to int64, content string) string {
	return fmt.Sprintf(`{"type":"say","from_uid":%d,"to_uid":%d,"content":%s,"time":"$T"}`, from, to, jstr(content))
}

func jLogout(uid int64) string {
	return fmt.Sprintf(`{"type":"logout","uid":%d,"time":"$T","id":"$ID"}`, uid)
}

// jstr is s as a JSON string, without Go's HTML escaping.
func jstr(s string) string {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(s)
	return strings.TrimSuffix(b.String(), "\n")
}

// htmlEscape is the naive reference of the server's escaping of names.
func htmlEscape(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", `"`, "&quot;").Replace(s)
}

// contentEscape is the naive reference of the escaping of content: HTML,
// then "<br />" before each line break (\r\n, \n\r, \n or \r, as PHP's
// nl2br that the original used).
func contentEscape(s string) string {
	s = htmlEscape(s)
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		ch := s[i]
		if ch != '\n' && ch != '\r' {
			b.WriteByte(ch)
			continue
		}
		b.WriteString("<br />")
		b.WriteByte(ch)
		if i+1 < len(s) && (s[i+1] == '\n' || s[i+1] == '\r') && s[i+1] != ch {
			i++
			b.WriteByte(s[i])
		}
	}
	return b.String()
}

var timeRE = regexp.MustCompile(`^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$`)

// idRE matches the id of a room event (PROTOCOL.md, "History").
var idRE = regexp.MustCompile(`^[0-9a-z]{1,16}-[1-9][0-9]*$`)

// sameJSON reports how got differs from want: both are compared as JSON
// with their key order and number literals kept (escaping style is
// free). A "$T" time in want matches a time in the server's format within
// a minute of now.
func sameJSON(got []byte, want string) error {
	if !utf8.Valid(got) {
		return errors.New("not valid UTF-8")
	}
	if !json.Valid(got) {
		return errors.New("not valid JSON")
	}
	if strings.Contains(want, `"$T"`) {
		var m map[string]any
		if err := json.Unmarshal(got, &m); err != nil {
			return err
		}
		tm, _ := m["time"].(string)
		if err := checkTime(tm); err != nil {
			return err
		}
		want = strings.Replace(want, `"$T"`, jstr(tm), 1)
	}
	if strings.Contains(want, `"$ID"`) {
		var m map[string]any
		if err := json.Unmarshal(got, &m); err != nil {
			return err
		}
		id, _ := m["id"].(string)
		if !idRE.MatchString(id) {
			return fmt.Errorf("id %q is not <epoch>-<seq>", id)
		}
		want = strings.Replace(want, `"$ID"`, jstr(id), 1)
	}
	g, err := canonJSON(got)
	if err != nil {
		return err
	}
	w, err := canonJSON([]byte(want))
	if err != nil {
		return fmt.Errorf("bad want: %v", err)
	}
	if g != w {
		return fmt.Errorf("canonical form %s differs from %s", g, w)
	}
	return nil
}

func checkTime(tm string) error {
	if !timeRE.MatchString(tm) {
		return fmt.Errorf("time %q is not YYYY-MM-DD HH:MM:SS", tm)
	}
	at, err := time.ParseInLocation(time.DateTime, tm, time.Local)
	if err != nil {
		return fmt.Errorf("time %q: %v", tm, err)
	}
	if d := time.Since(at); d < -time.Minute || d > time.Minute {
		return fmt.Errorf("time %q is %v away from now (server time zone must be local)", tm, d)
	}
	return nil
}

// isError checks that got is {"type":"error","code":code,"reason":"..."}.
func isError(got []byte, code string) error {
	var m struct{ Reason string }
	if err := json.Unmarshal(got, &m); err != nil {
		return err
	}
	if m.Reason == "" {
		return errors.New("empty reason")
	}
	return sameJSON(got, fmt.Sprintf(`{"type":"error","code":%s,"reason":%s}`, jstr(code), jstr(m.Reason)))
}

// canonJSON re-encodes one JSON value keeping key order, duplicate keys
// and number literals, so that only escaping style is normalised.
func canonJSON(b []byte) (string, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var sb strings.Builder
	if err := canonValue(dec, &sb); err != nil {
		return "", err
	}
	if _, err := dec.Token(); err != io.EOF {
		return "", fmt.Errorf("trailing data after the JSON value (%v)", err)
	}
	return sb.String(), nil
}

func canonValue(dec *json.Decoder, sb *strings.Builder) error {
	tok, err := dec.Token()
	if err != nil {
		return err
	}
	switch v := tok.(type) {
	case json.Delim:
		end := map[json.Delim]byte{'{': '}', '[': ']'}[v]
		sb.WriteRune(rune(v))
		for i := 0; dec.More(); i++ {
			if i > 0 {
				sb.WriteByte(',')
			}
			if v == '{' {
				k, err := dec.Token()
				if err != nil {
					return err
				}
				sb.WriteString(jstr(k.(string)) + ":")
			}
			if err := canonValue(dec, sb); err != nil {
				return err
			}
		}
		if _, err := dec.Token(); err != nil {
			return err
		}
		sb.WriteByte(end)
	case string:
		sb.WriteString(jstr(v))
	case json.Number:
		sb.WriteString(v.String())
	case bool:
		fmt.Fprint(sb, v)
	case nil:
		sb.WriteString("null")
	}
	return nil
}
