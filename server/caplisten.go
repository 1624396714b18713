package server

import (
	"net"
	"sync"
)

// capListener returns ln holding at most n accepted connections open at
// once. Accept waits for a free slot before accepting, so connections past
// the cap wait in the kernel's listen backlog and cost no descriptor: idle
// keep-alive clients of the web page cannot use up the descriptors the
// chat listener needs. (golang.org/x/net/netutil.LimitListener does the
// same; this saves the dependency.)
func capListener(ln net.Listener, n int) net.Listener {
	return &cappedListener{Listener: ln, slots: make(chan struct{}, n), done: make(chan struct{})}
}

type cappedListener struct {
	net.Listener
	slots chan struct{} // one token per open connection
	done  chan struct{} // closed by Close: wakes an Accept waiting for a slot
	once  sync.Once
}

// Accept implements net.Listener.
func (l *cappedListener) Accept() (net.Conn, error) {
	select {
	case l.slots <- struct{}{}:
	case <-l.done:
		return nil, net.ErrClosed
	}
	c, err := l.Listener.Accept()
	if err != nil {
		<-l.slots
		return nil, err
	}
	return &cappedConn{Conn: c, release: func() { <-l.slots }}, nil
}

// Close implements net.Listener.
func (l *cappedListener) Close() error {
	l.once.Do(func() { close(l.done) })
	return l.Listener.Close()
}

// cappedConn gives its slot back when closed (once).
type cappedConn struct {
	net.Conn
	once    sync.Once
	release func()
}

// Close implements net.Conn.
func (c *cappedConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(c.release)
	return err
}
