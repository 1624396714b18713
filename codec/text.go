package codec

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// The rules for user text. Names and content are HTML-escaped on the way
// out (escape.go), which makes them safe as markup but not as text: a
// control character is a terminal escape in a log or a console client,
// and a bidirectional override reorders what follows it on the page. So
// both are refused here, before anything is sent.
//
// Names may not contain C0 or C1 control characters (NUL and ESC
// included), DEL, line or paragraph separators (U+2028, U+2029) or any
// bidirectional control (Unicode's Bidi_Control: U+061C, U+200E, U+200F,
// U+202A-U+202E, U+2066-U+2069), and must have at least one visible
// character: a name of only zero-width spaces, joiners, soft hyphens,
// combining marks, variation selectors or other default-ignorable code
// points looks like no name at all. Invisible characters next to visible
// ones stay allowed (ZWJ builds emoji, ZWNJ is needed in Persian).
//
// Content may keep tab and line breaks (LF, CR, CRLF; escaping turns them
// into <br />) but no other control character, and no bidirectional
// override or isolate (U+202A-U+202E, U+2066-U+2069); the marks LRM, RLM
// and ALM, which right-to-left writers type, stay allowed.

// The bad_name, bad_content and too_long replies of this package
// (preallocated; callers must not modify them).
var (
	replyBadName        = &Reply{CodeBadName, "name must have 1 to 32 characters"}
	replyNameControl    = &Reply{CodeBadName, "name must not contain control characters or line breaks"}
	replyNameBidi       = &Reply{CodeBadName, "name must not contain bidirectional control characters"}
	replyNameInvisible  = &Reply{CodeBadName, "name must have a visible character"}
	replyBadContent     = &Reply{CodeBadContent, "content is empty"}
	replyContentControl = &Reply{CodeBadContent, "content must not contain control characters other than tab and line breaks"}
	replyContentBidi    = &Reply{CodeBadContent, "content must not contain bidirectional overrides or isolates"}
	replyTooLong        = &Reply{CodeTooLong, "content is too long"}
)

// ValidName trims white space and checks the name: 1 to 32 characters
// (runes), and the character rules above. It returns the trimmed name
// (which aliases raw) or a *Reply with code bad_name. Every way a name
// reaches the server (a login of any dialect, a token's claim) goes
// through it. It does not allocate.
func ValidName(raw string) (string, error) {
	name := strings.TrimSpace(raw)
	if printableASCII(name) { // the common case: no rune decoding, no table
		if len(name) == 0 || len(name) > MaxNameRunes {
			return "", replyBadName
		}
		return name, nil
	}
	if n := utf8.RuneCountInString(name); n > MaxNameRunes {
		return "", replyBadName
	}
	if r := nameChars(name); r != nil {
		return "", r
	}
	return name, nil
}

// printableASCII reports whether s is only bytes 0x20-0x7E.
func printableASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i]-0x20 > 0x7e-0x20 {
			return false
		}
	}
	return true
}

// nameChars applies the character rules to a trimmed name of at most
// MaxNameRunes runes; nil means it passes.
func nameChars(name string) *Reply {
	visible := false
	for _, r := range name {
		switch {
		case r < 0x20 || r >= 0x7f && r <= 0x9f || r == '\u2028' || r == '\u2029':
			return replyNameControl
		case isBidiControl(r):
			return replyNameBidi
		case !visible:
			visible = isVisible(r)
		}
	}
	if !visible {
		return replyNameInvisible // also the empty name
	}
	return nil
}

// isBidiControl reports whether r has Unicode's Bidi_Control property.
func isBidiControl(r rune) bool {
	return r == '\u061c' || r == '\u200e' || r == '\u200f' ||
		r >= '\u202a' && r <= '\u202e' || r >= '\u2066' && r <= '\u2069'
}

// isVisible reports whether r shows something on its own: not white
// space, a format character (Cf: zero-width space and joiners, soft
// hyphen, BOM, tags...), a non-spacing or enclosing combining mark, a
// variation selector or another default-ignorable code point (Hangul
// fillers among them), nor the blank Braille pattern U+2800.
func isVisible(r rune) bool {
	if r < utf8.RuneSelf {
		return r > ' ' && r < 0x7f
	}
	return !unicode.IsSpace(r) && r != '\u2800' &&
		!unicode.In(r, unicode.Cc, unicode.Cf, unicode.Mn, unicode.Me,
			unicode.Variation_Selector, unicode.Other_Default_Ignorable_Code_Point)
}

// ValidContent refuses content longer than maxBytes bytes before escaping
// (too_long; checked first, as it is the cheapest test), empty or
// white-space-only content (bad_content), and content that breaks the
// character rules above (bad_content, with a reason). maxBytes <= 0 means
// no limit. It does not allocate.
func ValidContent(raw string, maxBytes int) error {
	if maxBytes > 0 && len(raw) > maxBytes {
		return replyTooLong
	}
	if strings.TrimSpace(raw) == "" {
		return replyBadContent
	}
	if r := contentChars(raw); r != nil {
		return r
	}
	return nil
}

// contentClass sorts the bytes contentChars looks at: 0 passes, 1 is a
// refused control byte, 2 and 3 are the lead bytes of the refused
// multi-byte sequences (C1 controls: C2 80-9F; overrides and isolates:
// E2 80 AA-AE, E2 81 A6-A9). Text is valid UTF-8 (frames are checked),
// where a lead byte is never a continuation byte, so a byte-wise scan
// cannot match in the middle of another character. One load and one
// branch per byte for the common case, as in AppendEscaped.
var contentClass = func() (t [256]uint8) {
	for c := 0; c < 0x20; c++ {
		t[c] = 1
	}
	t['\t'], t['\n'], t['\r'], t[0x7f] = 0, 0, 0, 1
	t[0xc2], t[0xe2] = 2, 3
	return t
}()

// contentChars applies the character rules to content; nil means it
// passes. Eight bytes of printable ASCII are passed at a time; a block
// with anything else is looked at byte by byte.
func contentChars(s string) *Reply {
	for i := 0; i < len(s); {
		if i+8 <= len(s) && printable8(load64(s, i)) {
			i += 8
			continue
		}
		for end := min(i+8, len(s)); i < end; i++ {
			if r := contentByte(s, i); r != nil {
				return r
			}
		}
	}
	return nil
}

// contentByte judges the byte at s[i] (and the sequence it leads).
func contentByte(s string, i int) *Reply {
	switch contentClass[s[i]] {
	case 1:
		return replyContentControl
	case 2:
		if i+1 < len(s) && s[i+1] < 0xa0 {
			return replyContentControl
		}
	case 3:
		if i+2 < len(s) && isOverride(s[i+1], s[i+2]) {
			return replyContentBidi
		}
	}
	return nil
}

// load64 returns s[i:i+8] as a little-endian word (the compiler makes
// it one load).
func load64(s string, i int) uint64 {
	s = s[i : i+8]
	return uint64(s[0]) | uint64(s[1])<<8 | uint64(s[2])<<16 | uint64(s[3])<<24 |
		uint64(s[4])<<32 | uint64(s[5])<<40 | uint64(s[6])<<48 | uint64(s[7])<<56
}

// printable8 reports whether the eight bytes of w are all in 0x20-0x7E:
// a byte below 0x20 borrows into its top bit when 0x20 is subtracted,
// 0x7F carries into it when 1 is added, and 0x80-0xFF have it already.
// (Borrows and carries crossing into the next byte only follow a byte
// that is itself flagged.)
func printable8(w uint64) bool {
	const lo, ones, hi = 0x2020202020202020, 0x0101010101010101, 0x8080808080808080
	return ((w-lo)&^w|w|(w+ones))&hi == 0
}

// isOverride reports whether E2 b1 b2 encodes U+202A-U+202E or
// U+2066-U+2069.
func isOverride(b1, b2 byte) bool {
	return b1 == 0x80 && b2 >= 0xaa && b2 <= 0xae || b1 == 0x81 && b2 >= 0xa6 && b2 <= 0xa9
}
