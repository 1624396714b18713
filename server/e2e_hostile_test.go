package server_test

// The hostile-input suite: each case attacks a live server and asserts
// the exact outcome (HTTP status, close code or error message) and that
// a bystander pair in the same room keeps chatting meanwhile, with no
// message lost and no visible stall. The tests are not parallel: a stall
// measured while other tests load the machine would say nothing.

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"chatd/server"
)

// hostileRoom is the room of every attacker that logs in and of the
// bystanders.
const hostileRoom = "hostile"

// maxStall is the longest a bystander's message may take to arrive. Far
// above a healthy round trip (well under 10ms, and under 350ms in every
// case on an idle 2-core machine with -race) and at what a user would
// call a stall, with headroom for other test packages running alongside.
const maxStall = time.Second

type hServer struct {
	srv    *server.Server
	addr   string
	cancel context.CancelFunc
	done   chan error
}

// hStart runs a server on 127.0.0.1:0 (page and admin off, two loops)
// with cfg changed by mod; it is stopped when the test ends.
func hStart(t *testing.T, mod func(*server.Config)) *hServer {
	t.Helper()
	cfg := server.Config{
		Listen: "127.0.0.1:0", WebListen: "off", AdminListen: "off", Loops: 2,
		HandshakeTimeout: time.Second, CloseTimeout: time.Second,
		TrustedProxies: []string{"none"}, MaxConnsPerIP: 5000, MaxHandshakesPerIP: 5000,
		AcceptRate: 100000, AcceptBurst: 100000,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	}
	if mod != nil {
		mod(&cfg)
	}
	srv, err := server.New(cfg)
	if err != nil {
		t.Fatalf("server.New: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	hs := &hServer{srv: srv, cancel: cancel, done: make(chan error, 1)}
	go func() { hs.done <- srv.Run(ctx) }()
	select {
	case <-srv.Ready():
	case err := <-hs.done:
		t.Fatalf("Run: %v", err)
	}
	hs.addr = srv.ChatAddr()
	t.Cleanup(func() {
		cancel()
		select {
		case <-hs.done:
		case <-time.After(15 * time.Second):
			t.Errorf("Run did not return within 15s")
		}
	})
	return hs
}

// ---------------------------------------------------------------------------
// gorilla client

type hMsg struct {
	Name    string `json:"name"`
	Type    string `json:"type"`
	Code    string `json:"code"`
	Reason  string `json:"reason"`
	UID     int64  `json:"uid"`
	FromUID int64  `json:"from_uid"`
	Content string `json:"content"`
	at      time.Time
}

type hClient struct {
	ws   *websocket.Conn
	raw  chan hMsg    // fed by the reader, closed when it stops
	in   chan hMsg    // what the test reads: raw unless a filter sits between
	code atomic.Int32 // close code once the reader stopped; 1006 without a close frame
	uid  int64
	wmu  sync.Mutex
}

func hDial(t *testing.T, addr string) *hClient {
	t.Helper()
	ws, _, err := websocket.DefaultDialer.Dial("ws://"+addr+"/", nil)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	c := &hClient{ws: ws, raw: make(chan hMsg, 1<<14)}
	c.in = c.raw
	go c.read()
	t.Cleanup(func() { _ = ws.Close() })
	return c
}

func (c *hClient) read() {
	defer close(c.raw)
	for {
		_, b, err := c.ws.ReadMessage()
		if err != nil {
			code := int32(websocket.CloseAbnormalClosure)
			if ce, ok := err.(*websocket.CloseError); ok {
				code = int32(ce.Code)
			}
			c.code.Store(code)
			return
		}
		var m hMsg
		_ = json.Unmarshal(b, &m)
		m.at = time.Now()
		select {
		case c.raw <- m:
		default: // nobody listens closely: drop rather than stop reading
		}
	}
}

func (c *hClient) send(t *testing.T, v any) {
	if err := c.trySend(v); err != nil {
		t.Errorf("write: %v", err)
	}
}

func (c *hClient) trySend(v any) error {
	b, _ := json.Marshal(v)
	c.wmu.Lock()
	defer c.wmu.Unlock()
	_ = c.ws.SetWriteDeadline(time.Now().Add(5 * time.Second))
	return c.ws.WriteMessage(websocket.TextMessage, b)
}

// next returns the next message whose type is typ, skipping others.
func (c *hClient) next(t *testing.T, typ string) hMsg {
	t.Helper()
	timeout := time.After(5 * time.Second)
	for {
		select {
		case m, ok := <-c.in:
			if !ok {
				t.Fatalf("connection closed (code %d) waiting for %s", c.code.Load(), typ)
			}
			if m.Type == typ {
				return m
			}
		case <-timeout:
			t.Fatalf("no %s within 5s", typ)
		}
	}
}

// closed waits for the connection to end and returns its close code.
func (c *hClient) closed(t *testing.T) int {
	t.Helper()
	timeout := time.After(5 * time.Second)
	for {
		select {
		case _, ok := <-c.in:
			if !ok {
				return int(c.code.Load())
			}
		case <-timeout:
			t.Fatalf("connection still open after 5s")
		}
	}
}

func (c *hClient) login(t *testing.T, name string) {
	t.Helper()
	c.send(t, map[string]any{"type": "login", "name": name, "room_id": hostileRoom})
	c.next(t, "user_list")
	c.uid = c.next(t, "login").UID
}

// ---------------------------------------------------------------------------
// bystander

// bystander is a pair in hostileRoom: alice says something every 20ms,
// bob checks that each arrives, in order, within maxStall.
type bystander struct {
	a, b    *hClient
	stop    chan struct{}
	once    sync.Once
	sending sync.WaitGroup

	mu    sync.Mutex
	sent  []time.Time
	lats  []time.Duration // delivery time of each message bob got
	got   int
	worst time.Duration
	bad   string
}

func hBystander(t *testing.T, hs *hServer) *bystander {
	t.Helper()
	by := &bystander{a: hDial(t, hs.addr), b: hDial(t, hs.addr), stop: make(chan struct{})}
	by.a.login(t, "alice")
	by.b.login(t, "bob")
	by.b.in = make(chan hMsg, 1<<14) // watch passes on what is not alice's
	go by.watch()
	go func() { // alice's own copies and the room's traffic: just read
		for range by.a.in {
		}
	}()
	by.sending.Add(1)
	go by.talk()
	t.Cleanup(by.halt)
	return by
}

func (by *bystander) halt() {
	by.once.Do(func() { close(by.stop) })
	by.sending.Wait()
}

func (by *bystander) talk() {
	defer by.sending.Done()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for i := 0; ; i++ {
		select {
		case <-by.stop:
			return
		case <-tick.C:
		}
		by.mu.Lock()
		by.sent = append(by.sent, time.Now())
		by.mu.Unlock()
		if err := by.a.trySend(map[string]any{"type": "say", "to_uid": "all", "content": "by-" + strconv.Itoa(i)}); err != nil {
			by.mu.Lock()
			by.bad = "alice: " + err.Error()
			by.mu.Unlock()
			return
		}
	}
}

func (by *bystander) watch() {
	defer close(by.b.in)
	for m := range by.b.raw {
		if m.Type != "say" || !strings.HasPrefix(m.Content, "by-") {
			select {
			case by.b.in <- m:
			default:
			}
			continue
		}
		i, _ := strconv.Atoi(m.Content[3:])
		by.mu.Lock()
		switch {
		case i != by.got && by.bad == "":
			by.bad = fmt.Sprintf("bob got by-%d, want by-%d", i, by.got)
		case i < len(by.sent):
			d := m.at.Sub(by.sent[i])
			by.worst = max(by.worst, d)
			by.lats = append(by.lats, d)
		}
		by.got = i + 1
		by.mu.Unlock()
	}
}

// check stops alice and asserts that bob got everything, in order, with
// no stall, and that both are still connected.
func (by *bystander) check(t *testing.T) {
	t.Helper()
	by.checkWithin(t, maxStall)
}

// p99 returns the 99th percentile of the delivery times so far.
func (by *bystander) p99() time.Duration {
	by.mu.Lock()
	lats := append([]time.Duration(nil), by.lats...)
	by.mu.Unlock()
	if len(lats) == 0 {
		return 0
	}
	slices.Sort(lats)
	return lats[(len(lats)*99+99)/100-1]
}

// checkWithin is check with stall as the longest a message may take.
func (by *bystander) checkWithin(t *testing.T, stall time.Duration) {
	t.Helper()
	for deadline := time.Now().Add(2 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		by.mu.Lock()
		n := len(by.sent)
		by.mu.Unlock()
		if n >= 15 || time.Now().After(deadline) {
			break // the attack was quick: watch the room a little longer
		}
	}
	by.halt()
	deadline := time.Now().Add(5 * time.Second)
	for {
		by.mu.Lock()
		got, sent, worst, bad := by.got, len(by.sent), by.worst, by.bad
		by.mu.Unlock()
		if bad != "" {
			t.Fatalf("bystander: %s", bad)
		}
		if got == sent {
			if worst > stall {
				t.Fatalf("bystander: a message took %v; want < %v", worst, stall)
			}
			t.Logf("bystander: %d messages, p99 %v, slowest %v", sent, by.p99(), worst)
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("bystander: bob got %d of %d messages (code a=%d b=%d)", got, sent, by.a.code.Load(), by.b.code.Load())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// ---------------------------------------------------------------------------
// raw client: hand-built requests and frames

type hRawConn struct {
	nc net.Conn
	br *bufio.Reader
}

func hRawDial(t *testing.T, addr string) *hRawConn {
	t.Helper()
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	t.Cleanup(func() { _ = nc.Close() })
	return &hRawConn{nc: nc, br: bufio.NewReader(nc)}
}

const hUpgradeRequest = "GET / HTTP/1.1\r\nHost: chat\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
	"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"

// rawUpgrade opens a WebSocket with a hand-written request.
func hRawUpgrade(t *testing.T, addr string) *hRawConn {
	t.Helper()
	rc := hRawDial(t, addr)
	rc.write(t, []byte(hUpgradeRequest+"\r\n"))
	if st := rc.status(t); st != 101 {
		t.Fatalf("upgrade status %d; want 101", st)
	}
	return rc
}

func (rc *hRawConn) write(t *testing.T, b []byte) {
	_ = rc.nc.SetWriteDeadline(time.Now().Add(5 * time.Second))
	if _, err := rc.nc.Write(b); err != nil {
		t.Logf("write: %v", err) // the server may have closed already: the outcome tells
	}
}

// status reads an HTTP response head and returns its status code.
func (rc *hRawConn) status(t *testing.T) int {
	t.Helper()
	_ = rc.nc.SetReadDeadline(time.Now().Add(5 * time.Second))
	resp, err := http.ReadResponse(rc.br, nil)
	if err != nil {
		t.Fatalf("reading response: %v", err)
	}
	if resp.StatusCode != 101 {
		_, _ = io.Copy(io.Discard, resp.Body)
	}
	return resp.StatusCode
}

// closeCode reads server frames until a close frame and returns its code
// and reason; 1006 if the connection ends without one.
func (rc *hRawConn) closeCode(t *testing.T) (int, string) {
	t.Helper()
	return rc.closeCodeWithin(5 * time.Second)
}

// closeCodeWithin is closeCode with a deadline of d.
func (rc *hRawConn) closeCodeWithin(d time.Duration) (int, string) {
	_ = rc.nc.SetReadDeadline(time.Now().Add(d))
	for {
		var h [2]byte
		if _, err := io.ReadFull(rc.br, h[:]); err != nil {
			return 1006, err.Error()
		}
		n := int(h[1] & 0x7f)
		switch n {
		case 126:
			var e [2]byte
			_, _ = io.ReadFull(rc.br, e[:])
			n = int(binary.BigEndian.Uint16(e[:]))
		case 127:
			var e [8]byte
			_, _ = io.ReadFull(rc.br, e[:])
			n = int(binary.BigEndian.Uint64(e[:]))
		}
		p := make([]byte, n)
		if _, err := io.ReadFull(rc.br, p); err != nil {
			return 1006, err.Error()
		}
		if h[0]&0x0f == 0x8 && n >= 2 {
			return int(binary.BigEndian.Uint16(p)), string(p[2:])
		}
	}
}

// frame builds a client frame: b0 is FIN|RSV|opcode, masked unless told.
func hFrame(b0 byte, payload []byte, masked bool) []byte {
	out := []byte{b0, 0}
	switch n := len(payload); {
	case n <= 125:
		out[1] = byte(n)
	case n <= 0xffff:
		out[1] = 126
		out = binary.BigEndian.AppendUint16(out, uint16(n))
	default:
		out[1] = 127
		out = binary.BigEndian.AppendUint64(out, uint64(n))
	}
	if !masked {
		return append(out, payload...)
	}
	out[1] |= 0x80
	key := [4]byte{0x37, 0xfa, 0x21, 0x3d}
	out = append(out, key[:]...)
	for i, c := range payload {
		out = append(out, c^key[i%4])
	}
	return out
}

const (
	fin    = 0x80
	opCont = 0x0
	opText = 0x1
	opPing = 0x9
)

// ---------------------------------------------------------------------------
// cases

// TestHostileFrames: frames that break RFC 6455 close the connection with
// the code the RFC gives; the bystander does not notice.
func TestHostileFrames(t *testing.T) {
	hs := hStart(t, nil)
	by := hBystander(t, hs)
	terabytes := []byte{fin | opText, 0x80 | 127, 0, 0, 0x10, 0, 0, 0, 0, 0, 1, 2, 3, 4}
	msb := []byte{fin | opText, 0x80 | 127, 0x80, 0, 0, 0, 0, 0, 0, 5, 1, 2, 3, 4}
	cases := []struct {
		name string
		send [][]byte
		code int
	}{
		{"unmasked frame", [][]byte{hFrame(fin|opText, []byte(`{"type":"pong"}`), false)}, 1002},
		{"rsv1", [][]byte{hFrame(fin|0x40|opText, []byte(`{}`), true)}, 1002},
		{"rsv3", [][]byte{hFrame(fin|0x10|opText, []byte(`{}`), true)}, 1002},
		{"reserved data opcode", [][]byte{hFrame(fin|0x3, []byte(`x`), true)}, 1002},
		{"reserved control opcode", [][]byte{hFrame(fin|0xb, []byte(`x`), true)}, 1002},
		{"64-bit length of a terabyte", [][]byte{terabytes}, 1009},
		{"64-bit length with the top bit", [][]byte{msb}, 1002},
		{"fragmented ping", [][]byte{hFrame(opPing, []byte("a"), true), hFrame(fin|opCont, []byte("b"), true)}, 1002},
		{"control payload over 125", [][]byte{hFrame(fin|opPing, bytes.Repeat([]byte("p"), 126), true)}, 1002},
		{"continuation without start", [][]byte{hFrame(fin|opCont, []byte("x"), true)}, 1002},
		{"invalid utf-8 split across fragments", [][]byte{
			hFrame(opText, []byte("{\"type\":\"say\",\"content\":\"\xe2\x82"), true),
			hFrame(fin|opCont, []byte("\x28\"}"), true)}, 1007},
		{"text after unfinished text", [][]byte{hFrame(opText, []byte("{"), true), hFrame(fin|opText, []byte("}"), true)}, 1002},
		// Autobahn 6.4.3: fail fast, before the frame's last 4 KiB arrive.
		{"invalid utf-8 in a frame still arriving", [][]byte{
			hFrame(fin|opText, []byte("{\"type\":\"say\",\"content\":\"\xf4\x90"+strings.Repeat("x", 4096)+"\"}"), true)[:8+27], // header, then through \x90
		}, 1007},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rc := hRawUpgrade(t, hs.addr)
			for _, f := range tc.send {
				rc.write(t, f)
			}
			if code, reason := rc.closeCode(t); code != tc.code {
				t.Fatalf("close code %d (%q); want %d", code, reason, tc.code)
			}
		})
	}
	by.check(t)
}

// TestHostileHandshakes: slowloris and oversized requests get their HTTP
// status; the bystander does not notice.
func TestHostileHandshakes(t *testing.T) {
	hs := hStart(t, nil)
	by := hBystander(t, hs)
	t.Run("huge header 431", func(t *testing.T) {
		rc := hRawDial(t, hs.addr)
		rc.write(t, []byte(hUpgradeRequest+"X-Junk: "+strings.Repeat("j", 64<<10)+"\r\n\r\n"))
		if st := rc.status(t); st != 431 {
			t.Fatalf("status %d; want 431", st)
		}
	})
	t.Run("endless header without blank line 431", func(t *testing.T) {
		rc := hRawDial(t, hs.addr)
		for i := 0; i < 100; i++ {
			rc.write(t, []byte("X-A: "+strings.Repeat("a", 100)+"\r\n"))
		}
		if st := rc.status(t); st != 431 {
			t.Fatalf("status %d; want 431", st)
		}
	})
	t.Run("slowloris 408", func(t *testing.T) {
		const n = 50
		conns := make([]*hRawConn, n)
		for i := range conns {
			conns[i] = hRawDial(t, hs.addr)
			conns[i].write(t, []byte("GET / HTTP/1.1\r\n"))
		}
		stop := make(chan struct{})
		defer close(stop)
		go func() { // one more header byte per connection every 100ms: never done
			for {
				select {
				case <-stop:
					return
				case <-time.After(100 * time.Millisecond):
				}
				for _, rc := range conns {
					_ = rc.nc.SetWriteDeadline(time.Now().Add(time.Second))
					_, _ = rc.nc.Write([]byte("X"))
				}
			}
		}()
		start := time.Now()
		for _, rc := range conns {
			if st := rc.status(t); st != 408 {
				t.Fatalf("status %d; want 408", st)
			}
		}
		if d := time.Since(start); d > 3*time.Second {
			t.Fatalf("slowloris cut after %v; want about HandshakeTimeout (1s)", d)
		}
	})
	by.check(t)
}

// TestHostileJSON: bad, deeply nested and huge JSON and huge names get an
// error (the connection stays open) or 1009 past the message limit.
func TestHostileJSON(t *testing.T) {
	hs := hStart(t, nil)
	by := hBystander(t, hs)
	c := hDial(t, hs.addr)
	c.login(t, "mallory")
	nested := `{"type":"say","to_uid":"all","content":"x","x":` + strings.Repeat(`{"a":`, 10000) + `1` + strings.Repeat(`}`, 10000) + `}`
	cases := []struct {
		name, msg, code string
	}{
		{"truncated", `{"type":"say",`, "bad_json"},
		{"not an object", `[1,2,3]`, "bad_json"},
		{"deeply nested array", strings.Repeat("[", 30000) + strings.Repeat("]", 30000), "bad_json"},
		{"wrong types", `{"type":"say","to_uid":"all","content":{"a":1}}`, "bad_json"},
		{"unknown type", `{"type":"` + strings.Repeat("z", 1000) + `"}`, "unknown_type"},
		{"huge content", `{"type":"say","to_uid":"all","content":"` + strings.Repeat("c", 60000) + `"}`, "too_long"},
		{"name of 33 characters", `{"type":"login","name":"` + strings.Repeat("n", 33) + `","room_id":"` + hostileRoom + `"}`, "bad_name"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c.wmu.Lock()
			_ = c.ws.SetWriteDeadline(time.Now().Add(5 * time.Second))
			err := c.ws.WriteMessage(websocket.TextMessage, []byte(tc.msg))
			c.wmu.Unlock()
			if err != nil {
				t.Fatal(err)
			}
			if m := c.next(t, "error"); m.Code != tc.code {
				t.Fatalf("error %q (%s); want %s", m.Code, m.Reason, tc.code)
			}
		})
	}
	t.Run("deeply nested object", func(t *testing.T) {
		c.wmu.Lock()
		_ = c.ws.WriteMessage(websocket.TextMessage, []byte(nested))
		c.wmu.Unlock()
		if m := c.next(t, "error"); m.Code != "bad_json" {
			t.Fatalf("error %q; want bad_json", m.Code)
		}
	})
	t.Run("10 MB name 1009", func(t *testing.T) {
		d := hDial(t, hs.addr)
		name := strings.Repeat("N", 10<<20)
		go func() {
			_ = d.ws.SetWriteDeadline(time.Now().Add(5 * time.Second))
			_ = d.ws.WriteMessage(websocket.TextMessage, []byte(`{"type":"login","name":"`+name+`"}`))
		}()
		if code := d.closed(t); code != 1009 {
			t.Fatalf("close code %d; want 1009", code)
		}
	})
	t.Run("10 MB name in fragments 1009", func(t *testing.T) {
		rc := hRawUpgrade(t, hs.addr)
		go func() {
			rc.write(t, hFrame(opText, []byte(`{"type":"login","name":"`), true))
			chunk := hFrame(opCont, bytes.Repeat([]byte("N"), 32<<10), true)
			for i := 0; i < 320; i++ {
				if _, err := rc.nc.Write(chunk); err != nil {
					return
				}
			}
		}()
		if code, reason := rc.closeCode(t); code != 1009 {
			t.Fatalf("close code %d (%q); want 1009", code, reason)
		}
	})
	by.check(t)
}

// TestHostileFlood: a client flooding messages gets rate_limited and then,
// sustaining it, 1008; one that backs off in time is forgiven.
func TestHostileFlood(t *testing.T) {
	hs := hStart(t, nil) // defaults: 50/s, burst 100, 50 strikes
	by := hBystander(t, hs)
	t.Run("sustained flood 1008", func(t *testing.T) {
		c := hDial(t, hs.addr)
		c.login(t, "flooder")
		var buf bytes.Buffer
		msg := []byte(`{"type":"say","to_uid":"all","content":"spam"}`)
		for i := 0; i < 2000; i++ {
			buf.Write(hFrame(fin|opText, msg, true))
		}
		go func() {
			_ = c.ws.UnderlyingConn().SetWriteDeadline(time.Now().Add(5 * time.Second))
			_, _ = c.ws.UnderlyingConn().Write(buf.Bytes())
		}()
		m := c.next(t, "error")
		if m.Code != "rate_limited" {
			t.Fatalf("error %q; want rate_limited", m.Code)
		}
		if code := c.closed(t); code != 1008 {
			t.Fatalf("close code %d; want 1008", code)
		}
	})
	t.Run("burst then backs off", func(t *testing.T) {
		c := hDial(t, hs.addr)
		c.login(t, "bursty")
		for i := 0; i < 120; i++ { // 100 pass, about 20 get rate_limited
			c.send(t, map[string]any{"type": "say", "to_uid": "all", "content": "b"})
		}
		if m := c.next(t, "error"); m.Code != "rate_limited" {
			t.Fatalf("error %q; want rate_limited", m.Code)
		}
		time.Sleep(2500 * time.Millisecond) // the bucket refills at 50/s
		c.send(t, map[string]any{"type": "say", "to_uid": "all", "content": "after"})
		for m := c.next(t, "say"); m.Content != "after"; m = c.next(t, "say") {
		}
	})
	by.check(t)
}

// TestHostileNonReader: a member that never reads is cut off (counted as
// a slow consumer, its room gets its logout) without slowing the room.
func TestHostileNonReader(t *testing.T) {
	hs := hStart(t, func(c *server.Config) {
		c.MaxOutbound = 256 << 10
		c.MaxContent = 32 << 10 // few big messages: the attack costs little CPU
		c.MessageRate, c.MessageBurst = 1e6, 1e6
	})
	by := hBystander(t, hs)
	// The non-reader: a raw upgrade with a tiny receive buffer that logs
	// in and then never reads again.
	nc, err := net.Dial("tcp", hs.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	_ = nc.(*net.TCPConn).SetReadBuffer(4096)
	nc.Write([]byte(hUpgradeRequest + "\r\n"))
	nc.Write(hFrame(fin|opText, []byte(`{"type":"login","name":"sloth","room_id":"`+hostileRoom+`"}`), true))
	uid := by.b.next(t, "login").UID
	talker := hDial(t, hs.addr)
	talker.login(t, "talker")
	go func() {
		for range talker.in {
		}
	}()
	// Private messages fill the sloth's connection without loading bob:
	// what is measured is the room's latency, not bob's bandwidth.
	big := strings.Repeat("w", 32<<10)
	slow := hs.srv.Stats().SlowConsumers.Load()
	for i := 0; i < 2000 && hs.srv.Stats().SlowConsumers.Load() == slow; i++ {
		talker.send(t, map[string]any{"type": "say", "to_uid": uid, "content": big})
		time.Sleep(time.Millisecond)
	}
	if got := hs.srv.Stats().SlowConsumers.Load(); got != slow+1 {
		t.Fatalf("slow consumers %d; want %d", got, slow+1)
	}
	for m := by.b.next(t, "logout"); m.UID != uid; m = by.b.next(t, "logout") {
	}
	by.check(t)
}

// TestHostileHalfOpen: thousands of connections that never finish their
// handshake are all answered 408 by HandshakeTimeout; the room chats on.
func TestHostileHalfOpen(t *testing.T) {
	hs := hStart(t, nil)
	by := hBystander(t, hs)
	const n = 2000
	conns := make([]net.Conn, 0, n)
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	for i := 0; i < n; i++ {
		c, err := net.Dial("tcp", hs.addr)
		if err != nil {
			t.Fatalf("dial %d: %v", i, err)
		}
		if i%2 == 0 {
			c.Write([]byte("GET / HTTP/1.1\r\nHost: x\r\n")) // half a request
		}
		conns = append(conns, c)
	}
	hWaitOpen(t, hs, n+2)
	var wg sync.WaitGroup
	var bad atomic.Int64
	for _, c := range conns {
		wg.Add(1)
		go func(c net.Conn) {
			defer wg.Done()
			_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
			b, _ := io.ReadAll(c)
			if !bytes.HasPrefix(b, []byte("HTTP/1.1 408 ")) {
				bad.Add(1)
			}
		}(c)
	}
	wg.Wait()
	if bad.Load() != 0 {
		t.Fatalf("%d of %d half-open connections did not get 408", bad.Load(), n)
	}
	hWaitOpen(t, hs, 2)
	by.check(t)
}

func hWaitOpen(t *testing.T, hs *hServer, want int64) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for hs.srv.Stats().Open.Load() != want {
		if time.Now().After(deadline) {
			t.Fatalf("open connections %d; want %d", hs.srv.Stats().Open.Load(), want)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestHostileConnLimits: per-address and total limits answer 429 and 503.
func TestHostileConnLimits(t *testing.T) {
	t.Run("per address 429", func(t *testing.T) {
		hs := hStart(t, func(c *server.Config) { c.MaxConnsPerIP = 10 })
		for i := 0; i < 10; i++ {
			hRawUpgrade(t, hs.addr)
		}
		rc := hRawDial(t, hs.addr)
		rc.write(t, []byte(hUpgradeRequest+"\r\n"))
		if st := rc.status(t); st != 429 {
			t.Fatalf("status %d; want 429", st)
		}
	})
	t.Run("per forwarded address 429", func(t *testing.T) {
		hs := hStart(t, func(c *server.Config) { c.MaxConnsPerIP = 2; c.TrustedProxies = []string{"127.0.0.1/32"} })
		up := func(xff string) int {
			rc := hRawDial(t, hs.addr)
			rc.write(t, []byte(hUpgradeRequest+"X-Forwarded-For: "+xff+"\r\n\r\n"))
			return rc.status(t)
		}
		for _, xff := range []string{"203.0.113.7", "198.51.100.1, 203.0.113.7", "203.0.113.8"} {
			if st := up(xff); st != 101 {
				t.Fatalf("status %d for %s; want 101", st, xff)
			}
		}
		if st := up("203.0.113.7"); st != 429 {
			t.Fatalf("third from 203.0.113.7: status %d; want 429", st)
		}
	})
	t.Run("total 503", func(t *testing.T) {
		hs := hStart(t, func(c *server.Config) { c.MaxConns = 5 })
		for i := 0; i < 5; i++ {
			hRawUpgrade(t, hs.addr)
		}
		rc := hRawDial(t, hs.addr)
		rc.write(t, []byte(hUpgradeRequest+"\r\n"))
		if st := rc.status(t); st != 503 {
			t.Fatalf("status %d; want 503", st)
		}
	})
}

// TestHostileReconnectStorm: a storm of clients reconnecting as fast as
// they can is admitted at AcceptRate (sustained, not just the burst), the
// rest get 503 with Retry-After, and the connected room is not starved.
func TestHostileReconnectStorm(t *testing.T) {
	const rate, burst = 400, 100
	hs := hStart(t, func(c *server.Config) { c.AcceptRate, c.AcceptBurst = rate, burst })
	by := hBystander(t, hs)
	const workers, dur = 64, 3 * time.Second
	var ok, refused, other atomic.Int64
	start := time.Now()
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			d := websocket.Dialer{HandshakeTimeout: 5 * time.Second}
			for time.Since(start) < dur {
				ws, resp, err := d.Dial("ws://"+hs.addr+"/", nil)
				switch {
				case err == nil:
					ok.Add(1)
					ws.WriteMessage(websocket.TextMessage, []byte(`{"type":"login","name":"storm","room_id":"storm"}`))
					ws.Close()
				case resp != nil && resp.StatusCode == 503 && resp.Header.Get("Retry-After") == "1":
					refused.Add(1)
				default:
					other.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	// The bystander came first and took 2 of the burst.
	limit := int64(burst + rate*(elapsed.Seconds()+0.25))
	t.Logf("storm: %d admitted, %d refused 503, %d other in %v (limit %d)", ok.Load(), refused.Load(), other.Load(), elapsed, limit)
	if ok.Load() > limit {
		t.Fatalf("admitted %d; want at most %d (rate %d/s + burst %d)", ok.Load(), limit, rate, burst)
	}
	if min := int64(rate * dur.Seconds() / 2); ok.Load() < min {
		t.Fatalf("admitted %d; want at least %d: the sustained rate must be served", ok.Load(), min)
	}
	if refused.Load() == 0 {
		t.Fatalf("no connection refused with 503 and Retry-After")
	}
	if other.Load() > refused.Load()/10 {
		t.Fatalf("%d connections failed otherwise than 503; want few", other.Load())
	}
	by.check(t)
}
