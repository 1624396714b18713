package load

import "chatd/bench"

// Plan is what the coordinator tells a worker process when it starts it: the
// connections it owns and how they map onto rooms.
type Plan struct {
	Worker int `json:"worker"`
	// Addrs are the server processes (host:port, loopback only); room n is
	// on Addrs[n % len(Addrs)], or with Spread connection g is on
	// Addrs[g % len(Addrs)] (a cluster: every room spans the nodes).
	Addrs   []string `json:"addrs"`
	Spread  bool     `json:"spread"`
	Sources []string `json:"sources"` // client source addresses, bound before connect
	First   int      `json:"first"`   // global index of this worker's first connection
	Count   int      `json:"count"`   // connections owned by this worker
	Total   int      `json:"total"`   // connections of the whole run
	// RoomSize puts global connection g into room g/RoomSize ("<RoomPrefix><n>").
	RoomSize   int    `json:"room_size"`
	RoomPrefix string `json:"room_prefix"`
	// Pairs makes connection 2k and 2k+1 private-message partners.
	Pairs bool `json:"pairs"`
	// SenderEvery makes every connection whose position in its room is a
	// multiple of it a sender (0: none), in every room or, with
	// SenderRoomEvery, in rooms whose number is a multiple of that.
	SenderEvery     int `json:"sender_every"`
	SenderRoomEvery int `json:"sender_room_every"`
	// Rate is this worker's connect rate per second (0: all at once) and
	// Inflight its cap on handshakes in progress (0: none).
	Rate     float64 `json:"rate"`
	Inflight int     `json:"inflight"`
	// EscapeRoomID writes the '-' of room ids as \u002d: the same room id
	// in JSON, spelled so that a server whose decoder aliases unescaped
	// strings into its read buffer copies it (a workaround, off by default).
	EscapeRoomID bool `json:"escape_room_id"`
	// Mixed makes every odd-numbered connection speak workerman-chat's
	// current dialect (client_name, to_client_id) instead of the 2014 one.
	Mixed bool `json:"mixed"`
	// CheckMembers requires every client to learn of its whole room
	// (user_list entries plus later logins) before it counts as complete.
	CheckMembers bool `json:"check_members"`
}

// isSender tells whether global connection g sends in measurements.
func (p *Plan) isSender(g int) bool {
	size := max(p.RoomSize, 1)
	room := g / size
	if p.SenderEvery <= 0 || (g-room*size)%p.SenderEvery != 0 {
		return false
	}
	return p.SenderRoomEvery <= 0 || room%p.SenderRoomEvery == 0
}

// senders counts the senders among this plan's connections.
func (p *Plan) senders() int {
	n := 0
	for g := p.First; g < p.First+p.Count; g++ {
		if p.isSender(g) {
			n++
		}
	}
	return n
}

// Command is one instruction of the coordinator, one JSON line on stdin.
type Command struct {
	Cmd string `json:"cmd"` // connect, measure (reset and arm), go (start sending), stop, report, storm, exit
	// Measure: Open selects a fixed Rate (messages per second for this
	// worker's senders together); otherwise each sender keeps Window
	// messages in flight, sending the next when its own comes back.
	Open   bool    `json:"open,omitempty"`
	Rate   float64 `json:"rate,omitempty"`
	Window int     `json:"window,omitempty"`
}

// Counters are a worker's running totals, reported with every progress line.
type Counters struct {
	Dialing   int   `json:"dialing"`    // connect or handshake in progress
	Open      int   `json:"open"`       // handshake done
	LoggedIn  int   `json:"logged_in"`  // saw its own login notice
	Complete  int   `json:"complete"`   // logged in and (if checked) knows its whole room
	Failed    int   `json:"failed"`     // never got to complete
	Dropped   int   `json:"dropped"`    // closed by the server or lost after completing
	Sent      int64 `json:"sent"`       // say messages sent since measure
	Received  int64 `json:"received"`   // say messages received since measure
	Logins    int64 `json:"logins"`     // login notices received
	Logouts   int64 `json:"logouts"`    // logout notices received
	Pings     int64 `json:"pings"`      // server pings answered
	Errors    int64 `json:"errors"`     // error messages received
	Foreign   int64 `json:"foreign"`    // say without "<seq> <nanos>" content
	BadRoster int   `json:"bad_roster"` // clients that learned of more members than their room has
	Phase     int   `json:"phase"`      // measure, stop and storm commands taken so far
}

// Event is one JSON line a worker writes on stdout.
type Event struct {
	Ev     string   `json:"ev"` // progress, report, fatal
	Worker int      `json:"worker"`
	C      Counters `json:"c"`
	// Report only.
	Login     *bench.Hist `json:"login,omitempty"`   // handshake + login latency, ns
	Latency   *bench.Hist `json:"latency,omitempty"` // say delivery latency, ns
	CPU       float64     `json:"cpu,omitempty"`     // worker CPU seconds since measure (or start)
	LastLogin int64       `json:"last_login,omitempty"`
	LastRecv  int64       `json:"last_recv,omitempty"` // unix nanos of the last say received
	FirstErr  string      `json:"first_err,omitempty"`
	Msg       string      `json:"msg,omitempty"`
}
