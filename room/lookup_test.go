package room

import "testing"

func TestInRoom(t *testing.T) {
	h := syncHub(2, Config{})
	a, b := h.Shard(0).NewMember(&fakeConn{}), h.Shard(1).NewMember(&fakeConn{})
	h.Login(a, "a", "")
	h.Login(b, "b", "r2")
	drainAll(h)
	tests := []struct {
		room string
		uid  uint64
		want bool
	}{
		{"1", a.UID(), true},
		{"", a.UID(), true}, // the default room
		{"r2", a.UID(), false},
		{"r2", b.UID(), true},
		{"1", b.UID(), false},
		{"nowhere", b.UID(), false},
		{"1", 999, false},
	}
	for _, tt := range tests {
		if got := h.InRoom(tt.room, tt.uid); got != tt.want {
			t.Errorf("InRoom(%q, %d) = %v; want %v", tt.room, tt.uid, got, tt.want)
		}
	}
	h.Login(b, "b", "1") // moves: r2 emptied and removed
	h.Close(a)
	drainAll(h)
	if h.InRoom("r2", b.UID()) || !h.InRoom("1", b.UID()) || h.InRoom("1", a.UID()) {
		t.Errorf("after b moved to 1 and a closed: InRoom(r2, b), InRoom(1, b), InRoom(1, a) = %v, %v, %v; want false, true, false",
			h.InRoom("r2", b.UID()), h.InRoom("1", b.UID()), h.InRoom("1", a.UID()))
	}
}
