package cluster

import (
	"fmt"
	"net"
	"os"
	"strconv"
	"time"

	natsserver "github.com/nats-io/nats-server/v2/server"
)

// EmbeddedMaxPayload is the largest NATS message of the embedded server:
// a room snapshot holds every member (about 20 bytes each), so the NATS
// default of 1 MiB would cap a room at some 50,000 members.
const EmbeddedMaxPayload = 8 << 20

// Embedded is a NATS server running in this process, so that a cluster
// runs on one machine with nothing installed.
type Embedded struct {
	srv *natsserver.Server
	dir string // JetStream store directory (memory streams only; removed at Shutdown)
}

// StartEmbedded starts a NATS server listening on listen (host:port; port
// 0 picks a free one) and waits until it accepts clients.
func StartEmbedded(listen string) (*Embedded, error) {
	host, p, err := net.SplitHostPort(listen)
	if err != nil {
		return nil, fmt.Errorf("nats listen %q: %w", listen, err)
	}
	port, err := strconv.Atoi(p)
	if err != nil {
		return nil, fmt.Errorf("nats listen %q: %w", listen, err)
	}
	if port == 0 {
		port = natsserver.RANDOM_PORT
	}
	dir, err := os.MkdirTemp("", "chatd-nats-")
	if err != nil {
		return nil, fmt.Errorf("nats store dir: %w", err)
	}
	opts := &natsserver.Options{
		Host:       host,
		Port:       port,
		NoLog:      true,
		NoSigs:     true,
		MaxPayload: EmbeddedMaxPayload,
		MaxPending: 256 << 20, // a node's unsent backlog before NATS calls it slow
		// JetStream sequences the room streams (see StreamName); they are
		// memory streams, the directory only satisfies the server.
		JetStream:          true,
		StoreDir:           dir,
		JetStreamMaxMemory: 1 << 30,
		JetStreamMaxStore:  64 << 20,
	}
	srv, err := natsserver.NewServer(opts)
	if err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("nats server %s: %w", listen, err)
	}
	go srv.Start()
	if !srv.ReadyForConnections(10 * time.Second) {
		srv.Shutdown()
		os.RemoveAll(dir)
		return nil, fmt.Errorf("%w: %s", ErrEmbedded, listen)
	}
	return &Embedded{srv: srv, dir: dir}, nil
}

// URL returns the nats:// URL clients connect to.
func (e *Embedded) URL() string { return e.srv.ClientURL() }

// Addr returns the address the server listens on.
func (e *Embedded) Addr() string { return e.srv.Addr().String() }

// Shutdown stops the server; its clients see the connection drop.
func (e *Embedded) Shutdown() {
	e.srv.Shutdown()
	e.srv.WaitForShutdown()
	os.RemoveAll(e.dir)
}
