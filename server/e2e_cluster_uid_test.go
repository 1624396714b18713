package server_test

// uids are never reused in a cluster, whatever an operator deletes in
// NATS: the state bucket, the uid stores, a uid key, the rooms' stream,
// while the nodes run or while they are all down (docs/cluster.md,
// "What an operator may delete").

import (
	"context"
	"encoding/json"
	"errors"
	"strconv"
	"testing"
	"time"

	natsgo "github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"chatd/cluster"
	"chatd/server"
)

// testUIDBlock is the uid block of these tests: a node reserves a new
// one every two logins, so a deletion is followed by reservations.
const testUIDBlock = 4

// uidNode starts a cluster node with the small uid block and node id id
// (0: a random free one).
func uidNode(t *testing.T, url string, id uint64) *testServer {
	t.Helper()
	ts := startServer(t, clusterOpt(url), func(c *server.Config) {
		c.Cluster.UIDBlock = testUIDBlock
		c.Cluster.NodeID = id
	})
	waitFor(t, 10*time.Second, "node healthy", ts.srv.ClusterHealthy)
	return ts
}

// uidLedger is every uid clients were given, and to whom.
type uidLedger struct {
	t    *testing.T
	seen map[int64]string
}

func newUIDLedger(t *testing.T) *uidLedger { return &uidLedger{t: t, seen: map[int64]string{}} }

// login logs a new client into a room of its own on the node at addr
// (retrying while the node answers "unavailable", within 20 s) and
// records the uid it was given; a uid given before fails the test.
func (l *uidLedger) login(addr, name string) int64 {
	l.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		c := dial(l.t, addr, name)
		c.send(loginMsg(name, jstr("room-"+name)))
		raw := c.next()
		if isError(raw, "unavailable") == nil {
			c.close()
			if time.Now().After(deadline) {
				l.t.Fatalf("%s: login still unavailable after 20 s", name)
			}
			time.Sleep(50 * time.Millisecond) // the node is not ready: poll
			continue
		}
		var ul struct {
			UserList []struct {
				UID int64 `json:"uid"`
			} `json:"user_list"`
		}
		if err := json.Unmarshal(raw, &ul); err != nil || len(ul.UserList) != 1 {
			l.t.Fatalf("%s: got %s; want a user_list of itself (%v)", name, raw, err)
		}
		uid := ul.UserList[0].UID
		c.expect(jLogin(user{uid: uid, name: name}))
		if prev, ok := l.seen[uid]; ok {
			l.t.Errorf("uid %d (node %d, counter %d) given to %s and again to %s", uid, uid>>37, uid&(1<<37-1), prev, name)
		}
		l.seen[uid] = name
		return uid
	}
}

// logins logs in n clients on the node at addr, named prefix-0...
func (l *uidLedger) logins(addr, prefix string, n int) {
	l.t.Helper()
	for i := range n {
		l.login(addr, prefix+"-"+strconv.Itoa(i))
	}
}

// natsAdmin is an operator's JetStream connection to the cluster's NATS.
func natsAdmin(t *testing.T, url string) (jetstream.JetStream, context.Context) {
	t.Helper()
	nc, err := natsgo.Connect(url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return js, ctx
}

// uidBuckets are the KV buckets that hold (or held) uid counters: the
// state bucket (older chatd) and the uid bucket.
var uidBuckets = []string{"CHATD_STATE", "CHATD_UIDS"}

// uidFloors is the stream of the nodes' uid records (a second copy of
// their counters).
const uidFloors = "CHATD_UID_FLOORS"

// deleteStreams deletes the named streams that exist.
func deleteStreams(t *testing.T, js jetstream.JetStream, ctx context.Context, names ...string) {
	t.Helper()
	for _, s := range names {
		if err := js.DeleteStream(ctx, s); err != nil && !errors.Is(err, jetstream.ErrStreamNotFound) {
			t.Fatalf("deleting stream %s: %v", s, err)
		}
	}
}

// deleteBuckets deletes the named KV buckets that exist.
func deleteBuckets(t *testing.T, js jetstream.JetStream, ctx context.Context, names ...string) {
	t.Helper()
	for _, b := range names {
		if err := js.DeleteKeyValue(ctx, b); err != nil && !errors.Is(err, jetstream.ErrBucketNotFound) {
			t.Fatalf("deleting bucket %s: %v", b, err)
		}
	}
}

// purgeUIDKeys purges node's uid key in every bucket that has it.
func purgeUIDKeys(t *testing.T, js jetstream.JetStream, ctx context.Context, node uint64) {
	t.Helper()
	for _, b := range uidBuckets {
		kv, err := js.KeyValue(ctx, b)
		if errors.Is(err, jetstream.ErrBucketNotFound) {
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		if err := kv.Purge(ctx, "uid."+strconv.FormatUint(node, 10)); err != nil {
			t.Fatalf("purging uid.%d in %s: %v", node, b, err)
		}
	}
}

// TestClusterUIDsDeletedWhileRunning: an operator deletes what holds the
// uid counters while the nodes run; a node started afterwards creates the
// buckets again. Every uid clients get afterwards, on the nodes that ran
// and on the new one, is new. Before, the running nodes' next blocks
// started at 1 again (counters of the new bucket).
func TestClusterUIDsDeletedWhileRunning(t *testing.T) {
	for _, tc := range []struct {
		name   string
		delete func(t *testing.T, js jetstream.JetStream, ctx context.Context, nodes []uint64)
	}{
		{"state bucket", func(t *testing.T, js jetstream.JetStream, ctx context.Context, _ []uint64) {
			deleteBuckets(t, js, ctx, "CHATD_STATE")
		}},
		{"uid buckets", func(t *testing.T, js jetstream.JetStream, ctx context.Context, _ []uint64) {
			deleteBuckets(t, js, ctx, uidBuckets...)
		}},
		{"uid keys purged", func(t *testing.T, js jetstream.JetStream, ctx context.Context, nodes []uint64) {
			for _, id := range nodes {
				purgeUIDKeys(t, js, ctx, id)
			}
		}},
		{"rooms stream", func(t *testing.T, js jetstream.JetStream, ctx context.Context, _ []uint64) {
			deleteStreams(t, js, ctx, cluster.StreamName("chatd"))
		}},
		{"uid floors", func(t *testing.T, js jetstream.JetStream, ctx context.Context, _ []uint64) {
			deleteStreams(t, js, ctx, uidFloors)
		}},
		{"every stream and bucket", func(t *testing.T, js jetstream.JetStream, ctx context.Context, _ []uint64) {
			// Nothing in NATS knows the counters any more: the running
			// nodes write theirs again.
			deleteStreams(t, js, ctx, cluster.StreamName("chatd"), uidFloors)
			deleteBuckets(t, js, ctx, uidBuckets...)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			nats := startNATS(t, "127.0.0.1:0")
			js, ctx := natsAdmin(t, nats.URL())
			n1, n2 := uidNode(t, nats.URL(), 0), uidNode(t, nats.URL(), 0)
			l := newUIDLedger(t)
			l.logins(n1.addr, "a", 6)
			l.logins(n2.addr, "b", 6)
			tc.delete(t, js, ctx, []uint64{n1.srv.ClusterNode(), n2.srv.ClusterNode()})
			// The running nodes create what was deleted again, by
			// themselves (their probe).
			waitFor(t, 15*time.Second, "the streams and buckets created again", func() bool {
				for _, name := range []string{cluster.StreamName("chatd"), uidFloors, "KV_CHATD_STATE", "KV_CHATD_UIDS"} {
					if _, err := js.Stream(ctx, name); err != nil {
						return false
					}
				}
				return true
			})
			n3 := uidNode(t, nats.URL(), 0)
			l.logins(n1.addr, "c", 6)
			l.logins(n2.addr, "d", 6)
			l.logins(n3.addr, "e", 6)
			t.Logf("%d logins, %d distinct uids", 30, len(l.seen))
		})
	}
}

// TestClusterUIDsColdStart: every node stops, an operator deletes what
// holds the uid counters (or it expires), the nodes start again with the
// same ids, and no uid clients get is one given before the stop. Before,
// each node's counter started at 1 again.
func TestClusterUIDsColdStart(t *testing.T) {
	for _, tc := range []struct {
		name   string
		logAge time.Duration // the nodes' room_log_age (0: default)
		delete func(t *testing.T, js jetstream.JetStream, ctx context.Context, nodes []uint64)
	}{
		{"state bucket", 0, func(t *testing.T, js jetstream.JetStream, ctx context.Context, _ []uint64) {
			deleteBuckets(t, js, ctx, "CHATD_STATE")
		}},
		{"uid buckets", 0, func(t *testing.T, js jetstream.JetStream, ctx context.Context, _ []uint64) {
			deleteBuckets(t, js, ctx, uidBuckets...)
		}},
		{"uid keys purged", 0, func(t *testing.T, js jetstream.JetStream, ctx context.Context, nodes []uint64) {
			for _, id := range nodes {
				purgeUIDKeys(t, js, ctx, id)
			}
		}},
		{"rooms stream", 0, func(t *testing.T, js jetstream.JetStream, ctx context.Context, _ []uint64) {
			deleteStreams(t, js, ctx, cluster.StreamName("chatd"))
		}},
		{"uid floors", 0, func(t *testing.T, js jetstream.JetStream, ctx context.Context, _ []uint64) {
			deleteStreams(t, js, ctx, uidFloors)
		}},
		{"uid floors, then the uid buckets after a start", 0, func(t *testing.T, js jetstream.JetStream, ctx context.Context, _ []uint64) {
			deleteStreams(t, js, ctx, uidFloors)
			// A node of another id starts (and stops): it creates the
			// stream again; then the uid buckets go too.
			other := uidNode(t, jsURL(js), 0)
			if err := other.stop(); err != nil {
				t.Fatal(err)
			}
			deleteBuckets(t, js, ctx, uidBuckets...)
		}},
		{"uid buckets, then the uid floors after a start", 0, func(t *testing.T, js jetstream.JetStream, ctx context.Context, _ []uint64) {
			deleteBuckets(t, js, ctx, uidBuckets...)
			other := uidNode(t, jsURL(js), 0)
			if err := other.stop(); err != nil {
				t.Fatal(err)
			}
			deleteStreams(t, js, ctx, uidFloors)
		}},
		{"uid key expired", 3 * time.Second, func(t *testing.T, js jetstream.JetStream, ctx context.Context, _ []uint64) {
			// The state bucket keeps a key room_log_age after its last
			// write (the bucket's TTL), the log its events as long: wait
			// until the rooms' events are gone.
			s, err := js.Stream(ctx, cluster.StreamName("chatd"))
			if err != nil {
				t.Fatal(err)
			}
			waitFor(t, 30*time.Second, "the rooms' events expired", func() bool {
				info, err := s.Info(ctx, jetstream.WithSubjectFilter("chatd.r.>"))
				return err == nil && len(info.State.Subjects) == 0
			})
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			nats := startNATS(t, "127.0.0.1:0")
			js, ctx := natsAdmin(t, nats.URL())
			start := func(id uint64) *testServer {
				ts := startServer(t, clusterOpt(nats.URL()), func(c *server.Config) {
					c.Cluster.UIDBlock = testUIDBlock
					c.Cluster.NodeID = id
					c.Cluster.RoomLogAge = tc.logAge
				})
				waitFor(t, 10*time.Second, "node healthy", ts.srv.ClusterHealthy)
				return ts
			}
			ids := []uint64{101, 102}
			l := newUIDLedger(t)
			n1, n2 := start(ids[0]), start(ids[1])
			l.logins(n1.addr, "a", 6)
			l.logins(n2.addr, "b", 6)
			for _, n := range []*testServer{n1, n2} {
				if err := n.stop(); err != nil {
					t.Fatal(err)
				}
			}
			tc.delete(t, js, ctx, ids)
			n1, n2 = start(ids[0]), start(ids[1])
			l.logins(n1.addr, "c", 6)
			l.logins(n2.addr, "d", 6)
			t.Logf("%d logins, %d distinct uids", 24, len(l.seen))
		})
	}
}

// jsURL is the URL of the NATS server js is connected to.
func jsURL(js jetstream.JetStream) string { return js.Conn().ConnectedUrl() }
