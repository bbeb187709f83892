package journal_test

import (
	"testing"
	"time"

	"github.com/kekbit-go/kekbit/domain"
	"github.com/kekbit-go/kekbit/journal"
	"github.com/kekbit-go/kekbit/ports"
)

// TestRetentionBytesAndAge: MaxBytes keeps the newest segments that fit;
// MaxAge drops segments closed longer ago than it (by the clock the
// writer stamps segments with).
func TestRetentionBytesAndAge(t *testing.T) {
	forBackends(t, func(t *testing.T, name string, vol ports.Volume) {
		now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
		clock := func() time.Time { return now }
		w := openWriter(t, vol, journal.WithClock(clock))
		next := 0
		for w.Segment() < 9 { // segments 0..9: 0 and 1 made at minute 0, then one a minute
			seg := w.Segment()
			write(t, w, next, next+1)
			next++
			if w.Segment() != seg {
				now = now.Add(time.Minute)
			}
		}
		w.Flush()
		size := domain.FileSize(16384)
		removed, err := journal.Prune(vol, nil, journal.Retention{MaxBytes: 4*size + size/2})
		if err != nil {
			t.Fatal(err)
		}
		if ids, _ := vol.List(); len(ids) != 4 || ids[0] != 6 || len(removed) != 6 {
			t.Fatalf("MaxBytes of 4.5 segments left %v, removed %v", ids, removed)
		}
		// A segment closed when its successor was made; Prune judges
		// ages by time.Now, so judge them by the writer's clock
		// through a writer that applies the policy at open.
		w.Close()
		now = now.Add(time.Hour)
		w2 := openWriter(t, vol, journal.WithClock(clock), journal.WithRetention(journal.Retention{MaxAge: time.Hour + 90*time.Second}))
		defer w2.Close()
		ids, _ := vol.List()
		// Segment k+1 (k >= 1) was made at minute k-1; the new segment
		// 10 at 1h9m: so 9 closed just now, 8 at 8m (1h1m ago, kept),
		// 7 at 7m (1h2m ago, over the limit).
		if len(ids) != 3 || ids[0] != 8 {
			t.Fatalf("MaxAge left %v", ids)
		}
	})
}
