package room

import (
	"fmt"
	"testing"

	"chatd/codec"
)

// BenchmarkBroadcast measures one room message: encode and frame once,
// sequence to both loops, fan out to every member's queue and flush (the
// connections are null writers, so this is chatd's own cost per message,
// without syscalls).
func BenchmarkBroadcast(b *testing.B) {
	benchmarkBroadcast(b, func(int) codec.Dialect { return codec.Dialect2014 })
}

// BenchmarkBroadcastMixed is BenchmarkBroadcast in a room whose members
// alternate between the two dialects: two encodes per message.
func BenchmarkBroadcastMixed(b *testing.B) {
	benchmarkBroadcast(b, func(i int) codec.Dialect { return codec.Dialect(i / 2 % 2) })
}

func benchmarkBroadcast(b *testing.B, dialect func(i int) codec.Dialect) {
	for _, members := range []int{10, 100, 1000, 10000} {
		b.Run(fmt.Sprintf("members=%d", members), func(b *testing.B) {
			h := syncHub(2, Config{MaxOutbound: 1 << 30})
			var sender *Member
			for i := 0; i < members; i++ {
				m := h.Shard(i % 2).NewMember(nullConn{})
				m.SetDialect(dialect(i))
				h.Login(m, "member", "")
				drainAll(h)
				sender = m
			}
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				_ = h.Say(sender, "hello, room")
				drainAll(h)
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(members), "ns/delivery")
		})
	}
}

// BenchmarkJoin measures a login into a room that already has n members:
// the new member's user_list (O(n) to encode) and the login notice to all.
func BenchmarkJoin(b *testing.B) {
	for _, members := range []int{100, 1000, 10000} {
		b.Run(fmt.Sprintf("members=%d", members), func(b *testing.B) {
			h := syncHub(2, Config{MaxOutbound: 1 << 30})
			for i := 0; i < members; i++ {
				h.Login(h.Shard(i%2).NewMember(nullConn{}), "member", "")
				drainAll(h)
			}
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				m := h.Shard(i % 2).NewMember(nullConn{})
				h.Login(m, "joiner", "")
				drainAll(h)
				h.Close(m)
				drainAll(h)
			}
		})
	}
}

// BenchmarkJoinHistory measures a login into a room of 100 members that
// keeps 100 says: without history, with all 100 (one history frame built
// by copying the kept frames), with the last 10 after a since, and for a
// member of the dialect no say was framed in (rendered from the other's).
func BenchmarkJoinHistory(b *testing.B) {
	tests := []struct {
		name    string
		dialect codec.Dialect
		want    func(h *Hub) codec.Resume
	}{
		{"none", codec.Dialect2014, func(*Hub) codec.Resume { return codec.Resume{} }},
		{"history=100", codec.Dialect2014, func(*Hub) codec.Resume { return codec.Resume{History: 100} }},
		{"since=last10", codec.Dialect2014, func(h *Hub) codec.Resume {
			return codec.Resume{Since: codec.ID{Epoch: h.Epoch(), Seq: h.seqs.Load() - 10}}
		}},
		{"history=100/other-dialect", codec.DialectCurrent, func(*Hub) codec.Resume { return codec.Resume{History: 100} }},
	}
	for _, tt := range tests {
		b.Run(tt.name, func(b *testing.B) {
			h := syncHub(2, Config{MaxOutbound: 1 << 30})
			var sender *Member
			for i := 0; i < 100; i++ {
				sender = h.Shard(i % 2).NewMember(nullConn{})
				h.Login(sender, "member", "")
				drainAll(h)
			}
			for i := 0; i < 100; i++ {
				_ = h.Say(sender, fmt.Sprintf("message %d of the conversation, about this long", i))
				drainAll(h)
			}
			want := tt.want(h)
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				m := h.Shard(i % 2).NewMember(nullConn{})
				m.SetDialect(tt.dialect)
				h.LoginResume(m, "joiner", "", want)
				drainAll(h)
				h.Close(m)
				drainAll(h)
			}
		})
	}
}

// BenchmarkHistoryMemory reports the Go heap of 1,000 rooms that each
// keep a full history (100 says of 50 bytes, one member each), after a
// GC, against the same rooms without history.
func BenchmarkHistoryMemory(b *testing.B) {
	for _, keep := range []int{-1, 100} {
		b.Run(fmt.Sprintf("history_max=%d", keep), func(b *testing.B) {
			for n := 0; n < b.N; n++ {
				before := heapInUse()
				h := syncHub(2, Config{MaxOutbound: 1 << 30, HistoryMax: keep, HistoryBytes: 1 << 30})
				for r := 0; r < 1000; r++ {
					m := h.Shard(r % 2).NewMember(nullConn{})
					h.Login(m, "member", fmt.Sprint("room-", r))
					for i := 0; i < 100; i++ {
						_ = h.Say(m, fmt.Sprintf("message %03d of a conversation, fifty bytes", i))
					}
					drainAll(h)
				}
				after := heapInUse()
				b.ReportMetric(float64(after-before)/(1<<20), "MiB/1000rooms")
				b.ReportMetric(float64(h.HistoryBytes())/(1<<20), "MiB-accounted")
				runtimeKeepAlive(h)
			}
		})
	}
}

// BenchmarkBroadcastPass is a loaded loop's pass: 10 says of a room
// applied and flushed together (each member gets them in one write).
func BenchmarkBroadcastPass(b *testing.B) {
	for _, members := range []int{100, 1000, 10000} {
		b.Run(fmt.Sprintf("members=%d", members), func(b *testing.B) {
			h := syncHub(1, Config{MaxOutbound: 1 << 30})
			var ms []*Member
			for i := 0; i < members; i++ {
				m := h.Shard(0).NewMember(nullConn{})
				h.Login(m, "member", "")
				drainAll(h)
				ms = append(ms, m)
			}
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				for j := 0; j < 10; j++ {
					_ = h.Say(ms[j], "hello, room")
				}
				drainAll(h)
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(10*members), "ns/delivery")
		})
	}
}
