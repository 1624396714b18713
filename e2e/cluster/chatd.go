package cluster

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"chatd/server"
)

// NodeConfig is what the harness sets on every chatd node. Zero values
// are chatd's own defaults (heartbeat 1s, node TTL 5s, ...): the faults
// are measured with the timings an operator gets.
type NodeConfig struct {
	Heartbeat, NodeTTL, SyncTimeout, ReconnectWait time.Duration
	// Loops is the number of event loops of an in-process node. Zero means 2.
	Loops int
	// Configure, if set, changes an in-process node's Config last (for
	// options a redesign adds).
	Configure func(*server.Config)
	// Args are extra flags of a chatd process.
	Args []string
}

// Node is one chatd node of the cluster: in this process (StartNode) or
// a child chatd process (StartProcess), which can be killed with SIGKILL
// and restarted with the same id and port.
type Node struct {
	// Immutable after start.
	t     testing.TB
	ID    uint64 // node id (-node-id)
	Addr  string // chat address host:port
	urls  string
	cfg   NodeConfig
	bin   string // chatd binary; "" for an in-process node
	admin string // admin address of a process

	// Guarded by mu.
	mu     sync.Mutex
	srv    *server.Server // in-process
	cancel context.CancelFunc
	errc   chan error
	cmd    *exec.Cmd // process
	waited chan struct{}
	logf   *os.File
}

// NATSName is the NATS connection name of node id, as NATS.ServerOf
// looks it up.
func NATSName(id uint64) string { return "chatd-" + strconv.FormatUint(id, 10) }

// StartNode runs chatd node id in this process, connected to the NATS
// URLs urls, and waits until it reports ready. It stops when the test ends.
func StartNode(t testing.TB, urls string, id uint64, cfg NodeConfig) *Node {
	t.Helper()
	n := &Node{t: t, ID: id, urls: urls, cfg: cfg}
	if err := n.startInProcess(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(n.Stop)
	return n
}

func (n *Node) serverConfig() server.Config {
	loops := n.cfg.Loops
	if loops == 0 {
		loops = 2
	}
	c := server.Config{
		Listen: "127.0.0.1:0", WebListen: "off", AdminListen: "off", Loops: loops,
		// A restart binds the same port while the last run's closed
		// connections are in TIME_WAIT (chatd sets no SO_REUSEADDR).
		ReusePort:   true,
		Logger:      logger(),
		MessageRate: 1e9, MessageBurst: 1e9, AcceptRate: 1e6, AcceptBurst: 1e6,
		Cluster: server.ClusterConfig{
			NATSURL: n.urls, NodeID: n.ID, NodeName: NATSName(n.ID),
			Heartbeat: n.cfg.Heartbeat, NodeTTL: n.cfg.NodeTTL,
			SyncTimeout: n.cfg.SyncTimeout, ReconnectWait: n.cfg.ReconnectWait,
		},
	}
	if n.Addr != "" {
		c.Listen = n.Addr
	}
	if n.cfg.Configure != nil {
		n.cfg.Configure(&c)
	}
	return c
}

func (n *Node) startInProcess() error {
	srv, err := server.New(n.serverConfig())
	if err != nil {
		return fmt.Errorf("node %d: server.New: %w", n.ID, err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { errc <- srv.Run(ctx) }()
	select {
	case <-srv.Ready():
	case err := <-errc:
		cancel()
		return fmt.Errorf("node %d: Run: %w", n.ID, err)
	case <-time.After(30 * time.Second):
		cancel()
		return fmt.Errorf("node %d: not started in 30s", n.ID)
	}
	n.mu.Lock()
	n.srv, n.cancel, n.errc = srv, cancel, errc
	n.mu.Unlock()
	n.Addr = srv.ChatAddr()
	return nil
}

// StartProcess runs chatd node id as a child process of the binary bin
// (see BuildChatd) on a fixed free port and waits until it accepts
// WebSocket connections. It is killed when the test ends.
func StartProcess(t testing.TB, bin, urls string, id uint64, cfg NodeConfig) *Node {
	t.Helper()
	n := &Node{
		t: t, ID: id, urls: urls, cfg: cfg, bin: bin,
		Addr:  "127.0.0.1:" + strconv.Itoa(freePort(t)),
		admin: "127.0.0.1:" + strconv.Itoa(freePort(t)),
	}
	t.Cleanup(func() {
		n.Kill()
		n.dumpLog()
	})
	if err := n.spawn(); err != nil {
		t.Fatal(err)
	}
	return n
}

func (n *Node) args() []string {
	a := []string{
		"-listen", n.Addr, "-web-listen", "off", "-admin-listen", n.admin,
		"-nats-url", n.urls, "-node-id", strconv.FormatUint(n.ID, 10), "-node-name", NATSName(n.ID),
		"-message-rate", "1e9", "-message-burst", "1000000000", "-accept-rate", "1e6", "-accept-burst", "1000000",
		"-log-level", "info", "-log-format", "text", "-loops", "2", "-reuseport",
	}
	for _, d := range []struct {
		flag string
		v    time.Duration
	}{{"-cluster-heartbeat", n.cfg.Heartbeat}, {"-cluster-node-ttl", n.cfg.NodeTTL},
		{"-cluster-sync-timeout", n.cfg.SyncTimeout}, {"-nats-reconnect-wait", n.cfg.ReconnectWait}} {
		if d.v > 0 {
			a = append(a, d.flag, d.v.String())
		}
	}
	return append(a, n.cfg.Args...)
}

// spawn starts the process and waits (30 s) until its chat port accepts
// a WebSocket and /readyz answers 200.
func (n *Node) spawn() error {
	if n.logf == nil {
		f, err := os.Create(filepath.Join(n.t.TempDir(), "chatd-"+strconv.FormatUint(n.ID, 10)+".log"))
		if err != nil {
			return err
		}
		n.logf = f
	}
	cmd := exec.Command(n.bin, n.args()...)
	cmd.Stdout, cmd.Stderr = n.logf, n.logf
	cmd.Env = childEnv()
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("node %d: %w", n.ID, err)
	}
	waited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(waited) }()
	n.mu.Lock()
	n.cmd, n.waited = cmd, waited
	n.mu.Unlock()
	deadline := time.Now().Add(30 * time.Second)
	for !n.Ready() {
		select {
		case <-waited:
			return fmt.Errorf("node %d: chatd exited: %s", n.ID, cmd.ProcessState)
		default:
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("node %d: not ready in 30s", n.ID)
		}
		time.Sleep(50 * time.Millisecond)
	}
	return nil
}

// childEnv is this process's environment without the harness's own
// variables: chatd refuses CHATD_* variables it does not know.
func childEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "CHATD_FAULTS_") && !strings.HasPrefix(kv, "CHATD_E2E_") {
			env = append(env, kv)
		}
	}
	return env
}

// Ready reports what the node's /readyz says (200 or not).
func (n *Node) Ready() bool {
	n.mu.Lock()
	srv, cmd := n.srv, n.cmd
	n.mu.Unlock()
	switch {
	case srv != nil:
		rec := httptest.NewRecorder()
		srv.AdminHandler().ServeHTTP(rec, httptest.NewRequest("GET", "/readyz", nil))
		return rec.Code == http.StatusOK
	case cmd != nil:
		c := http.Client{Timeout: 2 * time.Second}
		resp, err := c.Get("http://" + n.admin + "/readyz")
		if err != nil {
			return false
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	}
	return false
}

// Running reports whether the node runs (not killed or stopped).
func (n *Node) Running() bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.srv != nil || n.cmd != nil
}

// Process reports whether the node is a child process.
func (n *Node) Process() bool { return n.bin != "" }

// Kill ends the node at once: SIGKILL for a process; an in-process node
// cannot be killed harder than Stop (its members get a 1001 close and
// logouts are published), so Kill is Stop there.
func (n *Node) Kill() {
	n.mu.Lock()
	cmd, waited := n.cmd, n.waited
	n.cmd = nil
	n.mu.Unlock()
	if cmd == nil {
		n.Stop()
		return
	}
	_ = syscall.Kill(cmd.Process.Pid, syscall.SIGKILL)
	<-waited
}

// Restart starts a killed or stopped node again with the same id and
// chat address, failing the test if it does not start.
func (n *Node) Restart() {
	n.t.Helper()
	if err := n.Start(); err != nil {
		n.t.Fatal(err)
	}
}

// Start is Restart returning the error instead (for other goroutines
// than the test's).
func (n *Node) Start() error {
	if n.Process() {
		return n.spawn()
	}
	return n.startInProcess()
}

// Stop shuts the node down gracefully (an in-process node: cancel Run;
// a process: SIGTERM), bounded by 15 s.
func (n *Node) Stop() {
	n.mu.Lock()
	srv, cancel, errc, cmd, waited := n.srv, n.cancel, n.errc, n.cmd, n.waited
	n.srv, n.cmd = nil, nil
	n.mu.Unlock()
	switch {
	case srv != nil:
		cancel()
		select {
		case <-errc:
		case <-time.After(15 * time.Second):
			n.t.Errorf("node %d: Run did not return 15s after cancel; goroutines in %s", n.ID, dumpGoroutines("node"))
		}
	case cmd != nil:
		_ = syscall.Kill(cmd.Process.Pid, syscall.SIGTERM)
		select {
		case <-waited:
		case <-time.After(15 * time.Second):
			_ = syscall.Kill(cmd.Process.Pid, syscall.SIGKILL)
			<-waited
		}
	}
}

// dumpLog logs a process's output tail when the test failed.
func (n *Node) dumpLog() {
	if n.logf == nil {
		return
	}
	defer n.logf.Close()
	if !n.t.Failed() && os.Getenv("CHATD_E2E_LOG") == "" {
		return
	}
	b, _ := os.ReadFile(n.logf.Name())
	if len(b) > 8<<10 {
		b = b[bytes.IndexByte(b[len(b)-8<<10:], '\n')+len(b)-8<<10+1:]
	}
	n.t.Logf("chatd node %d log tail:\n%s", n.ID, b)
}

var build struct {
	once sync.Once
	bin  string
	err  error
}

// BuildChatd builds cmd/chatd once per test binary (into a directory
// removed by Cleanup, see TestMain) and returns its path.
func BuildChatd(dir string) (string, error) {
	build.once.Do(func() {
		build.bin = filepath.Join(dir, "chatd")
		out, err := exec.Command("go", "build", "-o", build.bin, "chatd/cmd/chatd").CombinedOutput()
		if err != nil {
			build.err = fmt.Errorf("go build chatd: %w\n%s", err, out)
		}
	})
	return build.bin, build.err
}

func logger() *slog.Logger {
	if os.Getenv("CHATD_E2E_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}
