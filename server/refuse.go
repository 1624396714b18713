package server

import (
	"bytes"

	"github.com/panjf2000/gnet/v2"
)

// Held refusals. A connection that the accept-rate bucket refuses gets
// its 503 (Retry-After: 1) after RefuseDelay rather than at once.
// workerman-chat's page reconnects the moment a connection fails, with no
// back-off, and browsers only space such retries by milliseconds: answered
// at once, every page of a reconnect storm that finds the bucket empty
// would loop accept, refuse, close as fast as the network allows, burning
// CPU on both sides while the bucket refills. Held, each such client makes
// at most one attempt per RefuseDelay. A held connection costs no CPU: it
// is not parsed (its input is discarded), and it waits in its loop's held
// list, oldest first, until the sweep answers it and lets it linger as
// any refusal does. Other refusals at accept (the connection and
// per-address limits) are answered at once: holding them would hold
// descriptors the limits exist to protect.

// held is a connection refused at accept whose answer is due at at.
type held struct {
	c    *conn
	resp []byte
	at   int64 // unix nanos
}

// refuseAtOpen answers or holds the refusal resp of the new connection c
// (from limiter.admit); it returns OnOpen's result. Loop-owned.
func (l *loop) refuseAtOpen(c *conn, resp []byte) ([]byte, gnet.Action) {
	d := l.srv.cfg.RefuseDelay
	if d <= 0 || !bytes.Equal(resp, respAcceptRate) {
		c.state = stClosing // linger: the response goes out, input is discarded
		return resp, gnet.None
	}
	c.state = stRefused
	l.held = append(l.held, held{c: c, resp: resp, at: c.since + int64(d)})
	return nil, gnet.None
}

// answerHeld sends the refusals that are due and lets their connections
// linger; connections closed meanwhile are dropped. Called by the sweep.
func (l *loop) answerHeld(now int64) {
	n := 0
	for _, h := range l.held {
		switch {
		case !l.has(h.c) || h.c.state != stRefused:
		case h.at > now:
			l.held[n] = h
			n++
		default:
			l.out = append(l.out, h.resp...)
			h.c.linger()
		}
	}
	clear(l.held[n:])
	l.held = l.held[:n]
}

// has reports whether c is still one of the loop's open connections.
func (l *loop) has(c *conn) bool {
	i := int(c.idx)
	return i < len(l.conns) && l.conns[i] == c
}
