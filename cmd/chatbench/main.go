// Command chatbench is chatd's load benchmark: it runs the scenarios of
// bench/load against chatd and the baseline server side by side and writes
// the report. See bench/README.md.
//
// Usage:
//
//	chatbench suite     [-out DIR] [-chatd BIN] [-baseline BIN] [-size default|quick|100k]
//	chatbench connect   [-n 15000] [-room-size 100] [-rate 5000] [-hold 10s] TARGETS
//	chatbench broadcast [-n 1000] [-senders 10] [-window 4] [-open-rate 100] [-duration 5s] TARGETS
//	chatbench private   [-n 2000] [-window 4] [-open-rate 20000] [-duration 5s] TARGETS
//	chatbench storm     [-n 5000] [-room-size 100] TARGETS
//	chatbench report    -dir DIR
//
// TARGETS are -chatd BIN and/or -baseline BIN (started per scenario on a
// free loopback port), or -addr HOST:PORT [-pid PID] for a running server.
package main

import (
	"fmt"
	"os"

	"chatd/bench/load"
)

func main() {
	if len(os.Args) < 2 {
		usage()
	}
	cmd, args := os.Args[1], os.Args[2:]
	var err error
	switch cmd {
	case "worker":
		load.RunWorkerMain()
	case "connect", "broadcast", "private", "storm":
		err = scenarioMain(cmd, args)
	case "suite":
		err = suiteMain(args)
	case "report":
		err = reportMain(args)
	default:
		usage()
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "chatbench:", err)
		os.Exit(1)
	}
}

func usage() {
	fmt.Fprintln(os.Stderr, "usage: chatbench suite|connect|broadcast|private|storm|report [flags]; -h for flags")
	os.Exit(2)
}
