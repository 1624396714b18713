package cluster

import "errors"

var (
	// ErrNodeInUse reports a configured node id that another node has.
	ErrNodeInUse = errors.New("cluster: node id in use")
	// ErrNoNodeID reports that no free random node id was found.
	ErrNoNodeID = errors.New("cluster: no free node id")
	// ErrEmbedded reports an embedded NATS server that did not start.
	ErrEmbedded = errors.New("cluster: embedded nats server not ready")
)
