package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestMakeRunForwardsSIGTERM: the README's run command is `make run`; a
// SIGTERM to make (what a service manager or `kill` sends) must reach
// chatd, which drains and exits, instead of leaving it running with its
// ports held (as `go run` does: it dies and orphans the server).
func TestMakeRunForwardsSIGTERM(t *testing.T) {
	if testing.Short() {
		t.Skip("builds chatd through make")
	}
	if _, err := exec.LookPath("make"); err != nil {
		t.Skip("no make")
	}
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	// A file, not a pipe: Wait returns when make exits even if an orphaned
	// chatd still holds the output open.
	out, err := os.Create(filepath.Join(t.TempDir(), "out"))
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	cmd := exec.Command("make", "-s", "-C", root, "run", "BIN="+filepath.Join(t.TempDir(), "chatd"),
		"ARGS=-listen 127.0.0.1:0 -web-listen off -admin-listen off -log-format json")
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	var chatd int
	t.Cleanup(func() {
		if chatd != 0 && alive(chatd) {
			_ = syscall.Kill(chatd, syscall.SIGKILL)
		}
		_ = cmd.Process.Kill()
		<-exited
	})
	if !poll(3*time.Minute, func() bool { return strings.Contains(logText(out), "chatd serving") }) {
		t.Fatalf("chatd did not start through make run:\n%s", logText(out))
	}
	if chatd = descendant(cmd.Process.Pid, "chatd"); chatd == 0 {
		t.Fatalf("no chatd process under make (pid %d):\n%s", cmd.Process.Pid, logText(out))
	}
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case <-exited:
	case <-time.After(time.Minute):
		t.Fatalf("make did not exit within a minute of SIGTERM:\n%s", logText(out))
	}
	if !poll(30*time.Second, func() bool { return !alive(chatd) }) {
		t.Fatalf("chatd (pid %d) still running after SIGTERM to make run:\n%s", chatd, logText(out))
	}
	if !strings.Contains(logText(out), "chatd stopped") {
		t.Errorf("chatd did not stop gracefully:\n%s", logText(out))
	}
}

// logText is what make and chatd wrote so far.
func logText(f *os.File) string {
	b, _ := os.ReadFile(f.Name())
	return string(b)
}

func poll(d time.Duration, cond func() bool) bool {
	for end := time.Now().Add(d); time.Now().Before(end); time.Sleep(20 * time.Millisecond) {
		if cond() {
			return true
		}
	}
	return cond()
}

// alive reports whether pid runs (a zombie, exited but not reaped, does not).
func alive(pid int) bool {
	st, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	return err == nil && !bytes.Contains(st, []byte(") Z "))
}

// descendant returns the pid of a process named comm below ancestor, or 0.
func descendant(ancestor int, comm string) int {
	dirs, _ := os.ReadDir("/proc")
	for _, d := range dirs {
		pid, err := strconv.Atoi(d.Name())
		if err != nil {
			continue
		}
		if name, _ := procStat(pid); name != comm {
			continue
		}
		for p := pid; p > 1; {
			_, p = procStat(p)
			if p == ancestor {
				return pid
			}
		}
	}
	return 0
}

// procStat returns the command name and parent pid of pid from
// /proc/<pid>/stat ("pid (comm) state ppid ...").
func procStat(pid int) (string, int) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return "", 0
	}
	s := string(b)
	open, end := strings.IndexByte(s, '('), strings.LastIndexByte(s, ')')
	if open < 0 || end < open {
		return "", 0
	}
	fields := strings.Fields(s[end+1:])
	if len(fields) < 2 {
		return "", 0
	}
	ppid, _ := strconv.Atoi(fields[1])
	return s[open+1 : end], ppid
}
