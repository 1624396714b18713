package cluster

import (
	"errors"

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
	// holds reports whether subj's log still holds its event at seq (a
	// room's events go oldest first: then it holds every later one too).
	holds(subj string, seq uint64) (bool, error)
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

// jsStore is the JetStream store of a node: the rooms stream and the
// state bucket.
type jsStore struct {
	n      *Node
	stream jetstream.Stream
	kv     jetstream.KeyValue
}

func (s *jsStore) publish(subj, id string, data []byte) (ackFuture, error) {
	m := &nats.Msg{Subject: subj, Data: data, Header: nats.Header{}}
	// No retries inside nats.go (by default 2, 250 ms apart, on "no
	// responders", as while the stream elects a leader): the publisher
	// retries, probing with one event.
	return s.n.js.PublishMsgAsync(m, jetstream.WithMsgID(id), jetstream.WithRetryAttempts(0))
}

// read gets the events after `after` one message get at a time, from
// the stream's leader, up to a batch. (Batched direct gets from any
// replica were faster, but with them nats-server 2.12.1 stalled: a
// stream's lock waited on by its direct-get readers and its writer, the
// server answering no pings, every node's connection going stale.)
//
// It first asks for the room's last event, which the server finds in its
// subject index, and reads up to it: a "next event after" request that
// finds none scans the stream's blocks to its end, so ending every
// catch-up (and every check of a quiet room) with one grew costlier with
// the stream, and the server answers these requests one at a time (at
// 100,000 logins on 7 nodes, logins waited past 10 s for them).
func (s *jsStore) read(subj string, after uint64) ([]stored, bool, error) {
	ctx, cancel := s.n.ctx()
	last, err := s.stream.GetLastMsgForSubject(ctx, subj)
	cancel()
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		return nil, true, nil
	}
	if err != nil {
		return nil, false, err
	}
	if last.Sequence <= after {
		return nil, true, nil
	}
	var evs []stored
	for len(evs) < readBatch {
		if last.Sequence == after+1 { // the next is the last: no search
			return append(evs, stored{last.Sequence, last.Data}), true, nil
		}
		ctx, cancel := s.n.ctx()
		m, err := s.stream.GetMsg(ctx, after+1, jetstream.WithGetMsgSubject(subj))
		cancel()
		if errors.Is(err, jetstream.ErrMsgNotFound) {
			return evs, true, nil
		}
		if err != nil {
			return evs, false, err
		}
		evs = append(evs, stored{m.Sequence, m.Data})
		after = m.Sequence
		if after >= last.Sequence {
			return evs, true, nil // the end as of the first request; later ones come live
		}
	}
	return evs, false, nil
}

// holds reports whether the log still holds subj's event at seq: one get
// of that sequence (the stream's index), not a search by subject.
func (s *jsStore) holds(subj string, seq uint64) (bool, error) {
	ctx, cancel := s.n.ctx()
	defer cancel()
	m, err := s.stream.GetMsg(ctx, seq)
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	return m.Subject == subj, nil
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
