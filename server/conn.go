package server

import (
	"bytes"
	"errors"
	"time"

	"github.com/gobwas/ws"
	"github.com/panjf2000/gnet/v2"
	"golang.org/x/sys/unix"

	"chatd/codec"
	"chatd/room"
)

type connState uint8

const (
	stHandshake connState = iota // waiting for the upgrade request
	stOpen                       // WebSocket open
	stClosing                    // close sent, waiting for the peer or CloseTimeout
	stRefused                    // refused at accept, answer held until RefuseDelay (refuse.go)
	stCut                        // close sent, socket closed at the end of the callback (cutOff)
)

// conn is the server's state for one connection. It implements room.Conn
// for its member. Everything is owned by the connection's loop.
type conn struct {
	gc     gnet.Conn
	l      *loop
	parser codec.Parser
	since  int64  // unix nanos: accept time, then last ping sent
	in     budget // message, frame and byte buckets; the time of the last input (budget.go)
	idx    int32  // index in l.conns
	state  connState
	echo   bool        // the /echo endpoint
	shut   bool        // write side shut down after the close frame
	adm    admission   // how ip counts this connection (limits.go)
	ipc    *ipCount    // the per-address limit's entry counting this connection; nil if none
	id     *identity   // what the client's token fixes; nil without auth
	member room.Member // embedded: one allocation per connection, not two; see mem
}

// mem returns the connection's chat member once a chat upgrade completed
// (not /echo), else nil. Loop-owned.
func (c *conn) mem() *room.Member {
	if !c.member.Bound() {
		return nil
	}
	return &c.member
}

// Write implements room.Conn.
func (c *conn) Write(b []byte) (int, error) {
	c.countOut(b)
	return c.gc.Write(b)
}

// OutboundBuffered implements room.Conn.
func (c *conn) OutboundBuffered() int { return c.gc.OutboundBuffered() }

// OnOpen registers a new connection with its loop.
func (s *Server) OnOpen(gc gnet.Conn) ([]byte, gnet.Action) {
	l := s.loopOf(gc.EventLoop())
	if l == nil || s.draining.Load() {
		return nil, gnet.Close
	}
	now := time.Now().UnixNano() // exact: the handshake deadline counts from here
	c := &conn{gc: gc, l: l, since: now}
	c.in.fill(&s.cfg, now)
	gc.SetContext(c)
	l.add(c)
	s.stats.Accepted.Add(1)
	open := s.stats.Open.Add(1)
	if resp, linger := s.ops.limits.admit(c, open); resp != nil {
		if !linger {
			c.state = stClosing
			return resp, gnet.Close
		}
		return l.refuseAtOpen(c, resp)
	}
	return nil, gnet.None
}

// OnClose retires a connection: its member leaves its room.
func (s *Server) OnClose(gc gnet.Conn, _ error) gnet.Action {
	c, ok := gc.Context().(*conn)
	if !ok {
		return gnet.None
	}
	c.l.remove(c)
	if m := c.mem(); m != nil {
		s.hub.Close(m)
	}
	s.ops.limits.release(c)
	s.stats.Open.Add(-1)
	return gnet.None
}

// OnTraffic parses what is buffered: the upgrade request, then frames.
func (s *Server) OnTraffic(gc gnet.Conn) gnet.Action {
	c, ok := gc.Context().(*conn)
	if !ok {
		return gnet.Close
	}
	c.in.refill(&s.cfg, s.now())
	if c.state == stHandshake && c.handshake() {
		c.frames()
	} else if c.state == stOpen {
		c.frames()
	}
	c.settle()
	if c.state == stCut {
		return gnet.Close // at once: gnet would otherwise go on reading the flood
	}
	return gnet.None
}

// settle ends a pass over c's input: a closing connection's input is
// dropped, and the direct output goes out.
func (c *conn) settle() {
	if c.state >= stClosing {
		_, _ = c.gc.Discard(-1)
	}
	c.l.flushOut(c.gc)
}

// handshake parses the upgrade request once it is complete and answers
// it; it reports whether the connection is now open.
func (c *conn) handshake() bool {
	s := c.l.srv
	buf, _ := c.gc.Peek(-1)
	req, n, err := codec.ParseRequest(buf, s.cfg.MaxHandshake)
	if err != nil {
		c.refuse(err)
		return false
	}
	if n == 0 {
		return false
	}
	if err := c.admitRequest(&req); err != nil {
		c.refuse(err)
		return false
	}
	c.echo = s.cfg.Echo && bytes.Equal(req.Path, echoPath)
	c.l.out = codec.AppendAccept(c.l.out, req.Key)
	_, _ = c.gc.Discard(n)
	c.state = stOpen
	c.since = s.now()
	s.ops.limits.upgraded(c)
	if !c.echo {
		c.l.shard.InitMember(&c.member, c)
	}
	s.stats.Upgraded.Add(1)
	return true
}

var echoPath = []byte("/echo")

// refuse answers a bad upgrade request with its HTTP status and reason.
func (c *conn) refuse(err error) {
	var he *codec.HTTPError
	if !errors.As(err, &he) {
		he = &codec.HTTPError{Status: 400, Reason: err.Error()}
	}
	c.l.srv.stats.Refused.Add(1)
	c.l.out = codec.AppendHTTPError(c.l.out, he)
	c.linger()
}

// The work one pass over a connection's input may do (callWork): a flood
// of small frames must not hold the loop, and the other connections of
// the loop wait for at most this much per connection before their turn.
// 256 frames of the cheapest kind take ~20µs here; 256 KiB is four of
// gnet's 64 KiB reads, so a connection streaming large frames within its
// budget is not slowed. A single frame larger than callBytes is still
// parsed in one pass.
const (
	callFrames = 256
	callBytes  = 256 << 10
)

// callWork counts what one pass has parsed.
type callWork struct{ frames, bytes int }

func (w *callWork) spent() bool { return w.frames >= callFrames || w.bytes >= callBytes }

// frames parses and handles the complete frames that are buffered, up to
// the per-pass work bound; if input is left then, the loop comes back to
// the connection after its other events (park).
func (c *conn) frames() {
	var w callWork
	for c.state == stOpen {
		avail, need := c.gc.InboundBuffered(), c.parser.Need()
		if avail < need {
			return // a large binary frame is still arriving: don't peek (and copy) it again
		}
		if w.spent() {
			c.l.park(c)
			return
		}
		// Peek at most what this pass may parse (and at least the frame
		// the parser waits for): gnet copies the view when its buffer
		// wraps, and a backlog must not be copied whole on every pass.
		view := min(avail, max(need, callBytes-w.bytes))
		buf, _ := c.gc.Peek(view)
		off := c.parse(buf, &w)
		c.countIn(off)
		if off > 0 {
			_, _ = c.gc.Discard(off) // Discard(0) would drop everything buffered
		}
	}
}

// parse parses and handles complete frames from the start of buf until
// buf holds no complete frame, the pass's work is spent or the connection
// closes. It returns the bytes consumed; buf is valid until they are
// discarded.
func (c *conn) parse(buf []byte, w *callWork) int {
	limit := c.l.srv.cfg.MaxMessage
	if c.echo {
		limit = c.l.srv.cfg.EchoMaxMessage
	}
	off := 0
	for c.state == stOpen && !w.spent() {
		msg, n, err := c.parser.Next(buf[off:], limit)
		if err != nil {
			c.fail(err)
			break
		}
		if n == 0 {
			break
		}
		off += n
		w.frames++
		w.bytes += n
		if !c.chargeFrame(n, !c.parser.InFrame()) {
			break
		}
		if msg.Op != 0 {
			c.handle(msg)
		}
	}
	return off
}

// handle acts on one complete message or control frame. msg.Payload is
// valid until the frames loop discards the consumed bytes.
func (c *conn) handle(msg codec.Message) {
	switch msg.Op {
	case ws.OpPing:
		if !c.allow(true) {
			return
		}
		c.l.out = codec.AppendFrame(c.l.out, ws.OpPong, msg.Payload)
	case ws.OpPong:
	case ws.OpClose:
		c.closeReply(msg.Payload)
	case ws.OpText, ws.OpBinary:
		c.l.srv.stats.MessagesIn.Add(1)
		if c.echo {
			c.l.out = codec.AppendFrame(c.l.out, msg.Op, msg.Payload)
			return
		}
		if !c.allow(false) {
			return
		}
		c.chat(msg.Op, msg.Payload)
	}
}

// fail closes the connection for a protocol error (RFC 6455 7.4).
func (c *conn) fail(err error) {
	var ce *codec.CloseError
	if !errors.As(err, &ce) {
		ce = &codec.CloseError{Code: ws.StatusProtocolError, Reason: err.Error()}
	}
	c.l.srv.stats.ProtocolErrors.Add(1)
	c.closeWith(ce.Code, ce.Reason)
}

// closeReply answers the peer's close frame with the same code and closes
// the connection: the peer has sent its last frame, so nothing is lost.
func (c *conn) closeReply(payload []byte) {
	code, _ := codec.ParseClose(payload)
	if code == ws.StatusNoStatusRcvd {
		code = ws.StatusNormalClosure
	}
	c.retire()
	c.l.out = codec.AppendClose(c.l.out, code, "")
	c.l.flushOut(c.gc)
	c.state = stClosing
	_ = c.gc.Close()
}

// closeWith sends a close frame and lingers until the peer closes too (or
// CloseTimeout passes): closing at once could turn unread input into a
// reset that destroys the close frame before the peer reads it.
func (c *conn) closeWith(code ws.StatusCode, reason string) {
	if c.state >= stClosing {
		return
	}
	c.retire()
	c.l.out = codec.AppendClose(c.l.out, code, reason)
	c.linger()
}

// goAway closes the connection with 1001 (idle timeout, shutdown).
func (c *conn) goAway() {
	if c.state == stOpen {
		c.closeWith(ws.StatusGoingAway, "going away")
	}
	c.l.flushOut(c.gc)
	_ = c.gc.Close()
}

// retire takes the member out of the chat: it gets no more traffic.
func (c *conn) retire() {
	if m := c.mem(); m != nil {
		c.l.srv.hub.Close(m)
	}
}

// linger flushes the direct output, shuts the write side down once it is
// sent, and lets the sweep close the socket by CloseTimeout.
func (c *conn) linger() {
	c.l.flushOut(c.gc)
	c.state = stClosing
	c.since = c.l.srv.now()
	c.shutWrite()
}

func (c *conn) shutWrite() {
	if !c.shut && c.gc.OutboundBuffered() == 0 {
		c.shut = true
		_ = unix.Shutdown(c.gc.Fd(), unix.SHUT_WR)
	}
}

// onSlow cuts off a member whose unsent data passed MaxOutbound: 1008,
// and the socket is closed at once (it does not read anyway).
func (s *Server) onSlow(m *room.Member) {
	c, ok := m.Conn().(*conn)
	if !ok || c.state != stOpen {
		return
	}
	s.stats.SlowConsumers.Add(1)
	s.hub.Close(m)
	c.state = stClosing
	_, _ = c.gc.Write(codec.CloseFrame(ws.StatusPolicyViolation))
	_ = c.gc.Close()
}
