package load

import (
	"strconv"
	"time"

	"chatd/bench"
)

// startMeasure resets the counters for a measurement and arms it; sending
// starts with "go" (goMeasure), which the coordinator sends once every
// worker has reset. Were sending to start here, another worker's
// deliveries that arrive before its own "measure" would be wiped by its
// reset and counted as lost.
func (w *worker) startMeasure(cmd Command, now int64) {
	w.c.Sent, w.c.Received, w.c.Foreign = 0, 0, 0
	w.lat.Reset()
	w.lastRecv = 0
	w.cpu0 = selfCPU()
	ms := &w.measure
	ms.on, ms.armed, ms.open, ms.rate, ms.window = false, true, cmd.Open, cmd.Rate, max(cmd.Window, 1)
	ms.start, ms.sent, ms.next = now, 0, 0
}

// goMeasure starts sending in the armed measurement.
func (w *worker) goMeasure(now int64) {
	ms := &w.measure
	if !ms.armed {
		return
	}
	ms.armed, ms.on, ms.start = false, true, now
	if ms.open {
		return
	}
	for _, i := range ms.senders {
		c := &w.conns[i]
		c.inflight = 0
		for range ms.window {
			w.sendSay(c, now)
		}
	}
}

// sendDue sends the open-loop messages due by now, round-robin over the
// senders.
func (w *worker) sendDue(now int64) {
	ms := &w.measure
	if !ms.on || !ms.open || len(ms.senders) == 0 {
		return
	}
	due := int64(ms.rate * float64(now-ms.start) / 1e9)
	for ; ms.sent < due; ms.sent++ {
		w.sendSay(&w.conns[ms.senders[ms.next]], now)
		ms.next = (ms.next + 1) % len(ms.senders)
	}
}

// sendSay sends one say from c: to its partner when the plan pairs
// connections, else to its whole room. The content carries the send time.
func (w *worker) sendSay(c *conn, now int64) {
	if c.state != stOpen || !c.loggedIn {
		return
	}
	p := append(w.pbuf[:0], `{"type":"say","to_uid":`...)
	if w.current(c) {
		p = append(w.pbuf[:0], `{"type":"say","to_client_id":`...)
	}
	if c.peer >= 0 {
		peer := &w.conns[c.peer]
		if !peer.loggedIn {
			return
		}
		if w.current(c) { // a client id is a string
			p = append(strconv.AppendUint(append(p, '"'), peer.uid, 10), '"')
		} else {
			p = strconv.AppendUint(p, peer.uid, 10)
		}
	} else {
		p = append(p, `"all"`...)
	}
	p = append(p, `,"content":"`...)
	w.seq++
	p = strconv.AppendInt(p, w.seq, 10)
	p = append(p, ' ')
	p = strconv.AppendInt(p, time.Now().UnixNano(), 10)
	p = append(p, `"}`...)
	w.pbuf = p
	w.fbuf = bench.AppendClientFrame(w.fbuf[:0], bench.OpText, p)
	c.inflight++
	w.c.Sent++
	w.write(c, w.fbuf)
}

func (w *worker) say(c *conn, m *bench.Msg, now int64) {
	if !m.HasStamp {
		w.c.Foreign++
		return
	}
	w.c.Received++
	w.lastRecv = now
	w.lat.Record(now - m.Stamp)
	if m.UID != c.uid {
		return
	}
	c.inflight--
	if w.measure.on && !w.measure.open {
		w.sendSay(c, now)
	}
}

// storm closes every connection at once and dials them all again at once.
func (w *worker) storm(now int64) {
	for i := range w.conns {
		c := &w.conns[i]
		if c.state != stIdle && c.state != stClosed {
			w.forget(c)
		}
	}
	w.queue = w.queue[:0]
	for i := range w.conns {
		w.queue = append(w.queue, int32(i))
	}
	w.qpos, w.dialed, w.dial0, w.rate = 0, 0, now, 0
	w.login.Reset()
	w.last = 0
}
