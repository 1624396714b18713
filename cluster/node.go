package cluster

import (
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
	// SyncTimeout bounds a room snapshot request. Zero means 2s.
	SyncTimeout time.Duration
	// ReconnectWait is the pause between reconnection attempts. Zero
	// means 250ms.
	ReconnectWait time.Duration
	// Logger receives the node's logs. Nil means slog.Default().
	Logger *slog.Logger
}

func (c *Config) normalize() {
	if c.Prefix == "" {
		c.Prefix = "chatd"
	}
	if c.Heartbeat <= 0 {
		c.Heartbeat = time.Second
	}
	if c.NodeTTL <= 0 {
		c.NodeTTL = 5 * time.Second
	}
	if c.SyncTimeout <= 0 {
		c.SyncTimeout = 2 * time.Second
	}
	if c.ReconnectWait <= 0 {
		c.ReconnectWait = 250 * time.Millisecond
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
}

// Node is this process's membership in a cluster: the NATS connection,
// the bus queue and the watch over the other nodes. It implements
// room.Bus.
type Node struct {
	// Immutable after Dial (hub: after Start).
	cfg  Config
	log  *slog.Logger
	nc   *nats.Conn
	id   uint64
	hub  *room.Hub
	quit chan struct{}
	done chan struct{} // closed when the bus and control goroutines exit
	kick chan struct{} // connection state changed

	// Guarded by qmu: the bus queue.
	qmu    sync.Mutex
	queue  []op
	wake   chan struct{}
	killed bool

	// Owned by the bus goroutine: the JetStream stream that sequences the
	// rooms, ensured once per connection epoch.
	js       nats.JetStreamContext
	stream   string
	jsEpoch  uint64
	jsActive bool

	// Guarded by lmu: last heartbeat time of every known node.
	lmu  sync.Mutex
	seen map[uint64]time.Time

	// Safe for concurrent use.
	drops atomic.Uint64 // NATS connection losses
}

// Dial connects to NATS (retrying in the background if it is down) and
// settles the node id. The node serves nothing until Start.
func Dial(cfg Config) (*Node, error) {
	cfg.normalize()
	n := &Node{
		cfg: cfg, log: cfg.Logger, id: cfg.Node,
		quit: make(chan struct{}), done: make(chan struct{}), kick: make(chan struct{}, 1),
		wake: make(chan struct{}, 1), seen: make(map[uint64]time.Time),
	}
	nc, err := nats.Connect(cfg.URL,
		nats.Name(cfg.Name),
		nats.RetryOnFailedConnect(true),
		nats.MaxReconnects(-1),
		nats.ReconnectWait(cfg.ReconnectWait),
		nats.ReconnectJitter(cfg.ReconnectWait/4, cfg.ReconnectWait/4),
		nats.ReconnectBufSize(-1), // while down, publishes fail: a room then runs locally and resyncs later
		nats.PingInterval(cfg.NodeTTL/2),
		nats.MaxPingsOutstanding(2),
		nats.DisconnectErrHandler(func(*nats.Conn, error) { n.drops.Add(1); n.poke() }),
		nats.ReconnectHandler(func(*nats.Conn) { n.poke() }),
		nats.ConnectHandler(func(*nats.Conn) { n.poke() }),
	)
	if err != nil {
		return nil, fmt.Errorf("nats connect %s: %w", cfg.URL, err)
	}
	n.nc = nc
	n.stream = StreamName(cfg.Prefix)
	if n.js, err = nc.JetStream(); err != nil {
		nc.Close()
		return nil, fmt.Errorf("jetstream context: %w", err)
	}
	if err := n.pickID(); err != nil {
		nc.Close()
		return nil, err
	}
	if n.cfg.Name == "" {
		n.cfg.Name = "chatd-" + strconv.FormatUint(n.id, 10)
	}
	return n, nil
}

// ID returns the node id; uids of this node are room.FirstUID(ID()) on.
func (n *Node) ID() uint64 { return n.id }

// pickID checks the configured id, or finds a random free one, by asking
// the id's inbox: NATS answers "no responders" when nobody has it.
func (n *Node) pickID() error {
	if n.id > room.MaxNode {
		return fmt.Errorf("%w: node id %d above %d", ErrNodeInUse, n.id, room.MaxNode)
	}
	if n.id != 0 {
		if n.idTaken(n.id) {
			return fmt.Errorf("%w: %d", ErrNodeInUse, n.id)
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

// Start attaches hub (whose uids must start at room.FirstUID(ID())) and
// starts serving: the node's inbox, heartbeats, and the bus.
func (n *Node) Start(hub *room.Hub) error {
	n.hub = hub
	hub.AttachBus(n, n.id, false)
	if _, err := n.nc.Subscribe(n.inbox(n.id), n.onInbox); err != nil {
		return fmt.Errorf("subscribe inbox: %w", err)
	}
	if _, err := n.nc.Subscribe(n.inbox(n.id)+".*", n.onAnswer); err != nil {
		return fmt.Errorf("subscribe answers: %w", err)
	}
	if _, err := n.nc.Subscribe(n.cfg.Prefix+".hb", n.onHeartbeat); err != nil {
		return fmt.Errorf("subscribe heartbeats: %w", err)
	}
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); n.runBus() }()
	go func() { defer wg.Done(); n.runControl() }()
	go func() { wg.Wait(); close(n.done) }()
	n.poke()
	return nil
}

// Healthy reports whether the node is connected to NATS and every room
// has re-synchronised since the last reconnection.
func (n *Node) Healthy() bool {
	return n.nc.IsConnected() && n.hub != nil && n.hub.Resyncing() == 0
}

// Drops returns how many times the NATS connection was lost.
func (n *Node) Drops() uint64 { return n.drops.Load() }

// Close sends what is queued (bounded by timeout), then closes the
// connection and stops the node's goroutines.
func (n *Node) Close(timeout time.Duration) {
	deadline := time.Now().Add(timeout)
	for n.queued() > 0 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond) // the bus goroutine drains; nothing to wait on
	}
	_ = n.nc.FlushTimeout(time.Until(deadline) + time.Millisecond)
	n.stop()
}

// Abort drops the connection at once without sending what is queued, as
// a killed process would. For tests.
func (n *Node) Abort() {
	n.qmu.Lock()
	n.killed = true
	n.queue = nil
	n.qmu.Unlock()
	n.stop()
}

func (n *Node) stop() {
	select {
	case <-n.quit:
	default:
		close(n.quit)
	}
	n.nc.Close()
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

func (n *Node) inbox(id uint64) string {
	return n.cfg.Prefix + ".n." + strconv.FormatUint(id, 10)
}

// roomEnc spells a room id as a subject token: any string is a room id,
// and '.', '*', '>' and white space are not allowed in tokens.
func roomEnc(id string) string { return base64.RawURLEncoding.EncodeToString([]byte(id)) }

func (n *Node) roomSubject(id string) string { return n.cfg.Prefix + ".r." + roomEnc(id) }
func (n *Node) holdSubject(id string) string { return n.cfg.Prefix + ".h." + roomEnc(id) }

// orderedSubject is where the rooms' stream republishes the room's events.
func (n *Node) orderedSubject(id string) string { return n.cfg.Prefix + ".o." + roomEnc(id) }

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

// Publish implements room.Bus.
func (n *Node) Publish(roomID string, ev []byte) {
	n.enqueue(op{kind: opPub, subj: n.roomSubject(roomID), data: ev})
}

// Direct implements room.Bus.
func (n *Node) Direct(node, from uint64, msg []byte) {
	reply := n.inbox(n.id) + "." + strconv.FormatUint(from, 10)
	n.enqueue(op{kind: opPub, subj: n.inbox(node), reply: reply, data: msg})
}

// Reply implements room.Bus.
func (n *Node) Reply(to string, data []byte) {
	if to != "" {
		n.enqueue(op{kind: opPub, subj: to, data: data})
	}
}

// Open implements room.Bus.
func (n *Node) Open(roomID string, rc room.Receiver) room.Stream {
	st := &stream{n: n, rc: rc, subj: n.roomSubject(roomID), ordered: n.orderedSubject(roomID), hold: n.holdSubject(roomID)}
	return st // subscribed by its first Sync
}

func tokenBytes(token uint64) []byte { return binary.AppendUvarint(nil, token) }
