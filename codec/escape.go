package codec

// escapeClass marks the bytes AppendEscaped replaces: 1 for the HTML
// specials, 2 for line breaks.
var escapeClass = [256]uint8{'&': 1, '<': 1, '>': 1, '"': 1, '\r': 2, '\n': 2}

// AppendEscaped appends s HTML-escaped (& < > " become &amp; &lt; &gt;
// &quot;) to dst. When breaks is true, "<br />" is inserted before each line
// break and the break is kept: before "\n", before a "\r\n" pair (once), and
// before a lone "\r" (which browsers also render as a break).
func AppendEscaped(dst []byte, s string, breaks bool) []byte {
	last := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if k := escapeClass[c]; k == 0 || k == 2 && !breaks {
			continue
		}
		dst = append(dst, s[last:i]...)
		switch c {
		case '&':
			dst = append(dst, "&amp;"...)
		case '<':
			dst = append(dst, "&lt;"...)
		case '>':
			dst = append(dst, "&gt;"...)
		case '"':
			dst = append(dst, "&quot;"...)
		case '\r':
			dst = append(dst, "<br />\r"...)
			if i+1 < len(s) && s[i+1] == '\n' {
				dst = append(dst, '\n')
				i++
			}
		case '\n':
			dst = append(dst, "<br />\n"...)
		}
		last = i + 1
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
