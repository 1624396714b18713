package load

import (
	"chatd/bench"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"time"
)

// Spec describes one scenario run; the same Spec runs against every target.
type Spec struct {
	Scenario string        `json:"scenario"` // connect, broadcast, private, storm
	Name     string        `json:"name"`     // e.g. broadcast-1000
	Conns    int           `json:"conns"`    // clients (private: 2 per pair)
	RoomSize int           `json:"room_size"`
	Rate     float64       `json:"connect_rate"` // logins per second while connecting
	Inflight int           `json:"inflight"`     // handshakes in progress at most
	Hold     time.Duration `json:"hold"`         // connect: idle time at full load
	Senders  int           `json:"senders"`      // broadcast: senders in the room
	Window   int           `json:"window"`       // closed loop: messages in flight per sender
	OpenRate float64       `json:"open_rate"`    // open loop: messages per second (0: skip)
	Duration time.Duration `json:"duration"`     // each measurement window
	Workers  int           `json:"workers"`      // 0: automatic
	Sources  int           `json:"sources"`      // source addresses 127.0.0.2...; 0: automatic
	Procs    int           `json:"procs"`        // server processes per target (rooms spread over them)
	// Cluster makes the Procs chatd processes one cluster (node 1 runs the
	// embedded NATS server) and spreads every room's members over all of
	// them, so that room traffic crosses NATS. A baseline target ignores it.
	Cluster bool `json:"cluster"`
	// SenderRooms, for connect: after the hold, this many rooms spread over
	// the run (the first room and every len(rooms)/SenderRooms-th) get
	// Senders senders each and broadcast for Duration at OpenRate messages
	// per second in all, with every delivery counted (0: no broadcast).
	SenderRooms int `json:"sender_rooms"`
	// HeapProfiles saves each chatd process's heap profile at full load
	// (connect) into the log directory.
	HeapProfiles bool `json:"heap_profiles"`
	// JoinTimeout bounds connecting and logging in (0: from Conns and Rate).
	JoinTimeout time.Duration `json:"join_timeout"`
	// EscapeRoomID: see Plan.EscapeRoomID.
	EscapeRoomID bool `json:"escape_room_id"`
	// Mixed: half of every room speaks the current workerman-chat
	// dialect (Plan.Mixed). The baselines speak only the 2014 one: a
	// mixed scenario is chatd's (see SkipsTarget).
	Mixed bool `json:"mixed"`
	// ChatdLoops runs chatd with -loops ChatdLoops (0: its default, one
	// loop per CPU but one); the baselines run as always. The -loops2
	// scenarios run two loops, one per CPU here: the default until
	// 2026-12-04, kept to show what more loops cost a big room.
	ChatdLoops int `json:"chatd_loops"`
}

// SkipsTarget reports whether spec does not run against t: a mixed
// scenario needs a server of both dialects.
func (spec Spec) SkipsTarget(t Target) bool { return spec.Mixed && t.Kind != "chatd" && t.Kind != "" }

// Env is where a scenario's output goes.
type Env struct {
	Out    io.Writer // human summaries
	Prog   *progress
	LogDir string // server logs
}

// NewEnv writes summaries to out and progress to stderr.
func NewEnv(out io.Writer, logDir string) *Env {
	if logDir != "" {
		os.MkdirAll(logDir, 0o755)
	}
	return &Env{Out: out, Prog: newProgress(os.Stderr, int(os.Stderr.Fd())), LogDir: logDir}
}

// Run runs spec against t and returns one Result per measured phase.
func Run(env *Env, spec Spec, t Target) []Result {
	env.Prog.prefix = fmt.Sprintf("[%s %s]", spec.Name, t.Name)
	rs, err := run(env, spec, t)
	env.Prog.done()
	if err != nil {
		if len(rs) == 0 {
			rs = []Result{newResult(spec, t, spec.Name)}
			rs[0].Incomplete = true
		}
		rs[len(rs)-1].problem("%v", err)
	}
	for i := range rs {
		rs[i].Print(env.Out)
	}
	return rs
}

func newResult(spec Spec, t Target, label string) Result {
	return Result{Scenario: spec.Scenario, Label: label, Server: t.Name, OK: true, Conns: spec.Conns, LiveBefore: -1, LiveFull: -1,
		Params: map[string]any{"conns": spec.Conns, "room_size": spec.RoomSize, "connect_rate": spec.Rate,
			"senders": spec.Senders, "window": spec.Window, "open_rate": spec.OpenRate,
			"duration_s": spec.Duration.Seconds(), "hold_s": spec.Hold.Seconds(), "procs": max(spec.Procs, 1), "escape_room_id": spec.EscapeRoomID,
			"cluster": spec.Cluster && t.Kind == "chatd", "sender_rooms": spec.SenderRooms, "inflight": spec.Inflight, "mixed": spec.Mixed, "chatd_loops": spec.ChatdLoops}}
}

func (spec Spec) plan(addrs []string, cluster bool) (Plan, int) {
	p := Plan{Addrs: addrs, Spread: cluster, RoomSize: max(spec.RoomSize, 1), RoomPrefix: spec.Name + "-",
		Rate: spec.Rate, Inflight: spec.Inflight, CheckMembers: spec.Scenario != "storm", EscapeRoomID: spec.EscapeRoomID,
		Mixed: spec.Mixed}
	align := 1
	switch spec.Scenario {
	case "broadcast":
		p.SenderEvery = max(spec.RoomSize/max(spec.Senders, 1), 1)
	case "connect":
		if spec.SenderRooms > 0 {
			size := max(spec.RoomSize, 1)
			rooms := (spec.Conns + size - 1) / size
			p.SenderEvery = max((size+max(spec.Senders, 1)-1)/max(spec.Senders, 1), 1)
			p.SenderRoomEvery = max(rooms/spec.SenderRooms, 1)
		}
	case "private":
		p.Pairs, p.RoomSize, p.SenderEvery, align = true, 2, 1, 2
	}
	nsrc := spec.Sources
	if nsrc <= 0 {
		nsrc = spec.Conns/20000 + 2
	}
	for i := range nsrc {
		p.Sources = append(p.Sources, "127.0.0."+strconv.Itoa(2+i))
	}
	return p, align
}

func run(env *Env, spec Spec, t Target) ([]Result, error) {
	if spec.ChatdLoops > 0 && t.Kind == "chatd" {
		t.Args = append(slices.Clone(t.Args), "-loops", strconv.Itoa(spec.ChatdLoops))
	}
	srv, err := t.startGroup(env.LogDir, spec.Procs, spec.Cluster)
	if err != nil {
		return nil, err
	}
	before, heapBefore := srv.sample()
	liveBefore := int64(-1)
	if spec.Scenario == "connect" {
		liveBefore = srv.liveHeap()
	}
	nodesBefore := srv.nodes()
	busy0, _, _ := bench.SystemCPU()
	base, align := spec.plan(srv.addrs(), srv.cluster)
	pool, err := startPool(plans(base, spec.Conns, spec.Workers, align))
	if err != nil {
		srv.stop()
		return nil, err
	}
	defer func() {
		srv.stop() // first, so that nobody pays for the logout storm
		pool.close()
	}()

	res := newResult(spec, t, spec.Name)
	res.RSSBefore, res.HeapBefore = before.RSS, heapBefore
	res.LiveBefore, res.LiveFull = liveBefore, -1
	res.Nodes = nodesBefore
	start := time.Now()
	pool.send(Command{Cmd: "connect"})
	timeout := time.Duration(float64(spec.Conns)/max(spec.Rate, 100)*float64(time.Second)) + 90*time.Second
	if spec.JoinTimeout > 0 {
		timeout = spec.JoinTimeout
	}
	s, err := pool.waitFor("connect", timeout, env.Prog, func(s Counters) bool {
		return s.Complete+s.Failed+s.Dropped >= spec.Conns
	})
	res.ConnectSecs = secs(time.Since(start))
	res.ConnectRate = float64(s.Complete) / res.ConnectSecs
	if err != nil {
		// Say what the workers saw before giving up.
		if m, errs, cerr := pool.collect(5 * time.Second); cerr == nil {
			res.check(m, errs, srv)
		}
		res.Incomplete = true
		return []Result{res}, err
	}
	switch spec.Scenario {
	case "connect":
		rs, err := connectPhase(env, spec, srv, pool, res, before, busy0)
		if err == nil && rs[0].OK && spec.SenderRooms > 0 && spec.OpenRate > 0 {
			rs, err = loadedBroadcast(env, spec, t, srv, pool, rs)
		}
		if spec.HeapProfiles {
			rs[0].HeapProfiles = srv.heapProfiles(env.LogDir, t.Name+"-"+spec.Name)
		}
		return rs, err
	case "storm":
		return stormPhase(env, spec, srv, pool, res)
	default:
		return measurePhases(env, spec, t, srv, pool, res)
	}
}

// check fills the connection figures from merged counters and flags what
// must never happen: failures, drops, error messages, wrong rosters, a dead
// server.
func (r *Result) check(m Event, errs []string, srv *group) {
	r.Established, r.Failed, r.Dropped = m.C.Complete, m.C.Failed, m.C.Dropped
	r.Login = summarize(m.Login)
	r.LoginHist = m.Login
	r.GenCPU = m.CPU
	if m.C.Failed > 0 || m.C.Dropped > 0 {
		r.problem("%d connections failed, %d dropped", m.C.Failed, m.C.Dropped)
	}
	if m.C.Errors > 0 {
		r.problem("%d error messages from the server", m.C.Errors)
	}
	if m.C.BadRoster > 0 {
		r.problem("%d clients learned of more members than their room has", m.C.BadRoster)
	}
	if !srv.alive() {
		r.problem("server process died")
	}
	for _, e := range errs {
		if len(r.Problems) < 8 {
			r.Problems = append(r.Problems, e)
		}
	}
}
