package codec

import (
	"strconv"
	"time"

	"github.com/gobwas/ws"
)

// Dialect is the wire dialect of a chat connection. A connection's
// dialect is chosen by its first login and fixed for the connection; the
// room layer keeps events in the dialect-neutral Event form and renders
// each one once per dialect that has members (docs/protocol.md, "Two
// dialects").
type Dialect uint8

const (
	// Dialect2014 is the dialect of the seed capture (workerman-chat
	// 2014): "name", numeric "uid", "user_list", "to_uid".
	Dialect2014 Dialect = iota
	// DialectCurrent is the dialect of workerman-chat since 2015
	// (GatewayWorker 2+): "client_name", string "client_id",
	// "client_list", "to_client_id", and a text ping.
	DialectCurrent

	// NumDialects is the number of dialects; Dialect values index arrays
	// of this length.
	NumDialects = 2
)

// String returns "2014" or "current".
func (d Dialect) String() string {
	if d == DialectCurrent {
		return "current"
	}
	return "2014"
}

// EventKind is what an Event reports.
type EventKind uint8

// The kinds of Event.
const (
	EventLogin       EventKind = iota + 1 // UID (Name) joined the room
	EventSay                              // UID (Name) said Content to the room
	EventPrivate                          // UID (Name) said Content to To; the target's copy
	EventPrivateEcho                      // the same, the sender's copy (ToName used)
	EventLogout                           // UID (Name) left the room
)

// Event is a chat event in dialect-neutral form: what crosses between
// loops and nodes before it is rendered per dialect by AppendEvent.
// Names and content are already HTML-escaped.
type Event struct {
	Kind    EventKind
	UID     uint64 // the member who joined, spoke or left
	Name    string // UID's name
	To      uint64 // private: the target's uid
	ToName  string // private echo: the target's name
	Content string // say and private
	Time    time.Time
	// ID is the event's position in its room's log (login, say to all,
	// logout); the zero ID (private messages) adds no "id" key.
	ID ID
}

// Prefixes that workerman-chat's current server puts before private
// content, so that its page shows who said what to whom.
const (
	privateToYou   = "<b>对你说: </b>"
	privateFromYou = "<b>你对"
	privateSaid    = "说: </b>"
)

// AppendEvent appends ev as one JSON message of dialect d to dst:
//
//	login     2014:    {"type":"login","uid":1,"name":"n","time":"..."}
//	          current: {"type":"login","client_id":"1","client_name":"n","time":"..."}
//	say       2014:    {"type":"say","from_uid":1,"to_uid":"all","content":"c","time":"..."}
//	          current: {"type":"say","from_client_id":"1","from_client_name":"n","to_client_id":"all","content":"c","time":"..."}
//	private   as say, to_uid the target's uid (to_client_id its id string);
//	          current content starts with <b>对你说: </b> for the target,
//	          <b>你对ToName说: </b> for the sender's echo
//	logout    2014:    {"type":"logout","uid":1,"time":"..."}
//	          current: {"type":"logout","from_client_id":"1","from_client_name":"n","time":"..."}
//
// A current client id is the uid's decimal string. An event with an ID
// ends with the key "id" (extension): ...,"id":"<epoch>-<seq>"}.
func AppendEvent(dst []byte, d Dialect, ev *Event) []byte {
	dst = appendEvent(dst, d, ev)
	if ev.ID.Seq == 0 {
		return dst
	}
	return append(AppendIDField(dst[:len(dst)-1], ev.ID), '}')
}

func appendEvent(dst []byte, d Dialect, ev *Event) []byte {
	if d == DialectCurrent {
		return appendCurrent(dst, ev)
	}
	switch ev.Kind {
	case EventLogin:
		return AppendLogin(dst, ev.UID, ev.Name, ev.Time)
	case EventSay:
		return AppendSay(dst, ev.UID, true, 0, ev.Content, ev.Time)
	case EventPrivate, EventPrivateEcho:
		return AppendSay(dst, ev.UID, false, ev.To, ev.Content, ev.Time)
	}
	return AppendLogout(dst, ev.UID, ev.Time)
}

// appendCurrent is AppendEvent for DialectCurrent.
func appendCurrent(dst []byte, ev *Event) []byte {
	switch ev.Kind {
	case EventLogin:
		dst = appendClientID(append(dst, `{"type":"login","client_id":`...), ev.UID)
		dst = appendJSONString(append(dst, `,"client_name":`...), ev.Name)
		return appendTimeField(dst, ev.Time)
	case EventLogout:
		dst = append(dst, `{"type":"logout"`...)
		dst = appendFrom(dst, ev)
		return appendTimeField(dst, ev.Time)
	}
	dst = appendFrom(append(dst, `{"type":"say"`...), ev)
	if ev.Kind == EventSay {
		dst = append(dst, `,"to_client_id":"all","content":"`...)
	} else {
		dst = appendClientID(append(dst, `,"to_client_id":`...), ev.To)
		dst = append(dst, `,"content":"`...)
		dst = appendPrefix(dst, ev)
	}
	dst = appendStringBody(dst, ev.Content)
	return appendTimeField(append(dst, '"'), ev.Time)
}

// appendFrom appends `,"from_client_id":"1","from_client_name":"n"`.
func appendFrom(dst []byte, ev *Event) []byte {
	dst = appendClientID(append(dst, `,"from_client_id":`...), ev.UID)
	return appendJSONString(append(dst, `,"from_client_name":`...), ev.Name)
}

// appendPrefix appends the private prefix of ev, inside a JSON string.
func appendPrefix(dst []byte, ev *Event) []byte {
	if ev.Kind == EventPrivate {
		return append(dst, privateToYou...)
	}
	dst = appendStringBody(append(dst, privateFromYou...), ev.ToName)
	return append(dst, privateSaid...)
}

// appendStringBody appends s quoted as a JSON string, without the quotes.
func appendStringBody(dst []byte, s string) []byte { return jsonQuoter.appendBody(dst, s) }

// appendClientID appends uid as a JSON string of its decimal digits.
func appendClientID(dst []byte, uid uint64) []byte {
	return append(strconv.AppendUint(append(dst, '"'), uid, 10), '"')
}

// AppendClientList appends the newcomer's login of DialectCurrent with
// the room's members: {"type":"login","client_id":..,"client_name":..,
// "time":..,"client_list":{"1":"a",...}}, users in join order (the
// newcomer included), and the login's "id" last.
func AppendClientList(dst []byte, ev *Event, users []User) []byte {
	dst = appendCurrent(dst, ev)
	dst = append(dst[:len(dst)-1], `,"client_list":{`...)
	for i, u := range users {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = appendJSONString(append(appendClientID(dst, u.UID), ':'), u.Name)
	}
	dst = append(dst, '}')
	if ev.ID.Seq != 0 {
		dst = AppendIDField(dst, ev.ID)
	}
	return append(dst, '}')
}

// TextPingFrame is the text heartbeat {"type":"ping"} that
// workerman-chat's current server sends to its clients, which answer
// {"type":"pong"}. It is shared: callers must not modify it.
var TextPingFrame = NewFrame(ws.OpText, []byte(`{"type":"ping"}`))
