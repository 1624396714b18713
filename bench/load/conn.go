package load

import (
	"bytes"
	"strconv"

	"golang.org/x/sys/unix"

	"chatd/bench"
)

// Connection states.
const (
	stIdle uint8 = iota
	stConnecting
	stUpgrading
	stOpen
	stClosed
)

// conn is one client connection, owned by its worker's loop. It is kept
// small: a 20k-connection worker holds 20k of them.
type conn struct {
	fd       int32
	g        int32 // global index: name "b<g>"
	peer     int32 // index of the private-message partner in conns, or -1
	roomSize int32
	members  int32 // user_list entries plus later logins of others
	inflight int32 // own messages sent and not yet back (closed loop)
	state    uint8
	loggedIn bool
	complete bool
	badRoom  bool
	uid      uint64
	t0       int64  // dial start, unix nanos
	pend     []byte // unparsed bytes of a frame split across reads
	frag     []byte // payload of a fragmented message so far
	out      []byte // bytes the socket did not take yet
}

const epIn = unix.EPOLLIN | unix.EPOLLRDHUP

func (w *worker) dialDue(now int64) {
	for w.qpos < len(w.queue) {
		if w.rate > 0 && float64(w.dialed) >= w.rate*float64(now-w.dial0)/1e9 {
			return
		}
		if w.plan.Inflight > 0 && w.c.Dialing >= w.plan.Inflight {
			return
		}
		i := w.queue[w.qpos]
		w.qpos++
		w.dialed++
		w.dial(i, now)
	}
	w.queue, w.qpos = w.queue[:0], 0
}

// dial starts a non-blocking connect from the connection's source address.
// IP_BIND_ADDRESS_NO_PORT defers the port choice to connect(), so a source
// address is limited by 4-tuples, not by its ~28k ephemeral ports alone.
func (w *worker) dial(i int32, now int64) {
	c := &w.conns[i]
	*c = conn{g: c.g, peer: c.peer, roomSize: c.roomSize, fd: -1, t0: now, state: stConnecting}
	w.c.Dialing++
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		w.fail("socket: %v", err)
		w.lost(c, false)
		return
	}
	c.fd = int32(fd)
	unix.SetsockoptInt(fd, unix.IPPROTO_TCP, unix.TCP_NODELAY, 1)
	if len(w.srcs) > 0 {
		unix.SetsockoptInt(fd, unix.IPPROTO_IP, unix.IP_BIND_ADDRESS_NO_PORT, 1)
		if err := unix.Bind(fd, &unix.SockaddrInet4{Addr: w.srcs[int(c.g)%len(w.srcs)]}); err != nil {
			w.fail("bind: %v", err)
			w.lost(c, false)
			return
		}
	}
	if err := unix.Connect(fd, &w.srvs[w.serverOf(c)]); err != nil && err != unix.EINPROGRESS {
		w.fail("connect: %v", err)
		w.lost(c, false)
		return
	}
	for fd >= len(w.byFD) {
		w.byFD = append(w.byFD, make([]int32, len(w.byFD)+1024)...)
	}
	w.byFD[fd] = i + 1
	unix.EpollCtl(w.ep, unix.EPOLL_CTL_ADD, fd, &unix.EpollEvent{Events: unix.EPOLLOUT | epIn, Fd: int32(fd)})
}

// serverOf is the server process of c: its room's, or with Spread (a
// cluster) the next in turn, so that a room's members are on every node.
func (w *worker) serverOf(c *conn) int {
	if w.plan.Spread {
		return int(c.g) % len(w.srvs)
	}
	return int(c.g) / max(w.plan.RoomSize, 1) % len(w.srvs)
}

func (w *worker) event(fd int, ev uint32, now int64) {
	if fd >= len(w.byFD) || w.byFD[fd] == 0 {
		return
	}
	c := &w.conns[w.byFD[fd]-1]
	if c.state == stConnecting {
		if ev&unix.EPOLLOUT == 0 && ev&(unix.EPOLLERR|unix.EPOLLHUP) == 0 {
			return
		}
		if e, _ := unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_ERROR); e != 0 || ev&unix.EPOLLERR != 0 {
			w.fail("connect: %v", unix.Errno(e))
			w.lost(c, false)
			return
		}
		c.state = stUpgrading
		unix.EpollCtl(w.ep, unix.EPOLL_CTL_MOD, fd, &unix.EpollEvent{Events: epIn, Fd: int32(fd)})
		w.write(c, w.upgrade[w.serverOf(c)])
		return
	}
	if ev&unix.EPOLLOUT != 0 {
		w.flush(c)
	}
	if ev&(unix.EPOLLIN|unix.EPOLLRDHUP|unix.EPOLLHUP|unix.EPOLLERR) != 0 && c.state != stClosed {
		w.read(c, now)
	}
}

// write sends b now if nothing is queued, and queues what the socket does
// not take; EPOLLOUT is watched only while something is queued.
func (w *worker) write(c *conn, b []byte) {
	if c.state == stClosed {
		return
	}
	if len(c.out) > 0 {
		c.out = append(c.out, b...)
		return
	}
	n, err := unix.Write(int(c.fd), b)
	if err != nil && err != unix.EAGAIN {
		w.lost(c, true)
		return
	}
	n = max(n, 0)
	if n < len(b) {
		c.out = append(c.out[:0], b[n:]...)
		unix.EpollCtl(w.ep, unix.EPOLL_CTL_MOD, int(c.fd), &unix.EpollEvent{Events: epIn | unix.EPOLLOUT, Fd: c.fd})
	}
}

func (w *worker) flush(c *conn) {
	if len(c.out) == 0 {
		return
	}
	n, err := unix.Write(int(c.fd), c.out)
	if err != nil && err != unix.EAGAIN {
		w.lost(c, true)
		return
	}
	n = max(n, 0)
	c.out = c.out[:copy(c.out, c.out[n:])]
	if len(c.out) == 0 {
		c.out = nil
		unix.EpollCtl(w.ep, unix.EPOLL_CTL_MOD, int(c.fd), &unix.EpollEvent{Events: epIn, Fd: c.fd})
	}
}

// lost closes c and moves it out of the current counts. byServer tells a
// connection the server closed or broke from one the worker never got up.
func (w *worker) lost(c *conn, byServer bool) {
	if c.state == stClosed || c.state == stIdle {
		return
	}
	if byServer && c.complete {
		w.fail("connection b%d lost after login", c.g)
	} else if byServer {
		w.fail("connection b%d lost before login (state %d)", c.g, c.state)
	}
	w.forget(c)
	if c.complete {
		w.c.Dropped++
	} else {
		w.c.Failed++
	}
}

// forget closes c's socket and takes it out of every running count.
func (w *worker) forget(c *conn) {
	switch {
	case c.state == stConnecting || c.state == stUpgrading:
		w.c.Dialing--
	case c.state == stOpen:
		w.c.Open--
	}
	if c.loggedIn {
		w.c.LoggedIn--
	}
	if c.complete {
		w.c.Complete--
	}
	if c.fd >= 0 {
		w.byFD[c.fd] = 0
		unix.Close(int(c.fd))
		c.fd = -1
	}
	c.state = stClosed
	c.pend, c.frag, c.out = nil, nil, nil
}

func (w *worker) read(c *conn, now int64) {
	n, err := unix.Read(int(c.fd), w.buf)
	if err == unix.EAGAIN {
		return
	}
	if n <= 0 {
		w.lost(c, true)
		return
	}
	data := w.buf[:n]
	if len(c.pend) > 0 {
		c.pend = append(c.pend, data...)
		data = c.pend
	}
	if c.state == stUpgrading {
		m, err := bench.ParseUpgradeResponse(data)
		if err != nil {
			w.fail("b%d: %v: %q", c.g, err, data[:min(len(data), 80)])
			w.lost(c, false)
			return
		}
		if m == 0 {
			w.keep(c, data)
			return
		}
		c.state = stOpen
		w.c.Dialing--
		w.c.Open++
		w.sendLogin(c)
		data = data[m:]
	}
	for len(data) > 0 && c.state == stOpen {
		f, m, _, err := bench.ParseFrame(data, maxFrame)
		if err != nil {
			w.fail("b%d: %v", c.g, err)
			w.lost(c, true)
			return
		}
		if m == 0 {
			break
		}
		w.frame(c, f, now)
		data = data[m:]
	}
	if c.state == stOpen {
		w.keep(c, data)
	}
}

// keep saves the unparsed tail of a read in c.pend; large buffers are let go
// once empty so that 10k members that once received a big user_list do not
// each keep half a megabyte.
func (w *worker) keep(c *conn, rest []byte) {
	if len(rest) == 0 {
		if cap(c.pend) > 64<<10 {
			c.pend = nil
		} else {
			c.pend = c.pend[:0]
		}
		return
	}
	if len(c.pend) > 0 && &rest[0] == &c.pend[len(c.pend)-len(rest)] {
		c.pend = c.pend[:copy(c.pend, rest)]
		return
	}
	c.pend = append(c.pend[:0], rest...)
}

func (w *worker) frame(c *conn, f bench.Frame, now int64) {
	switch f.Op {
	case bench.OpText, bench.OpBinary:
		if !f.Fin {
			c.frag = append(c.frag[:0], f.Payload...)
			return
		}
		w.message(c, f.Payload, now)
	case bench.OpContinuation:
		c.frag = append(c.frag, f.Payload...)
		if f.Fin {
			w.message(c, c.frag, now)
			c.frag = nil
		}
	case bench.OpPing:
		w.c.Pings++
		w.write(c, bench.AppendClientFrame(w.fbuf[:0], bench.OpPong, f.Payload))
	case bench.OpClose:
		w.write(c, bench.AppendClientFrame(w.fbuf[:0], bench.OpClose, f.Payload))
		code := 0
		if len(f.Payload) >= 2 {
			code = int(f.Payload[0])<<8 | int(f.Payload[1])
		}
		w.fail("b%d: server closed with %d %q", c.g, code, f.Payload[min(2, len(f.Payload)):])
		w.lost(c, true)
	}
}

func (w *worker) message(c *conn, p []byte, now int64) {
	m := bench.Scan(p)
	switch m.Kind {
	case bench.KindSay:
		w.say(c, &m, now)
	case bench.KindUserList:
		c.members += int32(m.Members)
	case bench.KindLogin:
		w.c.Logins++
		if !c.loggedIn && bytes.Equal(m.Name, nameOf(w.pbuf[:0], c.g)) {
			c.loggedIn, c.uid = true, m.UID
			c.members += int32(m.Members) // current dialect: its client_list
			w.c.LoggedIn++
			w.login.Record(now - c.t0)
			w.last = now
		} else {
			c.members++
		}
	case bench.KindLogout:
		w.c.Logouts++
	case bench.KindError:
		w.c.Errors++
		w.fail("b%d: error %q: %.200s", c.g, m.Code, p)
	}
	w.checkComplete(c)
}

func (w *worker) checkComplete(c *conn) {
	if c.complete || !c.loggedIn {
		return
	}
	if w.plan.CheckMembers && c.members > c.roomSize && !c.badRoom {
		c.badRoom = true
		w.c.BadRoster++
		w.fail("b%d learned of %d members; its room has %d", c.g, c.members, c.roomSize)
	}
	if !w.plan.CheckMembers || c.members == c.roomSize {
		c.complete = true
		w.c.Complete++
	}
}

func (w *worker) sendLogin(c *conn) {
	p := append(w.pbuf[:0], `{"type":"login","name":"`...)
	if w.current(c) {
		p = append(w.pbuf[:0], `{"type":"login","client_name":"`...)
	}
	p = nameOf(p, c.g)
	p = append(p, `","room_id":"`...)
	for _, ch := range []byte(w.plan.RoomPrefix) {
		if ch == '-' && w.plan.EscapeRoomID {
			p = append(p, `\u002d`...)
		} else {
			p = append(p, ch)
		}
	}
	p = strconv.AppendInt(p, int64(int(c.g)/max(w.plan.RoomSize, 1)), 10)
	p = append(p, `"}`...)
	w.pbuf = p
	w.fbuf = bench.AppendClientFrame(w.fbuf[:0], bench.OpText, p)
	w.write(c, w.fbuf)
}
