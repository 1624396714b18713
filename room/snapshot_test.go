package room

import (
	"reflect"
	"testing"

	"chatd/codec"
)

func snapWithSays() *Snapshot {
	return &Snapshot{
		Seq: 10, Users: []codec.User{{UID: 1<<NodeShift | 1, Name: "a"}}, Owners: []Owner{{1, 5}},
		Kept: true, Floor: 2, Trimmed: true,
		Says: []Said{
			{Seq: 3, Event: Event{Kind: KindSay, UID: 1<<NodeShift | 1, Time: 1e18, Name: "a", Content: "hi &amp; bye"}},
			{Seq: 7, Event: Event{Kind: KindSay, UID: 1<<NodeShift | 1, Time: -3, Name: "a", Content: "x"}},
		},
	}
}

// TestSnapshotHistoryRoundTrip: a checkpoint carries the room's kept
// says; one without them (an older chatd's) still decodes.
func TestSnapshotHistoryRoundTrip(t *testing.T) {
	for _, s := range []*Snapshot{snapWithSays(), {Seq: 4, Kept: true}, {Seq: 4}} {
		got, err := DecodeSnapshot(AppendSnapshot(nil, s))
		if err != nil {
			t.Fatalf("DecodeSnapshot(AppendSnapshot(%+v)): %v", s, err)
		}
		if s.Says == nil {
			s.Says = got.Says
		}
		if !reflect.DeepEqual(got, s) {
			t.Errorf("round trip: got %+v; want %+v", got, s)
		}
	}
	bad := map[string]func(*Snapshot){
		"says out of order": func(s *Snapshot) { s.Says[0].Seq, s.Says[1].Seq = 7, 3 },
		"say past the seq":  func(s *Snapshot) { s.Says[1].Seq = 11 },
		"say without text":  func(s *Snapshot) { s.Says[1].Event.Content = "" },
	}
	for name, spoil := range bad {
		s := snapWithSays()
		spoil(s)
		if _, err := DecodeSnapshot(AppendSnapshot(nil, s)); err == nil {
			t.Errorf("%s: decoded; want ErrBadEvent", name)
		}
	}
	b := AppendSnapshot(nil, snapWithSays())
	plain := len(AppendSnapshot(nil, &Snapshot{Seq: 10, Users: snapWithSays().Users, Owners: snapWithSays().Owners}))
	for name, spoil := range map[string]func([]byte){
		"unknown section": func(b []byte) { b[plain] = 2 },
		"trimmed not 0/1": func(b []byte) { b[plain+2] = 2 },
	} {
		c := append([]byte(nil), b...)
		spoil(c)
		if _, err := DecodeSnapshot(c); err == nil {
			t.Errorf("%s: decoded; want ErrBadEvent", name)
		}
	}
}

// TestSnapshotCarriesHistory: a node that opened a room from a snapshot
// gives the same history in its own snapshot (the next node to open the
// room starts from it, without reading the room's log).
func TestSnapshotCarriesHistory(t *testing.T) {
	h := syncHub(1, Config{})
	h.AttachCluster(nopCluster{h}, 1, 5)
	m := h.Shard(0).NewMember(&fakeConn{})
	h.Login(m, "a", "r")
	drainAll(h)
	rs := h.RoomList()
	if len(rs) != 1 {
		t.Fatalf("rooms: %d", len(rs))
	}
	want := snapWithSays()
	for i := range want.Says { // within HistoryAge of the hub's clock
		want.Says[i].Event.Time = h.now() - int64(len(want.Says)-i)
	}
	h.SeedHistory(rs[0], want) // as a node opening the room does
	h.Reset(rs[0], want)
	b, _ := h.Snapshot(rs[0], nil, nil)
	got, err := DecodeSnapshot(b)
	if err != nil {
		t.Fatal(err)
	}
	if !got.Kept || got.Floor != want.Floor || got.Trimmed != want.Trimmed || !reflect.DeepEqual(got.Says, want.Says) {
		t.Errorf("snapshot after SeedHistory: kept %v floor %d trimmed %v says %+v; want floor %d trimmed %v says %+v",
			got.Kept, got.Floor, got.Trimmed, got.Says, want.Floor, want.Trimmed, want.Says)
	}
}

// TestSnapshotOnlyForTheWriter: Snapshot asks take with the room's owners
// first and builds nothing when it declines (a node that is not the
// room's checkpoint writer).
func TestSnapshotOnlyForTheWriter(t *testing.T) {
	h := syncHub(1, Config{})
	m := h.Shard(0).NewMember(&fakeConn{})
	h.Login(m, "a", "r")
	drainAll(h)
	r := h.RoomList()[0]
	var seen []Owner
	b, ok := h.Snapshot(r, []byte("x"), func(o []Owner) bool { seen = append(seen, o...); return false })
	if ok || string(b) != "x" {
		t.Fatalf("declined snapshot: %q, %v; want dst unchanged, false", b, ok)
	}
	if len(seen) != 1 {
		t.Fatalf("take saw %d owners; want 1", len(seen))
	}
	if b, ok = h.Snapshot(r, nil, func([]Owner) bool { return true }); !ok || len(b) == 0 {
		t.Fatalf("taken snapshot: %d bytes, %v", len(b), ok)
	}
	if _, err := DecodeSnapshot(b); err != nil {
		t.Fatal(err)
	}
}
