package codec

// Byte classes of RFC 9110 section 5.6, as lookup tables.
var (
	tokenChars [256]bool // tchar
	hostChars  [256]bool // reg-name, IP literal and port characters
)

func init() {
	for c := 'a'; c <= 'z'; c++ {
		tokenChars[c], tokenChars[c-'a'+'A'] = true, true
		hostChars[c], hostChars[c-'a'+'A'] = true, true
	}
	for c := '0'; c <= '9'; c++ {
		tokenChars[c], hostChars[c] = true, true
	}
	for _, c := range []byte("!#$%&'*+-.^_`|~") {
		tokenChars[c] = true
	}
	for _, c := range []byte("-._~!$&'()*+,;=:[]%") {
		hostChars[c] = true
	}
}

// isToken reports whether b is a non-empty RFC 9110 token.
func isToken(b []byte) bool {
	for _, c := range b {
		if !tokenChars[c] {
			return false
		}
	}
	return len(b) > 0
}

// isHost reports whether b is a plausible non-empty Host value (uri-host
// [":" port]); it refuses white space, '/', '@' and control characters.
func isHost(b []byte) bool {
	for _, c := range b {
		if !hostChars[c] {
			return false
		}
	}
	return len(b) > 0
}

// isFieldValue reports whether b holds no control characters other than
// HTAB (RFC 9110 section 5.5; a bare CR inside a line is refused).
func isFieldValue(b []byte) bool {
	for _, c := range b {
		if (c < ' ' && c != '\t') || c == 0x7f {
			return false
		}
	}
	return true
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

// trimOWS trims optional white space (SP and HTAB) from both ends of b.
func trimOWS(b []byte) []byte {
	for len(b) > 0 && (b[0] == ' ' || b[0] == '\t') {
		b = b[1:]
	}
	for len(b) > 0 && (b[len(b)-1] == ' ' || b[len(b)-1] == '\t') {
		b = b[:len(b)-1]
	}
	return b
}

// lower folds an ASCII letter to lower case.
func lower(c byte) byte {
	if 'A' <= c && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}

// equalFold reports whether b equals the lower-case ASCII string s, ignoring
// ASCII case (bytes.EqualFold also folds Unicode, which HTTP does not).
func equalFold(b []byte, s string) bool {
	if len(b) != len(s) {
		return false
	}
	for i := range b {
		if lower(b[i]) != s[i] {
			return false
		}
	}
	return true
}

// hasToken reports whether the comma-separated list v holds the lower-case
// token tok, ignoring ASCII case and optional white space.
func hasToken(v []byte, tok string) bool {
	for len(v) > 0 {
		var item []byte
		item, v = cutByte(v, ',')
		if equalFold(trimOWS(item), tok) {
			return true
		}
	}
	return false
}

// cutByte splits b around the first c.
func cutByte(b []byte, c byte) (before, after []byte) {
	for i := range b {
		if b[i] == c {
			return b[:i], b[i+1:]
		}
	}
	return b, nil
}
