package cluster

import (
	"encoding/binary"
	"hash/fnv"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"chatd/room"
)

func hb(id, boot uint64) *nats.Msg {
	return &nats.Msg{Data: binary.AppendUvarint(binary.AppendUvarint(nil, id), boot)}
}

// TestLivenessSilenceIsRelative: a node is evicted only when this node's
// own heartbeats kept coming back for the TTL after the other's last
// one. When every heartbeat is late (NATS or this node starved of CPU,
// as in a 100,000-login ramp on 2 cores, where healthy nodes were
// evicted and all their members logged out and in again), nobody is.
func TestLivenessSilenceIsRelative(t *testing.T) {
	const ttl = 5 * time.Second
	n := &Node{id: 1, boot: 11}
	l := &n.live
	l.init(n)
	other := room.Owner{Node: 2, Boot: 22}
	l.onHeartbeat(hb(1, 11))
	l.onHeartbeat(hb(2, 22))
	n.Watch(other)

	// Every heartbeat stops arriving: wall time passes, nothing is evicted.
	l.mu.Lock()
	l.seen[2] = seenNode{22, time.Now().Add(-time.Minute)}
	l.watched[other] = time.Now().Add(-time.Minute)
	l.self = time.Now().Add(-time.Minute)
	l.mu.Unlock()
	l.expire(ttl)
	if ev := l.take(); len(ev) != 0 {
		t.Fatalf("evicted %v while our own heartbeats were as late as theirs", ev)
	}

	// Ours come back, theirs do not: evicted once ours are ttl ahead.
	l.onHeartbeat(hb(1, 11))
	l.expire(ttl)
	if ev := l.take(); len(ev) != 1 || ev[0] != other {
		t.Fatalf("evicted %v; want %v (our heartbeats arrived for a minute after its last)", ev, other)
	}

	// A node heard recently is not evicted.
	third := room.Owner{Node: 3, Boot: 33}
	l.onHeartbeat(hb(3, 33))
	n.Watch(third)
	l.onHeartbeat(hb(1, 11))
	l.expire(ttl)
	if ev := l.take(); len(ev) != 0 {
		t.Fatalf("evicted %v, heard within the TTL", ev)
	}
}

// TestIdleChecksBackOff: a quiet room's log tail is read after d of
// silence, then after twice as long each time (up to maxQuiet), not every
// d for ever; a live event starts over.
func TestIdleChecksBackOff(t *testing.T) {
	const d = 5 * time.Second
	f := &feed{state: feedLive}
	silent := func(for_ time.Duration) bool {
		f.mu.Lock()
		f.lastLive = time.Now().Add(-for_)
		f.mu.Unlock()
		return f.idle(d)
	}
	if silent(d / 2) {
		t.Fatal("checked after d/2 of silence")
	}
	for _, wait := range []time.Duration{d, 2 * d, 4 * d, 8 * d} {
		if silent(wait - time.Second) {
			t.Fatalf("checked %v before the %v mark", time.Second, wait)
		}
		if !silent(wait + time.Second) {
			t.Fatalf("not checked after %v of silence", wait+time.Second)
		}
	}
	f.quiet = maxQuiet
	if !silent(maxQuiet+time.Second) || f.quiet != maxQuiet {
		t.Fatalf("after maxQuiet: quiet = %v; want the cap %v", f.quiet, maxQuiet)
	}
	f.mu.Lock()
	f.lastLive, f.quiet = time.Now(), 0 // as offer does for a live event
	f.mu.Unlock()
	if !silent(d + time.Second) {
		t.Fatal("a live event did not start the checks over")
	}
}

// TestCheckpointWriter: every node picks the same writer for a room
// whatever the order of its owners, and rooms spread over the nodes.
func TestCheckpointWriter(t *testing.T) {
	owners := []room.Owner{{Node: 1, Boot: 10}, {Node: 2, Boot: 20}, {Node: 3, Boot: 30}, {Node: 4, Boot: 40}}
	per := map[room.Owner]int{}
	for i := range 1000 {
		id := "room" + string(rune('a'+i%26)) + string(rune('0'+i/26%10)) + string(rune('0'+i/260))
		w := writer(id, owners)
		rev := []room.Owner{owners[3], owners[2], owners[1], owners[0], owners[1]} // order and repeats do not matter
		if got := writer(id, rev); got != w {
			t.Fatalf("room %s: writer %v, or %v with the owners in another order", id, w, got)
		}
		per[w]++
	}
	for _, o := range owners {
		if per[o] < 150 {
			t.Errorf("owner %v writes %d of 1,000 rooms' checkpoints; want them spread (%v)", o, per[o], per)
		}
	}
	if w := writer("r", owners[2:3]); w != owners[2] {
		t.Errorf("the only owner %v is not the writer (%v)", owners[2], w)
	}
}

// TestOwnerHashIsFNV: the writer's hash is hash/fnv's 64-bit FNV-1a of the
// room id and the owner (nodes of different versions pick the same
// writer), and picking a writer among thousands of owners allocates
// nothing.
func TestOwnerHashIsFNV(t *testing.T) {
	for _, id := range []string{"", "r", "room-42", "\u732b"} {
		for _, o := range []room.Owner{{}, {Node: 1, Boot: 2}, {Node: 1 << 40, Boot: 1<<63 + 5}} {
			h := fnv.New64a()
			h.Write([]byte(id))
			h.Write(binary.LittleEndian.AppendUint64(binary.LittleEndian.AppendUint64(nil, o.Node), o.Boot))
			if got, want := ownerHash(id, o), h.Sum64(); got != want {
				t.Errorf("ownerHash(%q, %v) = %x; hash/fnv gives %x", id, o, got, want)
			}
		}
	}
	owners := make([]room.Owner, 5000)
	for i := range owners {
		owners[i] = room.Owner{Node: uint64(1 + i%7), Boot: 100}
	}
	if a := testing.AllocsPerRun(10, func() { writer("room", owners) }); a != 0 {
		t.Errorf("writer over 5,000 owners: %v allocations; want 0", a)
	}
}
