package load

import "testing"

// TestRosterCounting feeds one client the frames chatd sends it while a
// mixed room of 4 fills (docs/protocol.md, two dialects; PROTOCOL.md,
// History: every room event, a newcomer's own login included, ends with
// "id"), and checks that the client is complete exactly at its last
// member, never past the room's size. The last case is broadcast-1000-mixed's
// failure: a current-dialect client that joins last ("b499 learned of 1001
// members; its room has 1000").
func TestRosterCounting(t *testing.T) {
	const (
		userList = `{"type":"user_list","user_list":[{"uid":1,"name":"b0"}]}`
		login0   = `{"type":"login","uid":1,"name":"b0","time":"x","id":"e-1"}`
		notice1  = `{"type":"login","uid":2,"name":"b1","time":"x","id":"e-2"}`
		notice2  = `{"type":"login","uid":3,"name":"b2","time":"x","id":"e-3"}`
		notice3  = `{"type":"login","uid":4,"name":"b3","time":"x","id":"e-4"}`
		// The same notices in the current dialect.
		cnotice2 = `{"type":"login","client_id":"3","client_name":"b2","time":"x","id":"e-3"}`
		cnotice3 = `{"type":"login","client_id":"4","client_name":"b3","time":"x","id":"e-4"}`
		// Newcomers' own logins in the current dialect.
		own1 = `{"type":"login","client_id":"2","client_name":"b1","time":"x","client_list":{"1":"b0","2":"b1"},"id":"e-2"}`
		own3 = `{"type":"login","client_id":"4","client_name":"b3","time":"x","client_list":{"1":"b0","2":"b1","3":"b2","4":"b3"},"id":"e-4"}`
	)
	tests := []struct {
		name   string
		g      int32
		frames []string
	}{
		{"2014 dialect, first", 0, []string{userList, login0, notice1, notice2, notice3}},
		{"current dialect, second", 1, []string{own1, notice2, notice3}},
		{"current dialect, last", 3, []string{own3}},
		{"current dialect, notices in its own dialect", 1, []string{own1, cnotice2, cnotice3}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := &worker{plan: Plan{Mixed: true, CheckMembers: true, RoomSize: 4, Total: 4}}
			c := &conn{g: tt.g, roomSize: 4}
			for i, f := range tt.frames {
				w.message(c, []byte(f), 1)
				if last := i == len(tt.frames)-1; c.complete != last {
					t.Fatalf("after frame %d of %d (%s): complete %v, members %d", i+1, len(tt.frames), f, c.complete, c.members)
				}
			}
			if !c.loggedIn || c.members != 4 || w.c.BadRoster != 0 || w.errMsg != "" {
				t.Errorf("logged in %v, members %d of 4, bad roster %d, error %q", c.loggedIn, c.members, w.c.BadRoster, w.errMsg)
			}
		})
	}
}
