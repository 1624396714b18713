package codec

import (
	"reflect"
	"strconv"
	"strings"
	"sync"
	"unsafe"

	"github.com/bytedance/sonic"
	"github.com/bytedance/sonic/decoder"
)

// Error codes of the {"type":"error"} reply (PROTOCOL.md, "Server ->
// client", item 6).
const (
	CodeBadJSON     = "bad_json"
	CodeUnknownType = "unknown_type"
	CodeNotLoggedIn = "not_logged_in"
	CodeBadName     = "bad_name"
	CodeBadContent  = "bad_content"
	CodeTooLong     = "too_long"
	CodeNoSuchUser  = "no_such_user"
	CodeRateLimited = "rate_limited"
	// CodeUnavailable (extension): the cluster's room log did not take
	// a login or a say in time; the client may try again.
	CodeUnavailable = "unavailable"
)

// MaxNameRunes is the longest name ValidName accepts, in characters.
const MaxNameRunes = 32

// Reply is an error reply for the client:
// {"type":"error","code":Code,"reason":Reason}. It is not a protocol
// violation; the connection stays open.
type Reply struct {
	Code   string
	Reason string
}

// Error returns the code and reason prefixed with "codec: ".
func (r *Reply) Error() string { return "codec: " + r.Code + ": " + r.Reason }

// Unwrap returns ErrBadMessage.
func (r *Reply) Unwrap() error { return ErrBadMessage }

// The replies of this package are preallocated; callers must not modify
// them.
var (
	replyNotObject   = &Reply{CodeBadJSON, "message is not a JSON object"}
	replyBadJSON     = &Reply{CodeBadJSON, "message is not valid JSON or a field has the wrong type"}
	replyDuplicate   = &Reply{CodeBadJSON, "a field is given twice"}
	replyRoomID      = &Reply{CodeBadJSON, "room_id must be a string or an integer"}
	replyToUID       = &Reply{CodeBadJSON, "to_uid must be \"all\" or a uid"}
	replyClientName  = &Reply{CodeBadJSON, "client_name must be a string"}
	replyHistory     = &Reply{CodeBadJSON, "history must be a non-negative integer"}
	replySince       = &Reply{CodeBadJSON, "since must be the id of a room event of this server"}
	replyNoType      = &Reply{CodeUnknownType, "missing type"}
	replyUnknownType = &Reply{CodeUnknownType, "unknown type"}
	replyNoSuchUser  = &Reply{CodeNoSuchUser, "to_uid is neither \"all\" nor a uid"}
)

// Inbound is a decoded client message.
type Inbound struct {
	Type    string  // "login", "say", "pong", or anything else
	Dialect Dialect // login: DialectCurrent if it has "client_name", else Dialect2014
	Name    string  // login: raw (unescaped, untrimmed) name or client_name
	RoomID  string  // login: "" for the default room; numbers normalised to their decimal string (1 and "1" are the same room)
	ToAll   bool    // say: to_uid (or to_client_id) == "all"
	ToUID   uint64  // say: target uid when !ToAll (uid given as JSON number or decimal string)
	Content string  // say: raw content
	Resume  Resume  // login: "history" and "since" (extension)
}

// decodeOptions is the one sonic configuration of the package, chosen for
// the chat hot path:
//
//   - no OptionCopyString: strings without escapes alias the input instead
//     of being copied, which saves an allocation per field. The input is an
//     unsafe string view of the payload (aliasString), so the strings of an
//     Inbound alias the caller's payload and callers copy what they keep.
//   - OptionValidateString: raw control characters and invalid UTF-8 in
//     strings are refused, as RFC 8259 requires.
//   - OptionCaseSensitive: keys must be spelled as in PROTOCOL.md; "TYPE"
//     is an unknown field, not "type" (encoding/json would fold case; no
//     client of the protocol relies on that).
//   - no OptionNoValidateJSON: unknown fields are validated while
//     skipped, so malformed JSON is bad_json wherever it is.
//
// The decoder is driven through sonic/decoder.Decoder rather than
// sonic.Config.Unmarshal: Unmarshal copies the input (string(buf)) and
// allocates a Decoder and the target struct on every call. A pooled
// decodeState brings DecodeInbound to 0 allocations (measured: 2 with a
// fresh Decoder and struct per call).
const decodeOptions = decoder.OptionValidateString | decoder.OptionCaseSensitive

// inboundJSON is the wire shape of a client message. room_id and to_uid
// take several JSON types and are decoded by hand from their raw bytes.
type inboundJSON struct {
	Type       string                 `json:"type"`
	Name       string                 `json:"name"`
	ClientName sonic.NoCopyRawMessage `json:"client_name"` // raw: its presence picks the dialect
	RoomID     sonic.NoCopyRawMessage `json:"room_id"`
	ToUID      sonic.NoCopyRawMessage `json:"to_uid"`
	ToClientID sonic.NoCopyRawMessage `json:"to_client_id"`
	Content    string                 `json:"content"`
	History    sonic.NoCopyRawMessage `json:"history"`
	Since      sonic.NoCopyRawMessage `json:"since"`
}

// decodeState is what one DecodeInbound call needs on the heap.
type decodeState struct {
	dec decoder.Decoder
	msg inboundJSON
}

// decodeStates recycles decodeState values; they are cleared before being
// put back so that the pool does not keep payloads alive.
var decodeStates = sync.Pool{New: func() any { return new(decodeState) }}

// Pretouch compiles the JSON decoder ahead of time. sonic compiles a
// decoder for a type on first use (measured: about 6 ms); calling Pretouch
// once at startup keeps that pause off the event loop that decodes the
// first message. Calling it is optional.
func Pretouch() error {
	return decoder.Pretouch(reflect.TypeFor[inboundJSON]())
}

// DecodeInbound decodes payload (one text message) into in. The strings of
// in may alias payload: they are valid only as long as payload is, and
// callers copy what they keep (see decodeOptions for the sonic
// configuration).
//
// On failure it returns a *Reply with the PROTOCOL.md error code: bad_json
// (not a JSON object, invalid JSON, a field of the wrong type, room_id
// neither a string nor an integer, a field of Inbound given twice: sonic
// would keep one copy and encoding/json another, so the message is
// ambiguous), unknown_type (missing or unknown
// "type"; in.Type is still set), no_such_user (a say whose to_uid is
// neither "all" nor a uid, e.g. "abc", -1, 1.5 or missing). Only the fields
// of the message's type are interpreted. Names and content are not judged
// here (see ValidName and ValidContent).
//
// Both dialects are read (docs/protocol.md): a login with "client_name"
// (any JSON string, even empty) is DialectCurrent and its name is
// client_name; a say without "to_uid" reads "to_client_id" the same way.
func DecodeInbound(payload []byte, in *Inbound) error {
	*in = Inbound{}
	if !isObject(payload) {
		return replyNotObject
	}
	ok, repeats := scanPayload(payload)
	if !ok {
		return replyBadJSON
	}
	st := decodeStates.Get().(*decodeState)
	defer st.release()
	if !st.decode(payload) {
		return replyBadJSON
	}
	if repeats {
		return replyDuplicate
	}
	v := &st.msg
	in.Type, in.Name, in.Content = v.Type, v.Name, v.Content
	switch v.Type {
	case "login":
		if err := decodeClientName(v.ClientName, in); err != nil {
			return err
		}
		if err := decodeResume(v.History, v.Since, in); err != nil {
			return err
		}
		return decodeRoomID(v.RoomID, in)
	case "say":
		if len(v.ToUID) == 0 {
			return decodeToUID(v.ToClientID, in)
		}
		return decodeToUID(v.ToUID, in)
	case "pong":
		return nil
	case "":
		return replyNoType
	}
	return replyUnknownType
}

// decode decodes payload into st.msg and reports whether it was valid.
func (st *decodeState) decode(payload []byte) bool {
	st.dec.Reset(aliasString(payload))
	st.dec.SetOptions(decodeOptions)
	return st.dec.Decode(&st.msg) == nil && st.dec.CheckTrailings() == nil
}

// release clears st and returns it to the pool.
func (st *decodeState) release() {
	st.dec.Reset("")
	st.msg = inboundJSON{}
	decodeStates.Put(st)
}

// isObject reports whether the first non-space byte of b opens an object.
func isObject(b []byte) bool {
	for _, c := range b {
		switch c {
		case ' ', '\t', '\r', '\n':
			continue
		}
		return c == '{'
	}
	return false
}

// aliasString returns a string that shares b's memory. The string is only
// read while b is unchanged; see decodeOptions.
func aliasString(b []byte) string {
	return unsafe.String(unsafe.SliceData(b), len(b))
}

// decodeClientName sets in.Name and in.Dialect from the raw client_name
// of a login: absent or null leaves the 2014 dialect and "name".
func decodeClientName(raw []byte, in *Inbound) error {
	if len(raw) == 0 || string(raw) == "null" {
		return nil
	}
	s, ok := unquote(raw)
	if !ok {
		return replyClientName
	}
	in.Name, in.Dialect = s, DialectCurrent
	return nil
}

// decodeRoomID sets in.RoomID from the raw room_id: absent or null is the
// default room, a string is itself, an integer is its decimal spelling.
func decodeRoomID(raw []byte, in *Inbound) error {
	switch {
	case len(raw) == 0 || string(raw) == "null":
		return nil
	case raw[0] == '"':
		s, ok := unquote(raw)
		if !ok {
			return replyBadJSON
		}
		in.RoomID = s
		return nil
	case isInteger(raw):
		in.RoomID = aliasString(raw)
		if in.RoomID == "-0" {
			in.RoomID = "0"
		}
		return nil
	}
	return replyRoomID
}

// decodeResume sets in.Resume from the raw history and since of a login:
// history a non-negative integer (capped at the largest int), since an id
// (ParseID); absent or null is none.
func decodeResume(history, since []byte, in *Inbound) error {
	switch {
	case len(history) == 0 || string(history) == "null":
	case !isInteger(history) || history[0] == '-':
		return replyHistory
	default:
		n, err := strconv.ParseUint(aliasString(history), 10, 63)
		if err != nil {
			n = 1<<63 - 1 // out of range: as many as the server keeps
		}
		in.Resume.History = int(n)
	}
	if len(since) == 0 || string(since) == "null" {
		return nil
	}
	s, ok := unquote(since)
	if !ok {
		return replySince
	}
	if in.Resume.Since, ok = ParseID(s); !ok {
		return replySince
	}
	return nil
}

// decodeToUID sets in.ToAll or in.ToUID from the raw to_uid of a say.
func decodeToUID(raw []byte, in *Inbound) error {
	var s string
	switch {
	case len(raw) == 0 || string(raw) == "null":
		return replyNoSuchUser
	case raw[0] == '"':
		var ok bool
		if s, ok = unquote(raw); !ok {
			return replyBadJSON
		}
		if s == "all" {
			in.ToAll = true
			return nil
		}
	case raw[0] == '-' || isDigit(raw[0]):
		s = aliasString(raw)
	default:
		return replyToUID
	}
	uid, err := strconv.ParseUint(s, 10, 64)
	if err != nil {
		return replyNoSuchUser
	}
	in.ToUID = uid
	return nil
}

// unquote returns the value of the JSON string raw (already validated by
// sonic). Strings without escapes alias raw; others are decoded by sonic.
func unquote(raw []byte) (string, bool) {
	if len(raw) < 2 || raw[0] != '"' || raw[len(raw)-1] != '"' {
		return "", false
	}
	body := raw[1 : len(raw)-1]
	if !strings.Contains(aliasString(body), `\`) {
		return aliasString(body), true
	}
	var d decoder.Decoder // the rare slow path: allocations are fine
	d.Reset(aliasString(raw))
	d.SetOptions(decodeOptions)
	var s string
	err := d.Decode(&s)
	return s, err == nil
}

// isInteger reports whether the JSON number raw is an integer literal
// (no fraction, no exponent).
func isInteger(raw []byte) bool {
	if len(raw) > 0 && raw[0] == '-' {
		raw = raw[1:]
	}
	for _, c := range raw {
		if !isDigit(c) {
			return false
		}
	}
	return len(raw) > 0
}

func isHex4(b []byte) bool {
	for _, c := range b {
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
			return false
		}
	}
	return true
}
