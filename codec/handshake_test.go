package codec

import (
	"bufio"
	"bytes"
	"crypto/sha1"
	"encoding/base64"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
)

// seedRequest is the browser's upgrade request of the seed capture
// (PROTOCOL.md; seeds/000_261e28d4a0d000ac.txt), 715 bytes on the wire.
var seedRequest = strings.Join([]string{
	"GET / HTTP/1.1",
	"Host: 127.0.0.1:7272",
	"User-Agent: Mozilla/5.0 (X11; Ubuntu; Linux i686; rv:31.0) Gecko/20100101 Firefox/31.0",
	"Accept: text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8",
	"Accept-Language: zh-cn,zh;q=0.8,en-us;q=0.5,en;q=0.3",
	"Accept-Encoding: gzip, deflate",
	"Sec-WebSocket-Version: 13",
	"Origin: http://127.0.0.1:55151",
	"Sec-WebSocket-Key: zPDr6m4czzUdOFnsxIUEAw==",
	"Cookie: Hm_lvt_abcf9330bef79b4aba5b24fa373506d9=1402048017; Hm_lvt_5fedb3bdce89499492c079ab4a8a0323=1403063068,1403141761; Hm_lvt_7b1919221e89d2aa5711e4deb935debd=1407836536; Hm_lpvt_7b1919221e89d2aa5711e4deb935debd=1407837000",
	"Connection: keep-alive, Upgrade",
	"Pragma: no-cache",
	"Cache-Control: no-cache",
	"Upgrade: websocket",
	"", "",
}, "\r\n")

// minimal is the smallest valid request; tests edit it with strings.Replace.
const minimal = "GET /chat?room=1 HTTP/1.1\r\nHost: example.com\r\nUpgrade: websocket\r\n" +
	"Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n" +
	"Sec-WebSocket-Version: 13\r\n\r\n"

func TestParseRequestSeed(t *testing.T) {
	if len(seedRequest) != 715 {
		t.Fatalf("seed request is %d bytes; the capture says 715", len(seedRequest))
	}
	buf := []byte(seedRequest + "\x81\x80junk") // a frame may follow at once
	req, n, err := ParseRequest(buf, 0)
	if err != nil || n != len(seedRequest) {
		t.Fatalf("ParseRequest(seed) = %d, %v; want %d, nil", n, err, len(seedRequest))
	}
	want := map[string]string{
		"Path": "/", "Query": "", "Host": "127.0.0.1:7272", "Origin": "http://127.0.0.1:55151",
		"Key": "zPDr6m4czzUdOFnsxIUEAw==", "XForwardedFor": "",
	}
	checkRequest(t, req, want)
	checkWithNetHTTP(t, seedRequest, req)
	resp := string(AppendAccept(nil, req.Key))
	wantResp := "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
		"Sec-WebSocket-Accept: nSsCeIBUsFnDJCRb/BNlFzBUDpM=\r\n\r\n"
	if resp != wantResp {
		t.Errorf("AppendAccept(%q) = %q; want %q", req.Key, resp, wantResp)
	}
}

func checkRequest(t *testing.T, req Request, want map[string]string) {
	t.Helper()
	got := map[string]string{
		"Path": string(req.Path), "Query": string(req.Query), "Host": string(req.Host),
		"Origin": string(req.Origin), "Key": string(req.Key), "XForwardedFor": string(req.XForwardedFor),
	}
	for k, w := range want {
		if got[k] != w {
			t.Errorf("Request.%s = %q; want %q", k, got[k], w)
		}
	}
}

func TestParseRequestAccepts(t *testing.T) {
	tests := []struct {
		name, from, to string
		want           map[string]string
	}{
		{"minimal", "", "", map[string]string{"Path": "/chat", "Query": "room=1", "Host": "example.com"}},
		{"bare LF", "\r\n", "\n", map[string]string{"Path": "/chat", "Key": "dGhlIHNhbXBsZSBub25jZQ=="}},
		{"case-insensitive names", "Upgrade: websocket", "uPgRaDe: WebSocket", nil},
		{"connection list", "Connection: Upgrade", "Connection: keep-alive ,\tupgrade", nil},
		{"repeated connection", "Connection: Upgrade", "Connection: keep-alive\r\nConnection: Upgrade", nil},
		{"repeated upgrade", "Upgrade: websocket", "Upgrade: h2c\r\nUpgrade: websocket", nil},
		{"version list", "Version: 13", "Version: 8, 13", nil},
		{"optional white space", "Host: example.com", "Host: \t example.com \t", map[string]string{"Host": "example.com"}},
		{"empty value", "\r\n\r\n", "\r\nX-Empty:\r\n\r\n", nil},
		{"ipv6 host", "example.com", "[::1]:7272", map[string]string{"Host": "[::1]:7272"}},
		{"origin", "\r\n\r\n", "\r\nOrigin: http://a.example\r\n\r\n", map[string]string{"Origin": "http://a.example"}},
		{"x-forwarded-for last wins", "\r\n\r\n", "\r\nX-Forwarded-For: 1.1.1.1\r\nX-Forwarded-For: 2.2.2.2, 3.3.3.3\r\n\r\n",
			map[string]string{"XForwardedFor": "2.2.2.2, 3.3.3.3"}},
		{"empty query", "/chat?room=1", "/?", map[string]string{"Path": "/", "Query": ""}},
		{"content-length zero", "\r\n\r\n", "\r\nContent-Length: 0\r\n\r\n", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := strings.ReplaceAll(minimal, tt.from, tt.to)
			if tt.from == "" {
				in = minimal
			}
			req, n, err := ParseRequest([]byte(in), 0)
			if err != nil || n != len(in) {
				t.Fatalf("ParseRequest(%q) = %d, %v; want %d, nil", in, n, err, len(in))
			}
			checkRequest(t, req, tt.want)
			checkWithNetHTTP(t, in, req)
		})
	}
}

// checkWithNetHTTP is a differential check against net/http's request
// parser: what ParseRequest accepts, net/http reads the same way.
func checkWithNetHTTP(t *testing.T, in string, req Request) {
	t.Helper()
	hr, err := http.ReadRequest(bufio.NewReader(strings.NewReader(in)))
	if err != nil {
		t.Fatalf("http.ReadRequest(%q) = %v; ParseRequest accepted it", in, err)
	}
	if hr.Method != "GET" || hr.URL.Path != string(req.Path) || hr.URL.RawQuery != string(req.Query) ||
		hr.Host != string(req.Host) || hr.Header.Get("Sec-WebSocket-Key") != string(req.Key) {
		t.Errorf("http.ReadRequest(%q) = %s %s?%s host %q; ParseRequest said %q?%q host %q", in,
			hr.Method, hr.URL.Path, hr.URL.RawQuery, hr.Host, req.Path, req.Query, req.Host)
	}
}

// refusals lists requests that must be refused, with the status.
var refusals = []struct {
	name, from, to string
	status         int
}{
	{"POST", "GET", "POST", 405},
	{"lower-case get", "GET", "get", 405},
	{"HTTP/1.0", "HTTP/1.1\r\nHost", "HTTP/1.0\r\nHost", 505},
	{"HTTP/2.0", "HTTP/1.1\r\nHost", "HTTP/2.0\r\nHost", 505},
	{"bad version syntax", "HTTP/1.1\r\nHost", "HTTP/11\r\nHost", 400},
	{"no version", " HTTP/1.1\r\nHost", "\r\nHost", 400},
	{"extra space", "GET /chat", "GET  /chat", 400},
	{"trailing space", "HTTP/1.1\r\nHost", "HTTP/1.1 \r\nHost", 400},
	{"absolute target", "/chat?room=1", "http://example.com/", 400},
	{"fragment", "/chat?room=1", "/chat#x", 400},
	{"control in target", "/chat?room=1", "/ch\x01at", 400},
	{"no host", "Host: example.com\r\n", "", 400},
	{"two hosts", "Host: example.com\r\n", "Host: a\r\nHost: b\r\n", 400},
	{"empty host", "Host: example.com", "Host:", 400},
	{"bad host", "Host: example.com", "Host: a b", 400},
	{"host with slash", "Host: example.com", "Host: a/b", 400},
	{"no upgrade", "Upgrade: websocket\r\n", "", 400},
	{"wrong upgrade", "Upgrade: websocket", "Upgrade: h2c", 400},
	{"upgrade substring", "Upgrade: websocket", "Upgrade: websockets", 400},
	{"no connection", "Connection: Upgrade\r\n", "", 400},
	{"connection close", "Connection: Upgrade", "Connection: close", 400},
	{"no key", "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n", "", 400},
	{"short key", "dGhlIHNhbXBsZSBub25jZQ==", "dGhlIHNhbXBsZSBub25jZQ=", 400},
	{"key not base64", "dGhlIHNhbXBsZSBub25jZQ==", "dGhlIHNhbXBsZSBub25jZ*==", 400},
	{"key of 17 bytes", "dGhlIHNhbXBsZSBub25jZQ==", "dGhlIHNhbXBsZSBub25jZWE=", 400},
	{"key padding bits", "dGhlIHNhbXBsZSBub25jZQ==", "dGhlIHNhbXBsZSBub25jZR==", 400},
	{"two keys", "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n",
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n", 400},
	{"two origins", "\r\n\r\n", "\r\nOrigin: http://a\r\nOrigin: http://b\r\n\r\n", 400},
	{"version 8", "Version: 13", "Version: 8", 426},
	{"version 13x", "Version: 13", "Version: 130", 426},
	{"no version header", "Sec-WebSocket-Version: 13\r\n", "", 426},
	{"version before key", "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n", "", 426},
	{"space before colon", "Host: example.com", "Host : example.com", 400},
	{"no colon", "\r\n\r\n", "\r\nJunk\r\n\r\n", 400},
	{"obs-fold", "\r\n\r\n", "\r\nX-A: b\r\n  folded\r\n\r\n", 400},
	{"bare CR in value", "\r\n\r\n", "\r\nX-A: b\rc\r\n\r\n", 400},
	{"NUL in value", "\r\n\r\n", "\r\nX-A: b\x00c\r\n\r\n", 400},
	{"body by length", "\r\n\r\n", "\r\nContent-Length: 5\r\n\r\n", 400},
	{"chunked body", "\r\n\r\n", "\r\nTransfer-Encoding: chunked\r\n\r\n", 400},
	{"empty request line", "GET /chat?room=1 HTTP/1.1\r\n", "\r\n", 400},
}

func TestParseRequestRefuses(t *testing.T) {
	for _, tt := range refusals {
		t.Run(tt.name, func(t *testing.T) {
			in := strings.Replace(minimal, tt.from, tt.to, 1)
			if in == minimal {
				t.Fatalf("replacing %q changed nothing", tt.from)
			}
			_, n, err := ParseRequest([]byte(in), 0)
			if got := status(err); got != tt.status || n != 0 {
				t.Errorf("ParseRequest(%q) = %d, status %d (%v); want 0, status %d", in, n, got, err, tt.status)
			}
		})
	}
}

// status returns the HTTP status of a *HTTPError, 0 for nil, -1 otherwise.
func status(err error) int {
	if err == nil {
		return 0
	}
	if e, ok := err.(*HTTPError); ok {
		return e.Status
	}
	return -1
}

func TestParseRequestLimit(t *testing.T) {
	n := len(minimal)
	tests := []struct {
		name   string
		in     string
		limit  int
		wantN  int
		status int
	}{
		{"exactly at limit", minimal, n, n, 0},
		{"one over limit", minimal, n - 1, 0, 431},
		{"incomplete under limit", minimal[:n-1], n, 0, 0},
		{"incomplete at limit", minimal[:n-1], n - 1, 0, 0},
		{"incomplete over limit", minimal[:n-1], n - 2, 0, 431},
		{"endless header", "GET / HTTP/1.1\r\nX: " + strings.Repeat("a", 9000), 0, 0, 431},
		{"default limit", minimal, 0, n, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, gotN, err := ParseRequest([]byte(tt.in), tt.limit)
			if gotN != tt.wantN || status(err) != tt.status {
				t.Errorf("ParseRequest(%q, %d) = %d, %v; want %d, status %d", tt.in, tt.limit, gotN, err, tt.wantN, tt.status)
			}
		})
	}
}

// TestParseRequestSplit feeds every prefix of valid and refused requests:
// a prefix is "need more" until the blank line has arrived, then the result
// is the same as for the whole.
func TestParseRequestSplit(t *testing.T) {
	inputs := []string{seedRequest, minimal, strings.ReplaceAll(minimal, "\r\n", "\n")}
	for _, r := range refusals {
		inputs = append(inputs, strings.Replace(minimal, r.from, r.to, 1))
	}
	for _, in := range inputs {
		wantReq, wantN, wantErr := ParseRequest([]byte(in), 0)
		for i := 0; i < len(in); i++ {
			if _, n, err := ParseRequest([]byte(in[:i]), 0); n != 0 || err != nil {
				t.Fatalf("ParseRequest(%q) = %d, %v; want 0, nil (need more)", in[:i], n, err)
			}
		}
		req, n, err := ParseRequest([]byte(in), 0)
		if n != wantN || err != wantErr || string(req.Key) != string(wantReq.Key) {
			t.Fatalf("ParseRequest(%q) = %d, %v; want %d, %v", in, n, err, wantN, wantErr)
		}
	}
}

func TestAppendAccept(t *testing.T) {
	tests := []struct{ key, want string }{
		{"dGhlIHNhbXBsZSBub25jZQ==", "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="}, // RFC 6455 section 1.3
		{"zPDr6m4czzUdOFnsxIUEAw==", "nSsCeIBUsFnDJCRb/BNlFzBUDpM="}, // the seed capture
		{strings.Repeat("k", 100), naiveAccept(strings.Repeat("k", 100))},
	}
	for _, tt := range tests {
		t.Run(tt.key[:8], func(t *testing.T) {
			resp, err := http.ReadResponse(bufio.NewReader(bytes.NewReader(AppendAccept([]byte("x"), []byte(tt.key))[1:])), nil)
			if err != nil {
				t.Fatalf("AppendAccept(%q): http.ReadResponse: %v", tt.key, err)
			}
			got := resp.Header.Get("Sec-WebSocket-Accept")
			if resp.StatusCode != 101 || got != tt.want || resp.Header.Get("Upgrade") != "websocket" ||
				resp.Header.Get("Connection") != "Upgrade" {
				t.Errorf("AppendAccept(%q) = %d %v; want 101 with accept %q", tt.key, resp.StatusCode, resp.Header, tt.want)
			}
		})
	}
}

// naiveAccept is RFC 6455 section 4.2.2 spelled out.
func naiveAccept(key string) string {
	h := sha1.New()
	io.WriteString(h, key+"258EAFA5-E914-47DA-95CA-C5AB0DC85B11")
	return base64.StdEncoding.EncodeToString(h.Sum(nil))
}

func TestAppendHTTPError(t *testing.T) {
	for _, e := range []*HTTPError{errHeaderTooLarge, errHost, errMethod, errVersion, errHTTPVersion, {Status: 503, Reason: "busy"}, {Status: 599, Reason: ""}} {
		t.Run(strconv.Itoa(e.Status), func(t *testing.T) {
			raw := AppendHTTPError(nil, e)
			resp, err := http.ReadResponse(bufio.NewReader(bytes.NewReader(raw)), nil)
			if err != nil {
				t.Fatalf("AppendHTTPError(%v): http.ReadResponse: %v", e, err)
			}
			body, err := io.ReadAll(resp.Body)
			if err != nil || string(body) != e.Reason || resp.StatusCode != e.Status || !resp.Close ||
				!strings.HasPrefix(resp.Header.Get("Content-Type"), "text/plain") {
				t.Errorf("AppendHTTPError(%v) = %q; want status %d, body %q, Connection: close, text/plain", e, raw, e.Status, e.Reason)
			}
			if v := resp.Header.Get("Sec-WebSocket-Version"); (v == "13") != (e.Status == 426) {
				t.Errorf("AppendHTTPError(%v): Sec-WebSocket-Version = %q; want 13 only for 426", e, v)
			}
			if !bytes.HasSuffix(raw, []byte("\r\n\r\n"+e.Reason)) {
				t.Errorf("AppendHTTPError(%v) = %q; want exactly the reason after the header", e, raw)
			}
		})
	}
}

func TestHTTPErrorIs(t *testing.T) {
	_, _, err := ParseRequest([]byte("POST / HTTP/1.1\r\n\r\n"), 0)
	if !errors.Is(err, ErrHandshake) || err.Error() != "codec: handshake refused: 405 method not allowed" {
		t.Errorf("ParseRequest(POST) error = %v; want a 405 that is ErrHandshake", err)
	}
}

func TestHandshakeAllocs(t *testing.T) {
	buf, refused := []byte(seedRequest), []byte(strings.Replace(minimal, "1.1", "1.0", 1))
	dst := make([]byte, 0, 256)
	tests := []struct {
		name string
		fn   func()
	}{
		{"ParseRequest", func() { ParseRequest(buf, 0) }},
		{"ParseRequest refused", func() { ParseRequest(refused, 0) }},
		{"AppendAccept", func() { AppendAccept(dst[:0], []byte("zPDr6m4czzUdOFnsxIUEAw==")) }},
		{"AppendHTTPError", func() { AppendHTTPError(dst[:0], errVersion) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := testing.AllocsPerRun(100, tt.fn); got != 0 {
				t.Errorf("AllocsPerRun(%s) = %v; want 0", tt.name, got)
			}
		})
	}
}
