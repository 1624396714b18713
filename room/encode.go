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
//
// The list is encoded straight into the frame (codec.PlaceHeader), not
// through a scratch buffer: a room's scratch would keep the size of its
// list for the room's life (about 40 bytes per member, idle or not).
func joinFrames(d codec.Dialect, ev *codec.Event, users []codec.User, login []byte, hist *[]byte) []byte {
	var h []byte
	if hist != nil {
		h = *hist
	}
	if d == codec.DialectCurrent {
		login = nil // the current dialect's list is its login
	}
	n := codec.MaxHeaderLen + listSize(users) + len(login)
	if h != nil {
		n += codec.HeaderLen(len(h)) + len(h)
	}
	b := make([]byte, codec.MaxHeaderLen, n)
	if d == codec.DialectCurrent {
		b = codec.AppendClientList(b, ev, users)
	} else {
		b = codec.AppendUserList(b, users)
	}
	b = codec.PlaceHeader(b, ws.OpText)
	if h != nil {
		b = codec.AppendFrame(b, ws.OpText, h)
	}
	return append(b, login...)
}

// listSize is about the JSON size of a user list of users in either
// dialect: a little over, unless names need JSON escapes (the buffer then
// grows once).
func listSize(users []codec.User) int {
	n := 160 // the message's own fields
	for _, u := range users {
		n += 24 + len(u.Name) + digits(u.UID)
	}
	return n
}

// digits returns the number of decimal digits of v.
func digits(v uint64) int {
	n := 1
	for ; v >= 10; v /= 10 {
		n++
	}
	return n
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
