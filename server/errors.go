package server

import "errors"

var (
	// ErrConfig reports an invalid Config.
	ErrConfig = errors.New("server: invalid config")
	// ErrNotRunning reports an address asked of a server that is not serving.
	ErrNotRunning = errors.New("server: not running")
	// ErrEngineStopped reports that the chat engine's loops ended while
	// the server was not shutting down.
	ErrEngineStopped = errors.New("server: chat engine stopped unexpectedly")
)
