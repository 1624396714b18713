package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/panjf2000/gnet/v2"
	"golang.org/x/sys/unix"

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

	// Set once in OnBoot (before ready is closed), then read-only.
	eng      gnet.Engine
	chatPort int

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
		Loops:       cfg.Loops,
		MaxOutbound: cfg.MaxOutbound,
		DefaultRoom: cfg.DefaultRoom,
		OnSlow:      s.onSlow,
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
// and returns. It returns early with an error if a listener fails.
func (s *Server) Run(ctx context.Context) error {
	defer close(s.done)
	if err := s.startCluster(); err != nil {
		return err
	}
	defer s.stopCluster()
	errc := make(chan error, 2)
	go func() { errc <- s.runChat() }()
	select {
	case <-s.ready:
	case err := <-errc:
		return fmt.Errorf("chat listener %s: %w", s.cfg.Listen, err)
	}
	if err := s.startWeb(errc); err != nil {
		s.stopChat()
		<-errc
		return err
	}
	s.startAdmin()
	s.log.Info("chatd serving", "admin", s.AdminAddr(), "chat", s.ChatAddr(), "web", s.WebAddr(), "loops", s.cfg.Loops, "echo", s.cfg.Echo)
	var err error
	select {
	case <-ctx.Done():
	case err = <-errc:
	}
	s.shutdown()
	return err
}

func (s *Server) runChat() error {
	return gnet.Run(s, "tcp://"+s.cfg.Listen,
		gnet.WithMulticore(true),
		gnet.WithNumEventLoop(s.cfg.Loops),
		gnet.WithEdgeTriggeredIO(true),
		gnet.WithTicker(true),
		gnet.WithTCPNoDelay(gnet.TCPNoDelay),
		gnet.WithReusePort(s.cfg.ReusePort),
		gnet.WithLogger(gnetLogger{s.log}),
	)
}

func (s *Server) startWeb(errc chan<- error) error {
	if s.cfg.WebListen == "off" {
		return nil
	}
	ln, err := net.Listen("tcp", s.cfg.WebListen)
	if err != nil {
		return fmt.Errorf("web listener %s: %w", s.cfg.WebListen, err)
	}
	srv := &http.Server{Handler: web.Handler(s.chatPort), ReadHeaderTimeout: 5 * time.Second}
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

// OnBoot records the engine and the real chat port.
func (s *Server) OnBoot(eng gnet.Engine) gnet.Action {
	s.eng = eng
	s.chatPort = listenerPort(eng)
	close(s.ready)
	return gnet.None
}

func listenerPort(eng gnet.Engine) int {
	fd, err := eng.Dup()
	if err != nil {
		return 0
	}
	defer unix.Close(fd)
	sa, err := unix.Getsockname(fd)
	if err != nil {
		return 0
	}
	switch a := sa.(type) {
	case *unix.SockaddrInet4:
		return a.Port
	case *unix.SockaddrInet6:
		return a.Port
	}
	return 0
}

// OnTick runs on gnet's ticker goroutine, not on a loop: it only advances
// the coarse clock and asks every loop to sweep its own connections.
func (s *Server) OnTick() (time.Duration, gnet.Action) {
	s.clock.Store(time.Now().UnixNano())
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
