package load

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"sync"
	"syscall"
	"time"

	"chatd/bench"
)

// MaxPerWorker keeps a worker process under the hard per-process limit of
// 20,000 open files, with room for the runtime's own descriptors.
const MaxPerWorker = 18000

// pool is the coordinator's view of its worker processes.
type pool struct {
	procs   []*workerProc
	senders []int // senders of each worker, to split an open-loop rate
	start   time.Time
	phase   int // phase commands sent (measure, stop, storm)

	mu     sync.Mutex // guards last, reports, fatal
	last   []Counters
	report []*Event
	fatal  error
}

type workerProc struct {
	cmd   *exec.Cmd
	stdin io.WriteCloser
}

// startPool starts one `chatbench worker` process per plan.
func startPool(plans []Plan) (*pool, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, err
	}
	p := &pool{start: time.Now(), last: make([]Counters, len(plans)), report: make([]*Event, len(plans))}
	for i, plan := range plans {
		plan.Worker = i
		cmd := exec.Command(exe, "worker")
		// One P per worker: its loop is one goroutine, and a second P would
		// only let the garbage collector take CPU from the server.
		cmd.Env = append(os.Environ(), "GOMAXPROCS=1")
		cmd.Stderr = os.Stderr
		cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
		stdin, err := cmd.StdinPipe()
		if err != nil {
			return nil, err
		}
		stdout, err := cmd.StdoutPipe()
		if err != nil {
			return nil, err
		}
		if err := cmd.Start(); err != nil {
			p.close()
			return nil, fmt.Errorf("start worker: %w", err)
		}
		wp := &workerProc{cmd: cmd, stdin: stdin}
		p.procs = append(p.procs, wp)
		p.senders = append(p.senders, plan.senders())
		b, _ := json.Marshal(plan)
		stdin.Write(append(b, '\n'))
		go p.readEvents(i, stdout)
	}
	return p, nil
}

func (p *pool) readEvents(i int, r io.Reader) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 64<<20)
	for sc.Scan() {
		var ev Event
		if err := json.Unmarshal(sc.Bytes(), &ev); err != nil {
			continue
		}
		p.mu.Lock()
		p.last[i] = ev.C
		switch ev.Ev {
		case "report":
			p.report[i] = &ev
		case "fatal":
			p.fatal = fmt.Errorf("%w: worker %d: %s", ErrWorker, i, ev.Msg)
		}
		p.mu.Unlock()
	}
	p.mu.Lock()
	if p.report[i] == nil && p.fatal == nil {
		p.fatal = fmt.Errorf("%w: worker %d exited", ErrWorker, i)
	}
	p.mu.Unlock()
}

// phaseReached reports whether every worker has taken phase commands.
func (p *pool) phaseReached(phase int) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range p.last {
		if c.Phase < phase {
			return false
		}
	}
	return true
}

// send gives every worker the same command.
func (p *pool) send(cmd Command) {
	b, _ := json.Marshal(cmd)
	b = append(b, '\n')
	for _, wp := range p.procs {
		wp.stdin.Write(b)
	}
}

// sendEach gives worker i the command f(i).
func (p *pool) sendEach(f func(i int) Command) {
	for i, wp := range p.procs {
		b, _ := json.Marshal(f(i))
		wp.stdin.Write(append(b, '\n'))
	}
}

// sum adds up the latest counters of all workers.
func (p *pool) sum() (Counters, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	var s Counters
	for _, c := range p.last {
		s.add(c)
	}
	return s, p.fatal
}

func (s *Counters) add(c Counters) {
	s.Dialing += c.Dialing
	s.Open += c.Open
	s.LoggedIn += c.LoggedIn
	s.Complete += c.Complete
	s.Failed += c.Failed
	s.Dropped += c.Dropped
	s.Sent += c.Sent
	s.Received += c.Received
	s.Logins += c.Logins
	s.Logouts += c.Logouts
	s.Pings += c.Pings
	s.Errors += c.Errors
	s.Foreign += c.Foreign
	s.BadRoster += c.BadRoster
}

// waitFor polls the summed counters until done says so, showing progress,
// or fails after timeout.
func (p *pool) waitFor(label string, timeout time.Duration, prog *progress, done func(Counters) bool) (Counters, error) {
	deadline := time.Now().Add(timeout)
	for {
		s, err := p.sum()
		if err != nil {
			return s, err
		}
		prog.show(label, s)
		if done(s) {
			return s, nil
		}
		if time.Now().After(deadline) {
			return s, fmt.Errorf("%w: %s after %v (dialing %d, open %d, logged in %d, complete %d, failed %d, dropped %d)",
				ErrTimeout, label, timeout, s.Dialing, s.Open, s.LoggedIn, s.Complete, s.Failed, s.Dropped)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// collect asks for the workers' reports and merges them: counters add up,
// histograms merge bucket by bucket, CPU adds up.
func (p *pool) collect(timeout time.Duration) (merged Event, errs []string, err error) {
	p.mu.Lock()
	for i := range p.report {
		p.report[i] = nil
	}
	p.mu.Unlock()
	p.send(Command{Cmd: "report"})
	deadline := time.Now().Add(timeout)
	merged.Login, merged.Latency = new(bench.Hist), new(bench.Hist)
	for {
		p.mu.Lock()
		n := 0
		for _, r := range p.report {
			if r != nil {
				n++
			}
		}
		fatal := p.fatal
		p.mu.Unlock()
		if n == len(p.procs) {
			break
		}
		if fatal != nil {
			return merged, nil, fatal
		}
		if time.Now().After(deadline) {
			return merged, nil, fmt.Errorf("%w: worker reports", ErrTimeout)
		}
		time.Sleep(20 * time.Millisecond)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, r := range p.report {
		merged.C.add(r.C)
		merged.Login.Merge(r.Login)
		merged.Latency.Merge(r.Latency)
		merged.CPU += r.CPU
		merged.LastLogin = max(merged.LastLogin, r.LastLogin)
		merged.LastRecv = max(merged.LastRecv, r.LastRecv)
		if r.FirstErr != "" {
			errs = append(errs, "worker "+strconv.Itoa(r.Worker)+": "+r.FirstErr)
		}
	}
	return merged, errs, nil
}

// close tells the workers to exit and reaps them, killing stragglers.
func (p *pool) close() {
	p.send(Command{Cmd: "exit"})
	for _, wp := range p.procs {
		wp.stdin.Close()
	}
	done := make(chan struct{})
	go func() {
		for _, wp := range p.procs {
			wp.cmd.Wait()
		}
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		for _, wp := range p.procs {
			wp.cmd.Process.Kill() // only our own children, by PID
		}
		<-done
	}
}

// plans splits n connections over workers. align keeps private-message
// pairs (2k, 2k+1) in one worker.
func plans(base Plan, n, workers, align int) []Plan {
	if workers <= 0 {
		workers = (n + 15000 - 1) / 15000
		if n >= 200 {
			workers = max(workers, 2)
		}
		workers = max(workers, 1)
	}
	var out []Plan
	first := 0
	for i := range workers {
		cnt := (n - first) / (workers - i)
		if align > 1 {
			cnt -= cnt % align
			if i == workers-1 {
				cnt = n - first
			}
		}
		if cnt == 0 {
			continue
		}
		p := base
		p.First, p.Count, p.Total = first, cnt, n
		p.Rate = base.Rate * float64(cnt) / float64(n)
		if base.Inflight > 0 {
			p.Inflight = max(1, base.Inflight*cnt/n)
		}
		out = append(out, p)
		first += cnt
	}
	return out
}
