package cluster

import (
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"chatd/room"
)

// History: a node that opens a room reads the room's says before its
// checkpoint from the log (the hub keeps the ones it applies after it),
// so history and resume (PROTOCOL.md) survive a node restart and work
// on any node. The read is one ordered consumer filtered on the room's
// subject, from HistoryAge ago up to the checkpoint, fetched in batches.

// historyBatch is how many log entries one fetch of the history read asks.
const historyBatch = 256

// readHistory gives the hub f's says at or below upto (the checkpoint's
// sequence). Run by the worker before the room's state is set.
func (w *worker) readHistory(f *feed, upto uint64) error {
	n := w.n
	if upto == 0 || n.hub.HistoryMax() == 0 {
		return nil // no checkpoint: the log after it, every event, is applied
	}
	ctx, cancel := n.ctx()
	defer cancel()
	start := time.Now().Add(-n.hub.HistoryAge())
	c, err := w.stream.OrderedConsumer(ctx, jetstream.OrderedConsumerConfig{
		FilterSubjects:    []string{f.subj},
		DeliverPolicy:     jetstream.DeliverByStartTimePolicy,
		OptStartTime:      &start,
		InactiveThreshold: 10 * time.Second,
	})
	if err != nil {
		return err
	}
	var says []room.Said
	var first uint64
	for done := false; !done; {
		batch, err := c.Fetch(historyBatch, jetstream.FetchMaxWait(n.cfg.SyncTimeout/2))
		if err != nil {
			return err
		}
		got := 0
		for m := range batch.Messages() {
			got++
			md, err := m.Metadata()
			if err != nil {
				return err
			}
			seq := md.Sequence.Stream
			if first == 0 {
				first = seq
			}
			if seq > upto || md.NumPending == 0 {
				done = true
			}
			var ev room.Event
			if seq <= upto && room.DecodeEvent(m.Data(), &ev) == nil && ev.Kind == room.KindSay {
				says = append(says, room.Said{Seq: seq, Event: ev})
			}
		}
		if err := batch.Error(); err != nil {
			return err
		}
		done = done || got == 0
	}
	if first == 0 {
		first = upto + 1 // nothing kept before the checkpoint
	}
	n.hub.SeedHistory(f.r, says, first-1)
	return nil
}
