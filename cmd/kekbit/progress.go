package main

import (
	"fmt"
	"io"
	"os"
	"time"
)

// progress reports a long operation on stderr, but only when stderr is a
// terminal: how many items are done of how many there are.
type progress struct {
	w     io.Writer
	what  string
	n     uint64 // items done
	total uint64 // items in all
	last  time.Time
	shown bool
}

// newProgress returns the progress of an operation on total() items of
// what, shown on w if it is a terminal (total is called only then), or a
// progress that shows nothing. A nil *progress shows nothing too.
func newProgress(w io.Writer, what string, total func() uint64) *progress {
	if f, ok := w.(*os.File); !ok || !isTerminal(f) {
		return nil
	}
	return &progress{w: w, what: what, total: total(), last: time.Now()}
}

func isTerminal(f *os.File) bool {
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

// update counts one more item done and shows the count at most 5 times a
// second.
func (p *progress) update() {
	if p == nil {
		return
	}
	p.n++
	if now := time.Now(); now.Sub(p.last) > 200*time.Millisecond {
		p.last, p.shown = now, true
		fmt.Fprintf(p.w, "\r%d of %d %s, %.0f%% ", p.n, p.total, p.what, 100*float64(p.n)/float64(max(p.total, p.n, 1)))
	}
}

// done clears the line, if anything was shown.
func (p *progress) done() {
	if p != nil && p.shown {
		fmt.Fprint(p.w, "\r\033[K")
	}
}
