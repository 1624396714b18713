package load

import (
	"fmt"
	"io"
	"time"

	"golang.org/x/sys/unix"
)

// progress shows what the workers are doing: one rewritten line on a
// terminal, a plain line every few seconds otherwise (CI logs, make output
// piped to a file).
type progress struct {
	w       io.Writer
	tty     bool
	prefix  string
	last    time.Time
	lastRx  int64
	lastAt  time.Time
	pending bool
}

func newProgress(w io.Writer, fd int) *progress {
	_, err := unix.IoctlGetTermios(fd, unix.TCGETS)
	return &progress{w: w, tty: err == nil}
}

func (p *progress) show(label string, s Counters) {
	now := time.Now()
	every := 3 * time.Second
	if p.tty {
		every = 250 * time.Millisecond
	}
	if now.Sub(p.last) < every {
		return
	}
	rate := 0.0
	if !p.lastAt.IsZero() && s.Received >= p.lastRx {
		rate = float64(s.Received-p.lastRx) / now.Sub(p.lastAt).Seconds()
	}
	p.last, p.lastAt, p.lastRx = now, now, s.Received
	line := fmt.Sprintf("%s %-10s dialing %6d  open %6d  logged-in %6d  complete %6d  failed %d  dropped %d  sent %d  rx %d (%.0f/s)",
		p.prefix, label, s.Dialing, s.Open, s.LoggedIn, s.Complete, s.Failed, s.Dropped, s.Sent, s.Received, rate)
	if p.tty {
		fmt.Fprintf(p.w, "\r\033[K%s", line)
		p.pending = true
		return
	}
	fmt.Fprintln(p.w, line)
}

// done ends a rewritten terminal line before other output.
func (p *progress) done() {
	if p.pending {
		fmt.Fprintln(p.w)
		p.pending = false
	}
	p.last = time.Time{}
}
