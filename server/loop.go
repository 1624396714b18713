package server

import (
	"context"

	"github.com/panjf2000/gnet/v2"

	"chatd/room"
)

// loop is the server's state for one gnet event loop.
type loop struct {
	// Immutable after newLoop.
	srv        *Server
	el         gnet.EventLoop
	shard      *room.Shard
	drainTask  gnet.Runnable // runs shard.Drain on this loop
	sweepTask  gnet.Runnable // runs sweep on this loop
	resumeTask gnet.Runnable // runs resume on this loop

	// Owned by the loop.
	conns    []*conn // every open connection of the loop; conn.idx is its index
	out      []byte  // direct output (handshake replies, pongs, echo) of the current callback
	esc      []byte  // HTML-escaping scratch of the current callback
	swept    int64   // unix nanos of the last sweep, 0 before the first
	held     []held  // refusals waiting for RefuseDelay, oldest first (refuse.go)
	parked   []*conn // connections with input left at the per-pass work bound (park)
	spare    []*conn // the other parked array, swapped in by resume
	resuming bool    // resumeTask is queued
}

func newLoop(s *Server, el gnet.EventLoop, sh *room.Shard) *loop {
	l := &loop{srv: s, el: el, shard: sh}
	l.drainTask = gnet.RunnableFunc(func(context.Context) error { sh.Drain(); return nil })
	l.sweepTask = gnet.RunnableFunc(func(context.Context) error { l.sweep(); return nil })
	l.resumeTask = gnet.RunnableFunc(func(context.Context) error { l.resume(); return nil })
	sh.Bind(func() error { return el.Execute(context.Background(), l.drainTask) })
	return l
}

// add registers c with the loop. Loop-owned.
func (l *loop) add(c *conn) {
	c.idx = int32(len(l.conns))
	l.conns = append(l.conns, c)
}

// remove swap-removes c from the loop. Loop-owned.
func (l *loop) remove(c *conn) {
	i := int(c.idx)
	if i >= len(l.conns) || l.conns[i] != c {
		return
	}
	last := len(l.conns) - 1
	l.conns[i] = l.conns[last]
	l.conns[i].idx = int32(i)
	l.conns[last] = nil
	l.conns = l.conns[:last]
}

// park queues c to go on parsing after the loop's other events: it
// stopped at the per-pass work bound (conn.frames) with input left.
// gnet's edge-triggered loop would not call OnTraffic again for bytes
// already read (only for new ones), so without this they would be
// stranded. One task per loop serves every parked connection. A
// connection that parks again before the task ran is queued once when it
// does so in a row (gnet reads one connection's input in a row); there is
// no per-connection flag (conn has no byte to spare), so a connection
// whose new input arrived between others' may be queued twice and get two
// passes. Loop-owned.
func (l *loop) park(c *conn) {
	if n := len(l.parked); n > 0 && l.parked[n-1] == c {
		return
	}
	l.parked = append(l.parked, c)
	if !l.resuming && l.el.Execute(context.Background(), l.resumeTask) == nil {
		l.resuming = true
	}
}

// resume gives every parked connection another pass over its input (a
// connection with still more left parks again, behind the events that
// arrived meanwhile). Loop-owned.
func (l *loop) resume() {
	l.resuming = false
	cs := l.parked
	l.parked, l.spare = l.spare[:0], nil
	for i, c := range cs {
		cs[i] = nil
		if !l.has(c) || c.state != stOpen {
			continue // closed meanwhile
		}
		c.in.refill(&l.srv.cfg, l.srv.now())
		c.frames()
		c.settle()
		if c.state == stCut {
			_ = c.gc.Close()
		}
	}
	l.spare = cs[:0]
}

// flushOut writes the direct output gathered during a callback in one
// write. Loop-owned.
func (l *loop) flushOut(c gnet.Conn) {
	if len(l.out) == 0 {
		return
	}
	_, _ = c.Write(l.out)
	l.out = l.out[:0]
	if cap(l.out) > maxKeptBuf {
		l.out = nil
	}
}

// maxKeptBuf bounds the scratch buffers a loop keeps between callbacks.
const maxKeptBuf = 256 << 10

// closeAll closes every connection of the loop with 1001 (server
// shutdown). Loop-owned.
func (l *loop) closeAll() {
	for len(l.conns) > 0 {
		c := l.conns[len(l.conns)-1]
		l.remove(c)
		c.goAway()
	}
	l.shard.Flush()
}
