package web

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"fmt"
	"io/fs"
	"net/http"
	"path"
	"time"
)

// DefaultChatPort is the chat endpoint's port used when Handler is given a
// port outside 1..65535.
const DefaultChatPort = 7272

//go:embed assets
var assetFS embed.FS

// asset is one response body, prepared once at construction.
type asset struct {
	name        string // used by http.ServeContent for Range handling only
	contentType string
	etag        string // strong validator: quoted hash of body
	body        []byte
}

// handler serves a fixed set of assets. All fields are immutable after
// construction, so it is safe for concurrent use.
type handler struct {
	assets map[string]*asset // by request path
	csp    string
}

// Handler serves the chat page. chatPort is the TCP port of the WebSocket chat
// endpoint; the page connects to ws://<same host>:<chatPort>/. A port outside
// 1..65535 (zero included) means DefaultChatPort. When the chat listener is
// bound to port 0, pass the port it actually got.
func Handler(chatPort int) http.Handler {
	if chatPort < 1 || chatPort > 65535 {
		chatPort = DefaultChatPort
	}
	h := &handler{assets: make(map[string]*asset), csp: contentSecurityPolicy(chatPort)}
	h.add("/", "index.html", "text/html; charset=utf-8", mustRead("index.html"))
	h.add("/app.js", "app.js", "text/javascript; charset=utf-8", mustRead("app.js"))
	h.add("/style.css", "style.css", "text/css; charset=utf-8", mustRead("style.css"))
	h.add("/favicon.svg", "favicon.svg", "image/svg+xml", mustRead("favicon.svg"))
	h.add("/config.js", "config.js", "text/javascript; charset=utf-8", configScript(chatPort))
	h.assets["/index.html"] = h.assets["/"]
	return h
}

// mustRead returns an embedded asset. The names are fixed at compile time and
// covered by the package tests, so a failure is a build defect.
func mustRead(name string) []byte {
	b, err := fs.ReadFile(assetFS, path.Join("assets", name))
	if err != nil {
		panic(fmt.Sprintf("web: embedded asset %s: %v", name, err))
	}
	return b
}

func (h *handler) add(urlPath, name, contentType string, body []byte) {
	sum := sha256.Sum256(body)
	h.assets[urlPath] = &asset{
		name:        name,
		contentType: contentType,
		etag:        `"` + hex.EncodeToString(sum[:12]) + `"`,
		body:        body,
	}
}

// configScript is the only per-server part of the page.
func configScript(chatPort int) []byte {
	return fmt.Appendf(nil, "window.CHATD = Object.freeze({chatPort: %d});\n", chatPort)
}

// contentSecurityPolicy allows the page's own scripts, styles and icon, and
// WebSocket connections to the chat port of any host (the page connects to
// the host it was loaded from, which the server cannot know in advance).
func contentSecurityPolicy(chatPort int) string {
	return fmt.Sprintf("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "+
		"connect-src ws://*:%d wss://*:%d; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
		chatPort, chatPort)
}

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	a, ok := h.assets[r.URL.Path]
	hdr := w.Header()
	hdr.Set("X-Content-Type-Options", "nosniff")
	hdr.Set("Referrer-Policy", "no-referrer")
	hdr.Set("X-Frame-Options", "DENY")
	hdr.Set("Content-Security-Policy", h.csp)
	if !ok {
		http.NotFound(w, r)
		return
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		hdr.Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	hdr.Set("Content-Type", a.contentType)
	// Revalidate every time: the assets are tiny and change with the binary,
	// and the ETag turns a revalidation into a 304 without a body.
	hdr.Set("Cache-Control", "no-cache")
	hdr.Set("ETag", a.etag)
	http.ServeContent(w, r, a.name, time.Time{}, bytes.NewReader(a.body))
}
