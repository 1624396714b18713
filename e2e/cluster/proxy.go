package cluster

import (
	"io"
	"net"
	"sync"
	"time"
)

// link is a TCP forwarder on a fixed loopback port in front of one NATS
// listener. Every client and route connection of the NATS cluster passes
// through a link, so that a kill can cut them all with a TCP reset before
// the server is shut down: the server's graceful goodbyes (Raft leader
// step-downs, account updates) then reach nobody, as with kill -9.
type link struct {
	// Immutable after newLink.
	ln     net.Listener
	target string // the NATS listener behind the link
	done   chan struct{}

	// Guarded by mu.
	mu    sync.Mutex
	up    bool
	conns map[net.Conn]struct{}
}

func newLink(target string) (*link, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	l := &link{ln: ln, target: target, up: true, conns: make(map[net.Conn]struct{}), done: make(chan struct{})}
	go l.accept()
	return l, nil
}

// Addr is the link's own address (what peers dial).
func (l *link) Addr() string { return l.ln.Addr().String() }

func (l *link) accept() {
	defer close(l.done)
	for {
		c, err := l.ln.Accept()
		if err != nil {
			return
		}
		if !l.add(c) {
			reset(c) // down: as a dead host's closed port
			continue
		}
		go l.pipe(c)
	}
}

func (l *link) add(c net.Conn) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.up {
		return false
	}
	l.conns[c] = struct{}{}
	return true
}

func (l *link) remove(cs ...net.Conn) {
	l.mu.Lock()
	for _, c := range cs {
		delete(l.conns, c)
	}
	l.mu.Unlock()
}

func (l *link) pipe(c net.Conn) {
	d, err := net.DialTimeout("tcp", l.target, 2*time.Second)
	if err != nil || !l.add(d) {
		if d != nil {
			reset(d)
		}
		l.remove(c)
		reset(c)
		return
	}
	var once sync.Once
	end := func() {
		once.Do(func() {
			l.remove(c, d)
			_ = c.Close()
			_ = d.Close()
		})
	}
	go func() { _, _ = io.Copy(d, c); end() }()
	_, _ = io.Copy(c, d)
	end()
}

// cut resets every connection through the link and refuses new ones
// (each accepted connection is reset at once) until open.
func (l *link) cut() {
	l.mu.Lock()
	l.up = false
	cs := l.conns
	l.conns = make(map[net.Conn]struct{})
	l.mu.Unlock()
	for c := range cs {
		reset(c)
	}
}

// open lets connections through again.
func (l *link) open() {
	l.mu.Lock()
	l.up = true
	l.mu.Unlock()
}

// close stops the link for good.
func (l *link) close() {
	l.cut()
	_ = l.ln.Close()
	<-l.done
}

// reset closes c with a TCP RST (SO_LINGER 0) instead of a FIN.
func reset(c net.Conn) {
	if tc, ok := c.(*net.TCPConn); ok {
		_ = tc.SetLinger(0)
	}
	_ = c.Close()
}
