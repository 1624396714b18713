package server

import (
	"strings"

	"chatd/codec"
)

// errOrigin refuses a browser page that is not on the allow-list
// (cross-site WebSocket hijacking, RFC 6455 section 10.2).
var errOrigin = &codec.HTTPError{Status: 403, Reason: "origin not allowed"}

// originAllowed reports whether a handshake with origin may proceed. An
// empty allow-list allows all; a request without Origin is not from a
// browser and is allowed.
func (s *Server) originAllowed(origin []byte) bool {
	pats := s.cfg.AllowedOrigins
	if len(pats) == 0 || len(origin) == 0 {
		return true
	}
	o := strings.ToLower(string(origin))
	for _, p := range pats {
		if globMatch(strings.ToLower(p), o) {
			return true
		}
	}
	return false
}

// globMatch reports whether s matches pattern p, where '*' matches any
// run of bytes (including '/' and '.') and '?' any one byte. Iterative
// with one backtrack point, so it is linear-ish and cannot blow up.
func globMatch(p, s string) bool {
	pi, si := 0, 0
	star, mark := -1, 0
	for si < len(s) {
		switch {
		case pi < len(p) && (p[pi] == '?' || p[pi] == s[si]):
			pi++
			si++
		case pi < len(p) && p[pi] == '*':
			star, mark = pi, si
			pi++
		case star >= 0:
			pi = star + 1
			mark++
			si = mark
		default:
			return false
		}
	}
	for pi < len(p) && p[pi] == '*' {
		pi++
	}
	return pi == len(p)
}
