package room

import (
	"sync"

	"github.com/gobwas/ws"

	"chatd/codec"
)

// Encoding per dialect. A room event is kept dialect-neutral
// (codec.Event) until it is framed: once for each dialect that has
// members in the room, never per member. A fan-out picks each member's
// frame by its dialect.

// frames is one event framed once per dialect; frames[d] is nil when no
// member of dialect d needed it. The frames are shared and immutable.
type frames [codec.NumDialects][]byte

// encode frames ev for every dialect that has members in r and no frame
// in fs yet, encoding through scratch. It is called once before r.mu is
// taken (the counts are then a hint, and the encoding stays outside the
// lock) and once with r.mu held, which only encodes for a dialect whose
// first member joined in between.
func (r *Room) encode(fs *frames, ev *codec.Event, scratch *[]byte) {
	for d := range fs {
		if fs[d] == nil && r.dialects[d].Load() > 0 {
			fs[d] = eventFrame(scratch, codec.Dialect(d), ev)
		}
	}
}

// eventFrame returns ev in dialect d as a new text frame, encoded through
// scratch: one allocation, the frame itself.
func eventFrame(scratch *[]byte, d codec.Dialect, ev *codec.Event) []byte {
	*scratch = codec.AppendEvent((*scratch)[:0], d, ev)
	return newFrame(scratch)
}

// joinFrames returns what a newcomer of dialect d gets when its login ev
// is applied, framed in one buffer (one allocation): in 2014 its
// user_list, its history if it asked (hist: the JSON of the history
// message, nil if none), then login, the room's login frame of that
// dialect; in the current dialect one login carrying client_list, then
// its history. users is the room's list, the newcomer included.
func joinFrames(scratch *[]byte, d codec.Dialect, ev *codec.Event, users []codec.User, login []byte, hist *[]byte) []byte {
	var h []byte
	if hist != nil {
		h = *hist
	}
	if d == codec.DialectCurrent {
		*scratch = codec.AppendClientList((*scratch)[:0], ev, users)
		if h == nil {
			return newFrame(scratch)
		}
		login = nil
	} else {
		*scratch = codec.AppendUserList((*scratch)[:0], users)
	}
	n := codec.HeaderLen(len(*scratch)) + len(*scratch) + len(login)
	if h != nil {
		n += codec.HeaderLen(len(h)) + len(h)
	}
	b := codec.AppendFrame(make([]byte, 0, n), ws.OpText, *scratch)
	if h != nil {
		b = codec.AppendFrame(b, ws.OpText, h)
	}
	b = append(b, login...)
	trim(scratch)
	return b
}

// newFrame frames the JSON text in *scratch as a new text frame.
func newFrame(scratch *[]byte) []byte {
	f := codec.NewFrame(ws.OpText, *scratch)
	trim(scratch)
	return f
}

// trim drops a scratch buffer that grew past what is worth keeping.
func trim(scratch *[]byte) {
	if cap(*scratch) > maxKeptWriteBuf {
		*scratch = nil
	}
}

// scratches serve the encoders that do not run on a loop (a cluster
// room's stream, a node's inbox), which have no loop scratch to borrow.
var scratches = sync.Pool{New: func() any { return new([]byte) }}
