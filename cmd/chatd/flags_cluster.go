package main

import (
	"flag"

	"chatd/server"
)

func init() { flagHooks = append(flagHooks, clusterFlags) }

// clusterFlags binds the cluster-mode flags (docs/cluster.md) to c's
// ClusterConfig. With none of them given the node runs alone.
func clusterFlags(fs *flag.FlagSet, cfg *server.Config) {
	c := &cfg.Cluster
	fs.StringVar(&c.NATSURL, "nats-url", "", "join a cluster through this NATS server (nats://host:4222; several separated by commas)")
	fs.StringVar(&c.NATSListen, "nats-listen", "", "run an embedded NATS server on this address for the cluster (e.g. 127.0.0.1:4222)")
	fs.Uint64Var(&c.NodeID, "node-id", 0, "node id 1..65535, unique in the cluster (default: random free id)")
	fs.StringVar(&c.NodeName, "node-name", "", `node name in NATS and logs (default "chatd-<node id>")`)
	fs.StringVar(&c.SubjectPrefix, "nats-subject-prefix", "", `first token of every NATS subject (default "chatd")`)
	fs.DurationVar(&c.Heartbeat, "cluster-heartbeat", 0, "heartbeat period (default 1s)")
	fs.DurationVar(&c.NodeTTL, "cluster-node-ttl", 0, "silence after which a node's members are evicted (default 5s)")
	fs.DurationVar(&c.SyncTimeout, "cluster-sync-timeout", 0, "bound of a room snapshot request (default 2s)")
	fs.DurationVar(&c.ReconnectWait, "nats-reconnect-wait", 0, "pause between NATS reconnection attempts (default 250ms)")
	fs.DurationVar(&c.AppendTimeout, "cluster-append-timeout", 0, "how long a login or say waits for the room log before the client gets an error (default 5s)")
	fs.IntVar(&c.Replicas, "cluster-replicas", 0, "replicas of the rooms log stream (default 3 on a 3+ server NATS cluster, else 1)")
	fs.BoolVar(&c.LogMemory, "cluster-log-memory", false, "keep the rooms log in NATS memory, not on disk")
	fs.Int64Var(&c.RoomLogMax, "cluster-room-log-max", 0, "events kept per room in the log (default 10000)")
	fs.DurationVar(&c.RoomLogAge, "cluster-room-log-age", 0, "how long room events are kept in the log (default 24h)")
	fs.Uint64Var(&c.UIDBlock, "cluster-uid-block", 0, "uid counters a node reserves at a time (default 65536)")
}
