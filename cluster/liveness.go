package cluster

import (
	"encoding/binary"
	"sync"
	"time"

	"github.com/nats-io/nats.go"

	"chatd/room"
)

// liveness tracks the nodes whose members this node lists. A member is
// evicted (KindEvict appended to each room that lists it) when its node
// has been silent for NodeTTL, or as soon as the node's heartbeat shows
// a new boot (it restarted with the same id: its old members are gone).
//
// Silence is measured by this node's own heartbeats, which come back on
// the same subscription: a node is silent when ours kept arriving for
// NodeTTL after its last one. When NATS or this node is too slow to
// deliver heartbeats at all (a server starved of CPU, a backlog on our
// connection), ours are late too and nobody is evicted: evicting healthy
// nodes would log out and back in every member they hold.
type liveness struct {
	n *Node

	// Guarded by mu.
	mu      sync.Mutex
	self    time.Time                // when our own last heartbeat came back
	seen    map[uint64]seenNode      // node -> its last heartbeat
	watched map[room.Owner]time.Time // listed owners -> when first watched
	evict   []room.Owner             // owners to evict, by the control loop
}

type seenNode struct {
	boot uint64
	at   time.Time
}

func (l *liveness) init(n *Node) {
	l.n = n
	l.seen = make(map[uint64]seenNode)
	l.watched = make(map[room.Owner]time.Time)
}

// Watch implements room.Cluster. It is called with a room's mutex held:
// evictions are left to the control loop.
func (n *Node) Watch(o room.Owner) {
	if o == (room.Owner{Node: n.id, Boot: n.boot}) {
		return
	}
	l := &n.live
	l.mu.Lock()
	kick := false
	if _, ok := l.watched[o]; !ok {
		l.watched[o] = time.Now()
		if s, ok := l.seen[o.Node]; (ok && s.boot != o.Boot) || o.Node == n.id {
			l.evict = append(l.evict, o) // an older incarnation
			kick = true
		}
	}
	l.mu.Unlock()
	if kick {
		n.poke()
	}
}

func (n *Node) heartbeat() {
	b := binary.AppendUvarint(nil, n.id)
	_ = n.hbc.Publish(n.cfg.Prefix+".hb", binary.AppendUvarint(b, n.boot))
}

func (l *liveness) onHeartbeat(m *nats.Msg) {
	id, k := binary.Uvarint(m.Data)
	if k <= 0 {
		return
	}
	boot, k2 := binary.Uvarint(m.Data[k:])
	if k2 <= 0 {
		return
	}
	l.mu.Lock()
	if id == l.n.id && boot == l.n.boot {
		l.self = time.Now()
		l.mu.Unlock()
		return
	}
	l.seen[id] = seenNode{boot, time.Now()}
	kick := false
	for o := range l.watched {
		if o.Node == id && o.Boot != boot {
			l.evict = append(l.evict, o)
			kick = true
		}
	}
	l.mu.Unlock()
	if kick {
		l.n.poke()
	}
}

// expire queues the eviction of every watched owner whose node is
// silent: our own heartbeats kept coming back for ttl after its last.
func (l *liveness) expire(ttl time.Duration) {
	l.mu.Lock()
	now := l.self
	for o, since := range l.watched {
		s, ok := l.seen[o.Node]
		if (!ok && now.Sub(since) > ttl) || (ok && s.boot == o.Boot && now.Sub(s.at) > ttl) {
			l.evict = append(l.evict, o)
		}
	}
	l.mu.Unlock()
}

// reset gives every node a fresh NodeTTL: while this node was cut off it
// heard nobody.
func (l *liveness) reset() {
	now := time.Now()
	l.mu.Lock()
	for id, s := range l.seen {
		l.seen[id] = seenNode{s.boot, now}
	}
	for o := range l.watched {
		l.watched[o] = now
	}
	l.mu.Unlock()
}

// take returns the owners to evict and forgets them.
func (l *liveness) take() []room.Owner {
	l.mu.Lock()
	defer l.mu.Unlock()
	ev := l.evict
	l.evict = nil
	for _, o := range ev {
		delete(l.watched, o)
	}
	return ev
}

// probeEvery is how often a connected node checks that the rooms'
// stream, its buckets and the uid floors exist (worker.doProbe): four
// info requests per node.
func probeEvery(sync time.Duration) time.Duration { return 2 * sync }

// runControl turns connection changes into a resync of every room, sends
// heartbeats, evicts the members of gone nodes and checks that no room
// waits for an event it was acked or silently missed.
func (n *Node) runControl() {
	tick := time.NewTicker(n.cfg.Heartbeat)
	defer tick.Stop()
	up := false
	var drops uint64
	refreshed, probed := time.Now(), time.Now()
	for {
		select {
		case <-n.quit:
			return
		case <-n.kick:
		case <-tick.C:
			if up {
				n.heartbeat()
				n.live.expire(n.cfg.NodeTTL)
				n.checkFeeds()
				if time.Since(probed) >= probeEvery(n.cfg.SyncTimeout) {
					probed = time.Now()
					n.work.probe()
				}
				if time.Since(refreshed) > n.cfg.RoomLogAge/4 {
					refreshed = time.Now()
					for _, f := range n.feeds.all() {
						n.work.checkpoint(f)
					}
				}
			}
		}
		if d := n.drops.Load(); d != drops || (up && !n.nc.IsConnected()) {
			drops = d
			up = false
		}
		if !up && n.nc.IsConnected() {
			up = true
			n.log.Info("cluster: nats connected; resynchronising rooms", "node", n.id, "url", n.nc.ConnectedUrl())
			n.live.reset()
			n.work.ensure()
			n.resyncRooms()
			n.heartbeat()
		}
		for _, o := range n.live.take() {
			n.metrics.Evictions.Add(1)
			n.log.Warn("cluster: evicting the members of a gone node", "node", o.Node, "boot", o.Boot)
			n.hub.Evict(o)
		}
	}
}

// resyncRooms resynchronises every open room from the log (after a
// reconnect: its live events may have been missed).
func (n *Node) resyncRooms() {
	for _, f := range n.feeds.all() {
		f.mu.Lock()
		f.toRepair()
		f.mu.Unlock()
		n.work.sync(f)
	}
}

// checkFeeds repairs rooms that wait for an acked event of ours or have
// been silent: their last event may have been lost on the way. Logins
// not applied within twice AppendTimeout (their room stuck syncing or
// repairing) are given up: the clients are told.
func (n *Node) checkFeeds() {
	for _, f := range n.feeds.all() {
		n.metrics.Rejected.Add(int64(n.hub.ExpireJoins(f.r, 2*n.cfg.AppendTimeout)))
		if f.overdue(n.cfg.SyncTimeout/2) || f.idle(5*n.cfg.Heartbeat) {
			f.mu.Lock()
			f.lastLive = time.Now()
			f.mu.Unlock()
			n.work.repair(f)
		}
	}
}
