// Command chatd runs the chat server: WebSocket chat on :7272, the web
// page on :55151 and the admin endpoints on 127.0.0.1:9191 by default.
//
// Configuration: defaults < config file (-config, YAML or TOML) <
// CHATD_* environment < flags; see docs/operations.md.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"

	"chatd/server"
)

func main() {
	os.Exit(run(os.Args[1:], os.Environ(), os.Stdout, os.Stderr))
}

// run is main with its inputs and outputs explicit; it returns the exit
// status (2 for a bad configuration).
func run(args, environ []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("chatd", flag.ContinueOnError)
	fs.SetOutput(io.Discard) // run reports a bad flag once, with a hint
	fs.Usage = func() {}
	c, o, err := loadConfig(fs, args, environ)
	var ferr flagError
	switch {
	case errors.Is(err, flag.ErrHelp):
		printUsage(stdout, fs)
		return 0
	case errors.As(err, &ferr):
		fmt.Fprintf(stderr, "chatd: %v\nRun 'chatd -h' for the list of flags.\n", err)
		return 2
	}
	if err == nil {
		c.Server.Logger, err = newLogger(&c, stderr)
	}
	if err == nil {
		err = c.normalize()
	}
	if err != nil {
		fmt.Fprintln(stderr, "chatd:", err)
		return 2
	}
	switch {
	case o.checkConfig:
		fmt.Fprintln(stdout, "chatd: configuration is valid")
		return 0
	case o.printConfig:
		if err := printConfig(stdout, &c); err != nil {
			fmt.Fprintln(stderr, "chatd:", err)
			return 1
		}
		return 0
	}
	setGC(c.GCPercent)
	return serve(c.Server)
}

// setGC applies fileConfig.GCPercent (normalized: never zero).
func setGC(percent int) {
	if percent > 0 {
		debug.SetGCPercent(percent)
	}
}

func serve(cfg server.Config) int {
	srv, err := server.New(cfg)
	if err != nil {
		fmt.Fprintln(os.Stderr, "chatd:", err)
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := srv.Run(ctx); err != nil {
		cfg.Logger.Error("chatd stopped", "err", err)
		return 1
	}
	cfg.Logger.Info("chatd stopped")
	return 0
}
