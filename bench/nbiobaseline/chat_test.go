// nbio v1.6.8 is not clean under the race detector: its listener and
// poller goroutines share conn fields without synchronisation (nbio
// exempts those functions from the detector with its own directives), so
// these tests of the baseline run in the plain `go test` build only.

//go:build !race

package main

import (
	"encoding/json"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// start runs a server on a free loopback port and returns its ws:// URL.
func start(t *testing.T) string {
	t.Helper()
	var mu sync.Mutex
	var addr string
	listen := func(network, a string) (net.Listener, error) {
		ln, err := net.Listen(network, a)
		if err == nil {
			mu.Lock()
			addr = ln.Addr().String()
			mu.Unlock()
		}
		return ln, err
	}
	eng, _ := newServer("127.0.0.1:0", 25*time.Second, 1, 4, listen)
	if err := eng.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(eng.Stop)
	mu.Lock()
	defer mu.Unlock()
	return "ws://" + addr + "/"
}

type tclient struct {
	t  *testing.T
	ws *websocket.Conn
}

func dial(t *testing.T, url string) *tclient {
	t.Helper()
	ws, _, err := websocket.DefaultDialer.Dial(url, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ws.Close() })
	return &tclient{t, ws}
}

func (c *tclient) send(s string) {
	c.t.Helper()
	if err := c.ws.WriteMessage(websocket.TextMessage, []byte(s)); err != nil {
		c.t.Fatal(err)
	}
}

// next reads messages until one of type typ arrives (10 s at most).
func (c *tclient) next(typ string) map[string]any {
	c.t.Helper()
	c.ws.SetReadDeadline(time.Now().Add(10 * time.Second))
	for {
		_, b, err := c.ws.ReadMessage()
		if err != nil {
			c.t.Fatalf("waiting for %s: %v", typ, err)
		}
		var m map[string]any
		if err := json.Unmarshal(b, &m); err != nil {
			c.t.Fatalf("not JSON: %q", b)
		}
		if m["type"] == typ {
			return m
		}
	}
}

func TestChatProtocolSubset(t *testing.T) {
	url := start(t)
	a, b := dial(t, url), dial(t, url)
	a.send(`{"type":"login","name":"a<1>","room_id":"r1"}`)
	if ul := a.next("user_list"); len(ul["user_list"].([]any)) != 1 {
		t.Fatalf("a's user_list = %v; want 1 member", ul)
	}
	la := a.next("login")
	if la["name"] != "a&lt;1&gt;" {
		t.Errorf("login name %q; want it HTML-escaped", la["name"])
	}
	b.send(`{"type":"login","name":"b","room_id":"r1"}`)
	if ul := b.next("user_list"); len(ul["user_list"].([]any)) != 2 {
		t.Fatalf("b's user_list = %v; want 2 members", ul)
	}
	lb := a.next("login")
	b.next("login")

	b.send(`{"type":"say","to_uid":"all","content":"hi \"x\"\nz"}`)
	for _, c := range []*tclient{a, b} {
		if m := c.next("say"); m["content"] != "hi &quot;x&quot;<br />\nz" || m["to_uid"] != "all" {
			t.Errorf("say = %v", m)
		}
	}
	a.send(`{"type":"say","to_uid":` + jsonNum(lb["uid"]) + `,"content":"psst"}`)
	for _, c := range []*tclient{b, a} {
		if m := c.next("say"); m["content"] != "psst" || m["from_uid"] != la["uid"] {
			t.Errorf("private say = %v", m)
		}
	}
	for in, code := range map[string]string{
		`nope`:         "bad_json",
		`{"type":"x"}`: "unknown_type",
		`{"type":"say","to_uid":"all","content":""}`: "bad_content",
		`{"type":"say","to_uid":99,"content":"x"}`:   "no_such_user",
		`{"type":"login","name":"  "}`:               "bad_name",
	} {
		a.send(in)
		if m := a.next("error"); m["code"] != code {
			t.Errorf("%s: error %v; want %s", in, m, code)
		}
	}

	// a moves to room r2: b sees the logout, and both rooms keep working
	// (the flush of the room a left and of the one it joined both run).
	a.send(`{"type":"login","name":"a","room_id":"r2"}`)
	if m := b.next("logout"); m["uid"] != la["uid"] {
		t.Errorf("logout = %v", m)
	}
	a.next("user_list")
	a.next("login")
	b.send(`{"type":"say","to_uid":"all","content":"r1"}`)
	if m := b.next("say"); m["content"] != "r1" {
		t.Errorf("say in r1 = %v", m)
	}
	a.send(`{"type":"say","to_uid":"all","content":"r2"}`)
	if m := a.next("say"); m["content"] != "r2" {
		t.Errorf("say in r2 = %v", m)
	}
	b.ws.Close()
	c := dial(t, url)
	c.send(`{"type":"login","name":"c","room_id":"r2"}`)
	c.next("user_list")
	if m := a.next("login"); m["name"] != "c" {
		t.Errorf("login in r2 = %v", m)
	}
}

// TestRoomFillsWithChainedBatches: members joining while earlier notices
// are still queued must each learn of the whole room exactly once.
func TestRoomFillsWithChainedBatches(t *testing.T) {
	url := start(t)
	const n = 30
	cs := make([]*tclient, n)
	for i := range cs {
		cs[i] = dial(t, url)
		cs[i].send(`{"type":"login","name":"m` + strings.Repeat("x", i%5) + `","room_id":"big"}`)
	}
	for i, c := range cs {
		ul := c.next("user_list")
		seen := len(ul["user_list"].([]any)) - 1 // itself is in its list and sends its own login
		for seen < n-1 {
			c.next("login")
			seen++
		}
		_ = i
	}
	cs[0].send(`{"type":"say","to_uid":"all","content":"end"}`)
	for _, c := range cs {
		if m := c.next("say"); m["content"] != "end" {
			t.Errorf("say = %v", m)
		}
	}
}

func jsonNum(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}
