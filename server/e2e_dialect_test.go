package server_test

// End-to-end tests of the current workerman-chat dialect (client_name,
// client_id, client_list, to_client_id, text ping) and of rooms shared
// with the 2014 dialect, through gorilla/websocket. The messages are
// written here as the current workerman-chat page and Events.php write
// them.

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"chatd/server"
)

// peer is a logged-in member of the current dialect as the server shows
// it: its client id (a decimal string) and escaped name.
type peer struct {
	id   string
	name string
}

func (u user) peer() peer { return peer{strconv.FormatInt(u.uid, 10), u.name} }

// curLoginMsg is the current page's login, byte for byte: the name with
// its double quotes escaped, room_id a bare number.
func curLoginMsg(name string, room int) string {
	return `{"type":"login","client_name":"` + strings.ReplaceAll(name, `"`, `\"`) + `","room_id":` + strconv.Itoa(room) + `}`
}

// curSayMsg is the current page's say: to_client_id and to_client_name
// are what its select shows ("all" and 所有人 for everyone).
func curSayMsg(toID, toName, content string) string {
	return fmt.Sprintf(`{"type":"say","to_client_id":%s,"to_client_name":%s,"content":%s}`, jstr(toID), jstr(toName), jstr(content))
}

func jCurLogin(p peer) string {
	return fmt.Sprintf(`{"type":"login","client_id":%s,"client_name":%s,"time":"$T","id":"$ID"}`, jstr(p.id), jstr(p.name))
}

// jCurLoginList is the newcomer's one login; members in join order, the
// newcomer last.
func jCurLoginList(p peer, members ...peer) string {
	var list []string
	for _, m := range append(members, p) {
		list = append(list, jstr(m.id)+":"+jstr(m.name))
	}
	return strings.TrimSuffix(jCurLogin(p), `,"id":"$ID"}`) + `,"client_list":{` + strings.Join(list, ",") + `},"id":"$ID"}`
}

func jCurSay(from peer, to, content string) string {
	id := "" // private messages carry no id
	if to == "all" {
		id = `,"id":"$ID"`
	}
	return fmt.Sprintf(`{"type":"say","from_client_id":%s,"from_client_name":%s,"to_client_id":%s,"content":%s,"time":"$T"%s}`,
		jstr(from.id), jstr(from.name), jstr(to), jstr(content), id)
}

func jCurLogout(p peer) string {
	return fmt.Sprintf(`{"type":"logout","from_client_id":%s,"from_client_name":%s,"time":"$T","id":"$ID"}`, jstr(p.id), jstr(p.name))
}

// curLogin logs c in with the current dialect's login into room and
// checks the one login with client_list that follows; it returns c as
// the others see it.
func (c *wsClient) curLogin(name string, room int, members ...peer) peer {
	c.t.Helper()
	c.send(curLoginMsg(name, room))
	raw := c.next()
	var m struct {
		ClientID string `json:"client_id"`
	}
	if err := json.Unmarshal(raw, &m); err != nil || m.ClientID == "" {
		c.t.Fatalf("%s: got %s; want a login with its client_id (%v)", c.name, raw, err)
	}
	me := peer{m.ClientID, htmlEscape(name)}
	if err := sameJSON(raw, jCurLoginList(me, members...)); err != nil {
		c.t.Fatalf("%s: got %s; want %s: %v", c.name, raw, jCurLoginList(me, members...), err)
	}
	return me
}

// noTextPing disables the text ping, so that it cannot come between the
// messages a test expects.
func noTextPing(c *server.Config) { c.TextPingInterval = -1 }

// TestCurrentDialect drives two clients of the current dialect through
// login, list, say, private messages and logout.
func TestCurrentDialect(t *testing.T) {
	ts := startServer(t, noTextPing)
	a, b := dial(t, ts.addr, "a"), dial(t, ts.addr, "b")
	pa := a.curLogin("猪猪", 1)
	pb := b.curLogin(`bo"b<i>`, 1, pa)
	a.expect(jCurLogin(pb))
	if pb.name != "bo&quot;b&lt;i&gt;" {
		t.Fatalf("escaped name = %q", pb.name)
	}

	t.Run("say", func(t *testing.T) {
		b.send(curSayMsg("all", "所有人", "hi <all>\nline 2"))
		want := jCurSay(pb, "all", "hi &lt;all&gt;<br />\nline 2")
		a.expect(want)
		b.expect(want)
	})
	t.Run("private", func(t *testing.T) {
		a.send(curSayMsg(pb.id, `bo"b<i>`, "psst"))
		b.expect(jCurSay(pa, pb.id, "<b>对你说: </b>psst"))
		a.expect(jCurSay(pa, pb.id, "<b>你对bo&quot;b&lt;i&gt;说: </b>psst"))
		a.send(curSayMsg("7f0000010b5400000001", "ghost", "nobody")) // an id of the original's form
		a.expectError("no_such_user")
	})
	t.Run("pong ignored", func(t *testing.T) {
		a.send(`{"type":"pong"}`)
		a.send(curSayMsg("all", "所有人", "after pong"))
		a.expect(jCurSay(pa, "all", "after pong"))
		b.expect(jCurSay(pa, "all", "after pong"))
	})
	t.Run("logout", func(t *testing.T) {
		b.close()
		a.expect(jCurLogout(pb))
	})
}

// TestCurrentDialectNewcomerGetsOneLogin: a newcomer of the current
// dialect gets exactly one message for its login (no user_list, no second
// login): the next thing it sees is the room's next message.
func TestCurrentDialectNewcomerGetsOneLogin(t *testing.T) {
	ts := startServer(t, noTextPing)
	a := dial(t, ts.addr, "a")
	pa := a.curLogin("a", 3)
	a.send(curSayMsg("all", "所有人", "next"))
	a.expect(jCurSay(pa, "all", "next"))
	a.expectNothingPending()
}

// TestMixedDialects puts a client of each dialect in one room (room_id 1
// and none are the same room) and checks that each sees the other in its
// own dialect: logins, says, private messages both ways, logout.
func TestMixedDialects(t *testing.T) {
	ts := startServer(t, noTextPing)
	old, cur := dial(t, ts.addr, "old"), dial(t, ts.addr, "cur")
	uo := old.login("old&", "")
	pc := cur.curLogin("cur", 1, uo.peer())
	uc := user{mustUID(t, pc.id), pc.name}
	old.expect(jLogin(uc))

	old.send(sayAll("from 2014"))
	old.expect(jSay(uo.uid, "from 2014"))
	cur.expect(jCurSay(uo.peer(), "all", "from 2014"))

	cur.send(curSayMsg("all", "所有人", "from current"))
	old.expect(jSay(uc.uid, "from current"))
	cur.expect(jCurSay(pc, "all", "from current"))

	old.send(sayMsg(pc.id, "2014 to current"))
	cur.expect(jCurSay(uo.peer(), pc.id, "<b>对你说: </b>2014 to current"))
	old.expect(jPrivate(uo.uid, uc.uid, "2014 to current"))

	cur.send(curSayMsg(strconv.FormatInt(uo.uid, 10), "old&", "current to 2014"))
	old.expect(jPrivate(uc.uid, uo.uid, "current to 2014"))
	cur.expect(jCurSay(pc, strconv.FormatInt(uo.uid, 10), "<b>你对old&amp;说: </b>current to 2014"))

	old2 := dial(t, ts.addr, "old2")
	uo2 := old2.login("old2", `"1"`, uo, uc)
	old.expect(jLogin(uo2))
	cur.expect(jCurLogin(uo2.peer()))

	cur.close()
	old.expect(jLogout(uc.uid))
	old2.expect(jLogout(uc.uid))
	old2.close()
	old.expect(jLogout(uo2.uid))
}

func mustUID(t *testing.T, id string) int64 {
	t.Helper()
	n, err := strconv.ParseInt(id, 10, 64)
	if err != nil || n <= 0 {
		t.Fatalf("client_id %q is not a uid's decimal string", id)
	}
	return n
}

// TestTextPing: a logged-in client of the current dialect gets the text
// ping every TextPingInterval and its pong is ignored; a 2014 client of
// the same room gets none.
func TestTextPing(t *testing.T) {
	ts := startServer(t, func(c *server.Config) { c.TextPingInterval = 150 * time.Millisecond })
	old, cur := dial(t, ts.addr, "old"), dial(t, ts.addr, "cur")
	uo := old.login("old", "")
	cur.curLogin("cur", 1, uo.peer())
	old.next() // cur's login
	for i := 0; i < 3; i++ {
		cur.expect(`{"type":"ping"}`)
		cur.send(`{"type":"pong"}`)
	}
	old.send(sayAll("barrier"))
	old.expect(jSay(uo.uid, "barrier"))
	old.expectNothingPending()
}

// TestTextPingConfig pins the documented zero value and the refusal of an
// interval too short to be meant.
func TestTextPingConfig(t *testing.T) {
	for _, tc := range []struct {
		in   time.Duration
		want time.Duration
		err  bool
	}{
		{0, 10 * time.Second, false},
		{-1, -1, false},
		{time.Second, time.Second, false},
		{50 * time.Millisecond, 0, true},
	} {
		cfg := server.Config{TextPingInterval: tc.in}
		err := cfg.Normalize()
		if (err != nil) != tc.err || !tc.err && cfg.TextPingInterval != tc.want {
			t.Errorf("Normalize(TextPingInterval %v) = %v, %v; want %v, error %v", tc.in, cfg.TextPingInterval, err, tc.want, tc.err)
		}
	}
}

// TestClusterMixedDialects: one room with members of both dialects on two
// nodes. What crosses NATS is dialect-neutral; each node frames it for
// its own members' dialects.
func TestClusterMixedDialects(t *testing.T) {
	nats := startNATS(t, "127.0.0.1:0")
	opts := func(c *server.Config) { clusterOpt(nats.URL())(c); noTextPing(c) }
	n1, n2 := startServer(t, opts), startServer(t, opts)
	waitFor(t, 5*time.Second, "nodes healthy", func() bool { return n1.srv.ClusterHealthy() && n2.srv.ClusterHealthy() })

	a, c := dial(t, n1.addr, "a"), dial(t, n1.addr, "c") // 2014, current on node 1
	b, d := dial(t, n2.addr, "b"), dial(t, n2.addr, "d") // current, 2014 on node 2
	ua := a.login("alice", "1")
	pb := b.curLogin("bob&co", 1, ua.peer())
	ub := user{mustUID(t, pb.id), pb.name}
	a.expect(jLogin(ub))
	pc := c.curLogin("carol", 1, ua.peer(), pb)
	uc := user{mustUID(t, pc.id), pc.name}
	a.expect(jLogin(uc))
	b.expect(jCurLogin(pc))
	ud := d.login("dave", `"1"`, ua, ub, uc)
	a.expect(jLogin(ud))
	b.expect(jCurLogin(ud.peer()))
	c.expect(jCurLogin(ud.peer()))

	b.send(curSayMsg("all", "所有人", "from bob"))
	for _, cl := range []*wsClient{a, d} {
		cl.expect(jSay(ub.uid, "from bob"))
	}
	for _, cl := range []*wsClient{b, c} {
		cl.expect(jCurSay(pb, "all", "from bob"))
	}
	a.send(sayAll("from alice"))
	for _, cl := range []*wsClient{a, d} {
		cl.expect(jSay(ua.uid, "from alice"))
	}
	for _, cl := range []*wsClient{b, c} {
		cl.expect(jCurSay(ua.peer(), "all", "from alice"))
	}

	// Private across nodes and dialects, both ways.
	c.send(curSayMsg(strconv.FormatInt(ud.uid, 10), "dave", "carol to dave"))
	d.expect(jPrivate(uc.uid, ud.uid, "carol to dave"))
	c.expect(jCurSay(pc, strconv.FormatInt(ud.uid, 10), "<b>你对dave说: </b>carol to dave"))
	a.send(sayMsg(pb.id, "alice to bob"))
	b.expect(jCurSay(ua.peer(), pb.id, "<b>对你说: </b>alice to bob"))
	a.expect(jPrivate(ua.uid, ub.uid, "alice to bob"))
	c.send(curSayMsg(pb.id, "bob&co", "carol to bob"))
	b.expect(jCurSay(pc, pb.id, "<b>对你说: </b>carol to bob"))
	c.expect(jCurSay(pc, pb.id, "<b>你对bob&amp;co说: </b>carol to bob"))

	b.close()
	a.expect(jLogout(ub.uid))
	d.expect(jLogout(ub.uid))
	c.expect(jCurLogout(pb))
	a.close()
	c.expect(jCurLogout(ua.peer()))
	d.expect(jLogout(ua.uid))
}

// TestClusterDialectResync: when NATS goes away and comes back, a member
// of the current dialect sees the other node's member leave and come back
// in its dialect, names included.
func TestClusterDialectResync(t *testing.T) {
	nats := startNATS(t, "127.0.0.1:0")
	addr := nats.Addr()
	opts := func(c *server.Config) { clusterOpt(nats.URL())(c); noTextPing(c) }
	n1, n2 := startServer(t, opts), startServer(t, opts)
	waitFor(t, 5*time.Second, "nodes healthy", func() bool { return n1.srv.ClusterHealthy() && n2.srv.ClusterHealthy() })
	a, b := dial(t, n1.addr, "a"), dial(t, n2.addr, "b")
	pa := a.curLogin("alice", 1)
	ub := b.login("bob", "1", user{mustUID(t, pa.id), pa.name})
	a.expect(jCurLogin(ub.peer()))

	// The only NATS server restarts with an empty store: the rooms' log
	// starts over and each node joins its members again, so alice sees
	// bob leave and come back, in her dialect.
	nats.Shutdown()
	waitFor(t, 5*time.Second, "n1 not ready", func() bool { return !n1.srv.ClusterHealthy() })
	startNATS(t, addr)
	a.skipUntil(jCurLogout(ub.peer()))
	a.skipUntil(jCurLogin(ub.peer()))
}
