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
