package room

import "errors"

var (
	// ErrNoSuchUser reports a private message to a uid that is not logged in.
	ErrNoSuchUser = errors.New("room: no such user")
	// ErrNotLoggedIn reports a say from a member that has not logged in.
	ErrNotLoggedIn = errors.New("room: not logged in")
	// ErrClosed reports an operation on a member whose connection is closed.
	ErrClosed = errors.New("room: member closed")
	// ErrBadEvent reports a room event or snapshot that does not decode.
	ErrBadEvent = errors.New("room: malformed event")
	// ErrUnavailable reports an event the room's log did not take (the
	// cluster's log is unreachable): the sender gets an error.
	ErrUnavailable = errors.New("room: room log unavailable")
)
