package cluster

import (
	"testing"
	"time"
)

// fake is a client with a scripted history: no connection.
func fake(w *World, name, room string, node int, uid int64, login time.Time) *Client {
	c := &Client{Name: name, Room: room, Node: node, w: w, list: make(chan struct{}), done: make(chan struct{}), uid: uid, loginAt: login}
	w.track(c)
	return c
}

func (c *Client) got(at time.Time, from int64, content string) {
	c.msgs = append(c.msgs, Msg{At: at, Type: "say", From: from, To: "all", Content: content})
}

func (c *Client) end(at time.Time) {
	c.closedAt = at
	close(c.done)
}

// TestAnalyze checks the checker on scripted histories: each case breaks
// one invariant once.
func TestAnalyze(t *testing.T) {
	t0 := time.Date(2026, 12, 3, 12, 0, 0, 0, time.UTC)
	at := func(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }
	tests := []struct {
		name   string
		script func(s, a, b *Client, l *Load)
		want   Report
	}{
		{"clean", func(s, a, b *Client, l *Load) {}, Report{}},
		{"reordered", func(s, a, b *Client, l *Load) {
			b.msgs[0], b.msgs[1] = b.msgs[1], b.msgs[0]
		}, Report{OrderPairs: 2, OrderMember: 3, Inversions: 2}}, // b disagrees with s and a
		{"lost", func(s, a, b *Client, l *Load) {
			b.msgs = b.msgs[1:]
		}, Report{Lost: 1, LostSays: 1, LostMembers: 1}},
		{"lost by a member that left", func(s, a, b *Client, l *Load) {
			b.msgs = b.msgs[:1]
			b.end(at(250))
		}, Report{}},
		{"duplicate", func(s, a, b *Client, l *Load) {
			a.msgs = append(a.msgs, a.msgs[0])
		}, Report{Duplicates: 1}},
		{"silent", func(s, a, b *Client, l *Load) {
			l.senders[0].sent = append(l.senders[0].sent, at(300))
		}, Report{Silent: 1}},
		{"refused", func(s, a, b *Client, l *Load) {
			l.senders[0].sent = append(l.senders[0].sent, at(300))
			s.msgs = append(s.msgs, Msg{At: at(310), Type: "error", Code: "unavailable"})
		}, Report{Refused: 1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := &World{t: t, uids: make(map[int64]string)}
			s := fake(w, "s", "r", 0, 1, at(0))
			a := fake(w, "a", "r", 1, 2, at(0))
			b := fake(w, "b", "r", 2, 3, at(0))
			l := &Load{w: w, Members: []*Client{s, a, b}, Rooms: []string{"r"}, byName: map[string]*sender{}}
			sd := &sender{c: s, sent: []time.Time{at(100), at(200)}}
			l.senders, l.byName["s"] = []*sender{sd}, sd
			for _, c := range []*Client{s, a, b} {
				c.got(at(110), 1, "s#0")
				c.got(at(210), 1, "s#1")
			}
			tt.script(s, a, b, l)
			var r Report
			l.Analyze(&r, at(50), at(400), time.Second)
			got := Report{Lost: r.Lost, LostSays: r.LostSays, LostMembers: r.LostMembers, Duplicates: r.Duplicates,
				OrderPairs: r.OrderPairs, OrderMember: r.OrderMember, Inversions: r.Inversions, Silent: r.Silent, Refused: r.Refused}
			if got.String() != tt.want.String() {
				t.Errorf("Analyze = %v; want %v", &got, &tt.want)
			}
		})
	}
}
