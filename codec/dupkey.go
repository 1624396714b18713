package codec

import "bytes"

// A message that gives a field twice ({"type":"say","type":"pong"}) is
// ambiguous: sonic keeps the last string, but a null after a string keeps
// the string ({"name":"0","name":null}), encoding/json keeps the last value,
// PHP (workerman-chat) the last, some parsers the first. RFC 8259 section 4
// says names "SHOULD be unique" and leaves the behaviour unpredictable when
// they are not. DecodeInbound answers bad_json rather than guess
// (FuzzDecodeInbound found the disagreement with encoding/json).
//
// Only the fields DecodeInbound reads are checked: a repeated unknown key
// changes nothing, and telling it apart would need a set of every key (an
// allocation, or quadratic time on a 64 KiB message of short keys). The
// check is one pass over the payload, without allocation, after sonic
// has validated it.

// fieldBit returns the bit of key among the fields of inboundJSON, or 0 for
// a key DecodeInbound does not read. Keys are matched exactly, as sonic
// matches them (OptionCaseSensitive).
func fieldBit(key string) uint16 {
	switch key {
	case "type":
		return 1 << 0
	case "name":
		return 1 << 1
	case "client_name":
		return 1 << 2
	case "room_id":
		return 1 << 3
	case "to_uid":
		return 1 << 4
	case "to_client_id":
		return 1 << 5
	case "content":
		return 1 << 6
	case "history":
		return 1 << 7
	case "since":
		return 1 << 8
	}
	return 0
}

// repeatsField reports whether a key that DecodeInbound reads appears more
// than once among the keys of the object b, which must be valid JSON (the
// scan trusts its structure). Nested objects are values; their keys are
// not looked at.
func repeatsField(b []byte) bool {
	var seen uint16
	depth, wantKey := 0, false
	for i := 0; i < len(b); i++ {
		switch b[i] {
		case '"':
			end := stringEnd(b, i)
			if depth == 1 && wantKey {
				bit := fieldOf(b[i+1 : end])
				if seen&bit != 0 {
					return true
				}
				seen, wantKey = seen|bit, false
			}
			i = end
		case '{', '[':
			depth++
			wantKey = depth == 1 // b is an object: only its '{' is at depth 1
		case '}', ']':
			depth--
		case ',':
			wantKey = depth == 1
		}
	}
	return false
}

// stringEnd returns the index of the quote that closes the JSON string
// opening at b[i], or len(b)-1 if it is not closed. It jumps from quote to
// quote with bytes.IndexByte (vectorised): most of a say is its content.
func stringEnd(b []byte, i int) int {
	for {
		k := bytes.IndexByte(b[i+1:], '"')
		if k < 0 {
			return len(b) - 1
		}
		i += 1 + k
		if escapedQuote(b, i) {
			continue
		}
		return i
	}
}

// escapedQuote reports whether the quote b[i] is escaped: preceded by an
// odd number of backslashes (the string's opening quote stops the count).
func escapedQuote(b []byte, i int) bool {
	odd := false
	for j := i - 1; j >= 0 && b[j] == '\\'; j-- {
		odd = !odd
	}
	return odd
}

// fieldOf returns fieldBit of the key whose JSON string body is raw, as
// sonic matches it: escapes decoded ({"typ\u0065":"pong"} is "type").
func fieldOf(raw []byte) uint16 {
	for _, c := range raw {
		if c == '\\' {
			var buf [len("to_client_id")]byte // on the stack: fieldBit keeps nothing
			n, ok := unescapeKey(raw, &buf)
			if !ok {
				return 0
			}
			return fieldBit(aliasString(buf[:n]))
		}
	}
	return fieldBit(aliasString(raw))
}

// unescapeKey decodes the escapes of raw into buf and returns its length.
// A key longer than buf, or with an escape of a control character or of
// a character outside ASCII, is none of the fields: ok is false.
func unescapeKey(raw []byte, buf *[len("to_client_id")]byte) (n int, ok bool) {
	for i := 0; i < len(raw); i++ {
		c := raw[i]
		if c == '\\' && i+1 < len(raw) {
			i++
			switch c = raw[i]; c {
			case '"', '\\', '/':
			case 'u':
				if i+4 >= len(raw) || !isHex4(raw[i+1:i+5]) || !isASCIIEscape(raw[i+1:i+5]) {
					return 0, false
				}
				c, i = hexByte(raw[i+3])<<4|hexByte(raw[i+4]), i+4
			default:
				return 0, false // \b \f \n \r \t: no field holds a control character
			}
		}
		if n == len(buf) {
			return 0, false
		}
		buf[n], n = c, n+1
	}
	return n, true
}

// isASCIIEscape reports whether the four hex digits h are below 0x80.
func isASCIIEscape(h []byte) bool {
	return h[0] == '0' && h[1] == '0' && hexByte(h[2]) < 8
}

// hexByte returns the value of the hex digit c.
func hexByte(c byte) byte {
	switch {
	case c <= '9':
		return c - '0'
	case c <= 'F':
		return c - 'A' + 10
	}
	return c - 'a' + 10
}
