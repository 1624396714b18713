package cluster

import (
	"fmt"
	"os"
	"strconv"
	"sync"
	"testing"
	"time"
)

// Options configures New.
type Options struct {
	// NATS is the number of NATS servers. Zero means 3.
	NATS int
	// Nodes is the number of in-process chatd nodes started at once
	// (ids 1..Nodes). Zero means none; -1 means 3.
	Nodes int
	// Processes is the number of chatd nodes started as child processes
	// of Bin after the in-process ones (ids Nodes+1...).
	Processes int
	Bin       string
	// Node configures every node the world starts.
	Node NodeConfig
}

// World is one scenario's cluster: the NATS servers, the chatd nodes,
// every client ever connected and every uid ever seen (with the name it
// was seen with: a uid seen with two names was reused).
type World struct {
	// Immutable after New.
	t    testing.TB
	NATS *NATS
	cfg  NodeConfig

	// Guarded by mu.
	mu      sync.Mutex
	Nodes   []*Node // index = the Node field of clients
	clients []*Client
	uids    map[int64]string
	reused  []string
	errs    []string
	seq     int
}

// New starts the NATS cluster (and waits for JetStream) and the
// in-process chatd nodes of o, and waits until every node is ready.
func New(t testing.TB, o Options) *World {
	t.Helper()
	if o.NATS == 0 {
		o.NATS = 3
	}
	if o.Nodes < 0 {
		o.Nodes = 3
	}
	w := &World{t: t, cfg: o.Node, uids: make(map[int64]string)}
	w.NATS = StartNATS(t, o.NATS)
	t.Cleanup(w.closeClients) // runs before the nodes' and NATS's cleanups
	for i := range o.Nodes {
		w.AddNode(uint64(i + 1))
	}
	for i := range o.Processes {
		w.AddProcess(o.Bin, uint64(o.Nodes+i+1))
	}
	if err := w.WaitReady(30 * time.Second); err != nil {
		t.Fatal(err)
	}
	return w
}

// AddNode starts in-process chatd node id and returns its index.
func (w *World) AddNode(id uint64) int {
	w.t.Helper()
	return w.add(StartNode(w.t, w.NATS.URLs(), id, w.cfg))
}

// AddProcess starts chatd node id as a child process (the binary of
// BuildChatd) and returns its index.
func (w *World) AddProcess(bin string, id uint64) int {
	w.t.Helper()
	return w.add(StartProcess(w.t, bin, w.NATS.URLs(), id, w.cfg))
}

func (w *World) add(n *Node) int {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.Nodes = append(w.Nodes, n)
	return len(w.Nodes) - 1
}

// Node returns node i.
func (w *World) Node(i int) *Node {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.Nodes[i]
}

// NodeCount is the number of nodes added so far.
func (w *World) NodeCount() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.Nodes)
}

// Running is the indexes of the nodes that run.
func (w *World) Running() []int {
	var out []int
	for i := range w.NodeCount() {
		if w.Node(i).Running() {
			out = append(out, i)
		}
	}
	return out
}

// WaitReady waits until every running node's /readyz says 200.
func (w *World) WaitReady(d time.Duration) error {
	deadline := time.Now().Add(d)
	for _, i := range w.Running() {
		for !w.Node(i).Ready() {
			if time.Now().After(deadline) {
				return fmt.Errorf("node %d (id %d): %w within %v", i, w.Node(i).ID, ErrNotReady, d)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	return nil
}

// Name returns a name no other client of the world has: prefix-<n>.
func (w *World) Name(prefix string) string {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.seq++
	return prefix + "-" + strconv.Itoa(w.seq)
}

func (w *World) track(c *Client) {
	w.mu.Lock()
	w.clients = append(w.clients, c)
	w.mu.Unlock()
}

// sawUID registers uid as name's; a second name for a uid is a reuse.
func (w *World) sawUID(uid int64, name string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if prev, ok := w.uids[uid]; ok && prev != name {
		w.reused = append(w.reused, fmt.Sprintf("uid %d: %q, then %q", uid, prev, name))
		w.uids[uid] = name
		return
	}
	w.uids[uid] = name
}

// Reused lists the uids seen with two names so far.
func (w *World) Reused() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]string(nil), w.reused...)
}

// UIDsSeen is the number of distinct uids seen.
func (w *World) UIDsSeen() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.uids)
}

// errorf records a client-side anomaly (an undecodable message) for the
// report.
func (w *World) errorf(format string, args ...any) {
	w.mu.Lock()
	w.errs = append(w.errs, fmt.Sprintf(format, args...))
	w.mu.Unlock()
}

// Clients returns every client ever dialled.
func (w *World) Clients() []*Client {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]*Client(nil), w.clients...)
}

func (w *World) closeClients() {
	var wg sync.WaitGroup
	for _, c := range w.Clients() {
		if c.Connected() {
			wg.Add(1)
			go func() { defer wg.Done(); c.Close() }()
		}
	}
	wg.Wait()
}

// Full reports whether the full sizes of issue 9 are asked for
// (CHATD_FAULTS_FULL=1): 300 members, 10 senders at 20 msg/s, 10 s
// faults, 60 cold starts. The default is a smaller run that fits the
// test command; -short smaller still.
func Full() bool { return os.Getenv("CHATD_FAULTS_FULL") == "1" }
