package codec

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
)

func TestDecodeInbound(t *testing.T) {
	tests := []struct {
		name string
		json string
		want Inbound
		code string // error code, "" for success
	}{
		{"seed login", `{"type":"login","name":"mynick"}`, Inbound{Type: "login", Name: "mynick"}, ""},
		{"seed say", `{"type":"say","to_uid":"all","content":"hi, all !"}`,
			Inbound{Type: "say", ToAll: true, Content: "hi, all !"}, ""},
		{"private say", `{"type":"say","to_uid":783654164,"content":"psst"}`,
			Inbound{Type: "say", ToUID: 783654164, Content: "psst"}, ""},
		{"uid as string", `{"type":"say","to_uid":"783654164","content":"psst"}`,
			Inbound{Type: "say", ToUID: 783654164, Content: "psst"}, ""},
		{"max uid", `{"type":"say","to_uid":18446744073709551615,"content":"x"}`,
			Inbound{Type: "say", ToUID: 1<<64 - 1, Content: "x"}, ""},
		{"escaped all", `{"type":"say","to_uid":"\u0061ll","content":"x"}`, Inbound{Type: "say", ToAll: true, Content: "x"}, ""},
		{"pong", `{"type":"pong"}`, Inbound{Type: "pong"}, ""},
		{"room string", `{"type":"login","name":"n","room_id":"r1"}`, Inbound{Type: "login", Name: "n", RoomID: "r1"}, ""},
		{"room number", `{"type":"login","name":"n","room_id":12}`, Inbound{Type: "login", Name: "n", RoomID: "12"}, ""},
		{"room negative", `{"type":"login","name":"n","room_id":-3}`, Inbound{Type: "login", Name: "n", RoomID: "-3"}, ""},
		{"room minus zero", `{"type":"login","name":"n","room_id":-0}`, Inbound{Type: "login", Name: "n", RoomID: "0"}, ""},
		{"room null", `{"type":"login","name":"n","room_id":null}`, Inbound{Type: "login", Name: "n"}, ""},
		{"room escaped", `{"type":"login","name":"n","room_id":"r\"1"}`, Inbound{Type: "login", Name: "n", RoomID: `r"1`}, ""},
		{"raw strings", `{"type":"say","to_uid":"all","content":" <b>\n\u732a & \"q\" "}`,
			Inbound{Type: "say", ToAll: true, Content: " <b>\n猪 & \"q\" "}, ""},
		{"unknown fields", `{"x":[1,{"y":null}],"type":"pong","z":"w"}`, Inbound{Type: "pong"}, ""},
		{"white space", " \t\r\n{ \"type\" : \"pong\" } \n", Inbound{Type: "pong"}, ""},
		{"unknown key twice", `{"type":"pong","x":1,"x":[2]}`, Inbound{Type: "pong"}, ""},
		{"nested key twice", `{"type":"pong","x":{"type":1,"type":2}}`, Inbound{Type: "pong"}, ""},
		{"keys as values", `{"x":["type","type"],"type":"login","name":"type"}`, Inbound{Type: "login", Name: "type"}, ""},
		{"escaped key", `{"typ\u0065":"pong"}`, Inbound{Type: "pong"}, ""},
		{"say ignores room_id", `{"type":"say","to_uid":"all","content":"x","room_id":1.5}`,
			Inbound{Type: "say", ToAll: true, Content: "x"}, ""},

		// The current workerman-chat dialect, as its page sends it.
		{"current login", `{"type":"login","client_name":"mynick","room_id":1}`,
			Inbound{Type: "login", Dialect: DialectCurrent, Name: "mynick", RoomID: "1"}, ""},
		{"current login escaped", `{"type":"login","client_name":"a\"b","room_id":2}`,
			Inbound{Type: "login", Dialect: DialectCurrent, Name: `a"b`, RoomID: "2"}, ""},
		{"current empty name", `{"type":"login","client_name":"","room_id":1}`,
			Inbound{Type: "login", Dialect: DialectCurrent, RoomID: "1"}, ""},
		{"client_name wins", `{"type":"login","name":"old","client_name":"new"}`,
			Inbound{Type: "login", Dialect: DialectCurrent, Name: "new"}, ""},
		{"client_name null", `{"type":"login","name":"old","client_name":null}`,
			Inbound{Type: "login", Name: "old"}, ""},
		{"current say all", `{"type":"say","to_client_id":"all","to_client_name":"所有人","content":"hi"}`,
			Inbound{Type: "say", ToAll: true, Content: "hi"}, ""},
		{"current say private", `{"type":"say","to_client_id":"783654164","to_client_name":"猪猪","content":"psst"}`,
			Inbound{Type: "say", ToUID: 783654164, Content: "psst"}, ""},
		{"to_uid wins", `{"type":"say","to_uid":5,"to_client_id":"all","content":"x"}`,
			Inbound{Type: "say", ToUID: 5, Content: "x"}, ""},
		{"client_name number", `{"type":"login","client_name":5}`, Inbound{Type: "login"}, CodeBadJSON},
		{"client_name bad escape", `{"type":"login","client_name":"\x"}`, Inbound{Type: "login"}, CodeBadJSON},
		{"to_client_id hex", `{"type":"say","to_client_id":"7f0000010b5400000001","content":"x"}`,
			Inbound{Type: "say", Content: "x"}, CodeNoSuchUser},
		{"to_client_id bool", `{"type":"say","to_client_id":true,"content":"x"}`, Inbound{Type: "say", Content: "x"}, CodeBadJSON},

		// A field given twice is ambiguous (sonic and encoding/json keep
		// different copies): bad_json, whichever copies they are.
		{"type twice", `{"type":"say","type":"pong"}`, Inbound{}, CodeBadJSON},
		{"name then null", `{"name":"0","name":null,"type":"login"}`, Inbound{}, CodeBadJSON},
		{"to_uid twice", `{"type":"say","to_uid":"all","to_uid":1,"content":"x"}`, Inbound{}, CodeBadJSON},
		{"content twice", `{"type":"say","to_uid":"all","content":"x","content":"x"}`, Inbound{}, CodeBadJSON},
		{"escaped key twice", `{"type":"login","nam\u0065":"x","name":"y"}`, Inbound{}, CodeBadJSON},
		{"escaped slash key twice", `{"type":"pong","since":null,"sinc\u0065":null}`, Inbound{}, CodeBadJSON},
		{"array", `[{"type":"pong"}]`, Inbound{}, CodeBadJSON},
		{"string", `"pong"`, Inbound{}, CodeBadJSON},
		{"empty", ``, Inbound{}, CodeBadJSON},
		{"truncated", `{"type":"pong"`, Inbound{}, CodeBadJSON},
		{"trailing garbage", `{"type":"pong"}x`, Inbound{}, CodeBadJSON},
		{"two objects", `{"type":"pong"}{}`, Inbound{}, CodeBadJSON},
		{"bad unknown field", `{"type":"pong","x":tru}`, Inbound{}, CodeBadJSON},
		{"type not a string", `{"type":1}`, Inbound{}, CodeBadJSON},
		{"name not a string", `{"type":"login","name":5}`, Inbound{}, CodeBadJSON},
		{"content not a string", `{"type":"say","to_uid":"all","content":["x"]}`, Inbound{}, CodeBadJSON},
		{"raw control character", "{\"type\":\"say\",\"to_uid\":\"all\",\"content\":\"a\x01\"}", Inbound{}, CodeBadJSON},
		{"room float", `{"type":"login","name":"n","room_id":1.5}`, Inbound{Type: "login", Name: "n"}, CodeBadJSON},
		{"room exponent", `{"type":"login","name":"n","room_id":1e3}`, Inbound{Type: "login", Name: "n"}, CodeBadJSON},
		{"room bool", `{"type":"login","name":"n","room_id":true}`, Inbound{Type: "login", Name: "n"}, CodeBadJSON},
		{"room object", `{"type":"login","name":"n","room_id":{}}`, Inbound{Type: "login", Name: "n"}, CodeBadJSON},
		{"to_uid bool", `{"type":"say","to_uid":true,"content":"x"}`, Inbound{Type: "say", Content: "x"}, CodeBadJSON},
		{"to_uid array", `{"type":"say","to_uid":[1],"content":"x"}`, Inbound{Type: "say", Content: "x"}, CodeBadJSON},

		{"no type", `{"name":"n"}`, Inbound{Name: "n"}, CodeUnknownType},
		{"null type", `{"type":null}`, Inbound{}, CodeUnknownType},
		{"unknown type", `{"type":"dance"}`, Inbound{Type: "dance"}, CodeUnknownType},
		{"type case", `{"type":"LOGIN","name":"n"}`, Inbound{Type: "LOGIN", Name: "n"}, CodeUnknownType},
		{"key case", `{"TYPE":"pong"}`, Inbound{}, CodeUnknownType},

		{"to_uid word", `{"type":"say","to_uid":"abc","content":"x"}`, Inbound{Type: "say", Content: "x"}, CodeNoSuchUser},
		{"to_uid ALL", `{"type":"say","to_uid":"ALL","content":"x"}`, Inbound{Type: "say", Content: "x"}, CodeNoSuchUser},
		{"to_uid negative", `{"type":"say","to_uid":-1,"content":"x"}`, Inbound{Type: "say", Content: "x"}, CodeNoSuchUser},
		{"to_uid fraction", `{"type":"say","to_uid":1.5,"content":"x"}`, Inbound{Type: "say", Content: "x"}, CodeNoSuchUser},
		{"to_uid exponent", `{"type":"say","to_uid":1e3,"content":"x"}`, Inbound{Type: "say", Content: "x"}, CodeNoSuchUser},
		{"to_uid overflow", `{"type":"say","to_uid":18446744073709551616,"content":"x"}`, Inbound{Type: "say", Content: "x"}, CodeNoSuchUser},
		{"to_uid negative string", `{"type":"say","to_uid":"-1","content":"x"}`, Inbound{Type: "say", Content: "x"}, CodeNoSuchUser},
		{"to_uid empty string", `{"type":"say","to_uid":"","content":"x"}`, Inbound{Type: "say", Content: "x"}, CodeNoSuchUser},
		{"to_uid missing", `{"type":"say","content":"x"}`, Inbound{Type: "say", Content: "x"}, CodeNoSuchUser},
		{"to_uid null", `{"type":"say","to_uid":null,"content":"x"}`, Inbound{Type: "say", Content: "x"}, CodeNoSuchUser},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := Inbound{Name: "stale", ToUID: 9}
			err := DecodeInbound([]byte(tt.json), &in)
			if code := replyCode(err); code != tt.code {
				t.Fatalf("DecodeInbound(%q) = %v; want code %q", tt.json, err, tt.code)
			}
			if tt.code != CodeBadJSON && in != tt.want { // on bad_json only the error matters
				t.Errorf("DecodeInbound(%q) = %+v; want %+v", tt.json, in, tt.want)
			}
		})
	}
}

// replyCode returns the code of a *Reply, "" for nil, "?" otherwise.
func replyCode(err error) string {
	var r *Reply
	switch {
	case err == nil:
		return ""
	case errors.As(err, &r) && errors.Is(err, ErrBadMessage):
		return r.Code
	}
	return "?"
}

// TestDecodeInboundAliases documents the zero-copy contract: the strings
// alias the payload, so they change when the caller reuses the buffer.
func TestDecodeInboundAliases(t *testing.T) {
	payload := []byte(`{"type":"login","name":"mynick"}`)
	var in Inbound
	if err := DecodeInbound(payload, &in); err != nil {
		t.Fatal(err)
	}
	copy(payload[bytesIndex(payload, "mynick"):], "yours!")
	if in.Name != "yours!" {
		t.Errorf("DecodeInbound(...).Name = %q after overwriting the payload; want %q (aliasing)", in.Name, "yours!")
	}
}

func bytesIndex(b []byte, s string) int { return strings.Index(string(b), s) }

func TestDecodeInboundAllocs(t *testing.T) {
	tests := []struct {
		name, json string
		want       float64
	}{
		{"say", string(typicalSay), 0},
		{"private say", `{"type":"say","to_uid":"783654164","content":"psst"}`, 0},
		{"login", `{"type":"login","name":"mynick","room_id":7}`, 0},
		// Failures cost sonic's error value; they are not the hot path.
		{"wrong type", `{"type":"login","name":5}`, 1},
		{"syntax error", `{"type":"login",}`, 2},
		{"unknown type", `{"type":"dance"}`, 0},
		{"escaped key", `{"typ\u0065":"say","to_uid":"all","content":"x"}`, 1}, // sonic unescapes the key on the heap
		{"field twice", `{"type":"say","to_uid":"all","content":"x","content":"y"}`, 0},
	}
	for _, tt := range tests {
		payload := []byte(tt.json)
		var in Inbound
		// sync.Pool drops a quarter of its Puts under the race detector; the
		// average still rounds down to the steady state.
		if got := testing.AllocsPerRun(200, func() { DecodeInbound(payload, &in) }); got != tt.want {
			t.Errorf("AllocsPerRun(DecodeInbound(%s)) = %v; want %v", tt.name, got, tt.want)
		}
	}
}

func TestValidName(t *testing.T) {
	tests := []struct {
		raw, want string
		ok        bool
	}{
		{"mynick", "mynick", true},
		{"  spaced\t\n", "spaced", true},
		{"\u3000全角\u3000", "全角", true}, // ideographic spaces are white space too
		{"猪猪", "猪猪", true},
		{strings.Repeat("猪", 32), strings.Repeat("猪", 32), true},
		{strings.Repeat("猪", 33), "", false},
		{strings.Repeat("a", 32), strings.Repeat("a", 32), true},
		{" " + strings.Repeat("a", 32) + " ", strings.Repeat("a", 32), true},
		{strings.Repeat("a", 33), "", false},
		{"", "", false},
		{" \t\r\n ", "", false},
		{"a b", "a b", true},
	}
	for _, tt := range tests {
		got, err := ValidName(tt.raw)
		if got != tt.want || (err == nil) != tt.ok || err != nil && replyCode(err) != CodeBadName {
			t.Errorf("ValidName(%q) = %q, %v; want %q, ok %v", tt.raw, got, err, tt.want, tt.ok)
		}
	}
}

func TestValidContent(t *testing.T) {
	tests := []struct {
		raw  string
		max  int
		code string
	}{
		{"hi, all !", 4096, ""},
		{"", 4096, CodeBadContent},
		{" \n\t ", 4096, CodeBadContent},
		{"\u3000", 4096, CodeBadContent},
		{strings.Repeat("a", 4096), 4096, ""},
		{strings.Repeat("a", 4097), 4096, CodeTooLong},
		{strings.Repeat("猪", 1366), 4096, CodeTooLong}, // bytes, not characters
		{strings.Repeat(" ", 5000), 4096, CodeTooLong},
		{strings.Repeat("a", 5000), 0, ""},
	}
	for _, tt := range tests {
		if code := replyCode(ValidContent(tt.raw, tt.max)); code != tt.code {
			t.Errorf("ValidContent(%.20q, %d) = %q; want %q", tt.raw, tt.max, code, tt.code)
		}
	}
}

func TestReplyError(t *testing.T) {
	r := &Reply{CodeRateLimited, "slow down"}
	if got := fmt.Sprint(r); got != "codec: rate_limited: slow down" {
		t.Errorf("Reply.Error() = %q; want %q", got, "codec: rate_limited: slow down")
	}
}

func TestPretouch(t *testing.T) {
	if err := Pretouch(); err != nil {
		t.Errorf("Pretouch() = %v; want nil", err)
	}
}

func TestDecodeResume(t *testing.T) {
	tests := []struct {
		name, json string
		want       Resume
		code       string
	}{
		{"none", `{"type":"login","name":"n"}`, Resume{}, ""},
		{"history", `{"type":"login","name":"n","history":50}`, Resume{History: 50}, ""},
		{"history zero", `{"type":"login","name":"n","history":0}`, Resume{}, ""},
		{"history null", `{"type":"login","name":"n","history":null}`, Resume{}, ""},
		{"history huge", `{"type":"login","name":"n","history":99999999999999999999999}`, Resume{History: 1<<63 - 1}, ""},
		{"since", `{"type":"login","name":"n","since":"k3x9-42"}`, Resume{Since: ID{"k3x9", 42}}, ""},
		{"both", `{"type":"login","client_name":"n","history":3,"since":"a-1"}`, Resume{History: 3, Since: ID{"a", 1}}, ""},
		{"history negative", `{"type":"login","name":"n","history":-1}`, Resume{}, CodeBadJSON},
		{"history fraction", `{"type":"login","name":"n","history":1.5}`, Resume{}, CodeBadJSON},
		{"history string", `{"type":"login","name":"n","history":"5"}`, Resume{}, CodeBadJSON},
		{"history bool", `{"type":"login","name":"n","history":true}`, Resume{}, CodeBadJSON},
		{"since number", `{"type":"login","name":"n","since":42}`, Resume{}, CodeBadJSON},
		{"since no seq", `{"type":"login","name":"n","since":"abc"}`, Resume{}, CodeBadJSON},
		{"since zero seq", `{"type":"login","name":"n","since":"abc-0"}`, Resume{}, CodeBadJSON},
		{"since upper", `{"type":"login","name":"n","since":"ABC-1"}`, Resume{}, CodeBadJSON},
		{"since long epoch", `{"type":"login","name":"n","since":"abcdefghijklmnopq-1"}`, Resume{}, CodeBadJSON},
		{"since plus", `{"type":"login","name":"n","since":"a-+1"}`, Resume{}, CodeBadJSON},
		{"since empty", `{"type":"login","name":"n","since":""}`, Resume{}, CodeBadJSON},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var in Inbound
			err := DecodeInbound([]byte(tt.json), &in)
			if code := replyCode(err); code != tt.code {
				t.Fatalf("DecodeInbound(%q) = %v; want code %q", tt.json, err, tt.code)
			}
			if tt.code == "" && in.Resume != tt.want {
				t.Errorf("DecodeInbound(%q).Resume = %+v; want %+v", tt.json, in.Resume, tt.want)
			}
		})
	}
}

func TestIDRoundTrip(t *testing.T) {
	for _, id := range []ID{{"a", 1}, {"k3x9", 42}, {"0123456789abcdef", 1<<64 - 1}} {
		got, ok := ParseID(id.String())
		if !ok || got != id {
			t.Errorf("ParseID(%q) = %v, %v; want %v", id.String(), got, ok, id)
		}
	}
}

// validEscapes is the escape half of scanPayload.
func validEscapes(b []byte) bool {
	ok, _ := scanPayload(b)
	return ok
}

// repeatsField is the repeated-field half of scanPayload.
func repeatsField(b []byte) bool {
	_, repeats := scanPayload(b)
	return repeats
}

func TestValidEscapes(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want bool
	}{
		{`{"a":"b"}`, true},
		{`{"a":"\"\\\/\b\f\n\r\t\u00e9\uD83D"}`, true},
		{`{"a\"b":"c"}`, true},
		{`{"":"\0"}`, false},
		{`{"a":"\x41"}`, false},
		{`{"a":"\u00g0"}`, false},
		{`{"a":"\u00"}`, false},
		{`{"a":"\`, false},
		{`{"a\q":1}`, false},
	} {
		if got := validEscapes([]byte(tc.in)); got != tc.want {
			t.Errorf("validEscapes(%q) = %v; want %v", tc.in, got, tc.want)
		}
		if got, std := validEscapes([]byte(tc.in)), json.Valid([]byte(tc.in)); tc.want && got != std {
			t.Errorf("validEscapes(%q) = %v; encoding/json.Valid = %v", tc.in, got, std)
		}
	}
}

func TestRepeatsField(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want bool
	}{
		{`{}`, false},
		{`{"type":"a","name":"b","client_name":"c","room_id":1,"to_uid":2,"to_client_id":3,"content":"d","history":4,"since":"e"}`, false},
		{`{"type":"a","type":"a"}`, true},
		{` { "since" : 1 , "since" : 1 } `, true},
		{`{"x":1,"x":1}`, false},
		{`{"a":{"type":1},"type":2}`, false},
		{`{"a":[{"type":1},"type"],"type":2}`, false},
		{`{"a":"\"type\":","type":2}`, false},
		{`{"t\u0079pe":1,"type":2}`, true},
		{`{"t\u0079pe":1,"TYPE":2}`, false},
		{`{"to\/uid":1,"to/uid":2}`, false},
		{`{"to_client_id\u0000":1,"to_client_id":2}`, false},
		{`{"\u0074\u006F_client_id":1,"to_client_id":2}`, true},
		{`{"typ\u00e9":1,"typ\u00e9":2}`, false},
		{`{"\"":1,"\"":2}`, false},
	} {
		if got := repeatsField([]byte(tc.in)); got != tc.want {
			t.Errorf("repeatsField(%q) = %v; want %v", tc.in, got, tc.want)
		}
		if got, want := repeatsField([]byte(tc.in)), stdRepeatsField([]byte(tc.in)); got != want {
			t.Errorf("repeatsField(%q) = %v; encoding/json's tokens say %v", tc.in, got, want)
		}
		b := []byte(tc.in)
		if got := testing.AllocsPerRun(10, func() { repeatsField(b) }); got != 0 {
			t.Errorf("AllocsPerRun(repeatsField(%q)) = %v; want 0", tc.in, got)
		}
	}
}

// stdRepeatsField is the naive reference of repeatsField: the object's keys
// as encoding/json's tokenizer decodes them, looked up among the json tags
// of inboundJSON. It reports false for anything but a valid JSON object.
func stdRepeatsField(data []byte) bool {
	fields := map[string]bool{}
	for f := range reflect.TypeFor[inboundJSON]().Fields() {
		fields[strings.Split(f.Tag.Get("json"), ",")[0]] = true
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return false
	}
	seen := map[string]bool{}
	repeated := false
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return false
		}
		key := tok.(string)
		repeated = repeated || fields[key] && seen[key]
		seen[key] = true
		var v json.RawMessage
		if dec.Decode(&v) != nil {
			return false
		}
	}
	return repeated
}
