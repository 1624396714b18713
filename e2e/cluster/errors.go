package cluster

import "errors"

var (
	// ErrNoLeader reports a JetStream group without a leader.
	ErrNoLeader = errors.New("faults: no jetstream leader")
	// ErrNotReady reports a node whose /readyz did not turn 200 in time.
	ErrNotReady = errors.New("faults: node not ready")
	// ErrStuck reports a login that got no user_list in time.
	ErrStuck = errors.New("faults: login got no user_list in time")
	// ErrRefused reports a login answered with an error message (chatd's
	// "unavailable" when the room's log did not take the join): the
	// client was told, so it is not stuck.
	ErrRefused = errors.New("faults: login refused with an error")
)
