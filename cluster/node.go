package cluster

import (
	"cmp"
	"context"
	crand "crypto/rand"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"chatd/room"
)

// Config configures a Node. Zero values have the meaning their comments
// give; Dial fills them in.
type Config struct {
	// URL is the NATS server URL (several separated by commas).
	URL string
	// Node is this node's id, 1..room.MaxNode, unique in the cluster. Zero
	// picks a random free one.
	Node uint64
	// Name names the node in NATS and in logs. Zero means "chatd-<node>".
	Name string
	// Prefix is the first token of every subject, so that several chat
	// clusters can share a NATS server. Zero means "chatd".
	Prefix string
	// Heartbeat is the period of the node's heartbeats. Zero means 1s.
	Heartbeat time.Duration
	// NodeTTL is how long a node may be silent before its members are
	// evicted. Zero means 5s.
	NodeTTL time.Duration
	// SyncTimeout bounds one JetStream request (a log read, a checkpoint).
	// Zero means 2s.
	SyncTimeout time.Duration
	// AppendTimeout is how long a login or a say may wait for the log's
	// ack before its sender gets an error. Zero means 5s.
	AppendTimeout time.Duration
	// ReconnectWait is the pause between reconnection attempts. Zero
	// means 250ms.
	ReconnectWait time.Duration
	// Replicas is the rooms stream's replication factor. Zero means 3 if
	// the NATS cluster has 3 or more JetStream servers, else 1.
	Replicas int
	// Memory keeps the rooms stream in memory instead of on disk (a full
	// NATS restart then loses the logs; the nodes re-announce their
	// members).
	Memory bool
	// RoomLogMax is the most events kept per room. Zero means 10,000.
	RoomLogMax int64
	// RoomLogAge is how long a room event is kept. Zero means 24h.
	RoomLogAge time.Duration
	// UIDBlock is how many uid counters the node reserves at a time (one
	// round of requests to the uid stores each; a restart leaves the
	// rest of the block unused). Zero means 65,536.
	UIDBlock uint64
	// Logger receives the node's logs. Nil means slog.Default().
	Logger *slog.Logger
}

func (c *Config) normalize() {
	if c.Prefix == "" {
		c.Prefix = "chatd"
	}
	setDefault(&c.Heartbeat, time.Second)
	setDefault(&c.NodeTTL, 5*time.Second)
	setDefault(&c.SyncTimeout, 2*time.Second)
	setDefault(&c.AppendTimeout, 5*time.Second)
	setDefault(&c.ReconnectWait, 250*time.Millisecond)
	setDefault(&c.RoomLogMax, 10000)
	setDefault(&c.RoomLogAge, 24*time.Hour)
	if c.UIDBlock == 0 {
		c.UIDBlock = defaultUIDBlock
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
}

func setDefault[T int64 | time.Duration](v *T, d T) {
	if *v <= 0 {
		*v = d
	}
}

// Node is this process's membership in a cluster: the NATS connection,
// the rooms' log and the watch over the other nodes. It implements
// room.Cluster.
type Node struct {
	// Immutable after Dial (hub: after Start).
	cfg    Config
	log    *slog.Logger
	nc     *nats.Conn
	hbc    *nats.Conn // heartbeats only (see liveness)
	js     jetstream.JetStream
	id     uint64
	boot   uint64
	hub    *room.Hub
	stream string
	quit   chan struct{}
	done   chan struct{} // closed when the node's goroutines exit
	kick   chan struct{} // connection state changed
	msgs   chan *nats.Msg

	feeds feeds
	pub   publisher
	work  worker
	ids   uidBlocks
	live  liveness

	// Safe for concurrent use.
	drops   atomic.Uint64 // NATS connection losses
	ready   atomic.Bool   // stream and state bucket ensured since the last connect
	logDown atomic.Bool   // the last request to the log failed (ctx probes)
	downMu  sync.Mutex    // guards downCtx, downEnd
	downCtx context.Context
	downEnd context.CancelFunc // ends the requests sent while the log was down, when it is back
	metrics Metrics
}

// Metrics counts what the cluster log did; all fields are atomics. The
// server exports them on /metrics as chatd_cluster_* (server/metrics_cluster.go).
type Metrics struct {
	Appended     atomic.Int64 // events the log acked
	Rejected     atomic.Int64 // says and logins given up (queue full or AppendTimeout); their senders got an error
	Retries      atomic.Int64 // times the publisher sent its window again after a failure
	Gaps         atomic.Int64 // live events that arrived out of order (a room's predecessor missing)
	Repairs      atomic.Int64 // catch-ups of a room from the log
	Syncs        atomic.Int64 // rooms (re)subscribed and brought up to date from the log
	SyncFailures atomic.Int64 // syncs and repairs that failed and were retried
	Dropped      atomic.Int64 // messages NATS dropped for a slow subscription
	Evictions    atomic.Int64 // gone nodes whose members were evicted
}

// Dial connects to NATS (retrying in the background if it is down) and
// settles the node id. The node serves nothing until Start.
func Dial(cfg Config) (*Node, error) {
	cfg.normalize()
	n := &Node{
		cfg: cfg, log: cfg.Logger, id: cfg.Node, boot: newBoot(),
		quit: make(chan struct{}), done: make(chan struct{}), kick: make(chan struct{}, 1),
		msgs: make(chan *nats.Msg, dispatchQueue),
	}
	n.feeds.init()
	n.pub.init(n)
	n.work.init()
	n.work.n = n
	n.ids.size = cfg.UIDBlock
	nc, err := nats.Connect(cfg.URL,
		nats.Name(cfg.Name),
		nats.RetryOnFailedConnect(true),
		nats.MaxReconnects(-1),
		nats.ReconnectWait(cfg.ReconnectWait),
		nats.ReconnectJitter(cfg.ReconnectWait/4, cfg.ReconnectWait/4),
		nats.ReconnectBufSize(-1), // while down, publishes fail at once and are retried by the publisher
		nats.PingInterval(cfg.NodeTTL/2),
		nats.MaxPingsOutstanding(2),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
			n.drops.Add(1)
			n.ready.Store(false)
			if err != nil {
				n.log.Warn("cluster: nats connection lost", "err", err)
			}
			n.poke()
		}),
		nats.ReconnectHandler(func(*nats.Conn) { n.poke() }),
		nats.ConnectHandler(func(*nats.Conn) { n.poke() }),
		nats.ErrorHandler(n.onAsyncError),
	)
	if err != nil {
		return nil, fmt.Errorf("nats connect %s: %w", cfg.URL, err)
	}
	// Heartbeats have a connection of their own: on the data connection
	// they waited behind appends and deliveries (megabytes while 100,000
	// members logged in), and healthy nodes were taken for gone.
	hbc, err := nats.Connect(cfg.URL,
		nats.Name(cmp.Or(cfg.Name, "chatd")+"-heartbeats"),
		nats.RetryOnFailedConnect(true),
		nats.MaxReconnects(-1),
		nats.ReconnectWait(cfg.ReconnectWait),
		nats.ReconnectJitter(cfg.ReconnectWait/4, cfg.ReconnectWait/4),
		nats.ReconnectBufSize(-1),
		nats.PingInterval(cfg.NodeTTL/2),
		nats.MaxPingsOutstanding(2),
		nats.ErrorHandler(n.onAsyncError),
	)
	if err != nil {
		nc.Close()
		return nil, fmt.Errorf("nats connect %s: %w", cfg.URL, err)
	}
	n.nc, n.hbc = nc, hbc
	n.stream = StreamName(cfg.Prefix)
	if n.js, err = jetstream.New(nc, jetstream.WithPublishAsyncTimeout(cfg.SyncTimeout), jetstream.WithPublishAsyncMaxPending(maxInflight*2)); err != nil {
		nc.Close()
		hbc.Close()
		return nil, fmt.Errorf("jetstream: %w", err)
	}
	if err := n.pickID(); err != nil {
		nc.Close()
		hbc.Close()
		return nil, err
	}
	if n.cfg.Name == "" {
		n.cfg.Name = "chatd-" + strconv.FormatUint(n.id, 10)
	}
	return n, nil
}

func newBoot() uint64 {
	var b [8]byte
	_, _ = crand.Read(b[:])
	return binary.LittleEndian.Uint64(b[:])>>11 | 1 // non-zero, below 2^53
}

// ID returns the node id.
func (n *Node) ID() uint64 { return n.id }

// Stats returns the node's counters.
func (n *Node) Stats() *Metrics { return &n.metrics }

// pickID checks the configured id, or finds a random free one, by asking
// the id's inbox: NATS answers "no responders" when nobody has it.
func (n *Node) pickID() error {
	if n.id > room.MaxNode {
		return fmt.Errorf("%w: node id %d above %d", ErrNodeInUse, n.id, room.MaxNode)
	}
	if n.id != 0 {
		// A node restarted at once may still find its previous
		// incarnation's inbox answering for a moment: NATS has not yet
		// seen that connection go. A live duplicate keeps answering.
		for deadline := time.Now().Add(n.cfg.NodeTTL); n.idTaken(n.id); {
			if time.Now().After(deadline) {
				return fmt.Errorf("%w: %d", ErrNodeInUse, n.id)
			}
			time.Sleep(100 * time.Millisecond)
		}
		return nil
	}
	for range 16 {
		id := 1 + rand.Uint64N(room.MaxNode)
		if !n.idTaken(id) {
			n.id = id
			return nil
		}
	}
	return ErrNoNodeID
}

func (n *Node) idTaken(id uint64) bool {
	if !n.nc.IsConnected() {
		n.log.Warn("cluster: nats not reachable, node id not checked", "node", id)
		return false
	}
	_, err := n.nc.Request(n.inbox(id), nil, n.cfg.SyncTimeout)
	return !errors.Is(err, nats.ErrNoResponders)
}

// Start attaches hub and starts serving: the node's inbox, heartbeats,
// the log's goroutines.
func (n *Node) Start(hub *room.Hub) error {
	n.hub = hub
	hub.AttachCluster(n, n.id, n.boot)
	n.live.init(n)
	n.ids.askReserve = n.work.reserve
	if _, err := n.nc.Subscribe(n.inbox(n.id), n.onInbox); err != nil {
		return fmt.Errorf("subscribe inbox: %w", err)
	}
	if _, err := n.nc.Subscribe(n.inbox(n.id)+".*", n.onAnswer); err != nil {
		return fmt.Errorf("subscribe answers: %w", err)
	}
	if _, err := n.hbc.Subscribe(n.cfg.Prefix+".hb", n.live.onHeartbeat); err != nil {
		return fmt.Errorf("subscribe heartbeats: %w", err)
	}
	var wg sync.WaitGroup
	for _, f := range append([]func(){n.pub.run, n.pub.runRejects, n.runDispatch, n.runControl}, n.work.goroutines()...) {
		wg.Add(1)
		go func() { defer wg.Done(); f() }()
	}
	go func() { wg.Wait(); close(n.done) }()
	n.poke()
	// A node serves logins once it holds a uid block; give NATS a moment
	// so that a node started with the cluster does not answer its first
	// clients "unavailable" (it starts anyway: NATS may be down).
	for deadline := time.Now().Add(2 * n.cfg.SyncTimeout); !n.ids.available() && time.Now().Before(deadline); {
		time.Sleep(10 * time.Millisecond)
	}
	return nil
}

// Healthy reports whether the node can append to and read its rooms'
// logs: connected, the stream ensured, no append waiting past
// SyncTimeout, no room syncing or repairing for longer, a uid block in
// hand.
func (n *Node) Healthy() bool {
	return n.nc.IsConnected() && n.ready.Load() && n.hub != nil &&
		!n.pub.stuck(n.cfg.SyncTimeout) && !n.feeds.stuck(n.cfg.SyncTimeout) && n.ids.available()
}

// Pending returns the appends queued or waiting for the log's ack.
func (n *Node) Pending() int { return n.pub.pending() }

// Drops returns how many times the NATS connection was lost.
func (n *Node) Drops() uint64 { return n.drops.Load() }

// Shutdown sends what is queued (bounded by timeout), then closes the
// connection and stops the node's goroutines.
func (n *Node) Shutdown(timeout time.Duration) {
	deadline := time.Now().Add(timeout)
	for n.pub.pending() > 0 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond) // the publisher drains; nothing to wait on
	}
	_ = n.nc.FlushTimeout(time.Until(deadline) + time.Millisecond)
	n.stop()
}

// Abort drops the connection at once without sending what is queued, as
// a killed process would. For tests.
func (n *Node) Abort() {
	n.pub.kill()
	n.stop()
}

func (n *Node) stop() {
	select {
	case <-n.quit:
	default:
		close(n.quit)
	}
	n.nc.Close()
	n.hbc.Close()
	if n.hub != nil {
		<-n.done
	}
}

func (n *Node) poke() {
	select {
	case n.kick <- struct{}{}:
	default:
	}
}

// ctx returns a context bounded by SyncTimeout: every JetStream request
// of the node is. While the log is down (the last request or publish
// failed) the bound is probeTimeout: a request to a stream without a
// leader gets no answer, and one sent just before the new leader was
// elected kept its room waiting for the rest of SyncTimeout (e2e
// stream-leader kill: a node's rooms went live up to 1.4 s after the
// election). The first success gives the full bound back.
func (n *Node) ctx() (context.Context, context.CancelFunc) {
	if n.logDown.Load() {
		n.downMu.Lock()
		parent := n.downCtx
		n.downMu.Unlock()
		if parent != nil {
			return context.WithTimeout(parent, probeTimeout(n.cfg.SyncTimeout))
		}
	}
	return context.WithTimeout(context.Background(), n.cfg.SyncTimeout)
}

// probeTimeout is the bound of a request while the log is down: a
// quarter of SyncTimeout, at least 500 ms (never more than SyncTimeout).
func probeTimeout(sync time.Duration) time.Duration {
	return min(sync, max(sync/4, 500*time.Millisecond))
}

// logUp and logFailed record the outcome of a request to the log. When
// the log is back (usually the publisher's probe is acked first: one
// every 100 ms), the requests sent while it was down are ended at once,
// and their tasks retried with the full bound, instead of each waiting
// out its probe timeout.
func (n *Node) logUp() {
	if !n.logDown.Load() {
		return
	}
	n.downMu.Lock()
	if n.logDown.Load() {
		n.logDown.Store(false)
		n.downEnd()
		n.downCtx, n.downEnd = nil, nil
	}
	n.downMu.Unlock()
}

func (n *Node) logFailed() {
	if n.logDown.Load() {
		return
	}
	n.downMu.Lock()
	if !n.logDown.Load() {
		n.downCtx, n.downEnd = context.WithCancel(context.Background())
		n.logDown.Store(true)
	}
	n.downMu.Unlock()
}

func (n *Node) inbox(id uint64) string {
	return n.cfg.Prefix + ".n." + strconv.FormatUint(id, 10)
}

// roomEnc spells a room id as a subject token: any string is a room id,
// and '.', '*', '>' and white space are not allowed in tokens.
func roomEnc(id string) string { return base64.RawURLEncoding.EncodeToString([]byte(id)) }

func (n *Node) roomSubject(id string) string    { return n.cfg.Prefix + ".r." + roomEnc(id) }
func (n *Node) orderedSubject(id string) string { return n.cfg.Prefix + ".o." + roomEnc(id) }

// StreamName is the JetStream stream of the room subjects of prefix.
func StreamName(prefix string) string {
	return strings.ToUpper(strings.NewReplacer(".", "_", "*", "_", ">", "_").Replace(prefix)) + "_ROOMS"
}

// stateBucket is the KV bucket of checkpoints and uid blocks.
func (n *Node) stateBucket() string { return strings.TrimSuffix(n.stream, "_ROOMS") + "_STATE" }

// onInbox handles a message to this node: an id probe (empty, answered)
// or a private message.
func (n *Node) onInbox(m *nats.Msg) {
	if len(m.Data) == 0 {
		_ = m.Respond([]byte{0})
		return
	}
	n.hub.Deliver(m.Data, m.Reply)
}

// onAnswer handles an answer to one of this node's private messages, or
// NATS's "no responders" status when the target node does not exist.
func (n *Node) onAnswer(m *nats.Msg) {
	if m.Header.Get("Status") == "503" {
		from, err := strconv.ParseUint(m.Subject[strings.LastIndexByte(m.Subject, '.')+1:], 10, 64)
		if err == nil {
			n.hub.Undeliverable(from)
		}
		return
	}
	n.hub.Deliver(m.Data, "")
}

// Direct implements room.Cluster.
func (n *Node) Direct(node, from uint64, msg []byte) {
	reply := n.inbox(n.id) + "." + strconv.FormatUint(from, 10)
	if err := n.nc.PublishRequest(n.inbox(node), reply, msg); err != nil {
		n.hub.Undeliverable(from)
	}
}

// Reply implements room.Cluster.
func (n *Node) Reply(to string, msg []byte) {
	if to != "" {
		_ = n.nc.Publish(to, msg)
	}
}

func (n *Node) onAsyncError(_ *nats.Conn, sub *nats.Subscription, err error) {
	if errors.Is(err, nats.ErrSlowConsumer) && sub != nil {
		n.metrics.Dropped.Add(1)
		if f := n.feeds.bySubject(sub.Subject); f != nil {
			n.work.repair(f) // the dropped event may have been the room's last
		}
		return
	}
	n.log.Warn("cluster: nats", "err", err)
}
