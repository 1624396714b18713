package main

import (
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// TestRestartOnSamePort stops a chatd with 1,000 connected clients, by a
// drain (SIGTERM) and by SIGKILL, and starts a new one on the same port at
// once: the closed connections' TIME_WAIT must not keep it from binding
// (SO_REUSEADDR on the chat listener).
func TestRestartOnSamePort(t *testing.T) {
	const clients = 1000
	for _, tc := range []struct {
		name string
		sig  os.Signal
	}{
		{"drain", syscall.SIGTERM},
		{"kill", syscall.SIGKILL},
	} {
		t.Run(tc.name, func(t *testing.T) {
			args := []string{"-listen", "127.0.0.1:0", "-web-listen", "off", "-admin-listen", "off",
				"-loops", "2", "-accept-rate", "100000", "-accept-burst", "100000",
				"-max-conns-per-ip", "100000", "-trusted-proxies", "none"}
			old := startChild(t, 0, args...)
			old.waitServing(30 * time.Second)
			addr := old.chat
			wg := connectIdle(t, addr, clients)
			start := time.Now()
			_ = old.cmd.Process.Signal(tc.sig)
			select {
			case <-old.exited:
			case <-time.After(30 * time.Second):
				t.Fatalf("chatd did not exit within 30s of %v", tc.sig)
			}
			stopped := time.Now()
			args[1] = addr
			next := startChild(t, 0, args...)
			next.waitServing(30 * time.Second)
			bound := time.Since(stopped)
			wg.Wait()
			t.Logf("%d clients: %v took %v; the new chatd served on %s %v after the old one exited; TIME_WAIT on the port now: %d",
				clients, tc.sig, stopped.Sub(start).Round(time.Millisecond), addr, bound.Round(time.Millisecond), timeWait(addr))
			if _, err := login(t, addr, "alice"); err != nil {
				t.Fatalf("login to the restarted chatd: %v", err)
			}
			if code := next.stop(syscall.SIGTERM, 20*time.Second); code != 0 {
				t.Errorf("exit code after SIGTERM = %d; want 0", code)
			}
		})
	}
}

// connectIdle connects n WebSocket clients that read until the server goes
// away (answering its close) and then close their side; the WaitGroup is
// done when all have.
func connectIdle(t *testing.T, addr string, n int) *sync.WaitGroup {
	t.Helper()
	conns := make([]*websocket.Conn, n)
	var mu sync.Mutex
	var firstErr error
	var dials sync.WaitGroup
	for w := 0; w < 8; w++ {
		dials.Add(1)
		go func() {
			defer dials.Done()
			for i := w; i < n; i += 8 {
				c, err := dialWS(addr)
				mu.Lock()
				if err != nil && firstErr == nil {
					firstErr = err
				}
				conns[i] = c
				mu.Unlock()
			}
		}()
	}
	dials.Wait()
	if firstErr != nil {
		t.Fatalf("connecting %d clients: %v", n, firstErr)
	}
	var wg sync.WaitGroup
	for _, c := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer c.Close()
			for {
				if _, _, err := c.ReadMessage(); err != nil {
					return
				}
			}
		}()
	}
	return &wg
}

// timeWait counts the TCP sockets in TIME_WAIT on addr's port (ss), -1 if
// ss is missing.
func timeWait(addr string) int {
	i := strings.LastIndexByte(addr, ':')
	out, err := exec.Command("ss", "-Htan", "state", "time-wait", "( sport = :"+addr[i+1:]+" )").Output()
	if err != nil {
		return -1
	}
	return strings.Count(string(out), "\n")
}
