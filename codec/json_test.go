package codec

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"
)

var seedTime = time.Date(2014, 8, 12, 17, 50, 30, 0, time.FixedZone("CST", 8*3600))

// TestEncodersSeed checks the encoders against the frames of the seed
// capture (with the hour that the original lost restored).
func TestEncodersSeed(t *testing.T) {
	sayTime := time.Date(2014, 8, 12, 17, 51, 2, 0, time.UTC)
	tests := []struct {
		name string
		got  []byte
		want string
	}{
		{"user_list", AppendUserList(nil, []User{{783654164, "猪猪"}, {783700053, "mynick"}}),
			`{"type":"user_list","user_list":[{"uid":783654164,"name":"猪猪"},{"uid":783700053,"name":"mynick"}]}`},
		{"empty user_list", AppendUserList(nil, nil), `{"type":"user_list","user_list":[]}`},
		{"login", AppendLogin(nil, 783700053, "mynick", seedTime),
			`{"type":"login","uid":783700053,"name":"mynick","time":"2014-08-12 17:50:30"}`},
		{"say all", AppendSay(nil, 783700053, true, 0, "hi, all !", sayTime),
			`{"type":"say","from_uid":783700053,"to_uid":"all","content":"hi, all !","time":"2014-08-12 17:51:02"}`},
		{"say private", AppendSay(nil, 783700053, false, 783654164, "psst", sayTime),
			`{"type":"say","from_uid":783700053,"to_uid":783654164,"content":"psst","time":"2014-08-12 17:51:02"}`},
		{"logout", AppendLogout(nil, 783700053, time.Date(2014, 8, 12, 17, 52, 0, 0, time.UTC)),
			`{"type":"logout","uid":783700053,"time":"2014-08-12 17:52:00"}`},
		{"error", AppendReply(nil, replyNotObject), `{"type":"error","code":"bad_json","reason":"message is not a JSON object"}`},
	}
	for _, tt := range tests {
		if string(tt.got) != tt.want {
			t.Errorf("Append(%s) = %s; want %s", tt.name, tt.got, tt.want)
		}
	}
}

// decodeOrdered decodes one JSON object with encoding/json, returning its
// keys in order and its values (numbers as json.Number).
func decodeOrdered(data []byte) (keys []string, values map[string]any, err error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return nil, nil, fmt.Errorf("not an object: %v %v", tok, err)
	}
	values = make(map[string]any)
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, nil, err
		}
		var v any
		if err := dec.Decode(&v); err != nil {
			return nil, nil, err
		}
		keys, values[tok.(string)] = append(keys, tok.(string)), v
	}
	if _, err := dec.Token(); err != nil {
		return nil, nil, err
	}
	if dec.More() || dec.InputOffset() != int64(len(data)) {
		return nil, nil, fmt.Errorf("trailing data")
	}
	return keys, values, nil
}

// nastyString returns strings that exercise every JSON escape.
func nastyString(rng *rand.Rand) string {
	pieces := []string{"a", "Z", " ", `"`, `\`, "/", "\x00", "\x01", "\x1f", "\x7f", "\n", "\r", "\t",
		"\u2028", "\u2029", "é", "猪", "😀", "\xff", "\xe2\x82", "<", ">", "&", "&amp;", "<br />"}
	var b strings.Builder
	for range rng.IntN(12) {
		b.WriteString(pieces[rng.IntN(len(pieces))])
	}
	return b.String()
}

// wantDecoded is what a JSON decoder must return for s after our quoting:
// every invalid byte becomes U+FFFD, as []rune conversion does.
func wantDecoded(s string) string { return string([]rune(s)) }

// num is how encoding/json with UseNumber decodes an unsigned integer.
func num(n uint64) json.Number { return json.Number(strconv.FormatUint(n, 10)) }

// TestEncodersDifferential decodes the encoders' output with encoding/json
// and checks key order, JSON types and values.
func TestEncodersDifferential(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	for i := range 500 {
		s1, s2 := nastyString(rng), nastyString(rng)
		uid, to, toAll := rng.Uint64(), rng.Uint64(), i%2 == 0
		tm := time.Unix(rng.Int64N(1<<35), 0)
		ts := tm.Format(time.DateTime)
		var toUID any = num(to)
		if toAll {
			toUID = "all"
		}
		tests := []struct {
			name string
			got  []byte
			keys string
			want map[string]any
		}{
			{"Login", AppendLogin(nil, uid, s1, tm), "type uid name time",
				map[string]any{"type": "login", "uid": num(uid), "name": wantDecoded(s1), "time": ts}},
			{"Say", AppendSay(nil, uid, toAll, to, s1, tm), "type from_uid to_uid content time",
				map[string]any{"type": "say", "from_uid": num(uid), "to_uid": toUID, "content": wantDecoded(s1), "time": ts}},
			{"Logout", AppendLogout(nil, uid, tm), "type uid time", map[string]any{"type": "logout", "uid": num(uid), "time": ts}},
			{"Reply", AppendReply(nil, &Reply{s1, s2}), "type code reason",
				map[string]any{"type": "error", "code": wantDecoded(s1), "reason": wantDecoded(s2)}},
			{"UserList", AppendUserList(nil, []User{{uid, s1}, {to, s2}}), "type user_list",
				map[string]any{"type": "user_list", "user_list": []any{
					map[string]any{"uid": num(uid), "name": wantDecoded(s1)},
					map[string]any{"uid": num(to), "name": wantDecoded(s2)}}}},
		}
		for _, tt := range tests {
			keys, values, err := decodeOrdered(tt.got)
			if err != nil || strings.Join(keys, " ") != tt.keys {
				t.Fatalf("Append%s(%q) = %s: keys %v, %v; want keys %s", tt.name, s1, tt.got, keys, err, tt.keys)
			}
			if !reflect.DeepEqual(values, tt.want) {
				t.Fatalf("Append%s(%q) = %s, decoded %#v; want %#v", tt.name, s1, tt.got, values, tt.want)
			}
		}
	}
}

// TestUserListNames checks each user_list entry's keys are "uid", "name".
func TestUserListNames(t *testing.T) {
	var v struct {
		UserList []json.RawMessage `json:"user_list"`
	}
	out := AppendUserList(nil, []User{{1, "a"}, {2, "b"}, {3, "c"}})
	if err := json.Unmarshal(out, &v); err != nil || len(v.UserList) != 3 {
		t.Fatalf("AppendUserList(3 users) = %s, %v; want 3 entries", out, err)
	}
	for i, raw := range v.UserList {
		keys, values, err := decodeOrdered(raw)
		if err != nil || strings.Join(keys, " ") != "uid name" || fmt.Sprint(values["uid"]) != fmt.Sprint(i+1) {
			t.Errorf("AppendUserList entry %d = %s; want {\"uid\":%d,\"name\":...}", i, raw, i+1)
		}
	}
}

// TestAppendTime is a differential test against time.Format.
func TestAppendTime(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 10))
	zones := []*time.Location{time.UTC, time.FixedZone("CST", 8*3600), time.FixedZone("X", -(9*3600 + 30*60)), time.Local}
	times := []time.Time{seedTime, time.Date(0, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(9999, 12, 31, 23, 59, 59, 999, time.UTC),
		time.Date(-1, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC), {}}
	for range 2000 {
		times = append(times, time.Unix(rng.Int64N(400<<30)-(200<<30), rng.Int64N(1e9)).In(zones[rng.IntN(len(zones))]))
	}
	for _, tm := range times {
		if got, want := string(AppendTime([]byte("x"), tm)), "x"+tm.Format(time.DateTime); got != want {
			t.Fatalf("AppendTime(%v) = %q; want %q", tm, got, want)
		}
	}
}

func TestEncoderAllocs(t *testing.T) {
	dst := make([]byte, 0, 1024)
	users := []User{{783654164, "猪猪"}, {783700053, "my\"nick"}}
	content := "hi, all !\u2028 \x01 \xff"
	tests := []struct {
		name string
		fn   func()
	}{
		{"AppendUserList", func() { AppendUserList(dst[:0], users) }},
		{"AppendLogin", func() { AppendLogin(dst[:0], 783700053, "mynick", seedTime) }},
		{"AppendSay", func() { AppendSay(dst[:0], 783700053, true, 0, content, seedTime) }},
		{"AppendSay private", func() { AppendSay(dst[:0], 783700053, false, 1, content, seedTime) }},
		{"AppendLogout", func() { AppendLogout(dst[:0], 783700053, seedTime) }},
		{"AppendReply", func() { AppendReply(dst[:0], replyBadJSON) }},
		{"AppendTime", func() { AppendTime(dst[:0], seedTime) }},
		{"AppendEscaped", func() { AppendEscaped(dst[:0], "a<b>\r\n&\"", true) }},
	}
	for _, tt := range tests {
		if got := testing.AllocsPerRun(100, tt.fn); got != 0 {
			t.Errorf("AllocsPerRun(%s) = %v; want 0", tt.name, got)
		}
	}
}

func TestAppendJSONString(t *testing.T) {
	tests := []struct{ in, want string }{
		{"", `""`},
		{"plain 猪", `"plain 猪"`},
		{`"\`, `"\"\\"`},
		{"\n\r\t\x00\x1f", `"\n\r\t\u0000\u001f"`},
		{"\u2028\u2029", `"\u2028\u2029"`},
		{"a\xffb", "\"a\uFFFDb\""},
		{"<&>", `"<&>"`}, // HTML escaping is AppendEscaped's job
	}
	for _, tt := range tests {
		if got := string(appendJSONString(nil, tt.in)); got != tt.want {
			t.Errorf("appendJSONString(%q) = %s; want %s", tt.in, got, tt.want)
		}
	}
}

// TestAppendSayEscaping checks the one-pass say against the two-pass
// AppendEscaped + AppendSay.
func TestAppendSayEscaping(t *testing.T) {
	rng := rand.New(rand.NewPCG(15, 16))
	for i := range 2000 {
		raw := nastyString(rng)
		want := AppendSay([]byte("x"), 1, i%2 == 0, 2, string(AppendEscaped(nil, raw, true)), seedTime)
		if got := AppendSayEscaping([]byte("x"), 1, i%2 == 0, 2, raw, seedTime); !bytes.Equal(got, want) {
			t.Fatalf("AppendSayEscaping(%q) = %s; want %s", raw, got, want)
		}
	}
	dst := make([]byte, 0, 256)
	if got := testing.AllocsPerRun(100, func() { AppendSayEscaping(dst[:0], 1, true, 0, "a<b>\r\n\u2028猪", seedTime) }); got != 0 {
		t.Errorf("AllocsPerRun(AppendSayEscaping) = %v; want 0", got)
	}
}
