package cluster

import (
	"encoding/binary"
	"errors"
	"time"

	"github.com/nats-io/nats.go"

	"chatd/room"
)

type opKind uint8

const (
	opPub    opKind = iota + 1 // publish data to subj (with reply)
	opClose                    // unsubscribe st
	opHold                     // st joins the room's holders
	opUnhold                   // st leaves the room's holders
	opSync                     // st asks a holder for a snapshot
	opLost                     // sub (st's stream subscription) dropped events
)

// op is one entry of the bus queue.
type op struct {
	kind        opKind
	subj, reply string
	data        []byte
	st          *stream
	sub         *nats.Subscription
	token       uint64
}

// stream is one room's subscription. Its fields after the first block
// are owned by the bus goroutine.
type stream struct {
	// Immutable after Open.
	n             *Node
	rc            room.Receiver
	subj, ordered string // publish on subj; read ordered (republished by the stream)
	hold          string

	// Owned by the bus goroutine.
	sub, hsub *nats.Subscription
	epoch     uint64 // connection epoch (Node.drops+1) of sub
	closed    bool
}

// Publish implements room.Stream.
func (st *stream) Publish(ev []byte) { st.n.enqueue(op{kind: opPub, subj: st.subj, data: ev}) }

// Sync implements room.Stream.
func (st *stream) Sync(token uint64) { st.n.enqueue(op{kind: opSync, st: st, token: token}) }

// Hold implements room.Stream.
func (st *stream) Hold(on bool) {
	k := opUnhold
	if on {
		k = opHold
	}
	st.n.enqueue(op{kind: k, st: st})
}

// Close implements room.Stream.
func (st *stream) Close() { st.n.enqueue(op{kind: opClose, st: st}) }

// enqueue appends o to the bus queue. It never blocks: the event loops
// call it with a room's mutex held.
func (n *Node) enqueue(o op) {
	n.qmu.Lock()
	if n.killed {
		n.qmu.Unlock()
		return
	}
	n.queue = append(n.queue, o)
	first := len(n.queue) == 1
	n.qmu.Unlock()
	if first {
		select {
		case n.wake <- struct{}{}:
		default:
		}
	}
}

func (n *Node) queued() int {
	n.qmu.Lock()
	defer n.qmu.Unlock()
	return len(n.queue)
}

// runBus issues the queued operations in order. A publish while NATS is
// down fails at once (ReconnectBufSize -1) and is dropped: the room has
// gone local by then and resynchronises when NATS is back.
func (n *Node) runBus() {
	var batch []op
	for {
		select {
		case <-n.quit:
			return
		case <-n.wake:
		}
		for {
			n.qmu.Lock()
			batch, n.queue = n.queue, batch[:0]
			n.qmu.Unlock()
			if len(batch) == 0 {
				break
			}
			for i := range batch {
				n.do(&batch[i])
				batch[i] = op{}
			}
		}
	}
}

func (n *Node) do(o *op) {
	switch o.kind {
	case opPub:
		if o.reply != "" {
			_ = n.nc.PublishRequest(o.subj, o.reply, o.data)
		} else {
			_ = n.nc.Publish(o.subj, o.data)
		}
	case opClose:
		o.st.closed = true
		n.unsubscribe(&o.st.sub)
		n.unsubscribe(&o.st.hsub)
	case opHold:
		if o.st.hsub == nil && !o.st.closed {
			o.st.hsub, _ = n.chanSubscribe(o.st.hold, "holders", o.st, true)
		}
	case opUnhold:
		n.unsubscribe(&o.st.hsub)
	case opSync:
		if !o.st.closed {
			n.subscribe(o.st)
			go n.sync(o.st, o.token)
		}
	case opLost:
		// Only the current subscription's loss counts: after a newer one
		// was taken, the room synced (or is syncing) from that point on.
		if o.st.closed || o.st.sub != o.sub {
			return
		}
		// Drop the subscription: the resync takes a fresh one, so that a
		// later loss is reported again (NATS reports one per run of drops).
		n.unsubscribe(&o.st.sub)
		n.lost.Add(1)
		n.log.Warn("cluster: room events dropped by a full dispatch channel; resynchronising the room",
			"subject", o.sub.Subject, "rooms_lost", n.lost.Load())
		o.st.rc.Lost()
	}
}

// subscribe (re)subscribes st to its room's stream unless it already is
// since the last loss of the connection: a sync always starts from a
// fresh subscription, taken before the snapshot request is sent.
func (n *Node) subscribe(st *stream) {
	epoch := n.drops.Load() + 1
	if st.sub != nil && st.epoch == epoch {
		return
	}
	n.unsubscribe(&st.sub)
	subj := st.subj
	if n.sequenced(epoch) {
		// The stream's republished copy: its order, no consumer (sequence.go).
		subj = st.ordered
	}
	sub, err := n.chanSubscribe(subj, "", st, false)
	if err != nil {
		n.log.Warn("cluster: subscribe", "subject", subj, "err", err)
		return // the sync fails and is retried
	}
	st.sub, st.epoch = sub, epoch
}

// route is where the dispatcher hands a subscription's messages.
type route struct {
	st   *stream
	hold bool // the holders' queue group (snapshot requests), else the room's events
}

// chanSubscribe subscribes to subj (in queue group queue unless empty)
// into the node's dispatch channel and routes the subscription to st.
// The route is in place before the dispatcher can see a message of the
// subscription: routes is locked across the SUB.
func (n *Node) chanSubscribe(subj, queue string, st *stream, hold bool) (*nats.Subscription, error) {
	n.rmu.Lock()
	defer n.rmu.Unlock()
	var sub *nats.Subscription
	var err error
	if queue == "" {
		sub, err = n.nc.ChanSubscribe(subj, n.msgs)
	} else {
		sub, err = n.nc.ChanQueueSubscribe(subj, queue, n.msgs)
	}
	if err == nil {
		n.routes[sub] = route{st: st, hold: hold}
	}
	return sub, err
}

// unsubscribe unsubscribes *s and forgets its route: messages of it still
// in the dispatch channel are dropped, as NATS drops an async
// subscription's pending messages on Unsubscribe.
func (n *Node) unsubscribe(s **nats.Subscription) {
	if *s == nil {
		return
	}
	n.rmu.Lock()
	delete(n.routes, *s)
	n.rmu.Unlock()
	_ = (*s).Unsubscribe()
	*s = nil
}

// dispatchChan is the capacity of a node's dispatch channel, in messages
// (8 bytes a slot: 1 MiB). Every room subscription of the node delivers
// into it, so it must absorb whatever arrives while the dispatcher is
// held up: a burst after a reconnection (every room's marker and
// snapshot traffic at once) or a few milliseconds of contention on a
// room's mutex. The dispatcher only hands events to the shards' inboxes
// (a few microseconds each), so 131,072 messages is a second or more of
// the node's peak event rate. A message that finds it full is dropped
// by NATS and its room resynchronises (onAsyncError). A variable for the
// tests.
var dispatchChan = 1 << 17

// dispatchHook, if set, runs on the dispatcher of the nodes dialled
// after it is set, before each message. For the tests (to stall a
// dispatcher).
var dispatchHook func()

// runDispatch hands every room message to its stream, one at a time in
// arrival order: NATS reads the connection on one goroutine and pushes
// into one channel, so a room's events keep the order the server sent
// them in. It never blocks on anything but a room's mutex: the handlers
// only post to the shards' inboxes.
func (n *Node) runDispatch() {
	for {
		select {
		case <-n.quit:
			return
		case m := <-n.msgs:
			if n.hook != nil {
				n.hook()
			}
			n.rmu.RLock()
			r, ok := n.routes[m.Sub]
			n.rmu.RUnlock()
			switch {
			case !ok: // unsubscribed since
			case r.hold:
				r.st.onRequest(m)
			default:
				r.st.rc.Event(m.Data)
			}
		}
	}
}

// onAsyncError is the NATS connection's error handler. A slow consumer
// there is the dispatch channel overflowing: NATS dropped a message of
// sub (and reports once per run of drops). A dropped room event would
// leave this node's list different from the others', so the room
// resynchronises (opLost). A dropped snapshot request only delays the
// requester, which times out and asks again.
func (n *Node) onAsyncError(_ *nats.Conn, sub *nats.Subscription, err error) {
	if !errors.Is(err, nats.ErrSlowConsumer) || sub == nil {
		n.log.Warn("cluster: nats", "err", err)
		return
	}
	n.rmu.RLock()
	r, ok := n.routes[sub]
	n.rmu.RUnlock()
	switch {
	case !ok:
		n.log.Warn("cluster: nats slow consumer", "subject", sub.Subject)
	case r.hold:
		n.lostRequests.Add(1)
	default:
		n.enqueue(op{kind: opLost, st: r.st, sub: sub})
	}
}

// onRequest hands a snapshot request to the room.
func (st *stream) onRequest(m *nats.Msg) {
	token, k := binary.Uvarint(m.Data)
	if k > 0 && m.Reply != "" {
		st.rc.Requested(token, m.Reply)
	}
}

// sync asks the room's holders for a snapshot. It runs on its own
// goroutine: the request waits up to SyncTimeout.
func (n *Node) sync(st *stream, token uint64) {
	m, err := n.nc.Request(st.hold, tokenBytes(token), n.cfg.SyncTimeout)
	switch {
	case errors.Is(err, nats.ErrNoResponders):
		st.rc.Synced(token, nil, room.ErrNoHolder)
	case err != nil:
		select { // back off: NATS may be down, and the room asks again at once
		case <-time.After(n.cfg.ReconnectWait):
		case <-n.quit:
			return
		}
		st.rc.Synced(token, nil, err)
	default:
		st.rc.Synced(token, m.Data, nil)
	}
}
