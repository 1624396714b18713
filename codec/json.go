package codec

import (
	"strconv"
	"time"
	"unicode/utf8"
)

// The server messages are appended by hand rather than by sonic's encoder:
// encoding a struct through sonic's interface{} API boxes the value and
// allocates on every call, while these appenders allocate nothing beyond
// the growth of dst (pinned by testing.AllocsPerRun) and fix the key order
// of PROTOCOL.md in the code itself. A differential test decodes every
// output with encoding/json and checks values and key order.

// User is one entry of a user_list. Name is already HTML-escaped.
type User struct {
	UID  uint64
	Name string
}

// AppendUserList appends
// {"type":"user_list","user_list":[{"uid":1,"name":"a"},...]} to dst.
func AppendUserList(dst []byte, users []User) []byte {
	dst = append(dst, `{"type":"user_list","user_list":[`...)
	for i, u := range users {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = strconv.AppendUint(append(dst, `{"uid":`...), u.UID, 10)
		dst = appendJSONString(append(dst, `,"name":`...), u.Name)
		dst = append(dst, '}')
	}
	return append(dst, "]}"...)
}

// AppendLogin appends {"type":"login","uid":..,"name":..,"time":..} to dst.
func AppendLogin(dst []byte, uid uint64, name string, t time.Time) []byte {
	dst = strconv.AppendUint(append(dst, `{"type":"login","uid":`...), uid, 10)
	dst = appendJSONString(append(dst, `,"name":`...), name)
	return appendTimeField(dst, t)
}

// AppendSay appends
// {"type":"say","from_uid":..,"to_uid":..,"content":..,"time":..} to dst;
// to_uid is "all" when toAll, else the number to.
func AppendSay(dst []byte, from uint64, toAll bool, to uint64, content string, t time.Time) []byte {
	dst = strconv.AppendUint(append(dst, `{"type":"say","from_uid":`...), from, 10)
	if toAll {
		dst = append(dst, `,"to_uid":"all"`...)
	} else {
		dst = strconv.AppendUint(append(dst, `,"to_uid":`...), to, 10)
	}
	dst = appendJSONString(append(dst, `,"content":`...), content)
	return appendTimeField(dst, t)
}

// AppendLogout appends {"type":"logout","uid":..,"time":..} to dst.
func AppendLogout(dst []byte, uid uint64, t time.Time) []byte {
	dst = strconv.AppendUint(append(dst, `{"type":"logout","uid":`...), uid, 10)
	return appendTimeField(dst, t)
}

// AppendReply appends {"type":"error","code":..,"reason":..} to dst.
func AppendReply(dst []byte, r *Reply) []byte {
	dst = appendJSONString(append(dst, `{"type":"error","code":`...), r.Code)
	dst = appendJSONString(append(dst, `,"reason":`...), r.Reason)
	return append(dst, '}')
}

// appendTimeField appends `,"time":"..."}`, the tail of most messages.
func appendTimeField(dst []byte, t time.Time) []byte {
	dst = AppendTime(append(dst, `,"time":"`...), t)
	return append(dst, `"}`...)
}

// AppendTime appends t as YYYY-MM-DD HH:MM:SS in t's location, without
// quotes. It formats by hand (about 4x faster than t.AppendFormat); years
// outside 0..9999 fall back to AppendFormat.
func AppendTime(dst []byte, t time.Time) []byte {
	year, month, day := t.Date()
	if year < 0 || year > 9999 {
		return t.AppendFormat(dst, time.DateTime)
	}
	hour, min, sec := t.Clock()
	dst = append(dst, byte('0'+year/1000), byte('0'+year/100%10),
		byte('0'+year/10%10), byte('0'+year%10), '-')
	dst = append2(dst, int(month), '-')
	dst = append2(dst, day, ' ')
	dst = append2(dst, hour, ':')
	dst = append2(dst, min, ':')
	return append(dst, byte('0'+sec/10), byte('0'+sec%10))
}

// append2 appends a two-digit number and a separator.
func append2(dst []byte, n int, sep byte) []byte {
	return append(dst, byte('0'+n/10), byte('0'+n%10), sep)
}

// jsonSafe marks the ASCII bytes that need no escape inside a JSON string.
var jsonSafe = func() (t [utf8.RuneSelf]bool) {
	for c := ' '; c < utf8.RuneSelf; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

const hexDigits = "0123456789abcdef"

// appendJSONString appends s as a quoted JSON string, escaping as
// encoding/json does without HTML escaping (the caller already
// HTML-escaped): '"', '\\', control characters, U+2028 and U+2029 (which
// JavaScript does not allow raw in strings); invalid UTF-8 becomes U+FFFD.
func appendJSONString(dst []byte, s string) []byte {
	dst = append(dst, '"')
	last := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if jsonSafe[c] {
				i++
				continue
			}
			dst = appendEscapedByte(append(dst, s[last:i]...), c)
			i++
			last = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 || r == '\u2028' || r == '\u2029' {
			dst = append(dst, s[last:i]...)
			dst = appendUnicodeEscape(dst, r)
			last = i + size
		}
		i += size
	}
	return append(append(dst, s[last:]...), '"')
}

// appendEscapedByte appends the JSON escape of an ASCII byte.
func appendEscapedByte(dst []byte, c byte) []byte {
	switch c {
	case '"', '\\':
		return append(dst, '\\', c)
	case '\n':
		return append(dst, '\\', 'n')
	case '\r':
		return append(dst, '\\', 'r')
	case '\t':
		return append(dst, '\\', 't')
	}
	return append(dst, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
}

// appendUnicodeEscape appends \uXXXX for a rune of the basic plane.
func appendUnicodeEscape(dst []byte, r rune) []byte {
	return append(dst, '\\', 'u', hexDigits[r>>12&0xf], hexDigits[r>>8&0xf],
		hexDigits[r>>4&0xf], hexDigits[r&0xf])
}
