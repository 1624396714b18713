package room

import (
	"bytes"
	"strings"
	"sync"
	"testing"
)

// testLoop is a goroutine that runs functions one at a time, standing in
// for a gnet event loop.
type testLoop struct {
	tasks chan func()
	done  chan struct{}
}

func newTestLoop() *testLoop {
	l := &testLoop{tasks: make(chan func(), 1024), done: make(chan struct{})}
	go func() {
		defer close(l.done)
		for f := range l.tasks {
			f()
		}
	}()
	return l
}

func (l *testLoop) run(f func()) { l.tasks <- f }

// do runs f on the loop and waits for it.
func (l *testLoop) do(f func()) {
	ch := make(chan struct{})
	l.tasks <- func() { f(); close(ch) }
	<-ch
}

func (l *testLoop) stop() { close(l.tasks); <-l.done }

// lockedConn is a fakeConn the test goroutine may read while the loop
// writes.
type lockedConn struct {
	mu sync.Mutex
	fakeConn
}

func (c *lockedConn) Write(b []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.fakeConn.Write(b)
}

func (c *lockedConn) says() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return bytes.Count(c.data, []byte(`"type":"say"`))
}

func (c *lockedConn) sayOrder(t *testing.T) []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []string
	for _, m := range c.fakeConn.messages(t) {
		if m["type"] == "say" {
			out = append(out, strings.Clone(m["content"].(string)))
		}
	}
	return out
}
