package codec

import (
	"math/rand/v2"
	"sync"
	"testing"
	"unicode/utf8"
)

// incompletePrefixes holds every proper prefix of the UTF-8 encoding of
// every valid rune: the naive reference for "can still become valid".
var incompletePrefixes = sync.OnceValue(func() map[string]bool {
	set := make(map[string]bool)
	var b [4]byte
	for r := rune(0x80); r <= utf8.MaxRune; r++ {
		if !utf8.ValidRune(r) {
			continue
		}
		n := utf8.EncodeRune(b[:], r)
		for i := 1; i < n; i++ {
			set[string(b[:i])] = true
		}
	}
	return set
})

// validPrefix is the naive reference: p is valid UTF-8 up to a possibly
// incomplete last character that some bytes could still complete.
func validPrefix(p []byte) bool {
	for i := 0; i < len(p); {
		if !utf8.FullRune(p[i:]) {
			return incompletePrefixes()[string(p[i:])]
		}
		r, size := utf8.DecodeRune(p[i:])
		if r == utf8.RuneError && size == 1 {
			return false
		}
		i += size
	}
	return true
}

// randomText mixes ASCII, valid runes of every length, and random bytes.
func randomText(rng *rand.Rand, n int) []byte {
	var b []byte
	for len(b) < n {
		switch rng.IntN(8) {
		case 0:
			b = append(b, byte(rng.Uint32()))
		case 1:
			b = append(b, 0xe0|byte(rng.IntN(32)), 0x80|byte(rng.IntN(64))) // often truncated
		case 2, 3:
			b = utf8.AppendRune(b, rune(rng.IntN(utf8.MaxRune+1)))
		default:
			b = append(b, 'a'+byte(rng.IntN(26)))
		}
	}
	return b
}

// TestUTF8Incremental is a differential test of utf8State against the naive
// references: after each fragment, feed must fail exactly when the text so
// far cannot be completed (fail fast), and at the end the verdict must be
// utf8.Valid's.
func TestUTF8Incremental(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	for i := range 3000 {
		text := randomText(rng, rng.IntN(40))
		if i%3 == 0 { // mostly valid texts, so that failures come late
			text = []byte(string([]rune(string(text))))
		}
		var s utf8State
		ok, at := true, 0
		for _, k := range randomChunks(rng, len(text)) {
			at += k
			ok = s.feed(text[at-k : at])
			if want := validPrefix(text[:at]); ok != want {
				t.Fatalf("feed(%q in pieces, through %d) = %v; want %v", text, at, ok, want)
			}
			if !ok {
				break
			}
		}
		if got, want := ok && s.done(), utf8.Valid(text); got != want {
			t.Fatalf("feed(%q) then done() = %v; want utf8.Valid = %v", text, got, want)
		}
	}
}

func TestUTF8Edges(t *testing.T) {
	tests := []struct {
		name  string
		parts []string
		want  bool
	}{
		{"empty", nil, true},
		{"max rune split", []string{"\xf4", "\x8f\xbf", "\xbf"}, true},
		{"over max rune", []string{"\xf4", "\x90"}, false},
		{"surrogate split", []string{"\xed", "\xa0\x80"}, false},
		{"last before surrogates", []string{"\xed\x9f", "\xbf"}, true},
		{"overlong 3-byte", []string{"\xe0", "\x9f\xbf"}, false},
		{"overlong 4-byte", []string{"\xf0\x8f", "\xbf\xbf"}, false},
		{"lone continuation", []string{"a", "\x80"}, false},
		{"C0 lead", []string{"\xc0"}, false},
		{"F5 lead", []string{"\xf5"}, false},
		{"incomplete at end", []string{"\xf0\x9f\x98"}, false},
		{"emoji byte by byte", []string{"\xf0", "\x9f", "\x98", "\x80"}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var s utf8State
			ok := true
			for _, p := range tt.parts {
				ok = ok && s.feed([]byte(p))
			}
			if got := ok && s.done(); got != tt.want {
				t.Errorf("feed(%q) = %v; want %v", tt.parts, got, tt.want)
			}
		})
	}
}
