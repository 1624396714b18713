package conformance

import (
	"bytes"
	"fmt"
	"time"
)

// 9.* Limits/Performance

// WaitCap bounds the waits of the 9.* cases (their WAITSECS: 10 s to
// 1000 s in the original, generous bounds for slow implementations) unless
// FullTimeouts is set. An echo that takes longer than this on loopback is a
// failure in practice, and a server that never answers would otherwise make
// a run last for hours.
const WaitCap = 10 * time.Second

// FullTimeouts makes the 9.* cases wait as long as the original does
// (-conformance.full).
var FullTimeouts bool

func waitFor(orig time.Duration) time.Duration {
	if FullTimeouts {
		return orig
	}
	return min(orig, WaitCap)
}

// echoLimitCase is the shape of 9.1-9.6: send one (possibly big) message,
// wait up to waitSecs for its echo, then close with 1000. send sends the
// message; want is the payload the echo must carry.
func echoLimitCase(id, desc, kind string, binary bool, wantFn func() []byte, wait time.Duration, send func(s *Session)) *Case {
	return &Case{
		ID: id, Desc: desc, Expect: fmt.Sprintf("Receive echo'ed %s message (with payload as sent).", kind),
		Limit: waitFor(wait) + 10*sec,
		Open: func(s *Session) {
			want := wantFn()
			wait := waitFor(wait)
			s.Behavior = Failed
			s.ExpectedClose = normalClose()
			s.Result = fmt.Sprintf("Did not receive message within %d seconds.", int(wait/sec))
			s.OnMessage = func(p []byte, bin bool) {
				switch {
				case bin != binary:
					s.Result = fmt.Sprintf("Expected %s message with payload, but got %s.", kind, kindOf(bin))
				case len(p) != len(want):
					s.Result = fmt.Sprintf("Expected %s message with payload of length %d, but got %d.", kind, len(want), len(p))
				case !bytes.Equal(p, want):
					// The original leaves this check as a FIXME; the port
					// compares the content too.
					s.Result = fmt.Sprintf("Received %s message of length %d, but its payload differs from what was sent.", kind, len(p))
				default:
					s.Behavior = OK
					s.Result = fmt.Sprintf("Received %s message of length %d.", kind, len(p))
				}
				s.SendClose(closeNormal, nil)
			}
			send(s)
			s.CloseAfter(wait)
		},
	}
}

func kindOf(binary bool) string {
	if binary {
		return "binary"
	}
	return "text"
}

func limitsCases() []*Case {
	var cs []*Case
	const (
		textUnit = "BAsd7&jh23"
		binUnit  = "\x00\xfe\x23\xfa\xf0"
	)
	// 9.1 / 9.2: one unfragmented message of increasing size.
	sizes := []struct {
		n    int
		name string
		wait time.Duration
	}{
		{64 << 10, "64 * 2**10 (64k)", 10 * sec},
		{256 << 10, "256 * 2**10 (256k)", 10 * sec},
		{1 << 20, "1 * 2**20 (1M)", 100 * sec},
		{4 << 20, "4 * 2**20 (4M)", 100 * sec},
		{8 << 20, "8 * 2**20 (8M)", 100 * sec},
		{16 << 20, "16 * 2**20 (16M)", 100 * sec},
	}
	for sub, binary := range []bool{false, true} {
		kind, op, unit := kindOf(binary), 1, textUnit
		if binary {
			op, unit = 2, binUnit
		}
		for i, sz := range sizes {
			sz, op, unit := sz, op, unit
			want := func() []byte { return repeatTo(bs(unit), sz.n) }
			cs = append(cs, echoLimitCase(fmt.Sprintf("9.%d.%d", sub+1, i+1),
				fmt.Sprintf("Send %s message message with payload of length %s.", kind, sz.name), kind, binary, want, sz.wait,
				func(s *Session) { s.SendFrame(Frame{Op: op, Payload: bs(unit), Repeat: true, Len: sz.n}) }))
		}
	}
	// 9.3 / 9.4: a 4 MiB message in fragments of increasing size.
	frags := []struct {
		n    int
		name string
	}{
		{64, "64"}, {256, "256"}, {1 << 10, "1k"}, {4 << 10, "4k"}, {16 << 10, "16k"},
		{64 << 10, "64k"}, {256 << 10, "256k"}, {1 << 20, "1M"}, {4 << 20, "4M"},
	}
	for sub, binary := range []bool{false, true} {
		kind, unit := kindOf(binary), "*"
		if binary {
			unit = "\xfe"
		}
		for i, fr := range frags {
			fr, unit, binary := fr, unit, binary
			want := func() []byte { return rep(unit, 4<<20) }
			cs = append(cs, echoLimitCase(fmt.Sprintf("9.%d.%d", sub+3, i+1),
				fmt.Sprintf("Send fragmented %s message message with message payload of length 4 * 2**20 (4M). Sent out in fragments of %s.", kind, fr.name),
				kind, binary, want, 100*sec,
				func(s *Session) { s.SendMessage(rep(unit, 4<<20), binary, fr.n) }))
		}
	}
	// 9.5 / 9.6: a 1 MiB message written to TCP in chops of increasing size.
	for sub, binary := range []bool{false, true} {
		kind, op, unit := kindOf(binary), 1, textUnit
		if binary {
			op, unit = 2, binUnit
		}
		want := func() []byte { return repeatTo(bs(unit), 1<<20) }
		for i, chop := range []int{64, 128, 256, 512, 1024, 2048} {
			chop, op, unit := chop, op, unit
			cs = append(cs, echoLimitCase(fmt.Sprintf("9.%d.%d", sub+5, i+1),
				fmt.Sprintf("Send %s message message with payload of length 1 * 2**20 (1M). Sent out data in chops of %d octets.", kind, chop),
				kind, binary, want, 1000*sec,
				func(s *Session) {
					s.SendFrame(Frame{Op: op, Payload: bs(unit), Repeat: true, Len: 1 << 20, Chop: chop})
				}))
		}
	}
	// 9.7 / 9.8: 1000 round trips of messages of increasing size.
	rtt := []struct {
		n     int
		count int
		wait  time.Duration
	}{
		{0, 1000, 60 * sec}, {16, 1000, 60 * sec}, {64, 1000, 60 * sec},
		{256, 1000, 120 * sec}, {1024, 1000, 240 * sec}, {4096, 1000, 480 * sec},
	}
	for sub, binary := range []bool{false, true} {
		kind, op, unit := kindOf(binary), 1, "*"
		if binary {
			op, unit = 2, "\xfe"
		}
		for i, r := range rtt {
			r, op, unit := r, op, unit
			cs = append(cs, &Case{
				ID:     fmt.Sprintf("9.%d.%d", sub+7, i+1),
				Desc:   fmt.Sprintf("Send %d %s messages of payload size %d to measure implementation/network RTT (round trip time) / latency.", r.count, kind, r.n),
				Expect: fmt.Sprintf("Receive echo'ed %s messages (with payload as sent). Timeout case after %d secs.", kind, int(r.wait/sec)),
				Limit:  waitFor(r.wait) + 10*sec,
				Open: func(s *Session) {
					wait := waitFor(r.wait)
					s.Behavior = Failed
					s.ExpectedClose = normalClose()
					s.Result = fmt.Sprintf("Case did not finish within %d seconds.", int(wait/sec))
					s.CloseAfter(wait)
					count := 0
					want := repeatTo(bs(unit), r.n)
					sendOne := func() {
						s.SendFrame(Frame{Op: op, Payload: bs(unit), Repeat: true, Len: r.n})
						count++
					}
					s.OnMessage = func(p []byte, bin bool) {
						switch {
						case bin != binary || len(p) != r.n || !bytes.Equal(p, want):
							s.Behavior = Failed
							s.Result = fmt.Sprintf("Echo'ed message type or length differs from what I sent (got binary = %v, payload length = %d).", bin, len(p))
							s.SendClose(closeNormal, nil)
						case count < r.count:
							sendOne()
						default:
							s.Behavior = OK
							s.Result = "Ok, received all echo'ed messages in time."
							s.SendClose(closeNormal, nil)
						}
					}
					sendOne()
				},
			})
		}
	}
	return cs
}
