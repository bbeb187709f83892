package main

import (
	"fmt"
	"io"
	"os"
	"time"
)

// progress reports a long operation on stderr, but only when stderr is a
// terminal.
type progress struct {
	w     io.Writer
	what  string
	total uint64
	last  time.Time
	shown bool
}

func newProgress(w io.Writer, what string, total uint64) *progress {
	if f, ok := w.(*os.File); !ok || !isTerminal(f) {
		return &progress{}
	}
	return &progress{w: w, what: what, total: total, last: time.Now()}
}

func isTerminal(f *os.File) bool {
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

// update shows n items done, at position pos of total, at most 5 times a
// second.
func (p *progress) update(n int, pos uint64) {
	if p.w == nil {
		return
	}
	if now := time.Now(); now.Sub(p.last) > 200*time.Millisecond {
		p.last, p.shown = now, true
		fmt.Fprintf(p.w, "\r%d %s, %.0f%% ", n, p.what, 100*float64(pos)/float64(max(p.total, 1)))
	}
}

func (p *progress) done() {
	if p.shown {
		fmt.Fprint(p.w, "\r\033[K")
	}
}
