package server

import (
	"time"

	"github.com/gobwas/ws"

	"chatd/codec"
)

// sweep runs on the loop every tick: it closes handshakes that took
// too long, pings open connections every PingInterval, closes connections
// silent for two intervals, and closes lingering ones by CloseTimeout.
// Timers live here, not one per connection.
func (l *loop) sweep() {
	cfg := &l.srv.cfg
	now := time.Now().UnixNano()
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
		case stClosing:
			c.shutWrite()
			if now-c.since > int64(cfg.CloseTimeout) {
				_ = c.gc.Close()
			}
		}
	}
	l.shard.Flush()
}

// keepAlive pings c when due and closes it when it has been silent for two
// ping intervals.
func (l *loop) keepAlive(c *conn, now int64) {
	interval := int64(l.srv.cfg.PingInterval)
	switch {
	case now-c.seen > 2*interval+int64(l.srv.tick): // seen is up to one tick stale
		l.srv.stats.IdleTimeouts.Add(1)
		c.closeWith(ws.StatusGoingAway, "idle timeout")
	case now-c.since >= interval:
		c.since = now
		if c.m != nil {
			l.shard.Enqueue(c.m, codec.PingFrame)
		} else {
			_, _ = c.gc.Write(codec.PingFrame)
		}
	}
}
