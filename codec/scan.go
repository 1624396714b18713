package codec

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
// check rides on the pass that validates escapes (scanPayload): one pass
// over the payload before sonic, without allocation.

// fieldBit returns the bit of key among the fields of inboundJSON, or 0 for
// a key DecodeInbound does not read. Keys are matched exactly, as sonic
// matches them (OptionCaseSensitive).
func fieldBit(key string) uint16 {
	// By length first: each == against a short constant compiles to a
	// word compare or two (a plain string switch, a binary search that
	// calls the runtime's string compare, measured 1.5 times as slow).
	switch len(key) {
	case 4:
		if key == "type" {
			return 1 << 0
		}
		if key == "name" {
			return 1 << 1
		}
	case 5:
		if key == "since" {
			return 1 << 8
		}
	case 6:
		if key == "to_uid" {
			return 1 << 4
		}
	case 7:
		switch key {
		case "room_id":
			return 1 << 3
		case "content":
			return 1 << 6
		case "history":
			return 1 << 7
		}
	case 11:
		if key == "client_name" {
			return 1 << 2
		}
	case 12:
		if key == "to_client_id" {
			return 1 << 5
		}
	}
	return 0
}

// scanPayload is the one pass DecodeInbound makes over a payload before
// sonic. ok reports whether every backslash escape inside its strings is
// one JSON allows (\" \\ \/ \b \f \n \r \t \uXXXX): sonic skips the strings
// of keys it does not decode without checking them (FuzzDecodeInbound
// found {"":"\0"} accepted). repeats reports whether a key DecodeInbound
// reads appears more than once among the object's keys (nested objects
// are values; their keys are not looked at); it is only meaningful if b
// is valid JSON, which sonic decides after.
func scanPayload(b []byte) (ok, repeats bool) {
	var seen uint16
	depth, wantKey := 0, false
	for i := 0; i < len(b); i++ {
		switch b[i] {
		case '"':
			start, end, escaped, valid := i+1, 0, false, true
			if end, escaped, valid = stringEnd(b, start); !valid {
				return false, false
			}
			if depth == 1 && wantKey && end < len(b) {
				bit := fieldOf(b[start:end], escaped)
				repeats = repeats || seen&bit != 0
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
	return true, repeats
}

// stringEnd returns the index of the quote that closes the JSON string
// whose body starts at b[i] (len(b) if it is not closed), whether the
// string has escapes, and whether they are valid. A byte loop: measured
// faster than bytes.IndexByte on the short strings of a chat message
// (keys, "say", names), and its cost is the escape check's of before.
func stringEnd(b []byte, i int) (end int, escaped, valid bool) {
	for ; i < len(b); i++ {
		c := b[i]
		if c == '"' {
			return i, escaped, true
		}
		if c != '\\' {
			continue
		}
		escaped = true
		if i++; i >= len(b) {
			return len(b), true, false
		}
		switch b[i] {
		case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
		case 'u':
			if i+4 >= len(b) || !isHex4(b[i+1:i+5]) {
				return len(b), true, false
			}
			i += 4
		default:
			return len(b), true, false
		}
	}
	return len(b), escaped, true
}

// fieldOf returns fieldBit of the key whose JSON string body is raw, as
// sonic matches it: escapes (if escaped) decoded ({"typ\u0065":"pong"} is
// "type").
func fieldOf(raw []byte, escaped bool) uint16 {
	if !escaped {
		return fieldBit(aliasString(raw))
	}
	var buf [len("to_client_id")]byte // on the stack: fieldBit keeps nothing
	n, ok := unescapeKey(raw, &buf)
	if !ok {
		return 0
	}
	return fieldBit(aliasString(buf[:n]))
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
