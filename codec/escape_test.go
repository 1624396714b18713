package codec

import (
	"math/rand/v2"
	"strings"
	"testing"
)

// The naive references of AppendEscaped. strings.Replacer tries the old
// strings in argument order at each position, so "\r\n" wins over "\r".
var (
	htmlReplacer  = strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", `"`, "&quot;")
	breakReplacer = strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", `"`, "&quot;",
		"\r\n", "<br />\r\n", "\r", "<br />\r", "\n", "<br />\n")
)

func TestAppendEscaped(t *testing.T) {
	tests := []struct {
		in     string
		breaks bool
		want   string
	}{
		{"", true, ""},
		{"plain", true, "plain"},
		{`<script>alert("x&y")</script>`, false, "&lt;script&gt;alert(&quot;x&amp;y&quot;)&lt;/script&gt;"},
		{"&amp;", false, "&amp;amp;"},
		{"a\nb", true, "a<br />\nb"},
		{"a\nb", false, "a\nb"},
		{"a\r\nb", true, "a<br />\r\nb"},
		{"a\rb", true, "a<br />\rb"},
		{"\n\n", true, "<br />\n<br />\n"},
		{"\r\r\n\n", true, "<br />\r<br />\r\n<br />\n"},
		{"猪'", true, "猪'"},
	}
	for _, tt := range tests {
		if got := string(AppendEscaped([]byte("x"), tt.in, tt.breaks)); got != "x"+tt.want {
			t.Errorf("AppendEscaped(%q, %v) = %q; want %q", tt.in, tt.breaks, got, "x"+tt.want)
		}
	}
}

// TestAppendEscapedDifferential compares AppendEscaped with strings.Replacer
// on random strings.
func TestAppendEscapedDifferential(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 12))
	alphabet := []string{"a", "b", " ", "&", "<", ">", `"`, "'", "\r", "\n", "\r\n", "猪", "\xff", "&lt;"}
	for range 3000 {
		var b strings.Builder
		for range rng.IntN(20) {
			b.WriteString(alphabet[rng.IntN(len(alphabet))])
		}
		s := b.String()
		for _, breaks := range []bool{false, true} {
			want := htmlReplacer.Replace(s)
			if breaks {
				want = breakReplacer.Replace(s)
			}
			if got := string(AppendEscaped(nil, s, breaks)); got != want {
				t.Fatalf("AppendEscaped(%q, %v) = %q; want %q", s, breaks, got, want)
			}
		}
	}
}

func TestEscapeString(t *testing.T) {
	rng := rand.New(rand.NewPCG(13, 14))
	alphabet := []string{"a", "&", "<", ">", `"`, "\r", "\n", "\r\n", "猪"}
	for range 1000 {
		var b strings.Builder
		for range rng.IntN(10) {
			b.WriteString(alphabet[rng.IntN(len(alphabet))])
		}
		s := b.String()
		for _, breaks := range []bool{false, true} {
			want := string(AppendEscaped(nil, s, breaks))
			if got := EscapeString(s, breaks); got != want || len(want) != escapedLen(s, breaks) {
				t.Fatalf("EscapeString(%q, %v) = %q (sized %d); want %q", s, breaks, got, escapedLen(s, breaks), want)
			}
		}
	}
	payload := []byte("mynick")
	kept := EscapeString(aliasString(payload), false)
	copy(payload, "XXXXXX")
	if kept != "mynick" {
		t.Errorf("EscapeString(aliased %q) changed to %q with its input; want a copy", "mynick", kept)
	}
	if got := testing.AllocsPerRun(100, func() { EscapeString("a<b>\r\n", true) }); got != 1 {
		t.Errorf("AllocsPerRun(EscapeString) = %v; want 1", got)
	}
}
