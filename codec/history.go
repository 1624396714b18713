package codec

import (
	"strconv"
	"strings"
)

// ID is a room event's position in its room's log (PROTOCOL.md,
// "History"): the log's epoch (which log: a single node's boot, a
// cluster's stream) and the event's sequence in it. On the wire it is
// the string "<epoch>-<seq>", opaque to clients; the zero ID is none.
type ID struct {
	Epoch string // [0-9a-z]{1,MaxEpochLen}
	Seq   uint64 // > 0
}

// MaxEpochLen is the longest epoch an ID may carry.
const MaxEpochLen = 16

// AppendID appends id as "<epoch>-<seq>" (without quotes).
func AppendID(dst []byte, id ID) []byte {
	return strconv.AppendUint(append(append(dst, id.Epoch...), '-'), id.Seq, 10)
}

// String returns id as it is sent.
func (id ID) String() string { return string(AppendID(nil, id)) }

// AppendIDField appends `,"id":"<epoch>-<seq>"`.
func AppendIDField(dst []byte, id ID) []byte {
	return append(AppendID(append(dst, `,"id":"`...), id), '"')
}

// ParseID parses an id sent by AppendID. The epoch of the result aliases
// s.
func ParseID(s string) (ID, bool) {
	i := strings.LastIndexByte(s, '-')
	if i < 1 || i > MaxEpochLen || !validEpoch(s[:i]) {
		return ID{}, false
	}
	seq, err := strconv.ParseUint(s[i+1:], 10, 64)
	if err != nil || seq == 0 {
		return ID{}, false
	}
	return ID{Epoch: s[:i], Seq: seq}, true
}

func validEpoch(e string) bool {
	for i := 0; i < len(e); i++ {
		if c := e[i]; !isDigit(c) && (c < 'a' || c > 'z') {
			return false
		}
	}
	return e != ""
}

// Resume is what a login asks of its room's history (PROTOCOL.md,
// "History" and "Resume").
type Resume struct {
	// History is the number of says asked for; 0 when absent (or 0).
	History int
	// Since is the id of the last room event the client saw; zero when
	// absent. Its Epoch aliases the decoded payload (see DecodeInbound).
	Since ID
}

// Wanted reports whether the login asked for a history frame.
func (r *Resume) Wanted() bool { return r.History > 0 || r.Since.Seq != 0 }

// HistoryStart is how a {"type":"history"} message begins; its messages
// follow, separated by commas, then HistoryEnd.
const HistoryStart = `{"type":"history","messages":[`

// AppendHistoryEnd closes a history message opened with HistoryStart.
func AppendHistoryEnd(dst []byte, complete bool) []byte {
	return append(strconv.AppendBool(append(dst, `],"complete":`...), complete), '}')
}

// contentKey precedes the content of a say in both dialects.
const contentKey = `,"content":"`

// SayContentBody returns the content of the say message msg (as encoded
// by AppendEvent, either dialect) still JSON-escaped, without its quotes;
// nil if msg has none. It aliases msg.
func SayContentBody(msg []byte) []byte {
	i := strings.Index(aliasString(msg), contentKey)
	if i < 0 {
		return nil
	}
	body := msg[i+len(contentKey):]
	for j := 0; j < len(body); j++ {
		switch body[j] {
		case '\\':
			j++
		case '"':
			return body[:j]
		}
	}
	return nil
}

// AppendSayBody appends the say to all ev (ev.Content unused) in dialect d
// with body, the content already JSON-escaped (SayContentBody): a say
// kept in one dialect is rendered in the other without decoding it.
func AppendSayBody(dst []byte, d Dialect, ev *Event, body []byte) []byte {
	if d == DialectCurrent {
		dst = appendFrom(append(dst, `{"type":"say"`...), ev)
		dst = append(dst, `,"to_client_id":"all"`...)
	} else {
		dst = strconv.AppendUint(append(dst, `{"type":"say","from_uid":`...), ev.UID, 10)
		dst = append(dst, `,"to_uid":"all"`...)
	}
	dst = append(append(append(dst, contentKey...), body...), '"')
	dst = appendTimeField(dst, ev.Time)
	if ev.ID.Seq == 0 {
		return dst
	}
	return append(AppendIDField(dst[:len(dst)-1], ev.ID), '}')
}
