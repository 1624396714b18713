package cluster

import (
	"encoding/json"
	"errors"
	"strconv"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// logStore is where the rooms' logs and checkpoints live: JetStream in
// production (jsStore); tests drive nodes through an in-memory store
// that drops, duplicates, delays and reorders (store_test.go).
type logStore interface {
	// publish appends data to subj's log under message id id (a second
	// append with the same id is the same entry); the future reports
	// its sequence, or an error.
	publish(subj, id string, data []byte) (ackFuture, error)
	// read returns subj's events after sequence after, in order, a
	// batch at a time; end reports that the log had no more.
	read(subj string, after uint64) (evs []stored, end bool, err error)
	// subscribe makes f's live events (republished, with Nats-Sequence
	// and Nats-Last-Sequence) reach the node's dispatcher.
	subscribe(f *feed) error
	unsubscribe(f *feed)
	// loadCheckpoint returns room's checkpoint, nil if it has none.
	loadCheckpoint(room string) ([]byte, error)
	saveCheckpoint(room string, data []byte) error
}

// ackFuture is the outcome of a publish (jetstream.PubAckFuture).
type ackFuture interface {
	Ok() <-chan *jetstream.PubAck
	Err() <-chan error
}

// stored is one event of a room's log.
type stored struct {
	seq  uint64
	data []byte
}

// readBatch is how many events one read asks for.
const readBatch = 256

// jsStore is the JetStream store of a node: the rooms stream (direct
// gets, so that a catch-up reads a batch per request from any replica)
// and the state bucket.
type jsStore struct {
	n      *Node
	stream string
	kv     jetstream.KeyValue
}

func (s *jsStore) publish(subj, id string, data []byte) (ackFuture, error) {
	m := &nats.Msg{Subject: subj, Data: data, Header: nats.Header{}}
	return s.n.js.PublishMsgAsync(m, jetstream.WithMsgID(id))
}

// read asks for a batch with one direct get: the replies end with a 204
// (end of batch, Nats-Num-Pending left) or are a single 404 (nothing
// after). A replica that lags may answer with less than the leader has:
// the next live event then shows a gap and the feed reads again.
func (s *jsStore) read(subj string, after uint64) ([]stored, bool, error) {
	n := s.n
	inbox := n.nc.NewInbox()
	sub, err := n.nc.SubscribeSync(inbox)
	if err != nil {
		return nil, false, err
	}
	defer sub.Unsubscribe() //nolint:errcheck // nothing to do about it
	req, _ := json.Marshal(struct {
		Seq      uint64 `json:"seq"`
		NextFor  string `json:"next_by_subj"`
		Batch    int    `json:"batch"`
		MaxBytes int    `json:"max_bytes"`
	}{after + 1, subj, readBatch, 1 << 20})
	if err := n.nc.PublishRequest("$JS.API.DIRECT.GET."+s.stream, inbox, req); err != nil {
		return nil, false, err
	}
	var evs []stored
	deadline := time.Now().Add(n.cfg.SyncTimeout)
	for {
		m, err := sub.NextMsg(time.Until(deadline))
		if err != nil {
			return evs, false, err
		}
		switch m.Header.Get("Status") {
		case "404":
			return evs, true, nil
		case "204":
			pending, _ := strconv.ParseUint(m.Header.Get("Nats-Num-Pending"), 10, 64)
			return evs, pending == 0, nil
		case "":
		default:
			return evs, false, errors.New("cluster: direct get: " + m.Header.Get("Status") + " " + m.Header.Get("Description"))
		}
		seq, err := strconv.ParseUint(m.Header.Get("Nats-Sequence"), 10, 64)
		if err != nil {
			return evs, false, err
		}
		evs = append(evs, stored{seq, m.Data})
	}
}

func (s *jsStore) subscribe(f *feed) error {
	if f.sub != nil {
		return nil
	}
	sub, err := s.n.nc.ChanSubscribe(f.ordered, s.n.msgs)
	if err != nil {
		return err
	}
	_ = sub.SetPendingLimits(-1, -1) // the shared channel is the bound
	f.sub = sub
	return nil
}

func (s *jsStore) unsubscribe(f *feed) {
	if f.sub != nil {
		_ = f.sub.Unsubscribe()
		f.sub = nil
	}
}

func (s *jsStore) loadCheckpoint(room string) ([]byte, error) {
	ctx, cancel := s.n.ctx()
	defer cancel()
	e, err := s.kv.Get(ctx, "room."+roomEnc(room))
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return e.Value(), nil
}

func (s *jsStore) saveCheckpoint(room string, data []byte) error {
	ctx, cancel := s.n.ctx()
	defer cancel()
	_, err := s.kv.Put(ctx, "room."+roomEnc(room), data)
	return err
}
