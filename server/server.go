package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/panjf2000/gnet/v2"

	"chatd/internal/web"
	"chatd/room"
)

// Server is a chat server: gnet event loops for the WebSocket endpoint and
// a net/http server for the web page.
type Server struct {
	gnet.BuiltinEventEngine

	// Immutable after New.
	cfg   Config
	log   *slog.Logger
	hub   *room.Hub
	tick  time.Duration // OnTick period: sweeps and the coarse clock
	ready chan struct{} // closed when the chat listener accepts
	done  chan struct{} // closed when Run returns

	// Set once by Run or OnBoot before ready is closed, then read-only.
	eng            gnet.Engine
	acc            *acceptor // the chat listener (accept.go)
	chatPort       int
	placeholderDir string // holds gnet's placeholder socket until OnBoot
	readyOnce      sync.Once

	// Guarded by mu.
	mu    sync.Mutex
	loops map[gnet.EventLoop]*loop
	order []*loop // loops in binding order; index = shard index
	web   *http.Server
	webLn net.Listener

	// Safe for concurrent use.
	clock    atomic.Int64 // coarse unix nanos, updated every tick by OnTick
	draining atomic.Bool
	stats    Stats
	ops      ops                          // limits, metrics, admin listener (admin.go)
	cl       atomic.Pointer[clusterState] // nil on a single node (cluster.go)
}

// New returns a server for cfg (normalised and validated first).
func New(cfg Config) (*Server, error) {
	if err := cfg.Normalize(); err != nil {
		return nil, err
	}
	s := &Server{
		cfg:   cfg,
		log:   cfg.Logger,
		ready: make(chan struct{}),
		done:  make(chan struct{}),
		loops: make(map[gnet.EventLoop]*loop),
	}
	s.hub = room.NewHub(room.Config{
		Loops:        cfg.Loops,
		MaxOutbound:  cfg.MaxOutbound,
		DefaultRoom:  cfg.DefaultRoom,
		OnSlow:       s.onSlow,
		HistoryMax:   cfg.HistoryMax,
		HistoryAge:   cfg.HistoryAge,
		HistoryBytes: int64(cfg.HistoryBytes),
	})
	s.tick = sweepTick(&s.cfg)
	s.clock.Store(time.Now().UnixNano())
	s.initOps()
	return s, nil
}

// Config returns the normalised configuration.
func (s *Server) Config() Config { return s.cfg }

// Ready is closed once the chat listener accepts connections.
func (s *Server) Ready() <-chan struct{} { return s.ready }

// ChatAddr returns the chat listener's address (with the real port when
// Listen asked for port 0). Valid after Ready.
func (s *Server) ChatAddr() string {
	host, _, _ := net.SplitHostPort(s.cfg.Listen)
	return net.JoinHostPort(host, strconv.Itoa(s.chatPort))
}

// WebAddr returns the web page listener's address, "" if disabled. Valid
// after Ready.
func (s *Server) WebAddr() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.webLn == nil {
		return ""
	}
	return s.webLn.Addr().String()
}

// Run serves until ctx is done, then closes every connection with 1001
// and returns. It returns early with an error if a listener fails or the
// chat engine stops by itself (ErrEngineStopped).
func (s *Server) Run(ctx context.Context) error {
	defer close(s.done)
	if err := s.startCluster(); err != nil {
		return err
	}
	defer s.stopCluster()
	acc, err := s.listenChat()
	if err != nil {
		return fmt.Errorf("chat listener %s: %w", s.cfg.Listen, err)
	}
	s.acc, s.chatPort = acc, acc.port()
	errc := make(chan error, 3)
	go func() { errc <- s.runChat() }()
	select {
	case <-s.ready:
	case err := <-errc:
		acc.close()
		return fmt.Errorf("chat engine: %w", err)
	}
	acc.start(errc)
	if err := s.startWeb(errc); err != nil {
		s.stopChat()
		<-errc
		return err
	}
	s.startAdmin()
	s.log.Info("chatd serving", "admin", s.AdminAddr(), "chat", s.ChatAddr(), "web", s.WebAddr(), "loops", s.cfg.Loops, "echo", s.cfg.Echo)
	select {
	case <-ctx.Done():
	case err = <-errc:
		if err == nil {
			// gnet.Run returned nil although nobody stopped it: its loops
			// ended (the cause is in gnet's log). Exiting non-zero lets a
			// supervisor restart the process.
			err = ErrEngineStopped
		}
		s.log.Error("stopping", "err", err)
	}
	s.shutdown()
	return err
}

// runChat runs the gnet engine on a placeholder listener; the chat
// listener's connections come from the acceptor (accept.go).
func (s *Server) runChat() error {
	dir, addr, err := placeholder()
	if err != nil {
		return err
	}
	s.placeholderDir = dir
	defer os.RemoveAll(dir)
	return gnet.Run(s, addr,
		gnet.WithMulticore(true),
		gnet.WithNumEventLoop(s.cfg.Loops),
		gnet.WithEdgeTriggeredIO(true),
		gnet.WithTicker(true),
		gnet.WithLogger(gnetLogger{s.log}),
	)
}

// Timeouts of the web page and admin listeners: a request's header must
// arrive within readHeaderTimeout, an idle keep-alive connection is
// closed after idleTimeout, and a response must be written within
// webWriteTimeout (the page's assets are small) or adminWriteTimeout
// (pprof's profile and trace run for up to their ?seconds=, 30s by
// default).
const (
	readHeaderTimeout = 5 * time.Second
	readTimeout       = 10 * time.Second
	idleTimeout       = 30 * time.Second
	webWriteTimeout   = 30 * time.Second
	adminWriteTimeout = 2 * time.Minute
)

func (s *Server) startWeb(errc chan<- error) error {
	if s.cfg.WebListen == "off" {
		return nil
	}
	ln, err := net.Listen("tcp", s.cfg.WebListen)
	if err != nil {
		return fmt.Errorf("web listener %s: %w", s.cfg.WebListen, err)
	}
	ln = capListener(ln, s.cfg.WebMaxConns)
	srv := &http.Server{Handler: web.Handler(s.chatPort), ReadHeaderTimeout: readHeaderTimeout,
		ReadTimeout: readTimeout, IdleTimeout: idleTimeout, WriteTimeout: webWriteTimeout,
		ErrorLog: slog.NewLogLogger(s.log.Handler(), slog.LevelWarn)}
	s.mu.Lock()
	s.web, s.webLn = srv, ln
	s.mu.Unlock()
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			errc <- fmt.Errorf("web listener: %w", err)
		}
	}()
	return nil
}

// OnBoot records the engine and removes the placeholder listener's path,
// so that nothing can connect to it (accept.go).
func (s *Server) OnBoot(eng gnet.Engine) gnet.Action {
	s.eng = eng
	_ = os.RemoveAll(s.placeholderDir)
	return gnet.None
}

// OnTick runs on gnet's ticker goroutine, not on a loop: it only advances
// the coarse clock and asks every loop to sweep its own connections. Its
// first run (after gnet has started every loop) opens the server: the
// acceptor may hand connections to loops from then on.
func (s *Server) OnTick() (time.Duration, gnet.Action) {
	s.clock.Store(time.Now().UnixNano())
	s.readyOnce.Do(func() { close(s.ready) })
	for _, l := range s.loopList() {
		_ = l.el.Execute(context.Background(), l.sweepTask)
	}
	return s.tick, gnet.None
}

// sweepTick is how often each loop checks handshake deadlines, pings and
// idle connections, and how often the coarse clock advances: a quarter of
// the shortest of those timers, between 10ms and 100ms. At 100ms a loop
// with 50k connections spends ~1-3 ms per second on the sweep.
func sweepTick(cfg *Config) time.Duration {
	d := min(cfg.PingInterval, cfg.HandshakeTimeout, cfg.CloseTimeout) / 4
	return max(10*time.Millisecond, min(d, 100*time.Millisecond))
}

// now returns the coarse clock: at most one tick behind time.Now, and
// cheaper on the per-message path.
func (s *Server) now() int64 { return s.clock.Load() }

func (s *Server) loopList() []*loop {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]*loop(nil), s.order...)
}

// loopOf returns the state of the loop that el is, binding it to the next
// free shard on first sight.
func (s *Server) loopOf(el gnet.EventLoop) *loop {
	s.mu.Lock()
	defer s.mu.Unlock()
	if l := s.loops[el]; l != nil {
		return l
	}
	if len(s.order) >= s.hub.Shards() {
		return nil // more loops than configured: cannot happen with gnet's NumEventLoop
	}
	l := newLoop(s, el, s.hub.Shard(len(s.order)))
	s.instrument(l)
	s.loops[el] = l
	s.order = append(s.order, l)
	return l
}

func (s *Server) stopChat() {
	select {
	case <-s.ready:
		s.acc.close()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = s.eng.Stop(ctx)
	default:
	}
}

// shutdown drains (paced 1001 closes, bounded by DrainTimeout), then, on
// each loop, closes whatever the drain left (connections still lingering
// for the peer's close, or not reached before the deadline), waits for
// that (bounded), and stops the engine, the web and admin servers.
func (s *Server) shutdown() {
	s.drain()
	var wg sync.WaitGroup
	for _, l := range s.loopList() {
		wg.Add(1)
		err := l.el.Execute(context.Background(), gnet.RunnableFunc(func(context.Context) error {
			defer wg.Done()
			l.closeAll()
			return nil
		}))
		if err != nil {
			wg.Done()
		}
	}
	waitTimeout(&wg, 5*time.Second)
	s.stopChat()
	s.mu.Lock()
	web := s.web
	s.mu.Unlock()
	if web != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_ = web.Shutdown(ctx)
	}
	s.stopAdmin()
}

func waitTimeout(wg *sync.WaitGroup, d time.Duration) {
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(d):
	}
}
