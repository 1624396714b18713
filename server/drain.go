package server

import (
	"context"
	"time"

	"github.com/gobwas/ws"
	"github.com/panjf2000/gnet/v2"

	"chatd/codec"
)

// errShuttingDown answers an upgrade request still pending during a drain.
var errShuttingDown = &codec.HTTPError{Status: 503, Reason: "server shutting down"}

// drain is the graceful part of shutdown. New connections are refused
// (OnOpen closes them) and /readyz says 503 from its first instant; then
// every loop closes up to DrainBatch connections with 1001 per step,
// DrainInterval apart, each after its pending room output has been
// flushed, so that clients do not all reconnect in the same millisecond.
// Finally it waits for the closing handshakes, all within DrainTimeout.
func (s *Server) drain() {
	s.draining.Store(true)
	start := time.Now()
	deadline := start.Add(s.cfg.DrainTimeout)
	steps := 0
	for time.Now().Before(deadline) {
		steps++
		if s.drainStep(time.Until(deadline)) == 0 {
			break
		}
		sleepUntil(time.Now().Add(s.cfg.DrainInterval), deadline)
	}
	for s.stats.Open.Load() > 0 && time.Now().Before(deadline) {
		sleepUntil(time.Now().Add(10*time.Millisecond), deadline)
	}
	s.log.Info("drained", "steps", steps, "closed", s.ops.drained.Load(),
		"left", s.stats.Open.Load(), "took", time.Since(start).Round(time.Millisecond))
}

func sleepUntil(t, deadline time.Time) {
	if t.After(deadline) {
		t = deadline
	}
	time.Sleep(time.Until(t))
}

// drainStep closes one batch on every loop and returns how many
// connections are still to be closed (bounded wait: a stuck loop does not
// hold the drain past its deadline).
func (s *Server) drainStep(wait time.Duration) int {
	loops := s.loopList()
	left := make(chan int, len(loops))
	for _, l := range loops {
		err := l.el.Execute(context.Background(), gnet.RunnableFunc(func(context.Context) error {
			left <- l.drainBatch(s.cfg.DrainBatch)
			return nil
		}))
		if err != nil {
			left <- 0
		}
	}
	total := 0
	timeout := time.After(wait)
	for range loops {
		select {
		case n := <-left:
			total += n
		case <-timeout:
			return total
		}
	}
	return total
}

// drainBatch closes up to n connections that are not closing yet and
// returns how many are left. Room events already queued for the loop are
// applied and flushed first, so a member gets everything sent to it
// before its close frame. Loop-owned.
func (l *loop) drainBatch(n int) int {
	l.shard.Drain()
	left := 0
	for i := len(l.conns) - 1; i >= 0; i-- {
		if i >= len(l.conns) {
			continue
		}
		c := l.conns[i]
		switch {
		case c.state >= stClosing:
		case n == 0:
			left++
		case c.state == stHandshake:
			n--
			c.refuse(errShuttingDown)
		default:
			n--
			l.srv.ops.drained.Add(1)
			c.closeWith(ws.StatusGoingAway, "server shutting down")
		}
	}
	l.shard.Flush()
	return left
}
