package cluster

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// TestLoginRefused: a login answered with an error (chatd's "unavailable"
// when the room's log did not take the join) is refused, not stuck, and a
// refusal is counted and printed in the report.
func TestLoginRefused(t *testing.T) {
	// The fake server answers a login into room R with the frames of
	// replies[R], then holds the connection open.
	replies := map[string][]string{
		"ok":          {`{"type":"user_list","user_list":[{"uid":7,"name":"x"}]}`},
		"unavailable": {`{"type":"error","code":"unavailable","reason":"the chat is unavailable, try again"}`},
		"nocode":      {`{"type":"error"}`},
		"late error":  {`{"type":"user_list","user_list":[{"uid":8,"name":"x"}]}`, `{"type":"error","code":"unavailable"}`},
		"silent":      nil,
	}
	up := websocket.Upgrader{}
	srv := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, req *http.Request) {
		conn, err := up.Upgrade(rw, req, nil)
		if err != nil {
			return
		}
		defer conn.Close()
		var login struct {
			Room string `json:"room_id"`
		}
		if err := conn.ReadJSON(&login); err != nil {
			return
		}
		for _, f := range replies[login.Room] {
			if err := conn.WriteMessage(websocket.TextMessage, []byte(f)); err != nil {
				return
			}
		}
		for {
			if _, _, err := conn.ReadMessage(); err != nil {
				return
			}
		}
	}))
	defer srv.Close()
	addr := strings.TrimPrefix(srv.URL, "http://")
	w := &World{t: t, uids: make(map[int64]string)}
	defer w.closeClients()

	tests := []struct {
		room string
		want error // nil: logged in
		code string
	}{
		{"ok", nil, ""},
		{"unavailable", ErrRefused, "unavailable"},
		{"nocode", ErrRefused, "(no code)"},
		{"late error", nil, ""},
		{"silent", ErrStuck, ""},
	}
	for _, tt := range tests {
		t.Run(tt.room, func(t *testing.T) {
			_, err := w.Login(addr, 0, w.Name("c"), tt.room, 300*time.Millisecond)
			if !errors.Is(err, tt.want) || (tt.want == nil) != (err == nil) {
				t.Fatalf("Login into %q: %v; want %v", tt.room, err, tt.want)
			}
			if tt.code != "" && !strings.HasSuffix(err.Error(), ": "+tt.code) {
				t.Errorf("Login into %q: %v; want the code %q in it", tt.room, err, tt.code)
			}
		})
	}

	// A churner's refused login is counted apart from stuck ones, and
	// printed.
	l := &Load{w: w, churnRefused: []string{"c-2 on node 0, room unavailable: " + ErrRefused.Error() + ": unavailable"}}
	var r Report
	l.Analyze(&r, time.Now(), time.Now(), time.Second)
	if r.ChurnLogins != 1 || r.ChurnRefused != 1 || r.ChurnStuck != 0 {
		t.Errorf("churn logins %d, refused %d, stuck %d; want 1, 1, 0", r.ChurnLogins, r.ChurnRefused, r.ChurnStuck)
	}
	if s := r.String(); !strings.Contains(s, "stuck 0, refused 1") || !strings.Contains(s, ErrRefused.Error()+": unavailable") {
		t.Errorf("report does not show the refusal: %s", s)
	}
}
