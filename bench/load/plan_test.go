package load

import (
	"testing"

	"golang.org/x/sys/unix"
)

func TestPlansSplit(t *testing.T) {
	tests := []struct {
		name                  string
		n, workers, align     int
		wantWorkers, wantLast int
	}{
		{"small is one worker", 100, 0, 1, 1, 100},
		{"auto at least two", 1000, 0, 1, 2, 500},
		{"100k under the fd limit", 100000, 0, 1, 7, 14286},
		{"pairs stay together", 2002, 4, 2, 4, 502},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ps := plans(Plan{Rate: 1000}, tt.n, tt.workers, tt.align)
			if len(ps) != tt.wantWorkers {
				t.Fatalf("plans(%d) = %d workers; want %d", tt.n, len(ps), tt.wantWorkers)
			}
			next, rate := 0, 0.0
			for _, p := range ps {
				if p.First != next || p.Count > MaxPerWorker || p.Total != tt.n {
					t.Errorf("plan %+v: want First %d, Count <= %d, Total %d", p, next, MaxPerWorker, tt.n)
				}
				if tt.align > 1 && p.First%tt.align != 0 {
					t.Errorf("plan starts at %d; want a multiple of %d", p.First, tt.align)
				}
				next += p.Count
				rate += p.Rate
			}
			if next != tt.n || ps[len(ps)-1].Count != tt.wantLast || rate < 999.9 || rate > 1000.1 {
				t.Errorf("plans cover %d (last %d, rate %.1f); want %d (last %d, rate 1000)", next, ps[len(ps)-1].Count, rate, tt.n, tt.wantLast)
			}
		})
	}
}

func TestWantLogins(t *testing.T) {
	tests := []struct {
		n, size int
		want    int64
	}{
		{1, 100, 1},
		{100, 100, 5050},
		{250, 100, 5050*2 + 1275},
		{15000, 100, 150 * 5050},
	}
	for _, tt := range tests {
		if got := wantLogins(tt.n, tt.size); got != tt.want {
			t.Errorf("wantLogins(%d, %d) = %d; want %d", tt.n, tt.size, got, tt.want)
		}
	}
}

func TestSenders(t *testing.T) {
	// 1,000 rooms of 100, 5 sender rooms with 3 senders each: rooms 0,
	// 200, ..., 800, positions 0, 34 and 68.
	spec := Spec{Scenario: "connect", Name: "c", Conns: 100000, RoomSize: 100, SenderRooms: 5, Senders: 3}
	base, _ := spec.plan([]string{"127.0.0.1:1"}, true)
	ps := plans(base, spec.Conns, 0, 1)
	var got []int
	total := 0
	for _, p := range ps {
		total += p.senders()
		for g := p.First; g < p.First+p.Count; g++ {
			if p.isSender(g) {
				got = append(got, g)
			}
		}
	}
	want := []int{0, 34, 68, 20000, 20034, 20068, 40000, 40034, 40068, 60000, 60034, 60068, 80000, 80034, 80068}
	if total != len(want) || len(got) != len(want) {
		t.Fatalf("senders %v (counted %d); want %v", got, total, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("senders %v; want %v", got, want)
		}
	}
	// A broadcast room keeps every RoomSize/Senders-th member a sender.
	b := Spec{Scenario: "broadcast", Name: "b", Conns: 1000, RoomSize: 1000, Senders: 10}
	bp, _ := b.plan([]string{"127.0.0.1:1"}, false)
	if n := (&Plan{First: 0, Count: 1000, RoomSize: bp.RoomSize, SenderEvery: bp.SenderEvery}).senders(); n != 10 {
		t.Errorf("broadcast-1000 with 10 senders has %d", n)
	}
}

func TestServerOfSpread(t *testing.T) {
	w := &worker{plan: Plan{RoomSize: 100}, srvs: make([]unix.SockaddrInet4, 7)}
	c := &conn{g: 250}
	if got := w.serverOf(c); got != 2 {
		t.Errorf("rooms whole: conn 250 (room 2) on server %d; want 2", got)
	}
	w.plan.Spread = true
	seen := map[int]bool{}
	for g := range 100 {
		seen[w.serverOf(&conn{g: int32(g)})] = true
	}
	if len(seen) != 7 {
		t.Errorf("spread: room 0 is on %d of 7 servers; want all", len(seen))
	}
}
