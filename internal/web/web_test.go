package web

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func get(t *testing.T, srv *httptest.Server, path string, header http.Header) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, srv.URL+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("GET %s: read body: %v", path, err)
	}
	return resp, string(body)
}

func TestHandlerServesAssets(t *testing.T) {
	srv := httptest.NewServer(Handler(7399))
	defer srv.Close()
	tests := []struct {
		path, contentType, contains string
	}{
		{"/", "text/html; charset=utf-8", `<script src="/app.js"`},
		{"/index.html", "text/html; charset=utf-8", `<link rel="stylesheet" href="/style.css">`},
		{"/app.js", "text/javascript; charset=utf-8", "function serverText("},
		{"/style.css", "text/css; charset=utf-8", "white-space: pre-wrap"},
		{"/favicon.svg", "image/svg+xml", "<svg"},
		{"/config.js", "text/javascript; charset=utf-8", "window.CHATD = Object.freeze({chatPort: 7399});"},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			resp, body := get(t, srv, tt.path, nil)
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("GET %q status = %d; want 200", tt.path, resp.StatusCode)
			}
			if got := resp.Header.Get("Content-Type"); got != tt.contentType {
				t.Errorf("GET %q Content-Type = %q; want %q", tt.path, got, tt.contentType)
			}
			if !strings.Contains(body, tt.contains) {
				t.Errorf("GET %q body does not contain %q", tt.path, tt.contains)
			}
			checkSecurityHeaders(t, resp, 7399)
		})
	}
}

func checkSecurityHeaders(t *testing.T, resp *http.Response, port int) {
	t.Helper()
	want := map[string]string{
		"X-Content-Type-Options": "nosniff",
		"Cache-Control":          "no-cache",
	}
	for k, v := range want {
		if got := resp.Header.Get(k); got != v {
			t.Errorf("header %s = %q; want %q", k, got, v)
		}
	}
	csp := resp.Header.Get("Content-Security-Policy")
	for _, part := range []string{"script-src 'self'", "default-src 'none'", "connect-src ws://*:7399 "} {
		if !strings.Contains(csp, part) {
			t.Errorf("Content-Security-Policy = %q; want it to contain %q", csp, part)
		}
	}
	if strings.Contains(csp, "unsafe-inline") {
		t.Errorf("Content-Security-Policy = %q allows inline code", csp)
	}
}

func TestHandlerPort(t *testing.T) {
	tests := []struct {
		port int
		want string
	}{
		{1, "chatPort: 1}"},
		{7272, "chatPort: 7272}"},
		{65535, "chatPort: 65535}"},
		{0, "chatPort: 7272}"},
		{-5, "chatPort: 7272}"},
		{70000, "chatPort: 7272}"},
	}
	for _, tt := range tests {
		srv := httptest.NewServer(Handler(tt.port))
		_, body := get(t, srv, "/config.js", nil)
		srv.Close()
		if !strings.Contains(body, tt.want) {
			t.Errorf("Handler(%d) /config.js = %q; want it to contain %q", tt.port, body, tt.want)
		}
	}
}

func TestHandlerNoInlineScript(t *testing.T) {
	srv := httptest.NewServer(Handler(7272))
	defer srv.Close()
	_, body := get(t, srv, "/", nil)
	// Every <script> must have a src: the CSP forbids inline code.
	for rest := body; ; {
		i := strings.Index(rest, "<script")
		if i < 0 {
			break
		}
		tag := rest[i:]
		tag = tag[:strings.Index(tag, ">")+1]
		if !strings.Contains(tag, " src=") {
			t.Errorf("inline script tag %q", tag)
		}
		rest = rest[i+len(tag):]
	}
	for _, external := range []string{"http://", "https://", "//fonts.", "cdn"} {
		if strings.Contains(body, external) {
			t.Errorf("index.html references %q; the page must work offline", external)
		}
	}
	if strings.Contains(body, " style=") {
		t.Error("index.html has an inline style attribute; the CSP forbids it")
	}
}

func TestHandlerErrors(t *testing.T) {
	srv := httptest.NewServer(Handler(7272))
	defer srv.Close()
	for _, path := range []string{"/nope", "/assets/app.js", "/../go.mod", "/app.js/"} {
		resp, _ := get(t, srv, path, nil)
		if resp.StatusCode != http.StatusNotFound {
			t.Errorf("GET %q status = %d; want 404", path, resp.StatusCode)
		}
	}
	resp, err := srv.Client().Post(srv.URL+"/", "text/plain", strings.NewReader("x"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("POST / status = %d; want 405", resp.StatusCode)
	}
}

func TestHandlerRevalidation(t *testing.T) {
	srv := httptest.NewServer(Handler(7272))
	defer srv.Close()
	resp, _ := get(t, srv, "/app.js", nil)
	etag := resp.Header.Get("ETag")
	if etag == "" {
		t.Fatal("GET /app.js has no ETag")
	}
	resp, body := get(t, srv, "/app.js", http.Header{"If-None-Match": {etag}})
	if resp.StatusCode != http.StatusNotModified || body != "" {
		t.Errorf("GET /app.js If-None-Match = %d with %d bytes; want 304 and none", resp.StatusCode, len(body))
	}
}
