package cluster

import (
	"errors"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
)

// Why JetStream. Core NATS keeps each publisher's order, but the server
// fans a message out from the publisher's own connection goroutine: two
// nodes publishing to one subject at once reach two subscribers in
// different orders (the cluster e2e test saw it on a single server). A
// JetStream stream has one sequence. The room subjects are captured by one
// memory stream that keeps a short tail only, and the stream republishes
// every event it stores on <prefix>.o.<room> (RePublish): one internal
// publisher, in sequence order, so a plain subscription to a room's
// republished subject sees the stream's order, on one server and, with a
// replicated stream, from its leader in a NATS cluster. Each node
// subscribes so to each room it has members in.
//
// Why not a consumer per room: an ordered JetStream consumer per room and
// node costs the NATS server about 43 KB (its internal client, the
// consumer, two goroutines) and sends idle heartbeats every 5 s; at 1,000
// rooms of 100 spread over 7 nodes that was 7,000 consumers, 300 MB on
// the node running NATS and half of the cluster's memory per connection
// (bench/results/2026-11-21/100k.md). A republished event reaches a node
// that has fallen behind either in order or not at all: the server closes
// a slow consumer's connection, and the node resynchronises its rooms when
// it reconnects, as after any loss of NATS.
//
// Without JetStream on the server the node falls back to plain
// subscriptions on the room subjects and per-sender order, and says so in
// the log.

// StreamName is the JetStream stream of the room subjects of prefix.
func StreamName(prefix string) string {
	return strings.ToUpper(strings.NewReplacer(".", "_", "*", "_", ">", "_").Replace(prefix)) + "_ROOMS"
}

// streamRetention is how long the stream keeps a room event. Consumers
// start at "new" and read as events arrive, so this only bounds memory.
const streamRetention = 30 * time.Second

// sequenced ensures the rooms' stream once per connection epoch (a NATS
// server restart loses memory streams) and reports whether JetStream
// sequences the rooms. Called on the bus goroutine.
func (n *Node) sequenced(epoch uint64) bool {
	if n.jsEpoch == epoch {
		return n.jsActive
	}
	cfg := &nats.StreamConfig{
		Name:      n.stream,
		Subjects:  []string{n.cfg.Prefix + ".r.>"},
		Storage:   nats.MemoryStorage,
		Retention: nats.LimitsPolicy,
		Discard:   nats.DiscardOld,
		MaxAge:    streamRetention,
		MaxBytes:  512 << 20,
		NoAck:     true, // events are published fire-and-forget
		// Every stored event again on <prefix>.o.<room>, in stream order.
		RePublish: &nats.RePublish{Source: n.cfg.Prefix + ".r.>", Destination: n.cfg.Prefix + ".o.>"},
	}
	_, err := n.js.AddStream(cfg)
	if errors.Is(err, nats.ErrStreamNameAlreadyInUse) {
		_, err = n.js.UpdateStream(cfg)
	}
	switch {
	case err == nil:
		n.jsEpoch, n.jsActive = epoch, true
	case errors.Is(err, nats.ErrJetStreamNotEnabled), errors.Is(err, nats.ErrJetStreamNotEnabledForAccount):
		n.log.Warn("cluster: NATS has no JetStream; rooms keep each sender's order only", "err", err)
		n.jsEpoch, n.jsActive = epoch, false
	default:
		n.log.Warn("cluster: jetstream stream", "stream", n.stream, "err", err)
		return false // not remembered: the next sync tries again
	}
	return n.jsActive
}
