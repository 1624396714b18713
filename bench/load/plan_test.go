package load

import "testing"

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
