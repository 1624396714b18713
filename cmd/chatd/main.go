// Command chatd runs the chat server: WebSocket chat on :7272 and the web
// page on :55151 by default.
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"chatd/server"
)

func main() {
	cfg, level := parseFlags(flag.CommandLine, os.Args[1:])
	cfg.Logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
	srv, err := server.New(cfg)
	if err != nil {
		fmt.Fprintln(os.Stderr, "chatd:", err)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := srv.Run(ctx); err != nil {
		cfg.Logger.Error("chatd stopped", "err", err)
		os.Exit(1)
	}
	cfg.Logger.Info("chatd stopped")
}
