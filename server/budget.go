package server

import (
	"github.com/gobwas/ws"

	"chatd/codec"
)

// budget is a connection's input budget: three token buckets, refilled
// together on every read from one timestamp, which is also the time of the
// connection's last input (the idle timeout's clock).
//
//   - messages (MessageRate, MessageBurst): data messages and pings; past
//     it the client gets rate_limited, and past MaxRateLimited of those
//     in a row 1008 (allow, limits.go);
//   - frames (FrameRate, FrameBurst) and bytes (ByteRate, ByteBurst):
//     every frame of every kind, charged as it is parsed; past either
//     the connection is closed with 1008 at once (the burst is the
//     tolerance: a client past it has exceeded the rate for that long).
//
// Owned by the connection's loop. The time is the server's coarse clock
// (one tick, at most 100ms, per step), which is why Config requires each
// burst to cover half a second of its rate. float32 tokens keep the
// struct at 24 bytes: it replaced a 16-byte message bucket and the 8-byte
// last-input time, so conn did not grow (TestConnSize); float32 counts
// whole tokens exactly up to 2^24, well above every default burst, and
// bursts lifted beyond that (benchmarks) only lose precision, not
// tokens they need.
type budget struct {
	last    int64   // coarse unix nanos of the last refill: the last input
	msgs    float32 // message tokens
	frames  float32 // frame tokens
	bytes   float32 // byte tokens
	strikes int32   // rate_limited replies since the message bucket was last full
}

// fill starts a full budget at now.
func (b *budget) fill(cfg *Config, now int64) {
	*b = budget{last: now, msgs: float32(cfg.MessageBurst),
		frames: float32(cfg.FrameBurst), bytes: float32(cfg.ByteBurst)}
}

// refill adds what the time since the last refill earned, up to each
// burst, and records now as the time of the last input.
func (b *budget) refill(cfg *Config, now int64) {
	if now <= b.last {
		return
	}
	dt := float64(now-b.last) / 1e9
	b.last = now
	b.msgs = refilled(b.msgs, dt*cfg.MessageRate, cfg.MessageBurst)
	if b.msgs >= float32(cfg.MessageBurst) {
		b.strikes = 0 // the client backed off: forgive it
	}
	b.frames = refilled(b.frames, dt*cfg.FrameRate, cfg.FrameBurst)
	b.bytes = refilled(b.bytes, dt*cfg.ByteRate, cfg.ByteBurst)
}

func refilled(tokens float32, earned float64, burst int) float32 {
	return float32(min(float64(tokens)+earned, float64(burst)))
}

// takeMessage takes a message token; without one it counts a strike.
func (b *budget) takeMessage() bool {
	if b.msgs >= 1 {
		b.msgs--
		return true
	}
	b.strikes++
	return false
}

// take charges n bytes (of frame headers and payloads) and, if they end
// a frame, one frame. It returns "" while both buckets hold, else the
// close reason.
func (b *budget) take(n int, end bool) string {
	if end {
		b.frames--
	}
	b.bytes -= float32(n)
	switch {
	case b.frames < 0:
		return "frame rate exceeded"
	case b.bytes < 0:
		return "byte rate exceeded"
	}
	return ""
}

// chargeFrame charges n parsed bytes to the connection's budget, and a
// frame if they ended one (a text frame streaming in is parsed in parts;
// see codec.Parser.InFrame). The /echo endpoint is exempt. Past the
// budget the connection is closed with 1008 and chargeFrame returns
// false: what was parsed must not be handled.
func (c *conn) chargeFrame(n int, end bool) bool {
	if c.echo {
		return true
	}
	reason := c.in.take(n, end)
	if reason == "" {
		return true
	}
	s := c.l.srv
	s.ops.limits.rateClosed.Add(1)
	s.warnAbuse("closing flooding connection ("+reason+")", c)
	c.cutOff(reason)
	return false
}

// cutOff closes a flooding connection with 1008 and reason at once,
// without lingering for its close: lingering would mean reading (and
// discarding) the flood for CloseTimeout, which measured as most of the
// loop's time under the attack. The close frame is written
// before the socket is closed, so it precedes the reset that the unread
// input causes (as for slow consumers, Server.onSlow). The socket is
// closed when the callback ends (stCut): OnTraffic returns gnet.Close,
// which also stops gnet's read loop; resume closes it itself.
func (c *conn) cutOff(reason string) {
	c.retire()
	c.l.out = codec.AppendClose(c.l.out, ws.StatusPolicyViolation, reason)
	c.l.flushOut(c.gc)
	c.state = stCut
}
