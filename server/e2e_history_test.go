package server_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"chatd/server"
)

// History and resume (PROTOCOL.md, "History" and "Resume"), through
// gorilla/websocket.

// historyMsg is a decoded {"type":"history"} message; Messages keep
// their raw JSON, to compare with what the room was sent.
type historyMsg struct {
	Type     string            `json:"type"`
	Messages []json.RawMessage `json:"messages"`
	Complete bool              `json:"complete"`
}

// loginWith logs c in with extra login fields (`"history":3`), checks the
// user_list, and returns the history message and c's uid; the login
// notice that follows is read and checked.
func (c *wsClient) loginWith(name, room, extra string) (historyMsg, user) {
	c.t.Helper()
	c.send(fmt.Sprintf(`{"type":"login","name":%s,"room_id":%s,%s}`, jstr(name), room, extra))
	raw := c.next()
	var ul struct {
		UserList []struct{ UID int64 } `json:"user_list"`
	}
	if err := json.Unmarshal(raw, &ul); err != nil || len(ul.UserList) == 0 {
		c.t.Fatalf("%s: got %s; want a user_list", c.name, raw)
	}
	me := user{uid: ul.UserList[len(ul.UserList)-1].UID, name: name}
	raw = c.next()
	var h historyMsg
	if err := json.Unmarshal(raw, &h); err != nil || h.Type != "history" || h.Messages == nil {
		c.t.Fatalf("%s: got %s after user_list; want a history message", c.name, raw)
	}
	if !strings.HasSuffix(string(raw), fmt.Sprintf(`],"complete":%v}`, h.Complete)) {
		c.t.Fatalf("%s: history %s does not end with complete", c.name, raw)
	}
	c.expect(jLogin(me))
	return h, me
}

// says has c say each of contents to its room and returns the frames it
// got back (after the ones of others, none expected here).
func (c *wsClient) says(contents ...string) [][]byte {
	c.t.Helper()
	var got [][]byte
	for _, s := range contents {
		c.send(sayAll(s))
		got = append(got, c.next())
	}
	return got
}

// idOf returns the "id" of a room event.
func idOf(t *testing.T, raw []byte) string {
	t.Helper()
	var m struct{ ID string }
	if err := json.Unmarshal(raw, &m); err != nil || !idRE.MatchString(m.ID) {
		t.Fatalf("%s: no id", raw)
	}
	return m.ID
}

func contentOf(t *testing.T, raw []byte) string {
	t.Helper()
	var m struct{ Type, Content string }
	if err := json.Unmarshal(raw, &m); err != nil || m.Type != "say" {
		t.Fatalf("%s: not a say", raw)
	}
	return m.Content
}

func sameRaw(t *testing.T, who string, got []json.RawMessage, want [][]byte) {
	t.Helper()
	g := make([]string, len(got))
	for i := range got {
		g[i] = string(got[i])
	}
	w := make([]string, len(want))
	for i := range want {
		w[i] = string(want[i])
	}
	if strings.Join(g, "\n") != strings.Join(w, "\n") {
		t.Fatalf("%s: history\n%s\nwant\n%s", who, strings.Join(g, "\n"), strings.Join(w, "\n"))
	}
}

// TestHistoryOnJoin: a newcomer asking for history gets the room's last
// says, oldest first, exactly as the room got them (ids included), right
// after its user_list; the count it asks for and the server's cap apply.
func TestHistoryOnJoin(t *testing.T) {
	t.Parallel()
	ts := startServer(t, noRateLimit, func(c *server.Config) { c.HistoryMax = 4 })
	a := dial(t, ts.addr, "a")
	ua := a.login("alice", `"h"`)
	sent := a.says("one", "two", "three", "four", "five", "six")

	tests := []struct {
		name, extra string
		want        [][]byte
		complete    bool
	}{
		{"last 2", `"history":2`, sent[4:], true},
		{"capped at 4", `"history":50`, sent[2:], false},
		{"zero", `"history":0,"since":` + jstr(idOf(t, sent[3])), sent[4:], true},
	}
	for i, tt := range tests {
		b := dial(t, ts.addr, "b")
		h, ub := b.loginWith(fmt.Sprint("bob", i), `"h"`, tt.extra)
		sameRaw(t, tt.name, h.Messages, tt.want)
		if h.Complete != tt.complete {
			t.Errorf("%s: complete = %v; want %v", tt.name, h.Complete, tt.complete)
		}
		a.expect(jLogin(ub))
		b.close()
		a.expect(jLogout(ub.uid))
	}
	_ = ua

	// A login without history or since gets no history message.
	c := dial(t, ts.addr, "c")
	uc := c.login("carol", `"h"`, ua)
	a.expect(jLogin(uc))
	c.expectNothingPending()
}

// TestHistoryCurrentDialect: a current-dialect newcomer gets its history
// right after its login with client_list, in its dialect.
func TestHistoryCurrentDialect(t *testing.T) {
	t.Parallel()
	ts := startServer(t, noRateLimit, noTextPing)
	a := dial(t, ts.addr, "a")
	a.login("alice", `"hc"`)
	sent := a.says("x", "y")
	b := dial(t, ts.addr, "b")
	b.send(`{"type":"login","client_name":"bob","room_id":"hc","history":5}`)
	if raw := b.next(); !strings.Contains(string(raw), `"client_list"`) {
		t.Fatalf("b got %s; want its login with client_list", raw)
	}
	var h historyMsg
	raw := b.next()
	if err := json.Unmarshal(raw, &h); err != nil || h.Type != "history" || len(h.Messages) != 2 || !h.Complete {
		t.Fatalf("b got %s; want a complete history of 2", raw)
	}
	for i, m := range h.Messages {
		var s struct {
			FromClientName string `json:"from_client_name"`
			ID             string `json:"id"`
		}
		if err := json.Unmarshal(m, &s); err != nil || s.FromClientName != "alice" || s.ID != idOf(t, sent[i]) {
			t.Errorf("history[%d] = %s; want alice's say in the current dialect with id %s", i, m, idOf(t, sent[i]))
		}
	}
}

// TestHistoryAge: says older than HistoryAge are not given.
func TestHistoryAge(t *testing.T) {
	t.Parallel()
	ts := startServer(t, noRateLimit, func(c *server.Config) { c.HistoryAge = 300 * time.Millisecond })
	a := dial(t, ts.addr, "a")
	a.login("alice", `"age"`)
	a.says("old")
	var h historyMsg
	waitFor(t, 5*time.Second, "the say to age out", func() bool {
		b := dial(t, ts.addr, "b")
		defer b.close()
		h, _ = b.loginWith("bob", `"age"`, `"history":10`)
		return len(h.Messages) == 0
	})
	if h.Complete {
		t.Errorf("complete = true after a say aged out; want false")
	}
}

// TestResumeAfterDrop: a member whose connection drops while others keep
// talking logs in again with since and gets every say it missed, once,
// then the live ones: nothing missing, nothing repeated.
func TestResumeAfterDrop(t *testing.T) {
	t.Parallel()
	ts := startServer(t, noRateLimit)
	a := dial(t, ts.addr, "a")
	a.login("alice", `"rs"`)
	b := dial(t, ts.addr, "b")
	_, ub := b.loginWith("bob", `"rs"`, `"history":10`)
	a.expect(jLogin(ub))

	const total = 60
	done := make(chan struct{})
	go func() { // alice talks the whole time, at her own pace
		defer close(done)
		for i := range total {
			if a.sendRaw(sayAll(fmt.Sprint("m", i))) != nil {
				return
			}
			time.Sleep(2 * time.Millisecond)
		}
	}()
	var got []string
	last := ""
	for len(got) < 10 {
		raw := b.next()
		if strings.Contains(string(raw), `"say"`) {
			got = append(got, contentOf(t, raw))
		}
		last = idOf(t, raw)
	}
	_ = b.conn.UnderlyingConn().Close() // the drop: no close frame
	b2 := dial(t, ts.addr, "b2")
	h, _ := b2.loginWith("bob", `"rs"`, `"since":`+jstr(last))
	if !h.Complete {
		t.Errorf("resume: complete = false; want true")
	}
	for _, m := range h.Messages {
		got = append(got, contentOf(t, m))
	}
	<-done
	for len(got) < total {
		raw := b2.next()
		if strings.Contains(string(raw), `"say"`) {
			got = append(got, contentOf(t, raw))
		}
	}
	for i, c := range got {
		if c != fmt.Sprint("m", i) {
			t.Fatalf("bob's conversation = %v; want m0..m%d, each once, in order", got, total-1)
		}
	}
	b2.expectNothingPendingSay(t)
}

// expectNothingPendingSay checks that no say is queued (logouts may be).
func (c *wsClient) expectNothingPendingSay(t *testing.T) {
	t.Helper()
	for {
		select {
		case m := <-c.in:
			if strings.Contains(string(m.data), `"say"`) {
				t.Fatalf("%s: unexpected say %s", c.name, m.data)
			}
		default:
			return
		}
	}
}

// TestResumeIncomplete: complete is false when the server no longer
// holds every say after since (the retention was exceeded), and after a
// single node restarted (the id is of another log).
func TestResumeIncomplete(t *testing.T) {
	t.Parallel()
	opts := []func(*server.Config){noRateLimit, func(c *server.Config) { c.HistoryMax = 3 }}
	ts := startServer(t, opts...)
	a := dial(t, ts.addr, "a")
	a.login("alice", `"ri"`)
	first := a.says("s0")
	since := idOf(t, first[0])
	sent := a.says("s1", "s2", "s3", "s4")
	b := dial(t, ts.addr, "b")
	h, _ := b.loginWith("bob", `"ri"`, `"since":`+jstr(since))
	sameRaw(t, "retention exceeded", h.Messages, sent[1:])
	if h.Complete {
		t.Errorf("retention exceeded: complete = true; want false")
	}
	// Within the retention it is complete.
	c := dial(t, ts.addr, "c")
	h, _ = c.loginWith("carol", `"ri"`, `"since":`+jstr(idOf(t, sent[1])))
	sameRaw(t, "within retention", h.Messages, sent[2:])
	if !h.Complete {
		t.Errorf("within retention: complete = false; want true")
	}

	if err := ts.stop(); err != nil {
		t.Fatal(err)
	}
	ts2 := startServer(t, opts...)
	d := dial(t, ts2.addr, "d")
	h, _ = d.loginWith("dave", `"ri"`, `"since":`+jstr(idOf(t, sent[3])))
	if h.Complete || len(h.Messages) != 0 {
		t.Errorf("after a restart: history %+v; want none, complete false", h)
	}
}

// TestResumeEmptiedRoom: a room whose last member left keeps its
// history; a member coming back (the room opened again) resumes
// completely.
func TestResumeEmptiedRoom(t *testing.T) {
	t.Parallel()
	ts := startServer(t, noRateLimit)
	a := dial(t, ts.addr, "a")
	a.login("alice", `"er"`)
	sent := a.says("p", "q")
	a.close()
	waitFor(t, 5*time.Second, "alice gone and the room opened again", func() bool {
		b := dial(t, ts.addr, "b")
		defer b.close()
		b.send(`{"type":"login","name":"alice","room_id":"er","since":` + jstr(idOf(t, sent[0])) + `}`)
		var ul struct {
			UserList []struct{ UID int64 } `json:"user_list"`
		}
		if err := json.Unmarshal(b.next(), &ul); err != nil || len(ul.UserList) != 1 {
			return false
		}
		var h historyMsg
		if err := json.Unmarshal(b.next(), &h); err != nil {
			t.Fatal(err)
		}
		sameRaw(t, "emptied room", h.Messages, sent[1:])
		if !h.Complete {
			t.Errorf("complete = false; want true")
		}
		return true
	})
}

// TestResumeEmptiedRoomNoSays: a member alone in a room that had no
// say, whose connection dropped (the room emptied), resumes completely.
func TestResumeEmptiedRoomNoSays(t *testing.T) {
	t.Parallel()
	ts := startServer(t)
	a := dial(t, ts.addr, "a")
	a.send(loginMsg("alice", `"en"`))
	a.next()
	since := idOf(t, a.next())
	a.close()
	waitFor(t, 5*time.Second, "alice gone and the room opened again", func() bool {
		b := dial(t, ts.addr, "b")
		defer b.close()
		b.send(`{"type":"login","name":"alice","room_id":"en","since":` + jstr(since) + `}`)
		var ul struct {
			UserList []struct{ UID int64 } `json:"user_list"`
		}
		if err := json.Unmarshal(b.next(), &ul); err != nil || len(ul.UserList) != 1 {
			return false
		}
		var h historyMsg
		if err := json.Unmarshal(b.next(), &h); err != nil {
			t.Fatal(err)
		}
		if !h.Complete || len(h.Messages) != 0 {
			t.Errorf("history %+v; want none, complete", h)
		}
		return true
	})
}

// TestHistoryBadValues: a bad history or since is bad_json with a
// reason and no login; a good login then works.
func TestHistoryBadValues(t *testing.T) {
	t.Parallel()
	ts := startServer(t)
	c := dial(t, ts.addr, "c")
	for _, extra := range []string{`"history":-1`, `"history":"5"`, `"history":2.5`, `"since":"nope"`, `"since":17`, `"since":"A-1"`} {
		c.send(`{"type":"login","name":"x","room_id":"bv",` + extra + `}`)
		c.expectError("bad_json")
	}
	c.login("x", `"bv"`)
}

// TestClusterResumeOnOtherNode: in a 3-node cluster, a member of node 1
// whose connection drops while the room keeps talking resumes on node 3,
// which did not have the room open: node 3 reads the room's says from
// the replicated log (before and after its checkpoint) and gives exactly
// the missed ones, byte for byte what the room was sent (ids are the
// log's, the same on every node), then the live ones.
func TestClusterResumeOnOtherNode(t *testing.T) {
	nats := startNATS(t, "127.0.0.1:0")
	n1, n2, n3 := startNode(t, nats.URL()), startNode(t, nats.URL()), startNode(t, nats.URL())
	a, c := dial(t, n1.addr, "a"), dial(t, n2.addr, "c")
	ua := a.login("alice", `"cr"`)
	uc := c.login("carol", `"cr"`, ua)
	a.expect(jLogin(uc))
	b := dial(t, n1.addr, "b")
	_, ub := b.loginWith("bob", `"cr"`, `"history":5`)
	a.expect(jLogin(ub))
	c.expect(jLogin(ub))
	first := a.says("before")
	if got := b.next(); string(got) != string(first[0]) {
		t.Fatalf("b got %s; want %s", got, first[0])
	}
	c.next()
	since := idOf(t, first[0])
	_ = b.conn.UnderlyingConn().Close()
	a.expect(jLogout(ub.uid))

	const missed = 150 // past checkpointEvery (64): node 3 syncs from a checkpoint
	var sent [][]byte
	for i := range missed {
		a.send(sayAll(fmt.Sprint("m", i)))
		sent = append(sent, a.next())
		c.next()
	}
	b3 := dial(t, n3.addr, "b3")
	h, ub3 := b3.loginWithList("bob", `"cr"`, `"history":1000,"since":`+jstr(since))
	sameRaw(t, "resume on node 3", h.Messages, sent[len(sent)-100:]) // capped at HistoryMax (100)
	if h.Complete {
		t.Errorf("resume of %d says with HistoryMax 100: complete = true; want false", missed)
	}
	a.expect(jLogin(ub3))

	// Within the cap: complete, exactly the missed ones.
	since = idOf(t, sent[len(sent)-20])
	b4 := dial(t, n3.addr, "b4")
	h, ub4 := b4.loginWithList("bob", `"cr"`, `"since":`+jstr(since))
	sameRaw(t, "resume on node 3 within the cap", h.Messages, sent[len(sent)-19:])
	if !h.Complete {
		t.Errorf("resume of 19 says: complete = false; want true")
	}
	a.expect(jLogin(ub4))
	a.send(sayAll("live"))
	live := a.next()
	for _, cl := range []*wsClient{b3, b4} {
		cl.skipUntilSay(t, live)
	}
}

// loginWithList is loginWith for a room with other members: the
// user_list is read, not checked.
func (c *wsClient) loginWithList(name, room, extra string) (historyMsg, user) {
	return c.loginWith(name, room, extra)
}

// skipUntilSay reads until a say arrives and checks it is want.
func (c *wsClient) skipUntilSay(t *testing.T, want []byte) {
	t.Helper()
	for {
		raw := c.next()
		if !strings.Contains(string(raw), `"say"`) {
			continue
		}
		if string(raw) != string(want) {
			t.Fatalf("%s: got %s; want %s", c.name, raw, want)
		}
		return
	}
}

// TestClusterHistoryAfterRestart: the room's only node stops once its
// last member left; a new node (the restart) opening the room gives the
// history and a resume from the log, as the room was sent them.
func TestClusterHistoryAfterRestart(t *testing.T) {
	nats := startNATS(t, "127.0.0.1:0")
	n1 := startNode(t, nats.URL())
	a := dial(t, n1.addr, "a")
	a.login("alice", `"rr"`)
	var sent [][]byte
	for i := range 70 { // past a checkpoint (every 64 events)
		sent = append(sent, a.says(fmt.Sprint("r", i))...)
	}
	a.close()
	if err := n1.stop(); err != nil {
		t.Fatal(err)
	}
	n2 := startNode(t, nats.URL())
	b := dial(t, n2.addr, "b")
	h, _ := b.loginWith("bob", `"rr"`, `"history":5`)
	sameRaw(t, "history after the restart", h.Messages, sent[65:])
	if !h.Complete {
		t.Errorf("history after the restart: complete = false; want true")
	}
	c := dial(t, n2.addr, "c")
	h, _ = c.loginWith("carol", `"rr"`, `"since":`+jstr(idOf(t, sent[40])))
	sameRaw(t, "resume after the restart", h.Messages, sent[41:])
	if !h.Complete {
		t.Errorf("resume after the restart: complete = false; want true")
	}
}
