package conformance

// utf8Validator is an incremental UTF-8 validator (RFC 3629: no overlongs,
// no surrogates, nothing above U+10FFFF). It can be fed a message in pieces
// that end anywhere, also inside a code point.
type utf8Validator struct {
	need   int  // continuation bytes still expected for the current code point
	lo, hi byte // allowed range of the next continuation byte
	bad    bool
}

func (v *utf8Validator) reset() { *v = utf8Validator{} }

// feed validates p. It returns false once invalid input has been seen.
func (v *utf8Validator) feed(p []byte) bool {
	if v.bad {
		return false
	}
	for _, b := range p {
		if v.need > 0 {
			if b < v.lo || b > v.hi {
				v.bad = true
				return false
			}
			v.need--
			v.lo, v.hi = 0x80, 0xBF
			continue
		}
		switch {
		case b < 0x80:
		case b >= 0xC2 && b <= 0xDF:
			v.need, v.lo, v.hi = 1, 0x80, 0xBF
		case b == 0xE0:
			v.need, v.lo, v.hi = 2, 0xA0, 0xBF
		case b >= 0xE1 && b <= 0xEC, b == 0xEE, b == 0xEF:
			v.need, v.lo, v.hi = 2, 0x80, 0xBF
		case b == 0xED:
			v.need, v.lo, v.hi = 2, 0x80, 0x9F
		case b == 0xF0:
			v.need, v.lo, v.hi = 3, 0x90, 0xBF
		case b >= 0xF1 && b <= 0xF3:
			v.need, v.lo, v.hi = 3, 0x80, 0xBF
		case b == 0xF4:
			v.need, v.lo, v.hi = 3, 0x80, 0x8F
		default:
			v.bad = true
			return false
		}
	}
	return true
}

// complete reports whether everything fed so far is valid and ends on a code
// point boundary.
func (v *utf8Validator) complete() bool { return !v.bad && v.need == 0 }

// validUTF8 reports whether p is complete, valid UTF-8.
func validUTF8(p []byte) bool {
	var v utf8Validator
	return v.feed(p) && v.complete()
}
