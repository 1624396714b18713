package server_test

import (
	"net/url"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"chatd/server"
)

// dialToken connects a client with a token for name limited to rooms
// (nil: no rooms claim).
func dialToken(t *testing.T, addr, name string, rooms []any) *wsClient {
	t.Helper()
	claims := jwt.MapClaims{"name": name, "exp": time.Now().Add(time.Hour).Unix()}
	if rooms != nil {
		claims["rooms"] = rooms
	}
	tok := token(t, jwt.SigningMethodHS256, []byte(testSecret), claims)
	c, err := dialPath(t, addr, "/?token="+url.QueryEscape(tok), name)
	if err != nil {
		t.Fatalf("dial %s: %v", name, err)
	}
	return c
}

// TestAuthRoomsPrivate: a token's rooms claim limits private messages to
// users who are in one of its rooms at the time (refused with
// forbidden, whether or not the uid exists elsewhere); tokens without
// the claim may message anyone, and anyone may message a limited user.
func TestAuthRoomsPrivate(t *testing.T) {
	ts := startServer(t, func(c *server.Config) { c.JWTSecret = testSecret })
	carol := dialToken(t, ts.addr, "carol", []any{"r1", 7})
	uc := carol.login("carol", `"r1"`)
	frank := dialToken(t, ts.addr, "frank", nil)
	uf := frank.login("frank", `7`)
	dave := dialToken(t, ts.addr, "dave", nil)
	ud := dave.login("dave", `"r2"`)
	erin := dialToken(t, ts.addr, "erin", []any{"r2"})
	ue := erin.login("erin", `"r2"`, ud)
	dave.expect(jLogin(ue))

	pm := func(from *wsClient, uf, ut user, content string) string {
		from.send(sayMsg(jsonInt(ut.uid), content))
		return jPrivate(uf.uid, ut.uid, content)
	}
	// Allowed: frank is in room 7, one of carol's rooms (not hers now).
	want := pm(carol, uc, uf, "hi frank")
	frank.expect(want)
	carol.expect(want)
	// Refused: dave is in r2; and a uid that does not exist at all gets
	// the same answer (no probing for uids outside the token's rooms).
	pm(carol, uc, ud, "hi dave")
	carol.expectErrorReason("forbidden", "rooms")
	pm(carol, uc, user{uid: 999_999}, "anyone?")
	carol.expectErrorReason("forbidden", "rooms")
	// Allowed: herself (she is in r1).
	want = pm(carol, uc, uc, "note to self")
	carol.expect(want)
	// A token without rooms may message carol; erin (r2) may message
	// dave (r2) but not carol (r1).
	want = pm(dave, ud, uc, "hi carol")
	carol.expect(want)
	dave.expect(want) // the first private dave sees: carol's was not delivered
	want = pm(erin, ue, ud, "hi dave")
	dave.expect(want)
	erin.expect(want)
	pm(erin, ue, uc, "hi carol")
	erin.expectErrorReason("forbidden", "rooms")
	// Once dave is in room 7, carol may message him.
	dave.send(loginMsg("dave", `7`))
	dave.expect(jUserList(uf, ud))
	dave.expect(jLogin(ud))
	frank.expect(jLogin(ud))
	erin.expect(jLogout(ud.uid))
	want = pm(carol, uc, ud, "now you're in 7")
	dave.expect(want)
	carol.expect(want)
	for _, c := range []*wsClient{carol, frank, dave, erin} {
		c.expectNothingPending()
	}
}

// TestAuthRoomsPrivateCluster: in cluster mode the rooms claim admits a
// private message to a member of the sender's room on another node and
// refuses one to a remote user outside the token's rooms.
func TestAuthRoomsPrivateCluster(t *testing.T) {
	nats := startNATS(t, "127.0.0.1:0")
	node := func() *testServer {
		ts := startServer(t, clusterOpt(nats.URL()), func(c *server.Config) { c.JWTSecret = testSecret })
		waitFor(t, 5*time.Second, "node healthy", ts.srv.ClusterHealthy)
		return ts
	}
	n1, n2 := node(), node()
	carol := dialToken(t, n1.addr, "carol", []any{"r1"})
	uc := carol.login("carol", `"r1"`)
	dave := dialToken(t, n2.addr, "dave", nil)
	ud := dave.login("dave", `"r1"`, uc)
	carol.expect(jLogin(ud))
	erin := dialToken(t, n2.addr, "erin", nil)
	ue := erin.login("erin", `"r3"`)

	carol.send(sayMsg(jsonInt(ud.uid), "across nodes"))
	want := jPrivate(uc.uid, ud.uid, "across nodes")
	dave.expect(want)
	carol.expect(want)
	carol.send(sayMsg(jsonInt(ue.uid), "outside r1"))
	carol.expectErrorReason("forbidden", "rooms")
	// erin's token has no rooms claim: she may message carol.
	erin.send(sayMsg(jsonInt(uc.uid), "hi carol"))
	want = jPrivate(ue.uid, uc.uid, "hi carol")
	carol.expect(want)
	erin.expect(want) // the first private erin sees: carol's was not delivered
}
