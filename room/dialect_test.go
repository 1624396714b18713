package room

import (
	"fmt"
	"strings"
	"testing"

	"chatd/codec"
)

// payloads returns the JSON texts of the server text frames written to c.
func (c *fakeConn) payloads() []string {
	var out []string
	for b := c.data; len(b) > 0; {
		n, hdr := int(b[1]&0x7f), 2
		switch n {
		case 126:
			n, hdr = int(b[2])<<8|int(b[3]), 4
		case 127:
			n, hdr = 0, 10
			for _, x := range b[2:10] {
				n = n<<8 | int(x)
			}
		}
		out = append(out, string(b[hdr:hdr+n]))
		b = b[hdr+n:]
	}
	return out
}

// take returns what c got since the last take.
func (c *fakeConn) take() []string {
	p := c.payloads()
	c.data = nil
	return p
}

const tm = `"time":"2014-08-12 17:50:30"`

// dialectMember logs in a member of dialect d on shard i.
func dialectMember(h *Hub, i int, d codec.Dialect, name string) (*Member, *fakeConn) {
	c := &fakeConn{}
	m := h.Shard(i).NewMember(c)
	m.SetDialect(d)
	h.Login(m, name, "")
	drainAll(h)
	return m, c
}

func expectPayloads(t *testing.T, who string, got []string, want ...string) {
	t.Helper()
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("%s got\n%s\nwant\n%s", who, strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// TestMixedRoom walks a room shared by both dialects through joins, a
// say, private messages both ways and a logout, checking every member's
// exact messages.
func TestMixedRoom(t *testing.T) {
	h := syncHub(2, Config{Epoch: "e"})
	a, ca := dialectMember(h, 0, codec.Dialect2014, "a")
	expectPayloads(t, "a", ca.take(), `{"type":"user_list","user_list":[{"uid":1,"name":"a"}]}`,
		`{"type":"login","uid":1,"name":"a",`+tm+`,"id":"e-1"}`)
	b, cb := dialectMember(h, 1, codec.DialectCurrent, "b&amp;")
	expectPayloads(t, "b", cb.take(),
		`{"type":"login","client_id":"2","client_name":"b&amp;",`+tm+`,"client_list":{"1":"a","2":"b&amp;"},"id":"e-2"}`)
	expectPayloads(t, "a", ca.take(), `{"type":"login","uid":2,"name":"b&amp;",`+tm+`,"id":"e-2"}`)
	c, cc := dialectMember(h, 0, codec.DialectCurrent, "c")
	expectPayloads(t, "c", cc.take(),
		`{"type":"login","client_id":"3","client_name":"c",`+tm+`,"client_list":{"1":"a","2":"b&amp;","3":"c"},"id":"e-3"}`)
	expectPayloads(t, "a", ca.take(), `{"type":"login","uid":3,"name":"c",`+tm+`,"id":"e-3"}`)
	expectPayloads(t, "b", cb.take(), `{"type":"login","client_id":"3","client_name":"c",`+tm+`,"id":"e-3"}`)

	_ = h.Say(a, "hi")
	drainAll(h)
	cur := `{"type":"say","from_client_id":"1","from_client_name":"a","to_client_id":"all","content":"hi",` + tm + `,"id":"e-4"}`
	expectPayloads(t, "a", ca.take(), `{"type":"say","from_uid":1,"to_uid":"all","content":"hi",`+tm+`,"id":"e-4"}`)
	expectPayloads(t, "b", cb.take(), cur)
	expectPayloads(t, "c", cc.take(), cur)

	if err := h.Private(b, a.UID(), "to a"); err != nil {
		t.Fatalf("Private(b, a): %v", err)
	}
	drainAll(h)
	expectPayloads(t, "a", ca.take(), `{"type":"say","from_uid":2,"to_uid":1,"content":"to a",`+tm+`}`)
	expectPayloads(t, "b", cb.take(),
		`{"type":"say","from_client_id":"2","from_client_name":"b&amp;","to_client_id":"1","content":"<b>你对a说: </b>to a",`+tm+`}`)
	if err := h.Private(a, c.UID(), "to c"); err != nil {
		t.Fatalf("Private(a, c): %v", err)
	}
	drainAll(h)
	expectPayloads(t, "c", cc.take(),
		`{"type":"say","from_client_id":"1","from_client_name":"a","to_client_id":"3","content":"<b>对你说: </b>to c",`+tm+`}`)
	expectPayloads(t, "a", ca.take(), `{"type":"say","from_uid":1,"to_uid":3,"content":"to c",`+tm+`}`)
	expectPayloads(t, "b", cb.take())

	h.Close(b)
	drainAll(h)
	expectPayloads(t, "a", ca.take(), `{"type":"logout","uid":2,`+tm+`,"id":"e-5"}`)
	expectPayloads(t, "c", cc.take(), `{"type":"logout","from_client_id":"2","from_client_name":"b&amp;",`+tm+`,"id":"e-5"}`)
}

// TestDialectFixedByFirstLogin: a re-login keeps the dialect and the id.
func TestDialectFixedByFirstLogin(t *testing.T) {
	h := syncHub(1, Config{})
	m, c := dialectMember(h, 0, codec.DialectCurrent, "x")
	m.SetDialect(codec.Dialect2014)
	h.Login(m, "y", "r2")
	drainAll(h)
	got := c.take()
	if m.Dialect() != codec.DialectCurrent || len(got) != 2 || !strings.Contains(got[1], `"client_list":{"1":"y"}`) {
		t.Fatalf("re-login after SetDialect(2014): dialect %s, got %q; want current and one client_list login", m.Dialect(), got)
	}
}

// TestMixedBroadcastAllocs pins the budget of a broadcast in a room of
// both dialects: one frame per dialect, none per member. A room of one
// dialect encodes only that one.
func TestMixedBroadcastAllocs(t *testing.T) {
	for _, tc := range []struct {
		name   string
		of     func(i int) codec.Dialect
		budget float64
	}{
		{"current", func(int) codec.Dialect { return codec.DialectCurrent }, 1},
		{"mixed", func(i int) codec.Dialect { return codec.Dialect(i / 2 % 2) }, 2},
	} {
		for _, members := range []int{10, 1000} {
			t.Run(fmt.Sprintf("%s/%d", tc.name, members), func(t *testing.T) {
				h := syncHub(2, Config{MaxOutbound: 1 << 30})
				var ms []*Member
				for i := 0; i < members; i++ {
					m := h.Shard(i % 2).NewMember(&nullConn{})
					m.SetDialect(tc.of(i))
					h.Login(m, "n", "")
					ms = append(ms, m)
				}
				drainAll(h)
				allocs := testing.AllocsPerRun(200, func() {
					_ = h.Say(ms[0], "hello")
					drainAll(h)
				})
				if allocs > tc.budget {
					t.Fatalf("allocs per broadcast to %d members = %v; want <= %v", members, allocs, tc.budget)
				}
			})
		}
	}
}

// TestPrivateAllocs: a private message between two 2014 members shares
// one frame for target and echo; across dialects each gets its own.
func TestPrivateAllocs(t *testing.T) {
	for _, tc := range []struct {
		from, to codec.Dialect
		budget   float64
	}{
		{codec.Dialect2014, codec.Dialect2014, 1},
		{codec.DialectCurrent, codec.Dialect2014, 2},
		{codec.DialectCurrent, codec.DialectCurrent, 2},
	} {
		h := syncHub(2, Config{MaxOutbound: 1 << 30})
		a := h.Shard(0).NewMember(&nullConn{})
		a.SetDialect(tc.from)
		b := h.Shard(1).NewMember(&nullConn{})
		b.SetDialect(tc.to)
		h.Login(a, "a", "")
		h.Login(b, "b", "")
		drainAll(h)
		allocs := testing.AllocsPerRun(200, func() {
			_ = h.Private(a, b.UID(), "psst")
			drainAll(h)
		})
		if allocs > tc.budget {
			t.Errorf("allocs per private %s -> %s = %v; want <= %v", tc.from, tc.to, allocs, tc.budget)
		}
	}
}
