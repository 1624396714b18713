package cluster

import (
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"chatd/room"
)

// maxInflight bounds the appends published and not yet acked.
const maxInflight = 256

// maxQueued bounds the says and logins waiting to be published; past it
// they are rejected at once (leaves and evictions are always queued:
// they must reach the log for the lists to be right).
const maxQueued = 64 << 10

type pubItem struct {
	f     *feed
	ev    room.Event
	data  []byte
	id    string
	first time.Time
	fut   ackFuture
}

// droppable reports whether the item may be given up: its sender is told.
func (p *pubItem) droppable() bool { return p.ev.Kind == room.KindSay || p.ev.Kind == room.KindJoin }

// publisher appends events to the rooms' log, in the order the rooms
// sequenced them, waiting for the stream's acks. Items that fail are
// published again with the same message id (the stream drops
// duplicates), until they are acked or, for says and logins, until
// AppendTimeout: then their senders get an error. After a failure the
// publisher probes: it sends the head alone, every probePause, and
// the rest of the window once the head is acked (a stream electing a
// leader answers every publish "no responders": sending the whole window
// each time only loaded NATS, and a window resent while the new leader
// was still storing its first copy came back "duplicate message id is
// in process", one more round).
type publisher struct {
	n *Node

	// Guarded by mu.
	mu      sync.Mutex
	queue   []pubItem
	rejects []pubItem // refused by add, waiting for runRejects to tell their senders
	wake    chan struct{}
	killed  bool

	// Immutable after init.
	rejectWake chan struct{} // wakes runRejects

	// Owned by the publisher goroutine.
	inflight []pubItem
	probing  bool // after a failure: only the head is sent, the rest once it is acked

	// Safe for concurrent use.
	seq       atomic.Uint64 // message ids
	headSince atomic.Int64  // unix nanos the oldest unacked item was first sent, 0 if none
	count     atomic.Int64  // queued + in flight
}

func (p *publisher) init(n *Node) {
	p.n, p.wake, p.rejectWake = n, make(chan struct{}, 1), make(chan struct{}, 1)
}

// Append implements room.Log. Called with the room's mutex held.
func (n *Node) Append(r *room.Room, ev room.Event) {
	n.pub.add(r.Log.(*feed), ev)
}

func (p *publisher) add(f *feed, ev room.Event) {
	it := pubItem{f: f, ev: ev, data: room.AppendEvent(nil, &ev), first: time.Now()}
	it.id = strconv.FormatUint(p.n.id, 36) + "." + strconv.FormatUint(p.n.boot, 36) + "." + strconv.FormatUint(p.seq.Add(1), 36)
	p.mu.Lock()
	if p.killed {
		p.mu.Unlock()
		return
	}
	if it.droppable() && len(p.queue) >= maxQueued {
		// The sender is told by runRejects: not here, under the room's
		// mutex, which the caller holds and Hub.Rejected takes.
		it.data = nil
		p.rejects = append(p.rejects, it)
		p.mu.Unlock()
		signal(p.rejectWake)
		return
	}
	p.queue = append(p.queue, it)
	p.count.Add(1)
	p.mu.Unlock()
	signal(p.wake)
}

// signal wakes the goroutine that waits on c, if it is not awake already.
func signal(c chan struct{}) {
	select {
	case c <- struct{}{}:
	default:
	}
}

// runRejects tells the senders of the says and logins that add refused
// (queue full), in batches, from one goroutine: a flood of says while the
// log is unreachable costs a slice entry each, not a goroutine each (a
// goroutine per refused say was measured at 2,700 goroutines for 5,000
// refused says, all queued on the room's mutex).
func (p *publisher) runRejects() {
	var batch []pubItem
	for {
		select {
		case <-p.n.quit:
			return
		case <-p.rejectWake:
		}
		p.mu.Lock()
		batch, p.rejects = p.rejects, batch[:0]
		p.mu.Unlock()
		for i := range batch {
			p.reject(&batch[i])
		}
		clear(batch)
	}
}

func (p *publisher) reject(it *pubItem) {
	p.n.metrics.Rejected.Add(1)
	p.n.hub.Rejected(it.f.r, &it.ev)
}

func (p *publisher) pending() int { return int(p.count.Load()) }

// stuck reports whether an append has waited for its ack longer than d.
func (p *publisher) stuck(d time.Duration) bool {
	t := p.headSince.Load()
	return t != 0 && time.Since(time.Unix(0, t)) > d
}

func (p *publisher) kill() {
	p.mu.Lock()
	p.killed = true
	p.queue, p.rejects = nil, nil
	p.mu.Unlock()
}

func (p *publisher) run() {
	n := p.n
	for {
		if stopping(n) {
			return
		}
		p.fill()
		if len(p.inflight) == 0 {
			p.headSince.Store(0)
			select {
			case <-n.quit:
				return
			case <-p.wake:
			}
			continue
		}
		head := &p.inflight[0]
		p.headSince.Store(head.first.UnixNano())
		if head.fut == nil {
			p.fail()
			continue
		}
		select {
		case <-n.quit:
			return
		case <-p.wake:
		case ack := <-head.fut.Ok():
			head.f.ack(ack.Sequence)
			n.logUp()
			n.metrics.Appended.Add(1)
			p.inflight[0] = pubItem{}
			p.inflight = p.inflight[1:]
			p.count.Add(-1)
			if p.probing {
				p.probing = false
				for i := range p.inflight {
					p.send(&p.inflight[i])
				}
			}
		case <-head.fut.Err():
			p.fail()
		}
	}
}

// fill publishes queued items while the window has room (not while
// probing).
func (p *publisher) fill() {
	for !p.probing && len(p.inflight) < maxInflight {
		p.mu.Lock()
		k := min(len(p.queue), maxInflight-len(p.inflight))
		if k == 0 || p.killed {
			p.mu.Unlock()
			return
		}
		batch := make([]pubItem, k)
		copy(batch, p.queue)
		clear(p.queue[:k])
		p.queue = p.queue[k:]
		p.mu.Unlock()
		for i := range batch {
			p.send(&batch[i])
		}
		p.inflight = append(p.inflight, batch...)
	}
}

func (p *publisher) send(it *pubItem) {
	it.fut = nil
	if st := p.n.work.storeNow(); st != nil {
		if fut, err := st.publish(it.f.subj, it.id, it.data); err == nil {
			it.fut = fut
		}
	}
}

// probePause is the pause between two probes of the publisher: one
// event, so a short one (at most 100 ms) costs NATS little while the
// stream elects a leader, and the first append after the election waits
// less for the next probe.
func probePause(reconnectWait time.Duration) time.Duration {
	return min(reconnectWait, 100*time.Millisecond)
}

// fail handles a failed head: after a pause, items past AppendTimeout
// that may be given up are rejected, and the head is sent again alone
// (probing); the others follow, in order, once it is acked (those that
// did reach the log are acked as duplicates).
func (p *publisher) fail() {
	n := p.n
	n.metrics.Retries.Add(1)
	n.logFailed()
	select {
	case <-n.quit:
		return
	case <-time.After(probePause(n.cfg.ReconnectWait)):
	}
	kept := p.inflight[:0]
	for i := range p.inflight {
		it := p.inflight[i]
		if it.droppable() && time.Since(it.first) > n.cfg.AppendTimeout {
			p.count.Add(-1)
			p.reject(&it)
			continue
		}
		kept = append(kept, it)
	}
	clear(p.inflight[len(kept):])
	p.inflight = kept
	p.probing = len(p.inflight) > 0
	if p.probing {
		p.send(&p.inflight[0])
	}
}
