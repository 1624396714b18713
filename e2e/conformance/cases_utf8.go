package conformance

import (
	"fmt"
	"time"
)

// 6.* UTF-8 Handling

// kosme is "κόσμε", the multi-byte test string of the UTF-8 cases.
const kosme = "\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5"

type utf8Seq struct {
	valid   bool
	payload string
}

type utf8Group struct {
	title string
	seqs  []utf8Seq
}

// utf8TestSequences is createUtf8TestSequences() of case6_x_x.py (from
// Markus Kuhn's UTF-8-test.txt); group i becomes cases 6.(i+5).*.
func utf8TestSequences() []utf8Group {
	var gs []utf8Group
	add := func(title string, seqs ...utf8Seq) { gs = append(gs, utf8Group{title, seqs}) }
	ok := func(p string) utf8Seq { return utf8Seq{true, p} }
	bad := func(p string) utf8Seq { return utf8Seq{false, p} }

	add("Some valid UTF-8 sequences",
		ok("hello\x24world"), ok("hello\xC2\xA2world"), ok("hello\xE2\x82\xACworld"), ok("hello\xF0\xA4\xAD\xA2world"), ok(kosme))

	var prefixes []utf8Seq
	for i := 1; i <= len(kosme); i++ {
		p := kosme[:i]
		prefixes = append(prefixes, utf8Seq{validUTF8([]byte(p)), p})
	}
	add("All prefixes of a valid UTF-8 string that contains multi-byte code points", prefixes...)

	add("First possible sequence of a certain length",
		ok("\x00"), ok("\xc2\x80"), ok("\xe0\xa0\x80"), ok("\xf0\x90\x80\x80"))
	add("First possible sequence length 5/6 (invalid codepoints)",
		bad("\xf8\x88\x80\x80\x80"), bad("\xfc\x84\x80\x80\x80\x80"))
	add("Last possible sequence of a certain length",
		ok("\x7f"), ok("\xdf\xbf"), ok("\xef\xbf\xbf"), ok("\xf4\x8f\xbf\xbf"))
	add("Last possible sequence length 4/5/6 (invalid codepoints)",
		bad("\xf7\xbf\xbf\xbf"), bad("\xfb\xbf\xbf\xbf\xbf"), bad("\xfd\xbf\xbf\xbf\xbf\xbf"))
	add("Other boundary conditions",
		ok("\xed\x9f\xbf"), ok("\xee\x80\x80"), ok("\xef\xbf\xbd"), ok("\xf4\x8f\xbf\xbf"), bad("\xf4\x90\x80\x80"))

	var contBytes []byte
	for i := 0x80; i < 0xbf; i++ {
		contBytes = append(contBytes, byte(i))
	}
	cont := string(contBytes)
	add("Unexpected continuation bytes",
		bad("\x80"), bad("\xbf"), bad("\x80\xbf"), bad("\x80\xbf\x80"), bad("\x80\xbf\x80\xbf"),
		bad("\x80\xbf\x80\xbf\x80"), bad("\x80\xbf\x80\xbf\x80\xbf"), bad(cont))

	var lonely []utf8Seq
	for _, r := range [][2]int{{0xc0, 0xdf}, {0xe0, 0xef}, {0xf0, 0xf7}, {0xf8, 0xfb}, {0xfc, 0xfd}} {
		var s []byte
		for i := r[0]; i < r[1]; i++ {
			s = append(s, byte(i), 0x20)
		}
		lonely = append(lonely, bad(string(s)))
	}
	add("Lonely start characters", lonely...)

	k := []string{"\xc0", "\xe0\x80", "\xf0\x80\x80", "\xf8\x80\x80\x80", "\xfc\x80\x80\x80\x80",
		"\xdf", "\xef\xbf", "\xf7\xbf\xbf", "\xfb\xbf\xbf\xbf", "\xfd\xbf\xbf\xbf\xbf"}
	var missing []utf8Seq
	all := ""
	for _, s := range k {
		missing = append(missing, bad(s))
		all += s
	}
	add("Sequences with last continuation byte missing", missing...)
	add("Concatenation of incomplete sequences", bad(all))
	add("Impossible bytes", bad("\xfe"), bad("\xff"), bad("\xfe\xfe\xff\xff"))
	add("Examples of an overlong ASCII character",
		bad("\xc0\xaf"), bad("\xe0\x80\xaf"), bad("\xf0\x80\x80\xaf"), bad("\xf8\x80\x80\x80\xaf"), bad("\xfc\x80\x80\x80\x80\xaf"))
	add("Maximum overlong sequences",
		bad("\xc1\xbf"), bad("\xe0\x9f\xbf"), bad("\xf0\x8f\xbf\xbf"), bad("\xf8\x87\xbf\xbf\xbf"), bad("\xfc\x83\xbf\xbf\xbf\xbf"))
	add("Overlong representation of the NUL character",
		bad("\xc0\x80"), bad("\xe0\x80\x80"), bad("\xf0\x80\x80\x80"), bad("\xf8\x80\x80\x80\x80"), bad("\xfc\x80\x80\x80\x80\x80"))
	add("Single UTF-16 surrogates",
		bad("\xed\xa0\x80"), bad("\xed\xad\xbf"), bad("\xed\xae\x80"), bad("\xed\xaf\xbf"), bad("\xed\xb0\x80"), bad("\xed\xbe\x80"), bad("\xed\xbf\xbf"))
	add("Paired UTF-16 surrogates",
		bad("\xed\xa0\x80\xed\xb0\x80"), bad("\xed\xa0\x80\xed\xbf\xbf"), bad("\xed\xad\xbf\xed\xb0\x80"), bad("\xed\xad\xbf\xed\xbf\xbf"),
		bad("\xed\xae\x80\xed\xb0\x80"), bad("\xed\xae\x80\xed\xbf\xbf"), bad("\xed\xaf\xbf\xed\xb0\x80"), bad("\xed\xaf\xbf\xed\xbf\xbf"))

	nonChars := []utf8Seq{ok("\xef\xbf\xbe"), ok("\xef\xbf\xbf")}
	for _, z1 := range []byte{0xf0, 0xf1, 0xf2, 0xf3, 0xf4} {
		for _, z2 := range []byte{0x8f, 0x9f, 0xaf, 0xbf} {
			if z1 == 0xf4 && z2 != 0x8f {
				continue // above U+10FFFF
			}
			for _, z3 := range []byte{0xbe, 0xbf} {
				zz := string([]byte{z1, z2, 0xbf, z3})
				if zz == "\xf0\x8f\xbf\xbe" || zz == "\xf0\x8f\xbf\xbf" {
					continue // overlong
				}
				nonChars = append(nonChars, ok(zz))
			}
		}
	}
	add("Non-character code points (valid UTF-8)", nonChars...)
	add("Unicode specials (i.e. replacement char)",
		ok("\xef\xbf\xb9"), ok("\xef\xbf\xba"), ok("\xef\xbf\xbb"), ok("\xef\xbf\xbc"), ok("\xef\xbf\xbd"), ok("\xef\xbf\xbe"), ok("\xef\xbf\xbf"))
	return gs
}

func utf8Cases() []*Case {
	echoed := func(id, desc string, want []byte, send func(s *Session)) *Case {
		return &Case{
			ID: id, Desc: desc, Expect: "The message is echo'ed back to us.",
			Open: func(s *Session) {
				s.Expect(OK, Message(want, false))
				s.ExpectedClose = normalClose()
				send(s)
				s.CloseAfter(1 * sec)
			},
		}
	}
	hello := bs("Hello-µ@ßöäüàá-UTF-8!!")
	cs := []*Case{
		echoed("6.1.1", "Send text message of length 0.", []byte{}, func(s *Session) {
			s.SendFrame(Frame{Op: 1, Payload: []byte{}})
		}),
		echoed("6.1.2", "Send fragmented text message, 3 fragments each of length 0.", []byte{}, func(s *Session) {
			s.SendFrame(Frame{Op: 1, NotFin: true})
			s.SendFrame(Frame{Op: 0, NotFin: true})
			s.SendFrame(Frame{Op: 0})
		}),
		echoed("6.1.3", "Send fragmented text message, 3 fragments, first and last of length 0, middle non-empty.", bs("middle frame payload"), func(s *Session) {
			s.SendFrame(Frame{Op: 1, NotFin: true})
			s.SendFrame(Frame{Op: 0, NotFin: true, Payload: bs("middle frame payload")})
			s.SendFrame(Frame{Op: 0})
		}),
		echoed("6.2.1", "Send a valid UTF-8 text message in one fragment.", hello, func(s *Session) {
			s.SendMessage(hello, false, 0)
		}),
		echoed("6.2.2", "Send a valid UTF-8 text message in two fragments, fragmented on UTF-8 code point boundary.", hello, func(s *Session) {
			s.SendFrame(Frame{Op: 1, NotFin: true, Payload: bs("Hello-µ@ßöä")})
			s.SendFrame(Frame{Op: 0, Payload: bs("üàá-UTF-8!!")})
		}),
		echoed("6.2.3", "Send a valid UTF-8 text message in fragments of 1 octet, resulting in frames ending on positions which are not code point ends.", hello, func(s *Session) {
			s.SendMessage(hello, false, 1)
		}),
		echoed("6.2.4", "Send a valid UTF-8 text message in fragments of 1 octet, resulting in frames ending on positions which are not code point ends.", bs(kosme), func(s *Session) {
			s.SendMessage(bs(kosme), false, 1)
		}),
	}

	// 6.3.*: invalid exactly on byte 12 (\xa0)
	invalid := bs(kosme + "\xed\xa0\x80" + "\x65\x64\x69\x74\x65\x64")
	for i, frag := range []int{0, 1} {
		frag := frag
		desc := "Send invalid UTF-8 text message unfragmented."
		if frag == 1 {
			desc = "Send invalid UTF-8 text message in fragments of 1 octet, resulting in frames ending on positions which are not code point ends."
		}
		cs = append(cs, &Case{
			ID: fmt.Sprintf("6.3.%d", i+1), Desc: fmt.Sprintf("%s<br><br>MESSAGE:<br>%x", desc, invalid),
			Expect: "The connection is failed immediately, since the payload is not valid UTF-8.",
			Open: func(s *Session) {
				s.Expect(OK)
				s.ExpectedClose = failedBy(closeInvalidPayload)
				s.SendMessage(invalid, false, frag)
				s.KillAfter(1 * sec)
			},
		})
	}

	// 6.4.*: fail fast on invalid UTF-8. PART2 is U+110000 in the UTF-8
	// integer encoding (invalid exactly on byte 12, \x90).
	p1, p2, p3 := kosme, "\xf4\x90\x80\x80", "\x65\x64\x69\x74\x65\x64"
	whole := p1 + p2 + p3
	failFast := func(id, desc string, parts [3]string, chops bool) *Case {
		return &Case{
			ID: id, Desc: fmt.Sprintf("%s<br><br>PART1 = %x<br>PART2 = %x<br>PART3 = %x", desc, parts[0], parts[1], parts[2]),
			Expect: "The first frame is accepted, we expect to timeout on the first wait. The 2nd frame should be rejected immediately (fail fast on UTF-8). If we timeout, we expect the connection is failed at least then, since the complete message payload is not valid UTF-8.",
			Open: func(s *Session) {
				s.Expect(OK, TimeoutMark("A"))
				s.Expect(NonStrict, TimeoutMark("A"), TimeoutMark("B"))
				s.ExpectedClose = failedBy(closeInvalidPayload)
				if chops {
					s.BeginMessage(1)
					s.BeginMessageFrame(len(whole))
					s.SendMessageFrameData(bs(parts[0]))
				} else {
					s.SendFrame(Frame{Op: 1, NotFin: true, Payload: bs(parts[0])})
				}
				s.ContinueLater(1*sec, func() {
					if !s.Open() {
						return
					}
					s.Record(TimeoutMark("A"))
					if chops {
						s.SendMessageFrameData(bs(parts[1]))
					} else {
						s.SendFrame(Frame{Op: 0, NotFin: true, Payload: bs(parts[1])})
					}
					s.ContinueLater(1*sec, func() {
						if !s.Open() {
							return
						}
						s.Record(TimeoutMark("B"))
						if chops {
							s.SendMessageFrameData(bs(parts[2]))
							s.EndMessage()
						} else {
							s.SendFrame(Frame{Op: 0, Payload: bs(parts[2])})
						}
						s.KillAfter(1 * sec)
					})
				})
			},
		}
	}
	cs = append(cs,
		failFast("6.4.1", "Send invalid UTF-8 text message in 3 fragments (frames). First frame payload is valid, then wait, then 2nd frame which contains the payload making the sequence invalid, then wait, then 3rd frame with rest. Note that PART1 and PART3 are valid UTF-8 in themselves, PART2 is a 0x110000 encoded as in the UTF-8 integer encoding scheme, but the codepoint is invalid (out of range).",
			[3]string{p1, p2, p3}, false),
		failFast("6.4.2", "Same as Case 6.4.1, but in 2nd frame, we send only up to and including the octet making the complete payload invalid.",
			[3]string{whole[:12], whole[12:13], whole[13:]}, false),
		failFast("6.4.3", "Same as Case 6.4.1, but we send message not in 3 frames, but in 3 chops of the same message frame.",
			[3]string{p1, p2, p3}, true),
		failFast("6.4.4", "Same as Case 6.4.2, but we send message not in 3 frames, but in 3 chops of the same message frame.",
			[3]string{whole[:12], whole[12:13], whole[13:]}, true),
	)

	// 6.5.* - 6.23.*: the UTF-8 decoder test sequences, each sent as one
	// unfragmented text message.
	for gi, g := range utf8TestSequences() {
		for j, seq := range g.seqs {
			seq := seq
			desc := "Send a text message with payload which is valid UTF-8 in one fragment."
			exp := "The message is echo'ed back to us."
			if !seq.valid {
				desc = "Send a text message with payload which is not valid UTF-8 in one fragment."
				exp = "The connection is failed immediately, since the payload is not valid UTF-8."
			}
			cs = append(cs, &Case{
				ID:     fmt.Sprintf("6.%d.%d", gi+5, j+1),
				Desc:   fmt.Sprintf("%s<br><br>Payload: 0x%x", desc, seq.payload),
				Expect: exp,
				Open: func(s *Session) {
					p := bs(seq.payload)
					if seq.valid {
						s.Expect(OK, Message(p, false))
						s.ExpectedClose = normalClose()
					} else {
						s.Expect(OK)
						s.ExpectedClose = failedBy(closeInvalidPayload)
					}
					s.SendMessage(p, false, 0)
					s.KillAfter(500 * time.Millisecond)
				},
			})
		}
	}
	return cs
}
