package load

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"syscall"
	"time"

	"chatd/bench"
)

// Target is a server under test: a binary the benchmark starts (Bin), or an
// already running one (Addr and optionally PID).
type Target struct {
	Name string // "chatd", "baseline", ...
	Kind string // "chatd" or "baseline": decides the command-line flags
	Bin  string
	Args []string // extra flags
	Addr string   // running server: host:port
	PID  int      // running server: for CPU and RSS
	// HeapURL is an optional metrics or debug endpoint to read the Go heap
	// from (expvar's "HeapAlloc", Prometheus' go_memstats_heap_alloc_bytes).
	HeapURL string
}

// ChatdLimits lift chatd's abuse limits (accept rate, per-address
// connections, per-connection message rate) above anything the benchmark
// sends: they guard a public server against floods, the baseline has none,
// and the benchmark measures throughput, not the limiter.
var ChatdLimits = []string{
	"-accept-rate", "1000000", "-accept-burst", "1000000",
	"-max-conns-per-ip", "1000000",
	"-message-rate", "1000000", "-message-burst", "1000000",
}

// running is a server process for one scenario.
type running struct {
	addr    string
	pid     int
	heapURL string
	cmd     *exec.Cmd
	exited  chan struct{}
	logFile *os.File
}

// start starts t on a free loopback port and waits until it accepts.
func (t Target) start(logDir string) (*running, error) {
	if t.Bin == "" {
		return &running{addr: t.Addr, pid: t.PID, heapURL: t.HeapURL}, nil
	}
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	r := &running{addr: "127.0.0.1:" + strconv.Itoa(port), heapURL: t.HeapURL, exited: make(chan struct{})}
	args := []string{"-listen", r.addr}
	switch t.Kind {
	case "chatd":
		aport, err := freePort()
		if err != nil {
			return nil, err
		}
		aaddr := "127.0.0.1:" + strconv.Itoa(aport)
		args = append(args, "-web-listen", "127.0.0.1:0", "-admin-listen", aaddr)
		args = append(args, ChatdLimits...)
		if r.heapURL == "" {
			r.heapURL = "http://" + aaddr + "/metrics"
		}
	case "baseline":
		dport, err := freePort()
		if err != nil {
			return nil, err
		}
		daddr := "127.0.0.1:" + strconv.Itoa(dport)
		args = append(args, "-debug-listen", daddr)
		r.heapURL = "http://" + daddr + "/debug/vars"
	}
	args = append(args, t.Args...)
	r.cmd = exec.Command(t.Bin, args...)
	r.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	var out io.Writer = io.Discard
	if logDir != "" {
		if r.logFile, err = os.Create(fmt.Sprintf("%s/%s-%d.log", logDir, t.Name, port)); err == nil {
			out = r.logFile
		}
	}
	r.cmd.Stdout, r.cmd.Stderr = out, out
	if err := r.cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", t.Bin, err)
	}
	r.pid = r.cmd.Process.Pid
	go func() { r.cmd.Wait(); close(r.exited) }()
	deadline := time.Now().Add(15 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", r.addr, time.Second)
		if err == nil {
			c.Close()
			return r, nil
		}
		select {
		case <-r.exited:
			return nil, fmt.Errorf("%s exited at start (see its log)", t.Name)
		default:
		}
		if time.Now().After(deadline) {
			r.stop()
			return nil, fmt.Errorf("%w: %s not accepting on %s", ErrTimeout, t.Name, r.addr)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// alive reports whether the process (if we started it) is still running.
func (r *running) alive() bool {
	if r.exited == nil {
		return true
	}
	select {
	case <-r.exited:
		return false
	default:
		return true
	}
}

// stop kills the server we started, by its PID. It is killed before the
// clients close, so a 10,000-member room does not pay for 10,000 logout
// broadcasts nobody measures.
func (r *running) stop() {
	if r.cmd == nil {
		return
	}
	r.cmd.Process.Signal(syscall.SIGKILL)
	<-r.exited
	if r.logFile != nil {
		r.logFile.Close()
	}
}

// sample reads the server's CPU and RSS, and its Go heap if it has an endpoint.
func (r *running) sample() (bench.ProcStat, int64) {
	var s bench.ProcStat
	if r.pid != 0 {
		s, _ = bench.ReadProcStat(r.pid)
	}
	return s, heapFrom(r.heapURL)
}

// heapFrom fetches url and finds a Go heap figure in it; -1 when there is none.
func heapFrom(url string) int64 {
	if url == "" {
		return -1
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", url, nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return -1
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
	for _, key := range []string{`"HeapAlloc":`, `"heap_alloc":`, `"heap_alloc_bytes":`, "\ngo_memstats_heap_alloc_bytes "} {
		i := bytes.Index(b, []byte(key))
		if i < 0 {
			continue
		}
		v := b[i+len(key):]
		end := bytes.IndexAny(v, ",}\n")
		if end < 0 {
			end = len(v)
		}
		f, err := strconv.ParseFloat(string(bytes.TrimSpace(v[:end])), 64)
		if err == nil {
			return int64(f)
		}
	}
	return -1
}

func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// group is the server processes of one scenario: one, or several on their
// own ports when one process cannot hold every connection (the hard limit
// of 20,000 open files per process). Rooms are spread over the processes,
// each room whole on one of them.
type group struct {
	rs []*running
}

func (t Target) startGroup(logDir string, procs int) (*group, error) {
	g := &group{}
	for range max(procs, 1) {
		r, err := t.start(logDir)
		if err != nil {
			g.stop()
			return nil, err
		}
		g.rs = append(g.rs, r)
		if t.Bin == "" {
			break // a running server is one address
		}
	}
	return g, nil
}

func (g *group) addrs() []string {
	var a []string
	for _, r := range g.rs {
		a = append(a, r.addr)
	}
	return a
}

// sample sums CPU, RSS and Go heap over the processes (heap -1 if any
// process has no endpoint).
func (g *group) sample() (bench.ProcStat, int64) {
	var s bench.ProcStat
	var heap int64
	for _, r := range g.rs {
		p, h := r.sample()
		s.CPU += p.CPU
		s.RSS += p.RSS
		s.HWM += p.HWM
		if h < 0 || heap < 0 {
			heap = -1
		} else {
			heap += h
		}
	}
	return s, heap
}

func (g *group) alive() bool {
	for _, r := range g.rs {
		if !r.alive() {
			return false
		}
	}
	return true
}

func (g *group) stop() {
	for _, r := range g.rs {
		r.stop()
	}
}
