package load

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// miniChat is a one-room chat server on gorilla/websocket, an independent
// implementation, just enough of the protocol for a worker to talk to.
type miniChat struct {
	mu    sync.Mutex
	conns []*websocket.Conn
	names []string
	uid   int
}

func (s *miniChat) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	c, err := (&websocket.Upgrader{}).Upgrade(w, r, nil)
	if err != nil {
		return
	}
	uid := 0
	for {
		_, msg, err := c.ReadMessage()
		if err != nil {
			return
		}
		var in struct{ Type, Name, Content string }
		json.Unmarshal(msg, &in)
		s.mu.Lock()
		switch in.Type {
		case "login":
			s.uid++
			uid = s.uid
			s.conns = append(s.conns, c)
			s.names = append(s.names, fmt.Sprintf(`{"uid":%d,"name":%q}`, uid, in.Name))
			c.WriteMessage(websocket.TextMessage, []byte(`{"type":"user_list","user_list":[`+strings.Join(s.names, ",")+`]}`))
			s.all(fmt.Sprintf(`{"type":"login","uid":%d,"name":%q,"time":"x"}`, uid, in.Name))
		case "say":
			s.all(fmt.Sprintf(`{"type":"say","from_uid":%d,"to_uid":"all","content":%q,"time":"x"}`, uid, in.Content))
		}
		s.mu.Unlock()
	}
}

func (s *miniChat) all(m string) {
	for _, c := range s.conns {
		c.WriteMessage(websocket.TextMessage, []byte(m))
	}
}

// TestWorkerAgainstGorilla runs one worker in process: 20 clients join one
// room, the closed loop runs briefly, and the report must account for every
// delivery.
func TestWorkerAgainstGorilla(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go http.Serve(ln, &miniChat{})
	defer ln.Close()

	const n = 20
	plan := Plan{Addrs: []string{ln.Addr().String()}, Count: n, Total: n, RoomSize: n, RoomPrefix: "r-",
		SenderEvery: 5, CheckMembers: true}
	inR, inW := io.Pipe()
	outR, outW := io.Pipe()
	done := make(chan error, 1)
	go func() { done <- RunWorker(inR, outW); outW.Close() }()
	events := make(chan Event, 100)
	go func() {
		sc := bufio.NewScanner(outR)
		sc.Buffer(nil, 16<<20)
		for sc.Scan() {
			var ev Event
			if json.Unmarshal(sc.Bytes(), &ev) == nil {
				events <- ev
			}
		}
		close(events)
	}()
	send := func(v any) {
		b, _ := json.Marshal(v)
		inW.Write(append(b, '\n'))
	}
	until := func(what string, ok func(Event) bool) Event {
		deadline := time.After(10 * time.Second)
		for {
			select {
			case ev := <-events:
				if ev.Ev == "fatal" {
					t.Fatalf("worker: %s", ev.Msg)
				}
				if ok(ev) {
					return ev
				}
			case <-deadline:
				t.Fatalf("timed out waiting for %s", what)
			}
		}
	}
	send(plan)
	send(Command{Cmd: "connect"})
	until("logins", func(ev Event) bool { return ev.C.Complete == n })
	send(Command{Cmd: "measure", Window: 2})
	send(Command{Cmd: "go"})
	until("deliveries", func(ev Event) bool { return ev.C.Received > 200 })
	send(Command{Cmd: "stop"})
	until("drain", func(ev Event) bool { return ev.C.Phase == 2 && ev.C.Received == ev.C.Sent*n })
	send(Command{Cmd: "report"})
	rep := until("report", func(ev Event) bool { return ev.Ev == "report" })
	if rep.C.Logins != n*(n+1)/2 || rep.Login.Count() != n || rep.Latency.Count() != uint64(rep.C.Received) {
		t.Errorf("report: %d login notices, %d login latencies, %d of %d latencies; want %d, %d, all",
			rep.C.Logins, rep.Login.Count(), rep.Latency.Count(), rep.C.Received, n*(n+1)/2, n)
	}
	if rep.C.Failed+rep.C.Dropped+int(rep.C.Errors) != 0 || rep.FirstErr != "" {
		t.Errorf("report: failed %d, dropped %d, errors %d, %q; want none", rep.C.Failed, rep.C.Dropped, rep.C.Errors, rep.FirstErr)
	}
	send(Command{Cmd: "exit"})
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

func TestWorkerRefusesNonLoopback(t *testing.T) {
	for _, addr := range []string{"10.0.0.1:80", "example.com:80", "[::1]:80"} {
		if _, err := newWorker(Plan{Addrs: []string{addr}}, io.Discard); err == nil {
			t.Errorf("newWorker(%q) = nil error; want ErrNotLoopback", addr)
		}
	}
}

// TestMeasureCountsEveryDeliveryAcrossWorkers: two workers share one room.
// The coordinator tells them to measure one after the other (a pipe each,
// as in a run); deliveries of the first one's messages that reach the
// second before its own "measure" must still be counted once the phase
// starts, so that every worker's counters begin before anyone sends: sending
// starts with "go", after all of them have reset.
func TestMeasureCountsEveryDeliveryAcrossWorkers(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go http.Serve(ln, &miniChat{})
	defer ln.Close()

	const n, half = 20, 10
	type wk struct {
		in     *io.PipeWriter
		events chan Event
		done   chan error
		last   Event
	}
	start := func(first int) *wk {
		inR, inW := io.Pipe()
		outR, outW := io.Pipe()
		// A worker blocks on its output while nobody reads it: buffer plenty.
		w := &wk{in: inW, events: make(chan Event, 1<<16), done: make(chan error, 1)}
		go func() { w.done <- RunWorker(inR, outW); outW.Close() }()
		go func() {
			sc := bufio.NewScanner(outR)
			sc.Buffer(nil, 16<<20)
			for sc.Scan() {
				var ev Event
				if json.Unmarshal(sc.Bytes(), &ev) == nil {
					w.events <- ev
				}
			}
			close(w.events)
		}()
		plan := Plan{Worker: first / half, Addrs: []string{ln.Addr().String()}, First: first, Count: half, Total: n,
			RoomSize: n, RoomPrefix: "r-", SenderEvery: 5, CheckMembers: true}
		b, _ := json.Marshal(plan)
		inW.Write(append(b, '\n'))
		return w
	}
	send := func(w *wk, v any) {
		b, _ := json.Marshal(v)
		w.in.Write(append(b, '\n'))
	}
	// until waits for an event of w that satisfies ok; with within > 0 it
	// gives up quietly after that long and reports false.
	until := func(w *wk, what string, within time.Duration, ok func(Event) bool) bool {
		limit := within
		if limit == 0 {
			limit = 10 * time.Second
		}
		deadline := time.After(limit)
		for {
			select {
			case ev, open := <-w.events:
				if !open {
					t.Fatalf("worker ended waiting for %s", what)
				}
				if ev.Ev == "fatal" {
					t.Fatalf("worker: %s", ev.Msg)
				}
				w.last = ev
				if ok(ev) {
					return true
				}
			case <-deadline:
				if within > 0 {
					return false
				}
				t.Fatalf("timed out waiting for %s", what)
			}
		}
	}
	a := start(0)
	send(a, Command{Cmd: "connect"})
	until(a, "a connected", 0, func(ev Event) bool { return ev.C.Open == half })
	b := start(half)
	send(b, Command{Cmd: "connect"})
	until(b, "b logins", 0, func(ev Event) bool { return ev.C.Complete == half })
	until(a, "a logins", 0, func(ev Event) bool { return ev.C.Complete == half })

	// a measures first; give its messages (if it sends any before "go")
	// up to a second to reach b before b resets for the phase.
	send(a, Command{Cmd: "measure", Window: 2})
	until(a, "a armed", 0, func(ev Event) bool { return ev.C.Phase == 1 })
	until(b, "b sees a's messages", time.Second, func(ev Event) bool { return ev.C.Received > 0 })
	send(b, Command{Cmd: "measure", Window: 2})
	until(b, "b armed", 0, func(ev Event) bool { return ev.C.Phase == 1 })
	send(a, Command{Cmd: "go"})
	send(b, Command{Cmd: "go"})
	until(a, "a sends", 0, func(ev Event) bool { return ev.C.Sent > 50 })
	send(a, Command{Cmd: "stop"})
	send(b, Command{Cmd: "stop"})
	until(a, "a stopped", 0, func(ev Event) bool { return ev.C.Phase == 2 })
	until(b, "b stopped", 0, func(ev Event) bool { return ev.C.Phase == 2 })
	// Drain: every message reaches every member of the room, both workers.
	sent := func() int64 { return a.last.C.Sent + b.last.C.Sent }
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); {
		if a.last.C.Received+b.last.C.Received >= sent()*n {
			break
		}
		// Read each worker's events for a while: w.last is then its latest.
		until(a, "a progress", 100*time.Millisecond, func(Event) bool { return false })
		until(b, "b progress", 100*time.Millisecond, func(Event) bool { return false })
	}
	if got, want := a.last.C.Received+b.last.C.Received, sent()*n; got != want {
		t.Errorf("deliveries counted %d (a %d, b %d); want %d (%d sent × %d members)",
			got, a.last.C.Received, b.last.C.Received, want, sent(), n)
	}
	send(a, Command{Cmd: "exit"})
	send(b, Command{Cmd: "exit"})
	for _, w := range []*wk{a, b} {
		if err := <-w.done; err != nil {
			t.Fatal(err)
		}
	}
}
