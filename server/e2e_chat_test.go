package server_test

import (
	"encoding/json"
	"fmt"
	"net"
	"strings"
	"testing"

	"github.com/gobwas/ws"
	"github.com/gorilla/websocket"

	"chatd/server"
)

// TestE2ESeedSession replays the seed's session: "猪猪" is logged in,
// "mynick" logs in and says "hi, all !". Every frame is compared with the
// seed's, key order included, with the uids and times of this run.
func TestE2ESeedSession(t *testing.T) {
	t.Parallel()
	ts := startServer(t)
	a := dial(t, ts.addr, "A")
	ua := a.login("猪猪", "")
	if ua.uid != 1 {
		t.Errorf("first uid = %d; want 1", ua.uid)
	}
	b := dial(t, ts.addr, "B")
	b.send(`{"type":"login","name":"mynick"}`)
	ubRaw := b.next()
	ub := user{uid: 0, name: "mynick"}
	var ul struct {
		UserList []struct{ UID int64 } `json:"user_list"`
	}
	if err := json.Unmarshal(ubRaw, &ul); err != nil || len(ul.UserList) != 2 {
		t.Fatalf("B's first message = %s; want a user_list of 2", ubRaw)
	}
	ub.uid = ul.UserList[1].UID
	if ub.uid <= ua.uid {
		t.Errorf("second uid = %d; want > %d", ub.uid, ua.uid)
	}
	seed := strings.NewReplacer("783654164", fmt.Sprint(ua.uid), "783700053", fmt.Sprint(ub.uid), `"2014-08-12 17:50:30"`, `"$T"`, `"2014-08-12 :51:02"`, `"$T"`)
	wantList := seed.Replace(`{"type":"user_list","user_list":[{"uid":783654164,"name":"\u732a\u732a"},{"uid":783700053,"name":"mynick"}]}`)
	if err := sameJSON(ubRaw, wantList); err != nil {
		t.Fatalf("B got %s; want %s: %v", ubRaw, wantList, err)
	}
	// The seed's frames, with the one extra key of PROTOCOL.md "History".
	wantLogin := seed.Replace(`{"type":"login","uid":783700053,"name":"mynick","time":"2014-08-12 17:50:30","id":"$ID"}`)
	b.expect(wantLogin)
	a.expect(wantLogin)

	b.send(`{"type":"say","to_uid":"all","content":"hi, all !"}`)
	wantSay := seed.Replace(`{"type":"say","from_uid":783700053,"to_uid":"all","content":"hi, all !","time":"2014-08-12 :51:02","id":"$ID"}`)
	b.expect(wantSay)
	a.expect(wantSay)
	a.expectNothingPending()
	b.expectNothingPending()
}

// TestE2EPrivate checks private messages: the target gets it, the sender
// exactly one echo, the others nothing; to_uid is always a number.
func TestE2EPrivate(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		to   func(uid int64) string
	}{
		{"number", func(uid int64) string { return fmt.Sprint(uid) }},
		{"string", func(uid int64) string { return fmt.Sprintf(`"%d"`, uid) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ts := startServer(t)
			a := dial(t, ts.addr, "A")
			ua := a.login("alice", "")
			b := dial(t, ts.addr, "B")
			ub := b.login("bob", "", ua)
			a.expect(jLogin(ub))
			c := dial(t, ts.addr, "C")
			uc := c.login("carol", "", ua, ub)
			a.expect(jLogin(uc))
			b.expect(jLogin(uc))

			a.send(sayMsg(tt.to(ub.uid), "psst"))
			b.expect(jPrivate(ua.uid, ub.uid, "psst"))
			a.expect(jPrivate(ua.uid, ub.uid, "psst"))
			b.send(sayMsg(tt.to(ua.uid), "back <b>"))
			a.expect(jPrivate(ub.uid, ua.uid, "back &lt;b&gt;"))
			b.expect(jPrivate(ub.uid, ua.uid, "back &lt;b&gt;"))

			// The marker follows the private messages on every path: C's
			// next message is the marker, and nobody got a second copy.
			a.send(sayAll("marker"))
			for _, cl := range []*wsClient{a, b, c} {
				cl.expect(jSay(ua.uid, "marker"))
				cl.expectNothingPending()
			}
		})
	}
}

// TestE2ERooms checks that rooms are isolated and that a numeric room_id
// is the room of its decimal string (and 1 the default room).
func TestE2ERooms(t *testing.T) {
	t.Parallel()
	ts := startServer(t)
	a := dial(t, ts.addr, "A")
	ua := a.login("a", `"7"`)
	b := dial(t, ts.addr, "B")
	ub := b.login("b", `7`, ua)
	a.expect(jLogin(ub))
	c := dial(t, ts.addr, "C")
	uc := c.login("c", `"r2"`)
	d := dial(t, ts.addr, "D")
	ud := d.login("d", "")
	e := dial(t, ts.addr, "E")
	ue := e.login("e", `1`, ud)
	d.expect(jLogin(ue))
	f := dial(t, ts.addr, "F")
	long := strings.Repeat("x", 64)
	uf := f.login("f", `"1"`, ud, ue)
	d.expect(jLogin(uf))
	e.expect(jLogin(uf))
	g := dial(t, ts.addr, "G")
	ug := g.login("g", jstr(long))

	rooms := []struct {
		name    string
		sender  user
		members []*wsClient
	}{
		{"7", ua, []*wsClient{a, b}},
		{"r2", uc, []*wsClient{c}},
		{"1", ud, []*wsClient{d, e, f}},
		{"64-byte", ug, []*wsClient{g}},
	}
	for _, r := range rooms {
		r.members[0].send(sayAll("in " + r.name))
		for _, m := range r.members {
			m.expect(jSay(r.sender.uid, "in "+r.name))
		}
	}
	for _, r := range rooms {
		r.members[0].send(sayAll("end " + r.name))
	}
	for _, r := range rooms {
		for _, m := range r.members {
			m.expect(jSay(r.sender.uid, "end "+r.name))
			m.expectNothingPending()
		}
	}
}

// TestE2ERelogin checks that a second login moves the connection: the old
// room gets a logout, the new room user_list and login.
func TestE2ERelogin(t *testing.T) {
	t.Parallel()
	ts := startServer(t)
	a := dial(t, ts.addr, "A")
	ua := a.login("a", "")
	b := dial(t, ts.addr, "B")
	ub := b.login("b", "", ua)
	a.expect(jLogin(ub))
	c := dial(t, ts.addr, "C")
	uc := c.login("c", `"x"`)

	b.send(loginMsg("b2", `"x"`))
	a.expect(jLogout(ub.uid))
	ub2 := b.expectLogin("b2", []user{uc})
	c.expect(jLogin(ub2))
	if ub2.uid == ua.uid || ub2.uid == uc.uid {
		t.Errorf("uid after re-login = %d; collides with %d or %d", ub2.uid, ua.uid, uc.uid)
	}

	a.send(sayAll("old room"))
	a.expect(jSay(ua.uid, "old room"))
	c.send(sayAll("new room"))
	b.expect(jSay(uc.uid, "new room"))
	c.expect(jSay(uc.uid, "new room"))
	b.send(sayAll("from b"))
	b.expect(jSay(ub2.uid, "from b"))
	c.expect(jSay(ub2.uid, "from b"))
	for _, cl := range []*wsClient{a, b, c} {
		cl.expectNothingPending()
	}

	// A newcomer of the old room no longer sees b.
	d := dial(t, ts.addr, "D")
	ud := d.login("d", "", ua)
	a.expect(jLogin(ud))
}

// TestE2EEscaping checks the HTML escaping of names and content.
func TestE2EEscaping(t *testing.T) {
	t.Parallel()
	names := []struct{ in, want string }{
		{`<b>"Tom" & Jerry</b>`, `&lt;b&gt;&quot;Tom&quot; &amp; Jerry&lt;/b&gt;`},
		{"猪猪", "猪猪"},
		{strings.Repeat("猪", 32), strings.Repeat("猪", 32)},
		{strings.Repeat("&", 32), strings.Repeat("&amp;", 32)},
		{"it's", "it's"},
	}
	for _, tt := range names {
		t.Run("name/"+tt.in, func(t *testing.T) {
			t.Parallel()
			ts := startServer(t)
			w := dial(t, ts.addr, "W")
			uw := w.login("watcher", "")
			c := dial(t, ts.addr, "C")
			c.send(loginMsg(tt.in, ""))
			uc := c.expectLogin(tt.want, []user{uw})
			w.expect(jLogin(uc))
			c.close()
			w.expect(jLogout(uc.uid))
		})
	}

	contents := []struct{ name, raw, want string }{
		{"plain", "hi, all !", "hi, all !"},
		{"script", `<script>alert("x")</script>`, `&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;`},
		{"amp", "a & b &amp; c", "a &amp; b &amp;amp; c"},
		{"apostrophe", "it's", "it's"},
		{"newline", "line1\nline2", "line1<br />\nline2"},
		{"crlf", "a\r\nb", "a<br />\r\nb"},
		{"two newlines", "x\n\ny", "x<br />\n<br />\ny"},
		{"br typed", "a<br />b", "a&lt;br /&gt;b"},
		{"json escapes", "tab\there \"q\" back\\slash", "tab\there &quot;q&quot; back\\slash"},
		{"unicode", "猪 😀", "猪 😀"},
		{"4096 bytes", strings.Repeat("<", 4096), strings.Repeat("&lt;", 4096)},
	}
	ts := startServer(t)
	a := dial(t, ts.addr, "A")
	ua := a.login("a", "")
	b := dial(t, ts.addr, "B")
	ub := b.login("b", "", ua)
	a.expect(jLogin(ub))
	for _, tt := range contents {
		t.Run("content/"+tt.name, func(t *testing.T) {
			if got := contentEscape(tt.raw); got != tt.want {
				t.Fatalf("contentEscape(%q) = %q; want %q (test reference)", tt.raw, got, tt.want)
			}
			a.send(sayAll(tt.raw))
			a.expect(jSay(ua.uid, tt.want))
			b.expect(jSay(ua.uid, tt.want))
		})
	}
	t.Run("content/json unicode escapes", func(t *testing.T) {
		a.send(`{"type":"say","to_uid":"all","content":"\u003cb\u003e \ud83d\ude00 \u732a"}`)
		a.expect(jSay(ua.uid, "&lt;b&gt; 😀 猪"))
		b.expect(jSay(ua.uid, "&lt;b&gt; 😀 猪"))
	})
}

// TestE2EErrors checks every error reply: the offender gets it, nobody
// else does, and the connection keeps working.
func TestE2EErrors(t *testing.T) {
	t.Parallel()
	longRoom := `"` + strings.Repeat("r", 65) + `"`
	tests := []struct {
		name   string
		login  bool // log in first
		binary bool
		msg    string
		code   string // "" = accepted and ignored
	}{
		{"not json", true, false, `hello`, "bad_json"},
		{"array", true, false, `[1,2]`, "bad_json"},
		{"string", true, false, `"str"`, "bad_json"},
		{"number", true, false, `42`, "bad_json"},
		{"null", true, false, `null`, "bad_json"},
		{"truncated", true, false, `{"type":"say"`, "bad_json"},
		{"trailing garbage", true, false, `{"type":"pong"} x`, "bad_json"},
		{"type not a string", true, false, `{"type":5}`, "bad_json"},
		{"name not a string", false, false, `{"type":"login","name":5}`, "bad_json"},
		{"content not a string", true, false, `{"type":"say","to_uid":"all","content":5}`, "bad_json"},
		{"to_uid bool", true, false, `{"type":"say","to_uid":true,"content":"x"}`, "bad_json"},
		{"room_id bool", true, false, `{"type":"login","name":"x","room_id":true}`, "bad_json"},
		{"room_id 65 bytes", true, false, `{"type":"login","name":"x","room_id":` + longRoom + `}`, "bad_json"},
		{"room_id 65 bytes before login", false, false, `{"type":"login","name":"x","room_id":` + longRoom + `}`, "bad_json"},
		{"binary", true, true, `{"type":"say","to_uid":"all","content":"x"}`, "bad_json"},
		{"binary before login", false, true, `{"type":"login","name":"x"}`, "bad_json"},
		{"unknown type", true, false, `{"type":"dance"}`, "unknown_type"},
		{"empty type", true, false, `{"type":""}`, "unknown_type"},
		{"type is case sensitive", true, false, `{"type":"Say","to_uid":"all","content":"x"}`, "unknown_type"},
		{"unknown type before login", false, false, `{"type":"dance"}`, "unknown_type"},
		{"say before login", false, false, sayAll("hi"), "not_logged_in"},
		{"private before login", false, false, sayMsg("$W", "hi"), "not_logged_in"},
		{"empty name", false, false, loginMsg("", ""), "bad_name"},
		{"blank name", false, false, loginMsg("   ", ""), "bad_name"},
		{"white space name", false, false, loginMsg("\t\n \r", ""), "bad_name"},
		{"no name", false, false, `{"type":"login"}`, "bad_name"},
		{"33 letters", false, false, loginMsg(strings.Repeat("a", 33), ""), "bad_name"},
		{"33 runes", false, false, loginMsg(strings.Repeat("猪", 33), ""), "bad_name"},
		{"bad name on re-login", true, false, loginMsg(" ", `"elsewhere"`), "bad_name"},
		{"empty content", true, false, sayAll(""), "bad_content"},
		{"blank content", true, false, sayAll("   "), "bad_content"},
		{"white space content", true, false, sayAll("\n\t \r\n"), "bad_content"},
		{"blank private", true, false, sayMsg("$W", " "), "bad_content"},
		{"4097 bytes", true, false, sayAll(strings.Repeat("a", 4097)), "too_long"},
		{"4098 bytes of runes", true, false, sayAll(strings.Repeat("猪", 1366)), "too_long"},
		{"long private", true, false, sayMsg("$W", strings.Repeat("a", 4097)), "too_long"},
		{"unknown uid", true, false, sayMsg("999999", "x"), "no_such_user"},
		{"unknown uid string", true, false, sayMsg(`"999999"`, "x"), "no_such_user"},
		{"uid zero", true, false, sayMsg("0", "x"), "no_such_user"},
		{"negative uid", true, false, sayMsg("-1", "x"), "no_such_user"},
		{"to_uid name", true, false, sayMsg(`"bob"`, "x"), "no_such_user"},
		{"to_uid not decimal", true, false, sayMsg(`"12abc"`, "x"), "no_such_user"},
		{"to_uid empty", true, false, sayMsg(`""`, "x"), "no_such_user"},
		{"pong", true, false, `{"type":"pong"}`, ""},
		{"pong before login", false, false, `{"type":"pong"}`, ""},
	}
	ts := startServer(t)
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			room := fmt.Sprintf(`"e%d"`, i)
			w := dial(t, ts.addr, "watcher")
			uw := w.login("watcher", room)
			c := dial(t, ts.addr, "client")
			var uc user
			if tt.login {
				uc = c.login("client", room, uw)
				w.expect(jLogin(uc))
			}
			op := websocket.TextMessage
			if tt.binary {
				op = websocket.BinaryMessage
			}
			msg := strings.ReplaceAll(tt.msg, "$W", fmt.Sprint(uw.uid))
			if err := c.conn.WriteMessage(op, []byte(msg)); err != nil {
				t.Fatal(err)
			}
			if tt.code != "" {
				c.expectError(tt.code)
			}
			// The connection still works, and the watcher saw nothing of
			// the error: its next message is the follow-up.
			if tt.login {
				c.send(sayAll("after"))
				c.expect(jSay(uc.uid, "after"))
			} else {
				c.send(loginMsg("client", room))
				uc = c.expectLogin("client", []user{uw})
			}
			switch {
			case tt.login:
				w.expect(jSay(uc.uid, "after"))
			default:
				w.expect(jLogin(uc))
			}
			c.expectNothingPending()
			w.expectNothingPending()
		})
	}
}

// TestE2ELogout checks that a member leaving by close frame or by losing
// its connection is logged out of its room.
func TestE2ELogout(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		leave func(c *wsClient)
	}{
		{"close frame", func(c *wsClient) {
			_ = c.conn.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(1000, "bye"), deadline())
		}},
		{"tcp close", func(c *wsClient) { _ = c.conn.UnderlyingConn().Close() }},
		{"tcp reset", func(c *wsClient) {
			tc := c.conn.UnderlyingConn().(*net.TCPConn)
			_ = tc.SetLinger(0)
			_ = tc.Close()
		}},
	}
	ts := startServer(t)
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			room := fmt.Sprintf(`"l%d"`, i)
			a := dial(t, ts.addr, "A")
			ua := a.login("a", room)
			b := dial(t, ts.addr, "B")
			ub := b.login("b", room, ua)
			a.expect(jLogin(ub))
			tt.leave(b)
			a.expect(jLogout(ub.uid))
			c := dial(t, ts.addr, "C")
			uc := c.login("c", room, ua)
			a.expect(jLogin(uc))
			a.expectNothingPending()
		})
	}
}

// TestE2EPipelined writes several frames in one TCP write: they are
// handled in order (a say never overtakes the login before it).
func TestE2EPipelined(t *testing.T) {
	t.Parallel()
	text := func(s string) []byte { return frame(ws.OpText, true, []byte(s)) }
	t.Run("login then says", func(t *testing.T) {
		t.Parallel()
		ts := startServer(t)
		w := dial(t, ts.addr, "W")
		uw := w.login("w", "")
		r := rawUpgrade(t, ts.addr, "/")
		r.write(text(loginMsg("pipe", "")), text(sayAll("first")), text(sayAll("second")))
		me := r.expectLogin("pipe", uw)
		r.expect(jSay(me.uid, "first"))
		r.expect(jSay(me.uid, "second"))
		w.expect(jLogin(me))
		w.expect(jSay(me.uid, "first"))
		w.expect(jSay(me.uid, "second"))
	})
	t.Run("say before login", func(t *testing.T) {
		t.Parallel()
		ts := startServer(t)
		w := dial(t, ts.addr, "W")
		uw := w.login("w", "")
		r := rawUpgrade(t, ts.addr, "/")
		r.write(text(sayAll("early")), text(loginMsg("pipe", "")), text(sayAll("late")))
		r.expectError("not_logged_in")
		me := r.expectLogin("pipe", uw)
		r.expect(jSay(me.uid, "late"))
		w.expect(jLogin(me))
		w.expect(jSay(me.uid, "late"))
	})
	t.Run("relogin", func(t *testing.T) {
		t.Parallel()
		ts := startServer(t)
		w1 := dial(t, ts.addr, "W1")
		uw1 := w1.login("w1", "")
		w2 := dial(t, ts.addr, "W2")
		uw2 := w2.login("w2", `"p2"`)
		r := rawUpgrade(t, ts.addr, "/")
		r.write(text(loginMsg("pipe", "")), text(sayAll("a")), text(loginMsg("pipe2", `"p2"`)), text(sayAll("b")))
		me := r.expectLogin("pipe", uw1)
		r.expect(jSay(me.uid, "a"))
		me2 := r.expectLogin("pipe2", uw2)
		r.expect(jSay(me2.uid, "b"))
		w1.expect(jLogin(me))
		w1.expect(jSay(me.uid, "a"))
		w1.expect(jLogout(me.uid))
		w2.expect(jLogin(me2))
		w2.expect(jSay(me2.uid, "b"))
	})
	t.Run("handshake and frames", func(t *testing.T) {
		t.Parallel()
		ts := startServer(t)
		r := rawDial(t, ts.addr)
		r.write([]byte(upgradeRequest("/")), text(loginMsg("early", "")), text(sayAll("bird")))
		r.expectSwitch(sampleAccept)
		me := r.expectLogin("early")
		r.expect(jSay(me.uid, "bird"))
	})
}

// TestE2ENoTrafficBeforeLogin checks that an upgraded connection gets no
// chat traffic until it logs in.
func TestE2ENoTrafficBeforeLogin(t *testing.T) {
	t.Parallel()
	ts := startServer(t)
	x := dial(t, ts.addr, "X")
	a := dial(t, ts.addr, "A")
	ua := a.login("a", "")
	b := dial(t, ts.addr, "B")
	ub := b.login("b", "", ua)
	a.expect(jLogin(ub))
	b.send(sayAll("hello"))
	a.expect(jSay(ub.uid, "hello"))
	b.expect(jSay(ub.uid, "hello"))
	ux := x.login("x", "", ua, ub)
	a.expect(jLogin(ux))
	b.expect(jLogin(ux))
	x.expectNothingPending()
}

// TestE2ERateLimit checks the per-connection message rate limit: past
// MessageBurst a message gets rate_limited (and is not delivered); past
// MaxRateLimited such errors the connection is closed with 1008.
func TestE2ERateLimit(t *testing.T) {
	t.Parallel()
	ts := startServer(t, func(c *server.Config) {
		c.MessageRate = 0.001 // no refill during the test
		c.MessageBurst = 4
		c.MaxRateLimited = 2
	})
	w := dial(t, ts.addr, "W")
	uw := w.login("w", "")
	r := rawUpgrade(t, ts.addr, "/")
	text := func(s string) []byte { return frame(ws.OpText, true, []byte(s)) }
	r.write(text(loginMsg("flood", "")), text(sayAll("1")), text(sayAll("2")), text(sayAll("3")),
		text(sayAll("4")), text(sayAll("5")))
	me := r.expectLogin("flood", uw)
	for _, s := range []string{"1", "2", "3"} {
		r.expect(jSay(me.uid, s))
	}
	r.expectError("rate_limited")
	r.expectError("rate_limited")
	r.write(text(sayAll("6")))
	r.expectClose(1008)
	w.expect(jLogin(me))
	for _, s := range []string{"1", "2", "3"} {
		w.expect(jSay(me.uid, s))
	}
	w.expect(jLogout(me.uid))
}
