package cluster

import (
	"encoding/binary"
	"time"

	"github.com/nats-io/nats.go"
)

// runControl turns connection changes into Hub.BusDown / Hub.BusUp,
// sends heartbeats and evicts silent nodes. Any loss of the connection,
// however short, means messages were lost: the hub goes down and up
// again, so every room resynchronises.
func (n *Node) runControl() {
	tick := time.NewTicker(n.cfg.Heartbeat)
	defer tick.Stop()
	up := false
	var drops uint64
	for {
		select {
		case <-n.quit:
			return
		case <-n.kick:
		case <-tick.C:
			if up {
				n.heartbeat()
				n.expire()
			}
		}
		if d := n.drops.Load(); d != drops && up {
			drops = d
			up = false
			n.log.Warn("cluster: nats connection lost; serving local members only", "node", n.id)
			n.hub.BusDown()
		}
		if !up && n.nc.IsConnected() {
			drops = n.drops.Load()
			up = true
			n.resetSeen()
			n.log.Info("cluster: nats connected; resynchronising rooms", "node", n.id, "url", n.nc.ConnectedUrl())
			n.hub.BusUp()
			n.heartbeat()
		}
		if up && !n.nc.IsConnected() {
			up = false
			n.hub.BusDown()
		}
	}
}

func (n *Node) heartbeat() {
	_ = n.nc.Publish(n.cfg.Prefix+".hb", binary.AppendUvarint(nil, n.id))
}

func (n *Node) onHeartbeat(m *nats.Msg) {
	id, k := binary.Uvarint(m.Data)
	if k <= 0 || id == n.id {
		return
	}
	n.lmu.Lock()
	n.seen[id] = time.Now()
	n.lmu.Unlock()
}

// Watch implements room.Bus: a node first seen in a room's list gets a
// full NodeTTL to send a heartbeat.
func (n *Node) Watch(node uint64) {
	n.lmu.Lock()
	if _, ok := n.seen[node]; !ok {
		n.seen[node] = time.Now()
	}
	n.lmu.Unlock()
}

// resetSeen gives every known node a fresh NodeTTL: while this node was
// cut off it heard nobody.
func (n *Node) resetSeen() {
	now := time.Now()
	n.lmu.Lock()
	for id := range n.seen {
		n.seen[id] = now
	}
	n.lmu.Unlock()
}

// expire evicts the members of every node silent for NodeTTL.
func (n *Node) expire() {
	now := time.Now()
	var gone []uint64
	n.lmu.Lock()
	for id, t := range n.seen {
		if now.Sub(t) > n.cfg.NodeTTL {
			gone = append(gone, id)
			delete(n.seen, id)
		}
	}
	n.lmu.Unlock()
	for _, id := range gone {
		n.log.Warn("cluster: node silent, evicting its members", "node", id, "ttl", n.cfg.NodeTTL)
		n.hub.NodeGone(id)
	}
}
