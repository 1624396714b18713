package main

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// childNofile is the open-file limit of the exhaustion tests' chatd: small,
// so that they are fast and cannot disturb the machine.
const childNofile = 512

// permissive lifts the limits that would refuse the tests' connections
// before descriptors run out.
var permissive = []string{"-listen", "127.0.0.1:0", "-admin-listen", "127.0.0.1:0", "-loops", "2",
	"-accept-rate", "100000", "-accept-burst", "100000", "-max-conns-per-ip", "100000",
	"-trusted-proxies", "none", "-handshake-timeout", "1m"}

// TestDescriptorExhaustion fills a chatd whose RLIMIT_NOFILE is 512 with
// idle WebSocket connections until it refuses more. The process must stay
// up, its logged-in members must keep chatting, refusals must be clean
// (an HTTP status or a closed connection, never a dead listener), counted
// and logged at most once a second, and new logins must work again once
// connections close. "default" relies on max_conns derived from the
// limit (503 before descriptors run out); "over the limit" sets max_conns
// far above it, so accept itself fails with EMFILE and the server sheds.
func TestDescriptorExhaustion(t *testing.T) {
	for _, tc := range []struct {
		name   string
		args   []string
		metric string
	}{
		{"default", nil, `chatd_handshakes_refused_total{reason="limit"}`},
		{"over the limit", []string{"-max-conns", "100000"}, "chatd_connections_shed_total"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := startChild(t, childNofile, append(append([]string{"-web-listen", "off"}, permissive...), tc.args...)...)
			c.waitServing(30 * time.Second)
			alice, err := login(t, c.chat, "alice")
			if err != nil {
				t.Fatal(err)
			}
			bob, err := login(t, c.chat, "bob")
			if err != nil {
				t.Fatal(err)
			}
			held, refused := fill(t, c.chat, 2*childNofile)
			t.Logf("held %d idle connections; refusals: %v", len(held), refused)
			c.alive()
			if refused["ECONNREFUSED"] > 0 {
				t.Fatalf("the chat listener stopped accepting: %v; logs:\n%s", refused, c.logText())
			}
			chats(t, alice, bob, "still here")
			chats(t, bob, alice, "me too")
			for _, h := range held[:32] {
				h.Close()
			}
			held = held[32:]
			var carol *member
			waitFor(t, 10*time.Second, "a new login after connections closed", func() bool {
				carol, err = login(t, c.chat, "carol")
				return err == nil
			})
			chats(t, carol, alice, "hello again")
			v, err := c.metric(tc.metric)
			if err != nil || v < 1 {
				t.Fatalf("%s = %v, %v; want >= 1", tc.metric, v, err)
			}
			warns := c.logged("connection limit reached") + c.logged("out of file descriptors")
			t.Logf("%s = %v; %d warnings logged", tc.metric, v, warns)
			if warns < 1 || warns > 10 {
				t.Errorf("%d limit warnings logged; want 1 to 10 (rate-limited)", warns)
			}
			for _, h := range held {
				h.Close()
			}
			if code := c.stop(os.Interrupt, 20*time.Second); code != 0 {
				t.Errorf("exit code after SIGINT = %d; want 0", code)
			}
		})
	}
}

// fill opens idle WebSocket connections until 16 in a row are refused or
// max are open; it returns the open ones and the refusals by kind.
func fill(t *testing.T, addr string, max int) ([]*websocket.Conn, map[string]int) {
	var held []*websocket.Conn
	refused := map[string]int{}
	t.Cleanup(func() {
		for _, h := range held {
			h.Close()
		}
	})
	for run := 0; run < 16 && len(held) < max; {
		conn, err := dialWS(addr)
		if err != nil {
			refused[refusal(err)]++
			run++
			continue
		}
		run = 0
		held = append(held, conn)
	}
	return held, refused
}

// TestWebCannotExhaustDescriptors holds idle keep-alive connections to the
// web page of a chatd whose RLIMIT_NOFILE is 512, more than it could hold;
// the web listener's cap keeps descriptors for chat, so a chat login
// still works and the process stays up.
func TestWebCannotExhaustDescriptors(t *testing.T) {
	c := startChild(t, childNofile, append([]string{"-web-listen", "127.0.0.1:0"}, permissive...)...)
	c.waitServing(30 * time.Second)
	var served, waiting []net.Conn
	defer func() {
		for _, h := range append(served, waiting...) {
			h.Close()
		}
	}()
	for i := 0; i < childNofile+100 && len(waiting) < 4; i++ {
		conn, err := net.DialTimeout("tcp", c.web, 5*time.Second)
		if err != nil {
			t.Fatalf("web connect %d: %v", i, err)
		}
		if keepAliveGET(conn, 2*time.Second) == nil {
			served = append(served, conn)
		} else {
			waiting = append(waiting, conn) // past the cap: the rest would wait as well
		}
	}
	t.Logf("web: %d idle keep-alive connections served, %d waiting", len(served), len(waiting))
	if len(waiting) == 0 {
		t.Errorf("all %d web connections were served: no cap", len(served))
	}
	c.alive()
	a, err := login(t, c.chat, "alice")
	if err != nil {
		t.Fatalf("chat login with the web port full: %v; logs:\n%s", err, c.logText())
	}
	b, err := login(t, c.chat, "bob")
	if err != nil {
		t.Fatal(err)
	}
	chats(t, a, b, "the page is busy, the chat is not")
	for _, h := range served {
		h.Close()
	}
	// Waiting connections are served once slots free up.
	if err := readResponse(waiting[len(waiting)-1], 10*time.Second); err != nil {
		t.Errorf("a waiting web request after others closed: %v", err)
	}
	c.alive()
}

// keepAliveGET sends GET / on conn and reads the response, leaving the
// connection open (HTTP/1.1 keep-alive).
func keepAliveGET(conn net.Conn, d time.Duration) error {
	if _, err := fmt.Fprintf(conn, "GET / HTTP/1.1\r\nHost: chatd\r\n\r\n"); err != nil {
		return err
	}
	return readResponse(conn, d)
}

func readResponse(conn net.Conn, d time.Duration) error {
	_ = conn.SetReadDeadline(time.Now().Add(d))
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		return fmt.Errorf("status %d", resp.StatusCode)
	}
	buf := make([]byte, 32<<10)
	for {
		if _, err := resp.Body.Read(buf); err != nil {
			if err == io.EOF {
				return nil
			}
			return err
		}
	}
}
