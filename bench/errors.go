package bench

import "errors"

// Errors of package bench.
var (
	// ErrHistBucket reports a histogram encoding that is not self-consistent.
	ErrHistBucket = errors.New("bench: bad histogram bucket")
	// ErrFrameTooLarge reports a server frame over FrameReader's limit.
	ErrFrameTooLarge = errors.New("bench: frame too large")
	// ErrMaskedServerFrame reports a masked frame from the server (RFC 6455 5.1).
	ErrMaskedServerFrame = errors.New("bench: server frame is masked")
	// ErrBadHandshake reports an upgrade response that is not a valid 101.
	ErrBadHandshake = errors.New("bench: bad handshake response")
)
