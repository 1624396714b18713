package server

import (
	"net/url"
	"slices"
	"strconv"

	"github.com/golang-jwt/jwt/v5"

	"chatd/codec"
)

// codeForbidden is the error code of what the connection's token does
// not allow: a login into a room it does not list, a private message to a
// user in none of them (an extension, like the other codes).
const codeForbidden = "forbidden"

var (
	errNoToken  = &codec.HTTPError{Status: 401, Reason: "missing token"}
	errBadToken = &codec.HTTPError{Status: 401, Reason: "invalid token"}
	errBadClaim = &codec.HTTPError{Status: 401, Reason: "token name is not a valid user name"}
)

// identity is what a verified token fixes for a connection. Immutable
// once the handshake has completed.
type identity struct {
	name string // raw user name; logins use it whatever they ask for
	// rooms the connection may join, and whose members (at the time) it
	// may send private messages to; nil means any room and anyone.
	rooms []string
}

// tokenClaims are the claims chatd reads: "name" (else "sub") and an
// optional "rooms" list of room ids (strings or integers, like room_id).
type tokenClaims struct {
	jwt.RegisteredClaims
	Name  string `json:"name"`
	Rooms []any  `json:"rooms"`
}

// hmacMethods are the only algorithms accepted: with a shared secret
// anything else (notably "none" or RS256 with the secret as a public
// key) would be an algorithm-confusion hole.
var hmacMethods = []string{"HS256", "HS384", "HS512"}

// authenticate verifies the "token" query parameter when a secret is
// configured; it returns the identity it fixes (nil when auth is off).
func (s *Server) authenticate(query []byte) (*identity, error) {
	if s.cfg.JWTSecret == "" {
		return nil, nil
	}
	q, _ := url.ParseQuery(string(query))
	raw := q.Get("token")
	if raw == "" {
		return nil, errNoToken
	}
	var cl tokenClaims
	_, err := jwt.ParseWithClaims(raw, &cl, func(*jwt.Token) (any, error) {
		return []byte(s.cfg.JWTSecret), nil
	}, jwt.WithValidMethods(hmacMethods), jwt.WithExpirationRequired())
	if err != nil {
		return nil, errBadToken
	}
	return claimsIdentity(&cl)
}

func claimsIdentity(cl *tokenClaims) (*identity, error) {
	id := &identity{name: cl.Name}
	if id.name == "" {
		id.name = cl.Subject
	}
	if _, err := codec.ValidName(id.name); err != nil {
		return nil, errBadClaim
	}
	if cl.Rooms != nil {
		id.rooms = make([]string, 0, len(cl.Rooms))
		for _, r := range cl.Rooms {
			switch v := r.(type) {
			case string:
				id.rooms = append(id.rooms, v)
			case float64:
				id.rooms = append(id.rooms, strconv.FormatFloat(v, 'f', -1, 64))
			}
		}
	}
	return id, nil
}

// authorizeLogin applies the connection's identity to a login: the
// token's name replaces the requested one, and a room the token does not
// list is refused. It reports whether the login may proceed.
func (c *conn) authorizeLogin(in *codec.Inbound) bool {
	if c.id == nil {
		return true
	}
	in.Name = c.id.name
	if c.id.rooms == nil {
		return true
	}
	room := in.RoomID
	if room == "" {
		room = c.l.srv.cfg.DefaultRoom
	}
	if !slices.Contains(c.id.rooms, room) {
		c.reply(codeForbidden, "your token does not allow this room")
		return false
	}
	return true
}

// authorizePrivate applies the connection's identity to a private message
// to uid: with a rooms claim, uid must be in one of the rooms. A uid that
// exists elsewhere and one that does not exist get the same refusal, so
// that the claim also hides who is outside the token's rooms. It reports
// whether the message may proceed.
func (c *conn) authorizePrivate(uid uint64) bool {
	if c.id == nil || c.id.rooms == nil {
		return true
	}
	for _, r := range c.id.rooms {
		if c.l.srv.hub.InRoom(r, uid) {
			return true
		}
	}
	c.reply(codeForbidden, "your token does not allow private messages to users outside its rooms")
	return false
}
