package cluster

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// Report holds the invariants' numbers after a scenario.
type Report struct {
	Scenario string

	// Analyze: the says of a Load.
	Sent, Acked  int // acked: the sender received its own echo
	Refused      int // error messages the senders received instead
	Silent       int // says neither acked nor refused, of senders still connected: dropped without a word
	Deliveries   int // says received by members
	Duplicates   int // a say received twice by one member
	Lost         int // (acked say, member present for its whole interval) pairs missing
	LostSays     int // acked says missing at one member or more
	LostMembers  int // members missing one acked say or more
	OrderPairs   int // member pairs of a room that saw two says in opposite orders
	OrderMember  int // members in such a pair
	Inversions   int // says out of order, summed over those pairs
	MaxGap       time.Duration
	MaxCross     time.Duration // longest time without a say from another node
	GapMember    string
	ChurnLogins  int           // logins of churners during the load
	ChurnStuck   int           // of which got no user_list within LoginTimeout
	ChurnRefused int           // of which were answered with an error instead (refused: the client was told)
	ChurnFailed  int           // of which failed otherwise (dial refused, closed)
	ChurnMax     time.Duration // slowest churner login that completed
	NodeFailed   int           // chatd node (re)starts that failed

	// Probe: a fresh login into every room on every node.
	Probes       int
	Stuck        int // probe logins without user_list within the bound
	ProbeRefused int // probe logins answered with an error (each is retried within the bound)
	Unserved     int // probes refused at every try within the bound: the room cannot be entered there
	ListMismatch int // rooms whose lists differ between nodes
	Ghosts       int // listed uids of no connected client
	Missing      int // connected members a list lacks
	Reused       int // uids seen with two names
	UIDs         int // distinct uids seen

	Details []string // the first anomalies, for the log
}

func (r *Report) detail(format string, args ...any) {
	if len(r.Details) < 20 {
		r.Details = append(r.Details, fmt.Sprintf(format, args...))
	}
}

func (r *Report) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s: sent %d, acked %d, refused %d, silently dropped %d; deliveries %d; "+
		"lost %d (%d says, %d members), duplicates %d; order: %d pairs, %d members, %d inversions; "+
		"gap %v (cross-node %v%s); churn logins %d, stuck %d, refused %d, failed %d, slowest %v; "+
		"probes %d: stuck %d, refused %d (unserved %d), lists differing %d rooms, ghosts %d, missing %d; uids %d, reused %d; node starts failed %d",
		r.Scenario, r.Sent, r.Acked, r.Refused, r.Silent, r.Deliveries, r.Lost, r.LostSays, r.LostMembers, r.Duplicates,
		r.OrderPairs, r.OrderMember, r.Inversions, r.MaxGap.Round(time.Millisecond), r.MaxCross.Round(time.Millisecond),
		ifs(r.GapMember != "", ", at "+r.GapMember), r.ChurnLogins, r.ChurnStuck, r.ChurnRefused, r.ChurnFailed, r.ChurnMax.Round(time.Millisecond),
		r.Probes, r.Stuck, r.ProbeRefused, r.Unserved, r.ListMismatch, r.Ghosts, r.Missing, r.UIDs, r.Reused, r.NodeFailed)
	for _, d := range r.Details {
		b.WriteString("\n    " + d)
	}
	return b.String()
}

func ifs(c bool, s string) string {
	if c {
		return s
	}
	return ""
}

// Want says which invariants a scenario asserts; the others are only
// reported.
type Want struct {
	NoLoss, OneOrder, ListsEqual, NoGhost, NoStuck, NoReuse bool
	// MaxGap, if set, bounds Report.MaxGap.
	MaxGap time.Duration
}

// All asserts every invariant, the chat gap under gap (0: not asserted).
func All(gap time.Duration) Want {
	return Want{NoLoss: true, OneOrder: true, ListsEqual: true, NoGhost: true, NoStuck: true, NoReuse: true, MaxGap: gap}
}

// Check logs the report and fails t for every broken invariant w asserts.
func (r *Report) Check(t testing.TB, w Want) {
	t.Helper()
	t.Log(r.String())
	fail := func(c bool, what string, n any) {
		if c {
			t.Errorf("%s: %s: %v", r.Scenario, what, n)
		}
	}
	fail(w.NoLoss && r.Lost > 0, "acknowledged says lost (say, member)", r.Lost)
	fail(w.NoLoss && r.Silent > 0, "says neither acked nor refused", r.Silent)
	fail(w.NoLoss && r.Duplicates > 0, "says delivered twice", r.Duplicates)
	fail(w.OneOrder && r.OrderPairs > 0, "member pairs that saw a room in different orders", r.OrderPairs)
	fail(w.ListsEqual && r.ListMismatch > 0, "rooms whose user lists differ between nodes", r.ListMismatch)
	fail(w.ListsEqual && r.Missing > 0, "connected members missing from a list", r.Missing)
	fail(w.NoGhost && r.Ghosts > 0, "ghosts listed", r.Ghosts)
	fail(w.NoStuck && r.Stuck > 0, "stuck probe logins", r.Stuck)
	fail(w.NoStuck && r.Unserved > 0, "probe logins refused at every try within the bound", r.Unserved)
	fail(w.NoStuck && r.ChurnStuck > 0, "stuck churner logins", r.ChurnStuck)
	fail(w.NoStuck && r.NodeFailed > 0, "chatd node starts failed", r.NodeFailed)
	fail(w.NoReuse && r.Reused > 0, "uids reused", r.Reused)
	fail(w.MaxGap > 0 && r.MaxGap >= w.MaxGap, "chat gap", r.MaxGap)
}

// said is one say of the load: who sent it when, when it was acked.
type said struct {
	s       *sender
	room    string
	sentAt  time.Time
	ackAt   time.Time // zero: not acked
	members int       // members that received it
}

// Analyze fills r with the says' invariants: loss of acked says, one
// order per room, duplicates, and the chat gap over [from, to]. A member
// must receive an acked say if it logged in (got its user_list) before
// the say was sent and its connection stayed open until settle after the
// say's ack (a member whose node was killed, or that was disconnected,
// owes nothing it could not have received).
func (l *Load) Analyze(r *Report, from, to time.Time, settle time.Duration) {
	says := l.says(r)
	recv := make(map[*Client][]*said, len(l.Members))
	for _, c := range l.Members {
		recv[c] = l.received(r, c, says)
	}
	l.loss(r, says, recv, settle)
	for _, room := range l.Rooms {
		l.order(r, room, recv)
	}
	l.gaps(r, from, to)
	l.mu.Lock()
	r.ChurnLogins = len(l.churnLogin) + len(l.churnStuck) + len(l.churnRefused) + l.churnFailed
	r.ChurnStuck, r.ChurnRefused, r.ChurnFailed = len(l.churnStuck), len(l.churnRefused), l.churnFailed
	for _, d := range l.churnLogin {
		r.ChurnMax = max(r.ChurnMax, d)
	}
	for _, s := range l.churnStuck[:min(3, len(l.churnStuck))] {
		r.detail("churn: %s", s)
	}
	for _, s := range l.churnRefused[:min(3, len(l.churnRefused))] {
		r.detail("churn: %s", s)
	}
	l.mu.Unlock()
}

func (l *Load) says(r *Report) map[string]*said {
	says := make(map[string]*said)
	for _, s := range l.senders {
		s.mu.Lock()
		for seq, at := range s.sent {
			says[s.c.Name+"#"+fmt.Sprint(seq)] = &said{s: s, room: s.c.Room, sentAt: at}
		}
		s.mu.Unlock()
		uid := s.c.UID()
		for _, m := range s.c.Msgs() {
			if m.Type == "error" {
				if r.Refused++; r.Refused == 1 {
					r.detail("%s got error %s (the first refusal)", s.c.Name, m.Code)
				}
			}
			if m.Type == "say" && m.From == uid && m.To == "all" {
				if sd := says[m.Content]; sd != nil && sd.s == s && sd.ackAt.IsZero() {
					sd.ackAt = m.At
				}
			}
		}
	}
	r.Sent = len(says)
	for _, sd := range says {
		if !sd.ackAt.IsZero() {
			r.Acked++
		}
	}
	// A sender whose connection ended knows its unanswered says may be
	// lost; the others' unanswered says were dropped without a word.
	refused := make(map[*sender]int)
	for _, s := range l.senders {
		for _, m := range s.c.Msgs() {
			if m.Type == "error" {
				refused[s]++
			}
		}
	}
	unanswered := make(map[*sender]int)
	for _, sd := range says {
		if sd.ackAt.IsZero() {
			unanswered[sd.s]++
		}
	}
	for s, n := range unanswered {
		if s.c.Connected() {
			r.Silent += max(0, n-refused[s])
		}
	}
	return says
}

// received is the says c received, in order, without duplicates.
func (l *Load) received(r *Report, c *Client, says map[string]*said) []*said {
	var out []*said
	seen := make(map[*said]bool)
	for _, m := range c.Msgs() {
		if m.Type != "say" || m.To != "all" {
			continue
		}
		sd := says[m.Content]
		if sd == nil {
			continue
		}
		r.Deliveries++
		if seen[sd] {
			r.Duplicates++
			r.detail("%s received %s twice", c.Name, m.Content)
			continue
		}
		seen[sd] = true
		sd.members++
		out = append(out, sd)
	}
	return out
}

func (l *Load) loss(r *Report, says map[string]*said, recv map[*Client][]*said, settle time.Duration) {
	lostSays := make(map[*said]bool)
	for _, c := range l.Members {
		got := make(map[*said]bool, len(recv[c]))
		for _, sd := range recv[c] {
			got[sd] = true
		}
		login, closed := c.LoginAt(), c.ClosedAt()
		n := 0
		for key, sd := range says {
			if sd.ackAt.IsZero() || sd.room != c.Room || got[sd] || login.IsZero() || !login.Before(sd.sentAt) {
				continue
			}
			if !closed.IsZero() && closed.Before(sd.ackAt.Add(settle)) {
				continue
			}
			n++
			lostSays[sd] = true
			if n == 1 {
				r.detail("%s (node %d, %s) lost %s, acked %s", c.Name, c.Node, c.Room, key, sd.ackAt.Format("15:04:05.000"))
			}
		}
		r.Lost += n
		if n > 0 {
			r.LostMembers++
		}
	}
	r.LostSays = len(lostSays)
}

// order compares, for every pair of the room's members, the relative
// order of the says both received.
func (l *Load) order(r *Report, room string, recv map[*Client][]*said) {
	var ms []*Client
	ids := make(map[*said]int32)
	for _, c := range l.Members {
		if c.Room != room {
			continue
		}
		ms = append(ms, c)
		for _, sd := range recv[c] {
			if _, ok := ids[sd]; !ok {
				ids[sd] = int32(len(ids))
			}
		}
	}
	pos := make([][]int32, len(ms))
	for i, c := range ms {
		pos[i] = make([]int32, len(ids))
		for k := range pos[i] {
			pos[i][k] = -1
		}
		for p, sd := range recv[c] {
			pos[i][ids[sd]] = int32(p)
		}
	}
	bad := make(map[int]bool)
	for a := range ms {
		for b := a + 1; b < len(ms); b++ {
			inv := 0
			last := int32(-1)
			for _, sd := range recv[ms[a]] {
				p := pos[b][ids[sd]]
				if p < 0 {
					continue
				}
				if p < last {
					inv++
				} else {
					last = p
				}
			}
			if inv > 0 {
				r.OrderPairs++
				r.Inversions += inv
				bad[a], bad[b] = true, true
				if r.OrderPairs <= 3 {
					r.detail("%s (node %d) and %s (node %d) saw %s in different orders (%d inversions)",
						ms[a].Name, ms[a].Node, ms[b].Name, ms[b].Node, room, inv)
				}
			}
		}
	}
	r.OrderMember += len(bad)
}

// gaps measures, for every member connected over all of [from, to], the
// longest time in it without a say received (and without a say from
// another node's sender).
func (l *Load) gaps(r *Report, from, to time.Time) {
	healthy := func(c *Client) bool {
		login, closed := c.LoginAt(), c.ClosedAt()
		return !login.IsZero() && !login.After(from) && (closed.IsZero() || !closed.Before(to))
	}
	for _, c := range l.Members {
		if !healthy(c) {
			continue
		}
		crossSenders := false
		for _, s := range l.senders {
			crossSenders = crossSenders || (s.c.Room == c.Room && s.c.Node != c.Node && healthy(s.c))
		}
		last, lastCross := from, from
		var gap, cross time.Duration
		for _, m := range c.Msgs() {
			if m.Type != "say" || m.At.Before(from) || m.At.After(to) {
				continue
			}
			s, _, ok := l.key(m.Content)
			if !ok {
				continue
			}
			gap = max(gap, m.At.Sub(last))
			last = m.At
			if s.c.Node != c.Node && healthy(s.c) {
				cross = max(cross, m.At.Sub(lastCross))
				lastCross = m.At
			}
		}
		gap = max(gap, to.Sub(last))
		if gap > r.MaxGap {
			r.MaxGap, r.GapMember = gap, fmt.Sprintf("%s node %d", c.Name, c.Node)
		}
		if crossSenders {
			r.MaxCross = max(r.MaxCross, cross, to.Sub(lastCross))
		}
	}
}

// Probe logs a fresh client into every room on every given node at once
// and fills r: logins without a user_list within bound (stuck), logins
// answered with an error (refused; retried with a fresh client until the
// bound, unserved if every try was refused), rooms
// whose lists (without the probes) differ between nodes, listed uids of
// no connected client (ghosts), connected members not listed, and the
// uids reused so far. The probes are closed afterwards.
func (w *World) Probe(r *Report, rooms []string, nodes []int, bound time.Duration) {
	type probe struct {
		room    string
		node    int
		c       *Client
		err     error
		refused []error
	}
	var ps []*probe
	var wg sync.WaitGroup
	for _, room := range rooms {
		for _, n := range nodes {
			p := &probe{room: room, node: n}
			ps = append(ps, p)
			wg.Add(1)
			go func() {
				defer wg.Done()
				// Every try gets the whole bound; tries start until it
				// has passed.
				end := time.Now().Add(bound)
				for {
					p.c, p.err = w.Login(w.Node(n).Addr, n, w.Name(probePrefix), room, bound)
					if !errors.Is(p.err, ErrRefused) || time.Now().After(end) {
						return
					}
					p.refused = append(p.refused, p.err)
					p.c.Close()
					p.c = nil
					time.Sleep(100 * time.Millisecond)
				}
			}()
		}
	}
	wg.Wait()
	defer func() {
		for _, p := range ps {
			if p.c != nil {
				p.c.Close()
			}
		}
	}()
	byUID := make(map[int64]*Client)
	for _, c := range w.Clients() {
		if uid := c.UID(); uid != 0 {
			byUID[uid] = c
		}
	}
	lists := make(map[string][][]Entry)
	for _, p := range ps {
		r.Probes++
		r.ProbeRefused += len(p.refused)
		if len(p.refused) > 0 {
			r.detail("probe: %v (%d tries refused)", p.refused[0], len(p.refused))
		}
		switch {
		case errors.Is(p.err, ErrRefused):
			r.ProbeRefused++
			r.Unserved++
			r.detail("probe: refused at every try for %v: %v", bound, p.err)
			continue
		case p.err != nil:
			r.Stuck++
			r.detail("probe: %v", p.err)
			continue
		}
		list := slices.DeleteFunc(slices.Clone(p.c.UserList()), func(e Entry) bool { return strings.HasPrefix(e.Name, probePrefix) })
		lists[p.room] = append(lists[p.room], list)
		w.ghosts(r, p.room, p.node, list, byUID)
	}
	for _, room := range rooms {
		ls := lists[room]
		for i := 1; i < len(ls); i++ {
			if !slices.Equal(ls[0], ls[i]) {
				r.ListMismatch++
				r.detail("room %s: lists differ between nodes: %d vs %d members", room, len(ls[0]), len(ls[i]))
				break
			}
		}
	}
	r.Reused = len(w.Reused())
	for _, s := range w.Reused()[:min(3, r.Reused)] {
		r.detail("reused %s", s)
	}
	r.UIDs = w.UIDsSeen()
}

const probePrefix = "probe"

func (w *World) ghosts(r *Report, room string, node int, list []Entry, byUID map[int64]*Client) {
	listed := make(map[int64]bool, len(list))
	for _, e := range list {
		listed[e.UID] = true
		// A uid listed under another name than its connected owner's is
		// a ghost too (a reused uid).
		why := ""
		switch c := byUID[e.UID]; {
		case c == nil:
			why = "no client has this uid"
		case !c.Connected():
			why = fmt.Sprintf("its client (node %d, %s) closed at %s: %v", c.Node, c.Room, c.ClosedAt().Format("15:04:05.000"), c.Err())
		case c.Name != e.Name:
			why = fmt.Sprintf("its client is %q", c.Name)
		}
		if why != "" {
			r.Ghosts++
			r.detail("ghost in %s on node %d: uid %d %q: %s", room, node, e.UID, e.Name, why)
		}
	}
	for _, c := range byUID {
		if c.Room == room && c.Connected() && !strings.HasPrefix(c.Name, probePrefix) && !listed[c.UID()] {
			r.Missing++
			r.detail("%s (uid %d, node %d) connected but not listed in %s on node %d", c.Name, c.UID(), c.Node, room, node)
		}
	}
}
