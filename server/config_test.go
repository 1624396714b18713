package server

import (
	"runtime"
	"testing"
)

// TestDefaultLoops: no loops configured means one per CPU but one, at
// least one (DefaultLoops says why); a configured number is kept.
func TestDefaultLoops(t *testing.T) {
	want := runtime.NumCPU() - 1
	if want < 1 {
		want = 1
	}
	for _, tc := range []struct{ set, want int }{{0, want}, {-3, want}, {1, 1}, {7, 7}} {
		c := Config{Loops: tc.set}
		if err := c.Normalize(); err != nil {
			t.Fatalf("Normalize: %v", err)
		}
		if c.Loops != tc.want {
			t.Errorf("Loops %d normalized to %d; want %d (%d CPUs)", tc.set, c.Loops, tc.want, runtime.NumCPU())
		}
	}
}
