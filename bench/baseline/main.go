package main

import (
	"encoding/json"
	"expvar"
	"flag"
	"log"
	"net"
	"net/http"
	"runtime"
	"sync"
	"time"

	"github.com/gorilla/websocket"
)

func main() {
	listen := flag.String("listen", "127.0.0.1:7373", "chat WebSocket address")
	debug := flag.String("debug-listen", "", "address of /debug/vars (Go memstats) and /debug/live (memstats after a forced GC); empty disables")
	ping := flag.Duration("ping", 25*time.Second, "interval of WebSocket pings; silence for two intervals closes")
	flag.Parse()

	h := newHub()
	go h.run()
	srv := &server{
		hub:  h,
		ping: *ping,
		up: websocket.Upgrader{
			ReadBufferSize:  1024,
			WriteBufferSize: 1024,
			// Pooled write buffers are gorilla's own advice for many idle connections.
			WriteBufferPool: &sync.Pool{},
			CheckOrigin:     func(*http.Request) bool { return true },
		},
	}
	if *debug != "" {
		ln, err := net.Listen("tcp", *debug)
		if err != nil {
			log.Fatal(err)
		}
		log.Printf("debug on http://%s/debug/vars", ln.Addr())
		dm := http.NewServeMux()
		dm.Handle("/debug/vars", expvar.Handler())
		// /debug/live: the heap right after a forced GC (live heap per connection).
		dm.HandleFunc("/debug/live", func(w http.ResponseWriter, _ *http.Request) {
			runtime.GC()
			var ms runtime.MemStats
			runtime.ReadMemStats(&ms)
			json.NewEncoder(w).Encode(map[string]uint64{"HeapAlloc": ms.HeapAlloc, "HeapInuse": ms.HeapInuse, "Sys": ms.Sys})
		})
		go http.Serve(ln, dm)
	}
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		log.Fatal(err)
	}
	log.Printf("baseline listening on ws://%s/", ln.Addr())
	log.Fatal((&http.Server{Handler: srv, ReadHeaderTimeout: 5 * time.Second}).Serve(ln))
}
