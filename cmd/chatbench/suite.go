package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"chatd/bench/load"
	"chatd/bench/report"
)

// suites are the scenario lists of `chatbench suite -size`. "default" is
// `make bench` (about 15 minutes on the 2-core machine), "quick" a smoke
// test, "100k" is `make bench-100k`.
func suites(size string) []load.Spec {
	sec := time.Second
	switch size {
	case "quick":
		return []load.Spec{
			{Scenario: "connect", Name: "connect-2000", Conns: 2000, RoomSize: 100, Rate: 2000, Hold: 2 * sec},
			{Scenario: "connect", Name: "connect-2000-r5000", Conns: 2000, RoomSize: 100, Rate: 5000, Hold: 2 * sec},
			{Scenario: "broadcast", Name: "broadcast-100", Conns: 100, RoomSize: 100, Rate: 2000, Senders: 10, Window: 8, OpenRate: 1000, Duration: 2 * sec},
			{Scenario: "broadcast", Name: "broadcast-1000", Conns: 1000, RoomSize: 1000, Rate: 2000, Senders: 10, Window: 4, OpenRate: 100, Duration: 2 * sec},
			{Scenario: "broadcast", Name: "broadcast-1000-w1", Conns: 1000, RoomSize: 1000, Rate: 2000, Senders: 10, Window: 1, Duration: 2 * sec},
			{Scenario: "private", Name: "private-200", Conns: 400, Rate: 2000, Window: 4, OpenRate: 4000, Duration: 2 * sec},
			{Scenario: "storm", Name: "storm-1000", Conns: 1000, RoomSize: 100, Rate: 2000},
		}
	case "100k":
		// One process holds fewer than 20,000 sockets here, so 100k clients
		// go to a cluster of 7 chatd nodes (about 14,300 each), every room
		// spread over all of them. 1,000 logins/s is what the machine
		// sustains with the nodes, NATS and the generator on two cores
		// (bench/results/<date>/100k.md); the in-flight cap keeps a slow
		// moment from piling up handshakes.
		return []load.Spec{
			{Scenario: "connect", Name: "connect-100000", Conns: 100000, RoomSize: 100, Rate: 1000, Inflight: 1000, Hold: 20 * sec,
				Procs: 7, Cluster: true, SenderRooms: 5, Senders: 3, OpenRate: 150, Duration: 10 * sec, HeapProfiles: true},
		}
	default:
		return []load.Spec{
			{Scenario: "connect", Name: "connect-15000", Conns: 15000, RoomSize: 100, Rate: 2000, Inflight: 2000, Hold: 10 * sec},
			// The same at a 5,000/s ramp: a server restarted under a
			// reconnect storm lives in what a fast ramp leaves behind.
			{Scenario: "connect", Name: "connect-15000-r5000", Conns: 15000, RoomSize: 100, Rate: 5000, Inflight: 2000, Hold: 10 * sec},
			{Scenario: "broadcast", Name: "broadcast-100", Conns: 100, RoomSize: 100, Rate: 2000, Senders: 10, Window: 8, OpenRate: 1000, Duration: 5 * sec},
			{Scenario: "broadcast", Name: "broadcast-1000", Conns: 1000, RoomSize: 1000, Rate: 2000, Senders: 10, Window: 4, OpenRate: 100, Duration: 5 * sec},
			// Latency-bound broadcast, a chat room's normal shape: each of
			// 10 senders has one message in flight (window 1), closed loop only.
			{Scenario: "broadcast", Name: "broadcast-100-w1", Conns: 100, RoomSize: 100, Rate: 2000, Senders: 10, Window: 1, Duration: 5 * sec},
			{Scenario: "broadcast", Name: "broadcast-1000-w1", Conns: 1000, RoomSize: 1000, Rate: 2000, Senders: 10, Window: 1, Duration: 5 * sec},
			// The rooms of 1,000 again with chatd on one event loop: the
			// nbio baseline's one poller. chatd's default, one loop per CPU,
			// splits a room's writes into one half per loop, and each half
			// carries fewer messages per write(2) (bench/README.md).
			{Scenario: "broadcast", Name: "broadcast-1000-loops2", Conns: 1000, RoomSize: 1000, Rate: 2000, Senders: 10, Window: 4, OpenRate: 100, Duration: 5 * sec, ChatdLoops: 2},
			{Scenario: "broadcast", Name: "broadcast-1000-w1-loops2", Conns: 1000, RoomSize: 1000, Rate: 2000, Senders: 10, Window: 1, Duration: 5 * sec, ChatdLoops: 2},
			// broadcast-1000 in a room whose members alternate between the
			// two workerman-chat dialects: each message is framed twice.
			// chatd only (the baselines speak one dialect).
			{Scenario: "broadcast", Name: "broadcast-1000-mixed", Conns: 1000, RoomSize: 1000, Rate: 2000, Senders: 10, Window: 4, OpenRate: 100, Duration: 5 * sec, Mixed: true},
			// Building a room of n costs n(n+1)/2 login notices: 12.5M for
			// 5,000 and 50M for 10,000, which the baseline (one write per
			// message) cannot deliver in the time this suite has; its
			// 10,000 room is cut off after two minutes and reported so.
			{Scenario: "broadcast", Name: "broadcast-5000", Conns: 5000, RoomSize: 5000, Rate: 2000, Inflight: 200, Senders: 10, Window: 2, OpenRate: 20, Duration: 5 * sec, JoinTimeout: 150 * sec},
			{Scenario: "broadcast", Name: "broadcast-10000", Conns: 10000, RoomSize: 10000, Rate: 2000, Inflight: 200, Senders: 10, Window: 2, OpenRate: 10, Duration: 5 * sec, JoinTimeout: 120 * sec},
			{Scenario: "private", Name: "private-1000", Conns: 2000, Rate: 2000, Window: 4, OpenRate: 20000, Duration: 5 * sec},
			{Scenario: "storm", Name: "storm-5000", Conns: 5000, RoomSize: 100, Rate: 2000},
		}
	}
}

func suiteMain(args []string) error {
	fs := flag.NewFlagSet("suite", flag.ExitOnError)
	var tf targetFlags
	tf.register(fs)
	size := fs.String("size", "default", "scenario list: default, quick or 100k")
	only := fs.String("only", "", "run only scenarios whose name contains this")
	escape := fs.Bool("escape-room-id", false, `send room ids with "-" escaped as \u002d (workaround, see bench/README.md)`)
	out := fs.String("out", "bench/results/"+time.Now().Format("2006-01-02"), "report directory")
	fs.Parse(args)
	targets, err := tf.targets()
	if err != nil {
		return err
	}
	if *size == "100k" {
		// The baselines have no cluster mode: the 100k run is chatd's.
		targets = slices.DeleteFunc(targets, func(t load.Target) bool { return t.Kind != "chatd" })
		if len(targets) == 0 {
			return errors.New("suite -size 100k: give -chatd BIN (the baselines have no cluster mode)")
		}
	}
	start := time.Now()
	env := load.NewEnv(os.Stdout, filepath.Join(*out, "logs"))
	var all []load.Result
	for _, spec := range suites(*size) {
		spec.EscapeRoomID = *escape
		if *only != "" && !strings.Contains(spec.Name, *only) {
			continue
		}
		for _, t := range targets {
			if !spec.SkipsTarget(t) {
				all = append(all, load.Run(env, spec, t)...)
			}
		}
	}
	m := machine()
	m.Command = "make bench"
	if *size == "100k" {
		m.Command = "make bench-100k"
	} else if *size != "default" {
		m.Command = "chatbench suite -size " + *size
	}
	if *escape {
		m.Command += " BENCH_FLAGS=-escape-room-id"
	}
	m.Duration = time.Since(start).Round(time.Second).String()
	write, name := report.Write, "report.md"
	if *size == "100k" {
		write, name = report.Write100k, "100k.md"
	}
	if err := write(*out, report.Run{Machine: m, Results: all}); err != nil {
		return err
	}
	fmt.Printf("\nreport: %s\n", filepath.Join(*out, name))
	return suiteFailed(all)
}

// suiteFailed is the suite's exit status: chatd's failures (a connection,
// a lost or duplicated delivery, an error message, a dead server) fail the
// run. The baseline's do not: it is there to be compared with, and when it
// could not complete a scenario (say, build a 10,000-member room in the
// time allowed) the report says so and why (report.method states the rule).
func suiteFailed(rs []load.Result) error {
	var own []load.Result
	for _, r := range rs {
		if !load.IsPeer(r.Server) {
			own = append(own, r)
		}
	}
	return failed(own)
}

func reportMain(args []string) error {
	fs := flag.NewFlagSet("report", flag.ExitOnError)
	dir := fs.String("dir", "", "results directory holding results.json and/or 100k.json")
	fs.Parse(args)
	found := false
	for file, write := range map[string]func(string, report.Run) error{"results.json": report.Write, "100k.json": report.Write100k} {
		b, err := os.ReadFile(filepath.Join(*dir, file))
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			return err
		}
		var run report.Run
		if err := json.Unmarshal(b, &run); err != nil {
			return fmt.Errorf("%s: %w", file, err)
		}
		if err := write(*dir, run); err != nil {
			return err
		}
		found = true
	}
	if !found {
		return fmt.Errorf("report: no results.json or 100k.json in %s", *dir)
	}
	return nil
}

// machine describes this machine for the report.
func machine() report.Machine {
	m := report.Machine{Date: time.Now().Format("2006-01-02 15:04 MST"), Cores: runtime.NumCPU(), Go: runtime.Version()}
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if strings.HasPrefix(line, "model name") {
				m.CPU = strings.TrimSpace(line[strings.IndexByte(line, ':')+1:])
				break
			}
		}
	}
	var u unix.Utsname
	if unix.Uname(&u) == nil {
		m.Kernel = string(bytes.TrimRight(u.Release[:], "\x00"))
	}
	var si unix.Sysinfo_t
	if unix.Sysinfo(&si) == nil {
		m.MemGiB = float64(si.Totalram) * float64(si.Unit) / (1 << 30)
	}
	var rl unix.Rlimit
	if unix.Getrlimit(unix.RLIMIT_NOFILE, &rl) == nil {
		m.FDLimit = rl.Max
	}
	if b, err := exec.Command("git", "log", "-1", "--format=%h %s").Output(); err == nil {
		m.Commit = strings.TrimSpace(string(b))
		// Say so when the binaries may hold changes no commit has.
		if exec.Command("git", "diff", "--quiet", "HEAD", "--", ".", ":!bench/results").Run() != nil {
			m.Commit += " (+ uncommitted changes)"
		}
	}
	return m
}
