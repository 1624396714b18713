package main

import (
	"expvar"
	"flag"
	"log"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/gorilla/websocket"
)

func main() {
	listen := flag.String("listen", "127.0.0.1:7373", "chat WebSocket address")
	debug := flag.String("debug-listen", "", "address of /debug/vars (Go memstats); empty disables")
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
		go http.Serve(ln, expvar.Handler())
	}
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		log.Fatal(err)
	}
	log.Printf("baseline listening on ws://%s/", ln.Addr())
	log.Fatal((&http.Server{Handler: srv, ReadHeaderTimeout: 5 * time.Second}).Serve(ln))
}
