package conformance

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Result is the outcome of one case, with the fields of Autobahn's case
// report that matter for judging it.
type Result struct {
	ID            string        `json:"id"`
	Description   string        `json:"description"`
	Expectation   string        `json:"expectation"`
	Verdict       Verdict       `json:"verdict"`
	Behavior      Verdict       `json:"behavior"`
	BehaviorClose Verdict       `json:"behaviorClose"`
	Result        string        `json:"result"`
	ResultClose   string        `json:"resultClose"`
	Expected      string        `json:"expected"`
	ExpectedClose string        `json:"expectedClose"`
	Received      string        `json:"received"`
	Duration      time.Duration `json:"duration_ns"`

	ClosedByMe                     bool   `json:"closedByMe"`
	FailedByMe                     bool   `json:"failedByMe"`
	DroppedByMe                    bool   `json:"droppedByMe"`
	WasClean                       bool   `json:"wasClean"`
	WasNotCleanReason              string `json:"wasNotCleanReason,omitempty"`
	WasServerConnectionDropTimeout bool   `json:"wasServerConnectionDropTimeout"`
	WasCloseHandshakeTimeout       bool   `json:"wasCloseHandshakeTimeout"`
	LocalCloseCode                 int    `json:"localCloseCode"`
	RemoteCloseCode                int    `json:"remoteCloseCode"`
	RemoteCloseReason              string `json:"remoteCloseReason,omitempty"`

	Wirelog []string `json:"wirelog"`
}

// Overall combines the two Autobahn verdicts into one, the way the
// Autobahn report colours them:
//   - FAILED: behavior is not OK / NON-STRICT / INFORMATIONAL (report
//     "Fail"), or behaviorClose is FAILED or UNCLEAN (report "Fail" /
//     "Unclean", red).
//   - INFORMATIONAL: informational cases (7.1.6, 7.13.*).
//   - NON-STRICT: behavior NON-STRICT, or behaviorClose WRONG CODE (yellow)
//     or FAILED BY CLIENT (the report's "almost": the server did not drop
//     TCP itself).
//   - OK otherwise.
func Overall(behavior, behaviorClose Verdict) Verdict {
	switch {
	case behavior != OK && behavior != NonStrict && behavior != Informational:
		return Failed
	case behaviorClose == Failed || behaviorClose == Unclean:
		return Failed
	case behavior == Informational:
		return Informational
	case behavior == NonStrict || behaviorClose == WrongCode || behaviorClose == FailedByClient:
		return NonStrict
	}
	return OK
}

func (s *Session) result() *Result {
	c := s.Case
	var exp []string
	for _, e := range s.expected {
		exp = append(exp, string(e.verdict)+": "+eventsString(e.events))
	}
	ec := s.ExpectedClose
	r := &Result{
		ID:            c.ID,
		Description:   c.Desc,
		Expectation:   c.Expect,
		Behavior:      s.Behavior,
		BehaviorClose: s.BehaviorClose,
		Result:        s.Result,
		ResultClose:   s.ResultClose,
		Expected:      strings.Join(exp, "; "),
		ExpectedClose: fmt.Sprintf("closedByMe=%v closeCode=[%s] requireClean=%v", ec.ClosedByMe, joinInts(ec.Codes), ec.RequireClean),
		Received:      eventsString(s.Received),
		Duration:      s.duration,

		ClosedByMe:                     s.closedByMe,
		FailedByMe:                     s.failedByMe,
		DroppedByMe:                    s.droppedByMe,
		WasClean:                       s.wasClean,
		WasNotCleanReason:              s.wasNotCleanReason,
		WasServerConnectionDropTimeout: s.wasServerConnectionDropTimeout,
		WasCloseHandshakeTimeout:       s.wasCloseHandshakeTimeout,
		LocalCloseCode:                 s.localCloseCode,
		RemoteCloseCode:                s.remoteCloseCode,
		RemoteCloseReason:              string(s.remoteCloseReason),
		Wirelog:                        s.Wirelog(),
	}
	if r.Expected == "" {
		r.Expected = "(decided by the case itself)"
	}
	r.Verdict = Overall(r.Behavior, r.BehaviorClose)
	return r
}

// Detail is a multi-line description of a result, for failing cases.
func (r *Result) Detail() string {
	var b strings.Builder
	fmt.Fprintf(&b, "case %s: %s\n", r.ID, stripTags(r.Description))
	fmt.Fprintf(&b, "  expectation:   %s\n", stripTags(r.Expectation))
	fmt.Fprintf(&b, "  verdict:       %s (behavior %s, behaviorClose %s)\n", r.Verdict, r.Behavior, r.BehaviorClose)
	fmt.Fprintf(&b, "  result:        %s\n", r.Result)
	fmt.Fprintf(&b, "  resultClose:   %s\n", r.ResultClose)
	fmt.Fprintf(&b, "  expected:      %s\n", r.Expected)
	fmt.Fprintf(&b, "  received:      %s\n", r.Received)
	fmt.Fprintf(&b, "  expectedClose: %s\n", r.ExpectedClose)
	fmt.Fprintf(&b, "  close:         closedByMe=%v failedByMe=%v droppedByMe=%v wasClean=%v remoteCloseCode=%s notClean=%q\n",
		r.ClosedByMe, r.FailedByMe, r.DroppedByMe, r.WasClean, codeString(r.RemoteCloseCode), r.WasNotCleanReason)
	b.WriteString("  wire log:\n")
	for _, l := range r.Wirelog {
		b.WriteString("    " + l + "\n")
	}
	return b.String()
}

func codeString(c int) string {
	if c < 0 {
		return "none"
	}
	return strconv.Itoa(c)
}

func stripTags(s string) string {
	s = strings.ReplaceAll(s, "<br>", " ")
	for _, t := range []string{"<b>", "</b>"} {
		s = strings.ReplaceAll(s, t, "")
	}
	return s
}

// CompareIDs orders case ids numerically ("6.10.1" after "6.9.4").
func CompareIDs(a, b string) int {
	pa, pb := strings.Split(a, "."), strings.Split(b, ".")
	for i := 0; i < len(pa) && i < len(pb); i++ {
		x, _ := strconv.Atoi(pa[i])
		y, _ := strconv.Atoi(pb[i])
		if x != y {
			return x - y
		}
	}
	return len(pa) - len(pb)
}

// Summary writes the case/verdict table and the counts.
func Summary(w io.Writer, results []*Result, skipped []string) {
	sort.Slice(results, func(i, j int) bool { return CompareIDs(results[i].ID, results[j].ID) < 0 })
	counts := map[Verdict]int{}
	fmt.Fprintf(w, "%-10s %-14s %-11s %-17s %9s  %s\n", "case", "verdict", "behavior", "behaviorClose", "ms", "close code")
	for _, r := range results {
		counts[r.Verdict]++
		fmt.Fprintf(w, "%-10s %-14s %-11s %-17s %9d  %s\n", r.ID, r.Verdict, r.Behavior, r.BehaviorClose, r.Duration.Milliseconds(), codeString(r.RemoteCloseCode))
	}
	fmt.Fprintf(w, "\n%d cases: OK %d, NON-STRICT %d, INFORMATIONAL %d, FAILED %d",
		len(results), counts[OK], counts[NonStrict], counts[Informational], counts[Failed])
	switch {
	case len(skipped) > 10:
		fmt.Fprintf(w, ", skipped %d (%s ... %s)", len(skipped), skipped[0], skipped[len(skipped)-1])
	case len(skipped) > 0:
		fmt.Fprintf(w, ", skipped %d (%s)", len(skipped), strings.Join(skipped, " "))
	}
	fmt.Fprintln(w)
	var bad, ns []string
	for _, r := range results {
		switch r.Verdict {
		case Failed:
			bad = append(bad, r.ID)
		case NonStrict:
			ns = append(ns, r.ID)
		}
	}
	if len(ns) > 0 {
		fmt.Fprintf(w, "NON-STRICT cases: %s\n", strings.Join(ns, " "))
	}
	if len(bad) > 0 {
		fmt.Fprintf(w, "FAILED cases: %s\n", strings.Join(bad, " "))
	}
}

// WriteReport writes summary.txt (table, counts and the details of every
// case that is not OK) and index.json (all results) into dir.
func WriteReport(dir string, results []*Result, skipped []string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	f, err := os.Create(filepath.Join(dir, "summary.txt"))
	if err != nil {
		return err
	}
	Summary(f, results, skipped)
	for _, r := range results {
		if r.Verdict != OK {
			fmt.Fprintln(f)
			fmt.Fprint(f, r.Detail())
		}
	}
	if err := f.Close(); err != nil {
		return err
	}
	j, err := json.MarshalIndent(results, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, "index.json"), j, 0o644)
}
