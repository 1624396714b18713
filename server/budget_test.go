package server

import (
	"strings"
	"testing"
	"time"
)

// TestBudget drives one connection's buckets through refills and
// charges with the default configuration.
func TestBudget(t *testing.T) {
	cfg := Config{}
	if err := cfg.Normalize(); err != nil {
		t.Fatal(err)
	}
	sec := int64(time.Second)
	tests := []struct {
		name   string
		frames int   // frames charged at t0
		size   int   // bytes of each
		wait   int64 // nanos waited after them
		then   int   // frames of size charged after the wait
		want   string
	}{
		{"burst of frames passes", cfg.FrameBurst, 6, 0, 0, ""},
		{"one frame past the burst", cfg.FrameBurst + 1, 6, 0, 0, "frame rate exceeded"},
		{"the rate refills", cfg.FrameBurst, 6, sec, int(cfg.FrameRate), ""},
		{"past the rate after a second", cfg.FrameBurst, 6, sec, int(cfg.FrameRate) + 1, "frame rate exceeded"},
		{"burst of bytes passes", 1, cfg.ByteBurst, 0, 0, ""},
		{"one byte past the burst", 1, cfg.ByteBurst + 1, 0, 0, "byte rate exceeded"},
		{"bytes refill", 2, int(cfg.ByteRate), sec, 1, ""}, // the default ByteBurst is two seconds of ByteRate
		{"past the byte rate", 2, int(cfg.ByteRate), sec, 2, "byte rate exceeded"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var b budget
			t0 := int64(1e18)
			b.fill(&cfg, t0)
			got := ""
			for range tt.frames {
				if got = b.take(tt.size, true); got != "" {
					break
				}
			}
			if got == "" && tt.then > 0 {
				b.refill(&cfg, t0+tt.wait)
				for range tt.then {
					if got = b.take(tt.size, true); got != "" {
						break
					}
				}
			}
			if got != tt.want {
				t.Errorf("take = %q; want %q", got, tt.want)
			}
		})
	}
}

// TestBudgetParts: the parts of a text frame that streams in are charged
// their bytes as they arrive, and the frame once, with its last part.
func TestBudgetParts(t *testing.T) {
	cfg := Config{FrameRate: 1, FrameBurst: 1}
	if err := cfg.Normalize(); err != nil {
		t.Fatal(err)
	}
	var b budget
	b.fill(&cfg, 1)
	for i := range 100 {
		if got := b.take(10, false); got != "" {
			t.Fatalf("take(part %d) = %q; want \"\"", i, got)
		}
	}
	if got := b.take(10, true); got != "" || b.bytes != float32(cfg.ByteBurst-1010) {
		t.Fatalf("take(last part) = %q, bytes left %v; want \"\", %d", got, b.bytes, cfg.ByteBurst-1010)
	}
	if got := b.take(6, true); got != "frame rate exceeded" {
		t.Fatalf("take(second frame) = %q; want frame rate exceeded", got)
	}
}

// TestBudgetMessages: the message bucket keeps its rules (burst, then
// strikes, forgiven once the bucket is full again), and a refill records
// the time of the last input.
func TestBudgetMessages(t *testing.T) {
	cfg := Config{MessageRate: 10, MessageBurst: 5}
	if err := cfg.Normalize(); err != nil {
		t.Fatal(err)
	}
	var b budget
	t0 := int64(1e18)
	b.fill(&cfg, t0)
	for i := range 5 {
		if !b.takeMessage() {
			t.Fatalf("takeMessage %d of the burst = false", i)
		}
	}
	for range 3 {
		if b.takeMessage() {
			t.Fatalf("takeMessage past the burst = true")
		}
	}
	if b.strikes != 3 {
		t.Fatalf("strikes = %d; want 3", b.strikes)
	}
	b.refill(&cfg, t0+int64(200*time.Millisecond)) // 2 tokens
	if !b.takeMessage() || b.strikes != 3 {
		t.Fatalf("after 200ms: a message passes and the strikes stay (3); got strikes %d", b.strikes)
	}
	b.refill(&cfg, t0+int64(time.Second)) // full again
	if b.strikes != 0 || b.last != t0+int64(time.Second) {
		t.Fatalf("after a full refill strikes = %d, last = %d; want 0, %d", b.strikes, b.last, t0+int64(time.Second))
	}
	b.refill(&cfg, t0) // the coarse clock never goes back; if it did, nothing happens
	if b.last != t0+int64(time.Second) {
		t.Fatalf("refill into the past moved last to %d", b.last)
	}
}

// TestBudgetConfig: the frame and byte budgets follow the message budget
// unless set, and budgets that could never let a largest message through,
// or that the coarse clock would cap, are refused.
func TestBudgetConfig(t *testing.T) {
	tests := []struct {
		name    string
		cfg     Config
		frames  float64
		fburst  int
		bytes   float64
		bburst  int
		wantErr string
	}{
		{"defaults", Config{}, 200, 400, 800 << 10, 1600 << 10, ""},
		{"follow message rate", Config{MessageRate: 1e6, MessageBurst: 1e6}, 4e6, 4e6, 16e6 * 1024, 16e6 * 1024, ""},
		{"at least two largest messages", Config{MessageBurst: 1, MessageRate: 2}, 8, 4, 32 << 10, 128 << 10, ""},
		{"explicit", Config{FrameRate: 10, FrameBurst: 20, ByteRate: 1000, ByteBurst: 70000}, 10, 20, 1000, 70000, ""},
		{"byte burst below a message", Config{ByteRate: 1000, ByteBurst: 64 << 10}, 0, 0, 0, 0, "byte burst 65536 is below max message"},
		{"frame burst below half the rate", Config{FrameRate: 1000, FrameBurst: 10}, 0, 0, 0, 0, "frame burst 10 is below half the frame rate"},
		{"byte burst below half the rate", Config{ByteRate: 1e9}, 0, 0, 0, 0, "byte burst 1638400 is below half the byte rate"},
		{"negative", Config{FrameRate: -1}, 0, 0, 0, 0, "frame rate -1 is negative"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := tt.cfg
			err := c.Normalize()
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("Normalize() = %v; want an error with %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("Normalize() = %v", err)
			}
			if c.FrameRate != tt.frames || c.FrameBurst != tt.fburst || c.ByteRate != tt.bytes || c.ByteBurst != tt.bburst {
				t.Errorf("frame %v/%d byte %v/%d; want %v/%d %v/%d", c.FrameRate, c.FrameBurst, c.ByteRate, c.ByteBurst, tt.frames, tt.fburst, tt.bytes, tt.bburst)
			}
		})
	}
}
