package conformance

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"crypto/sha1"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"
	"sync"
	"time"
)

// Verdict is one of the outcome strings of Autobahn's Case class.
type Verdict string

// The verdicts of autobahntestsuite/case/case.py.
const (
	OK             Verdict = "OK"
	NonStrict      Verdict = "NON-STRICT"
	Failed         Verdict = "FAILED"
	WrongCode      Verdict = "WRONG CODE"
	Unclean        Verdict = "UNCLEAN"
	FailedByClient Verdict = "FAILED BY CLIENT"
	Informational  Verdict = "INFORMATIONAL"
)

// Close status codes used by the cases.
const (
	closeNormal         = 1000
	closeProtocolError  = 1002
	closeInvalidPayload = 1007
)

// closeCodesAllowed are the codes in 1000-2999 a peer may send
// (autobahn WebSocketProtocol.CLOSE_STATUS_CODES_ALLOWED).
var closeCodesAllowed = map[int]bool{1000: true, 1001: true, 1002: true, 1003: true, 1007: true, 1008: true, 1009: true, 1010: true, 1011: true}

// Protocol options of the fuzzing client (autobahn client factory defaults:
// failByDrop, no echo of the peer's close code, 1 s closing handshake
// timeout, 1 s for the server to drop TCP after the closing handshake).
const (
	closeHandshakeTimeout       = time.Second
	serverConnectionDropTimeout = time.Second
	openHandshakeTimeout        = 5 * time.Second
	syncWriteDelay              = time.Millisecond
)

// Event is one entry of what a case observed: a message, a pong, or a
// timeout marker that a case records itself (6.4.x).
type Event struct {
	Kind   string // "message", "pong" or "timeout"
	Data   []byte
	Binary bool
}

// Message is the event of a received message.
func Message(p []byte, binary bool) Event { return Event{Kind: "message", Data: p, Binary: binary} }

// Pong is the event of a received pong.
func Pong(p []byte) Event { return Event{Kind: "pong", Data: p} }

// TimeoutMark is the ("timeout", tag) event of cases 6.4.x.
func TimeoutMark(tag string) Event { return Event{Kind: "timeout", Data: []byte(tag)} }

func (e Event) String() string { return e.Kind + "(" + describe(e.Data) + binSuffix(e) + ")" }

func binSuffix(e Event) string {
	if e.Kind == "message" {
		if e.Binary {
			return ", binary"
		}
		return ", text"
	}
	return ""
}

func describe(p []byte) string {
	const max = 24
	s := p
	more := ""
	if len(s) > max {
		s = s[:max]
		more = "..."
	}
	if validUTF8(s) && !bytes.ContainsAny(s, "\x00\r\n") {
		return fmt.Sprintf("%d bytes %q%s", len(p), s, more)
	}
	return fmt.Sprintf("%d bytes 0x%x%s", len(p), s, more)
}

func eventsString(ev []Event) string {
	if len(ev) == 0 {
		return "[]"
	}
	parts := make([]string, len(ev))
	for i, e := range ev {
		parts[i] = e.String()
	}
	return "[" + strings.Join(parts, ", ") + "]"
}

func eventsEqual(a, b []Event) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i].Kind != b[i].Kind || a[i].Binary != b[i].Binary || !bytes.Equal(a[i].Data, b[i].Data) {
			return false
		}
	}
	return true
}

// ExpectedClose is Autobahn's expectedClose: who must start the closing
// handshake, which close codes the server may send, and whether the TCP
// connection must end cleanly (closing handshake done, server drops TCP).
type ExpectedClose struct {
	ClosedByMe   bool
	Codes        []int
	RequireClean bool
}

type expectation struct {
	verdict Verdict
	events  []Event
}

// Case is one Autobahn test case.
type Case struct {
	ID     string
	Desc   string
	Expect string
	// Open is the case's onOpen: it sets expectations and hooks on the
	// session and sends the first frames.
	Open func(s *Session)
	// Limit is a safety net for the whole case (the case's own timers
	// normally end it much earlier). Zero means 30 s.
	Limit time.Duration
}

const (
	stateConnecting = iota
	stateOpen
	stateClosing
	stateClosed
)

// Frame describes one frame for Session.SendFrame, mirroring the arguments
// of autobahn's sendFrame().
type Frame struct {
	Op      int
	Payload []byte
	NotFin  bool // fin=False
	Rsv     int
	Repeat  bool // payload_len given: repeat Payload up to Len octets
	Len     int
	Chop    int  // chopsize: write the frame in TCP writes of this size
	Sync    bool // sync: write, then let the octets reach the wire
}

// Session is one run of one case: the fuzzing client's protocol state plus
// the case's state (received events, expectations, verdicts).
type Session struct {
	Case *Case

	conn   net.Conn
	loop   chan func()
	quit   chan struct{}
	w      *writer
	lost   bool
	timers []*later

	state                          int
	connectionWasOpen              bool
	closedByMe, failedByMe         bool
	droppedByMe, wasClean          bool
	wasNotCleanReason              string
	wasServerConnectionDropTimeout bool
	wasCloseHandshakeTimeout       bool
	localCloseCode                 int
	remoteCloseCode                int
	remoteCloseReason              []byte
	closeHSTimer                   *later
	dropTimer                      *later

	// receiving
	rbuf          []byte
	insideMessage bool
	msgOpcode     int
	msgData       []byte
	msgUTF8       utf8Validator

	// streaming send (beginMessage & co.)
	sendOpcode    int
	sendFirst     bool
	sendMask      [4]byte
	sendMaskPos   int
	sendFrameLeft int

	// AutoFragmentSize is autobahn's autoFragmentSize option (10.1.1).
	AutoFragmentSize int
	// TxFrameStats counts the frames sent, by opcode.
	TxFrameStats map[int]int

	// case state (autobahn Case)
	Received      []Event
	expected      []expectation
	ExpectedClose ExpectedClose
	Behavior      Verdict
	BehaviorClose Verdict
	Result        string
	ResultClose   string
	SuppressClose bool
	// OnMessage replaces the default (record the message, then
	// finishWhenDone) when set.
	OnMessage func(payload []byte, binary bool)
	// OnLost runs after the standard verdict computation (the case's
	// overridden onConnectionLost).
	OnLost func()

	started        time.Time
	duration       time.Duration
	wirelog        []string
	wirelogTail    []string
	wirelogOmitted int
}

// Expect sets the events that give verdict v (self.expected[v] = events).
func (s *Session) Expect(v Verdict, events ...Event) {
	for i := range s.expected {
		if s.expected[i].verdict == v {
			s.expected[i].events = events
			return
		}
	}
	if events == nil {
		events = []Event{}
	}
	s.expected = append(s.expected, expectation{v, events})
}

// Open reports whether the WebSocket is in state OPEN (state == STATE_OPEN).
func (s *Session) Open() bool { return s.state == stateOpen }

// Record appends an event to what the case received.
func (s *Session) Record(e Event) { s.Received = append(s.Received, e) }

func (s *Session) logf(format string, args ...any) {
	line := fmt.Sprintf("%7.3fs ", time.Since(s.started).Seconds()) + fmt.Sprintf(format, args...)
	if len(s.wirelog) < wirelogHead {
		s.wirelog = append(s.wirelog, line)
		return
	}
	// keep the first wirelogHead and the last wirelogTail lines
	s.wirelogOmitted++
	s.wirelogTail = append(s.wirelogTail, line)
	if len(s.wirelogTail) > wirelogTail {
		s.wirelogTail = s.wirelogTail[1:]
	}
}

const (
	wirelogHead = 30
	wirelogTail = 30
)

// Wirelog returns the wire log (shortened in the middle when long).
func (s *Session) Wirelog() []string {
	out := append([]string{}, s.wirelog...)
	if omitted := s.wirelogOmitted - len(s.wirelogTail); omitted > 0 {
		out = append(out, fmt.Sprintf("... %d lines omitted ...", omitted))
	}
	return append(out, s.wirelogTail...)
}

// ---- timers (reactor.callLater) ----

type later struct {
	t         *time.Timer
	cancelled bool
}

func (l *later) cancel() {
	if l != nil {
		l.cancelled = true
		l.t.Stop()
	}
}

func (s *Session) post(f func()) {
	select {
	case s.loop <- f:
	case <-s.quit:
	}
}

func (s *Session) callLater(d time.Duration, fn func()) *later {
	l := &later{}
	l.t = time.AfterFunc(d, func() {
		s.post(func() {
			if !l.cancelled {
				fn()
			}
		})
	})
	s.timers = append(s.timers, l)
	return l
}

// KillAfter fails the connection (drops TCP) after d unless it is closed.
func (s *Session) KillAfter(d time.Duration) {
	s.callLater(d, func() {
		if s.state != stateClosed {
			s.logf("KILL AFTER %v: failing connection", d)
			s.failConnection()
		}
	})
}

// CloseAfter starts the closing handshake (no code) after d unless closed.
func (s *Session) CloseAfter(d time.Duration) {
	s.callLater(d, func() {
		if s.state != stateClosed {
			s.logf("CLOSE AFTER %v", d)
			s.sendCloseFrame(-1, nil, false)
		}
	})
}

// ContinueLater runs fn after d unless the connection is closed.
func (s *Session) ContinueLater(d time.Duration, fn func()) {
	s.callLater(d, func() {
		if s.state != stateClosed {
			fn()
		}
	})
}

// ---- running a case ----

// Target is a parsed ws:// URL.
type Target struct {
	HostPort string
	Host     string
	Path     string
}

// ParseTarget parses a ws://HOST:PORT/PATH URL.
func ParseTarget(raw string) (Target, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return Target{}, err
	}
	if u.Scheme != "ws" {
		return Target{}, fmt.Errorf("conformance: only ws:// URLs are supported, got %q", raw)
	}
	hp := u.Host
	if u.Port() == "" {
		hp = net.JoinHostPort(u.Hostname(), "80")
	}
	p := u.RequestURI()
	if p == "" {
		p = "/"
	}
	return Target{HostPort: hp, Host: u.Host, Path: p}, nil
}

// Run executes case c against the target and returns its result.
func Run(t Target, c *Case) *Result {
	s := &Session{
		Case:            c,
		loop:            make(chan func(), 1024),
		quit:            make(chan struct{}),
		Behavior:        Failed,
		BehaviorClose:   Failed,
		Result:          "Actual events differ from any expected.",
		ResultClose:     "TCP connection was dropped without close handshake",
		localCloseCode:  -1,
		remoteCloseCode: -1,
		TxFrameStats:    map[int]int{},
	}
	s.started = time.Now()
	conn, err := net.DialTimeout("tcp", t.HostPort, openHandshakeTimeout)
	if err != nil {
		return s.handshakeFailure("connect: " + err.Error())
	}
	if tc, ok := conn.(*net.TCPConn); ok {
		_ = tc.SetNoDelay(true)
	}
	s.conn = conn
	rest, err := clientHandshake(conn, t)
	if err != nil {
		conn.Close()
		return s.handshakeFailure("opening handshake: " + err.Error())
	}
	s.state = stateOpen
	s.connectionWasOpen = true
	s.w = newWriter(conn)
	go s.w.run()
	go s.read()

	s.started = time.Now()
	c.Open(s) // onOpen
	if len(rest) > 0 {
		s.dataReceived(rest)
	}

	limit := c.Limit
	if limit == 0 {
		limit = 30 * time.Second
	}
	hard := time.NewTimer(limit)
	defer hard.Stop()
	var giveUp <-chan time.Time
	for !s.lost {
		select {
		case f := <-s.loop:
			f()
		case <-hard.C:
			s.logf("case safety limit %v reached: failing connection", limit)
			s.Result = "Case did not finish within its safety limit."
			s.failConnection()
			giveUp = time.After(5 * time.Second)
		case <-giveUp:
			s.connectionLost(errors.New("gave up waiting for the connection to end"))
		}
	}
	close(s.quit)
	for _, l := range s.timers {
		l.cancel()
	}
	s.w.close()
	conn.Close()
	return s.result()
}

func (s *Session) handshakeFailure(why string) *Result {
	s.Result = why
	s.ResultClose = "WebSocket connection was never open"
	s.logf("%s", why)
	return s.result()
}

func (s *Session) read() {
	buf := make([]byte, 256<<10)
	for {
		n, err := s.conn.Read(buf)
		if n > 0 {
			b := make([]byte, n)
			copy(b, buf[:n])
			s.post(func() { s.dataReceived(b) })
		}
		if err != nil {
			s.post(func() { s.connectionLost(err) })
			return
		}
	}
}

func (s *Session) connectionLost(err error) {
	if s.lost {
		return
	}
	s.lost = true
	s.duration = time.Since(s.started)
	s.dropTimer.cancel()
	s.state = stateClosed
	if s.droppedByMe {
		s.logf("TCP DROPPED BY ME")
	} else {
		s.logf("TCP DROPPED BY PEER (%v)", err)
	}
	if !s.wasClean && !s.droppedByMe && s.wasNotCleanReason == "" {
		s.wasNotCleanReason = "peer dropped the TCP connection without previous WebSocket closing handshake"
	}
	s.onConnectionLost()
}

// onConnectionLost is Case.onConnectionLost.
func (s *Session) onConnectionLost() {
	for _, e := range s.expected {
		if eventsEqual(s.Received, e.events) {
			s.Behavior = e.verdict
			s.Result = "Actual events match at least one expected."
			break
		}
	}
	ec := s.ExpectedClose
	switch {
	case ec.ClosedByMe != s.closedByMe:
		s.BehaviorClose = Failed
		s.ResultClose = "The connection was failed by the wrong endpoint"
	case ec.RequireClean && !s.wasClean:
		s.BehaviorClose = Unclean
		s.ResultClose = "The spec requires the connection to be failed cleanly here"
	case s.remoteCloseCode >= 0 && !containsInt(ec.Codes, s.remoteCloseCode):
		s.BehaviorClose = WrongCode
		s.ResultClose = fmt.Sprintf("The close code should have been %s or empty", joinInts(ec.Codes))
	case s.droppedByMe:
		s.BehaviorClose = FailedByClient
		s.ResultClose = "It is preferred that the server close the TCP connection"
	default:
		s.BehaviorClose = OK
		s.ResultClose = "Connection was properly closed"
	}
	if s.OnLost != nil {
		s.OnLost()
	}
}

// finishWhenDone is Case.finishWhenDone.
func (s *Session) finishWhenDone() {
	for _, e := range s.expected {
		if !eventsEqual(s.Received, e.events) {
			return
		}
	}
	if s.ExpectedClose.ClosedByMe && !s.SuppressClose {
		s.SendClose(s.ExpectedClose.Codes[0], nil)
	}
}

func containsInt(xs []int, x int) bool {
	for _, v := range xs {
		if v == x {
			return true
		}
	}
	return false
}

func joinInts(xs []int) string {
	p := make([]string, len(xs))
	for i, x := range xs {
		p[i] = fmt.Sprint(x)
	}
	return strings.Join(p, ",")
}

// ---- receiving (autobahn processDataHybi, client side) ----

func (s *Session) dataReceived(b []byte) {
	if s.state != stateOpen && s.state != stateClosing {
		return
	}
	s.rbuf = append(s.rbuf, b...)
	for s.state != stateClosed && s.processFrame() {
	}
}

// processFrame handles one complete frame from rbuf. It returns true when
// more buffered data should be processed.
func (s *Session) processFrame() bool {
	if len(s.rbuf) < 2 {
		return false
	}
	b0, b1 := s.rbuf[0], s.rbuf[1]
	fin := b0&0x80 != 0
	rsv := int(b0>>4) & 7
	op := int(b0 & 0x0f)
	masked := b1&0x80 != 0
	len1 := int(b1 & 0x7f)

	if rsv != 0 {
		return s.protocolViolation("RSV != 0 and no extension negotiated")
	}
	if masked {
		return s.protocolViolation("masked server-to-client frame")
	}
	if op > 7 {
		switch {
		case !fin:
			return s.protocolViolation("fragmented control frame")
		case len1 > 125:
			return s.protocolViolation("control frame with payload length > 125 octets")
		case op != 8 && op != 9 && op != 10:
			return s.protocolViolation(fmt.Sprintf("control frame using reserved opcode %d", op))
		case op == 8 && len1 == 1:
			return s.protocolViolation("received close control frame with payload len 1")
		}
	} else {
		switch {
		case op != 0 && op != 1 && op != 2:
			return s.protocolViolation(fmt.Sprintf("data frame using reserved opcode %d", op))
		case !s.insideMessage && op == 0:
			return s.protocolViolation("received continuation data frame outside fragmented message")
		case s.insideMessage && op != 0:
			return s.protocolViolation("received non-continuation data frame while inside fragmented message")
		}
	}
	hlen := 2
	switch len1 {
	case 126:
		hlen += 2
	case 127:
		hlen += 8
	}
	if len(s.rbuf) < hlen {
		return false
	}
	plen := uint64(len1)
	switch len1 {
	case 126:
		plen = uint64(binary.BigEndian.Uint16(s.rbuf[2:4]))
		if plen < 126 {
			return s.protocolViolation("invalid data frame length (not using minimal length encoding)")
		}
	case 127:
		plen = binary.BigEndian.Uint64(s.rbuf[2:10])
		if plen > 1<<63-1 {
			return s.protocolViolation("invalid data frame length (>2^63)")
		}
		if plen < 65536 {
			return s.protocolViolation("invalid data frame length (not using minimal length encoding)")
		}
	}
	if uint64(len(s.rbuf)-hlen) < plen {
		return false // need more data
	}
	end := hlen + int(plen)
	payload := s.rbuf[hlen:end:end]
	s.rbuf = s.rbuf[end:]
	if len(s.rbuf) == 0 {
		s.rbuf = nil
	}
	s.logf("RX FRAME op=%d fin=%v len=%d payload=%s", op, fin, plen, describe(payload))

	if op > 7 {
		p := append([]byte{}, payload...)
		switch op {
		case 8:
			code := -1
			var reason []byte
			if len(p) >= 2 {
				code = int(binary.BigEndian.Uint16(p[:2]))
				if len(p) > 2 {
					reason = p[2:]
				}
			}
			if s.onCloseFrame(code, reason) {
				return false
			}
		case 9:
			if s.state == stateOpen {
				s.SendFrame(Frame{Op: 10, Payload: p})
			}
		case 10:
			s.Record(Pong(p))
			s.finishWhenDone()
		}
		return len(s.rbuf) > 0
	}

	if !s.insideMessage {
		s.insideMessage = true
		s.msgOpcode = op
		s.msgData = make([]byte, 0, len(payload))
		s.msgUTF8.reset()
	}
	if s.msgOpcode == 1 && !s.msgUTF8.feed(payload) {
		return s.invalidPayload("encountered invalid UTF-8 while processing text message")
	}
	s.msgData = append(s.msgData, payload...)
	if fin {
		if s.msgOpcode == 1 && !s.msgUTF8.complete() {
			return s.invalidPayload("UTF-8 text message payload ended within Unicode code point")
		}
		s.insideMessage = false
		msg := s.msgData
		s.msgData = nil
		if !s.failedByMe {
			s.onMessage(msg, s.msgOpcode == 2)
		}
	}
	return len(s.rbuf) > 0
}

func (s *Session) onMessage(p []byte, binary bool) {
	if s.OnMessage != nil {
		s.OnMessage(p, binary)
		return
	}
	s.Record(Message(p, binary))
	s.finishWhenDone()
}

// onCloseFrame reports whether processing must stop.
func (s *Session) onCloseFrame(code int, reason []byte) bool {
	s.logf("RX CLOSE code=%s reason=%q", codeString(code), reason)
	s.remoteCloseCode = code
	s.remoteCloseReason = reason
	if code >= 0 && (code < 1000 || (code <= 2999 && !closeCodesAllowed[code]) || code >= 5000) {
		s.protocolViolation(fmt.Sprintf("invalid close code %d", code))
		return true
	}
	if reason != nil {
		var v utf8Validator
		if !v.feed(reason) {
			s.invalidPayload("invalid close reason (non-UTF-8 payload)")
			return true
		}
	}
	switch s.state {
	case stateClosing:
		// the server's reply to our close
		s.closeHSTimer.cancel()
		s.closeHSTimer = nil
		s.wasClean = true
		s.dropTimer = s.callLater(serverConnectionDropTimeout, s.onServerConnectionDropTimeout)
	case stateOpen:
		// the server starts the closing handshake: reply with 1000
		s.wasClean = true
		s.sendCloseFrame(closeNormal, nil, true)
	}
	return false
}

func (s *Session) onServerConnectionDropTimeout() {
	if s.state != stateClosed {
		s.wasClean = false
		s.wasNotCleanReason = "server did not drop TCP connection (in time)"
		s.wasServerConnectionDropTimeout = true
		s.dropConnection()
	}
}

func (s *Session) onCloseHandshakeTimeout() {
	if s.state != stateClosed {
		s.wasClean = false
		s.wasNotCleanReason = "peer did not respond (in time) in closing handshake"
		s.wasCloseHandshakeTimeout = true
		s.dropConnection()
	}
}

func (s *Session) dropConnection() {
	if s.state != stateClosed {
		s.droppedByMe = true
		s.state = stateClosed
		s.w.close()
		s.conn.Close()
	}
}

func (s *Session) failConnection() {
	if s.state != stateClosed {
		s.failedByMe = true
		s.wasClean = false
		s.wasNotCleanReason = "I failed the WebSocket connection by dropping the TCP connection"
		s.dropConnection()
	}
}

// protocolViolation fails the connection; it returns false (stop).
func (s *Session) protocolViolation(reason string) bool {
	s.logf("PROTOCOL VIOLATION by server: %s", reason)
	s.failConnection()
	return false
}

// invalidPayload fails the connection; it returns false (stop).
func (s *Session) invalidPayload(reason string) bool {
	s.logf("INVALID PAYLOAD from server: %s", reason)
	s.failConnection()
	return false
}

// ---- sending (own raw encoder) ----

func newMask() [4]byte {
	var m [4]byte
	if _, err := rand.Read(m[:]); err != nil {
		panic(err)
	}
	return m
}

func maskBytes(dst, src []byte, mask [4]byte, pos int) {
	for i := range src {
		dst[i] = src[i] ^ mask[(pos+i)&3]
	}
}

// encodeFrame builds a masked client frame. rsv and opcode are taken modulo
// their field sizes, so invalid values go on the wire as asked.
func encodeFrame(fin bool, rsv, op int, payload []byte) []byte {
	l := len(payload)
	hdr := make([]byte, 2, 14+l)
	if fin {
		hdr[0] = 0x80
	}
	hdr[0] |= byte(rsv%8)<<4 | byte(op%16)
	hdr[1] = 0x80
	switch {
	case l <= 125:
		hdr[1] |= byte(l)
	case l <= 0xFFFF:
		hdr[1] |= 126
		hdr = binary.BigEndian.AppendUint16(hdr, uint16(l))
	default:
		hdr[1] |= 127
		hdr = binary.BigEndian.AppendUint64(hdr, uint64(l))
	}
	mask := newMask()
	hdr = append(hdr, mask[:]...)
	n := len(hdr)
	out := hdr[:n+l]
	maskBytes(out[n:], payload, mask, 0)
	return out
}

func repeatTo(p []byte, n int) []byte {
	if n == 0 {
		return []byte{}
	}
	if len(p) == 0 {
		panic("conformance: cannot repeat an empty payload")
	}
	out := make([]byte, n)
	for i := 0; i < n; i += len(p) {
		copy(out[i:], p)
	}
	return out
}

// SendFrame is autobahn's sendFrame: it sends any frame, valid or not, in
// any state but CLOSED.
func (s *Session) SendFrame(f Frame) {
	pl := f.Payload
	if f.Repeat {
		pl = repeatTo(f.Payload, f.Len)
	}
	raw := encodeFrame(!f.NotFin, f.Rsv, f.Op, pl)
	s.TxFrameStats[f.Op]++
	s.logf("TX FRAME op=%d fin=%v rsv=%d len=%d chop=%d sync=%v payload=%s", f.Op, !f.NotFin, f.Rsv, len(pl), f.Chop, f.Sync, describe(pl))
	s.sendData(raw, f.Chop, f.Sync)
}

func (s *Session) sendData(b []byte, chop int, sync bool) {
	if s.state == stateClosed {
		return
	}
	s.w.push(wItem{data: b, chop: chop, sync: sync})
}

// SendMessage is autobahn's sendMessage (payload_frag_size / autoFragmentSize
// fragmentation). It sends nothing unless the connection is OPEN.
func (s *Session) SendMessage(p []byte, binary bool, fragSize int) {
	if s.state != stateOpen {
		return
	}
	op := 1
	if binary {
		op = 2
	}
	pfs := fragSize
	if pfs <= 0 && s.AutoFragmentSize > 0 {
		pfs = s.AutoFragmentSize
	}
	if pfs <= 0 || len(p) <= pfs {
		s.SendFrame(Frame{Op: op, Payload: p})
		return
	}
	first := true
	for i := 0; i < len(p); i += pfs {
		j := min(i+pfs, len(p))
		fop := 0
		if first {
			fop = op
			first = false
		}
		s.SendFrame(Frame{Op: fop, Payload: p[i:j], NotFin: j < len(p)})
	}
}

// BeginMessage starts a streamed message (autobahn beginMessage).
func (s *Session) BeginMessage(op int) {
	if s.state != stateOpen {
		return
	}
	s.sendOpcode = op
	s.sendFirst = true
}

// BeginMessageFrame starts a frame of the given length (FIN = false).
func (s *Session) BeginMessageFrame(length int) {
	if s.state != stateOpen {
		return
	}
	op := 0
	if s.sendFirst {
		op = s.sendOpcode
		s.sendFirst = false
	}
	hdr := []byte{byte(op), 0x80}
	switch {
	case length <= 125:
		hdr[1] |= byte(length)
	case length <= 0xFFFF:
		hdr[1] |= 126
		hdr = binary.BigEndian.AppendUint16(hdr, uint16(length))
	default:
		hdr[1] |= 127
		hdr = binary.BigEndian.AppendUint64(hdr, uint64(length))
	}
	s.sendMask = newMask()
	s.sendMaskPos = 0
	s.sendFrameLeft = length
	hdr = append(hdr, s.sendMask[:]...)
	s.TxFrameStats[op]++
	s.logf("TX FRAME HEADER op=%d fin=false len=%d (payload follows in chops)", op, length)
	s.sendData(hdr, 0, false)
}

// SendMessageFrameData sends (part of) the payload of the current frame.
func (s *Session) SendMessageFrameData(p []byte) {
	if s.state != stateOpen {
		return
	}
	if len(p) > s.sendFrameLeft {
		p = p[:s.sendFrameLeft]
	}
	out := make([]byte, len(p))
	maskBytes(out, p, s.sendMask, s.sendMaskPos)
	s.sendMaskPos += len(p)
	s.sendFrameLeft -= len(p)
	s.logf("TX FRAME DATA %s", describe(p))
	s.sendData(out, 0, false)
}

// EndMessage ends a streamed message with an empty FIN continuation frame.
func (s *Session) EndMessage() {
	if s.state != stateOpen {
		return
	}
	s.SendFrame(Frame{Op: 0})
}

// SendClose is autobahn's sendClose(code, reason): it starts the closing
// handshake. code < 0 means no code.
func (s *Session) SendClose(code int, reason []byte) {
	s.sendCloseFrame(code, reason, false)
}

// SendCloseFrame is autobahn's sendCloseFrame(code, reasonUtf8): like
// SendClose but without checking code and reason. code < 0 means no code.
func (s *Session) SendCloseFrame(code int, reason []byte) {
	s.sendCloseFrame(code, reason, false)
}

func (s *Session) sendCloseFrame(code int, reason []byte, isReply bool) {
	if s.state != stateOpen {
		return // CLOSING: ignored; CLOSED: ignored
	}
	var p []byte
	if code >= 0 {
		p = binary.BigEndian.AppendUint16(p, uint16(code))
	}
	if reason != nil {
		p = append(p, reason...)
	}
	s.SendFrame(Frame{Op: 8, Payload: p})
	s.state = stateClosing
	s.closedByMe = !isReply
	s.localCloseCode = code
	if s.closedByMe {
		s.closeHSTimer = s.callLater(closeHandshakeTimeout, s.onCloseHandshakeTimeout)
	}
}

// ---- opening handshake ----

const wsGUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

func clientHandshake(conn net.Conn, t Target) (rest []byte, err error) {
	var k [16]byte
	if _, err := rand.Read(k[:]); err != nil {
		return nil, err
	}
	key := base64.StdEncoding.EncodeToString(k[:])
	req := "GET " + t.Path + " HTTP/1.1\r\n" +
		"Host: " + t.Host + "\r\n" +
		"Upgrade: websocket\r\n" +
		"Connection: Upgrade\r\n" +
		"Pragma: no-cache\r\n" +
		"Cache-Control: no-cache\r\n" +
		"Sec-WebSocket-Key: " + key + "\r\n" +
		"Sec-WebSocket-Version: 13\r\n" +
		"User-Agent: chatd-conformance (Autobahn TestSuite port)\r\n\r\n"
	_ = conn.SetDeadline(time.Now().Add(openHandshakeTimeout))
	defer conn.SetDeadline(time.Time{})
	if _, err := conn.Write([]byte(req)); err != nil {
		return nil, err
	}
	var buf []byte
	tmp := make([]byte, 4096)
	for {
		if i := bytes.Index(buf, []byte("\r\n\r\n")); i >= 0 {
			head := string(buf[:i+2])
			rest = buf[i+4:]
			return rest, checkHandshakeResponse(head, key)
		}
		if len(buf) > 64<<10 {
			return nil, errors.New("response header too long")
		}
		n, err := conn.Read(tmp)
		buf = append(buf, tmp[:n]...)
		if err != nil {
			return nil, fmt.Errorf("reading response: %w (got %q)", err, buf)
		}
	}
}

func checkHandshakeResponse(head, key string) error {
	sc := bufio.NewScanner(strings.NewReader(head))
	if !sc.Scan() {
		return errors.New("empty response")
	}
	status := sc.Text()
	f := strings.Fields(status)
	if len(f) < 2 || !strings.HasPrefix(f[0], "HTTP/1.1") || f[1] != "101" {
		return fmt.Errorf("unexpected status line %q", status)
	}
	h := map[string]string{}
	for sc.Scan() {
		line := sc.Text()
		if line == "" {
			continue
		}
		name, val, ok := strings.Cut(line, ":")
		if !ok {
			return fmt.Errorf("malformed header line %q", line)
		}
		h[strings.ToLower(strings.TrimSpace(name))] = strings.TrimSpace(val)
	}
	if !strings.EqualFold(h["upgrade"], "websocket") {
		return fmt.Errorf("upgrade header is %q", h["upgrade"])
	}
	hasUpgrade := false
	for _, tok := range strings.Split(h["connection"], ",") {
		if strings.EqualFold(strings.TrimSpace(tok), "upgrade") {
			hasUpgrade = true
		}
	}
	if !hasUpgrade {
		return fmt.Errorf("connection header is %q", h["connection"])
	}
	sum := sha1.Sum([]byte(key + wsGUID))
	if want := base64.StdEncoding.EncodeToString(sum[:]); h["sec-websocket-accept"] != want {
		return fmt.Errorf("Sec-WebSocket-Accept is %q, want %q", h["sec-websocket-accept"], want)
	}
	if e := h["sec-websocket-extensions"]; e != "" {
		return fmt.Errorf("server accepted extensions %q that were not offered", e)
	}
	return nil
}

// ---- writer (Twisted transport + autobahn send queue) ----

type wItem struct {
	data []byte
	chop int
	sync bool
}

type writer struct {
	mu     sync.Mutex
	cond   *sync.Cond
	q      []wItem
	closed bool
	conn   net.Conn
}

func newWriter(c net.Conn) *writer {
	w := &writer{conn: c}
	w.cond = sync.NewCond(&w.mu)
	return w
}

func (w *writer) push(it wItem) {
	w.mu.Lock()
	if !w.closed {
		w.q = append(w.q, it)
		w.cond.Signal()
	}
	w.mu.Unlock()
}

func (w *writer) close() {
	w.mu.Lock()
	w.closed = true
	w.q = nil
	w.cond.Broadcast()
	w.mu.Unlock()
}

func (w *writer) next() (wItem, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for len(w.q) == 0 && !w.closed {
		w.cond.Wait()
	}
	if w.closed {
		return wItem{}, false
	}
	it := w.q[0]
	w.q[0] = wItem{}
	w.q = w.q[1:]
	return it, true
}

func (w *writer) run() {
	for {
		it, ok := w.next()
		if !ok {
			return
		}
		if it.chop > 0 {
			for i := 0; i < len(it.data); i += it.chop {
				j := min(i+it.chop, len(it.data))
				if _, err := w.conn.Write(it.data[i:j]); err != nil {
					w.close()
					return
				}
			}
			continue
		}
		if _, err := w.conn.Write(it.data); err != nil {
			w.close()
			return
		}
		if it.sync {
			time.Sleep(syncWriteDelay)
		}
	}
}
