package server_test

import (
	"encoding/json"
	"strings"
	"testing"
)

// expectErrorReason reads the next message: an error with code whose
// reason contains part.
func (c *wsClient) expectErrorReason(code, part string) {
	c.t.Helper()
	got := c.next()
	var m struct{ Type, Code, Reason string }
	if err := json.Unmarshal(got, &m); err != nil || m.Type != "error" || m.Code != code || !strings.Contains(m.Reason, part) {
		c.t.Fatalf("%s: got %s; want an error %q with a reason containing %q", c.name, got, code, part)
	}
}

// TestE2ETextRules: names made of invisible characters or holding
// control characters, terminal escapes or bidi controls get bad_name,
// content with control characters or bidi overrides gets bad_content,
// and the room sees none of it; tab and line breaks pass.
func TestE2ETextRules(t *testing.T) {
	t.Parallel()
	ts := startServer(t)
	alice := dial(t, ts.addr, "alice")
	ua := alice.login("alice", `"text"`)
	bob := dial(t, ts.addr, "bob")
	names := []struct{ name, raw, reason string }{
		{"zero-width only", "\u200b\u200c\u200d", "visible"},
		{"word joiner and bom", "\u2060\ufeff", "visible"},
		{"soft hyphens", "\u00ad\u00ad", "visible"},
		{"combining only", "\u0301", "visible"},
		{"hangul filler", "\u3164", "visible"},
		{"nul", "bo\x00b", "control"},
		{"terminal escape", "\x1b[31mbob", "control"},
		{"c1 csi", "bob\u009b2J", "control"},
		{"newline inside", "b\nob", "control"},
		{"rlo", "bob\u202etxt.exe", "bidi"},
		{"rli", "\u2067bob", "bidi"},
		{"rlm", "bob\u200f", "bidi"},
	}
	for _, tt := range names {
		bob.send(loginMsg(tt.raw, `"text"`))
		bob.expectErrorReason("bad_name", strings.Replace(tt.reason, "bidi", "bidirectional", 1))
	}
	ub := bob.login("bob\u200d😀", `"text"`, ua) // a joiner next to visible characters is fine
	alice.expect(jLogin(ub))                    // and is the first thing alice hears of bob

	contents := []struct{ name, raw, reason string }{
		{"nul", "a\x00b", "control"},
		{"escape sequence", "\x1b[2J\x1b[Hgotcha", "control"},
		{"bell", "ding\x07", "control"},
		{"backspaces", "yes\x08\x08\x08no", "control"},
		{"c1", "a\u0085b", "control"},
		{"rlo", "report\u202efdp.exe", "bidirectional"},
		{"lre", "\u202aabc", "bidirectional"},
		{"fsi", "a\u2068b\u2069", "bidirectional"},
	}
	for _, tt := range contents {
		alice.send(sayAll(tt.raw))
		alice.expectErrorReason("bad_content", tt.reason)
		alice.send(sayMsg(jsonInt(ub.uid), tt.raw))
		alice.expectErrorReason("bad_content", tt.reason)
	}
	good := "col1\tcol2\r\nline2\nשלום\u200f!"
	alice.send(sayAll(good))
	want := jSay(ua.uid, contentEscape(good))
	bob.expect(want) // the first say bob gets: nothing refused reached him
	alice.expect(want)
}

func jsonInt(n int64) string {
	b, _ := json.Marshal(n)
	return string(b)
}
