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
)

// op is one entry of the bus queue.
type op struct {
	kind        opKind
	subj, reply string
	data        []byte
	st          *stream
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
		unsubscribe(&o.st.sub)
		unsubscribe(&o.st.hsub)
	case opHold:
		if o.st.hsub == nil && !o.st.closed {
			o.st.hsub, _ = n.nc.QueueSubscribe(o.st.hold, "holders", o.st.onRequest)
		}
	case opUnhold:
		unsubscribe(&o.st.hsub)
	case opSync:
		if !o.st.closed {
			n.subscribe(o.st)
			go n.sync(o.st, o.token)
		}
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
	unsubscribe(&st.sub)
	handler := func(m *nats.Msg) { st.rc.Event(m.Data) }
	var sub *nats.Subscription
	var err error
	if n.sequenced(epoch) {
		// The stream's republished copy: its order, no consumer (sequence.go).
		sub, err = n.nc.Subscribe(st.ordered, handler)
	} else {
		sub, err = n.nc.Subscribe(st.subj, handler)
	}
	if err != nil {
		n.log.Warn("cluster: subscribe", "subject", st.subj, "err", err)
		return // the sync fails and is retried
	}
	// A dropped message would make this node's list differ from the
	// others': let the pending queue grow instead.
	_ = sub.SetPendingLimits(-1, -1)
	st.sub, st.epoch = sub, epoch
}

func unsubscribe(s **nats.Subscription) {
	if *s != nil {
		_ = (*s).Unsubscribe()
		*s = nil
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
