package server

import (
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"runtime"
	"time"

	"golang.org/x/sys/unix"
)

// Config is the whole configuration of a Server. The zero value of each
// field has the meaning its comment gives; Normalize fills those in and
// validates the rest.
type Config struct {
	// Listen is the chat WebSocket address. Zero means ":7272".
	Listen string `koanf:"listen"`
	// WebListen is the address of the web page. Zero means ":55151";
	// "off" disables the page.
	WebListen string `koanf:"web_listen"`
	// Loops is the number of gnet event loops. Zero means DefaultLoops().
	Loops int `koanf:"loops"`
	// ReusePort lets several processes share Listen (SO_REUSEPORT).
	ReusePort bool `koanf:"reuse_port"`

	// Echo enables the /echo endpoint (PROTOCOL.md "Transport").
	Echo bool `koanf:"echo"`
	// EchoMaxMessage limits an /echo message. Zero means 16 MiB.
	EchoMaxMessage int `koanf:"echo_max_message"`
	// MaxMessage limits a chat frame and a reassembled chat message.
	// Zero means 64 KiB. Past it the connection is closed with 1009.
	MaxMessage int `koanf:"max_message"`
	// MaxContent limits say content before escaping. Zero means 4096
	// bytes. Past it the client gets a too_long error.
	MaxContent int `koanf:"max_content"`
	// MaxOutbound is the most unsent data per connection before it is cut
	// off with 1008 as a slow consumer. Zero means 1 MiB.
	MaxOutbound int `koanf:"max_outbound"`
	// MaxHandshake limits the upgrade request's header block. Zero means
	// 8 KiB. Past it the client gets 431.
	MaxHandshake int `koanf:"max_handshake"`
	// HandshakeTimeout is how long a connection may take to complete its
	// upgrade. Zero means 5s.
	HandshakeTimeout time.Duration `koanf:"handshake_timeout"`
	// PingInterval is the WebSocket ping period; a connection silent for
	// two periods is closed. Zero means 25s.
	PingInterval time.Duration `koanf:"ping_interval"`
	// TextPingInterval is how often a logged-in connection of the current
	// workerman-chat dialect gets the text message {"type":"ping"}, as the
	// original server sends it (its clients answer {"type":"pong"}, which
	// is ignored; the answer is not required). Zero means 10s, the
	// original's period; a negative value sends none. WebSocket pings
	// (PingInterval) keep every connection alive either way.
	TextPingInterval time.Duration `koanf:"text_ping_interval"`
	// CloseTimeout is how long a closing connection may linger for the
	// peer's close before the socket is closed. Zero means 2s.
	CloseTimeout time.Duration `koanf:"close_timeout"`
	// DefaultRoom is the room of a login without room_id. Zero means "1".
	DefaultRoom string `koanf:"default_room"`
	// MaxRoomID limits the length of a room_id in bytes. Zero means 64.
	MaxRoomID int `koanf:"max_room_id"`
	// HistoryMax is the most says a room keeps for history and resume
	// (PROTOCOL.md, "History"). Zero means 100; negative keeps none.
	HistoryMax int `koanf:"history_max"`
	// HistoryAge is how long a say is kept for history. Zero means 24h.
	HistoryAge time.Duration `koanf:"history_age"`
	// HistoryBytes bounds the memory of the says all rooms keep on a
	// node. Zero means 64 MiB. A single node keeps them in memory only.
	HistoryBytes int `koanf:"history_bytes"`

	// MaxConns limits the open connections of the server (handshaking,
	// upgraded and closing). Zero means the open-file limit (RLIMIT_NOFILE,
	// which Go raises to its hard limit at start) minus FDReserve and,
	// when the page is on, WebMaxConns: connections are then refused with
	// 503 before descriptors run out. Past it a new connection gets 503.
	// Should descriptors run out anyway, new connections are shed with
	// 503 and the server goes on (docs/operations.md).
	MaxConns int `koanf:"max_conns"`
	// FDReserve is how many file descriptors the default MaxConns leaves
	// for everything but chat and page connections: listeners, event-loop
	// pollers, the admin listener's 16 connections, connections being
	// handed to a loop, NATS (raise it for an embedded NATS server with
	// many nodes or streams), log files. Zero means 256, or a quarter of
	// the open-file limit if that is smaller.
	FDReserve int `koanf:"fd_reserve"`
	// WebMaxConns limits the web page listener's open connections; past
	// it a new connection waits in the listen backlog until one closes
	// (an idle keep-alive connection closes after 30s). Zero means 1024,
	// or an eighth of the open-file limit if that is smaller.
	WebMaxConns int `koanf:"web_max_conns"`
	// MaxConnsPerIP limits the connections of one client address. Zero
	// means 1000. Past it a new connection gets 429. The client address
	// is the peer's, or the last X-Forwarded-For address when the peer is
	// a trusted proxy (then it is checked at the handshake).
	MaxConnsPerIP int `koanf:"max_conns_per_ip"`
	// MaxHandshakesPerIP limits the connections of one client address
	// that have not completed their upgrade: handshakes in progress, and
	// refusals waiting (up to CloseTimeout) for the client to close. Each
	// costs the server a descriptor. Zero means 64. Past it a new
	// connection gets 429 ("too many handshakes in progress from your
	// address") and is closed at once, without waiting, as is any other
	// refusal of an address at this limit: so one address cannot fill
	// MaxConns with refused connections it keeps open. Connections from a
	// trusted proxy are not counted: their client is known only once the
	// request is read.
	MaxHandshakesPerIP int `koanf:"max_handshakes_per_ip"`
	// TrustedProxies are the CIDRs of reverse proxies whose
	// X-Forwarded-For is believed and which are not themselves limited per
	// address. Empty (the zero value) trusts nobody: a forged
	// X-Forwarded-For is ignored and every peer is limited by its own
	// address. Name the proxy explicitly, e.g. ["127.0.0.1/32"] for nginx
	// on the same host. ["none"] also trusts nobody.
	TrustedProxies []string `koanf:"trusted_proxies"`
	// AcceptRate is the sustained number of new connections per second
	// the server accepts; past it (and past AcceptBurst) a connection
	// gets 503 with Retry-After, so a reconnect storm is spread out and
	// connected users keep being served. Only connections within their
	// address's limits are charged, so one address refused with 429
	// cannot spend it. Zero means 2000.
	AcceptRate float64 `koanf:"accept_rate"`
	// RefuseDelay is how long a connection refused by AcceptRate waits
	// for its 503: a client that reconnects at once whenever a connection
	// fails (workerman-chat's page has no back-off) then retries at most
	// once per RefuseDelay, not in a tight loop. The connection costs no
	// CPU while it waits (its input is discarded). Zero means 250ms;
	// negative answers at once. At most 5s.
	RefuseDelay time.Duration `koanf:"refuse_delay"`
	// AcceptBurst is how many connections may arrive at once above
	// AcceptRate. Zero means 1000.
	AcceptBurst int `koanf:"accept_burst"`
	// MessageRate is the sustained number of messages (data frames and
	// pings) per second one chat connection may send. Zero means 50. Past
	// it (and past MessageBurst) a message is dropped with a rate_limited
	// error.
	MessageRate float64 `koanf:"message_rate"`
	// MessageBurst is how many messages a connection may send at once
	// above MessageRate. Zero means 100.
	MessageBurst int `koanf:"message_burst"`
	// MaxRateLimited is how many rate_limited errors a connection may get
	// before its bucket refills completely; one more closes it with 1008
	// (sustained abuse). Zero means 50.
	MaxRateLimited int `koanf:"max_rate_limited"`
	// FrameRate is the sustained number of WebSocket frames per second
	// one connection may send, of every kind (data, continuation, ping,
	// pong, close), before login or after. Zero means 4 × MessageRate
	// (200): room for fragmented messages and keep-alive pongs. Past it
	// (and past FrameBurst) the connection is closed with 1008. The /echo
	// endpoint is exempt, as it is from MessageRate.
	FrameRate float64 `koanf:"frame_rate"`
	// FrameBurst is how many frames a connection may send at once above
	// FrameRate. Zero means 4 × MessageBurst (400).
	FrameBurst int `koanf:"frame_burst"`
	// ByteRate is the sustained number of bytes per second (frame
	// headers and payloads) one connection may send. Zero means 16 KiB ×
	// MessageRate (800 KiB/s). Past it (and past ByteBurst) the
	// connection is closed with 1008.
	ByteRate float64 `koanf:"byte_rate"`
	// ByteBurst is how many bytes a connection may send at once above
	// ByteRate; at least MaxMessage + 14 (one largest frame). Zero means
	// the larger of 16 KiB × MessageBurst and 2 × MaxMessage (1.6 MiB).
	ByteBurst int `koanf:"byte_burst"`
	// AllowedOrigins are glob patterns ("*" any run of characters, "?"
	// one) matched case-insensitively against the Origin header at the
	// handshake; a request with another Origin gets 403. A request
	// without Origin (not a browser) is allowed. Empty allows every
	// origin, and the server logs that choice at start.
	AllowedOrigins []string `koanf:"allowed_origins"`
	// JWTSecret turns authentication on: the upgrade request must carry
	// an HMAC-signed JWT (HS256/384/512) in the "token" query parameter,
	// whose "name" (or else "sub") claim fixes the user's name and whose
	// optional "rooms" claim lists the rooms it may join and whose
	// members it may send private messages to (forbidden otherwise);
	// without a valid token, 401. Zero means authentication is off.
	JWTSecret string `koanf:"jwt_secret"`

	// AdminListen is the admin HTTP address (/metrics, /healthz, /readyz,
	// /debug/pprof/). Zero means "127.0.0.1:9191"; "off" disables it. A
	// failure to bind it is logged, not fatal.
	AdminListen string `koanf:"admin_listen"`
	// DrainTimeout bounds a graceful drain (Server.Drain, SIGTERM): once
	// it passes the remaining connections are closed at once. Zero means
	// 10s.
	DrainTimeout time.Duration `koanf:"drain_timeout"`
	// DrainBatch is how many connections per loop a drain closes with
	// 1001 in each step. Zero means 500.
	DrainBatch int `koanf:"drain_batch"`
	// DrainInterval is the pause between drain steps, so clients do not
	// all reconnect in the same millisecond. Zero means 50ms.
	DrainInterval time.Duration `koanf:"drain_interval"`

	// Cluster joins this node to other chatd nodes over NATS. The zero
	// value is a single node (see ClusterConfig).
	Cluster ClusterConfig `koanf:"cluster"`

	// Logger receives the server's logs. Nil means slog.Default().
	Logger *slog.Logger `koanf:"-"`
}

// DefaultLoops is the number of event loops when the configuration names
// none: one per CPU but one, at least one. A loop's time goes mostly to
// write(2), and the process needs CPU besides its loops: the GC's workers
// (a quarter of the CPUs while it marks), the NATS client and, on node 1
// of a cluster, the embedded NATS server, the web page, the accept
// goroutine, the kernel's network work. And every room's members are
// spread over the loops, each writing its share: with more loops each
// write carries fewer of a big room's messages. On 2 CPUs (shared with
// the load generator) one loop beat two in nearly every scenario of make
// bench, closed and open loop, with less server CPU per delivery: room of
// 5,000, 737-815k against 608-756k deliveries/s at p99 268-302 ms
// against 889-1,208 ms; room of 1,000, window 1, 318-693k against
// 311-401k at p99 33-95 ms against 100-145 ms; it tied the room of 100
// and the reconnect storm (bench/results/2026-12-04/perf-notes.md).
func DefaultLoops() int { return max(1, runtime.NumCPU()-1) }

// Normalize fills in the defaults of zero fields and validates cfg.
func (c *Config) Normalize() error {
	setDefault(&c.Listen, ":7272")
	setDefault(&c.WebListen, ":55151")
	setDefault(&c.DefaultRoom, "1")
	if c.Loops <= 0 {
		c.Loops = DefaultLoops()
	}
	setDefault(&c.EchoMaxMessage, 16<<20)
	setDefault(&c.MaxMessage, 64<<10)
	setDefault(&c.MaxContent, 4096)
	setDefault(&c.MaxOutbound, 1<<20)
	setDefault(&c.MaxHandshake, 8<<10)
	setDefault(&c.MaxRoomID, 64)
	setDefault(&c.HistoryMax, 100)
	setDefault(&c.HistoryAge, 24*time.Hour)
	setDefault(&c.HistoryBytes, 64<<20)
	setDefault(&c.HandshakeTimeout, 5*time.Second)
	setDefault(&c.PingInterval, 25*time.Second)
	setDefault(&c.TextPingInterval, 10*time.Second)
	setDefault(&c.CloseTimeout, 2*time.Second)
	c.normalizeLimits()
	if err := c.normalizeConns(openFileLimit()); err != nil {
		return err
	}
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
	if c.RefuseDelay > 5*time.Second {
		return fmt.Errorf("%w: refuse delay %v is over 5s", ErrConfig, c.RefuseDelay)
	}
	if c.TextPingInterval > 0 && c.TextPingInterval < 100*time.Millisecond {
		return fmt.Errorf("%w: text ping interval %v is below 100ms (negative disables it)", ErrConfig, c.TextPingInterval)
	}
	return c.validateLimits()
}

func (c *Config) normalizeLimits() {
	setDefault(&c.MaxConnsPerIP, 1000)
	setDefault(&c.MaxHandshakesPerIP, 64)
	setDefault(&c.AcceptRate, 2000)
	setDefault(&c.AcceptBurst, 1000)
	setDefault(&c.RefuseDelay, 250*time.Millisecond)
	setDefault(&c.MessageRate, 50)
	setDefault(&c.MessageBurst, 100)
	setDefault(&c.MaxRateLimited, 50)
	setDefault(&c.FrameRate, 4*c.MessageRate)
	setDefault(&c.FrameBurst, 4*c.MessageBurst)
	setDefault(&c.ByteRate, 16<<10*c.MessageRate)
	setDefault(&c.ByteBurst, max(16<<10*c.MessageBurst, 2*c.MaxMessage))
	setDefault(&c.AdminListen, "127.0.0.1:9191")
	setDefault(&c.DrainTimeout, 10*time.Second)
	setDefault(&c.DrainBatch, 500)
	setDefault(&c.DrainInterval, 50*time.Millisecond)
}

// normalizeConns derives the defaults of FDReserve, WebMaxConns and
// MaxConns from the open-file limit nofile.
func (c *Config) normalizeConns(nofile int) error {
	setDefault(&c.FDReserve, min(256, nofile/4))
	setDefault(&c.WebMaxConns, max(1, min(1024, nofile/8)))
	if c.MaxConns != 0 {
		return nil
	}
	if c.MaxConns = c.FDBudget(nofile); c.MaxConns < 1 {
		return fmt.Errorf("%w: the open-file limit %d leaves no descriptor for connections after fd_reserve %d and web_max_conns %d (raise LimitNOFILE)",
			ErrConfig, nofile, c.FDReserve, c.WebMaxConns)
	}
	return nil
}

// FDBudget returns how many connections fit in nofile descriptors after
// FDReserve and, when the page is on, WebMaxConns.
func (c *Config) FDBudget(nofile int) int {
	n := nofile - c.FDReserve
	if c.WebListen != "off" {
		n -= c.WebMaxConns
	}
	return n
}

// openFileLimit returns the process's RLIMIT_NOFILE (soft; Go raised it
// to the hard limit at start), bounded to 1<<24 when unlimited.
func openFileLimit() int {
	var rl unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_NOFILE, &rl); err != nil {
		return 1024
	}
	return int(min(rl.Cur, 1<<24))
}

func (c *Config) validateLimits() error {
	for name, v := range map[string]float64{
		"max conns": float64(c.MaxConns), "max conns per ip": float64(c.MaxConnsPerIP),
		"max handshakes per ip": float64(c.MaxHandshakesPerIP),
		"fd reserve":            float64(c.FDReserve), "web max conns": float64(c.WebMaxConns),
		"accept rate": c.AcceptRate, "accept burst": float64(c.AcceptBurst),
		"message rate": c.MessageRate, "message burst": float64(c.MessageBurst),
		"max rate limited": float64(c.MaxRateLimited), "drain batch": float64(c.DrainBatch),
		"frame rate": c.FrameRate, "frame burst": float64(c.FrameBurst),
		"byte rate": c.ByteRate, "byte burst": float64(c.ByteBurst),
		"drain timeout": float64(c.DrainTimeout), "drain interval": float64(c.DrainInterval),
	} {
		if v < 0 {
			return fmt.Errorf("%w: %s %v is negative", ErrConfig, name, v)
		}
	}
	if float64(c.MessageBurst) < c.MessageRate/2 {
		// The server's coarse clock advances in steps of up to 100ms (a
		// tick); a burst of at least half a second of MessageRate keeps
		// those steps from capping the rate below MessageRate.
		return fmt.Errorf("%w: message burst %d is below half the message rate %v", ErrConfig, c.MessageBurst, c.MessageRate)
	}
	if err := c.validateBudget(); err != nil {
		return err
	}
	if c.AdminListen != "off" {
		if _, _, err := net.SplitHostPort(c.AdminListen); err != nil {
			return fmt.Errorf("%w: admin listen %q: %v", ErrConfig, c.AdminListen, err)
		}
	}
	if _, err := parseProxies(c.TrustedProxies); err != nil {
		return err
	}
	for _, o := range c.AllowedOrigins {
		if o == "" {
			return fmt.Errorf("%w: empty allowed origin pattern", ErrConfig)
		}
	}
	if c.JWTSecret != "" && len(c.JWTSecret) < 16 {
		return fmt.Errorf("%w: jwt secret is shorter than 16 bytes", ErrConfig)
	}
	return nil
}

// validateBudget checks the frame and byte budgets (see validateLimits for
// why a burst must cover half a second of its rate).
func (c *Config) validateBudget() error {
	switch {
	case float64(c.FrameBurst) < c.FrameRate/2:
		return fmt.Errorf("%w: frame burst %d is below half the frame rate %v", ErrConfig, c.FrameBurst, c.FrameRate)
	case float64(c.ByteBurst) < c.ByteRate/2:
		return fmt.Errorf("%w: byte burst %d is below half the byte rate %v", ErrConfig, c.ByteBurst, c.ByteRate)
	case c.ByteBurst < c.MaxMessage+maxFrameHeader:
		return fmt.Errorf("%w: byte burst %d is below max message %d plus a frame header: the largest message could never arrive", ErrConfig, c.ByteBurst, c.MaxMessage)
	}
	return nil
}

// maxFrameHeader is the largest client frame header: 2 bytes, an 8-byte
// length and a 4-byte mask key (RFC 6455 section 5.2).
const maxFrameHeader = 14

// parseProxies parses the TrustedProxies CIDRs; empty or ["none"] is no
// proxy.
func parseProxies(cidrs []string) ([]netip.Prefix, error) {
	if len(cidrs) == 1 && cidrs[0] == "none" {
		return nil, nil
	}
	var ps []netip.Prefix
	for _, s := range cidrs {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return nil, fmt.Errorf("%w: trusted proxy %q: %v", ErrConfig, s, err)
		}
		ps = append(ps, p.Masked())
	}
	return ps, nil
}

func setDefault[T comparable](v *T, def T) {
	var zero T
	if *v == zero {
		*v = def
	}
}
