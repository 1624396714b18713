package server_test

import (
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"chatd/server"
)

// reconnectLoop behaves like workerman-chat's current page when its
// connection keeps failing: it reconnects the moment a connection fails
// or closes, with no back-off, and logs in each time it gets through (a
// connection that then drops at once, so it reconnects again). It stops
// after want successful connections and returns its attempts.
func reconnectLoop(t *testing.T, addr string, want int) (attempts int) {
	t.Helper()
	d := websocket.Dialer{HandshakeTimeout: readTimeout}
	for ok := 0; ok < want; {
		attempts++
		if attempts > 100000 {
			t.Fatalf("%d attempts for %d connections", attempts, ok)
		}
		c, resp, err := d.Dial("ws://"+addr+"/", nil)
		if err != nil {
			if resp == nil || resp.StatusCode != 503 || resp.Header.Get("Retry-After") != "1" {
				t.Fatalf("attempt %d: %v (response %v); want a 503 with Retry-After: 1", attempts, err, resp)
			}
			continue
		}
		ok++
		_ = c.WriteMessage(websocket.TextMessage, []byte(curLoginMsg("loop", 1)))
		_ = c.Close()
	}
	return attempts
}

// TestTightReconnectLoopIsPaced: a client reconnecting in a tight loop
// against an empty accept bucket is refused at the pace of RefuseDelay,
// not as fast as it can loop, and cheaply: a refused connection's request
// is never parsed (no handshake-level refusal is counted) and only the
// admitted ones are upgraded. Counted, not timed: every refusal is held
// at least RefuseDelay, so the refusals of one looping client are bounded
// by the loop's duration over RefuseDelay, however busy the machine is.
func TestTightReconnectLoopIsPaced(t *testing.T) {
	const delay = 250 * time.Millisecond
	ts := startServer(t, func(c *server.Config) {
		c.AcceptRate, c.AcceptBurst = 2, 1
		c.RefuseDelay = delay
	})
	st := ts.srv.Stats()
	const admitted = 3
	start := time.Now()
	attempts := reconnectLoop(t, ts.addr, admitted)
	elapsed := time.Since(start)
	waitFor(t, readTimeout, "every attempt accounted for", func() bool { return st.Accepted.Load() == int64(attempts) })
	refused := attempts - admitted
	bound := int(elapsed/delay) + 1
	t.Logf("%d attempts (%d refused with 503) in %v for %d connections; bound %d refusals", attempts, refused, elapsed.Round(time.Millisecond), admitted, bound)
	if refused > bound {
		t.Fatalf("%d refusals in %v; want at most %d: one per RefuseDelay (%v)", refused, elapsed, bound, delay)
	}
	if refused == 0 {
		t.Fatalf("no refusal: the accept bucket (rate 2/s, burst 1) did not limit the loop")
	}
	if got := st.Upgraded.Load(); got != admitted {
		t.Fatalf("upgraded %d; want %d (the admitted ones only)", got, admitted)
	}
	if got := st.Refused.Load(); got != 0 {
		t.Fatalf("%d requests were parsed and refused; want 0 (refused at accept, input discarded)", got)
	}
}
