package server

import (
	"net"
	"testing"

	"github.com/panjf2000/gnet/v2"
)

// addrConn is a gnet.Conn with only a remote address (the limiter asks
// nothing else).
type addrConn struct {
	gnet.Conn
	addr net.Addr
}

func (c addrConn) RemoteAddr() net.Addr { return c.addr }

// TestLimiterEntriesLiveWhileCounting: an address's entry counts its
// connections and handshakes through admission, refusal, upgrade and
// close, and is gone once it counts nothing (no entry per address ever
// seen), whichever way its connections went.
func TestLimiterEntriesLiveWhileCounting(t *testing.T) {
	cfg := Config{MaxConnsPerIP: 2, MaxHandshakesPerIP: 2, MaxConns: 100, AcceptRate: 1e9, AcceptBurst: 1e9}
	lm := newLimiter(&cfg)
	from := func(ip string) *conn {
		return &conn{gc: addrConn{addr: &net.TCPAddr{IP: net.ParseIP(ip), Port: 1}}}
	}
	a, b, c := from("10.0.0.1"), from("10.0.0.1"), from("10.0.0.1")
	if resp, _ := lm.admit(a, 1); resp != nil {
		t.Fatalf("first connection refused: %s", resp)
	}
	if resp, _ := lm.admit(b, 2); resp != nil {
		t.Fatalf("second connection refused: %s", resp)
	}
	lm.upgraded(a)
	if resp, linger := lm.admit(c, 3); resp == nil || !linger || c.adm != admRefusing {
		t.Fatalf("third connection of an address limited to 2: resp %q linger %v adm %v; want a lingering refusal", resp, linger, c.adm)
	}
	n := lm.perIP[a.ipc.addr]
	if n == nil || n != b.ipc || n != c.ipc || n.conns != 2 || n.pending != 2 {
		t.Fatalf("entry of 10.0.0.1: %+v; want one entry shared by the three, 2 connections, 2 pending (b and the refusal)", n)
	}
	for _, x := range []*conn{b, a, c} {
		lm.release(x)
		if x.ipc != nil || x.adm != admNone {
			t.Fatalf("released connection still counted: ipc %v adm %v", x.ipc, x.adm)
		}
	}
	if len(lm.perIP) != 0 {
		t.Fatalf("after every connection closed: %d entries; want none", len(lm.perIP))
	}

	// A refusal that is not counted (handshake slots full) leaves no entry.
	cfg.MaxHandshakesPerIP = 0
	if resp, linger := lm.admit(from("10.0.0.2"), 1); resp == nil || linger {
		t.Fatalf("connection with no handshake slot: resp %q linger %v; want a refusal closed at once", resp, linger)
	}
	if len(lm.perIP) != 0 {
		t.Fatalf("after an uncounted refusal: %d entries; want none", len(lm.perIP))
	}

	// Behind a trusted proxy the forwarded client is counted, and released.
	p := from("10.0.0.3")
	if err := lm.admitForwarded(p, []byte("192.0.2.1, 198.51.100.7")); err != nil || p.ipc == nil || p.ipc.addr.String() != "198.51.100.7" {
		t.Fatalf("admitForwarded: %v, entry %+v; want 198.51.100.7 counted", err, p.ipc)
	}
	lm.release(p)
	if len(lm.perIP) != 0 {
		t.Fatalf("after the forwarded connection closed: %d entries; want none", len(lm.perIP))
	}
}
