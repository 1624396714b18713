package server

import (
	"errors"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"sync"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"chatd/codec"
)

// ops is the server's production state: admission control, metrics and
// the admin listener.
type ops struct {
	// Immutable after initOps.
	limits *limiter
	fanout prometheus.Histogram
	loops  []loopStats // indexed by shard index
	reg    *prometheus.Registry

	// Guarded by mu.
	mu      sync.Mutex
	admin   *http.Server
	adminLn net.Listener

	// Safe for concurrent use.
	originRefused  atomic.Int64
	authRefused    atomic.Int64
	forwardRefused atomic.Int64 // limit refusals at the handshake (clients of trusted proxies)
	drained        atomic.Int64 // connections closed with 1001 by a drain
	shed           atomic.Int64 // chat connections answered 503 for lack of descriptors (accept.go)
	acceptErrors   atomic.Int64 // other chat accept errors, retried
	fdWarn         warnLimiter
	acceptWarn     warnLimiter
}

// initOps sets up s.ops; called by New.
func (s *Server) initOps() {
	s.ops.limits = newLimiter(&s.cfg)
	s.ops.fanout = newFanoutHistogram()
	s.ops.loops = make([]loopStats, s.cfg.Loops)
	s.ops.reg = s.newRegistry()
}

// admitRequest applies the handshake-time policies to a complete upgrade
// request: origin allow-list (403), token (401), and the per-address limit
// and accept rate of clients behind a trusted proxy (429, 503).
func (c *conn) admitRequest(req *codec.Request) error {
	s := c.l.srv
	if !s.originAllowed(req.Origin) {
		s.ops.originRefused.Add(1)
		return errOrigin
	}
	id, err := s.authenticate(req.Query)
	if err != nil {
		s.ops.authRefused.Add(1)
		return err
	}
	if err := s.ops.limits.admitForwarded(c, req.XForwardedFor); err != nil {
		s.ops.forwardRefused.Add(1)
		return err
	}
	c.id = id
	return nil
}

// Registry returns the Prometheus registry the admin listener serves.
func (s *Server) Registry() *prometheus.Registry { return s.ops.reg }

// AdminAddr returns the admin listener's address, "" if it is off or
// failed to bind. Valid after Ready.
func (s *Server) AdminAddr() string {
	s.ops.mu.Lock()
	defer s.ops.mu.Unlock()
	if s.ops.adminLn == nil {
		return ""
	}
	return s.ops.adminLn.Addr().String()
}

// Draining reports whether the server is draining (or stopped).
func (s *Server) Draining() bool { return s.draining.Load() }

// clusterHealth is implemented by a server in cluster mode (cluster.go).
// It is checked with a type assertion so that readiness builds with or
// without cluster support.
type clusterHealth interface{ ClusterHealthy() bool }

// Ready reports whether the server should get new clients: not draining
// and, in cluster mode, connected to the cluster.
func (s *Server) readyErr() error {
	if s.draining.Load() {
		return errors.New("draining")
	}
	if ch, ok := any(s).(clusterHealth); ok && !ch.ClusterHealthy() {
		return errors.New("cluster unavailable")
	}
	return nil
}

// AdminHandler returns the admin HTTP handler: /metrics, /healthz,
// /readyz and /debug/pprof/.
func (s *Server) AdminHandler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(s.ops.reg, promhttp.HandlerOpts{}))
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) {
		_, _ = w.Write([]byte("ok\n"))
	})
	mux.HandleFunc("/readyz", func(w http.ResponseWriter, _ *http.Request) {
		if err := s.readyErr(); err != nil {
			http.Error(w, err.Error(), http.StatusServiceUnavailable)
			return
		}
		_, _ = w.Write([]byte("ready\n"))
	})
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	return mux
}

// adminMaxConns caps the admin listener's open connections (scrapes,
// probes, pprof); Config.FDReserve counts them.
const adminMaxConns = 16

// startAdmin starts the admin listener. Failing to bind is logged and not
// fatal: the chat service matters more than its metrics, and several
// processes sharing a port with ReusePort cannot all have the same one.
func (s *Server) startAdmin() {
	s.logPolicy()
	if s.cfg.AdminListen == "off" {
		return
	}
	ln, err := net.Listen("tcp", s.cfg.AdminListen)
	if err != nil {
		s.log.Error("admin listener disabled", "addr", s.cfg.AdminListen, "err", err)
		return
	}
	ln = capListener(ln, adminMaxConns)
	srv := &http.Server{Handler: s.AdminHandler(), ReadHeaderTimeout: readHeaderTimeout,
		IdleTimeout: idleTimeout, WriteTimeout: adminWriteTimeout,
		ErrorLog: slog.NewLogLogger(s.log.Handler(), slog.LevelWarn)}
	s.ops.mu.Lock()
	s.ops.admin, s.ops.adminLn = srv, ln
	s.ops.mu.Unlock()
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.log.Error("admin listener", "err", err)
		}
	}()
}

// stopAdmin closes the admin listener (last, so /readyz says 503 for the
// whole drain).
func (s *Server) stopAdmin() {
	s.ops.mu.Lock()
	srv := s.ops.admin
	s.ops.mu.Unlock()
	if srv != nil {
		_ = srv.Close()
	}
}

// logPolicy logs the security choices an operator must know about.
func (s *Server) logPolicy() {
	c := &s.cfg
	if len(c.AllowedOrigins) == 0 {
		s.log.Info("origin check off: every Origin is allowed (set allowed_origins to restrict)")
	} else {
		s.log.Info("origin allow-list", "patterns", c.AllowedOrigins)
	}
	s.log.Info("limits", "max_conns", c.MaxConns, "max_conns_per_ip", c.MaxConnsPerIP,
		"max_handshakes_per_ip", c.MaxHandshakesPerIP, "trusted_proxies", c.TrustedProxies,
		"accept_rate", c.AcceptRate, "message_rate", c.MessageRate, "auth", c.JWTSecret != "",
		"admin", c.AdminListen, "open_file_limit", openFileLimit())
	if budget := c.FDBudget(openFileLimit()); c.MaxConns > budget {
		s.log.Warn("max_conns exceeds what the open-file limit leaves for connections: past about that many, new chat connections are shed with 503 (raise LimitNOFILE)",
			"max_conns", c.MaxConns, "budget", budget)
	}
}
