package codec

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"sort"
	"strings"
	"testing"
	"unicode/utf8"
	"unsafe"

	"github.com/gobwas/ws"
)

// Fuzz tests: each splits its input at arbitrary points and checks that
// feeding it in pieces gives the same result as feeding it whole, plus the
// invariants of the result. Seeds come from f.Add (the unit test tables);
// `go test` runs only the seeds, so they stay quick.

func FuzzParseRequest(f *testing.F) {
	f.Add([]byte(seedRequest), uint16(100), uint16(0))
	f.Add([]byte(minimal), uint16(7), uint16(len(minimal)))
	f.Add([]byte(strings.ReplaceAll(minimal, "\r\n", "\n")), uint16(50), uint16(0))
	for _, r := range refusals {
		f.Add([]byte(strings.Replace(minimal, r.from, r.to, 1)), uint16(len(r.name)), uint16(0))
	}
	f.Fuzz(func(t *testing.T, data []byte, split, limit uint16) {
		req, n, err := ParseRequest(data, int(limit))
		checkRequestInvariants(t, data, int(limit), req, n, err)
		k := int(split) % (len(data) + 1)
		preq, pn, perr := ParseRequest(data[:k], int(limit))
		switch {
		case pn == 0 && perr == nil:
			if err == nil && n > 0 && k >= n {
				t.Fatalf("ParseRequest(%q) = need more; the whole request ends at %d", data[:k], n)
			}
		case pn != n || perr != err || fmt.Sprint(preq) != fmt.Sprint(req):
			t.Fatalf("ParseRequest(%q) = %d, %v; want need more or %d, %v as for the whole", data[:k], pn, perr, n, err)
		}
	})
}

// checkRequestInvariants checks a ParseRequest result against its input.
func checkRequestInvariants(t *testing.T, data []byte, limit int, req Request, n int, err error) {
	if limit <= 0 {
		limit = DefaultHeaderLimit
	}
	if err != nil {
		if status(err) <= 0 || n != 0 {
			t.Fatalf("ParseRequest(%q) = %d, %v; want an *HTTPError and 0", data, n, err)
		}
		return
	}
	if n == 0 {
		if len(data) > limit || headerEnd(data) != 0 {
			t.Fatalf("ParseRequest(%q) = need more with %d bytes, limit %d", data, len(data), limit)
		}
		return
	}
	head := data[:n]
	if n > limit || !(bytes.HasSuffix(head, []byte("\n\n")) || bytes.HasSuffix(head, []byte("\n\r\n"))) {
		t.Fatalf("ParseRequest(%q) = %d; want the end of a header block within %d", data, n, limit)
	}
	for _, s := range [][]byte{req.Path, req.Query, req.Host, req.Origin, req.Key, req.XForwardedFor} {
		if len(s) > 0 && !within(s, head) {
			t.Fatalf("ParseRequest(%q): field %q does not alias the request", data, s)
		}
	}
	if !validKey(req.Key) || len(req.Path) == 0 || req.Path[0] != '/' || !isHost(req.Host) {
		t.Fatalf("ParseRequest(%q) accepted key %q, path %q, host %q", data, req.Key, req.Path, req.Host)
	}
}

func uintptrOf(b []byte) uintptr { return uintptr(unsafe.Pointer(unsafe.SliceData(b))) }

// within reports whether s lies inside buf's memory.
func within(s, buf []byte) bool {
	return cap(buf) > 0 && len(s) > 0 &&
		uintptrOf(s) >= uintptrOf(buf) && uintptrOf(s)+uintptr(len(s)) <= uintptrOf(buf)+uintptr(len(buf))
}

func FuzzParserSplit(f *testing.F) {
	for i, c := range parserCases() {
		if len(c.stream) < 4096 {
			f.Add(c.stream, uint64(i), uint16(c.max))
		}
	}
	f.Fuzz(func(t *testing.T, stream []byte, seed uint64, max uint16) {
		whole := runParser(t, stream, nil, int(max))
		rng := rand.New(rand.NewPCG(seed, seed>>32))
		split := runParser(t, stream, randomChunks(rng, len(stream)), int(max))
		if fmt.Sprint(split) != fmt.Sprint(whole) {
			t.Fatalf("Next(% x) in pieces = %v; whole = %v", stream, trunc(split), trunc(whole))
		}
		for _, e := range whole {
			if e.Op == ws.OpText && !utf8.ValidString(e.Payload) {
				t.Fatalf("Next(% x) returned invalid UTF-8 text %q", stream, e.Payload)
			}
			if int(max) > 0 && e.Op != 0xff && !e.Op.IsControl() && len(e.Payload) > int(max) {
				t.Fatalf("Next(% x) returned %d bytes over the limit %d", stream, len(e.Payload), max)
			}
		}
	})
}

// FuzzUTF8Split is the differential fuzz test of the incremental UTF-8
// validator (utf8State, which validates fragments and streaming frames as
// they arrive): data cut at arbitrary points and fed part by part must
// fail at the first part after which no bytes could make it valid (the
// naive validPrefix), never earlier or later, and end with utf8.Valid's
// verdict.
func FuzzUTF8Split(f *testing.F) {
	for _, s := range []string{"", "hello", "κόσμε", "\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5\xf4\x90\x80\x80edited",
		"\xf0\x9f\x98\x80", "\xed\xa0\x80", "\xe0\x9f\xbf", "\xf4\x8f\xbf\xbf", "a\x80", "\xc0\xaf", "\xe2\x82"} {
		f.Add([]byte(s), uint64(len(s)))
	}
	f.Fuzz(func(t *testing.T, data []byte, seed uint64) {
		rng := rand.New(rand.NewPCG(seed, seed>>32))
		// The shortest prefix that nothing can complete (validPrefix only
		// turns false once): binary search keeps the reference O(n log n).
		bad := sort.Search(len(data)+1, func(j int) bool { return !validPrefix(data[:j]) })
		var s utf8State
		ok, at := true, 0
		for _, k := range randomChunks(rng, len(data)) {
			at += k
			ok = s.feed(data[at-k : at])
			if want := at < bad; ok != want {
				t.Fatalf("feed(% x in parts, through %d) = %v; want %v", data, at, ok, want)
			}
			if !ok {
				return
			}
		}
		if got, want := s.done(), utf8.Valid(data); got != want {
			t.Fatalf("feed(% x) then done() = %v; want utf8.Valid = %v", data, got, want)
		}
	})
}

// fragmentText frames payload as a text message cut at random points.
func fragmentText(rng *rand.Rand, payload []byte) []byte {
	var out []byte
	op := ws.OpText
	chunks := randomChunks(rng, len(payload))
	if len(chunks) == 0 {
		chunks = []int{0}
	}
	for i, k := range chunks {
		out = append(out, frameOf(i == len(chunks)-1, op, string(payload[:k]))...)
		payload, op = payload[k:], ws.OpContinuation
	}
	return out
}

func FuzzDecodeInbound(f *testing.F) {
	for _, s := range []string{string(typicalSay), `{"type":"login","name":"mynick","room_id":12}`,
		`{"type":"say","to_uid":"\u0037","content":"\ud800"}`, `{"type":"pong","x":[1,{"y":null}]}`,
		`{"TYPE":"say","type":"login"}`, `[]`, `{"type":"say","to_uid":1e3}`, "{\"type\":\"a\x01\"}",
		`{"type":"login","client_name":"\u732a","room_id":1}`, `{"type":"login","name":"a","client_name":null}`,
		`{"type":"say","to_client_id":"12","to_client_name":"x","content":"hi"}`,
		`{"name":"0","name":null}`, `{"typ\u0065":"pong","type":"pong"}`} {
		f.Add([]byte(s), uint64(len(s)))
	}
	f.Fuzz(func(t *testing.T, data []byte, seed uint64) {
		var whole Inbound
		werr := DecodeInbound(bytes.Clone(data), &whole)
		if replyCode(werr) == "?" {
			t.Fatalf("DecodeInbound(%q) = %v; want nil or a *Reply", data, werr)
		}
		checkAgainstStd(t, data, whole, werr)
		// The same text delivered as a fragmented message decodes the same.
		rng := rand.New(rand.NewPCG(seed, seed>>32))
		events := runParser(t, fragmentText(rng, data), randomChunks(rng, len(data)), 0)
		if !utf8.Valid(data) {
			if len(events) != 1 || events[0] != closeCodeEvent(1007) {
				t.Fatalf("Next(invalid UTF-8 %q) = %v; want 1007", data, events)
			}
			return
		}
		if len(events) != 1 || events[0].Op != ws.OpText {
			t.Fatalf("Next(fragmented %q) = %v; want one text message", data, events)
		}
		var split Inbound
		serr := DecodeInbound([]byte(events[0].Payload), &split)
		if split != whole || serr != werr {
			t.Fatalf("DecodeInbound(%q) = %+v, %v after reassembly; want %+v, %v", data, split, serr, whole, werr)
		}
	})
}

// checkAgainstStd is the differential half of FuzzDecodeInbound: whatever we
// accept as JSON, encoding/json must accept too, with the same strings
// (decoded into a map, whose keys are matched exactly as ours are).
func checkAgainstStd(t *testing.T, data []byte, in Inbound, err error) {
	var m map[string]json.RawMessage
	stdErr := json.Unmarshal(data, &m)
	// A field given twice is bad_json (sonic and encoding/json would keep
	// different copies); the naive reference tells which messages do.
	repeats := stdErr == nil && stdRepeatsField(data)
	if repeats && replyCode(err) != CodeBadJSON || err == replyDuplicate && !repeats {
		t.Fatalf("DecodeInbound(%q) = %v; encoding/json's keys repeat a field: %v", data, err, repeats)
	}
	if replyCode(err) == CodeBadJSON {
		return // sonic is allowed to be stricter (e.g. on invalid UTF-8)
	}
	if stdErr != nil {
		t.Fatalf("DecodeInbound(%q) = %+v, %v; encoding/json says %v", data, in, err, stdErr)
	}
	nameKey := "name"
	if in.Dialect == DialectCurrent {
		nameKey = "client_name"
	}
	for key, got := range map[string]string{"type": in.Type, nameKey: in.Name, "content": in.Content} {
		var want string
		if raw, ok := m[key]; ok && json.Unmarshal(raw, &want) != nil {
			t.Fatalf("DecodeInbound(%q) accepted %s = %s", data, key, raw)
		}
		if got != want {
			t.Fatalf("DecodeInbound(%q).%s = %q; encoding/json says %q", data, key, got, want)
		}
	}
}
