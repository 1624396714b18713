package server

import (
	"time"

	"github.com/gobwas/ws"

	"chatd/codec"
)

// sweep runs on the loop every tick: it closes handshakes that took
// too long, pings open connections every PingInterval (and members of the
// current dialect with a text ping every TextPingInterval), closes
// connections silent for two intervals, and closes lingering ones by
// CloseTimeout. Timers live here, not one per connection.
func (l *loop) sweep() {
	cfg := &l.srv.cfg
	now := time.Now().UnixNano()
	prev := l.swept
	l.swept = now
	for i := len(l.conns) - 1; i >= 0; i-- {
		if i >= len(l.conns) {
			continue // a close removed connections behind us
		}
		c := l.conns[i]
		switch c.state {
		case stHandshake:
			if now-c.since > int64(cfg.HandshakeTimeout) {
				l.srv.stats.HandshakeTimeouts.Add(1)
				c.refuse(&codec.HTTPError{Status: 408, Reason: "handshake timeout"})
			}
		case stOpen:
			l.keepAlive(c, now)
			if c.state == stOpen && prev != 0 {
				l.textPing(c, prev, now)
			}
		case stClosing:
			c.shutWrite()
			if now-c.since > int64(cfg.CloseTimeout) {
				_ = c.gc.Close()
			}
		}
	}
	l.answerHeld(now)
	l.shard.Flush()
}

// keepAlive pings c when due and closes it when it has been silent for two
// ping intervals.
func (l *loop) keepAlive(c *conn, now int64) {
	interval := int64(l.srv.cfg.PingInterval)
	switch {
	case now-c.in.last > 2*interval+int64(l.srv.tick): // the last input is up to one tick stale
		l.srv.stats.IdleTimeouts.Add(1)
		c.closeWith(ws.StatusGoingAway, "idle timeout")
	case now-c.since >= interval:
		c.since = now
		if m := c.mem(); m != nil {
			l.shard.Enqueue(m, codec.PingFrame)
		} else {
			_, _ = c.gc.Write(codec.PingFrame)
		}
	}
}

// textPing queues the current dialect's text ping for c's member when one
// of its ping times falls in (prev, now], the time since the last sweep.
// A member's ping times are TextPingInterval apart, shifted by an offset
// drawn from its uid, so that a loop's members are not all pinged in the
// same sweep; the sweep's own clock is the only state (no per-connection
// timer or field).
func (l *loop) textPing(c *conn, prev, now int64) {
	iv := int64(l.srv.cfg.TextPingInterval)
	m := c.mem()
	if iv <= 0 || m == nil || !m.LoggedIn() || m.Dialect() != codec.DialectCurrent {
		return
	}
	off := int64(m.UID()*0x9e3779b97f4a7c15>>1) % iv // Fibonacci hashing spreads consecutive uids
	if (now+off)/iv != (prev+off)/iv {
		l.shard.Enqueue(m, codec.TextPingFrame)
	}
}
