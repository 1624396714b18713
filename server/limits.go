package server

import (
	"bytes"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gobwas/ws"
	"github.com/panjf2000/gnet/v2"

	"chatd/codec"
)

// limiter is the server's admission control: total and per-address
// connection counts, per-address handshakes in progress and the
// accept-rate token bucket. It runs a few times per connection (accept,
// upgrade, close), never per message.
type limiter struct {
	// Immutable after newLimiter.
	cfg     *Config
	proxies []netip.Prefix

	// Guarded by mu.
	mu     sync.Mutex
	perIP  map[netip.Addr]*ipCount
	tokens float64 // accept bucket
	last   int64   // unix nanos of the last refill

	// Safe for concurrent use. Refusals by reason (chatd_handshakes_refused_total).
	refusedLimit   atomic.Int64 // MaxConns or the accept bucket (503)
	refusedPerIP   atomic.Int64 // MaxConnsPerIP (429)
	refusedPending atomic.Int64 // MaxHandshakesPerIP (429)
	rateLimited    atomic.Int64 // messages refused with rate_limited
	rateClosed     atomic.Int64 // connections closed with 1008 for sustained flooding
	lastWarn       atomic.Int64 // unix nanos of the last abuse warning
	muted          atomic.Int64 // abuse warnings suppressed since the last one
	fullWarn       warnLimiter  // MaxConns reached
}

// ipCount is what one client address holds: its connections (every state)
// and, among them, those still in their handshake. A counted connection
// points at its address's entry (conn.ipc: 8 bytes per connection, where
// the address itself would take 24); the entry lives while it counts any.
type ipCount struct {
	addr    netip.Addr
	conns   int32
	pending int32
}

// count returns addr's entry, a new one if it has none. Guarded by mu.
func (lm *limiter) count(addr netip.Addr) *ipCount {
	n := lm.perIP[addr]
	if n == nil {
		n = &ipCount{addr: addr}
		lm.perIP[addr] = n
	}
	return n
}

// uncount drops n once it counts nothing. Guarded by mu.
func (lm *limiter) uncount(n *ipCount) {
	if n.conns <= 0 && n.pending <= 0 {
		delete(lm.perIP, n.addr)
	}
}

func newLimiter(cfg *Config) *limiter {
	ps, _ := parseProxies(cfg.TrustedProxies) // validated by Normalize
	return &limiter{cfg: cfg, proxies: ps, perIP: make(map[netip.Addr]*ipCount),
		tokens: float64(cfg.AcceptBurst), last: time.Now().UnixNano()}
}

// Refusals sent before the request is read: the connection then lingers
// (reading and discarding) until the response is out, so that unread input
// does not turn the response into a reset.
var (
	respTooManyConns = httpRefusal(503, "too many connections")
	respAcceptRate   = httpRefusal(503, "server busy: connection rate exceeded")
	respPerIP        = httpRefusal(429, "too many connections from your address")
	respPending      = httpRefusal(429, "too many handshakes in progress from your address")
	errPerIP         = &codec.HTTPError{Status: 429, Reason: "too many connections from your address"}
	errAcceptRate    = &codec.HTTPError{Status: 503, Reason: "server busy: connection rate exceeded"}
)

func httpRefusal(status int, reason string) []byte {
	b := codec.AppendHTTPError(nil, &codec.HTTPError{Status: status, Reason: reason})
	// Retry-After (RFC 9110 10.2.3) spreads the retries of a storm.
	i := bytes.Index(b, []byte("\r\n\r\n"))
	return append(append(b[:i:i], "\r\nRetry-After: 1"...), b[i:]...)
}

// admission is what a connection is counted as in its address's ipCount.
type admission uint8

const (
	admNone     admission = iota // not counted (trusted proxy, or closed at once)
	admPending                   // conns and pending: in its handshake
	admOpen                      // conns: upgraded, or admitted at the handshake
	admRefusing                  // pending: refused at accept, lingering until it closes
)

// admit decides on a new connection before anything is read from it. It
// returns nil to go on, or the response to send; linger then says whether
// to linger until the peer closes (the response is sure to arrive), or to
// close at once. On success c.ipc is set when the peer's address was
// counted.
//
// The per-address limits come before the accept bucket: the bucket is
// shared by every client, so a connection refused for its own address
// must not spend it (a flooder would otherwise turn its 429s into 503s
// for everyone). A trusted proxy's connection is charged at the
// handshake, once its client's address is known (admitForwarded).
//
// A refusal lingers (up to CloseTimeout) and holds a descriptor
// meanwhile; it counts as one of its address's MaxHandshakesPerIP
// unfinished connections, and an address that already has that many
// gets its refusals closed at once: otherwise one address that keeps
// its refused sockets open could fill MaxConns for everyone.
func (lm *limiter) admit(c *conn, open int64) (resp []byte, linger bool) {
	full := open > int64(lm.cfg.MaxConns)
	if full {
		lm.refusedLimit.Add(1)
		lm.warnFull(open)
	}
	peer := remoteAddr(c.gc)
	if !peer.IsValid() || lm.trusted(peer) {
		if full {
			return respTooManyConns, true
		}
		return nil, false
	}
	lm.mu.Lock()
	defer lm.mu.Unlock()
	n := lm.count(peer)
	defer lm.uncount(n)
	switch {
	case full:
		resp = respTooManyConns
	case n.conns >= int32(lm.cfg.MaxConnsPerIP):
		lm.refusedPerIP.Add(1)
		resp = respPerIP
	case n.pending >= int32(lm.cfg.MaxHandshakesPerIP):
		lm.refusedPending.Add(1)
		resp = respPending
	case !lm.takeAccept(time.Now().UnixNano()):
		// The real clock, not the server's coarse one: a burst smaller
		// than a tick of AcceptRate would otherwise cap the rate.
		lm.refusedLimit.Add(1)
		resp = respAcceptRate
	default:
		n.conns++
		n.pending++
		c.ipc, c.adm = n, admPending
		return nil, false
	}
	if n.pending >= int32(lm.cfg.MaxHandshakesPerIP) {
		return resp, false
	}
	n.pending++
	c.ipc, c.adm = n, admRefusing
	return resp, true
}

// warnFull logs that MaxConns is reached, at most once a second.
func (lm *limiter) warnFull(open int64) {
	if ok, muted := lm.fullWarn.allow(time.Now().UnixNano()); ok {
		lm.cfg.Logger.Warn("connection limit reached: refusing new connections with 503",
			"max_conns", lm.cfg.MaxConns, "open", open-1, "suppressed", muted)
	}
}

// takeAccept takes a token from the accept bucket. Guarded by mu.
func (lm *limiter) takeAccept(now int64) bool {
	if now > lm.last {
		lm.tokens += float64(now-lm.last) / 1e9 * lm.cfg.AcceptRate
		lm.last = now
	}
	if max := float64(lm.cfg.AcceptBurst); lm.tokens > max {
		lm.tokens = max
	}
	if lm.tokens < 1 {
		return false
	}
	lm.tokens--
	return true
}

// admitForwarded counts a connection from a trusted proxy against its
// client's address (the last X-Forwarded-For entry, which the proxy
// appended; without one, the proxy's own address), then charges the
// accept bucket.
func (lm *limiter) admitForwarded(c *conn, xff []byte) error {
	if c.ipc != nil {
		return nil // counted at accept: the peer is not a proxy
	}
	addr := lastForwarded(xff)
	if !addr.IsValid() {
		addr = remoteAddr(c.gc)
	}
	lm.mu.Lock()
	defer lm.mu.Unlock()
	var n *ipCount
	if addr.IsValid() {
		n = lm.count(addr)
		defer lm.uncount(n)
		if n.conns >= int32(lm.cfg.MaxConnsPerIP) {
			lm.refusedPerIP.Add(1)
			return errPerIP
		}
	}
	if !lm.takeAccept(time.Now().UnixNano()) {
		lm.refusedLimit.Add(1)
		return errAcceptRate
	}
	if n != nil {
		n.conns++
		c.ipc, c.adm = n, admOpen
	}
	return nil
}

// upgraded ends c's handshake: it no longer counts as pending.
func (lm *limiter) upgraded(c *conn) {
	if c.adm != admPending {
		return
	}
	lm.mu.Lock()
	c.ipc.pending--
	lm.mu.Unlock()
	c.adm = admOpen
}

// release uncounts c's address when it closes.
func (lm *limiter) release(c *conn) {
	if c.adm == admNone {
		return
	}
	lm.mu.Lock()
	n := c.ipc
	if c.adm != admRefusing {
		n.conns--
	}
	if c.adm != admOpen {
		n.pending--
	}
	lm.uncount(n)
	lm.mu.Unlock()
	c.ipc, c.adm = nil, admNone
}

func (lm *limiter) trusted(a netip.Addr) bool {
	for _, p := range lm.proxies {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

func remoteAddr(gc gnet.Conn) netip.Addr {
	if ta, ok := gc.RemoteAddr().(*net.TCPAddr); ok {
		if a, ok := netip.AddrFromSlice(ta.IP); ok {
			return a.Unmap()
		}
	}
	return netip.Addr{}
}

// lastForwarded returns the last address of an X-Forwarded-For value.
func lastForwarded(xff []byte) netip.Addr {
	if i := bytes.LastIndexByte(xff, ','); i >= 0 {
		xff = xff[i+1:]
	}
	a, err := netip.ParseAddr(string(bytes.TrimSpace(xff)))
	if err != nil {
		return netip.Addr{}
	}
	return a.Unmap()
}

// allow charges one message (a data frame or a ping) to a chat
// connection's bucket. Past the bucket the client gets rate_limited (a
// ping is dropped); past MaxRateLimited of those in a row it is closed
// with 1008. It reports whether the message may be handled.
func (c *conn) allow(ping bool) bool {
	s := c.l.srv
	if c.echo || c.in.takeMessage() {
		return true
	}
	lm := s.ops.limits
	if int(c.in.strikes) > s.cfg.MaxRateLimited {
		lm.rateClosed.Add(1)
		s.warnAbuse("closing flooding connection", c)
		c.l.shard.Drain() // the rate_limited replies queued so far go first
		c.closeWith(ws.StatusPolicyViolation, "rate limit exceeded")
		return false
	}
	lm.rateLimited.Add(1)
	if !ping {
		c.reply(codec.CodeRateLimited, "too many messages; slow down")
	}
	return false
}

// warnAbuse logs an abuse warning at most once a second (a flood must not
// become a log flood), with the number of warnings suppressed since.
func (s *Server) warnAbuse(msg string, c *conn) {
	lm := s.ops.limits
	now := s.now()
	last := lm.lastWarn.Load()
	if now-last < int64(time.Second) || !lm.lastWarn.CompareAndSwap(last, now) {
		lm.muted.Add(1)
		return
	}
	s.log.Warn(msg, "remote", c.gc.RemoteAddr().String(), "suppressed", lm.muted.Swap(0))
}
