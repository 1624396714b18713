package server_test

import (
	"errors"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/gobwas/ws"

	"chatd/server"
)

// seedRequest is the browser's upgrade request of the seed, verbatim.
const seedRequest = "GET / HTTP/1.1\r\n" +
	"Host: 127.0.0.1:7272\r\n" +
	"User-Agent: Mozilla/5.0 (X11; Ubuntu; Linux i686; rv:31.0) Gecko/20100101 Firefox/31.0\r\n" +
	"Accept: text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8\r\n" +
	"Accept-Language: zh-cn,zh;q=0.8,en-us;q=0.5,en;q=0.3\r\n" +
	"Accept-Encoding: gzip, deflate\r\n" +
	"Sec-WebSocket-Version: 13\r\n" +
	"Origin: http://127.0.0.1:55151\r\n" +
	"Sec-WebSocket-Key: zPDr6m4czzUdOFnsxIUEAw==\r\n" +
	"Cookie: Hm_lvt_abcf9330bef79b4aba5b24fa373506d9=1402048017; Hm_lvt_5fedb3bdce89499492c079ab4a8a0323=1403063068,1403141761; Hm_lvt_7b1919221e89d2aa5711e4deb935debd=1407836536; Hm_lpvt_7b1919221e89d2aa5711e4deb935debd=1407837000\r\n" +
	"Connection: keep-alive, Upgrade\r\n" +
	"Pragma: no-cache\r\n" +
	"Cache-Control: no-cache\r\n" +
	"Upgrade: websocket\r\n" +
	"\r\n"

// seedAccept is the server's Sec-WebSocket-Accept in the seed.
const seedAccept = "nSsCeIBUsFnDJCRb/BNlFzBUDpM="

// TestE2EHandshake checks accepted upgrade requests, written whole and
// one byte per write, and that the connection then works.
func TestE2EHandshake(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, req, accept string
	}{
		{"seed", seedRequest, seedAccept},
		{"rfc sample", upgradeRequest("/"), sampleAccept},
		{"any path", upgradeRequest("/chat?room=1"), sampleAccept},
		{"lower case", "GET / HTTP/1.1\r\nhost: x\r\nupgrade: WebSocket\r\nconnection: keep-alive, upgrade\r\n" +
			"sec-websocket-key: " + sampleKey + "\r\nsec-websocket-version: 13\r\n\r\n", sampleAccept},
	}
	ts := startServer(t)
	for i, tt := range tests {
		for _, split := range []bool{false, true} {
			name := tt.name
			if split {
				name += "/1-byte writes"
			}
			t.Run(name, func(t *testing.T) {
				t.Parallel()
				r := rawDial(t, ts.addr)
				login := frame(ws.OpText, true, []byte(loginMsg("hs", `"h`+name+string(rune('0'+i))+`"`)))
				if split {
					for j := 0; j < len(tt.req); j++ {
						r.write([]byte{tt.req[j]})
					}
				} else {
					r.write([]byte(tt.req))
				}
				r.expectSwitch(tt.accept)
				r.write(login) // frames split across reads: TestE2ESplitFrames
				r.expectLogin("hs")
			})
		}
	}
}

// TestE2EHandshakeErrors checks the HTTP errors of bad upgrade requests,
// after which the server closes the connection.
func TestE2EHandshakeErrors(t *testing.T) {
	t.Parallel()
	const (
		host = "Host: x\r\n"
		up   = "Upgrade: websocket\r\n"
		conn = "Connection: Upgrade\r\n"
		key  = "Sec-WebSocket-Key: " + sampleKey + "\r\n"
		ver  = "Sec-WebSocket-Version: 13\r\n"
	)
	get := "GET / HTTP/1.1\r\n"
	tests := []struct {
		name   string
		req    string
		status int
		also   int // another acceptable status
	}{
		{"POST", "POST / HTTP/1.1\r\n" + host + up + conn + key + ver + "Content-Length: 0\r\n\r\n", 405, 0},
		{"PUT", "PUT / HTTP/1.1\r\n" + host + up + conn + key + ver + "\r\n", 405, 0},
		{"version 8", get + host + up + conn + key + "Sec-WebSocket-Version: 8\r\n\r\n", 426, 0},
		{"no upgrade", get + host + conn + key + ver + "\r\n", 400, 0},
		{"upgrade h2c", get + host + "Upgrade: h2c\r\n" + conn + key + ver + "\r\n", 400, 0},
		{"no connection", get + host + up + key + ver + "\r\n", 400, 0},
		{"connection close", get + host + up + "Connection: close\r\n" + key + ver + "\r\n", 400, 0},
		{"no key", get + host + up + conn + ver + "\r\n", 400, 0},
		{"short key", get + host + up + conn + "Sec-WebSocket-Key: abc\r\n" + ver + "\r\n", 400, 0},
		{"no host", get + up + conn + key + ver + "\r\n", 400, 0},
		{"HTTP/1.0", "GET / HTTP/1.0\r\n" + host + up + conn + key + ver + "\r\n", 400, 505},
		{"garbage", "HELLO\r\n\r\n", 400, 0},
		{"bare newlines", "GET / HTTP/1.1\n" + host + "\n\n", 400, 0},
		{"headers over 8KiB", get + host + up + conn + key + ver + "X-Pad: " + strings.Repeat("p", 9000) + "\r\n\r\n", 431, 0},
		{"many headers over 8KiB", get + host + strings.Repeat("X-Pad: "+strings.Repeat("p", 90)+"\r\n", 100) + up + conn + key + ver + "\r\n", 431, 0},
	}
	ts := startServer(t)
	t.Run("group", func(t *testing.T) {
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				t.Parallel()
				r := rawDial(t, ts.addr)
				r.write([]byte(tt.req))
				resp := r.response()
				if resp.StatusCode != tt.status && (tt.also == 0 || resp.StatusCode != tt.also) {
					t.Fatalf("upgrade(%q) status = %d; want %d", tt.name, resp.StatusCode, tt.status)
				}
				if tt.status == 426 && resp.Header.Get("Sec-WebSocket-Version") != "13" {
					t.Errorf("426 Sec-WebSocket-Version = %q; want \"13\" (RFC 6455 4.4)", resp.Header.Get("Sec-WebSocket-Version"))
				}
				expectClosed(t, r)
			})
		}
	})
	if got := ts.srv.Stats().Refused.Load(); got != int64(len(tests)) {
		t.Errorf("Stats().Refused = %d; want %d", got, len(tests))
	}
	if got := ts.srv.Stats().Upgraded.Load(); got != 0 {
		t.Errorf("Stats().Upgraded = %d; want 0", got)
	}
}

// expectClosed reads (and drops) the rest of the response and checks that
// the server closes the connection.
func expectClosed(t *testing.T, r *rawClient) {
	t.Helper()
	_ = r.nc.SetReadDeadline(time.Now().Add(readTimeout))
	_, err := io.Copy(io.Discard, r.br)
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		t.Fatalf("connection still open %v after the response", readTimeout)
	}
}

// TestE2EHandshakeTimeout checks that a connection that does not complete
// its handshake in HandshakeTimeout is closed (with 408 or without a
// response), slow-writing ones included, and that others are unaffected.
func TestE2EHandshakeTimeout(t *testing.T) {
	t.Parallel()
	const timeout = 300 * time.Millisecond
	tests := []struct {
		name  string
		start string
		drip  bool // keep writing one byte every 50ms
	}{
		{"silent", "", false},
		{"partial request", "GET / HTTP/1.1\r\nHost: x\r\n", false},
		{"slowloris", "GET / HTTP/1.1\r\nHost: x\r\nX-Slow: ", true},
	}
	ts := startServer(t, func(c *server.Config) { c.HandshakeTimeout = timeout })
	t.Run("group", func(t *testing.T) {
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				t.Parallel()
				r := rawDial(t, ts.addr)
				start := time.Now()
				if tt.start != "" {
					r.write([]byte(tt.start))
				}
				stop := make(chan struct{})
				defer close(stop)
				if tt.drip {
					go drip(r.nc, stop)
				}
				_ = r.nc.SetReadDeadline(time.Now().Add(readTimeout))
				got, err := io.ReadAll(r.br)
				elapsed := time.Since(start)
				var ne net.Error
				if errors.As(err, &ne) && ne.Timeout() {
					t.Fatalf("connection still open after %v (HandshakeTimeout %v)", elapsed, timeout)
				}
				if len(got) > 0 && !strings.HasPrefix(string(got), "HTTP/1.1 408 ") {
					t.Fatalf("response = %q; want 408 or none", got)
				}
				if elapsed < timeout-20*time.Millisecond {
					t.Errorf("closed after %v; want no earlier than HandshakeTimeout %v", elapsed, timeout)
				}
				if elapsed > timeout+2*time.Second {
					t.Errorf("closed after %v; want soon after HandshakeTimeout %v", elapsed, timeout)
				}
			})
		}
		t.Run("normal client meanwhile", func(t *testing.T) {
			t.Parallel()
			c := dial(t, ts.addr, "ok")
			c.login("ok", "")
		})
	})
	if got := ts.srv.Stats().HandshakeTimeouts.Load(); got != int64(len(tests)) {
		t.Errorf("Stats().HandshakeTimeouts = %d; want %d", got, len(tests))
	}
}

// drip writes one header byte every 50ms until stop or a write error.
func drip(nc net.Conn, stop <-chan struct{}) {
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-stop:
			return
		case <-tick.C:
			_ = nc.SetWriteDeadline(time.Now().Add(time.Second))
			if _, err := nc.Write([]byte("a")); err != nil {
				return
			}
		}
	}
}
