package codec

import (
	"math/rand/v2"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestAppendEventShapes pins every event in both dialects to the exact
// bytes of the 2014 seed and of workerman-chat's current Events.php.
func TestAppendEventShapes(t *testing.T) {
	tm := seedTime
	login := Event{Kind: EventLogin, UID: 7, Name: "猪猪", Time: tm}
	say := Event{Kind: EventSay, UID: 7, Name: "猪猪", Content: "hi, all !", Time: tm}
	priv := Event{Kind: EventPrivate, UID: 7, Name: "猪猪", To: 9, ToName: "a&amp;b", Content: "psst<br />\n", Time: tm}
	echo := priv
	echo.Kind = EventPrivateEcho
	logout := Event{Kind: EventLogout, UID: 7, Name: "猪猪", Time: tm}
	tests := []struct {
		name string
		d    Dialect
		ev   *Event
		want string
	}{
		{"login", Dialect2014, &login, `{"type":"login","uid":7,"name":"猪猪","time":"2014-08-12 17:50:30"}`},
		{"login", DialectCurrent, &login, `{"type":"login","client_id":"7","client_name":"猪猪","time":"2014-08-12 17:50:30"}`},
		{"say", Dialect2014, &say, `{"type":"say","from_uid":7,"to_uid":"all","content":"hi, all !","time":"2014-08-12 17:50:30"}`},
		{"say", DialectCurrent, &say, `{"type":"say","from_client_id":"7","from_client_name":"猪猪","to_client_id":"all","content":"hi, all !","time":"2014-08-12 17:50:30"}`},
		{"private", Dialect2014, &priv, `{"type":"say","from_uid":7,"to_uid":9,"content":"psst<br />\n","time":"2014-08-12 17:50:30"}`},
		{"private", DialectCurrent, &priv, `{"type":"say","from_client_id":"7","from_client_name":"猪猪","to_client_id":"9","content":"<b>对你说: </b>psst<br />\n","time":"2014-08-12 17:50:30"}`},
		{"echo", Dialect2014, &echo, `{"type":"say","from_uid":7,"to_uid":9,"content":"psst<br />\n","time":"2014-08-12 17:50:30"}`},
		{"echo", DialectCurrent, &echo, `{"type":"say","from_client_id":"7","from_client_name":"猪猪","to_client_id":"9","content":"<b>你对a&amp;b说: </b>psst<br />\n","time":"2014-08-12 17:50:30"}`},
		{"logout", Dialect2014, &logout, `{"type":"logout","uid":7,"time":"2014-08-12 17:50:30"}`},
		{"logout", DialectCurrent, &logout, `{"type":"logout","from_client_id":"7","from_client_name":"猪猪","time":"2014-08-12 17:50:30"}`},
	}
	for _, tt := range tests {
		if got := string(AppendEvent([]byte("x"), tt.d, tt.ev)); got != "x"+tt.want {
			t.Errorf("AppendEvent(%s, %s) = %s; want x%s", tt.d, tt.name, got, tt.want)
		}
	}
	got := string(AppendClientList(nil, &login, []User{{3, "a\"b"}, {7, "猪猪"}}))
	want := `{"type":"login","client_id":"7","client_name":"猪猪","time":"2014-08-12 17:50:30","client_list":{"3":"a\"b","7":"猪猪"}}`
	if got != want {
		t.Errorf("AppendClientList = %s; want %s", got, want)
	}
}

// TestAppendEventDifferential decodes AppendEvent's output with
// encoding/json and checks key order, JSON types and values.
func TestAppendEventDifferential(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 12))
	for range 500 {
		ev := Event{UID: rng.Uint64(), Name: nastyString(rng), To: rng.Uint64(), ToName: nastyString(rng),
			Content: nastyString(rng), Time: time.Unix(rng.Int64N(1<<35), 0)}
		id, to := strconv.FormatUint(ev.UID, 10), strconv.FormatUint(ev.To, 10)
		name, ts := wantDecoded(ev.Name), ev.Time.Format(time.DateTime)
		content := wantDecoded(ev.Content)
		tests := []struct {
			kind EventKind
			keys string
			want map[string]any
		}{
			{EventLogin, "type client_id client_name time",
				map[string]any{"type": "login", "client_id": id, "client_name": name, "time": ts}},
			{EventSay, "type from_client_id from_client_name to_client_id content time",
				map[string]any{"type": "say", "from_client_id": id, "from_client_name": name, "to_client_id": "all", "content": content, "time": ts}},
			{EventPrivate, "type from_client_id from_client_name to_client_id content time",
				map[string]any{"type": "say", "from_client_id": id, "from_client_name": name, "to_client_id": to, "content": privateToYou + content, "time": ts}},
			{EventPrivateEcho, "type from_client_id from_client_name to_client_id content time",
				map[string]any{"type": "say", "from_client_id": id, "from_client_name": name, "to_client_id": to,
					"content": privateFromYou + wantDecoded(ev.ToName) + privateSaid + content, "time": ts}},
			{EventLogout, "type from_client_id from_client_name time",
				map[string]any{"type": "logout", "from_client_id": id, "from_client_name": name, "time": ts}},
		}
		for _, tt := range tests {
			ev.Kind = tt.kind
			got := AppendEvent(nil, DialectCurrent, &ev)
			keys, values, err := decodeOrdered(got)
			if err != nil || strings.Join(keys, " ") != tt.keys {
				t.Fatalf("AppendEvent(current, %d) = %s: keys %v, %v; want keys %s", tt.kind, got, keys, err, tt.keys)
			}
			if !reflect.DeepEqual(values, tt.want) {
				t.Fatalf("AppendEvent(current, %d) = %s, decoded %#v; want %#v", tt.kind, got, values, tt.want)
			}
		}
		ev.Kind = EventLogin
		list := AppendClientList(nil, &ev, []User{{ev.To, ev.ToName}, {ev.UID, ev.Name}})
		keys, values, err := decodeOrdered(list)
		if err != nil || strings.Join(keys, " ") != "type client_id client_name time client_list" {
			t.Fatalf("AppendClientList = %s: keys %v, %v", list, keys, err)
		}
		wantList := map[string]any{to: wantDecoded(ev.ToName), id: name}
		if !reflect.DeepEqual(values["client_list"], wantList) {
			t.Fatalf("AppendClientList = %s: client_list %#v; want %#v", list, values["client_list"], wantList)
		}
	}
}

func TestAppendEventAllocs(t *testing.T) {
	dst := make([]byte, 0, 1024)
	users := []User{{783654164, "猪猪"}, {783700053, "my\"nick"}}
	ev := Event{UID: 783700053, Name: "mynick", To: 1, ToName: "猪猪", Content: "hi, all !\u2028 \x01", Time: seedTime}
	for _, d := range []Dialect{Dialect2014, DialectCurrent} {
		for k := EventLogin; k <= EventLogout; k++ {
			ev.Kind = k
			if got := testing.AllocsPerRun(100, func() { AppendEvent(dst[:0], d, &ev) }); got != 0 {
				t.Errorf("AllocsPerRun(AppendEvent(%s, %d)) = %v; want 0", d, k, got)
			}
		}
	}
	ev.Kind = EventLogin
	if got := testing.AllocsPerRun(100, func() { AppendClientList(dst[:0], &ev, users) }); got != 0 {
		t.Errorf("AllocsPerRun(AppendClientList) = %v; want 0", got)
	}
}

func TestEventID(t *testing.T) {
	at := time.Date(2014, 8, 12, 17, 50, 30, 0, time.Local)
	ev := Event{Kind: EventSay, UID: 7, Name: "n", Content: "c", Time: at, ID: ID{"e1", 9}}
	tests := []struct {
		d    Dialect
		want string
	}{
		{Dialect2014, `{"type":"say","from_uid":7,"to_uid":"all","content":"c","time":"2014-08-12 17:50:30","id":"e1-9"}`},
		{DialectCurrent, `{"type":"say","from_client_id":"7","from_client_name":"n","to_client_id":"all","content":"c","time":"2014-08-12 17:50:30","id":"e1-9"}`},
	}
	for _, tt := range tests {
		if got := string(AppendEvent(nil, tt.d, &ev)); got != tt.want {
			t.Errorf("AppendEvent(%s) = %s; want %s", tt.d, got, tt.want)
		}
	}
	ev.Kind = EventLogin
	want := `{"type":"login","client_id":"7","client_name":"n","time":"2014-08-12 17:50:30","client_list":{"7":"n"},"id":"e1-9"}`
	if got := string(AppendClientList(nil, &ev, []User{{UID: 7, Name: "n"}})); got != want {
		t.Errorf("AppendClientList = %s; want %s", got, want)
	}
	dst := make([]byte, 0, 512)
	if got := testing.AllocsPerRun(100, func() { AppendEvent(dst[:0], Dialect2014, &ev) }); got != 0 {
		t.Errorf("AllocsPerRun(AppendEvent with id) = %v; want 0", got)
	}
}

// TestAppendSayBody: a say rendered from the other dialect's content body
// is the say AppendEvent encodes.
func TestAppendSayBody(t *testing.T) {
	at := time.Date(2014, 8, 12, 17, 50, 30, 0, time.Local)
	for _, content := range []string{"hi", `a\b "q" &amp; <br />` + "\n猪\u2028", ""} {
		ev := Event{Kind: EventSay, UID: 7, Name: "n&amp;", Content: content, Time: at, ID: ID{"e", 3}}
		for _, from := range []Dialect{Dialect2014, DialectCurrent} {
			body := SayContentBody(AppendEvent(nil, from, &ev))
			for _, to := range []Dialect{Dialect2014, DialectCurrent} {
				want := string(AppendEvent(nil, to, &ev))
				if got := string(AppendSayBody(nil, to, &ev, body)); got != want {
					t.Errorf("AppendSayBody(%s from %s, %q) = %s; want %s", to, from, content, got, want)
				}
			}
		}
	}
}
