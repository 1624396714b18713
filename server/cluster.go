package server

import (
	"fmt"
	"time"

	"chatd/cluster"
)

// clusterState is the server's part in a cluster: the NATS bridge and,
// on the node that runs it, the embedded NATS server. Immutable once
// startCluster stores it, before the chat listener accepts.
type clusterState struct {
	node *cluster.Node
	nats *cluster.Embedded // nil unless Cluster.NATSListen is set
}

// startCluster starts the embedded NATS server if configured, connects
// to NATS and attaches the hub to the bus. A single node does nothing.
func (s *Server) startCluster() error {
	cc := s.cfg.Cluster
	if !cc.Enabled() {
		return nil
	}
	st := &clusterState{}
	url := cc.NATSURL
	if cc.NATSListen != "" {
		e, err := cluster.StartEmbedded(cc.NATSListen)
		if err != nil {
			return err
		}
		st.nats = e
		if url == "" {
			url = e.URL()
		}
		s.log.Info("cluster: embedded nats serving", "addr", e.Addr())
	}
	node, err := cluster.Dial(cluster.Config{
		URL: url, Node: cc.NodeID, Name: cc.NodeName, Prefix: cc.SubjectPrefix,
		Heartbeat: cc.Heartbeat, NodeTTL: cc.NodeTTL, SyncTimeout: cc.SyncTimeout,
		ReconnectWait: cc.ReconnectWait, AppendTimeout: cc.AppendTimeout, Replicas: cc.Replicas,
		Memory: cc.LogMemory, RoomLogMax: cc.RoomLogMax, RoomLogAge: cc.RoomLogAge, UIDBlock: cc.UIDBlock, Logger: s.log,
	})
	if err == nil {
		err = node.Start(s.hub)
	}
	if err != nil {
		if st.nats != nil {
			st.nats.Shutdown()
		}
		return fmt.Errorf("cluster: %w", err)
	}
	st.node = node
	s.cl.Store(st)
	s.log.Info("cluster: node joined", "node", node.ID(), "nats", url)
	return nil
}

// stopCluster sends the logouts queued by the shutdown, leaves NATS and
// stops the embedded server.
func (s *Server) stopCluster() {
	st := s.cl.Load()
	if st == nil {
		return
	}
	st.node.Shutdown(2 * time.Second)
	if st.nats != nil {
		st.nats.Shutdown()
	}
}

// ClusterHealthy reports whether the node is fit for new clients as far
// as the cluster goes: always on a single node; in a cluster, connected
// to NATS with every room resynchronised since the last reconnection.
// The admin /readyz consults it.
func (s *Server) ClusterHealthy() bool {
	if !s.cfg.Cluster.Enabled() {
		return true
	}
	st := s.cl.Load()
	return st != nil && st.node.Healthy()
}

// ClusterNode returns the node's id in the cluster, 0 on a single node.
func (s *Server) ClusterNode() uint64 {
	st := s.cl.Load()
	if st == nil {
		return 0
	}
	return st.node.ID()
}
