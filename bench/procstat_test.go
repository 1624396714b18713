package bench

import (
	"os"
	"testing"
)

// TestReadProcStatWrites: the write system call count of this process
// grows by at least the writes it makes.
func TestReadProcStatWrites(t *testing.T) {
	f, err := os.Create(t.TempDir() + "/w")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	s0, err := ReadProcStat(0)
	if err != nil {
		t.Fatal(err)
	}
	if s0.Writes < 0 {
		t.Skip("/proc/self/io is not readable here")
	}
	for i := 0; i < 10; i++ {
		if _, err := f.Write([]byte("x")); err != nil {
			t.Fatal(err)
		}
	}
	s1, err := ReadProcStat(0)
	if err != nil {
		t.Fatal(err)
	}
	if s1.Writes-s0.Writes < 10 {
		t.Fatalf("writes grew by %d after 10 writes (%d -> %d)", s1.Writes-s0.Writes, s0.Writes, s1.Writes)
	}
	if s1.RSS <= 0 {
		t.Fatalf("rss %d", s1.RSS)
	}
}
