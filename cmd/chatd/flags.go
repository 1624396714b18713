package main

import (
	"flag"
	"fmt"
	"io"
	"strings"
	"time"

	"chatd/server"
)

// options are the command's own settings, beside server.Config.
type options struct {
	configFile  string
	printConfig bool
	checkConfig bool
}

// flagHooks add flags defined in other files of this package (cluster
// mode registers its own here), so that flag parsing has one place.
var flagHooks []func(fs *flag.FlagSet, cfg *server.Config)

// defineFlags binds every flag to c. Defaults are all zero: the zero value
// of a field means its documented default (server/config.go), and a flag
// only counts when it is given (it then wins over file and environment).
func defineFlags(fs *flag.FlagSet, c *fileConfig, o *options) {
	fs.StringVar(&o.configFile, "config", "", "config file, YAML (.yaml, .yml) or TOML (.toml); also CHATD_CONFIG")
	fs.BoolVar(&o.printConfig, "print-config", false, "print the effective configuration (YAML) and exit")
	fs.BoolVar(&o.checkConfig, "check-config", false, "validate the configuration and exit (status 0 if valid, 2 if not)")
	fs.StringVar(&c.LogLevel, "log-level", "", "log level: debug, info, warn, error (default info)")
	fs.IntVar(&c.GCPercent, "gc-percent", 0, "GC target percentage; negative: Go's default (GOGC or 100) (default 50)")
	fs.StringVar(&c.LogFormat, "log-format", "", "log format: auto (text on a terminal, JSON otherwise), text, json (default auto)")
	chatFlags(fs, &c.Server)
	limitFlags(fs, &c.Server)
	opsFlags(fs, &c.Server)
	for _, h := range flagHooks {
		h(fs, &c.Server)
	}
	fs.VisitAll(strictDuration)
}

// strictDuration makes a duration flag refuse a value without a unit
// ("-drain-timeout 20") with the error the file and the environment give,
// where the flag package would say only "parse error".
func strictDuration(f *flag.Flag) {
	if g, ok := f.Value.(flag.Getter); ok {
		if _, ok := g.Get().(time.Duration); ok {
			f.Value = &durationFlag{f.Value}
		}
	}
}

// durationFlag is a duration flag.Value with setValue's rules.
type durationFlag struct{ flag.Value }

func (d *durationFlag) Set(s string) error {
	v, err := toDuration(s)
	if err != nil {
		return err
	}
	return d.Value.Set(v.String())
}

func (d *durationFlag) String() string {
	if d.Value == nil {
		return "0s" // the zero flag.PrintDefaults compares with
	}
	return d.Value.String()
}

// usageLine is the first line of chatd -h.
const usageLine = "chatd, an event-loop WebSocket chat server; " +
	"settings: defaults < config file < CHATD_* environment < flags."

// printUsage writes chatd -h: what chatd is, then every flag.
func printUsage(w io.Writer, fs *flag.FlagSet) {
	fmt.Fprintln(w, usageLine)
	fmt.Fprintln(w, "\nUsage: chatd [flags]   (every setting: docs/operations.md; environment: CHATD_<KEY>)\n\nFlags:")
	fs.VisitAll(func(f *flag.Flag) {
		typ, usage := flag.UnquoteUsage(f)
		switch f.Value.(type) {
		case *durationFlag:
			typ = "duration"
		case *stringList:
			typ = "list"
		}
		if typ != "" {
			typ = " " + typ
		}
		fmt.Fprintf(w, "  -%s%s\n    \t%s\n", f.Name, typ, strings.ReplaceAll(usage, "\n", "\n    \t"))
	})
}

func chatFlags(fs *flag.FlagSet, cfg *server.Config) {
	fs.StringVar(&cfg.Listen, "listen", "", `chat WebSocket listen address (default ":7272")`)
	fs.StringVar(&cfg.WebListen, "web-listen", "", `web page listen address, "off" to disable (default ":55151")`)
	fs.IntVar(&cfg.Loops, "loops", 0, "event loops (default one per CPU but one, at least one)")
	fs.BoolVar(&cfg.ReusePort, "reuseport", false, "listen with SO_REUSEPORT (several processes on one port)")
	fs.BoolVar(&cfg.Echo, "echo", false, "serve /echo, echoing every message (conformance testing)")
	fs.IntVar(&cfg.EchoMaxMessage, "echo-max-message", 0, "largest /echo message in bytes (default 16 MiB)")
	fs.IntVar(&cfg.MaxMessage, "max-message", 0, "largest chat frame or message in bytes, 1009 past it (default 64 KiB)")
	fs.IntVar(&cfg.MaxContent, "max-content", 0, "largest say content in bytes before escaping, too_long past it (default 4096)")
	fs.IntVar(&cfg.MaxOutbound, "max-outbound", 0, "unsent bytes per connection before it is cut off with 1008 (default 1 MiB)")
	fs.IntVar(&cfg.MaxHandshake, "max-handshake", 0, "largest upgrade request header block in bytes, 431 past it (default 8 KiB)")
	fs.DurationVar(&cfg.HandshakeTimeout, "handshake-timeout", 0, "time allowed to complete the upgrade (default 5s)")
	fs.DurationVar(&cfg.PingInterval, "ping-interval", 0, "WebSocket ping period; silent for two periods closes (default 25s)")
	fs.DurationVar(&cfg.TextPingInterval, "text-ping-interval", 0, `text {"type":"ping"} period for current-dialect clients; negative sends none (default 10s)`)
	fs.DurationVar(&cfg.CloseTimeout, "close-timeout", 0, "how long a closing connection waits for the peer's close (default 2s)")
	fs.StringVar(&cfg.DefaultRoom, "default-room", "", `room of a login without room_id (default "1")`)
	fs.IntVar(&cfg.MaxRoomID, "max-room-id", 0, "longest room_id in bytes (default 64)")
	fs.IntVar(&cfg.HistoryMax, "history-max", 0, "most says a room keeps for history and resume; negative keeps none (default 100)")
	fs.DurationVar(&cfg.HistoryAge, "history-age", 0, "how long a say is kept for history (default 24h)")
	fs.IntVar(&cfg.HistoryBytes, "history-bytes", 0, "memory of the says all rooms keep (default 64 MiB)")
}

func limitFlags(fs *flag.FlagSet, cfg *server.Config) {
	fs.IntVar(&cfg.MaxConns, "max-conns", 0, "most open connections, 503 past it (default: open-file limit - fd-reserve - web-max-conns)")
	fs.IntVar(&cfg.FDReserve, "fd-reserve", 0, "file descriptors the default max-conns leaves for listeners, NATS, logs (default 256)")
	fs.IntVar(&cfg.WebMaxConns, "web-max-conns", 0, "most open web page connections; more wait in the backlog (default 1024)")
	fs.IntVar(&cfg.MaxConnsPerIP, "max-conns-per-ip", 0, "most connections per client address, 429 past it (default 1000)")
	fs.IntVar(&cfg.MaxHandshakesPerIP, "max-handshakes-per-ip", 0, "most unfinished handshakes per client address, 429 past it (default 64)")
	fs.Var((*stringList)(&cfg.TrustedProxies), "trusted-proxies", `comma-separated CIDRs of reverse proxies whose X-Forwarded-For is believed, e.g. 127.0.0.1/32 (default: none)`)
	fs.Float64Var(&cfg.AcceptRate, "accept-rate", 0, "new connections accepted per second, 503 past it (default 2000)")
	fs.IntVar(&cfg.AcceptBurst, "accept-burst", 0, "new connections accepted at once above accept-rate (default 1000)")
	fs.DurationVar(&cfg.RefuseDelay, "refuse-delay", 0, "how long a connection refused by the accept rate waits for its 503, so that clients reconnecting at once retry at that pace; negative answers at once (default 250ms)")
	fs.Float64Var(&cfg.MessageRate, "message-rate", 0, "messages per second per connection, rate_limited past it (default 50)")
	fs.IntVar(&cfg.MessageBurst, "message-burst", 0, "messages at once above message-rate (default 100)")
	fs.IntVar(&cfg.MaxRateLimited, "max-rate-limited", 0, "rate_limited errors before closing with 1008 (default 50)")
	fs.Float64Var(&cfg.FrameRate, "frame-rate", 0, "frames of any kind per second per connection, 1008 past it (default 4 x message-rate)")
	fs.IntVar(&cfg.FrameBurst, "frame-burst", 0, "frames at once above frame-rate (default 4 x message-burst)")
	fs.Float64Var(&cfg.ByteRate, "byte-rate", 0, "bytes per second per connection, 1008 past it (default 16 KiB x message-rate)")
	fs.IntVar(&cfg.ByteBurst, "byte-burst", 0, "bytes at once above byte-rate (default 16 KiB x message-burst, at least 2 x max-message)")
	fs.Var((*stringList)(&cfg.AllowedOrigins), "allowed-origins", "comma-separated Origin glob patterns, 403 otherwise (default: allow all)")
	fs.StringVar(&cfg.JWTSecret, "jwt-secret", "", "HMAC secret: require a JWT in the token query parameter, 401 otherwise (default: auth off)")
}

func opsFlags(fs *flag.FlagSet, cfg *server.Config) {
	fs.StringVar(&cfg.AdminListen, "admin-listen", "", `admin HTTP address for /metrics, /healthz, /readyz, /debug/pprof/; "off" to disable (default "127.0.0.1:9191")`)
	fs.DurationVar(&cfg.DrainTimeout, "drain-timeout", 0, "graceful drain limit on SIGTERM (default 10s)")
	fs.IntVar(&cfg.DrainBatch, "drain-batch", 0, "connections per loop closed with 1001 per drain step (default 500)")
	fs.DurationVar(&cfg.DrainInterval, "drain-interval", 0, "pause between drain steps (default 50ms)")
}

// stringList is a comma-separated list flag.
type stringList []string

func (l *stringList) String() string { return strings.Join(*l, ",") }

func (l *stringList) Set(s string) error {
	*l = nil
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			*l = append(*l, p)
		}
	}
	return nil
}
