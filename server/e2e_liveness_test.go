package server_test

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/gobwas/ws"
	"github.com/gorilla/websocket"

	"chatd/server"
)

// frameLog records what a raw client's background reader saw.
type frameLog struct {
	mu    sync.Mutex
	pings []time.Time
	texts [][]byte
	close int // close code received, -1 none
	err   error
	done  chan struct{}
}

// readAll reads r's frames in the background until an error or a close
// frame, without answering pings.
func readAll(r *rawClient) *frameLog {
	fl := &frameLog{close: -1, done: make(chan struct{})}
	go func() {
		defer close(fl.done)
		for {
			h, p, err := r.frame(time.Minute)
			fl.mu.Lock()
			switch {
			case err != nil:
				fl.err = err
			case h.OpCode == ws.OpPing:
				fl.pings = append(fl.pings, time.Now())
			case h.OpCode == ws.OpText:
				fl.texts = append(fl.texts, p)
			case h.OpCode == ws.OpClose:
				fl.close = 1005
				if len(p) >= 2 {
					code, _ := ws.ParseCloseFrameData(p)
					fl.close = int(code)
				}
			}
			stop := err != nil || h.OpCode == ws.OpClose
			fl.mu.Unlock()
			if stop {
				return
			}
		}
	}()
	return fl
}

// TestE2ELiveness checks server pings and the idle timeout: a client that
// neither answers pings nor sends is closed with 1001 after two intervals
// of silence and logged out; one that answers pings, and one that only
// sends messages, stay connected.
func TestE2ELiveness(t *testing.T) {
	t.Parallel()
	for _, iv := range []time.Duration{200 * time.Millisecond, time.Second} {
		t.Run(iv.String(), func(t *testing.T) {
			t.Parallel()
			ts := startServer(t, func(c *server.Config) { c.PingInterval = iv })
			keeper := dial(t, ts.addr, "keeper")
			uk := keeper.login("keeper", "")

			// chatty ignores pings but sends a message every half interval.
			chatty := rawUpgrade(t, ts.addr, "/")
			uc := chatty.login("chatty", uk)
			keeper.expect(jLogin(uc))
			chattyLog := readAll(chatty)
			stopChat := make(chan struct{})
			chatDone := make(chan struct{})
			go func() {
				defer close(chatDone)
				tick := time.NewTicker(iv / 2)
				defer tick.Stop()
				for {
					select {
					case <-stopChat:
						return
					case <-tick.C:
						_ = chatty.nc.SetWriteDeadline(deadline())
						if _, err := chatty.nc.Write(frame(ws.OpText, true, []byte(`{"type":"pong"}`))); err != nil {
							return
						}
					}
				}
			}()
			defer func() {
				select {
				case <-stopChat:
				default:
					close(stopChat)
				}
				<-chatDone
			}()

			// idle logs in, then neither sends nor answers.
			idle := rawUpgrade(t, ts.addr, "/")
			ui := idle.login("idle", uk, uc)
			silentSince := time.Now()
			keeper.expect(jLogin(ui))
			idleLog := readAll(idle)
			select {
			case <-idleLog.done:
			case <-time.After(2*iv + 3*time.Second):
				t.Fatalf("idle client not closed within %v (PingInterval %v)", 2*iv+3*time.Second, iv)
			}
			elapsed := time.Since(silentSince)
			if idleLog.close != 1001 {
				t.Errorf("idle client closed with code %d (err %v); want 1001", idleLog.close, idleLog.err)
			}
			if len(idleLog.texts) != 0 {
				t.Errorf("idle client got %q; want nothing but pings", idleLog.texts)
			}
			if n := len(idleLog.pings); n < 1 {
				t.Errorf("idle client got %d pings before its close; want at least 1", n)
			}
			if elapsed < 2*iv-20*time.Millisecond {
				t.Errorf("idle client closed after %v of silence; want at least 2 intervals (%v)", elapsed, 2*iv)
			}
			if elapsed > 2*iv+2*time.Second {
				t.Errorf("idle client closed after %v of silence; want soon after 2 intervals (%v)", elapsed, 2*iv)
			}
			keeper.expect(jLogout(ui.uid))

			// The others live on for several more intervals.
			from := keeper.pings.Load()
			waitFor(t, 6*iv+3*time.Second, "keeper's next 5 pings", func() bool {
				select {
				case <-keeper.done:
					return true // the say below reports how it ended
				default:
					return keeper.pings.Load() >= from+5
				}
			})
			close(stopChat)
			<-chatDone
			chatty.write(frame(ws.OpText, true, []byte(sayAll("chatty alive"))))
			keeper.expect(jSay(uc.uid, "chatty alive"))
			keeper.send(sayAll("keeper alive"))
			keeper.expect(jSay(uk.uid, "keeper alive"))
			waitFor(t, readTimeout, "chatty receiving its say", func() bool {
				chattyLog.mu.Lock()
				defer chattyLog.mu.Unlock()
				return len(chattyLog.texts) >= 4 || chattyLog.close != -1 || chattyLog.err != nil
			})
			chattyLog.mu.Lock()
			defer chattyLog.mu.Unlock()
			want := []string{jLogin(ui), jLogout(ui.uid), jSay(uc.uid, "chatty alive"), jSay(uk.uid, "keeper alive")}
			if chattyLog.close != -1 || chattyLog.err != nil || len(chattyLog.texts) != len(want) {
				t.Fatalf("chatty: close %d, err %v, messages %q; want %d messages and still open", chattyLog.close, chattyLog.err, chattyLog.texts, len(want))
			}
			for i, w := range want {
				if err := sameJSON(chattyLog.texts[i], w); err != nil {
					t.Errorf("chatty message %d = %s; want %s: %v", i, chattyLog.texts[i], w, err)
				}
			}
			if len(chattyLog.pings) < 2 {
				t.Errorf("chatty got %d pings; want at least 2", len(chattyLog.pings))
			}
			for i := 1; i < len(chattyLog.pings); i++ {
				if gap := chattyLog.pings[i].Sub(chattyLog.pings[i-1]); gap > iv+time.Second {
					t.Errorf("gap between pings %d and %d = %v; want about PingInterval %v", i-1, i, gap, iv)
				}
			}
			if got := ts.srv.Stats().IdleTimeouts.Load(); got != 1 {
				t.Errorf("Stats().IdleTimeouts = %d; want 1", got)
			}
		})
	}
}

// TestE2ESlowConsumer checks that a member that stops reading is cut off
// (1008 if the close frame gets through) once its unsent data passes
// MaxOutbound, that its room gets its logout, and that two members
// chatting meanwhile lose nothing and see the same order.
func TestE2ESlowConsumer(t *testing.T) {
	t.Parallel()
	ts := startServer(t, noRateLimit, func(c *server.Config) { c.MaxOutbound = 64 << 10 })
	a := dial(t, ts.addr, "A")
	ua := a.login("a", "")
	b := dial(t, ts.addr, "B")
	ub := b.login("b", "", ua)
	a.expect(jLogin(ub))

	slow := slowDial(t, ts.addr)
	us := slow.login("slow", ua, ub)
	a.expect(jLogin(us))
	b.expect(jLogin(us))
	// From now on slow reads nothing.

	// Each round A and B send `window` says each (32 KB in flight per
	// reader, under MaxOutbound), then both read the round's 2*window
	// says: each sender's in order, both readers in the same order.
	const window, maxRounds = 4, 1500
	pad := strings.Repeat("x", 4000)
	logoutSeen := map[*wsClient]bool{}
	extra := -1 // rounds left after both saw the logout
	for round := 0; round < maxRounds && extra != 0; round++ {
		want := map[string]string{}
		for k := 0; k < window; k++ {
			ca, cb := fmt.Sprintf("a%d.%d %s", round, k, pad), fmt.Sprintf("b%d.%d %s", round, k, pad)
			want[ca], want[cb] = jSay(ua.uid, ca), jSay(ub.uid, cb)
			a.send(sayAll(ca))
			b.send(sayAll(cb))
		}
		var orders [2][]string
		for i, c := range []*wsClient{a, b} {
			next := map[int64]int{}
			for len(orders[i]) < 2*window {
				raw := c.next()
				if !logoutSeen[c] && sameJSON(raw, jLogout(us.uid)) == nil {
					logoutSeen[c] = true
					continue
				}
				var m struct {
					FromUID int64 `json:"from_uid"`
					Content string
				}
				_ = json.Unmarshal(raw, &m)
				id, _, _ := strings.Cut(m.Content, " ")
				if w := want[m.Content]; w == "" || sameJSON(raw, w) != nil || id[1:] != fmt.Sprintf("%d.%d", round, next[m.FromUID]) {
					t.Fatalf("round %d: %s got %.120s; want the next say of its sender in round %d (or slow's logout)", round, c.name, raw, round)
				}
				next[m.FromUID]++
				orders[i] = append(orders[i], id)
			}
		}
		if fmt.Sprint(orders[0]) != fmt.Sprint(orders[1]) {
			t.Fatalf("round %d: A saw %v, B saw %v; want the same order", round, orders[0], orders[1])
		}
		if extra < 0 && logoutSeen[a] && logoutSeen[b] {
			t.Logf("slow consumer logged out by round %d (%d KiB sent to it)", round, (round+1)*2*window*len(pad)>>10)
			extra = 5
		}
		if extra > 0 {
			extra--
		}
	}
	if !logoutSeen[a] || !logoutSeen[b] {
		t.Fatalf("slow consumer not logged out after %d rounds (A saw logout %v, B %v)", maxRounds, logoutSeen[a], logoutSeen[b])
	}
	if got := ts.srv.Stats().SlowConsumers.Load(); got != 1 {
		t.Errorf("Stats().SlowConsumers = %d; want 1", got)
	}

	// slow is disconnected: what it still gets ends (maybe with a 1008
	// close) and then the connection is gone.
	deadline := time.Now().Add(10 * time.Second)
	for {
		h, p, err := slow.frame(time.Until(deadline))
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			t.Fatalf("slow consumer still connected 10s after its logout")
		}
		if err != nil {
			break
		}
		if h.OpCode == ws.OpClose {
			if code, _ := ws.ParseCloseFrameData(p); code != 1008 {
				t.Errorf("slow consumer closed with %d; want 1008", code)
			}
		}
	}
}

// slowDial upgrades a raw client with a tiny receive buffer, so that what
// it does not read piles up in the server quickly.
func slowDial(t *testing.T, addr string) *rawClient {
	t.Helper()
	d := net.Dialer{Timeout: readTimeout, Control: func(_, _ string, rc syscall.RawConn) error {
		var serr error
		err := rc.Control(func(fd uintptr) {
			serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 4096)
		})
		if err != nil {
			return err
		}
		return serr
	}}
	nc, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = nc.Close() })
	r := &rawClient{t: t, nc: nc}
	r.br = bufio.NewReader(nc)
	r.write([]byte(upgradeRequest("/")))
	r.expectSwitch(sampleAccept)
	return r
}

// TestE2EShutdown checks that cancelling Run closes every connection with
// 1001 and that Run then returns nil.
func TestE2EShutdown(t *testing.T) {
	t.Parallel()
	ts := startServer(t)
	a := dial(t, ts.addr, "A")
	ua := a.login("a", "")
	b := dial(t, ts.addr, "B")
	ub := b.login("b", `"other"`)
	c := dial(t, ts.addr, "C") // upgraded, not logged in
	e, err := dialPath(t, ts.addr, "/echo", "E")
	if err != nil {
		t.Fatal(err)
	}
	h := rawDial(t, ts.addr) // handshake not finished
	h.write([]byte("GET / HTTP/1.1\r\n"))
	// All connections are open once the last one is.
	waitFor(t, readTimeout, "5 open connections", func() bool { return ts.srv.Stats().Open.Load() == 5 })

	errc := make(chan error, 1)
	go func() { errc <- ts.stop() }()
	logouts := func(uids ...int64) func([]byte) bool {
		return func(raw []byte) bool {
			for _, uid := range uids {
				if sameJSON(raw, jLogout(uid)) == nil {
					return true
				}
			}
			return false
		}
	}
	for _, cl := range []struct {
		c     *wsClient
		allow func([]byte) bool
	}{{a, logouts(ub.uid)}, {b, logouts(ua.uid)}, {c, nil}, {e, nil}} {
		if got := cl.c.closeCode(cl.allow); got != websocket.CloseGoingAway {
			t.Errorf("%s: closed with %d at shutdown; want 1001", cl.c.name, got)
		}
	}
	expectClosed(t, h)
	select {
	case err := <-errc:
		if err != nil {
			t.Errorf("Run returned %v; want nil", err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("Run did not return after cancel")
	}
	if nc, err := net.DialTimeout("tcp", ts.addr, time.Second); err == nil {
		nc.Close()
		t.Errorf("dial %s after shutdown succeeded; want the listener closed", ts.addr)
	}
}
