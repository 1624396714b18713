package server_test

// Tests of the operations features: metrics, health and readiness, the
// paced drain, the origin allow-list and token authentication.

import (
	"bufio"
	"io"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/gorilla/websocket"

	"chatd/server"
)

func adminOn(c *server.Config) { c.AdminListen = "127.0.0.1:0" }

// adminAddr waits for the admin listener, which Run starts just after
// the chat listener is Ready.
func adminAddr(t *testing.T, hs *hServer) string {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for hs.srv.AdminAddr() == "" {
		if time.Now().After(deadline) {
			t.Fatal("no admin listener 5s after Ready")
		}
		time.Sleep(time.Millisecond)
	}
	return hs.srv.AdminAddr()
}

func httpGet(t *testing.T, u string) (int, string) {
	t.Helper()
	resp, err := http.Get(u)
	if err != nil {
		t.Fatalf("GET %s: %v", u, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// scrape returns the samples of /metrics by their full name with labels.
func scrape(t *testing.T, hs *hServer) map[string]float64 {
	t.Helper()
	st, body := httpGet(t, "http://"+adminAddr(t, hs)+"/metrics")
	if st != 200 {
		t.Fatalf("/metrics status %d", st)
	}
	out := map[string]float64{}
	sc := bufio.NewScanner(strings.NewReader(body))
	for sc.Scan() {
		line := sc.Text()
		if line == "" || line[0] == '#' {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err == nil {
			out[line[:i]] = v
		}
	}
	return out
}

func TestMetricsMove(t *testing.T) {
	hs := hStart(t, adminOn)
	before := scrape(t, hs)
	a, b := hDial(t, hs.addr), hDial(t, hs.addr)
	a.login(t, "a")
	b.login(t, "b")
	a.send(t, map[string]any{"type": "say", "to_uid": "all", "content": "hello"})
	b.next(t, "say")
	a.send(t, map[string]any{"type": "nope"})
	a.next(t, "error")
	after := scrape(t, hs)
	for _, name := range []string{
		"chatd_connections_accepted_total", "chatd_upgrades_total", "chatd_logins_total",
		"chatd_messages_in_total", "chatd_messages_out_total", "chatd_bytes_in_total",
		"chatd_bytes_out_total", "chatd_error_replies_total", "chatd_fanout_latency_seconds_count",
	} {
		if after[name] <= before[name] {
			t.Errorf("%s = %v after traffic; want more than %v", name, after[name], before[name])
		}
	}
	for name, want := range map[string]float64{"chatd_connections": 2, "chatd_rooms": 1, "chatd_draining": 0} {
		if after[name] != want {
			t.Errorf("%s = %v; want %v", name, after[name], want)
		}
	}
	for _, name := range []string{"go_goroutines", `chatd_disconnects_total{reason="rate_limit"}`, `chatd_loop_queue_age_seconds{loop="0"}`, `chatd_handshakes_refused_total{reason="origin"}`} {
		if _, ok := after[name]; !ok {
			t.Errorf("%s missing from /metrics", name)
		}
	}
}

func TestHealthReadyPprof(t *testing.T) {
	hs := hStart(t, func(c *server.Config) {
		adminOn(c)
		c.Loops, c.DrainBatch, c.DrainInterval = 1, 1, 300*time.Millisecond
	})
	base := "http://" + adminAddr(t, hs)
	for _, p := range []string{"/healthz", "/readyz", "/debug/pprof/", "/debug/pprof/cmdline"} {
		if st, body := httpGet(t, base+p); st != 200 {
			t.Fatalf("%s: status %d (%s); want 200", p, st, body)
		}
	}
	for i := 0; i < 3; i++ { // three steps of 300ms: time to look
		hDial(t, hs.addr)
	}
	hs.cancel()
	waitDraining(t, hs)
	if st, body := httpGet(t, base+"/readyz"); st != 503 || !strings.Contains(body, "draining") {
		t.Fatalf("/readyz while draining: %d %q; want 503 draining", st, body)
	}
	if st, _ := httpGet(t, base+"/healthz"); st != 200 {
		t.Fatalf("/healthz while draining: %d; want 200", st)
	}
}

func waitDraining(t *testing.T, hs *hServer) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !hs.srv.Draining() {
		if time.Now().After(deadline) {
			t.Fatal("server not draining 5s after cancel")
		}
		time.Sleep(time.Millisecond)
	}
}

// TestDrainPaced: on shutdown every member gets what was sent to it, then
// 1001, in batches DrainInterval apart; new connections are refused.
func TestDrainPaced(t *testing.T) {
	const n, batch, interval = 6, 2, 300 * time.Millisecond
	hs := hStart(t, func(c *server.Config) {
		c.Loops, c.DrainBatch, c.DrainInterval, c.DrainTimeout = 1, batch, interval, 5*time.Second
	})
	cs := make([]*hClient, n)
	for i := range cs {
		cs[i] = hDial(t, hs.addr)
		cs[i].login(t, "m"+strconv.Itoa(i))
	}
	cs[0].send(t, map[string]any{"type": "say", "to_uid": "all", "content": "last words"})
	hs.cancel()
	start := time.Now()
	var mu sync.Mutex
	var at []time.Duration
	var wg sync.WaitGroup
	for i, c := range cs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			got := false
			for m := range c.in {
				got = got || m.Content == "last words"
			}
			if code := c.code.Load(); code != 1001 {
				t.Errorf("client %d: close code %d; want 1001", i, code)
			}
			if !got {
				t.Errorf("client %d: closed before getting the message sent before the drain", i)
			}
			mu.Lock()
			at = append(at, time.Since(start))
			mu.Unlock()
		}()
	}
	wg.Wait()
	sort.Slice(at, func(i, j int) bool { return at[i] < at[j] })
	t.Logf("close times: %v", at)
	for i := batch; i < n; i += batch {
		if gap := at[i] - at[i-1]; gap < interval*2/3 {
			t.Errorf("batch %d closed %v after the previous one; want about %v", i/batch, gap, interval)
		}
	}
	if _, _, err := websocket.DefaultDialer.Dial("ws://"+hs.addr+"/", nil); err == nil {
		t.Errorf("a new connection was accepted during the drain")
	}
	select {
	case <-hs.done:
		hs.done <- nil // for the cleanup
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not return within DrainTimeout")
	}
}

func TestOriginAllowList(t *testing.T) {
	hs := hStart(t, func(c *server.Config) { c.AllowedOrigins = []string{"https://*.example.com", "http://localhost:*"} })
	cases := []struct {
		origin string
		status int
	}{
		{"https://chat.example.com", 101},
		{"HTTPS://Chat.Example.com", 101},
		{"http://localhost:55151", 101},
		{"", 101}, // not a browser
		{"https://evil.com", 403},
		{"https://example.com.evil.com", 403},
		{"http://chat.example.com", 403},
	}
	for _, tc := range cases {
		h := http.Header{}
		if tc.origin != "" {
			h.Set("Origin", tc.origin)
		}
		ws, resp, err := websocket.DefaultDialer.Dial("ws://"+hs.addr+"/", h)
		if err == nil {
			ws.Close()
		}
		if resp == nil {
			t.Fatalf("origin %q: %v", tc.origin, err)
		}
		if resp.StatusCode != tc.status {
			t.Errorf("origin %q: status %d; want %d", tc.origin, resp.StatusCode, tc.status)
		}
		if tc.status == 403 {
			b, _ := io.ReadAll(resp.Body)
			if string(b) != "origin not allowed" {
				t.Errorf("origin %q: body %q; want the reason", tc.origin, b)
			}
		}
	}
}

const testSecret = "0123456789abcdef-test-secret"

func token(t *testing.T, method jwt.SigningMethod, key any, claims jwt.MapClaims) string {
	t.Helper()
	s, err := jwt.NewWithClaims(method, claims).SignedString(key)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestAuthToken(t *testing.T) {
	hs := hStart(t, func(c *server.Config) { c.JWTSecret = testSecret })
	exp := time.Now().Add(time.Hour).Unix()
	good := token(t, jwt.SigningMethodHS256, []byte(testSecret), jwt.MapClaims{"name": "carol", "rooms": []any{"r1", 7}, "exp": exp})
	cases := []struct {
		name, token string
		status      int
	}{
		{"no token", "", 401},
		{"garbage", "abc.def.ghi", 401},
		{"wrong secret", token(t, jwt.SigningMethodHS256, []byte("another-secret-0123456"), jwt.MapClaims{"name": "x", "exp": exp}), 401},
		{"alg none", token(t, jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, jwt.MapClaims{"name": "x", "exp": exp}), 401},
		{"expired", token(t, jwt.SigningMethodHS256, []byte(testSecret), jwt.MapClaims{"name": "x", "exp": time.Now().Add(-time.Minute).Unix()}), 401},
		{"no exp", token(t, jwt.SigningMethodHS256, []byte(testSecret), jwt.MapClaims{"name": "x"}), 401},
		{"bad name", token(t, jwt.SigningMethodHS256, []byte(testSecret), jwt.MapClaims{"name": strings.Repeat("n", 40), "exp": exp}), 401},
		{"good", good, 101},
	}
	for _, tc := range cases {
		ws, resp, err := websocket.DefaultDialer.Dial("ws://"+hs.addr+"/?token="+url.QueryEscape(tc.token), nil)
		if err == nil {
			ws.Close()
		}
		if resp == nil || resp.StatusCode != tc.status {
			t.Errorf("%s: response %v (%v); want %d", tc.name, resp, err, tc.status)
		}
	}
	ws, _, err := websocket.DefaultDialer.Dial("ws://"+hs.addr+"/?token="+good, nil)
	if err != nil {
		t.Fatal(err)
	}
	c := &hClient{ws: ws, raw: make(chan hMsg, 64)}
	c.in = c.raw
	go c.read()
	defer ws.Close()
	c.send(t, map[string]any{"type": "login", "name": "mallory", "room_id": "r2"})
	if m := c.next(t, "error"); m.Code != "forbidden" {
		t.Fatalf("login into r2: error %q; want forbidden", m.Code)
	}
	c.send(t, map[string]any{"type": "login", "name": "mallory", "room_id": 7})
	c.next(t, "user_list")
	if m := c.next(t, "login"); m.Name != "carol" {
		t.Fatalf("login as %+v; want the token's name carol", m)
	}
}
