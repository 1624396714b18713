package codec

import "errors"

// Sentinels classify the typed errors of this package with errors.Is. The
// typed values (*HTTPError, *CloseError, *Reply) carry what goes on the wire;
// these only say which kind of failure it was.
var (
	// ErrHandshake is the class of every *HTTPError: the upgrade request
	// was refused.
	ErrHandshake = errors.New("codec: bad handshake")
	// ErrProtocol is the class of a *CloseError with code 1002: the peer
	// broke RFC 6455 framing rules.
	ErrProtocol = errors.New("codec: protocol error")
	// ErrInvalidUTF8 is the class of a *CloseError with code 1007: a text
	// message or close reason was not valid UTF-8.
	ErrInvalidUTF8 = errors.New("codec: invalid utf-8")
	// ErrTooLarge is the class of a *CloseError with code 1009: a frame or
	// message exceeded the size limit.
	ErrTooLarge = errors.New("codec: message too large")
	// ErrClose is the class of a *CloseError with any other code.
	ErrClose = errors.New("codec: connection must be closed")
	// ErrBadMessage is the class of every *Reply: a client message the
	// server cannot act on (the connection stays open).
	ErrBadMessage = errors.New("codec: bad client message")
)
