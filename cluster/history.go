package cluster

import (
	"chatd/room"
)

// History: a node that opens a room reads the room's says up to its
// checkpoint from the log (the hub keeps the ones it applies after it),
// so history and resume (PROTOCOL.md) survive a node restart and work on
// any node. The read goes through the log store in batches (readBatch
// events per direct get), over what the log keeps of the room (at most
// RoomLogMax events); the hub keeps the last HistoryMax says of them.

// readHistory gives the hub f's says at or below upto (the checkpoint's
// sequence). Run by the worker before the room's state is set.
func (w *worker) readHistory(f *feed, upto uint64) error {
	n := w.n
	if upto == 0 || n.hub.HistoryMax() == 0 {
		return nil // no checkpoint: every event of the log is applied, says kept then
	}
	var says []room.Said
	var first uint64
	for after := uint64(0); after < upto; {
		evs, end, err := w.store.read(f.subj, after)
		if err != nil {
			return err
		}
		for _, e := range evs {
			if first == 0 {
				first = e.seq
			}
			after = e.seq
			var ev room.Event
			if e.seq <= upto && room.DecodeEvent(e.data, &ev) == nil && ev.Kind == room.KindSay {
				says = append(says, room.Said{Seq: e.seq, Event: ev})
			}
		}
		if end || len(evs) == 0 {
			break
		}
	}
	if first == 0 {
		first = upto + 1 // the log keeps nothing of the room up to the checkpoint
	}
	n.hub.SeedHistory(f.r, says, first-1)
	return nil
}
