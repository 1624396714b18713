package codec

import (
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"
)

func replyReason(err error) string {
	if r, ok := err.(*Reply); ok && r != nil {
		return r.Reason
	}
	return ""
}

func TestValidNameCharacters(t *testing.T) {
	tests := []struct {
		name, raw string
		reason    string // "" = accepted
	}{
		{"ascii", "mynick", ""},
		{"inner space", "a b", ""},
		{"cjk", "猪猪", ""},
		{"accented", "José", ""},
		{"decomposed accent", "Jose\u0301", ""},
		{"emoji zwj sequence", "👩\u200d💻", ""},
		{"persian zwnj", "می\u200cخواهم", ""},
		{"hebrew", "שלום", ""},
		{"inner nbsp", "a\u00a0b", ""},
		{"zero-width space only", "\u200b", replyNameInvisible.Reason},
		{"zero-width mix only", "\u200b\u200c\u200d\u2060\ufeff", replyNameInvisible.Reason},
		{"invisible operators", "\u2061\u2062\u2063\u2064", replyNameInvisible.Reason},
		{"soft hyphen", "\u00ad\u00ad", replyNameInvisible.Reason},
		{"bom", "\ufeff", replyNameInvisible.Reason},
		{"combining only", "\u0301\u0302", replyNameInvisible.Reason},
		{"enclosing mark only", "\u20dd", replyNameInvisible.Reason},
		{"variation selectors", "\ufe0f\ufe0e", replyNameInvisible.Reason},
		{"hangul filler", "\u3164", replyNameInvisible.Reason},
		{"halfwidth hangul filler", "\uffa0", replyNameInvisible.Reason},
		{"braille blank", "\u2800\u2800", replyNameInvisible.Reason},
		{"tag characters", "\U000e0041\U000e0042", replyNameInvisible.Reason},
		{"zwsp between spaces", " \u200b ", replyNameInvisible.Reason},
		{"nul", "a\x00b", replyNameControl.Reason},
		{"esc sequence", "\x1b[31mred", replyNameControl.Reason},
		{"bell", "ding\x07", replyNameControl.Reason},
		{"inner tab", "a\tb", replyNameControl.Reason},
		{"inner newline", "a\nb", replyNameControl.Reason},
		{"del", "a\x7f", replyNameControl.Reason},
		{"c1 csi", "a\u009b31m", replyNameControl.Reason},
		{"nel", "a\u0085b", replyNameControl.Reason},
		{"line separator", "a\u2028b", replyNameControl.Reason},
		{"paragraph separator", "a\u2029b", replyNameControl.Reason},
		{"rlo", "admin\u202egnp.exe", replyNameBidi.Reason},
		{"lre", "\u202aab", replyNameBidi.Reason},
		{"pdf", "ab\u202c", replyNameBidi.Reason},
		{"rli", "a\u2067b", replyNameBidi.Reason},
		{"pdi", "a\u2069", replyNameBidi.Reason},
		{"lrm", "a\u200e", replyNameBidi.Reason},
		{"rlm", "\u200fa", replyNameBidi.Reason},
		{"alm", "a\u061c", replyNameBidi.Reason},
		{"33 runes with a control", strings.Repeat("a", 33) + "\x00", replyBadName.Reason},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ValidName(tt.raw)
			if replyReason(err) != tt.reason || err != nil && replyCode(err) != CodeBadName {
				t.Fatalf("ValidName(%q) = %q, %v; want reason %q", tt.raw, got, err, tt.reason)
			}
			if err == nil && got != strings.TrimSpace(tt.raw) {
				t.Fatalf("ValidName(%q) = %q; want %q", tt.raw, got, strings.TrimSpace(tt.raw))
			}
		})
	}
}

func TestValidContentCharacters(t *testing.T) {
	tests := []struct {
		name, raw string
		reason    string // "" = accepted
	}{
		{"ascii", "hi, all !", ""},
		{"tab", "a\tb", ""},
		{"lf", "line\nline", ""},
		{"crlf", "line\r\nline", ""},
		{"lone cr", "line\rline", ""},
		{"rtl with marks", "שלום\u200f world \u200e!", ""},
		{"alm", "a\u061cb", ""},
		{"zero-width inside", "a\u200bb", ""},
		{"emoji", "ok 👍🏽", ""},
		{"unicode line separator", "a\u2028b", ""},
		{"c2 a0 nbsp", "a\u00a0b", ""},
		{"e2 80 a9", "a\u2029b", ""},
		{"e2 80 af", "a\u202fb", ""}, // narrow no-break space: next to the overrides
		{"e2 81 a5", "a\u2065b", ""}, // unassigned, just before the isolates
		{"e2 81 aa", "a\u206ab", ""}, // just after the isolates
		{"nul", "a\x00b", replyContentControl.Reason},
		{"esc", "\x1b[2Jgotcha", replyContentControl.Reason},
		{"bell", "ding\x07", replyContentControl.Reason},
		{"backspace", "abc\x08\x08", replyContentControl.Reason},
		{"vertical tab", "a\vb", replyContentControl.Reason},
		{"form feed", "a\fb", replyContentControl.Reason},
		{"del", "a\x7f", replyContentControl.Reason},
		{"c1 first", "a\u0080", replyContentControl.Reason},
		{"c1 csi", "a\u009b2J", replyContentControl.Reason},
		{"c1 last", "\u009fa", replyContentControl.Reason},
		{"lre", "a\u202ab", replyContentBidi.Reason},
		{"rle", "a\u202bb", replyContentBidi.Reason},
		{"pdf", "a\u202cb", replyContentBidi.Reason},
		{"lro", "a\u202db", replyContentBidi.Reason},
		{"rlo", "txt.\u202eexe", replyContentBidi.Reason},
		{"lri", "a\u2066b", replyContentBidi.Reason},
		{"rli", "a\u2067b", replyContentBidi.Reason},
		{"fsi", "a\u2068b", replyContentBidi.Reason},
		{"pdi at the end", "a\u2069", replyContentBidi.Reason},
		{"white space and a control", " \x01 ", replyContentControl.Reason},
		{"white space only", " \t\r\n", replyBadContent.Reason},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := ValidContent(tt.raw, 4096)
			if replyReason(err) != tt.reason || err != nil && replyCode(err) != CodeBadContent {
				t.Fatalf("ValidContent(%q) = %v; want reason %q", tt.raw, err, tt.reason)
			}
		})
	}
}

// naiveValidName is ValidName written from the rules with the unicode
// package, rune by rune, without fast paths.
func naiveValidName(raw string) (string, *Reply) {
	name := strings.TrimFunc(raw, unicode.IsSpace)
	if n := utf8.RuneCountInString(name); n < 1 || n > MaxNameRunes {
		return "", replyBadName
	}
	visible := false
	for _, r := range name {
		if unicode.IsControl(r) || unicode.In(r, unicode.Zl, unicode.Zp) {
			return "", replyNameControl
		}
		if unicode.Is(unicode.Bidi_Control, r) {
			return "", replyNameBidi
		}
		if !unicode.IsSpace(r) && r != 0x2800 && !unicode.In(r, unicode.Cf, unicode.Mn, unicode.Me,
			unicode.Variation_Selector, unicode.Other_Default_Ignorable_Code_Point) {
			visible = true
		}
	}
	if !visible {
		return "", replyNameInvisible
	}
	return name, nil
}

// naiveValidContent is ValidContent written from the rules rune by rune.
func naiveValidContent(raw string, maxBytes int) *Reply {
	if maxBytes > 0 && len(raw) > maxBytes {
		return replyTooLong
	}
	if strings.TrimFunc(raw, unicode.IsSpace) == "" {
		return replyBadContent
	}
	for _, r := range raw {
		if unicode.IsControl(r) && r != '\t' && r != '\n' && r != '\r' {
			return replyContentControl
		}
		if unicode.Is(unicode.Bidi_Control, r) && r != 0x061c && r != 0x200e && r != 0x200f {
			return replyContentBidi
		}
	}
	return nil
}

// textAlphabet mixes the characters the rules are about with ordinary
// ones and with the neighbours of every refused range.
var textAlphabet = []rune{
	'a', 'Z', '0', ' ', '~', '<', '&', '\t', '\n', '\r', '\v', '\f', 0, 1, 0x1b, 0x1f, 0x7f,
	0x80, 0x85, 0x9b, 0x9f, 0xa0, 0xad, 0xe9, 0x301, 0x34f, 0x61b, 0x61c, 0x61d, 0x5d0,
	0x115f, 0x1160, 0x180e, 0x2000, 0x200a, 0x200b, 0x200c, 0x200d, 0x200e, 0x200f, 0x2010,
	0x2027, 0x2028, 0x2029, 0x202a, 0x202c, 0x202e, 0x202f, 0x2060, 0x2064, 0x2065, 0x2066,
	0x2069, 0x206a, 0x20dd, 0x2800, 0x2801, 0x3000, 0x3164, 0x732a, 0xfe0f, 0xfeff, 0xffa0,
	0xfffd, 0x1f44d, 0xe0041, 0xe0100,
}

func randomUserText(rng *rand.Rand, maxRunes int) string {
	var b strings.Builder
	for n := rng.IntN(maxRunes + 1); n > 0; n-- {
		b.WriteRune(textAlphabet[rng.IntN(len(textAlphabet))])
	}
	return b.String()
}

// TestValidTextDifferential compares ValidName and ValidContent with the
// naive references on random strings over textAlphabet.
func TestValidTextDifferential(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for i := 0; i < 30_000; i++ {
		s := randomUserText(rng, 36)
		got, err := ValidName(s)
		want, wantErr := naiveValidName(s)
		if got != want || replyReason(err) != replyReason(wantErr) {
			t.Fatalf("ValidName(%+q) = %q, %v; the reference says %q, %v", s, got, err, want, wantErr)
		}
		if err, wantErr := ValidContent(s, 64), naiveValidContent(s, 64); replyReason(err) != replyReason(wantErr) {
			t.Fatalf("ValidContent(%+q) = %v; the reference says %v", s, err, wantErr)
		}
	}
	// Every character of the alphabet at every offset of a long ASCII run
	// (the eight-byte blocks of contentChars).
	for _, r := range textAlphabet {
		for p := 0; p < 20; p++ {
			s := strings.Repeat("a", p) + string(r) + strings.Repeat("b", 19-p)
			if err, wantErr := ValidContent(s, 64), naiveValidContent(s, 64); replyReason(err) != replyReason(wantErr) {
				t.Errorf("ValidContent(%+q) = %v; the reference says %v", s, err, wantErr)
			}
		}
	}
	// Every single character of the alphabet, alone and around a letter.
	for _, r := range textAlphabet {
		for _, s := range []string{string(r), "a" + string(r), string(r) + "a"} {
			got, err := ValidName(s)
			want, wantErr := naiveValidName(s)
			if got != want || replyReason(err) != replyReason(wantErr) {
				t.Errorf("ValidName(%+q) = %q, %v; the reference says %q, %v", s, got, err, want, wantErr)
			}
			if err, wantErr := ValidContent(s, 64), naiveValidContent(s, 64); replyReason(err) != replyReason(wantErr) {
				t.Errorf("ValidContent(%+q) = %v; the reference says %v", s, err, wantErr)
			}
		}
	}
}

// TestPrintable8 checks the eight-byte test against a byte loop on
// words made of bytes at and around its edges.
func TestPrintable8(t *testing.T) {
	edges := []byte{0, 0x1f, 0x20, 0x21, 0x7e, 0x7f, 0x80, 0xdf, 0xe0, 0xff}
	rng := rand.New(rand.NewPCG(3, 4))
	for i := 0; i < 50_000; i++ {
		var w uint64
		want := true
		for k := 0; k < 8; k++ {
			b := byte(0x20 + rng.IntN(0x5f))
			if rng.IntN(4) == 0 {
				b = edges[rng.IntN(len(edges))]
			}
			want = want && b >= 0x20 && b <= 0x7e
			w |= uint64(b) << (8 * k)
		}
		if got := printable8(w); got != want {
			t.Fatalf("printable8(%#016x) = %v; want %v", w, got, want)
		}
	}
}

func TestValidTextAllocs(t *testing.T) {
	content := strings.Repeat("hello, world. ", 100) + "שלום\u200f 猪\r\n"
	tests := []struct {
		name string
		fn   func()
	}{
		{"ValidName ascii", func() { _, _ = ValidName("  mynick ") }},
		{"ValidName unicode", func() { _, _ = ValidName("👩\u200d💻 José 猪") }},
		{"ValidName refused", func() { _, _ = ValidName("\u200b\u200b") }},
		{"ValidContent", func() { _ = ValidContent(content, 4096) }},
		{"ValidContent refused", func() { _ = ValidContent("a\u202eb", 4096) }},
	}
	for _, tt := range tests {
		if got := testing.AllocsPerRun(100, tt.fn); got != 0 {
			t.Errorf("AllocsPerRun(%s) = %v; want 0", tt.name, got)
		}
	}
}

func BenchmarkValidContent(b *testing.B) {
	for _, size := range []int{16, 256, 4096} {
		s := strings.Repeat("hello, world! ", size/14+1)[:size]
		b.Run(strconv.Itoa(size), func(b *testing.B) {
			b.SetBytes(int64(size))
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				_ = ValidContent(s, 0)
			}
		})
	}
}

func BenchmarkValidName(b *testing.B) {
	for _, name := range []string{"mynick", "José猪"} {
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				_, _ = ValidName(name)
			}
		})
	}
}
