package conformance

import (
	"bytes"
	"fmt"
	"time"
)

// The case definitions follow crossbario/autobahn-testsuite,
// autobahntestsuite/autobahntestsuite/case/caseX_Y_Z.py: same frames, same
// expectations, same timers (killAfter / closeAfter / continueLater).

const sec = time.Second

func bs(s string) []byte { return []byte(s) }

func rep(s string, n int) []byte { return bytes.Repeat([]byte(s), n) }

// closeNormal1000 is the usual expectedClose of echo cases: the fuzzer
// closes with 1000 and the close must be clean.
func normalClose() ExpectedClose {
	return ExpectedClose{ClosedByMe: true, Codes: []int{closeNormal}, RequireClean: true}
}

// failedBy is the expectedClose of cases where the server must fail the
// connection: the server closes (with one of codes, or by dropping TCP).
func failedBy(codes ...int) ExpectedClose {
	return ExpectedClose{ClosedByMe: false, Codes: codes, RequireClean: false}
}

// wrongCodeFails is the onConnectionLost override of the 7.* cases: a wrong
// close code fails the case.
func wrongCodeFails(s *Session) {
	s.OnLost = func() {
		if s.BehaviorClose == WrongCode {
			s.Behavior = Failed
			s.Result = s.ResultClose
		}
	}
}

// AllCases returns cases 1.* to 10.* in Autobahn's order.
func AllCases() []*Case {
	var cs []*Case
	cs = append(cs, framingCases()...)
	cs = append(cs, pingPongCases()...)
	cs = append(cs, reservedBitsCases()...)
	cs = append(cs, opcodeCases()...)
	cs = append(cs, fragmentationCases()...)
	cs = append(cs, utf8Cases()...)
	cs = append(cs, closeCases()...)
	cs = append(cs, limitsCases()...)
	cs = append(cs, autoFragmentationCases()...)
	return cs
}

// 1.* Framing
func framingCases() []*Case {
	var cs []*Case
	sizes := []int{0, 125, 126, 127, 128, 65535, 65536, 65536}
	for bin := 0; bin < 2; bin++ {
		for i, n := range sizes {
			op, unit, kind := 1, "*", "text"
			if bin == 1 {
				op, unit, kind = 2, "\xfe", "binary"
			}
			chop := 0
			desc := fmt.Sprintf("Send %s message with payload of length %d.", kind, n)
			if i == 7 {
				chop = 997
				desc = fmt.Sprintf("Send %s message with payload of length %d. Sent out data in chops of 997 octets.", kind, n)
			}
			kill := 1 * sec
			if n > 128 {
				kill = 10 * sec
			}
			n, op, unit, chop, isBin := n, op, unit, chop, bin == 1
			cs = append(cs, &Case{
				ID:     fmt.Sprintf("1.%d.%d", bin+1, i+1),
				Desc:   desc,
				Expect: fmt.Sprintf("Receive echo'ed %s message (with payload as sent). Clean close with normal code.", kind),
				Open: func(s *Session) {
					payload := rep(unit, n)
					s.Expect(OK, Message(payload, isBin))
					s.ExpectedClose = normalClose()
					s.SendFrame(Frame{Op: op, Payload: payload, Chop: chop})
					s.KillAfter(kill)
				},
			})
		}
	}
	return cs
}

// 2.* Pings/Pongs
func pingPongCases() []*Case {
	pingEcho := func(id, desc string, payload []byte, chop int, closeAfter time.Duration) *Case {
		return &Case{
			ID: id, Desc: desc,
			Expect: "Pong with payload echo'ed is sent in reply to Ping. Clean close with normal code.",
			Open: func(s *Session) {
				s.Expect(OK, Pong(payload))
				s.ExpectedClose = normalClose()
				s.SendFrame(Frame{Op: 9, Payload: payload, Chop: chop})
				s.CloseAfter(closeAfter)
			},
		}
	}
	tenPings := func(id, desc string, chop int) *Case {
		return &Case{
			ID: id, Desc: desc,
			Expect: "Pongs for our Pings with all the payloads. Note: This is not required by the Spec .. but we check for this behaviour anyway. Clean close with normal code.",
			Open: func(s *Session) {
				var want []Event
				for i := 0; i < 10; i++ {
					p := bs(fmt.Sprintf("payload-%d", i))
					want = append(want, Pong(p))
					s.SendFrame(Frame{Op: 9, Payload: p, Chop: chop})
				}
				s.Expect(OK, want...)
				s.ExpectedClose = normalClose()
				s.CloseAfter(3 * sec)
			},
		}
	}
	unsolicited := func(id, desc string, payload []byte) *Case {
		return &Case{
			ID: id, Desc: desc, Expect: "Nothing.",
			Open: func(s *Session) {
				s.Expect(OK)
				s.ExpectedClose = normalClose()
				s.SendFrame(Frame{Op: 10, Payload: payload})
				s.SendClose(closeNormal, nil)
				s.CloseAfter(1 * sec)
			},
		}
	}
	return []*Case{
		pingEcho("2.1", "Send ping without payload.", []byte{}, 0, 1*sec),
		pingEcho("2.2", "Send ping with small text payload.", bs("Hello, world!"), 0, 1*sec),
		pingEcho("2.3", "Send ping with small binary (non UTF-8) payload.", bs("\x00\xff\xfe\xfd\xfc\xfb\x00\xff"), 0, 1*sec),
		pingEcho("2.4", "Send ping with binary payload of 125 octets.", rep("\xfe", 125), 0, 1*sec),
		{
			ID: "2.5", Desc: "Send ping with binary payload of 126 octets.",
			Expect: "Connection is failed immediately (1002/Protocol Error), since control frames are only allowed to have payload up to and including 125 octets..",
			Open: func(s *Session) {
				s.Expect(OK)
				s.ExpectedClose = failedBy(closeProtocolError)
				s.SendFrame(Frame{Op: 9, Payload: rep("\xfe", 126)})
				s.KillAfter(1 * sec)
			},
		},
		pingEcho("2.6", "Send ping with binary payload of 125 octets, send in octet-wise chops.", rep("\xfe", 125), 1, 2*sec),
		unsolicited("2.7", "Send unsolicited pong without payload. Verify nothing is received. Clean close with normal code.", []byte{}),
		unsolicited("2.8", "Send unsolicited pong with payload. Verify nothing is received. Clean close with normal code.", bs("unsolicited pong payload")),
		{
			ID: "2.9", Desc: "Send unsolicited pong with payload. Send ping with payload. Verify pong for ping is received.",
			Expect: "Nothing in reply to own Pong, but Pong with payload echo'ed in reply to Ping. Clean close with normal code.",
			Open: func(s *Session) {
				p := bs("ping payload")
				s.Expect(OK, Pong(p))
				s.ExpectedClose = normalClose()
				s.SendFrame(Frame{Op: 10, Payload: bs("unsolicited pong payload")})
				s.SendFrame(Frame{Op: 9, Payload: p})
				s.CloseAfter(1 * sec)
			},
		},
		tenPings("2.10", "Send 10 Pings with payload.", 0),
		tenPings("2.11", "Send 10 Pings with payload. Send out octets in octet-wise chops.", 1),
	}
}

// echoThenFail is the shape of 3.2-3.4, 4.1.3-4.1.5, 4.2.3-4.2.5: a valid
// text message, then an invalid frame, then a ping. The echo of the first
// message is expected (OK) or not (NON-STRICT); no pong.
func echoThenFail(id, desc, expect string, bad Frame, chop int, sync bool) *Case {
	return &Case{
		ID: id, Desc: desc, Expect: expect,
		Open: func(s *Session) {
			p := bs("Hello, world!")
			s.Expect(OK, Message(p, false))
			s.Expect(NonStrict)
			s.ExpectedClose = failedBy(closeProtocolError)
			s.SendFrame(Frame{Op: 1, Payload: p, Chop: chop, Sync: sync})
			bad.Chop, bad.Sync = chop, sync
			s.SendFrame(bad)
			s.SendFrame(Frame{Op: 9, Chop: chop, Sync: sync})
			s.KillAfter(1 * sec)
		},
	}
}

// mustFail is the shape of cases whose frames the server must reject at
// once: nothing is expected back, and the server closes with one of codes.
func mustFail(id, desc, expect string, codes []int, frames ...Frame) *Case {
	return &Case{
		ID: id, Desc: desc, Expect: expect,
		Open: func(s *Session) {
			s.Expect(OK)
			s.ExpectedClose = failedBy(codes...)
			for _, f := range frames {
				s.SendFrame(f)
			}
			s.KillAfter(1 * sec)
		},
	}
}

var pe = []int{closeProtocolError}

// 3.* Reserved Bits
func reservedBitsCases() []*Case {
	rsvExpect := "Echo for first message is received, but then connection is failed immediately, since RSV must be 0, when no extension defining RSV meaning has been negotiated. The Pong is not received."
	return []*Case{
		mustFail("3.1", "Send small text message with RSV = 1.",
			"The connection is failed immediately (1002/protocol error), since RSV must be 0, when no extension defining RSV meaning has been negoiated.",
			pe, Frame{Op: 1, Payload: bs("Hello, world!"), Rsv: 1}),
		echoThenFail("3.2", "Send small text message, then send again with RSV = 2, then send Ping.", rsvExpect,
			Frame{Op: 1, Payload: bs("Hello, world!"), Rsv: 2}, 0, false),
		echoThenFail("3.3", "Send small text message, then send again with RSV = 3, then send Ping. Octets are sent in frame-wise chops. Octets are sent in octet-wise chops.", rsvExpect,
			Frame{Op: 1, Payload: bs("Hello, world!"), Rsv: 3}, 0, true),
		echoThenFail("3.4", "Send small text message, then send again with RSV = 4, then send Ping. Octets are sent in octet-wise chops.", rsvExpect,
			Frame{Op: 1, Payload: bs("Hello, world!"), Rsv: 4}, 1, false),
		mustFail("3.5", "Send small binary message with RSV = 5.", "The connection is failed immediately, since RSV must be 0.",
			pe, Frame{Op: 2, Payload: bs("\x00\xff\xfe\xfd\xfc\xfb\x00\xff"), Rsv: 5}),
		// The original sends opcode 2 here despite the description.
		mustFail("3.6", "Send Ping with RSV = 6.", "The connection is failed immediately, since RSV must be 0.",
			pe, Frame{Op: 2, Payload: bs("Hello, world!"), Rsv: 6}),
		mustFail("3.7", "Send Close with RSV = 7.", "The connection is failed immediately, since RSV must be 0.",
			pe, Frame{Op: 8, Rsv: 7}),
	}
}

// 4.* Opcodes
func opcodeCases() []*Case {
	opExpect := "Echo for first message is received, but then connection is failed immediately, since reserved opcode frame is used. A Pong is not received."
	var cs []*Case
	for sub, base := range []int{3, 11} {
		kind := "non-control"
		if sub == 1 {
			kind = "control"
		}
		id := func(i int) string { return fmt.Sprintf("4.%d.%d", sub+1, i) }
		cs = append(cs,
			mustFail(id(1), fmt.Sprintf("Send frame with reserved %s Opcode = %d.", kind, base), "The connection is failed immediately.",
				pe, Frame{Op: base}),
			mustFail(id(2), fmt.Sprintf("Send frame with reserved %s Opcode = %d and non-empty payload.", kind, base+1), "The connection is failed immediately.",
				pe, Frame{Op: base + 1, Payload: bs("reserved opcode payload")}),
			echoThenFail(id(3), fmt.Sprintf("Send small text message, then send frame with reserved %s Opcode = %d, then send Ping.", kind, base+2), opExpect,
				Frame{Op: base + 2}, 0, false),
			echoThenFail(id(4), fmt.Sprintf("Send small text message, then send frame with reserved %s Opcode = %d and non-empty payload, then send Ping.", kind, base+3), opExpect,
				Frame{Op: base + 3, Payload: bs("Hello, world!")}, 0, false),
			echoThenFail(id(5), fmt.Sprintf("Send small text message, then send frame with reserved %s Opcode = %d and non-empty payload, then send Ping.", kind, base+4), opExpect,
				Frame{Op: base + 4, Payload: bs("Hello, world!")}, 1, false),
		)
	}
	return cs
}

// 5.* Fragmentation
func fragmentationCases() []*Case {
	noContinue := "The connection is failed immediately, since there is no message to continue."
	twoFragments := func(id, desc string, chop int, sync bool) *Case {
		return &Case{
			ID: id, Desc: desc, Expect: "Message is processed and echo'ed back to us.",
			Open: func(s *Session) {
				s.Expect(OK, Message(bs("fragment1fragment2"), false))
				s.ExpectedClose = normalClose()
				s.SendFrame(Frame{Op: 1, NotFin: true, Payload: bs("fragment1"), Chop: chop, Sync: sync})
				s.SendFrame(Frame{Op: 0, Payload: bs("fragment2"), Chop: chop, Sync: sync})
				s.CloseAfter(1 * sec)
			},
		}
	}
	pingBetween := func(id, desc string, chop int, sync bool) *Case {
		return &Case{
			ID: id, Desc: desc, Expect: "A pong is received, then the message is echo'ed back to us.",
			Open: func(s *Session) {
				ping := bs("ping payload")
				s.Expect(OK, Pong(ping), Message(bs("fragment1fragment2"), false))
				s.ExpectedClose = normalClose()
				s.SendFrame(Frame{Op: 1, NotFin: true, Payload: bs("fragment1"), Chop: chop, Sync: sync})
				s.SendFrame(Frame{Op: 9, Payload: ping, Chop: chop, Sync: sync})
				s.SendFrame(Frame{Op: 0, Payload: bs("fragment2"), Chop: chop, Sync: sync})
				s.CloseAfter(1 * sec)
			},
		}
	}
	strayContinuation := func(id, desc string, fin bool, chop int, sync bool) *Case {
		return mustFail(id, desc, noContinue, pe,
			Frame{Op: 0, NotFin: !fin, Payload: bs("non-continuation payload"), Chop: chop, Sync: sync},
			Frame{Op: 1, Payload: bs("Hello, world!"), Chop: chop, Sync: sync})
	}
	repeated := func(id, desc string, fin bool) *Case {
		var fs []Frame
		for i := 0; i < 2; i++ {
			fs = append(fs,
				Frame{Op: 0, NotFin: !fin, Payload: bs("fragment1")},
				Frame{Op: 1, NotFin: true, Payload: bs("fragment2")},
				Frame{Op: 0, Payload: bs("fragment3")})
		}
		return mustFail(id, desc, noContinue, pe, fs...)
	}
	fivePieces := func(id, desc string, sync bool) *Case {
		return &Case{
			ID: id, Desc: desc,
			Expect: "The peer immediately answers the first Ping before it has received the last text message fragment. The peer pong's back the Ping's payload exactly, and echo's the payload of the fragmented message back to us.",
			Open: func(s *Session) {
				frags := []string{"fragment1", "fragment2", "fragment3", "fragment4", "fragment5"}
				pings := []string{"pongme 1!", "pongme 2!"}
				s.Expect(OK, Pong(bs(pings[0])), Pong(bs(pings[1])), Message(bs("fragment1fragment2fragment3fragment4fragment5"), false))
				s.ExpectedClose = normalClose()
				s.SendFrame(Frame{Op: 1, NotFin: true, Payload: bs(frags[0]), Sync: sync})
				s.SendFrame(Frame{Op: 0, NotFin: true, Payload: bs(frags[1]), Sync: sync})
				s.SendFrame(Frame{Op: 9, Payload: bs(pings[0]), Sync: sync})
				s.ContinueLater(1*sec, func() {
					s.SendFrame(Frame{Op: 0, NotFin: true, Payload: bs(frags[2]), Sync: sync})
					s.SendFrame(Frame{Op: 0, NotFin: true, Payload: bs(frags[3]), Sync: sync})
					s.SendFrame(Frame{Op: 9, Payload: bs(pings[1]), Sync: sync})
					s.SendFrame(Frame{Op: 0, Payload: bs(frags[4]), Sync: sync})
					s.CloseAfter(1 * sec)
				})
			},
		}
	}
	return []*Case{
		mustFail("5.1", "Send Ping fragmented into 2 fragments.", "Connection is failed immediately, since control message MUST NOT be fragmented.", pe,
			Frame{Op: 9, NotFin: true, Payload: bs("fragment1")}, Frame{Op: 0, Payload: bs("fragment2")}),
		mustFail("5.2", "Send Pong fragmented into 2 fragments.", "Connection is failed immediately, since control message MUST NOT be fragmented.", pe,
			Frame{Op: 10, NotFin: true, Payload: bs("fragment1")}, Frame{Op: 0, Payload: bs("fragment2")}),
		twoFragments("5.3", "Send text Message fragmented into 2 fragments.", 0, false),
		twoFragments("5.4", "Send text Message fragmented into 2 fragments, octets are sent in frame-wise chops.", 0, true),
		twoFragments("5.5", "Send text Message fragmented into 2 fragments, octets are sent in octet-wise chops.", 1, false),
		pingBetween("5.6", "Send text Message fragmented into 2 fragments, one ping with payload in-between.", 0, false),
		pingBetween("5.7", "Send text Message fragmented into 2 fragments, one ping with payload in-between. Octets are sent in frame-wise chops.", 0, true),
		pingBetween("5.8", "Send text Message fragmented into 2 fragments, one ping with payload in-between. Octets are sent in octet-wise chops.", 1, false),
		strayContinuation("5.9", "Send unfragmented Text Message after Continuation Frame with FIN = true, where there is nothing to continue, sent in one chop.", true, 0, false),
		strayContinuation("5.10", "Send unfragmented Text Message after Continuation Frame with FIN = true, where there is nothing to continue, sent in per-frame chops.", true, 0, true),
		strayContinuation("5.11", "Send unfragmented Text Message after Continuation Frame with FIN = true, where there is nothing to continue, sent in octet-wise chops.", true, 1, false),
		strayContinuation("5.12", "Send unfragmented Text Message after Continuation Frame with FIN = false, where there is nothing to continue, sent in one chop.", false, 0, false),
		strayContinuation("5.13", "Send unfragmented Text Message after Continuation Frame with FIN = false, where there is nothing to continue, sent in per-frame chops.", false, 0, true),
		strayContinuation("5.14", "Send unfragmented Text Message after Continuation Frame with FIN = false, where there is nothing to continue, sent in octet-wise chops.", false, 1, false),
		{
			ID:     "5.15",
			Desc:   "Send text Message fragmented into 2 fragments, then Continuation Frame with FIN = false where there is nothing to continue, then unfragmented Text Message, all sent in one chop.",
			Expect: noContinue,
			Open: func(s *Session) {
				s.Expect(OK, Message(bs("fragment1fragment2"), false))
				s.Expect(NonStrict)
				s.ExpectedClose = failedBy(closeProtocolError)
				s.SendFrame(Frame{Op: 1, NotFin: true, Payload: bs("fragment1")})
				s.SendFrame(Frame{Op: 0, Payload: bs("fragment2")})
				s.SendFrame(Frame{Op: 0, NotFin: true, Payload: bs("fragment3")})
				s.SendFrame(Frame{Op: 1, Payload: bs("fragment4")})
				s.KillAfter(1 * sec)
			},
		},
		repeated("5.16", "Repeated 2x: Continuation Frame with FIN = false (where there is nothing to continue), then text Message fragmented into 2 fragments.", false),
		repeated("5.17", "Repeated 2x: Continuation Frame with FIN = true (where there is nothing to continue), then text Message fragmented into 2 fragments.", true),
		mustFail("5.18", "Send text Message fragmented into 2 fragments, with both frame opcodes set to text, sent in one chop.",
			"The connection is failed immediately, since all data frames after the initial data frame must have opcode 0.", pe,
			Frame{Op: 1, NotFin: true, Payload: bs("fragment1")}, Frame{Op: 1, Payload: bs("fragment2")}),
		fivePieces("5.19", "A fragmented text message is sent in multiple frames. After sending the first 2 frames of the text message, a Ping is sent. Then we wait 1s, then we send 2 more text fragments, another Ping and then the final text fragment. Everything is legal.", false),
		fivePieces("5.20", "Same as Case 5.19, but send all frames with SYNC = True. Note, this does not change the octets sent in any way, only how the stream is chopped up on the wire.", true),
	}
}

// 7.* Close Handling
func closeCases() []*Case {
	closeFirst := func(id, desc, expect string, send func(s *Session)) *Case {
		return &Case{
			ID: id, Desc: desc, Expect: expect,
			Open: func(s *Session) {
				s.SuppressClose = true
				wrongCodeFails(s)
				s.Expect(OK)
				s.ExpectedClose = normalClose()
				send(s)
				s.KillAfter(1 * sec)
			},
		}
	}
	badClose := func(id, desc, expect string, codes []int, send func(s *Session)) *Case {
		return &Case{
			ID: id, Desc: desc, Expect: expect,
			Open: func(s *Session) {
				s.SuppressClose = true
				wrongCodeFails(s)
				s.Expect(OK)
				s.ExpectedClose = ExpectedClose{ClosedByMe: true, Codes: codes, RequireClean: false}
				send(s)
				s.KillAfter(1 * sec)
			},
		}
	}
	invalidUTF8Reason := bs("\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5\xed\xa0\x80\x65\x64\x69\x74\x65\x64")
	cs := []*Case{
		{
			ID: "7.1.1", Desc: "Send a message followed by a close frame", Expect: "Echoed message followed by clean close with normal code.",
			Open: func(s *Session) {
				wrongCodeFails(s)
				p := bs("Hello World!")
				s.Expect(OK, Message(p, false))
				s.ExpectedClose = normalClose()
				s.SendFrame(Frame{Op: 1, Payload: p})
				s.KillAfter(1 * sec)
			},
		},
		closeFirst("7.1.2", "Send two close frames", "Clean close with normal code. Second close frame ignored.", func(s *Session) {
			s.SendClose(closeNormal, nil)
			s.SendFrame(Frame{Op: 8})
		}),
		closeFirst("7.1.3", "Send a ping after close message", "Clean close with normal code, no pong.", func(s *Session) {
			s.SendClose(closeNormal, nil)
			s.SendFrame(Frame{Op: 9})
		}),
		closeFirst("7.1.4", "Send text message after sending a close frame.", "Clean close with normal code. Text message ignored.", func(s *Session) {
			s.SendClose(closeNormal, nil)
			s.SendFrame(Frame{Op: 1, Payload: bs("Hello World!")})
		}),
		closeFirst("7.1.5", "Send message fragment1 followed by close then fragment", "Clean close with normal code.", func(s *Session) {
			s.SendFrame(Frame{Op: 1, NotFin: true, Payload: bs("fragment1")})
			s.SendClose(closeNormal, nil)
			s.SendFrame(Frame{Op: 0, Payload: bs("fragment2")})
		}),
		{
			ID: "7.1.6", Desc: "Send 256K message followed by close then a ping",
			Expect: "Case outcome depends on implementation defined close behavior. Message and close frame are sent back to back. If the close frame is processed before the text message write is complete (as can happen in asynchronous processing models) the close frame is processed first and the text message may not be received or may only be partially received.",
			Open: func(s *Session) {
				s.SuppressClose = true
				p := bs("Hello World!")
				s.Expect(OK, Message(p, false))
				s.Expect(NonStrict)
				s.ExpectedClose = normalClose()
				s.OnLost = func() {
					switch s.Behavior {
					case OK:
						s.Result = "Text message was processed before close."
					case NonStrict:
						s.Result = "Close was processed before text message could be returned."
					}
					s.Behavior = Informational
					s.BehaviorClose = Informational
				}
				s.SendFrame(Frame{Op: 1, Payload: bs("BAsd7&jh23"), Repeat: true, Len: 256 << 10})
				s.SendFrame(Frame{Op: 1, Payload: p})
				s.SendClose(closeNormal, nil)
				s.SendFrame(Frame{Op: 9})
				s.KillAfter(1 * sec)
			},
		},
		closeFirst("7.3.1", "Send a close frame with payload length 0 (no close code, no close reason)", "Clean close with normal code.", func(s *Session) {
			s.SendCloseFrame(-1, nil)
		}),
		badClose("7.3.2", "Send a close frame with payload length 1", "Clean close with protocol error or drop TCP.", pe, func(s *Session) {
			s.SendCloseFrame(-1, bs("a"))
		}),
		closeFirst("7.3.3", "Send a close frame with payload length 2 (regular close with a code)", "Clean close with normal code.", func(s *Session) {
			s.SendClose(closeNormal, nil)
		}),
		closeFirst("7.3.4", "Send a close frame with close code and close reason", "Clean close with normal code.", func(s *Session) {
			s.SendClose(closeNormal, bs("Hello World!"))
		}),
		closeFirst("7.3.5", "Send a close frame with close code and close reason of maximum length (123)", "Clean close with normal code.", func(s *Session) {
			s.SendClose(closeNormal, rep("*", 123))
		}),
		badClose("7.3.6", "Send a close frame with close code and close reason which is too long (124) - total frame payload 126 octets",
			"Clean close with protocol error code or dropped TCP connection.", pe, func(s *Session) {
				s.SendCloseFrame(closeNormal, rep("*", 124))
			}),
		badClose("7.5.1", "Send a close frame with invalid UTF8 payload", "Clean close with protocol error or invalid utf8 code or dropped TCP.",
			[]int{closeProtocolError, closeInvalidPayload}, func(s *Session) {
				s.SendCloseFrame(closeNormal, invalidUTF8Reason)
			}),
	}
	for i, code := range []int{1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 3000, 3999, 4000, 4999} {
		code := code
		cs = append(cs, &Case{
			ID: fmt.Sprintf("7.7.%d", i+1), Desc: fmt.Sprintf("Send close with valid close code %d", code),
			Expect: "Clean close with normal or echoed code",
			Open: func(s *Session) {
				wrongCodeFails(s)
				s.Expect(OK)
				s.ExpectedClose = ExpectedClose{ClosedByMe: true, Codes: []int{closeNormal, code}, RequireClean: true}
				s.SendCloseFrame(code, nil)
				s.KillAfter(1 * sec)
			},
		})
	}
	for i, code := range []int{0, 999, 1004, 1005, 1006, 1016, 1100, 2000, 2999} {
		code := code
		cs = append(cs, &Case{
			ID: fmt.Sprintf("7.9.%d", i+1), Desc: fmt.Sprintf("Send close with invalid close code %d", code),
			Expect: "Clean close with protocol error code or drop TCP",
			Open: func(s *Session) {
				wrongCodeFails(s)
				s.Expect(OK)
				s.ExpectedClose = ExpectedClose{ClosedByMe: true, Codes: pe, RequireClean: false}
				s.SendCloseFrame(code, nil)
				s.KillAfter(1 * sec)
			},
		})
	}
	for i, code := range []int{5000, 65535} {
		code := code
		cs = append(cs, &Case{
			ID: fmt.Sprintf("7.13.%d", i+1), Desc: fmt.Sprintf("Send close with close code %d", code),
			Expect: "Actual events are undefined by the spec.",
			Open: func(s *Session) {
				s.SuppressClose = true
				s.OnLost = func() {
					s.Behavior = Informational
					s.BehaviorClose = Informational
					s.Result = "Actual events are undefined by the spec."
				}
				s.Expect(OK)
				s.ExpectedClose = ExpectedClose{ClosedByMe: true, Codes: []int{closeNormal, code, closeProtocolError}, RequireClean: false}
				s.SendCloseFrame(code, nil)
				s.KillAfter(1 * sec)
			},
		})
	}
	return cs
}

// 10.* Misc: auto-fragmentation
func autoFragmentationCases() []*Case {
	return []*Case{{
		ID:     "10.1.1",
		Desc:   "Send text message with payload of length 65536 auto-fragmented with autoFragmentSize = 1300.",
		Expect: "Receive echo'ed text message (with payload as sent and transmitted frame counts as expected). Clean close with normal code.",
		Open: func(s *Session) {
			payload := rep("*", 65536)
			s.AutoFragmentSize = 1300
			s.Expect(OK, Message(payload, false))
			s.ExpectedClose = normalClose()
			s.OnLost = func() {
				if !s.connectionWasOpen {
					s.Behavior = Failed
					s.Result = "WebSocket connection was never open"
					return
				}
				wantCont := len(payload) / s.AutoFragmentSize
				wantText := 0
				if len(payload)%s.AutoFragmentSize > 0 {
					wantText = 1
				}
				if s.TxFrameStats[0] != wantCont || s.TxFrameStats[1] != wantText {
					s.Behavior = Failed
					s.Result = fmt.Sprintf("Frames transmitted {0: %d, 1: %d} does not match what we expected {0: %d, 1: %d}.",
						s.TxFrameStats[0], s.TxFrameStats[1], wantCont, wantText)
				}
			}
			s.SendMessage(payload, false, 0)
			s.KillAfter(10 * sec)
		},
	}}
}
