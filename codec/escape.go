package codec

// escapeClass marks the bytes AppendEscaped looks at: 1 for the HTML
// specials, 2 for line breaks. A byte table keeps the common case (nothing
// to escape) to one load and one branch per byte.
var escapeClass = [256]uint8{'&': 1, '<': 1, '>': 1, '"': 1, '\r': 2, '\n': 2}

// AppendEscaped appends s HTML-escaped (& < > " become &amp; &lt; &gt;
// &quot;) to dst. When breaks is true, "<br />" is inserted before each line
// break and the break is kept: before "\n", before a "\r\n" pair (once), and
// before a lone "\r" (which browsers also render as a break).
func AppendEscaped(dst []byte, s string, breaks bool) []byte {
	last := 0
	for i := 0; i < len(s); i++ {
		switch escapeClass[s[i]] {
		case 1:
			dst = append(append(dst, s[last:i]...), htmlEntity(s[i])...)
			last = i + 1
		case 2:
			if breaks {
				dst = append(append(dst, s[last:i]...), "<br />"...)
				last = i // the break itself is copied with what follows
				if s[i] == '\r' && i+1 < len(s) && s[i+1] == '\n' {
					i++
				}
			}
		}
	}
	return append(dst, s[last:]...)
}

// EscapeString returns s HTML-escaped as AppendEscaped does, as a new
// string that never aliases s: safe to keep when s aliases a payload (as
// the strings of DecodeInbound do). It allocates exactly once.
func EscapeString(s string, breaks bool) string {
	return string(AppendEscaped(make([]byte, 0, escapedLen(s, breaks)), s, breaks))
}

// escapedLen is the length of s after AppendEscaped, so that EscapeString
// can size its buffer exactly.
func escapedLen(s string, breaks bool) int {
	n := len(s)
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '&' || c == '<' || c == '>' || c == '"':
			n += len(htmlEntity(c)) - 1
		case breaks && (c == '\n' || c == '\r' && (i+1 == len(s) || s[i+1] != '\n')):
			n += len("<br />")
		}
	}
	return n
}
