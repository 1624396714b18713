package main

// Helpers of the process-level tests: the test binary re-executes itself
// as a chatd child process (TestMain runs main's run when childEnv is
// set), optionally with its RLIMIT_NOFILE lowered, and the tests talk to
// it through gorilla/websocket and plain TCP.

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"golang.org/x/sys/unix"
)

// childEnv makes the test binary run chatd; its value is the open-file
// limit to set first (0: keep the inherited one). Not CHATD_-prefixed:
// chatd refuses unknown CHATD_* variables.
const childEnv = "GO_CHATD_TEST_CHILD"

func TestMain(m *testing.M) {
	if v, ok := os.LookupEnv(childEnv); ok {
		os.Exit(childMain(v))
	}
	os.Exit(m.Run())
}

func childMain(nofile string) int {
	if n, _ := strconv.Atoi(nofile); n > 0 {
		lim := unix.Rlimit{Cur: uint64(n), Max: uint64(n)}
		if err := unix.Setrlimit(unix.RLIMIT_NOFILE, &lim); err != nil {
			fmt.Fprintln(os.Stderr, "setrlimit:", err)
			return 3
		}
	}
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, childEnv+"=") {
			env = append(env, kv)
		}
	}
	return run(os.Args[1:], env, os.Stdout, os.Stderr)
}

// child is a chatd process started by a test.
type child struct {
	t      *testing.T
	cmd    *exec.Cmd
	serve  chan struct{} // closed once "chatd serving" is logged
	exited chan struct{} // closed once the process has exited; then err is set
	err    error

	mu          sync.Mutex
	logs        []map[string]any
	chat, admin string
	web         string
}

// startChild runs chatd with args (JSON logs) and, if nofile > 0, that
// open-file limit. It does not wait for the server to serve.
func startChild(t *testing.T, nofile int, args ...string) *child {
	t.Helper()
	cmd := exec.Command(os.Args[0], append([]string{"-log-format", "json"}, args...)...)
	cmd.Env = append(os.Environ(), childEnv+"="+strconv.Itoa(nofile))
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	c := &child{t: t, cmd: cmd, serve: make(chan struct{}), exited: make(chan struct{})}
	logsDone := make(chan struct{})
	go func() { defer close(logsDone); c.readLogs(stderr) }()
	go func() {
		<-logsDone
		c.err = cmd.Wait()
		close(c.exited)
	}()
	t.Cleanup(c.kill)
	return c
}

func (c *child) readLogs(r io.Reader) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		var m map[string]any
		if json.Unmarshal(sc.Bytes(), &m) != nil {
			m = map[string]any{"msg": sc.Text()}
		}
		c.mu.Lock()
		c.logs = append(c.logs, m)
		if m["msg"] == "chatd serving" {
			c.chat, _ = m["chat"].(string)
			c.admin, _ = m["admin"].(string)
			c.web, _ = m["web"].(string)
			close(c.serve)
		}
		c.mu.Unlock()
	}
}

// waitServing waits until the child serves and fails the test if it
// exits first.
func (c *child) waitServing(d time.Duration) {
	c.t.Helper()
	select {
	case <-c.serve:
	case <-c.exited:
		c.t.Fatalf("chatd exited before serving (%v); logs:\n%s", c.err, c.logText())
	case <-time.After(d):
		c.t.Fatalf("chatd not serving within %v; logs:\n%s", d, c.logText())
	}
}

// alive fails the test if the child has exited.
func (c *child) alive() {
	c.t.Helper()
	select {
	case <-c.exited:
		c.t.Fatalf("chatd exited (%v, exit code %d); logs:\n%s", c.err, c.cmd.ProcessState.ExitCode(), c.logText())
	default:
	}
}

// stop sends sig and waits for the exit (bounded); it returns the exit code.
func (c *child) stop(sig os.Signal, d time.Duration) int {
	c.t.Helper()
	_ = c.cmd.Process.Signal(sig)
	select {
	case <-c.exited:
	case <-time.After(d):
		c.t.Fatalf("chatd did not exit within %v of %v", d, sig)
	}
	return c.cmd.ProcessState.ExitCode()
}

func (c *child) kill() {
	select {
	case <-c.exited:
	default:
		_ = c.cmd.Process.Kill()
		<-c.exited
	}
}

// logged counts the log lines whose msg starts with prefix.
func (c *child) logged(prefix string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for _, m := range c.logs {
		if s, _ := m["msg"].(string); strings.HasPrefix(s, prefix) {
			n++
		}
	}
	return n
}

func (c *child) logText() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	var b strings.Builder
	for i, m := range c.logs {
		if i >= 60 && i < len(c.logs)-20 {
			continue // the start and the end are what matters
		}
		j, _ := json.Marshal(m)
		b.Write(j)
		b.WriteByte('\n')
	}
	return b.String()
}

// metric returns the value of the first /metrics sample line that starts
// with name (including its labels, e.g. `x_total{reason="limit"}`).
func (c *child) metric(name string) (float64, error) {
	cl := http.Client{Timeout: 5 * time.Second}
	resp, err := cl.Get("http://" + c.admin + "/metrics")
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(body), "\n") {
		if rest, ok := strings.CutPrefix(line, name+" "); ok {
			return strconv.ParseFloat(strings.TrimSpace(rest), 64)
		}
	}
	return 0, fmt.Errorf("metric %s not found", name)
}

// waitFor polls cond until it holds or d passes.
func waitFor(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not reached within %v", what, d)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// ---------------------------------------------------------------------------
// clients

// member is a logged-in chat client (reads on the test's goroutine).
type member struct {
	t    *testing.T
	name string
	conn *websocket.Conn
}

// dialWS opens a WebSocket to addr; on a refused upgrade it returns the
// HTTP status in the error.
func dialWS(addr string) (*websocket.Conn, error) {
	d := websocket.Dialer{HandshakeTimeout: 5 * time.Second}
	conn, resp, err := d.Dial("ws://"+addr+"/", nil)
	if err != nil && resp != nil {
		return nil, fmt.Errorf("status %d: %w", resp.StatusCode, err)
	}
	return conn, err
}

// login connects and logs name in to the default room; it returns an
// error instead of failing, for tests that poll.
func login(t *testing.T, addr, name string) (*member, error) {
	conn, err := dialWS(addr)
	if err != nil {
		return nil, err
	}
	m := &member{t: t, name: name, conn: conn}
	if err := conn.WriteJSON(map[string]string{"type": "login", "name": name}); err != nil {
		conn.Close()
		return nil, err
	}
	if err := m.await("login", "name", name); err != nil {
		conn.Close()
		return nil, err
	}
	t.Cleanup(func() { conn.Close() })
	return m, nil
}

// await reads until a message of type typ whose key has value arrives.
func (m *member) await(typ, key, value string) error {
	deadline := time.Now().Add(10 * time.Second)
	for {
		_ = m.conn.SetReadDeadline(deadline)
		var msg map[string]any
		if err := m.conn.ReadJSON(&msg); err != nil {
			return fmt.Errorf("%s waiting for %s %s=%q: %w", m.name, typ, key, value, err)
		}
		if msg["type"] == typ && msg[key] == value {
			return nil
		}
	}
}

func (m *member) say(content string) {
	m.t.Helper()
	if err := m.conn.WriteJSON(map[string]any{"type": "say", "to_uid": "all", "content": content}); err != nil {
		m.t.Fatalf("%s say: %v", m.name, err)
	}
}

// chats checks that a message from a reaches b.
func chats(t *testing.T, a, b *member, content string) {
	t.Helper()
	a.say(content)
	if err := b.await("say", "content", content); err != nil {
		t.Fatal(err)
	}
}

// refusal classifies a failed connect.
func refusal(err error) string {
	switch {
	case err == nil:
		return "ok"
	case errors.Is(err, syscall.ECONNREFUSED):
		return "ECONNREFUSED"
	case strings.Contains(err.Error(), "status "):
		return err.Error()[:len("status 503")]
	case errors.Is(err, syscall.ECONNRESET):
		return "reset"
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return "EOF"
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return "timeout"
	}
	return err.Error()
}
