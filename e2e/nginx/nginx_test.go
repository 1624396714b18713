// Package nginx tests chatd behind a real nginx terminating TLS; run.sh
// starts both and sets CHATD_WSS_URL, without which the test is skipped.
package nginx

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"net"
	"net/http"
	"os"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

type msg struct {
	Type    string `json:"type"`
	UID     int64  `json:"uid"`
	FromUID int64  `json:"from_uid"`
	Name    string `json:"name"`
	Content string `json:"content"`
}

func dial(t *testing.T, url string, d *websocket.Dialer) *websocket.Conn {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		ws, _, err := d.Dial(url, nil)
		if err == nil {
			t.Cleanup(func() { ws.Close() })
			return ws
		}
		if time.Now().After(deadline) {
			t.Fatalf("dial %s: %v", url, err)
		}
		time.Sleep(100 * time.Millisecond) // nginx or chatd still starting
	}
}

func send(t *testing.T, ws *websocket.Conn, v any) {
	t.Helper()
	if err := ws.WriteJSON(v); err != nil {
		t.Fatal(err)
	}
}

// next returns the next message of type typ.
func next(t *testing.T, ws *websocket.Conn, typ string) msg {
	t.Helper()
	_ = ws.SetReadDeadline(time.Now().Add(5 * time.Second))
	for {
		_, b, err := ws.ReadMessage()
		if err != nil {
			t.Fatalf("waiting for %s: %v", typ, err)
		}
		var m msg
		if err := json.Unmarshal(b, &m); err != nil {
			t.Fatalf("bad JSON %q: %v", b, err)
		}
		if m.Type == typ {
			return m
		}
	}
}

func TestChatThroughNginx(t *testing.T) {
	url := os.Getenv("CHATD_WSS_URL")
	if url == "" {
		t.Skip("CHATD_WSS_URL not set: run e2e/nginx/run.sh")
	}
	pem, err := os.ReadFile(os.Getenv("CHATD_WSS_CA"))
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pem)
	d := &websocket.Dialer{TLSClientConfig: &tls.Config{RootCAs: pool}, HandshakeTimeout: 5 * time.Second}

	a := dial(t, url, d)
	send(t, a, map[string]any{"type": "login", "name": "alice", "room_id": "tls"})
	next(t, a, "user_list")
	ua := next(t, a, "login")
	b := dial(t, url, d)
	send(t, b, map[string]any{"type": "login", "name": "bob", "room_id": "tls"})
	next(t, b, "user_list")
	if m := next(t, a, "login"); m.Name != "bob" {
		t.Fatalf("alice saw login of %q; want bob", m.Name)
	}
	send(t, a, map[string]any{"type": "say", "to_uid": "all", "content": "hello over wss"})
	if m := next(t, b, "say"); m.Content != "hello over wss" || m.FromUID != ua.UID {
		t.Fatalf("bob got %+v; want alice's say", m)
	}
	send(t, b, map[string]any{"type": "say", "to_uid": ua.UID, "content": "psst"})
	next(t, a, "say") // her own say to all
	if m := next(t, a, "say"); m.Content != "psst" {
		t.Fatalf("alice got %+v; want bob's private say", m)
	}
	// A ping through the proxy comes back as a pong.
	pong := make(chan string, 1)
	a.SetPongHandler(func(s string) error { pong <- s; return nil })
	if err := a.WriteControl(websocket.PingMessage, []byte("tls-ping"), time.Now().Add(time.Second)); err != nil {
		t.Fatal(err)
	}
	go func() { _, _, _ = a.ReadMessage() }()
	select {
	case s := <-pong:
		if s != "tls-ping" {
			t.Fatalf("pong %q; want tls-ping", s)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no pong through nginx")
	}
	if os.Getenv("CHATD_WSS_MAX_PER_IP") == "2" {
		checkForwarded(t, url, d)
	}
	t.Logf("chatted through nginx at %s", url)
}

// checkForwarded runs with alice and bob connected from 127.0.0.1 and
// chatd started with -trusted-proxies 127.0.0.1/32 -max-conns-per-ip 2:
// chatd counts each connection against the client nginx names in
// X-Forwarded-For, not against nginx, and a header forged by the client
// does not help (nginx appends the real address, the one chatd reads).
func checkForwarded(t *testing.T, url string, d *websocket.Dialer) {
	other := *d
	other.NetDialContext = (&net.Dialer{LocalAddr: &net.TCPAddr{IP: net.IPv4(127, 0, 0, 3)}}).DialContext
	ws, resp, err := other.Dial(url, nil)
	if err != nil {
		t.Fatalf("third client, from 127.0.0.3: %v (%s); want 101: chatd must count it as 127.0.0.3, not as nginx", err, status(resp))
	}
	ws.Close()
	forged := http.Header{"X-Forwarded-For": {"203.0.113.9"}}
	ws, resp, err = d.Dial(url, forged)
	if err == nil {
		ws.Close()
		t.Fatal("third client from 127.0.0.1 with a forged X-Forwarded-For got in; want 429")
	}
	if resp == nil || resp.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("third client from 127.0.0.1 with a forged X-Forwarded-For: %v (%s); want 429", err, status(resp))
	}
}

func status(resp *http.Response) string {
	if resp == nil {
		return "no response"
	}
	return resp.Status
}
