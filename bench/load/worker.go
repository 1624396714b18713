package load

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net/netip"
	"os"
	"strconv"
	"time"

	"golang.org/x/sys/unix"

	"chatd/bench"
)

// maxFrame bounds a server frame; a user_list of a 10,000-member room is
// about 450 KB.
const maxFrame = 64 << 20

// readBufSize is the worker's one shared read buffer: a connection's bytes
// are copied into its own buffer only when a frame is split across reads.
const readBufSize = 256 << 10

// worker is one load-generator process: every connection it owns lives on
// one epoll loop in one goroutine, so the generator costs a few syscalls per
// read batch, not a goroutine and buffers per connection.
type worker struct {
	// Immutable after newWorker.
	plan    Plan
	ep, efd int
	srvs    []unix.SockaddrInet4
	srcs    [][4]byte
	upgrade [][]byte // per server

	// Owned by the loop goroutine.
	conns    []conn
	byFD     []int32 // fd -> index into conns + 1; 0 when free
	buf      []byte
	pbuf     []byte // payload scratch
	fbuf     []byte // frame scratch
	c        Counters
	login    bench.Hist
	lat      bench.Hist
	queue    []int32 // connections waiting to be dialled, from qpos on
	qpos     int
	dial0    int64 // when the current dial queue started
	dialed   int   // dials started from the current queue
	rate     float64
	measure  measureState
	cpu0     time.Duration
	last     int64 // unix nanos of the last own-login notice
	lastRecv int64 // unix nanos of the last say received
	errMsg   string
	seq      int64
	exit     bool
	out      io.Writer
	nextLog  int64

	// Safe for concurrent use: the stdin goroutine sends, the loop receives.
	cmds chan Command
}

// measureState is the sending half of a measurement.
type measureState struct {
	on      bool // sending
	armed   bool // counters reset, waiting for "go"
	open    bool
	rate    float64
	window  int
	senders []int32
	start   int64
	sent    int64 // open loop: messages sent since start
	next    int   // open loop: round-robin position in senders
}

// RunWorker is the body of `chatbench worker`: it reads a Plan and then
// Commands as JSON lines from in, and writes Events to out until "exit" or
// end of input.
func RunWorker(in io.Reader, out io.Writer) error {
	r := bufio.NewReader(in)
	line, err := r.ReadBytes('\n')
	if err != nil {
		return fmt.Errorf("read plan: %w", err)
	}
	var p Plan
	if err := json.Unmarshal(line, &p); err != nil {
		return fmt.Errorf("decode plan: %w", err)
	}
	w, err := newWorker(p, out)
	if err != nil {
		return err
	}
	go w.readCommands(r)
	return w.run()
}

func newWorker(p Plan, out io.Writer) (*worker, error) {
	w := &worker{plan: p, out: out, buf: make([]byte, readBufSize), cmds: make(chan Command, 16), rate: p.Rate}
	for _, a := range p.Addrs {
		ap, err := netip.ParseAddrPort(a)
		if err != nil || !ap.Addr().Is4() || !ap.Addr().IsLoopback() {
			return nil, fmt.Errorf("%w: %q", ErrNotLoopback, a)
		}
		w.srvs = append(w.srvs, unix.SockaddrInet4{Port: int(ap.Port()), Addr: ap.Addr().As4()})
		w.upgrade = append(w.upgrade, bench.UpgradeRequest(a))
	}
	if len(w.srvs) == 0 {
		return nil, fmt.Errorf("%w: no server address", ErrNotLoopback)
	}
	for _, s := range p.Sources {
		a, err := netip.ParseAddr(s)
		if err != nil || !a.Is4() || !a.IsLoopback() {
			return nil, fmt.Errorf("%w: source %q", ErrNotLoopback, s)
		}
		w.srcs = append(w.srcs, a.As4())
	}
	var err error
	if w.ep, err = unix.EpollCreate1(unix.EPOLL_CLOEXEC); err != nil {
		return nil, fmt.Errorf("epoll: %w", err)
	}
	if w.efd, err = unix.Eventfd(0, unix.EFD_NONBLOCK|unix.EFD_CLOEXEC); err != nil {
		return nil, fmt.Errorf("eventfd: %w", err)
	}
	if err := unix.EpollCtl(w.ep, unix.EPOLL_CTL_ADD, w.efd, &unix.EpollEvent{Events: unix.EPOLLIN, Fd: int32(w.efd)}); err != nil {
		return nil, fmt.Errorf("epoll add eventfd: %w", err)
	}
	w.initConns()
	return w, nil
}

func (w *worker) initConns() {
	p := w.plan
	w.conns = make([]conn, p.Count)
	for i := range w.conns {
		g := p.First + i
		c := &w.conns[i]
		c.g, c.peer, c.fd = int32(g), -1, -1
		room := g / max(p.RoomSize, 1)
		c.roomSize = int32(min(p.RoomSize, p.Total-room*p.RoomSize))
		if p.Pairs {
			c.peer = int32(i ^ 1)
			if int(c.peer) >= p.Count {
				c.peer = -1
			}
		}
		if p.isSender(g) {
			w.measure.senders = append(w.measure.senders, int32(i))
		}
	}
}

// readCommands forwards stdin lines to the loop and wakes it.
func (w *worker) readCommands(r *bufio.Reader) {
	one := []byte{1, 0, 0, 0, 0, 0, 0, 0}
	for {
		line, err := r.ReadBytes('\n')
		var cmd Command
		if err != nil {
			cmd.Cmd = "exit"
		} else if json.Unmarshal(line, &cmd) != nil {
			continue
		}
		w.cmds <- cmd
		unix.Write(w.efd, one)
		if err != nil {
			return
		}
	}
}

func (w *worker) run() error {
	w.cpu0 = selfCPU()
	events := make([]unix.EpollEvent, 1024)
	for !w.exit {
		n, err := unix.EpollWait(w.ep, events, w.timeoutMs())
		if err != nil && err != unix.EINTR {
			return fmt.Errorf("epoll_wait: %w", err)
		}
		now := time.Now().UnixNano()
		for _, ev := range events[:max(n, 0)] {
			if int(ev.Fd) == w.efd {
				w.commands(now)
				continue
			}
			w.event(int(ev.Fd), ev.Events, now)
		}
		now = time.Now().UnixNano()
		w.dialDue(now)
		w.sendDue(now)
		if now >= w.nextLog {
			w.nextLog = now + int64(100*time.Millisecond)
			w.emit(Event{Ev: "progress"})
		}
	}
	for i := range w.conns {
		if w.conns[i].fd >= 0 {
			unix.Close(int(w.conns[i].fd))
		}
	}
	return nil
}

// timeoutMs is how long epoll_wait may sleep: briefly while dials or
// open-loop sends are due, else until the next progress line.
func (w *worker) timeoutMs() int {
	if w.qpos < len(w.queue) || (w.measure.on && w.measure.open) {
		return 1
	}
	return 100
}

func (w *worker) commands(now int64) {
	var b [8]byte
	unix.Read(w.efd, b[:])
	for {
		select {
		case cmd := <-w.cmds:
			w.command(cmd, now)
		default:
			return
		}
	}
}

func (w *worker) command(cmd Command, now int64) {
	switch cmd.Cmd {
	case "connect":
		w.queue = w.queue[:0]
		for i := range w.conns {
			w.queue = append(w.queue, int32(i))
		}
		w.qpos, w.dialed, w.dial0 = 0, 0, now
		w.login.Reset()
	case "measure":
		w.startMeasure(cmd, now)
		w.c.Phase++
		w.emit(Event{Ev: "progress"})
	case "go":
		w.goMeasure(now)
	case "stop":
		w.measure.on, w.measure.armed = false, false
		w.c.Phase++
		w.emit(Event{Ev: "progress"})
	case "report":
		w.emit(Event{Ev: "report", Login: &w.login, Latency: &w.lat,
			CPU: (selfCPU() - w.cpu0).Seconds(), LastLogin: w.last, LastRecv: w.lastRecv, FirstErr: w.errMsg})
	case "storm":
		w.storm(now)
		w.c.Phase++
		w.emit(Event{Ev: "progress"})
	case "exit":
		w.exit = true
	}
}

func (w *worker) emit(ev Event) {
	ev.Worker, ev.C = w.plan.Worker, w.c
	b, err := json.Marshal(ev)
	if err != nil {
		panic(err)
	}
	w.out.Write(append(b, '\n'))
}

func (w *worker) fail(format string, args ...any) {
	if w.errMsg == "" {
		w.errMsg = fmt.Sprintf(format, args...)
	}
}

// selfCPU is this process's user plus system time.
func selfCPU() time.Duration {
	var ru unix.Rusage
	unix.Getrusage(unix.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// nameOf is the login name of global connection g.
// current tells whether c speaks workerman-chat's current dialect.
func (w *worker) current(c *conn) bool { return w.plan.Mixed && c.g%2 == 1 }

func nameOf(dst []byte, g int32) []byte {
	return strconv.AppendInt(append(dst, 'b'), int64(g), 10)
}

// RunWorkerMain runs a worker on stdin/stdout and exits the process.
func RunWorkerMain() {
	if err := RunWorker(os.Stdin, os.Stdout); err != nil {
		b, _ := json.Marshal(Event{Ev: "fatal", Msg: err.Error()})
		os.Stdout.Write(append(b, '\n'))
		os.Exit(1)
	}
	os.Exit(0)
}
