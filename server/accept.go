package server

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/panjf2000/gnet/v2"
	"golang.org/x/sys/unix"
)

// Why chatd accepts chat connections itself.
//
// gnet v2.10's acceptor (acceptor_unix.go, accept0 and accept) ends the
// whole engine on any accept error but EAGAIN, EINTR, ECONNRESET and
// ECONNABORTED: on EMFILE or ENFILE (out of descriptors), ENOBUFS or
// ENOMEM it returns ErrAcceptSocket, the main reactor exits, every loop
// closes its connections and gnet.Run returns nil, and no option changes
// that. Keeping MaxConns below RLIMIT_NOFILE (Config.Normalize) avoids
// EMFILE in the common case but cannot rule it out (descriptors held by
// lingering refusals, NATS, the web page, another process's ENFILE).
//
// So the chat listener is chatd's own: one goroutine accepts on a
// net.TCPListener (parked in Go's netpoller) and hands each connection to
// a loop with Engine.Register (gnet's Enroll: the descriptor is duplicated
// into the loop's poller, OnOpen runs on the loop, the original is
// closed). Out of descriptors, it sheds with the classic spare descriptor
// (libev, nginx, libuv): close the spare, accept the pending connection,
// answer 503 and close it, reopen the spare; so the backlog is answered
// instead of the listener spinning on EMFILE, the connected members are
// not touched, and accepting resumes by itself once descriptors free up.
// Other accept errors are retried after a pause (5ms doubling to 1s, as
// net/http does); only a broken listener (EBADF, EINVAL, ENOTSOCK) ends
// Run with an error, so that the process exits non-zero.
//
// gnet itself listens on a placeholder Unix socket in a private
// directory, unlinked as soon as it is bound (OnBoot): its Engine API
// (Validate, Register, Stop) needs one listener, and nothing can connect
// to an unlinked socket, so gnet's own acceptor never runs. Register uses
// gnet's round-robin balancer, whose next() is not safe for concurrent
// use; the accept goroutine is its only caller.
//
// The cost is a dup, a close and two epoll_ctl calls per connection
// beyond gnet's own accept, a few microseconds at AcceptRate.

// maxHandoffs bounds the connections being handed to loops at once: each
// holds two descriptors and one of gnet's pool goroutines (blocked in
// Register) until its loop has opened it, and the accept goroutine waits
// (the kernel backlog holds the rest) past it. A loop registers them as
// low-priority tasks, at most 256 per pass, between its I/O events, so
// in a reconnect storm a pass that is busy with the storm's closes and
// logins registers at most maxHandoffs connections: at 64, 5,000 clients
// reconnecting at once to one loop overflowed the listen queue 716-766
// times per storm (nstat TcpExtListenOverflows: dropped SYNs, retried by
// the clients a second later), all back after 1.35-1.48 s; at 512, no
// overflow in three storms, all back after 0.63-0.77 s (chatbench storm
// -n 5000 -inflight 0 -loops 1; nbio 1.02-1.28 s). Near the open-file
// limit the extra descriptors at most make the acceptor shed (503) a
// little before max_conns, as it would at max_conns.
const maxHandoffs = 512

// acceptor owns the chat listener.
type acceptor struct {
	// Immutable after newAcceptor.
	s        *Server
	ln       *net.TCPListener
	handoffs chan (<-chan gnet.RegisteredResult) // results of Register, in order, for collect
	stop     chan struct{}                       // closed by close

	// Owned by the accept goroutine.
	spare   int           // reserve descriptor (/dev/null); -1 while it cannot be reopened
	backoff time.Duration // pause after a failed accept; 0 after a success
	scratch []byte        // discards a shed client's request

	// Safe for concurrent use.
	closed atomic.Bool
}

// listenChat binds Listen. Go sets SO_REUSEADDR on every TCP listener on
// Linux, so a restart binds at once although the connections the server
// closed itself (a drain, a kick, a refusal) sit in TIME_WAIT; gnet's
// own listener only set it with WithReuseAddr. SO_REUSEPORT is set when
// the configuration asks for it.
func (s *Server) listenChat() (*acceptor, error) {
	lc := net.ListenConfig{
		KeepAlive: -1, // WebSocket pings find dead peers; no TCP keep-alive setsockopt per accept
		Control: func(_, _ string, rc syscall.RawConn) error {
			if !s.cfg.ReusePort {
				return nil
			}
			var serr error
			err := rc.Control(func(fd uintptr) {
				serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_REUSEPORT, 1)
			})
			return errors.Join(err, serr)
		},
	}
	ln, err := lc.Listen(context.Background(), "tcp", s.cfg.Listen)
	if err != nil {
		return nil, err
	}
	a := &acceptor{s: s, ln: ln.(*net.TCPListener), stop: make(chan struct{}),
		handoffs: make(chan (<-chan gnet.RegisteredResult), maxHandoffs),
		scratch:  make([]byte, 4096)}
	a.spare = openSpare()
	return a, nil
}

func openSpare() int {
	fd, err := unix.Open(os.DevNull, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return -1
	}
	return fd
}

// port returns the listener's port.
func (a *acceptor) port() int { return a.ln.Addr().(*net.TCPAddr).Port }

// start runs the accept and collect goroutines; accept errors that end
// accepting go to errc.
func (a *acceptor) start(errc chan<- error) {
	go a.collect()
	go func() {
		if err := a.run(); err != nil {
			errc <- fmt.Errorf("chat listener %s: %w", a.ln.Addr(), err)
		}
	}()
}

// close stops accepting; idempotent.
func (a *acceptor) close() {
	if a.closed.CompareAndSwap(false, true) {
		close(a.stop)
		_ = a.ln.Close()
	}
}

func (a *acceptor) run() error {
	defer func() {
		if a.spare >= 0 {
			_ = unix.Close(a.spare)
		}
	}()
	for {
		c, err := a.ln.AcceptTCP()
		if err != nil {
			if a.closed.Load() || errors.Is(err, net.ErrClosed) {
				return nil
			}
			if err := a.failed(err); err != nil {
				return err
			}
			continue
		}
		a.backoff = 0
		if !a.handOff(c) {
			return nil
		}
	}
}

// handOff gives c to a loop (OnOpen runs there). It reports false once
// the acceptor is closed.
func (a *acceptor) handOff(c *net.TCPConn) bool {
	ch, err := a.s.eng.Register(gnet.NewNetConnContext(context.Background(), c))
	if err != nil {
		_ = c.Close()
		a.dropped(err)
		return !a.closed.Load()
	}
	select {
	case a.handoffs <- ch:
		return true
	case <-a.stop:
		return false
	}
}

// collect waits for each handoff's result and counts the failures (a
// descriptor that could not be duplicated, a loop that is stopping).
func (a *acceptor) collect() {
	for {
		select {
		case ch := <-a.handoffs:
			select {
			case r, ok := <-ch:
				if ok && r.Err != nil {
					a.dropped(r.Err)
				}
			case <-a.stop:
				return
			}
		case <-a.stop:
			return
		}
	}
}

// dropped counts a connection lost between accept and its loop.
func (a *acceptor) dropped(err error) {
	s := a.s
	if s.draining.Load() || a.closed.Load() {
		return
	}
	s.ops.shed.Add(1)
	s.warnFDs(err)
}

// failed handles an accept error; it returns an error only when the
// listener is broken for good.
func (a *acceptor) failed(err error) error {
	switch {
	case errors.Is(err, unix.EMFILE), errors.Is(err, unix.ENFILE):
		if a.shed() {
			return nil
		}
		a.s.warnFDs(err)
	case errors.Is(err, unix.EBADF), errors.Is(err, unix.EINVAL), errors.Is(err, unix.ENOTSOCK):
		return err
	default:
		a.s.ops.acceptErrors.Add(1)
		if ok, muted := a.s.ops.acceptWarn.allow(time.Now().UnixNano()); ok {
			a.s.log.Warn("chat accept failed; retrying", "err", err, "suppressed", muted)
		}
	}
	a.pause()
	return nil
}

// pause sleeps after a failed accept: 5ms, doubling up to 1s.
func (a *acceptor) pause() {
	a.backoff = min(max(2*a.backoff, 5*time.Millisecond), time.Second)
	select {
	case <-time.After(a.backoff):
	case <-a.stop:
	}
}

// shed frees the spare descriptor, accepts one pending connection with
// it, answers 503 and closes it, and takes the spare back. It reports
// false when there was no spare or no connection could be accepted (the
// caller pauses).
func (a *acceptor) shed() bool {
	if a.spare < 0 {
		if a.spare = openSpare(); a.spare < 0 {
			return false
		}
	}
	_ = unix.Close(a.spare)
	// Bounded: the pending connection may have gone meanwhile, and the
	// descriptor must not stay free for long.
	_ = a.ln.SetDeadline(time.Now().Add(10 * time.Millisecond))
	c, err := a.ln.AcceptTCP()
	_ = a.ln.SetDeadline(time.Time{})
	if err == nil {
		a.refuse(c)
		a.s.ops.shed.Add(1)
		a.s.warnFDs(unix.EMFILE)
	}
	a.spare = openSpare()
	return err == nil
}

// refuse answers 503 to a connection that cannot be served and closes
// it. The request already received is read first, so that closing sends
// FIN rather than a reset that could discard the answer.
func (a *acceptor) refuse(c *net.TCPConn) {
	if rc, err := c.SyscallConn(); err == nil {
		_ = rc.Read(func(fd uintptr) bool {
			_, _ = unix.Read(int(fd), a.scratch)
			return true // one non-blocking read: whatever has arrived
		})
	}
	_ = c.SetWriteDeadline(time.Now().Add(100 * time.Millisecond))
	_, _ = c.Write(respTooManyConns)
	_ = c.Close()
}

// warnFDs logs that connections are shed for lack of descriptors, at
// most once a second.
func (s *Server) warnFDs(err error) {
	if ok, muted := s.ops.fdWarn.allow(time.Now().UnixNano()); ok {
		s.log.Warn("out of file descriptors: shedding new chat connections with 503 (raise LimitNOFILE or lower max_conns)",
			"err", err, "shed_total", s.ops.shed.Load(), "suppressed", muted)
	}
}

// warnLimiter lets a warning through at most once a second, counting the
// ones it holds back. Safe for concurrent use.
type warnLimiter struct {
	last  atomic.Int64 // unix nanos of the last warning let through
	muted atomic.Int64 // warnings held back since
}

// allow reports whether a warning may be logged at now, and how many were
// held back since the last one.
func (w *warnLimiter) allow(now int64) (bool, int64) {
	last := w.last.Load()
	if now-last < int64(time.Second) || !w.last.CompareAndSwap(last, now) {
		w.muted.Add(1)
		return false, 0
	}
	return true, w.muted.Swap(0)
}

// placeholder returns the address of gnet's placeholder listener (see the
// comment at the top of this file) in a new private directory.
func placeholder() (dir, addr string, err error) {
	dir, err = os.MkdirTemp("", "chatd-gnet-")
	if err != nil {
		return "", "", fmt.Errorf("placeholder socket: %w", err)
	}
	return dir, "unix://" + filepath.Join(dir, "unused.sock"), nil
}
