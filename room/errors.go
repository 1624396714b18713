package room

import "errors"

var (
	// ErrNoSuchUser reports a private message to a uid that is not logged in.
	ErrNoSuchUser = errors.New("room: no such user")
	// ErrNotLoggedIn reports a say from a member that has not logged in.
	ErrNotLoggedIn = errors.New("room: not logged in")
	// ErrClosed reports an operation on a member whose connection is closed.
	ErrClosed = errors.New("room: member closed")
)
