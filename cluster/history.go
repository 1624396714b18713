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
func (w *worker) readHistory(st logStore, f *feed, upto uint64) error {
	n := w.n
	if upto == 0 || n.hub.HistoryMax() == 0 {
		return nil // no checkpoint: every event of the log is applied, says kept then
	}
	var says []room.Said
	var first uint64
	var ms members
	for after := uint64(0); after < upto; {
		evs, end, err := st.read(f.subj, after)
		if err != nil {
			return err
		}
		for _, e := range evs {
			if first == 0 {
				first = e.seq
			}
			after = e.seq
			var ev room.Event
			if e.seq <= upto && room.DecodeEvent(e.data, &ev) == nil && ms.track(&ev) {
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

// members follows who is in the room along the log read for history, so
// that a say the apply step drops (its sender had left or been evicted:
// nobody got it) is not given as history either. The read starts after
// the room's first events, so a sender whose join was not read counts as
// listed unless a leave of it, or an eviction of its node (uids carry
// their node), was read.
type members struct {
	owners  map[uint64]room.Owner // uid -> owner, from the joins read
	gone    map[uint64]bool
	evicted map[uint64]bool // nodes evicted (any boot) in what was read
}

// track applies ev to ms and reports whether ev is a say the apply step
// delivers.
func (ms *members) track(ev *room.Event) bool {
	if ms.owners == nil {
		ms.owners, ms.gone, ms.evicted = map[uint64]room.Owner{}, map[uint64]bool{}, map[uint64]bool{}
	}
	switch ev.Kind {
	case room.KindJoin:
		ms.owners[ev.UID] = room.Owner{Node: ev.Node, Boot: ev.Boot}
		delete(ms.gone, ev.UID)
	case room.KindLeave:
		ms.gone[ev.UID] = true
	case room.KindEvict:
		ms.evicted[ev.Node] = true
		for uid, o := range ms.owners {
			if o.Node == ev.Node && (ev.Boot == 0 || o.Boot == ev.Boot) {
				ms.gone[uid] = true
			}
		}
	case room.KindSay:
		_, joined := ms.owners[ev.UID]
		return !ms.gone[ev.UID] && (joined || !ms.evicted[room.NodeOf(ev.UID)])
	}
	return false
}
