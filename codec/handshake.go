package codec

import (
	"bytes"
	"crypto/sha1"
	"encoding/base64"
	"strconv"
)

// DefaultHeaderLimit is the header size limit ParseRequest applies when it
// is given a limit <= 0.
const DefaultHeaderLimit = 8 << 10

// acceptGUID is the fixed GUID of RFC 6455 section 1.3.
const acceptGUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

// Request is a parsed HTTP/1.1 WebSocket upgrade request. Its slices alias
// the input buffer: valid until the caller discards those bytes.
type Request struct {
	Path          []byte // path without query, e.g. "/" or "/echo"
	Query         []byte // raw query without '?', may be empty
	Host          []byte
	Origin        []byte // may be empty
	Key           []byte // Sec-WebSocket-Key as sent (validated: base64 of 16 bytes)
	XForwardedFor []byte // may be empty; the last X-Forwarded-For field when repeated
}

// HTTPError is a handshake refusal: what goes on the wire as an HTTP status
// and a reason.
type HTTPError struct {
	Status int
	Reason string
}

// Error returns the status and reason prefixed with "codec: ".
func (e *HTTPError) Error() string {
	return "codec: handshake refused: " + strconv.Itoa(e.Status) + " " + e.Reason
}

// Unwrap returns ErrHandshake.
func (e *HTTPError) Unwrap() error { return ErrHandshake }

// The refusals are preallocated: a flood of bad requests costs no garbage.
var (
	errHeaderTooLarge = &HTTPError{431, "request header too large"}
	errRequestLine    = &HTTPError{400, "malformed request line"}
	errTarget         = &HTTPError{400, "malformed request target"}
	errHeaderLine     = &HTTPError{400, "malformed header field"}
	errHost           = &HTTPError{400, "missing or invalid Host"}
	errUpgrade        = &HTTPError{400, "missing Upgrade: websocket"}
	errConnection     = &HTTPError{400, "missing Connection: upgrade"}
	errKey            = &HTTPError{400, "missing or invalid Sec-WebSocket-Key"}
	errOrigin         = &HTTPError{400, "repeated Origin"}
	errBody           = &HTTPError{400, "upgrade request must not have a body"}
	errMethod         = &HTTPError{405, "method not allowed"}
	errVersion        = &HTTPError{426, "unsupported Sec-WebSocket-Version"}
	errHTTPVersion    = &HTTPError{505, "HTTP version not supported"}
)

// ParseRequest parses an upgrade request from the start of buf. It returns
// n == 0 and err == nil when the request is not complete yet (no blank line
// yet and len(buf) <= limit); limit <= 0 means DefaultHeaderLimit. n is the
// number of bytes of the request through the blank line.
//
// Errors are *HTTPError: 431 when the header block exceeds limit bytes; 400
// for a malformed request line or header field, a request target that is
// not origin-form ("/..."), a missing, repeated or invalid Host, Upgrade
// without the token "websocket", Connection without the token "upgrade",
// a missing, repeated or invalid Sec-WebSocket-Key, a repeated Origin, or a
// body (Transfer-Encoding, or Content-Length other than 0); 405 for a
// method other than GET; 426 when Sec-WebSocket-Version does not list 13;
// 505 for an HTTP version other than 1.1.
//
// Leniency, on purpose: header names and the tokens of Upgrade and
// Connection are case-insensitive; Upgrade, Connection and
// Sec-WebSocket-Version may be repeated (their token lists are combined);
// optional white space around values is trimmed; lines may end in "\r\n" or
// in a bare "\n" (RFC 9112 section 2.2 allows a recipient to accept the
// latter). Obsolete line folding is refused (400).
func ParseRequest(buf []byte, limit int) (req Request, n int, err error) {
	if limit <= 0 {
		limit = DefaultHeaderLimit
	}
	// Only the first limit bytes can hold an acceptable header block, so a
	// large buffer (a flood, or frames pipelined after the request) is not
	// scanned past them.
	n = headerEnd(buf[:min(len(buf), limit)])
	switch {
	case n == 0 && len(buf) <= limit:
		return Request{}, 0, nil
	case n == 0:
		return Request{}, 0, errHeaderTooLarge
	}
	if e := parseHead(buf[:n], &req); e != nil {
		return Request{}, 0, e
	}
	return req, n, nil
}

// headerEnd returns the length of the header block through its blank line,
// or 0 if buf does not hold a blank line yet. Both searches are vectorised
// by package bytes, so a slowly arriving request costs little to re-scan.
func headerEnd(buf []byte) int {
	crlf := bytes.Index(buf, []byte("\n\r\n"))
	lf := bytes.Index(buf, []byte("\n\n"))
	switch {
	case lf >= 0 && (crlf < 0 || lf < crlf):
		return lf + 2
	case crlf >= 0:
		return crlf + 3
	}
	return 0
}

// nextLine splits off the first line of b, without its "\n" or "\r\n".
func nextLine(b []byte) (line, rest []byte) {
	i := bytes.IndexByte(b, '\n')
	if i < 0 {
		return b, nil
	}
	line, rest = b[:i], b[i+1:]
	if len(line) > 0 && line[len(line)-1] == '\r' {
		line = line[:len(line)-1]
	}
	return line, rest
}

// parseHead parses a complete header block (through the blank line).
func parseHead(head []byte, req *Request) *HTTPError {
	line, rest := nextLine(head)
	if e := parseRequestLine(line, req); e != nil {
		return e
	}
	var h headerState
	for {
		line, rest = nextLine(rest)
		if len(line) == 0 {
			return h.finish(req)
		}
		if e := h.field(line, req); e != nil {
			return e
		}
	}
}

// parseRequestLine parses "GET /path?query HTTP/1.1". The version is checked
// before the method, as net/http does.
func parseRequestLine(line []byte, req *Request) *HTTPError {
	method, rest, ok1 := bytes.Cut(line, []byte(" "))
	target, version, ok2 := bytes.Cut(rest, []byte(" "))
	if !ok1 || !ok2 || !isToken(method) || !isHTTPVersion(version) {
		return errRequestLine
	}
	if string(version) != "HTTP/1.1" {
		return errHTTPVersion
	}
	if string(method) != "GET" {
		return errMethod
	}
	return parseTarget(target, req)
}

// isHTTPVersion reports whether v has the form HTTP/DIGIT.DIGIT.
func isHTTPVersion(v []byte) bool {
	return len(v) == 8 && string(v[:5]) == "HTTP/" && isDigit(v[5]) &&
		v[6] == '.' && isDigit(v[7])
}

// parseTarget splits an origin-form request target into path and query.
func parseTarget(target []byte, req *Request) *HTTPError {
	if len(target) == 0 || target[0] != '/' {
		return errTarget
	}
	for _, c := range target {
		if c <= ' ' || c == 0x7f || c == '#' {
			return errTarget
		}
	}
	req.Path, req.Query, _ = bytes.Cut(target, []byte("?"))
	return nil
}

// headerState collects what the header fields said, to be judged once the
// whole block has been read (so the status does not depend on field order).
type headerState struct {
	hosts, keys, origins int
	upgrade, connection  bool
	version13            bool
	body                 bool
}

// field parses one header field line and records what matters.
func (h *headerState) field(line []byte, req *Request) *HTTPError {
	name, value, ok := bytes.Cut(line, []byte(":"))
	if !ok || !isToken(name) {
		return errHeaderLine // also refuses obs-fold and "Name :"
	}
	value = trimOWS(value)
	if !isFieldValue(value) {
		return errHeaderLine
	}
	h.record(name, value, req)
	return nil
}

// record files a syntactically valid header field.
func (h *headerState) record(name, value []byte, req *Request) {
	switch {
	case equalFold(name, "host"):
		h.hosts++
		req.Host = value
	case equalFold(name, "upgrade"):
		h.upgrade = h.upgrade || hasToken(value, "websocket")
	case equalFold(name, "connection"):
		h.connection = h.connection || hasToken(value, "upgrade")
	case equalFold(name, "sec-websocket-key"):
		h.keys++
		req.Key = value
	case equalFold(name, "sec-websocket-version"):
		h.version13 = h.version13 || hasToken(value, "13")
	case equalFold(name, "origin"):
		h.origins++
		req.Origin = value
	case equalFold(name, "x-forwarded-for"):
		req.XForwardedFor = value
	case equalFold(name, "transfer-encoding"):
		h.body = true
	case equalFold(name, "content-length"):
		h.body = h.body || string(value) != "0"
	}
}

// finish judges the collected fields. Not a WebSocket request at all (400)
// comes before a wrong version (426), which comes before a bad key (400):
// an old client without a key learns which version to speak.
func (h *headerState) finish(req *Request) *HTTPError {
	switch {
	case h.hosts != 1 || !isHost(req.Host):
		return errHost
	case h.body:
		return errBody
	case !h.upgrade:
		return errUpgrade
	case !h.connection:
		return errConnection
	case !h.version13:
		return errVersion
	case h.keys != 1 || !validKey(req.Key):
		return errKey
	case h.origins > 1:
		return errOrigin
	}
	return nil
}

// strictBase64 refuses non-zero padding bits, so a key has exactly one
// spelling. Computed once: Strict returns a new *Encoding on every call.
var strictBase64 = base64.StdEncoding.Strict()

// validKey reports whether key is the base64 encoding of 16 bytes
// (RFC 6455 section 4.2.1, item 5).
func validKey(key []byte) bool {
	var raw [18]byte
	if len(key) != 24 {
		return false
	}
	n, err := strictBase64.Decode(raw[:], key)
	return err == nil && n == 16
}

// AppendAccept appends the "HTTP/1.1 101 Switching Protocols" response
// (Upgrade, Connection, and Sec-WebSocket-Accept computed per RFC 6455
// section 4.2.2) to dst.
func AppendAccept(dst []byte, key []byte) []byte {
	dst = append(dst, "HTTP/1.1 101 Switching Protocols\r\n"+
		"Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: "...)
	dst = appendAcceptKey(dst, key)
	return append(dst, "\r\n\r\n"...)
}

// appendAcceptKey appends base64(SHA-1(key + GUID)). The concatenation is
// built on the stack for keys of the valid length, so it does not allocate.
func appendAcceptKey(dst, key []byte) []byte {
	var b [64]byte
	s := b[:0]
	if len(key)+len(acceptGUID) > len(b) {
		s = make([]byte, 0, len(key)+len(acceptGUID))
	}
	s = append(append(s, key...), acceptGUID...)
	sum := sha1.Sum(s)
	return base64.StdEncoding.AppendEncode(dst, sum[:])
}

// AppendHTTPError appends a complete HTTP/1.1 error response (status line,
// Content-Type: text/plain, Content-Length, Connection: close, plus
// Sec-WebSocket-Version: 13 for 426) whose body is the reason, to dst.
func AppendHTTPError(dst []byte, e *HTTPError) []byte {
	dst = append(dst, "HTTP/1.1 "...)
	dst = strconv.AppendInt(dst, int64(e.Status), 10)
	dst = append(dst, ' ')
	dst = append(dst, statusText(e.Status)...)
	dst = append(dst, "\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: "...)
	dst = strconv.AppendInt(dst, int64(len(e.Reason)), 10)
	dst = append(dst, "\r\nConnection: close\r\n"...)
	if e.Status == 426 {
		dst = append(dst, "Sec-WebSocket-Version: 13\r\n"...)
	}
	dst = append(dst, "\r\n"...)
	return append(dst, e.Reason...)
}

// statusText is the reason phrase of the statuses a WebSocket endpoint
// sends; a small table instead of importing net/http into the codec.
func statusText(status int) string {
	switch status {
	case 400:
		return "Bad Request"
	case 401:
		return "Unauthorized"
	case 403:
		return "Forbidden"
	case 404:
		return "Not Found"
	case 405:
		return "Method Not Allowed"
	case 408:
		return "Request Timeout"
	case 426:
		return "Upgrade Required"
	case 429:
		return "Too Many Requests"
	case 431:
		return "Request Header Fields Too Large"
	case 500:
		return "Internal Server Error"
	case 503:
		return "Service Unavailable"
	case 505:
		return "HTTP Version Not Supported"
	}
	return "Error"
}
