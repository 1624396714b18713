package server

// ClusterConfig configures cluster mode. The zero value is a single node
// that needs nothing else.
type ClusterConfig struct{}

func (c *ClusterConfig) normalize() error { return nil }
