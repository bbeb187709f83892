//go:build !linux

package bench

import (
	"context"
	"io"
)

// The library-free baseline maps its file with Linux's calls (mmap,
// fallocate, madvise); elsewhere --baseline is refused by Options.check
// and these are never run.

const baselineRuns = false

func (j job) baseWriter(io.Reader, io.Writer) (report, error) { return report{}, errNoBaseline }

func (j job) baseReader(context.Context, io.Writer) (report, error) { return report{}, errNoBaseline }
