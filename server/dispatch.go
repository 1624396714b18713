package server

import (
	"errors"
	"strings"
	"unsafe"

	"github.com/gobwas/ws"

	"chatd/codec"
	"chatd/room"
)

// chat handles one chat message from a connection that has upgraded to
// the chat (its member is bound; /echo connections never get here).
// payload is valid only during the call.
func (c *conn) chat(op ws.OpCode, payload []byte) {
	if op == ws.OpBinary {
		c.reply(codec.CodeBadJSON, "binary messages are not supported; send JSON text")
		return
	}
	var in codec.Inbound
	if err := codec.DecodeInbound(payload, &in); err != nil {
		c.replyErr(err)
		return
	}
	switch in.Type {
	case "login":
		c.login(&in)
	case "say":
		c.say(&in)
	case "pong":
	default:
		c.reply(codec.CodeUnknownType, "unknown message type")
	}
}

func (c *conn) login(in *codec.Inbound) {
	if !c.authorizeLogin(in) {
		return
	}
	name, err := codec.ValidName(in.Name)
	if err != nil {
		c.replyErr(err)
		return
	}
	if len(in.RoomID) > c.l.srv.cfg.MaxRoomID {
		c.reply(codec.CodeBadJSON, "room_id is too long")
		return
	}
	escaped := codec.EscapeString(name, false) // kept by the hub: its own copy, one allocation
	c.member.SetDialect(in.Dialect)            // the first login's dialect is the connection's
	// in.RoomID may alias the frame buffer (codec.DecodeInbound): the hub
	// keeps it as a map key, so it is copied.
	want := in.Resume
	want.Since.Epoch = strings.Clone(want.Since.Epoch) // kept until the join is applied
	c.l.srv.hub.LoginResume(&c.member, escaped, strings.Clone(in.RoomID), want)
	c.l.srv.stats.Logins.Add(1)
}

func (c *conn) say(in *codec.Inbound) {
	if !c.member.LoggedIn() {
		c.reply(codec.CodeNotLoggedIn, "log in first")
		return
	}
	if err := codec.ValidContent(in.Content, c.l.srv.cfg.MaxContent); err != nil {
		c.replyErr(err)
		return
	}
	if !in.ToAll && !c.authorizePrivate(in.ToUID) {
		return
	}
	c.l.esc = codec.AppendEscaped(c.l.esc[:0], in.Content, true)
	// The hub copies content into the message it encodes before it
	// returns, so a string over the loop's scratch is enough.
	content := unsafe.String(unsafe.SliceData(c.l.esc), len(c.l.esc))
	var err error
	if in.ToAll {
		err = c.l.srv.hub.Say(&c.member, content)
	} else {
		err = c.l.srv.hub.Private(&c.member, in.ToUID, content)
	}
	if cap(c.l.esc) > maxKeptBuf {
		c.l.esc = nil
	}
	if errors.Is(err, room.ErrNoSuchUser) {
		c.reply(codec.CodeNoSuchUser, "no such user")
	} else if err != nil {
		c.reply(codec.CodeNotLoggedIn, "log in first")
	}
}

// replyErr sends err to the client as an error message.
func (c *conn) replyErr(err error) {
	var r *codec.Reply
	if !errors.As(err, &r) {
		r = &codec.Reply{Code: codec.CodeBadJSON, Reason: err.Error()}
	}
	c.reply(r.Code, r.Reason)
}

// reply queues an error message for the client behind everything already
// queued for it, so replies keep the order of the requests.
func (c *conn) reply(code, reason string) {
	c.l.srv.stats.ErrorReplies.Add(1)
	r := codec.Reply{Code: code, Reason: reason}
	frame := codec.NewFrame(ws.OpText, codec.AppendReply(c.l.esc[:0], &r))
	c.l.srv.hub.Send(&c.member, frame)
}
