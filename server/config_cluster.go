package server

import (
	"fmt"
	"net"
	"time"

	"chatd/room"
)

// ClusterConfig configures cluster mode (docs/cluster.md). The zero value
// is a single node that needs nothing else: no NATS code runs then.
type ClusterConfig struct {
	// NATSURL is the NATS server this node publishes and subscribes
	// through (several URLs separated by commas). Zero means the embedded
	// server of NATSListen if that is set, else a single node.
	NATSURL string `koanf:"nats_url"`
	// NATSListen runs an embedded NATS server in this process on this
	// address (host:port) that other nodes connect to. Zero means none.
	NATSListen string `koanf:"nats_listen"`
	// NodeID is this node's id, 1..65535, unique in the cluster; it is
	// the high bits of the node's uids. Zero means a random free id.
	NodeID uint64 `koanf:"node_id"`
	// NodeName names the node in NATS and in logs. Zero means
	// "chatd-<node id>".
	NodeName string `koanf:"node_name"`
	// SubjectPrefix starts every NATS subject of the cluster, so that
	// several clusters can share one NATS server. Zero means "chatd".
	SubjectPrefix string `koanf:"subject_prefix"`
	// Heartbeat is the period of this node's heartbeats. Zero means 1s.
	Heartbeat time.Duration `koanf:"heartbeat"`
	// NodeTTL is how long a node may be silent before the others evict
	// its members (with logouts). Zero means 5s.
	NodeTTL time.Duration `koanf:"node_ttl"`
	// SyncTimeout bounds one request to the room log (a read, a
	// checkpoint) and is how long a room may sync or an append may wait
	// before the node reports not ready. Zero means 2s.
	SyncTimeout time.Duration `koanf:"sync_timeout"`
	// AppendTimeout is how long a login or a say waits for the room log's
	// ack before the client gets an "unavailable" error. Zero means 5s.
	AppendTimeout time.Duration `koanf:"append_timeout"`
	// Replicas is the rooms log stream's replication factor. Zero means 3
	// on a NATS cluster of 3 or more servers, else 1.
	Replicas int `koanf:"replicas"`
	// LogMemory keeps the rooms log in NATS memory instead of on disk.
	// Zero (false) means on disk: the log survives a restart of every
	// NATS server.
	LogMemory bool `koanf:"log_memory"`
	// RoomLogMax is the most events the log keeps per room. Zero means
	// 10,000.
	RoomLogMax int64 `koanf:"room_log_max"`
	// RoomLogAge is how long the log keeps a room event. Zero means 24h.
	RoomLogAge time.Duration `koanf:"room_log_age"`
	// ReconnectWait is the pause between NATS reconnection attempts. Zero
	// means 250ms.
	ReconnectWait time.Duration `koanf:"reconnect_wait"`
	// UIDBlock is how many uid counters the node reserves at a time: one
	// round of requests to NATS per block, off the login path; a restart
	// leaves the rest of its block unused. Zero means 65,536.
	UIDBlock uint64 `koanf:"uid_block"`
}

// maxUIDBlock is the largest uid block: 2^37 counters per node make at
// least 128 blocks.
const maxUIDBlock = 1 << 30

// Enabled reports whether the node joins a cluster.
func (c *ClusterConfig) Enabled() bool { return c.NATSURL != "" || c.NATSListen != "" }

// normalize fills in the defaults even on a single node, so that the
// configuration in effect (chatd -print-config) shows what would apply.
func (c *ClusterConfig) normalize() error {
	setDefault(&c.SubjectPrefix, "chatd")
	setDefault(&c.Heartbeat, time.Second)
	setDefault(&c.NodeTTL, 5*time.Second)
	setDefault(&c.SyncTimeout, 2*time.Second)
	setDefault(&c.ReconnectWait, 250*time.Millisecond)
	setDefault(&c.AppendTimeout, 5*time.Second)
	setDefault(&c.RoomLogMax, 10000)
	setDefault(&c.RoomLogAge, 24*time.Hour)
	setDefault(&c.UIDBlock, 1<<16)
	if c.UIDBlock > maxUIDBlock {
		return fmt.Errorf("%w: cluster uid block %d is above %d", ErrConfig, c.UIDBlock, maxUIDBlock)
	}
	if c.Replicas < 0 || c.Replicas > 5 {
		return fmt.Errorf("%w: cluster replicas %d must be 0..5", ErrConfig, c.Replicas)
	}
	if !c.Enabled() {
		return nil
	}
	if c.NATSListen != "" {
		if _, _, err := net.SplitHostPort(c.NATSListen); err != nil {
			return fmt.Errorf("%w: nats listen %q: %v", ErrConfig, c.NATSListen, err)
		}
	}
	if c.NodeID > room.MaxNode {
		return fmt.Errorf("%w: node id %d is above %d", ErrConfig, c.NodeID, room.MaxNode)
	}
	if c.NodeTTL < 2*c.Heartbeat {
		return fmt.Errorf("%w: node ttl %v must be at least two heartbeats (%v)", ErrConfig, c.NodeTTL, c.Heartbeat)
	}
	return nil
}
