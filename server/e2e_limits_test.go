package server_test

// Admission control against one hostile address: a flooder must not spend
// what other addresses need (the accept-rate bucket, handshake slots), and
// X-Forwarded-For is believed only from proxies the operator names. The
// clients bind their source address (127.0.0.0/8 is all loopback on
// Linux), so each test has several distinct client addresses.

import (
	"bufio"
	"context"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"chatd/server"
)

// fromDialer dials from the loopback address src.
func fromDialer(src string) *net.Dialer {
	return &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(src)}, Timeout: 5 * time.Second}
}

// wsFrom opens a WebSocket from src and returns the connection (nil when
// refused) and the HTTP status of the answer.
func wsFrom(t *testing.T, addr, src string, hdr http.Header) (*websocket.Conn, int, string) {
	t.Helper()
	d := websocket.Dialer{
		NetDialContext:   fromDialer(src).DialContext,
		HandshakeTimeout: 5 * time.Second,
	}
	ws, resp, err := d.Dial("ws://"+addr+"/", hdr)
	if err == nil {
		t.Cleanup(func() { _ = ws.Close() })
		return ws, 101, ""
	}
	if resp == nil {
		t.Fatalf("dial from %s: %v", src, err)
	}
	body, _ := io.ReadAll(resp.Body)
	return nil, resp.StatusCode, strings.TrimSpace(string(body))
}

// rawFrom opens a TCP connection from src that sends nothing yet.
func rawFrom(t *testing.T, addr, src string) *hRawConn {
	t.Helper()
	nc, err := fromDialer(src).Dial("tcp", addr)
	if err != nil {
		t.Fatalf("dial from %s: %v", src, err)
	}
	t.Cleanup(func() { _ = nc.Close() })
	return &hRawConn{nc: nc, br: bufio.NewReader(nc)}
}

// TestLimitsFlooderKeepsBucket: an address hammering past its per-address
// limit only ever gets 429, and the accept-rate bucket it would have
// emptied is still there for a newcomer from another address.
func TestLimitsFlooderKeepsBucket(t *testing.T) {
	hs := hStart(t, func(c *server.Config) {
		c.MaxConnsPerIP = 3
		c.AcceptRate, c.AcceptBurst = 1, 10
	})
	const flooder, newcomer = "127.0.0.2", "127.0.0.3"
	for i := 0; i < 3; i++ {
		if _, st, body := wsFrom(t, hs.addr, flooder, nil); st != 101 {
			t.Fatalf("flooder connection %d: %d %q; want 101", i, st, body)
		}
	}
	var tries, per429 atomic.Int64
	var mu sync.Mutex
	other := map[int]string{}
	ctx, stop := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				_, st, body := wsFrom(t, hs.addr, flooder, nil)
				tries.Add(1)
				if st == 429 {
					per429.Add(1)
					continue
				}
				mu.Lock()
				other[st] = body
				mu.Unlock()
			}
		}()
	}
	waitFor(t, 20*time.Second, "200 flood attempts", func() bool { return tries.Load() >= 200 })
	_, st, body := wsFrom(t, hs.addr, newcomer, nil)
	stop()
	wg.Wait()
	t.Logf("flooder: %d attempts, %d got 429, others %v", tries.Load(), per429.Load(), other)
	if st != 101 {
		t.Fatalf("newcomer from %s during the flood: %d %q; want 101", newcomer, st, body)
	}
	if len(other) > 0 {
		t.Fatalf("flooder past its limit got %v; want only 429", other)
	}
}

// TestLimitsPendingHandshakes: an address that opens connections and
// never finishes their handshakes is refused with 429 once it holds
// MaxHandshakesPerIP of them (counted in the metrics), while another
// address still gets in; a completed handshake frees its slot.
func TestLimitsPendingHandshakes(t *testing.T) {
	hs := hStart(t, func(c *server.Config) {
		adminOn(c)
		c.MaxHandshakesPerIP = 4
		c.HandshakeTimeout = 30 * time.Second // the idle ones must stay pending
	})
	const slow, newcomer = "127.0.0.2", "127.0.0.3"
	var idle []*hRawConn
	for i := 0; i < 4; i++ {
		idle = append(idle, rawFrom(t, hs.addr, slow))
	}
	hWaitOpen(t, hs, 4)
	rc := rawFrom(t, hs.addr, slow)
	resp := rc.response(t)
	if resp.code != 429 || !strings.Contains(resp.body, "handshakes in progress") {
		t.Fatalf("fifth pending handshake from %s: %d %q; want 429 too many handshakes in progress", slow, resp.code, resp.body)
	}
	if _, st, body := wsFrom(t, hs.addr, newcomer, nil); st != 101 {
		t.Fatalf("newcomer from %s: %d %q; want 101", newcomer, st, body)
	}
	// Finishing one handshake frees a slot for the slow address.
	idle[0].write(t, []byte(hUpgradeRequest+"\r\n"))
	if st := idle[0].status(t); st != 101 {
		t.Fatalf("completing a pending handshake: status %d; want 101", st)
	}
	if _, st, body := wsFrom(t, hs.addr, slow, nil); st != 101 {
		t.Fatalf("after one handshake completed, %s: %d %q; want 101", slow, st, body)
	}
	m := scrape(t, hs)
	if got := m[`chatd_handshakes_refused_total{reason="handshakes_per_ip"}`]; got != 1 {
		t.Fatalf(`chatd_handshakes_refused_total{reason="handshakes_per_ip"} = %v; want 1`, got)
	}
}

// TestLimitsTrustedProxies: X-Forwarded-For from loopback is ignored
// unless the operator names the proxy; then the limit applies to the
// forwarded client.
func TestLimitsTrustedProxies(t *testing.T) {
	upgrade := func(hs *hServer, xff string) int {
		rc := hRawDial(t, hs.addr)
		rc.write(t, []byte(hUpgradeRequest+"X-Forwarded-For: "+xff+"\r\n\r\n"))
		return rc.status(t)
	}
	t.Run("default trusts nobody", func(t *testing.T) {
		hs := hStart(t, func(c *server.Config) { c.MaxConnsPerIP = 2; c.TrustedProxies = nil })
		for i, xff := range []string{"203.0.113.1", "203.0.113.2"} {
			if st := upgrade(hs, xff); st != 101 {
				t.Fatalf("connection %d: status %d; want 101", i, st)
			}
		}
		// A forged address does not escape the peer's own limit.
		if st := upgrade(hs, "203.0.113.3"); st != 429 {
			t.Fatalf("third connection from 127.0.0.1 with a forged X-Forwarded-For: status %d; want 429", st)
		}
	})
	t.Run("named proxy", func(t *testing.T) {
		hs := hStart(t, func(c *server.Config) { c.MaxConnsPerIP = 2; c.TrustedProxies = []string{"127.0.0.1/32"} })
		for i, xff := range []string{"203.0.113.1", "203.0.113.2", "203.0.113.3", "203.0.113.1"} {
			if st := upgrade(hs, xff); st != 101 {
				t.Fatalf("connection %d for %s: status %d; want 101", i, xff, st)
			}
		}
		if st := upgrade(hs, "198.51.100.9, 203.0.113.1"); st != 429 {
			t.Fatalf("third connection for 203.0.113.1: status %d; want 429", st)
		}
		// Another loopback address is not the named proxy: its header is
		// ignored and it is limited by its own address.
		for i := 0; i < 2; i++ {
			if _, st, body := wsFrom(t, hs.addr, "127.0.0.2", http.Header{"X-Forwarded-For": {"203.0.113.50"}}); st != 101 {
				t.Fatalf("connection %d from 127.0.0.2: %d %q; want 101", i, st, body)
			}
		}
		if _, st, _ := wsFrom(t, hs.addr, "127.0.0.2", http.Header{"X-Forwarded-For": {"203.0.113.51"}}); st != 429 {
			t.Fatalf("third connection from 127.0.0.2 (not a trusted proxy): status %d; want 429", st)
		}
	})
}

type hResp struct {
	code int
	body string
}

// response reads an HTTP response with its body.
func (rc *hRawConn) response(t *testing.T) hResp {
	t.Helper()
	_ = rc.nc.SetReadDeadline(time.Now().Add(5 * time.Second))
	resp, err := http.ReadResponse(rc.br, nil)
	if err != nil {
		t.Fatalf("reading response: %v", err)
	}
	b, _ := io.ReadAll(resp.Body)
	return hResp{resp.StatusCode, strings.TrimSpace(string(b))}
}

// TestLimitsRefusedDoNotFillServer: an address whose refused connections
// never close (it reads its 429 and holds the socket) cannot fill
// MaxConns with them: past MaxHandshakesPerIP lingering refusals, its
// new connections are closed at once, and a newcomer from another
// address still gets in.
func TestLimitsRefusedDoNotFillServer(t *testing.T) {
	hs := hStart(t, func(c *server.Config) {
		c.MaxConns, c.MaxConnsPerIP, c.MaxHandshakesPerIP = 100, 3, 8
		c.CloseTimeout = 30 * time.Second // the refusals would linger all test long
	})
	const flooder, newcomer = "127.0.0.2", "127.0.0.3"
	for i := 0; i < 3; i++ {
		if _, st, body := wsFrom(t, hs.addr, flooder, nil); st != 101 {
			t.Fatalf("flooder connection %d: %d %q; want 101", i, st, body)
		}
	}
	var refused int
	for i := 0; i < 300; i++ {
		nc, err := fromDialer(flooder).Dial("tcp", hs.addr)
		if err != nil {
			continue // the server may reset it at once: that is the point
		}
		t.Cleanup(func() { _ = nc.Close() })
		if i < 8 {
			rc := &hRawConn{nc: nc, br: bufio.NewReader(nc)}
			if resp := rc.response(t); resp.code != 429 {
				t.Fatalf("refused connection %d: %d %q; want 429", i, resp.code, resp.body)
			}
			refused++
		}
	}
	open := hs.srv.Stats().Open.Load()
	t.Logf("open connections after the flood: %d (%d refusals read)", open, refused)
	if _, st, body := wsFrom(t, hs.addr, newcomer, nil); st != 101 {
		t.Fatalf("newcomer from %s: %d %q; want 101 (open %d)", newcomer, st, body, open)
	}
}
