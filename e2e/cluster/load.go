package cluster

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"
)

// LoadConfig sizes a Load.
type LoadConfig struct {
	// Members are spread over Rooms and the nodes so that every room has
	// members on every node: member k is in room k%Rooms on node
	// (k/Rooms)%nodes.
	Members, Rooms int
	// Senders are members spread over the rooms and nodes (sender j: room
	// j%Rooms on node (j+j/Rooms)%nodes); each says Rate times a second.
	Senders int
	Rate    float64
	// RoomPrefix names the rooms RoomPrefix0, RoomPrefix1, ... Zero means "r".
	RoomPrefix string
	// Nodes are the node indexes members connect to. Zero means all.
	Nodes []int
	// LoginTimeout bounds each member's login. Zero means 20s.
	LoginTimeout time.Duration
	// Churners log in (each time a new client with a new name, into the
	// rooms and onto the nodes in turn), stay ChurnStay and leave, over
	// and over until Stop: the lists must follow them through a fault.
	// ChurnStay zero means 1s.
	Churners  int
	ChurnStay time.Duration
}

// Sizes returns the load of issue 9 in full mode (300 members in 3
// rooms, 10 senders at 20 msg/s), a smaller one by default and a small
// one in -short mode.
func Sizes(short bool) LoadConfig {
	switch {
	case Full():
		return LoadConfig{Members: 300, Rooms: 3, Senders: 10, Rate: 20, Churners: 6}
	case short:
		return LoadConfig{Members: 18, Rooms: 3, Senders: 6, Rate: 5, Churners: 2}
	}
	return LoadConfig{Members: 60, Rooms: 3, Senders: 6, Rate: 10, Churners: 3}
}

// Load is chat traffic: members logged in, senders saying "<name>#<seq>"
// at a steady rate until Stop.
type Load struct {
	// Immutable after StartLoad.
	w       *World
	cfg     LoadConfig
	Members []*Client
	senders []*sender
	byName  map[string]*sender
	Rooms   []string
	Start   time.Time // senders started
	quit    chan struct{}
	once    sync.Once
	wg      sync.WaitGroup

	// Set by Stop.
	StopAt time.Time

	// Guarded by mu: the churners' logins.
	mu           sync.Mutex
	churnLogin   []time.Duration // time to user_list of each churner login
	churnStuck   []string
	churnRefused []string // logins answered with an error (ErrRefused)
	churnFailed  int      // logins that failed otherwise (dial refused, closed)
}

// sender is one member's says: sent[seq] is when say seq was written.
type sender struct {
	c *Client

	// Guarded by mu.
	mu   sync.Mutex
	sent []time.Time
	err  error
}

// StartLoad logs the members in (the first of every room on every node
// one at a time, the others concurrently; failing the test if one gets
// no user_list within LoginTimeout) and starts the senders and churners.
func (w *World) StartLoad(cfg LoadConfig) *Load {
	w.t.Helper()
	if cfg.RoomPrefix == "" {
		cfg.RoomPrefix = "r"
	}
	if cfg.Nodes == nil {
		for i := range w.NodeCount() {
			cfg.Nodes = append(cfg.Nodes, i)
		}
	}
	if cfg.LoginTimeout == 0 {
		cfg.LoginTimeout = 20 * time.Second
	}
	l := &Load{w: w, cfg: cfg, byName: make(map[string]*sender), quit: make(chan struct{})}
	w.t.Cleanup(l.halt) // a test that fails before Stop
	for r := range cfg.Rooms {
		l.Rooms = append(l.Rooms, cfg.RoomPrefix+strconv.Itoa(r))
	}
	l.Members = make([]*Client, cfg.Members)
	errs := make([]error, cfg.Members)
	login := func(k int) {
		node := cfg.Nodes[(k/cfg.Rooms)%len(cfg.Nodes)]
		l.Members[k], errs[k] = w.Login(w.Node(node).Addr, node, w.Name("m"), l.Rooms[k%cfg.Rooms], cfg.LoginTimeout)
	}
	// The first member of every room on every node logs in alone (and
	// its notices arrive), so that the load starts from lists every node
	// agrees on; concurrent first joins are TestColdStarts' subject.
	first := min(cfg.Members, cfg.Rooms*len(cfg.Nodes))
	for k := range first {
		if login(k); errs[k] != nil {
			w.t.Fatalf("load login: %v", errs[k])
		}
		w.Quiet(300*time.Millisecond, 5*time.Second)
	}
	var wg sync.WaitGroup
	sem := make(chan struct{}, 32)
	for k := first; k < cfg.Members; k++ {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			login(k)
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			w.t.Fatalf("load login: %v", err)
		}
	}
	l.Start = time.Now()
	for _, c := range l.pickSenders() {
		k := len(l.senders)
		s := &sender{c: c}
		l.senders = append(l.senders, s)
		l.byName[s.c.Name] = s
		l.wg.Add(1)
		go l.run(s, k)
	}
	if cfg.ChurnStay == 0 {
		l.cfg.ChurnStay = time.Second
	}
	for k := range cfg.Churners {
		l.wg.Add(1)
		go l.churn(k)
	}
	return l
}

// pickSenders spreads the senders so that every node has senders and
// every room has senders on several nodes.
func (l *Load) pickSenders() []*Client {
	var out []*Client
	used := make(map[*Client]bool)
	for j := range min(l.cfg.Senders, len(l.Members)) {
		room, node := l.Rooms[j%len(l.Rooms)], l.cfg.Nodes[(j+j/len(l.Rooms))%len(l.cfg.Nodes)]
		pick := -1
		for k, c := range l.Members {
			if !used[c] && (pick < 0 || (c.Room == room && c.Node == node)) {
				pick = k
				if c.Room == room && c.Node == node {
					break
				}
			}
		}
		used[l.Members[pick]] = true
		out = append(out, l.Members[pick])
	}
	return out
}

// churn logs a new client in, keeps it ChurnStay, closes it; until Stop.
func (l *Load) churn(k int) {
	defer l.wg.Done()
	for i := k; ; i++ {
		node := l.cfg.Nodes[i%len(l.cfg.Nodes)]
		room := l.Rooms[(i/len(l.cfg.Nodes))%len(l.Rooms)]
		var c *Client
		if l.w.Node(node).Running() {
			at := time.Now()
			var err error
			c, err = l.w.Login(l.w.Node(node).Addr, node, l.w.Name("churn"), room, l.cfg.LoginTimeout)
			l.mu.Lock()
			switch {
			case errors.Is(err, ErrStuck):
				l.churnStuck = append(l.churnStuck, err.Error())
			case errors.Is(err, ErrRefused):
				l.churnRefused = append(l.churnRefused, err.Error())
			case err != nil:
				l.churnFailed++ // a node killed under it
			default:
				l.churnLogin = append(l.churnLogin, time.Since(at))
			}
			l.mu.Unlock()
		}
		select {
		case <-l.quit:
		case <-time.After(l.cfg.ChurnStay):
		}
		if c != nil {
			c.Close()
		}
		select {
		case <-l.quit:
			return
		default:
		}
	}
}

func (l *Load) run(s *sender, k int) {
	defer l.wg.Done()
	period := time.Duration(float64(time.Second) / l.cfg.Rate)
	// Stagger the senders over one period.
	select {
	case <-time.After(period * time.Duration(k) / time.Duration(l.cfg.Senders)):
	case <-l.quit:
		return
	}
	tick := time.NewTicker(period)
	defer tick.Stop()
	for {
		select {
		case <-l.quit:
			return
		case <-tick.C:
		}
		s.mu.Lock()
		seq := len(s.sent)
		s.sent = append(s.sent, time.Now())
		s.mu.Unlock()
		if err := s.c.Say(s.c.Name + "#" + strconv.Itoa(seq)); err != nil {
			s.mu.Lock()
			s.err = err
			s.sent = s.sent[:seq] // not sent
			s.mu.Unlock()
			return
		}
	}
}

// Stop stops the senders and waits (up to maxWait) until no client has
// received anything for quiet: what was in flight has arrived.
func (l *Load) Stop(quiet, maxWait time.Duration) {
	l.halt()
	l.StopAt = time.Now()
	l.w.Quiet(quiet, maxWait)
}

// halt stops the senders and churners and waits for them; idempotent.
func (l *Load) halt() {
	l.once.Do(func() { close(l.quit) })
	l.wg.Wait()
}

// Quiet waits (up to maxWait) until no client has received anything for
// quiet: what was in flight has arrived.
func (w *World) Quiet(quiet, maxWait time.Duration) {
	deadline := time.Now().Add(maxWait)
	last, since := -1, time.Now()
	for time.Now().Before(deadline) {
		n := 0
		for _, c := range w.Clients() {
			n += c.Len()
		}
		if n != last {
			last, since = n, time.Now()
		} else if time.Since(since) >= quiet {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// key parses a say's content "<sender name>#<seq>".
func (l *Load) key(content string) (*sender, int, bool) {
	name, seq, ok := strings.Cut(content, "#")
	if !ok {
		return nil, 0, false
	}
	s := l.byName[name]
	n, err := strconv.Atoi(seq)
	if s == nil || err != nil {
		return nil, 0, false
	}
	return s, n, true
}

// MembersOn returns the members connected to node i.
func (l *Load) MembersOn(i int) []*Client {
	var out []*Client
	for _, c := range l.Members {
		if c.Node == i {
			out = append(out, c)
		}
	}
	return out
}

func (l *Load) String() string {
	return fmt.Sprintf("%d members in %d rooms on nodes %v, %d senders at %g msg/s",
		len(l.Members), len(l.Rooms), l.cfg.Nodes, len(l.senders), l.cfg.Rate)
}
