package main

import (
	"flag"
	"log/slog"

	"chatd/server"
)

// parseFlags maps the command line onto server.Config; zero values keep
// the Config defaults documented there.
func parseFlags(fs *flag.FlagSet, args []string) (server.Config, slog.Level) {
	var cfg server.Config
	var level slog.Level
	fs.StringVar(&cfg.Listen, "listen", ":7272", "chat WebSocket listen address")
	fs.StringVar(&cfg.WebListen, "web-listen", ":55151", `web page listen address ("off" to disable)`)
	fs.IntVar(&cfg.Loops, "loops", 0, "event loops (0: one per CPU)")
	fs.BoolVar(&cfg.ReusePort, "reuseport", false, "listen with SO_REUSEPORT (several processes on one port)")
	fs.BoolVar(&cfg.Echo, "echo", false, "serve /echo, echoing every message (conformance testing)")
	fs.IntVar(&cfg.EchoMaxMessage, "echo-max-message", 16<<20, "largest /echo message in bytes")
	fs.IntVar(&cfg.MaxMessage, "max-message", 64<<10, "largest chat frame or message in bytes (1009 past it)")
	fs.IntVar(&cfg.MaxContent, "max-content", 4096, "largest say content in bytes before escaping (too_long past it)")
	fs.IntVar(&cfg.MaxOutbound, "max-outbound", 1<<20, "unsent bytes per connection before it is cut off with 1008")
	fs.IntVar(&cfg.MaxHandshake, "max-handshake", 8<<10, "largest upgrade request header block in bytes")
	fs.DurationVar(&cfg.HandshakeTimeout, "handshake-timeout", 0, "time allowed to complete the upgrade (0: 5s)")
	fs.DurationVar(&cfg.PingInterval, "ping-interval", 0, "WebSocket ping period; silent for two periods closes (0: 25s)")
	fs.StringVar(&cfg.DefaultRoom, "default-room", "1", "room of a login without room_id")
	fs.TextVar(&level, "log-level", slog.LevelInfo, "log level: debug, info, warn, error")
	_ = fs.Parse(args)
	return cfg, level
}
