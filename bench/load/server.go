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
	Kind string // "chatd", "baseline" or "nbio": decides the command-line flags
	Bin  string
	Args []string // extra flags
	Addr string   // running server: host:port
	PID  int      // running server: for CPU and RSS
	// HeapURL is an optional metrics or debug endpoint to read the Go heap
	// from (expvar's "HeapAlloc", Prometheus' go_memstats_heap_alloc_bytes).
	HeapURL string
}

// ChatdLimits lift chatd's abuse limits (accept rate, per-address
// connections and handshakes, per-connection message rate) above anything the benchmark
// sends: they guard a public server against floods, the baseline has none,
// and the benchmark measures throughput, not the limiter.
var ChatdLimits = []string{
	"-accept-rate", "1000000", "-accept-burst", "1000000",
	"-max-conns-per-ip", "1000000", "-max-handshakes-per-ip", "1000000",
	"-message-rate", "1000000", "-message-burst", "1000000",
}

// running is a server process for one scenario.
type running struct {
	addr    string
	pid     int
	heapURL string
	admin   string // chatd: http://host:port of -admin-listen ("" otherwise)
	// liveURL forces a GC: chatd's heap profile with ?gc=1 (then heapURL
	// is read), the baselines' /debug/live (which answers HeapAlloc itself).
	liveURL string
	node    int  // cluster node id (0: not a cluster)
	nats    bool // this node runs the cluster's embedded NATS server
	cmd     *exec.Cmd
	exited  chan struct{}
	logFile *os.File
}

// start starts t on a free loopback port and waits until it accepts. node
// is its cluster node id (0: none) and extra are flags for this process
// only (cluster mode: node id and NATS).
func (t Target) start(logDir string, node int, extra ...string) (*running, error) {
	if t.Bin == "" {
		return &running{addr: t.Addr, pid: t.PID, heapURL: t.HeapURL}, nil
	}
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	r := &running{addr: "127.0.0.1:" + strconv.Itoa(port), heapURL: t.HeapURL, node: node, exited: make(chan struct{})}
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
		r.admin = "http://" + aaddr
		if r.heapURL == "" {
			r.heapURL = r.admin + "/metrics"
		}
		r.liveURL = r.admin + "/debug/pprof/heap?gc=1"
	case "baseline", "nbio":
		dport, err := freePort()
		if err != nil {
			return nil, err
		}
		daddr := "127.0.0.1:" + strconv.Itoa(dport)
		args = append(args, "-debug-listen", daddr)
		r.heapURL = "http://" + daddr + "/debug/vars"
		r.liveURL = "http://" + daddr + "/debug/live"
	}
	args = append(args, t.Args...)
	args = append(args, extra...)
	r.cmd = exec.Command(t.Bin, args...)
	r.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	var out io.Writer = io.Discard
	if logDir != "" {
		name := fmt.Sprintf("%s/%s-%d.log", logDir, t.Name, port)
		if r.node > 0 {
			name = fmt.Sprintf("%s/%s-node%d-%d.log", logDir, t.Name, r.node, port)
		}
		if r.logFile, err = os.Create(name); err == nil {
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
	s := bench.ProcStat{Writes: -1}
	if r.pid != 0 {
		s, _ = bench.ReadProcStat(r.pid)
	}
	return s, heapFrom(r.heapURL)
}

// liveHeap forces a garbage collection in the server and returns its Go
// heap right after it (HeapAlloc after a GC: the live heap, plus only what
// was allocated since); -1 when the server has no such endpoint.
func (r *running) liveHeap() int64 {
	if r.liveURL == "" {
		return -1
	}
	if r.admin != "" {
		if fetch(r.liveURL, 256<<20) == nil {
			return -1
		}
		return heapFrom(r.heapURL)
	}
	return heapFrom(r.liveURL)
}

// heapFrom fetches url and finds a Go heap figure in it; -1 when there is none.
func heapFrom(url string) int64 {
	b := fetch(url, 4<<20)
	if b == nil {
		return -1
	}
	for _, key := range []string{`"HeapAlloc":`, `"heap_alloc":`, `"heap_alloc_bytes":`, "\ngo_memstats_heap_alloc_bytes "} {
		if v := metricValue(b, key); v >= 0 {
			return int64(v)
		}
	}
	return -1
}

// fetch GETs url (10 s at most) and returns up to limit bytes of its body;
// nil on any error.
func fetch(url string, limit int64) []byte {
	if url == "" {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", url, nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil
	}
	b, err := io.ReadAll(io.LimitReader(resp.Body, limit))
	if err != nil {
		return nil
	}
	return b
}

// metricValue finds key in b (a JSON key with its colon, or a Prometheus
// metric name after a newline, with its space) and returns the number
// after it; -1 when there is none.
func metricValue(b []byte, key string) float64 {
	i := bytes.Index(b, []byte(key))
	if i < 0 {
		return -1
	}
	v := b[i+len(key):]
	end := bytes.IndexAny(v, ",}\n")
	if end < 0 {
		end = len(v)
	}
	f, err := strconv.ParseFloat(string(bytes.TrimSpace(v[:end])), 64)
	if err != nil {
		return -1
	}
	return f
}

func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// group is the server processes of one scenario: one; several independent
// ones on their own ports, each room whole on one of them (Spec.Procs); or
// several chatd nodes on their own ports joined into one cluster over
// NATS, node 1 running the embedded NATS server (Spec.Cluster).
type group struct {
	rs      []*running
	cluster bool
}

// ClusterFlags are the chatd flags every node of a benchmark cluster gets
// beside ChatdLimits. Seven nodes, NATS and the load generator share two
// cores while 100,000 clients connect: a handshake may wait for a loop
// longer than chatd's default 5 s, which would count as a failure of the
// machine, not of the server.
var ClusterFlags = []string{"-handshake-timeout", "30s"}

func (t Target) startGroup(logDir string, procs int, cluster bool) (*group, error) {
	if cluster && t.Kind == "chatd" && t.Bin != "" {
		return t.startCluster(logDir, max(procs, 1))
	}
	g := &group{}
	for range max(procs, 1) {
		r, err := t.start(logDir, 0)
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

// startCluster starts n chatd nodes as one cluster: node 1 with an
// embedded NATS server on a free loopback port, nodes 2..n joining it,
// each node on its own chat port; it returns once every node's /readyz
// answers 200 (connected to NATS).
func (t Target) startCluster(logDir string, n int) (*group, error) {
	g := &group{cluster: true}
	nport, err := freePort()
	if err != nil {
		return nil, err
	}
	nats := "127.0.0.1:" + strconv.Itoa(nport)
	for i := 1; i <= n; i++ {
		extra := append([]string{"-node-id", strconv.Itoa(i), "-node-name", "node-" + strconv.Itoa(i)}, ClusterFlags...)
		if i == 1 {
			extra = append(extra, "-nats-listen", nats)
		} else {
			extra = append(extra, "-nats-url", "nats://"+nats)
		}
		r, err := t.start(logDir, i, extra...)
		if err != nil {
			g.stop()
			return nil, err
		}
		r.nats = i == 1
		g.rs = append(g.rs, r)
		if i == 1 {
			// The others dial NATS at start; let node 1 serve it first.
			if err := r.waitReady(15 * time.Second); err != nil {
				g.stop()
				return nil, err
			}
		}
	}
	for _, r := range g.rs[1:] {
		if err := r.waitReady(15 * time.Second); err != nil {
			g.stop()
			return nil, err
		}
	}
	return g, nil
}

// waitReady polls the node's /readyz until it answers 200.
func (r *running) waitReady(timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		req, _ := http.NewRequestWithContext(ctx, "GET", r.admin+"/readyz", nil)
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
		cancel()
		if err == nil && resp.StatusCode == http.StatusOK {
			return nil
		}
		if !r.alive() {
			return fmt.Errorf("cluster node %d exited at start (see its log)", r.node)
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%w: cluster node %d not ready at %s/readyz", ErrTimeout, r.node, r.admin)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func (g *group) addrs() []string {
	var a []string
	for _, r := range g.rs {
		a = append(a, r.addr)
	}
	return a
}

// sample sums CPU, RSS, write system calls and Go heap over the
// processes (writes -1 if any process's are unknown, heap -1 if any
// process has no endpoint).
func (g *group) sample() (bench.ProcStat, int64) {
	var s bench.ProcStat
	var heap int64
	for _, r := range g.rs {
		p, h := r.sample()
		s.CPU += p.CPU
		s.RSS += p.RSS
		s.HWM += p.HWM
		if p.Writes < 0 || s.Writes < 0 {
			s.Writes = -1
		} else {
			s.Writes += p.Writes
		}
		if h < 0 || heap < 0 {
			heap = -1
		} else {
			heap += h
		}
	}
	return s, heap
}

// liveHeap sums the live Go heap over the processes (-1 if any has none).
func (g *group) liveHeap() int64 {
	var heap int64
	for _, r := range g.rs {
		h := r.liveHeap()
		if h < 0 {
			return -1
		}
		heap += h
	}
	return heap
}

// nodes samples every process on its own: RSS, and from a chatd's
// /metrics its Go heap, goroutine stacks, goroutines and open connections.
func (g *group) nodes() []NodeStat {
	var out []NodeStat
	for i, r := range g.rs {
		p, _ := r.sample()
		ns := NodeStat{Index: i + 1, Node: r.node, NATS: r.nats, PID: r.pid, RSS: p.RSS, CPU: p.CPU.Seconds(),
			Heap: -1, Stack: -1, Goroutines: -1, Conns: -1}
		if b := fetch(r.heapURL, 4<<20); b != nil {
			ns.Heap = int64(metricValue(b, "\ngo_memstats_heap_alloc_bytes "))
			ns.HeapInuse = int64(metricValue(b, "\ngo_memstats_heap_inuse_bytes "))
			ns.Stack = int64(metricValue(b, "\ngo_memstats_stack_inuse_bytes "))
			ns.Sys = int64(metricValue(b, "\ngo_memstats_sys_bytes "))
			ns.Goroutines = int64(metricValue(b, "\ngo_goroutines "))
			ns.Conns = int64(metricValue(b, "\nchatd_connections "))
		}
		out = append(out, ns)
	}
	return out
}

// heapProfiles saves every chatd node's heap profile (after a GC) as
// dir/heap-<name>.pb.gz, for `go tool pprof`.
func (g *group) heapProfiles(dir, name string) []string {
	var files []string
	for i, r := range g.rs {
		if r.admin == "" || dir == "" {
			continue
		}
		b := fetch(r.admin+"/debug/pprof/heap?gc=1", 256<<20)
		if b == nil {
			continue
		}
		f := fmt.Sprintf("%s/heap-%s-%d.pb.gz", dir, name, i+1)
		if r.node > 0 {
			f = fmt.Sprintf("%s/heap-%s-node%d.pb.gz", dir, name, r.node)
		}
		if os.WriteFile(f, b, 0o644) == nil {
			files = append(files, f)
		}
	}
	return files
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
