package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"chatd/bench/load"
)

// targetFlags are the servers a command runs against.
type targetFlags struct {
	chatd, baseline, nbio, addr, heapURL, loops string
	pid                                         int
}

func (t *targetFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&t.chatd, "chatd", "", "chatd binary to start per scenario")
	fs.StringVar(&t.baseline, "baseline", "", "baseline binary to start per scenario")
	fs.StringVar(&t.nbio, "nbio", "", "nbio baseline binary (bench/nbiobaseline) to start per scenario")
	fs.StringVar(&t.addr, "addr", "", "address of an already running server (instead of binaries)")
	fs.IntVar(&t.pid, "pid", 0, "PID of the running server at -addr, for CPU and RSS")
	fs.StringVar(&t.heapURL, "heap-url", "", "chatd metrics URL with the Go heap (optional)")
	fs.StringVar(&t.loops, "loops", "", "chatd -loops value (empty: chatd's default)")
}

func (t *targetFlags) targets() ([]load.Target, error) {
	var ts []load.Target
	if t.chatd != "" {
		tg := load.Target{Name: "chatd", Kind: "chatd", Bin: t.chatd, HeapURL: t.heapURL}
		if t.loops != "" {
			tg.Args = []string{"-loops", t.loops}
		}
		ts = append(ts, tg)
	}
	if t.baseline != "" {
		ts = append(ts, load.Target{Name: "baseline", Kind: "baseline", Bin: t.baseline})
	}
	if t.nbio != "" {
		ts = append(ts, load.Target{Name: "nbio", Kind: "nbio", Bin: t.nbio})
	}
	if t.addr != "" {
		ts = append(ts, load.Target{Name: "server", Addr: t.addr, PID: t.pid, HeapURL: t.heapURL})
	}
	if len(ts) == 0 {
		return nil, errors.New("no target: give -chatd BIN, -baseline BIN, -nbio BIN or -addr HOST:PORT")
	}
	return ts, nil
}

func scenarioMain(name string, args []string) error {
	fs := flag.NewFlagSet(name, flag.ExitOnError)
	var tf targetFlags
	tf.register(fs)
	spec := load.Spec{Scenario: name}
	defaults := map[string]load.Spec{
		"connect":   {Conns: 15000, RoomSize: 100, Rate: 5000, Hold: 10 * time.Second},
		"broadcast": {Conns: 1000, Senders: 10, Window: 4, OpenRate: 100, Duration: 5 * time.Second, Rate: 5000},
		"private":   {Conns: 2000, Window: 4, OpenRate: 20000, Duration: 5 * time.Second, Rate: 5000},
		"storm":     {Conns: 5000, RoomSize: 100, Rate: 5000},
	}[name]
	fs.IntVar(&spec.Conns, "n", defaults.Conns, "clients (broadcast: room members; private: 2 per pair)")
	fs.IntVar(&spec.RoomSize, "room-size", defaults.RoomSize, "members per room (connect, storm)")
	fs.Float64Var(&spec.Rate, "rate", defaults.Rate, "logins per second while connecting (0: all at once)")
	fs.IntVar(&spec.Inflight, "inflight", 2000, "handshakes in progress at most while connecting")
	fs.DurationVar(&spec.Hold, "hold", defaults.Hold, "connect: idle time at full load")
	fs.IntVar(&spec.Senders, "senders", defaults.Senders, "broadcast: senders in the room")
	fs.IntVar(&spec.Window, "window", defaults.Window, "closed loop: messages in flight per sender")
	fs.Float64Var(&spec.OpenRate, "open-rate", defaults.OpenRate, "open loop: messages per second (0: skip)")
	fs.DurationVar(&spec.Duration, "duration", defaults.Duration, "length of each measurement window")
	fs.IntVar(&spec.Workers, "workers", 0, "worker processes (0: one per 15k clients, at least 2)")
	fs.IntVar(&spec.Sources, "sources", 0, "client source addresses 127.0.0.2... (0: automatic)")
	fs.IntVar(&spec.Procs, "procs", 1, "server processes per target: rooms spread over them, each whole on one")
	fs.IntVar(&spec.Procs, "nodes", 1, "chatd: run this many processes as one cluster (node 1 runs NATS); members of every room spread over the nodes")
	fs.IntVar(&spec.SenderRooms, "sender-rooms", 0, "connect: after the hold, broadcast in this many rooms (-senders each, -open-rate in all, -duration)")
	fs.BoolVar(&spec.HeapProfiles, "heap-profiles", false, "connect: save each chatd process's heap profile at full load in the -out directory")
	fs.BoolVar(&spec.EscapeRoomID, "escape-room-id", false, `send room ids with "-" escaped as \u002d (workaround, see bench/README.md)`)
	fs.BoolVar(&spec.Mixed, "mixed", false, "half of every room speaks the current workerman-chat dialect (chatd only)")
	out := fs.String("out", "", "directory for the JSON results (optional)")
	fs.Parse(args)
	fs.Visit(func(f *flag.Flag) { spec.Cluster = spec.Cluster || f.Name == "nodes" })
	if name == "broadcast" {
		spec.RoomSize = spec.Conns
	}
	spec.Name = fmt.Sprintf("%s-%d", name, spec.Conns)
	if spec.Mixed {
		spec.Name += "-mixed"
	}
	targets, err := tf.targets()
	if err != nil {
		return err
	}
	env := load.NewEnv(os.Stdout, *out)
	var all []load.Result
	for _, t := range targets {
		if !spec.SkipsTarget(t) {
			all = append(all, load.Run(env, spec, t)...)
		}
	}
	if *out != "" {
		if err := writeJSON(filepath.Join(*out, spec.Name+".json"), all); err != nil {
			return err
		}
	}
	return failed(all)
}

// failed turns a failed result into the command's exit status.
func failed(rs []load.Result) error {
	var bad []string
	for _, r := range rs {
		if !r.OK {
			bad = append(bad, r.Label+" on "+r.Server)
		}
	}
	if len(bad) > 0 {
		return fmt.Errorf("failed: %s", strings.Join(bad, ", "))
	}
	return nil
}

func writeJSON(path string, v any) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o644)
}
