package codec

import "unicode/utf8"

// utf8State validates a text message that arrives in fragments. Between
// fragments it carries only the state of an incomplete trailing sequence:
// how many continuation bytes are still due and the range the next one must
// fall in (RFC 3629 section 4; the range excludes overlong forms,
// surrogates and code points above U+10FFFF). Each byte is judged as soon as
// it arrives, so an invalid fragment fails before the message is complete.
type utf8State struct {
	left   uint8 // continuation bytes still due; 0 at a character boundary
	lo, hi uint8 // allowed range of the next byte while left > 0
}

// feed validates the next fragment. It returns false as soon as the bytes
// seen so far cannot be the start of valid UTF-8.
func (s *utf8State) feed(p []byte) bool {
	for len(p) > 0 && s.left > 0 {
		if !s.step(p[0]) {
			return false
		}
		p = p[1:]
	}
	cut := tailStart(p)
	// The bulk goes through utf8.Valid, which has an ASCII fast path.
	if !utf8.Valid(p[:cut]) {
		return false
	}
	for i, c := range p[cut:] {
		if i == 0 && !s.lead(c) || i > 0 && !s.step(c) {
			return false
		}
	}
	return true
}

// done reports whether the text ended on a character boundary.
func (s *utf8State) done() bool { return s.left == 0 }

// step consumes one continuation byte.
func (s *utf8State) step(c byte) bool {
	if c < s.lo || c > s.hi {
		return false
	}
	s.left--
	s.lo, s.hi = 0x80, 0xbf
	return true
}

// lead starts a multi-byte sequence with lead byte c.
func (s *utf8State) lead(c byte) bool {
	s.lo, s.hi = 0x80, 0xbf
	switch {
	case c >= 0xc2 && c <= 0xdf:
		s.left = 1
	case c == 0xe0:
		s.left, s.lo = 2, 0xa0
	case c == 0xed:
		s.left, s.hi = 2, 0x9f
	case c >= 0xe1 && c <= 0xef:
		s.left = 2
	case c == 0xf0:
		s.left, s.lo = 3, 0x90
	case c == 0xf4:
		s.left, s.hi = 3, 0x8f
	case c >= 0xf1 && c <= 0xf3:
		s.left = 3
	default:
		return false
	}
	return true
}

// tailStart returns the index of an incomplete multi-byte sequence at the
// end of p, or len(p) when p does not end inside a sequence. Only the last
// three bytes can start one.
func tailStart(p []byte) int {
	for i := len(p) - 1; i >= 0 && i >= len(p)-3; i-- {
		c := p[i]
		if c&0xc0 == 0x80 {
			continue // continuation byte: keep looking for the lead
		}
		if c >= 0xc0 && len(p)-i < seqLen(c) {
			return i
		}
		return len(p)
	}
	return len(p)
}

// seqLen is the sequence length a lead byte announces (invalid leads are
// left to lead to refuse).
func seqLen(c byte) int {
	switch {
	case c < 0xe0:
		return 2
	case c < 0xf0:
		return 3
	}
	return 4
}
