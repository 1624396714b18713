package cluster

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"chatd/room"
)

// Where a node's uid counter lives. uids are never reused, so the next
// free counter of a node must survive whatever an operator deletes in
// NATS. It is kept twice, in two places of their own (neither has a TTL,
// nothing else is kept there), and a node also remembers the highest
// block it reserved since it started (uidBlocks.high):
//
//   - the uid bucket (CHATD_UIDS, key uid.<node>): compare-and-set;
//   - the uid floors stream (CHATD_UID_FLOORS, subject <prefix>.uid.<node>,
//     one message per subject).
//
// A reservation reads both (and the key older chatd kept in the state
// bucket, whose TTL is room_log_age), starts above the highest of them
// and of the node's own floor, and writes the end to both before the
// block is used; an error other than "not found" fails the reservation
// (retried), it is never taken for a missing counter. Whenever a node
// ensures the streams and buckets (start, reconnect, one found deleted by
// the probe) it writes its floor to both again and copies every node's
// counter that one store lacks from the other: a store created anew is
// filled from the one that survived.
//
// Why not the alternatives: the node's memory alone forgets at a restart;
// the state bucket expires (TTL room_log_age: a node reserving nothing
// for a day lost its counter) and is deleted to reset checkpoints; a
// record in the rooms' stream goes when the history is wiped, expires
// with room_log_age unless its stream allows per-message TTLs, and that
// change to the rooms' stream cannot be undone (older nodes could not
// ensure it during a rolling upgrade: measured); seeding from the uids in
// the rooms' join events would scan the log, which expires too; a
// counter from the clock needs a clock the nodes do not share. What is
// not covered: both stores lost while a node is down (NATS's whole
// storage, or an operator deleting both between two starts of any node)
// looks the same as a node id never used; docs/cluster.md says what to
// do then.

// uidRecord is the subject prefix of the nodes' uid records.
func (n *Node) uidRecord() string { return n.cfg.Prefix + ".uid." }

// uidFloors is the stream of the nodes' uid records.
func (n *Node) uidFloors() string { return strings.TrimSuffix(n.stream, "_ROOMS") + "_UID_FLOORS" }

// uidBucket is the KV bucket of the nodes' uid counters.
func (n *Node) uidBucket() string { return strings.TrimSuffix(n.stream, "_ROOMS") + "_UIDS" }

func uidKey(node uint64) string { return "uid." + strconv.FormatUint(node, 10) }

// uidStore reads and writes uid counters in NATS: the uid bucket, the
// uid floors stream and (read only) the state bucket of older chatd. Used
// by the worker's control goroutine only.
type uidStore struct {
	n      *Node
	kv     jetstream.KeyValue // the uid bucket
	legacy jetstream.KeyValue // the state bucket
	stream jetstream.Stream   // the uid floors stream
}

// uidFloor is what the stores hold for one node: each value is the next
// free counter (0: none).
type uidFloor struct {
	kv, rev uint64 // the uid bucket's value and revision
	rec     uint64 // the stream's record
	legacy  uint64 // the state bucket's value
}

func (f uidFloor) max() uint64 { return max(f.kv, f.rec, f.legacy) }

// read returns node's counters in every store.
func (u *uidStore) read(ctx context.Context, node uint64) (uidFloor, error) {
	var f uidFloor
	var err error
	if f.kv, f.rev, _, err = keyCounter(ctx, u.kv, node, "uid bucket"); err != nil {
		return uidFloor{}, err
	}
	if f.rec, err = u.record(ctx, node); err != nil {
		return f, err
	}
	if f.legacy, _, _, err = keyCounter(ctx, u.legacy, node, "state bucket"); err != nil {
		return f, err
	}
	return f, nil
}

// keyCounter returns node's counter in bucket kv and the key's revision;
// found is false (and err nil) when the key is missing. what names the
// bucket in errors.
func keyCounter(ctx context.Context, kv jetstream.KeyValue, node uint64, what string) (v, rev uint64, found bool, err error) {
	e, err := kv.Get(ctx, uidKey(node))
	switch {
	case errors.Is(err, jetstream.ErrKeyNotFound):
		return 0, 0, false, nil
	case err != nil:
		return 0, 0, false, fmt.Errorf("%s: %w", what, err)
	}
	if v, err = parseCounter(e.Value()); err != nil {
		return 0, 0, true, err
	}
	return v, e.Revision(), true, nil
}

// record returns node's counter in the stream (0: no record).
func (u *uidStore) record(ctx context.Context, node uint64) (uint64, error) {
	m, err := u.stream.GetLastMsgForSubject(ctx, u.n.uidRecord()+strconv.FormatUint(node, 10))
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("uid record: %w", err)
	}
	return parseCounter(m.Data)
}

func parseCounter(b []byte) (uint64, error) {
	v, err := strconv.ParseUint(string(b), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%w: %q", errBadCounter, b)
	}
	return v, nil
}

var errBadCounter = errors.New("cluster: bad uid counter")

// write sets node's counter to end in both stores, the stream's record
// first, then the bucket's key (compare-and-set against f, as read): a
// conflict fails the write, and the retry reads again.
func (u *uidStore) write(ctx context.Context, node, end uint64, f uidFloor) error {
	if f.rec < end {
		if err := u.putRecord(ctx, node, end, nil); err != nil {
			return err
		}
	}
	if f.kv >= end {
		return nil
	}
	val := []byte(strconv.FormatUint(end, 10))
	var err error
	if f.rev == 0 {
		_, err = u.kv.Create(ctx, uidKey(node), val)
	} else {
		_, err = u.kv.Update(ctx, uidKey(node), val, f.rev)
	}
	if err != nil {
		return fmt.Errorf("uid bucket: %w", err)
	}
	return nil
}

// putRecord writes node's record (the stream keeps the last one of each
// subject). With opts (the expected last sequence of the subject) it is
// written only if the record is still as read.
func (u *uidStore) putRecord(ctx context.Context, node, end uint64, opts []jetstream.PublishOpt) error {
	m := nats.NewMsg(u.n.uidRecord() + strconv.FormatUint(node, 10))
	m.Data = strconv.AppendUint(nil, end, 10)
	if _, err := u.n.js.PublishMsg(ctx, m, opts...); err != nil {
		return fmt.Errorf("uid record: %w", err)
	}
	return nil
}

// mirror copies every node's counter that one store lacks from the other
// (a store deleted and created again starts empty), without ever lowering
// one: a key is created only if absent, a record written only if the
// subject still has none. Each request has its own bound: a cluster's
// life may have seen many node ids.
func (u *uidStore) mirror() error {
	recs, keys, err := u.listings()
	if err != nil {
		return err
	}
	for node := range recs {
		if !keys[node] {
			if err := u.copyToBucket(node); err != nil {
				return err
			}
		}
	}
	for node := range keys {
		if !recs[node] {
			if err := u.copyToStream(node); err != nil {
				return err
			}
		}
	}
	return nil
}

// listings returns the node ids with a record in the stream and with a
// key in the uid bucket (a purged key too: its marker is the subject's
// last message).
func (u *uidStore) listings() (recs, keys map[uint64]bool, err error) {
	ctx, cancel := u.n.ctx()
	defer cancel()
	if recs, err = u.subjects(ctx, u.n.uidFloors(), u.n.uidRecord()); err != nil {
		return nil, nil, fmt.Errorf("uid records: %w", err)
	}
	if keys, err = u.subjects(ctx, "KV_"+u.kv.Bucket(), "$KV."+u.kv.Bucket()+".uid."); err != nil {
		return nil, nil, fmt.Errorf("uid bucket: %w", err)
	}
	return recs, keys, nil
}

// subjects returns the node ids of stream's subjects prefix<node>.
func (u *uidStore) subjects(ctx context.Context, stream, prefix string) (map[uint64]bool, error) {
	s, err := u.n.js.Stream(ctx, stream)
	if err != nil {
		return nil, err
	}
	info, err := s.Info(ctx, jetstream.WithSubjectFilter(prefix+"*"))
	if err != nil {
		return nil, err
	}
	nodes := make(map[uint64]bool, len(info.State.Subjects))
	for subj := range info.State.Subjects {
		if node, err := strconv.ParseUint(strings.TrimPrefix(subj, prefix), 10, 64); err == nil {
			nodes[node] = true
		}
	}
	return nodes, nil
}

// copyToBucket creates node's key from its record, unless it exists.
func (u *uidStore) copyToBucket(node uint64) error {
	ctx, cancel := u.n.ctx()
	defer cancel()
	v, err := u.record(ctx, node)
	if err != nil || v == 0 {
		return err
	}
	_, err = u.kv.Create(ctx, uidKey(node), []byte(strconv.FormatUint(v, 10)))
	if err != nil && !errors.Is(err, jetstream.ErrKeyExists) {
		return fmt.Errorf("uid bucket: %w", err)
	}
	return nil
}

// copyToStream writes node's record from its key, unless the subject
// has a record by then.
func (u *uidStore) copyToStream(node uint64) error {
	ctx, cancel := u.n.ctx()
	defer cancel()
	v, _, found, err := keyCounter(ctx, u.kv, node, "uid bucket")
	if err != nil || !found {
		return err // (not found: purged)
	}
	err = u.putRecord(ctx, node, v, []jetstream.PublishOpt{jetstream.WithExpectLastSequencePerSubject(0)})
	var apiErr *jetstream.APIError
	if err != nil && errors.As(err, &apiErr) && apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequence {
		return nil // written meanwhile
	}
	return err
}

// doReserve reserves the next block of uid counters of this node: above
// every store's counter and the highest block this process reserved.
func (w *worker) doReserve() error {
	n := w.n
	if w.uids == nil {
		return errNotReady
	}
	if n.ids.prefetched() {
		return nil
	}
	ctx, cancel := n.ctx()
	defer cancel()
	f, err := w.uids.read(ctx, n.id)
	if err != nil {
		return err
	}
	start := max(1, f.max(), n.ids.floor())
	end := start + n.ids.size
	if end >= 1<<room.NodeShift {
		n.log.Error("cluster: uid counters of this node are exhausted; use another node id", "node", n.id)
		return nil
	}
	if err := w.uids.write(ctx, n.id, end, f); err != nil {
		return err // someone else reserved meanwhile, or NATS failed: retried
	}
	n.ids.add(n.id, start, end)
	return nil
}

// doUIDs runs after every ensure: it writes this node's floor to both
// stores again (a store created anew while the node ran knows nothing of
// its blocks), then copies the counters one store lacks from the other.
func (w *worker) doUIDs() error {
	if w.uids == nil {
		return errNotReady
	}
	if err := w.assertFloor(); err != nil {
		return err
	}
	return w.uids.mirror()
}

// assertFloor writes the end of the highest block this process reserved
// to the stores that hold less.
func (w *worker) assertFloor() error {
	n := w.n
	high := n.ids.floor()
	if high == 0 {
		return nil
	}
	ctx, cancel := n.ctx()
	defer cancel()
	f, err := w.uids.read(ctx, n.id)
	if err != nil {
		return err
	}
	if f.kv >= high && f.rec >= high {
		return nil
	}
	return w.uids.write(ctx, n.id, max(high, f.max()), f)
}
