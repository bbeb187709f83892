// Package testio holds what tests of this module need to watch the output
// of the programs they start.
package testio

import (
	"bytes"
	"sync"
)

// Buffer is a bytes.Buffer that a program started by os/exec writes (its
// copying goroutine) while the test reads it. The zero value is empty and
// ready.
type Buffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

// Write appends p.
func (b *Buffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// String returns what was written so far.
func (b *Buffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
