package server

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

func startInternal(t *testing.T) (*Server, chan error) {
	t.Helper()
	s, err := New(Config{Listen: "127.0.0.1:0", WebListen: "127.0.0.1:0", AdminListen: "127.0.0.1:0",
		Loops: 2, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	errc := make(chan error, 1)
	go func() { errc <- s.Run(ctx) }()
	select {
	case <-s.Ready():
	case err := <-errc:
		t.Fatalf("Run: %v", err)
	}
	waitListening(t, s)
	return s, errc
}

// waitListening waits for the "chatd serving" state: admin and web bound.
func waitListening(t *testing.T, s *Server) {
	deadline := time.Now().Add(10 * time.Second)
	for s.AdminAddr() == "" || s.WebAddr() == "" {
		if time.Now().After(deadline) {
			t.Fatal("listeners not up within 10s")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestEngineStopIsAnError: when the chat engine's loops end while nobody
// asked the server to stop (gnet ends them on an accept error it does not
// retry, for one), Run returns ErrEngineStopped, so that chatd exits
// non-zero and a supervisor restarts it.
func TestEngineStopIsAnError(t *testing.T) {
	s, errc := startInternal(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = s.eng.Stop(ctx)
	select {
	case err := <-errc:
		if !errors.Is(err, ErrEngineStopped) {
			t.Fatalf("Run after the engine stopped by itself = %v; want %v", err, ErrEngineStopped)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("Run did not return within 15s of the engine stopping")
	}
}

// TestListenersReuseAddr: the chat, web and admin listeners set
// SO_REUSEADDR, so a restart binds while the connections the server
// closed are in TIME_WAIT (the process-level test is
// cmd/chatd TestRestartOnSamePort).
func TestListenersReuseAddr(t *testing.T) {
	s, _ := startInternal(t)
	s.mu.Lock()
	webLn := s.webLn
	s.mu.Unlock()
	s.ops.mu.Lock()
	adminLn := s.ops.adminLn
	s.ops.mu.Unlock()
	for _, tc := range []struct {
		name string
		ln   net.Listener
	}{{"chat", s.acc.ln}, {"web", webLn}, {"admin", adminLn}} {
		v := -1
		ln := tc.ln
		if c, ok := ln.(*cappedListener); ok {
			ln = c.Listener
		}
		rc, err := ln.(*net.TCPListener).SyscallConn()
		if err != nil {
			t.Fatal(err)
		}
		_ = rc.Control(func(fd uintptr) { v, err = unix.GetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_REUSEADDR) })
		if err != nil || v != 1 {
			t.Errorf("%s listener SO_REUSEADDR = %d, %v; want 1", tc.name, v, err)
		}
	}
}
