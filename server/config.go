package server

import (
	"fmt"
	"log/slog"
	"net"
	"runtime"
	"time"
)

// Config is the whole configuration of a Server. The zero value of each
// field has the meaning its comment gives; Normalize fills those in and
// validates the rest.
type Config struct {
	// Listen is the chat WebSocket address. Zero means ":7272".
	Listen string
	// WebListen is the address of the web page. Zero means ":55151";
	// "off" disables the page.
	WebListen string
	// Loops is the number of gnet event loops. Zero means runtime.NumCPU().
	Loops int
	// ReusePort lets several processes share Listen (SO_REUSEPORT).
	ReusePort bool

	// Echo enables the /echo endpoint (PROTOCOL.md "Transport").
	Echo bool
	// EchoMaxMessage limits an /echo message. Zero means 16 MiB.
	EchoMaxMessage int
	// MaxMessage limits a chat frame and a reassembled chat message.
	// Zero means 64 KiB. Past it the connection is closed with 1009.
	MaxMessage int
	// MaxContent limits say content before escaping. Zero means 4096
	// bytes. Past it the client gets a too_long error.
	MaxContent int
	// MaxOutbound is the most unsent data per connection before it is cut
	// off with 1008 as a slow consumer. Zero means 1 MiB.
	MaxOutbound int
	// MaxHandshake limits the upgrade request's header block. Zero means
	// 8 KiB. Past it the client gets 431.
	MaxHandshake int
	// HandshakeTimeout is how long a connection may take to complete its
	// upgrade. Zero means 5s.
	HandshakeTimeout time.Duration
	// PingInterval is the WebSocket ping period; a connection silent for
	// two periods is closed. Zero means 25s.
	PingInterval time.Duration
	// CloseTimeout is how long a closing connection may linger for the
	// peer's close before the socket is closed. Zero means 2s.
	CloseTimeout time.Duration
	// DefaultRoom is the room of a login without room_id. Zero means "1".
	DefaultRoom string
	// MaxRoomID limits the length of a room_id in bytes. Zero means 64.
	MaxRoomID int

	// Cluster joins this node to other chatd nodes over NATS. The zero
	// value is a single node (see ClusterConfig).
	Cluster ClusterConfig

	// Logger receives the server's logs. Nil means slog.Default().
	Logger *slog.Logger
}

// Normalize fills in the defaults of zero fields and validates cfg.
func (c *Config) Normalize() error {
	setDefault(&c.Listen, ":7272")
	setDefault(&c.WebListen, ":55151")
	setDefault(&c.DefaultRoom, "1")
	if c.Loops <= 0 {
		c.Loops = runtime.NumCPU()
	}
	setDefault(&c.EchoMaxMessage, 16<<20)
	setDefault(&c.MaxMessage, 64<<10)
	setDefault(&c.MaxContent, 4096)
	setDefault(&c.MaxOutbound, 1<<20)
	setDefault(&c.MaxHandshake, 8<<10)
	setDefault(&c.MaxRoomID, 64)
	setDefault(&c.HandshakeTimeout, 5*time.Second)
	setDefault(&c.PingInterval, 25*time.Second)
	setDefault(&c.CloseTimeout, 2*time.Second)
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if err := c.Cluster.normalize(); err != nil {
		return err
	}
	return c.validate()
}

func (c *Config) validate() error {
	if _, _, err := net.SplitHostPort(c.Listen); err != nil {
		return fmt.Errorf("%w: listen %q: %v", ErrConfig, c.Listen, err)
	}
	if c.WebListen != "off" {
		if _, _, err := net.SplitHostPort(c.WebListen); err != nil {
			return fmt.Errorf("%w: web listen %q: %v", ErrConfig, c.WebListen, err)
		}
	}
	if c.MaxMessage < c.MaxContent+256 {
		return fmt.Errorf("%w: max message %d must exceed max content %d by 256 bytes of JSON", ErrConfig, c.MaxMessage, c.MaxContent)
	}
	if c.MaxOutbound < c.MaxMessage {
		return fmt.Errorf("%w: max outbound %d is below max message %d", ErrConfig, c.MaxOutbound, c.MaxMessage)
	}
	if c.PingInterval < 100*time.Millisecond {
		return fmt.Errorf("%w: ping interval %v is below 100ms", ErrConfig, c.PingInterval)
	}
	return nil
}

func setDefault[T comparable](v *T, def T) {
	var zero T
	if *v == zero {
		*v = def
	}
}
