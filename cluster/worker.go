package cluster

import (
	"cmp"
	"context"
	"errors"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"chatd/room"
)

// checkpointEvery is how many events of a room its checkpoint writer
// applies between two checkpoints: far fewer than RoomLogMax, so a
// checkpoint is always followed by the whole log after it. A node opening
// a room reads the events after the checkpoint one request each (half of
// checkpointEvery on average): at 64, those reads were a fifth of the
// NATS server's CPU while 100,000 members logged in on 7 nodes; a
// checkpoint is one write.
const checkpointEvery = 16

type taskKind uint8

const (
	taskSync taskKind = iota + 1
	taskRepair
	taskUnsubscribe
	taskCheckpoint
	taskEnsure
	taskReserve
	taskProbe
	taskUIDs
)

type task struct {
	kind taskKind
	f    *feed
}

// roomWorkers is how many goroutines of a node read rooms' logs at once.
// A sync is a chain of requests, each waiting a round trip to the
// stream's leader; one goroutine made a node open its rooms one after
// another (100,000 logins over 7 nodes stalled at 330-700 logins/s). A
// fixed number, so goroutines stay O(1) per node.
const roomWorkers = 16

// worker runs every blocking JetStream request of the node. Stream setup
// and uid reservations run on one control goroutine; syncs, repairs,
// checkpoints and subscription changes of rooms on roomWorkers
// goroutines, never two tasks of one room at once, so a room's log is
// applied by one goroutine at a time, in order.
type worker struct {
	n *Node

	// Guarded by mu.
	mu    sync.Mutex
	tasks []task        // room tasks, oldest first
	ctl   []task        // control tasks
	busy  map[*feed]int // rooms a goroutine is working on (and how many)
	wake  chan struct{} // a room task was queued
	cwake chan struct{} // a control task was queued

	// epoch is held shared by every room task and exclusively by stream
	// setup, which may start every room over (logLost): a room's read
	// never straddles two incarnations of the log.
	epochMu sync.RWMutex

	// Safe for concurrent use: the store, once the stream is ensured
	// (the publisher reads it too).
	shared  atomic.Pointer[storeRef]
	probing atomic.Bool // a probe is queued or running (probe)

	// Owned by the control goroutine.
	uids    *uidStore                  // where uid counters are reserved (nil before the first ensure)
	openLog func() (*openedLog, error) // tests: what ensure opens (nil: openJS)
	epoch   string                     // the epoch of the stream we read
	ready   bool                       // the store was set once
}

func (w *worker) init() {
	w.wake = make(chan struct{}, 1)
	w.cwake = make(chan struct{}, 1)
	w.busy = make(map[*feed]int)
}

type storeRef struct{ s logStore }

// setStore makes st the node's log store.
func (w *worker) setStore(st logStore) {
	w.shared.Store(&storeRef{st})
}

// storeNow returns the node's log store, nil before the stream is
// ensured. Safe for concurrent use.
func (w *worker) storeNow() logStore {
	if r := w.shared.Load(); r != nil {
		return r.s
	}
	return nil
}

func (w *worker) push(t task) {
	w.mu.Lock()
	if t.f == nil {
		w.ctl = append(w.ctl, t)
		w.mu.Unlock()
		signal(w.cwake)
		return
	}
	if t.kind == taskSync || t.kind == taskRepair {
		if t.f.queued {
			w.mu.Unlock()
			return
		}
		t.f.queued = true
	}
	w.tasks = append(w.tasks, t)
	w.mu.Unlock()
	signal(w.wake)
}

func (w *worker) sync(f *feed)        { w.push(task{kind: taskSync, f: f}) }
func (w *worker) repair(f *feed)      { w.push(task{kind: taskRepair, f: f}) }
func (w *worker) unsubscribe(f *feed) { w.push(task{kind: taskUnsubscribe, f: f}) }
func (w *worker) checkpoint(f *feed)  { w.push(task{kind: taskCheckpoint, f: f}) }
func (w *worker) ensure()             { w.push(task{kind: taskEnsure}) }
func (w *worker) reserve()            { w.push(task{kind: taskReserve}) }

// probe asks the control loop to check that the rooms' stream exists
// (doProbe); a probe already queued is not queued again.
func (w *worker) probe() {
	if w.probing.CompareAndSwap(false, true) {
		w.push(task{kind: taskProbe})
	}
}

// goroutines returns the worker's loops: one control loop and
// roomWorkers room loops.
func (w *worker) goroutines() []func() {
	fs := []func(){w.runControl}
	for range roomWorkers {
		fs = append(fs, w.runRooms)
	}
	return fs
}

func (w *worker) runControl() {
	n := w.n
	for {
		select {
		case <-n.quit:
			return
		case <-w.cwake:
		}
		for {
			w.mu.Lock()
			if len(w.ctl) == 0 {
				w.mu.Unlock()
				break
			}
			t := w.ctl[0]
			w.ctl = slices.Delete(w.ctl, 0, 1)
			w.mu.Unlock()
			if err := w.do(t); err != nil {
				w.retry(t, err)
			} else {
				n.logUp()
			}
			if stopping(n) {
				return
			}
		}
	}
}

func (w *worker) runRooms() {
	n := w.n
	for {
		select {
		case <-n.quit:
			return
		case <-w.wake:
		}
		for {
			t, ok := w.next()
			if !ok {
				break
			}
			signal(w.wake) // more may be waiting: another loop takes the next
			w.epochMu.RLock()
			err := w.do(t)
			w.epochMu.RUnlock()
			w.done(t)
			if err != nil {
				w.retry(t, err)
			} else if t.kind == taskSync || t.kind == taskRepair {
				n.logUp()
			}
			if stopping(n) {
				return
			}
		}
	}
}

// next takes the oldest room task whose room no goroutine works on.
func (w *worker) next() (task, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for i, t := range w.tasks {
		if w.busy[t.f] > 0 {
			continue
		}
		w.tasks = slices.Delete(w.tasks, i, i+1)
		if t.kind == taskSync || t.kind == taskRepair {
			t.f.queued = false
		}
		w.busy[t.f]++
		return t, true
	}
	return task{}, false
}

// done releases t's room; a task of it left queued wakes a loop.
func (w *worker) done(t task) {
	w.mu.Lock()
	if w.busy[t.f]--; w.busy[t.f] <= 0 {
		delete(w.busy, t.f)
	}
	more := len(w.tasks) > 0
	w.mu.Unlock()
	if more {
		signal(w.wake)
	}
}

func stopping(n *Node) bool {
	select {
	case <-n.quit:
		return true
	default:
		return false
	}
}

// retry puts a failed task back after a pause (NATS may be down or
// electing a leader), at once if it timed out (its request waited
// already: a stream electing a leader answers nothing) or was ended
// because the log is back (logUp); it is never dropped.
func (w *worker) retry(t task, err error) {
	n := w.n
	if t.kind == taskSync || t.kind == taskRepair {
		n.metrics.SyncFailures.Add(1)
	}
	if !errors.Is(err, errNotReady) {
		n.logFailed()
	}
	n.log.Debug("cluster: retrying", "task", t.kind, "err", err)
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		w.push(t) // it has waited for its answer already, or the log is back
		return
	}
	time.AfterFunc(n.cfg.ReconnectWait, func() { w.push(t) })
}

func (w *worker) do(t task) error {
	n := w.n
	switch t.kind {
	case taskEnsure:
		return w.doEnsure()
	case taskReserve:
		return w.doReserve()
	case taskProbe:
		return w.doProbe()
	case taskUIDs:
		return w.doUIDs()
	}
	st := w.storeNow()
	if t.kind == taskUnsubscribe {
		if st != nil {
			st.unsubscribe(t.f)
		}
		return nil
	}
	if t.f.isClosed() {
		return nil
	}
	if st == nil {
		return errNotReady
	}
	switch t.kind {
	case taskSync:
		n.metrics.Syncs.Add(1)
		return w.doSync(st, t.f)
	case taskRepair:
		n.metrics.Repairs.Add(1)
		return w.catchUp(st, t.f)
	case taskCheckpoint:
		return w.doCheckpoint(st, t.f)
	}
	return nil
}

var errNotReady = errors.New("cluster: rooms stream not ready")

// doSync subscribes f's room, sets its state from the checkpoint, and
// reads the log after it.
func (w *worker) doSync(st logStore, f *feed) error {
	n := w.n
	if err := st.subscribe(f); err != nil {
		return err
	}
	snap := &room.Snapshot{}
	data, err := st.loadCheckpoint(f.r.ID())
	if err != nil {
		return err
	}
	if data != nil {
		if snap, err = room.DecodeSnapshot(data); err != nil {
			n.log.Warn("cluster: bad checkpoint ignored", "room", f.r.ID(), "err", err)
			snap = &room.Snapshot{}
		}
	}
	f.mu.Lock()
	applied := f.applied
	f.mu.Unlock()
	if applied != 0 && snap.Seq <= applied {
		return w.catchUp(st, f) // a resync of a room we hold: the log after our state will do
	}
	if applied != 0 {
		// The checkpoint is past our state: starting from it, our
		// members would miss the says between. The log after our state
		// has them if it still holds our last event.
		held, err := st.holds(f.subj, applied)
		if err != nil {
			return err
		}
		if held {
			return w.catchUp(st, f)
		}
	}
	// History comes with the checkpoint (the room's kept says as of its
	// sequence): reading it from the log meant one request per event of
	// the room's log before the room went live, and logins waited for
	// it (a third of the logins of 60 cold starts waited past 10 s).
	n.hub.SeedHistory(f.r, snap)
	f.mu.Lock()
	f.applied = snap.Seq
	f.mu.Unlock()
	n.hub.Reset(f.r, snap)
	return w.catchUp(st, f)
}

// catchUp reads f's log after its last applied event up to the end, then
// the held live events, and makes the room live.
func (w *worker) catchUp(st logStore, f *feed) error {
	n := w.n
	for {
		f.mu.Lock()
		from, closed := f.applied, f.closed
		f.mu.Unlock()
		if closed {
			return nil
		}
		evs, end, err := st.read(f.subj, from)
		f.mu.Lock()
		for _, e := range evs {
			if e.seq > f.applied && !f.closed {
				n.apply(f, e.seq, e.data)
			}
		}
		f.mu.Unlock()
		if err != nil {
			return err
		}
		if end && w.goLive(f) {
			n.hub.Caught(f.r)
			return nil
		}
	}
}

// goLive applies the held live events at the end of a catch-up; it
// reports false if they show another gap (the catch-up goes on).
func (w *worker) goLive(f *feed) bool {
	n := w.n
	f.mu.Lock()
	defer f.mu.Unlock()
	hs, overflow := f.held, f.overflow
	f.held, f.overflow = nil, false
	if overflow {
		return false
	}
	slices.SortFunc(hs, func(a, b held) int { return cmp.Compare(a.seq, b.seq) })
	for i, h := range hs {
		if !n.offer(f, h.seq, h.last, h.data) {
			f.held = append(f.held, hs[i:]...)
			return false
		}
	}
	f.state = feedLive
	f.lastLive = time.Now()
	return true
}

// doCheckpoint writes f's room state as of its last applied event, if
// this node is the room's checkpoint writer.
func (w *worker) doCheckpoint(st logStore, f *feed) error {
	n := w.n
	self := room.Owner{Node: n.id, Boot: n.boot}
	data, mine := n.hub.Snapshot(f.r, nil, func(owners []room.Owner) bool { return writer(f.r.ID(), owners) == self })
	if !mine {
		return nil
	}
	return st.saveCheckpoint(f.r.ID(), data)
}

// writer picks the checkpoint writer of a room among the owners of its
// members: the one with the lowest hash of room and owner (rendezvous
// hashing), the same on every node that applied the same events, and
// spread over the nodes room by room (the lowest node id wrote every
// room's checkpoints).
//
// The owners are the room's members' (thousands, a few nodes): a run of
// one owner is hashed once, without allocating.
func writer(roomID string, owners []room.Owner) room.Owner {
	var best room.Owner
	var bestH uint64
	for i, o := range owners {
		if i > 0 && o == owners[i-1] {
			continue
		}
		if v := ownerHash(roomID, o); i == 0 || v < bestH || (v == bestH && (o.Node < best.Node || o.Node == best.Node && o.Boot < best.Boot)) {
			best, bestH = o, v
		}
	}
	return best
}

// ownerHash is 64-bit FNV-1a of the room id, then the owner's node and
// boot in little-endian: hash/fnv's New64a over the same bytes (nodes of
// different versions must pick the same writer), without its allocations.
func ownerHash(roomID string, o room.Owner) uint64 {
	const offset64, prime64 = 14695981039346656037, 1099511628211
	h := uint64(offset64)
	for i := 0; i < len(roomID); i++ {
		h ^= uint64(roomID[i])
		h *= prime64
	}
	for _, v := range [2]uint64{o.Node, o.Boot} {
		for k := 0; k < 64; k += 8 {
			h ^= uint64(byte(v >> k))
			h *= prime64
		}
	}
	return h
}

func (f *feed) isClosed() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.closed
}

// openedLog is what ensuring the log found: the node's store, the uid
// stores and the log's epoch.
type openedLog struct {
	st       logStore
	uids     *uidStore // nil: tests' own log
	epoch    string
	replicas int
}

// doEnsure creates or updates the rooms stream and the state bucket,
// then makes them the node's store. Only the switch holds epochMu
// exclusively, not the requests: after a reconnection the stream may
// have no leader for seconds (an election), and its requests waiting for
// SyncTimeout with the lock held stopped every room's sync and repair on
// the node meanwhile (e2e stream-leader kill, a node connected to the
// killed server: its rooms went live 1.4 s after the new leader).
func (w *worker) doEnsure() error {
	n := w.n
	open := w.openLog
	if open == nil {
		open = w.openJS
	}
	o, err := open()
	if err != nil {
		return err
	}
	w.epochMu.Lock()
	defer w.epochMu.Unlock()
	first := !w.ready
	w.ready = true
	w.uids = o.uids
	w.setStore(o.st)
	// The log's epoch names this incarnation of the stream: the same on
	// every node and across NATS restarts, new only when the stream is
	// created anew (its events and sequences are then gone). Room event
	// ids carry it.
	n.hub.SetEpoch(o.epoch)
	if !first && o.epoch != w.epoch {
		w.logLost()
	}
	w.epoch = o.epoch
	n.ready.Store(true)
	if first {
		n.log.Info("cluster: rooms log ready", "stream", n.stream, "replicas", o.replicas, "storage", n.storage().String())
	}
	if !n.ids.available() {
		w.reserve()
	}
	if o.uids != nil {
		w.push(task{kind: taskUIDs}) // after the reservation: the node serves sooner
	}
	return nil
}

func (n *Node) storage() jetstream.StorageType {
	if n.cfg.Memory {
		return jetstream.MemoryStorage
	}
	return jetstream.FileStorage
}

// openJS creates or updates the rooms stream and the state bucket.
func (w *worker) openJS() (*openedLog, error) {
	n := w.n
	ctx, cancel := n.ctx()
	defer cancel()
	replicas, storage := n.replicas(), n.storage()
	cfg := jetstream.StreamConfig{
		Name:              n.stream,
		Subjects:          []string{n.cfg.Prefix + ".r.>"},
		Storage:           storage,
		Replicas:          replicas,
		Retention:         jetstream.LimitsPolicy,
		Discard:           jetstream.DiscardOld,
		MaxMsgsPerSubject: n.cfg.RoomLogMax,
		MaxAge:            n.cfg.RoomLogAge,
		Duplicates:        min(2*time.Minute, n.cfg.RoomLogAge), // NATS refuses a window past MaxAge
		AllowDirect:       false,                                // reads go to the leader (see jsStore.read)
		RePublish:         &jetstream.RePublish{Source: n.cfg.Prefix + ".r.>", Destination: n.cfg.Prefix + ".o.>"},
	}
	s, err := w.ensureStream(ctx, cfg)
	if err != nil {
		return nil, err
	}
	kv, err := w.ensureBucket(ctx, jetstream.KeyValueConfig{
		Bucket: n.stateBucket(), History: 1, Storage: storage, Replicas: replicas,
		TTL: n.cfg.RoomLogAge, // checkpoints go with the events they sum up
	})
	if err != nil {
		return nil, err
	}
	// The uid stores (uids.go): no TTL, uids are never reused.
	ukv, err := w.ensureBucket(ctx, jetstream.KeyValueConfig{
		Bucket: n.uidBucket(), History: 1, Storage: storage, Replicas: replicas,
	})
	if err != nil {
		return nil, err
	}
	floors, err := w.ensureFloors(ctx, jetstream.StreamConfig{
		Name: n.uidFloors(), Subjects: []string{n.uidRecord() + "*"}, Storage: storage, Replicas: replicas,
		Retention: jetstream.LimitsPolicy, Discard: jetstream.DiscardOld, MaxMsgsPerSubject: 1,
	})
	if err != nil {
		return nil, err
	}
	return &openedLog{
		st: &jsStore{n: n, stream: s, kv: kv}, uids: &uidStore{n: n, kv: ukv, legacy: kv, stream: floors},
		epoch: s.CachedInfo().Config.Metadata[epochKey], replicas: replicas,
	}, nil
}

// ensureBucket looks bucket cfg up, or creates it if it is missing. A
// bucket is created once and then only looked up: updating it (and the
// stream) at every reconnection raced inside nats-server 2.12.1 (account
// reservation against a stream update).
func (w *worker) ensureBucket(ctx context.Context, cfg jetstream.KeyValueConfig) (jetstream.KeyValue, error) {
	js := w.n.js
	kv, err := js.KeyValue(ctx, cfg.Bucket)
	if errors.Is(err, jetstream.ErrBucketNotFound) {
		kv, err = js.CreateKeyValue(ctx, cfg)
		if errors.Is(err, jetstream.ErrBucketExists) {
			kv, err = js.KeyValue(ctx, cfg.Bucket)
		}
	}
	return kv, err
}

// epochKey is the stream metadata key of the log's epoch.
const epochKey = "chatd_epoch"

// doProbe asks for the rooms' stream and the buckets. An operator may
// delete the stream while the node is connected (to wipe the history,
// say), and nothing else notices before an append waits out its timeout:
// /readyz said 200 for as long as the chat was idle, and no node created
// the stream again until NATS reconnected. A stream not found makes the
// node not ready at once and is created again (doEnsure: a new epoch, the
// rooms start over with their members, as after a lost log); a stream of
// another epoch (created again by another node) is taken up the same way.
// A bucket or the uid floors stream not found is created again the same
// way (the node stays ready: it holds its uid block, and checkpoints
// wait). Other errors are the connection's, for the reconnect path. A
// failed ensure is retried.
func (w *worker) doProbe() error {
	if w.ready && w.openLog == nil && (w.streamStale() || w.stateGone()) { // (tests' own log: openLog)
		if err := w.doEnsure(); err != nil {
			return err // retried: still probing
		}
	}
	w.probing.Store(false)
	return nil
}

// streamStale reports whether the rooms' stream is gone or of another
// epoch than this node's rooms (another node created it again first:
// their sequences are past the new stream's); the node is then not ready
// until doEnsure. An error of the request is the connection's: false.
func (w *worker) streamStale() bool {
	n := w.n
	ctx, cancel := n.ctx()
	s, err := n.js.Stream(ctx, n.stream)
	cancel()
	switch {
	case errors.Is(err, jetstream.ErrStreamNotFound):
		if n.ready.Swap(false) {
			n.log.Warn("cluster: the rooms stream is gone; creating it again", "stream", n.stream)
		}
		return true
	case err == nil && s.CachedInfo().Config.Metadata[epochKey] != w.epoch:
		n.ready.Store(false)
		return true
	}
	return false
}

// stateGone reports whether the state bucket or a uid store is gone (an
// operator deleted it): ensuring creates it again, and the uid counters
// are copied into it (doUIDs). An error of a request is the
// connection's: false.
func (w *worker) stateGone() bool {
	n := w.n
	for _, name := range []string{"KV_" + n.stateBucket(), "KV_" + n.uidBucket(), n.uidFloors()} {
		ctx, cancel := n.ctx()
		_, err := n.js.Stream(ctx, name)
		cancel()
		if errors.Is(err, jetstream.ErrStreamNotFound) {
			n.log.Warn("cluster: a stream or bucket is gone; creating it again", "stream", name)
			return true
		}
	}
	return false
}

// ensureFloors looks the uid floors stream up, or creates it if it is
// missing (created once, then only looked up, as the buckets).
func (w *worker) ensureFloors(ctx context.Context, cfg jetstream.StreamConfig) (jetstream.Stream, error) {
	js := w.n.js
	s, err := js.Stream(ctx, cfg.Name)
	if errors.Is(err, jetstream.ErrStreamNotFound) {
		s, err = js.CreateStream(ctx, cfg)
		if errors.Is(err, jetstream.ErrStreamNameAlreadyInUse) {
			s, err = js.Stream(ctx, cfg.Name)
		}
	}
	return s, err
}

// ensureStream creates the rooms stream with a new epoch, or updates
// the existing one to cfg keeping its epoch. (Not the stream's creation
// time: it is not a stable name for the stream across servers and
// restarts.)
func (w *worker) ensureStream(ctx context.Context, cfg jetstream.StreamConfig) (jetstream.Stream, error) {
	js := w.n.js
	s, err := js.Stream(ctx, cfg.Name)
	switch {
	case errors.Is(err, jetstream.ErrStreamNotFound):
		cfg.Metadata = map[string]string{epochKey: newEpoch()}
		s, err = js.CreateStream(ctx, cfg)
		if !errors.Is(err, jetstream.ErrStreamNameAlreadyInUse) {
			return s, err
		}
		s, err = js.Stream(ctx, cfg.Name) // another node created it first: take its epoch
		if err != nil {
			return nil, err
		}
	case err != nil:
		return nil, err
	}
	have := s.CachedInfo().Config
	epoch := have.Metadata[epochKey]
	if epoch == "" {
		epoch = newEpoch() // a stream of an older chatd: its sequences are not ids yet
	}
	cfg.Metadata = map[string]string{epochKey: epoch}
	if sameStream(&have, &cfg) {
		return s, nil // no update at every reconnect: only when the settings changed
	}
	return js.UpdateStream(ctx, cfg)
}

// sameStream reports whether the stream's config has the settings chatd
// sets (the server adds its own metadata and defaults).
func sameStream(have, want *jetstream.StreamConfig) bool {
	return have.Metadata[epochKey] == want.Metadata[epochKey] && slices.Equal(have.Subjects, want.Subjects) &&
		have.Storage == want.Storage && have.Replicas == want.Replicas && have.Retention == want.Retention &&
		have.Discard == want.Discard && have.MaxMsgsPerSubject == want.MaxMsgsPerSubject &&
		have.MaxAge == want.MaxAge && have.Duplicates == want.Duplicates && have.AllowDirect == want.AllowDirect &&
		have.RePublish != nil && want.RePublish != nil && *have.RePublish == *want.RePublish
}

func newEpoch() string { return strconv.FormatUint(newBoot(), 36) }

// logLost starts every room over from an empty log: the stream was
// created anew (a memory stream whose servers all restarted), so the
// nodes' states and sequences mean nothing any more. Each node then
// joins its members again.
func (w *worker) logLost() {
	n := w.n
	n.log.Warn("cluster: the rooms log was lost (stream re-created); rooms start over", "stream", n.stream)
	for _, f := range n.feeds.all() {
		f.mu.Lock()
		f.applied, f.acked, f.held, f.overflow = 0, 0, nil, false
		f.state, f.since = feedSyncing, time.Now()
		f.mu.Unlock()
		n.hub.Reset(f.r, &room.Snapshot{})
		w.sync(f)
	}
}

// replicas is the configured replication, or 3 when the NATS cluster
// has at least 3 servers.
func (n *Node) replicas() int {
	if n.cfg.Replicas > 0 {
		return n.cfg.Replicas
	}
	if len(n.nc.Servers()) >= 3 {
		return 3
	}
	return 1
}
