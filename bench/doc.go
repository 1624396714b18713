// Package bench holds the building blocks of chatd's load benchmark that are
// independent of sockets and processes, so they can be unit-tested and
// micro-benchmarked on their own:
//
//   - Hist, a log-linear latency histogram whose bucket counts merge exactly
//     across worker processes (percentiles are computed only after merging);
//   - the client side of the WebSocket framing (AppendClientFrame,
//     FrameReader), masked with a fixed key because the generator must stay
//     cheap next to the server it measures;
//   - the receipt scanner (Scan), which classifies a server message by byte
//     search instead of decoding JSON;
//   - ProcStat, CPU and RSS of a process read from /proc.
//
// The load generator itself (epoll worker processes and their coordinator)
// is in bench/load, the report writer in bench/report, and the reference
// server the numbers are compared with in bench/baseline. Nothing imports
// bench except the benchmark's own packages and cmd/chatbench.
package bench
