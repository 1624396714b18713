package main

import (
	"encoding/json"
	"expvar"
	"flag"
	"log"
	"net"
	"net/http"
	"runtime"
	"time"

	"github.com/lesismal/nbio/nbhttp"
	"github.com/lesismal/nbio/nbhttp/websocket"
)

func main() {
	listen := flag.String("listen", "127.0.0.1:7474", "chat WebSocket address")
	debug := flag.String("debug-listen", "", "address of /debug/vars (Go memstats) and /debug/live (memstats after a forced GC); empty disables")
	ping := flag.Duration("ping", 25*time.Second, "interval of WebSocket pings; silence for two intervals closes")
	pollers := flag.Int("pollers", 1, "nbio poller goroutines (epoll loops)")
	workers := flag.Int("workers", 4, "goroutines of nbio's task pool that run message handlers and room flushes")
	flag.Parse()

	eng, h := newServer(*listen, *ping, *pollers, *workers, nil)
	if *debug != "" {
		ln, err := net.Listen("tcp", *debug)
		if err != nil {
			log.Fatal(err)
		}
		dm := http.NewServeMux()
		dm.Handle("/debug/vars", expvar.Handler())
		dm.HandleFunc("/debug/live", func(w http.ResponseWriter, _ *http.Request) {
			runtime.GC()
			var ms runtime.MemStats
			runtime.ReadMemStats(&ms)
			json.NewEncoder(w).Encode(map[string]uint64{"HeapAlloc": ms.HeapAlloc, "HeapInuse": ms.HeapInuse, "Sys": ms.Sys})
		})
		log.Printf("debug on http://%s/debug/vars", ln.Addr())
		go http.Serve(ln, dm)
	}
	if err := eng.Start(); err != nil {
		log.Fatal(err)
	}
	go h.pinger(*ping)
	log.Printf("nbiobaseline listening on ws://%s/ (%d poller(s), %d workers)", *listen, *pollers, *workers)
	select {}
}

// newServer builds the engine (not started) and its hub. listen, if not
// nil, replaces net.Listen (tests learn the port from it).
func newServer(addr string, ping time.Duration, pollers, workers int, listen func(network, addr string) (net.Listener, error)) (*nbhttp.Engine, *hub) {
	h := newHub()
	u := websocket.NewUpgrader()
	u.CheckOrigin = func(*http.Request) bool { return true }
	u.KeepaliveTime = 2 * ping // read deadline, renewed by every frame
	u.MessageLengthLimit = maxMessage
	u.HandshakeTimeout = 5 * time.Second
	u.OnOpen(h.open)
	u.OnMessage(h.message)
	u.OnClose(h.close)

	mux := http.NewServeMux()
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		if _, err := u.Upgrade(w, r, nil); err != nil {
			return // Upgrade answered with an HTTP error
		}
	})
	eng := nbhttp.NewEngine(nbhttp.Config{
		Network: "tcp",
		Addrs:   []string{addr},
		Listen:  listen,
		IOMod:   nbhttp.IOModNonBlocking,
		NPoller: pollers,
		// In non-blocking mode the read buffer belongs to the poller, not
		// to a connection; 4 KiB as in nbio's websocket_1m example.
		ReadBufferSize: 4 << 10,
		MaxLoad:        1 << 20,
		// Payload buffers go back to nbio's pool after OnMessage.
		ReleaseWebsocketPayload: true,
		// Slow consumer: more than this unsent and nbio closes the conn.
		MaxWriteBufferSize: maxQueued,
		// nbio's task pool runs about size-2 goroutines at most.
		MessageHandlerPoolSize: workers + 2,
		Handler:                mux,
	})
	u.Engine = eng
	h.execute = eng.Execute
	return eng, h
}
