package server

import (
	"context"
	"fmt"
	"log/slog"
	"sync/atomic"

	"github.com/panjf2000/gnet/v2/pkg/logging"
)

// Stats are the server's counters. Safe for concurrent use.
type Stats struct {
	Accepted          atomic.Int64 // connections accepted
	Open              atomic.Int64 // connections open now
	Upgraded          atomic.Int64 // WebSocket upgrades completed
	Refused           atomic.Int64 // upgrade requests refused with an HTTP error
	HandshakeTimeouts atomic.Int64
	IdleTimeouts      atomic.Int64
	ProtocolErrors    atomic.Int64 // connections closed for RFC 6455 violations
	SlowConsumers     atomic.Int64
	MessagesIn        atomic.Int64 // data messages received
	Logins            atomic.Int64
	ErrorReplies      atomic.Int64
}

// Stats returns the server's counters.
func (s *Server) Stats() *Stats { return &s.stats }

// gnetLogger routes gnet's logs to slog.
type gnetLogger struct{ l *slog.Logger }

var _ logging.Logger = gnetLogger{}

func (g gnetLogger) Debugf(f string, a ...any) { g.logf(slog.LevelDebug, f, a) }
func (g gnetLogger) Infof(f string, a ...any)  { g.logf(slog.LevelDebug, f, a) }
func (g gnetLogger) Warnf(f string, a ...any)  { g.logf(slog.LevelWarn, f, a) }
func (g gnetLogger) Errorf(f string, a ...any) { g.logf(slog.LevelError, f, a) }
func (g gnetLogger) Fatalf(f string, a ...any) { g.logf(slog.LevelError, f, a) }

func (g gnetLogger) logf(level slog.Level, f string, a []any) {
	if g.l.Enabled(context.Background(), level) {
		g.l.Log(context.Background(), level, "gnet: "+fmt.Sprintf(f, a...))
	}
}
