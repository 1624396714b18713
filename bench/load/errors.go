package load

import "errors"

// Errors of package load.
var (
	// ErrNotLoopback reports a target or source address outside 127.0.0.0/8:
	// the benchmark only ever sends to this machine's loopback.
	ErrNotLoopback = errors.New("load: address is not IPv4 loopback")
	// ErrTimeout reports a phase of a scenario that did not finish in time.
	ErrTimeout = errors.New("load: timed out")
	// ErrWorker reports a worker process that failed.
	ErrWorker = errors.New("load: worker failed")
)
