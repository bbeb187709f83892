package jetstream

import (
	"fmt"
	"strings"

	"github.com/nats-io/nats.go/jetstream"
)

// droppingLimits lists, in the stream's own words, what in cfg makes the
// stream drop messages by itself: a retention other than limits, a
// max_age, and max_msgs, max_bytes or max_msgs_per_subject with the
// discard policy that drops old messages to make room. Nothing if none.
func droppingLimits(cfg jetstream.StreamConfig) []string {
	var out []string
	if cfg.Retention != jetstream.LimitsPolicy {
		out = append(out, "retention "+strings.ToLower(cfg.Retention.String()))
	}
	if cfg.MaxAge > 0 {
		out = append(out, "max_age "+cfg.MaxAge.String())
	}
	if cfg.Discard == jetstream.DiscardOld {
		if cfg.MaxMsgs > 0 {
			out = append(out, fmt.Sprintf("max_msgs %d with discard old", cfg.MaxMsgs))
		}
		if cfg.MaxBytes > 0 {
			out = append(out, fmt.Sprintf("max_bytes %d with discard old", cfg.MaxBytes))
		}
	}
	if cfg.MaxMsgsPerSubject > 0 && !(cfg.Discard == jetstream.DiscardNew && cfg.DiscardNewPerSubject) {
		out = append(out, fmt.Sprintf("max_msgs_per_subject %d", cfg.MaxMsgsPerSubject))
	}
	return out
}

// checkLimits refuses, with ErrStreamLimits naming them, a stream whose
// limits drop messages, unless accept.
func checkLimits(cfg jetstream.StreamConfig, accept bool) error {
	if accept {
		return nil
	}
	if l := droppingLimits(cfg); len(l) > 0 {
		return fmt.Errorf("%w: stream %s has %s: a mirror needs every message of the replication, from the header marker on (remove the limits, or accept them: AcceptLimits, --accept-limits)",
			ErrStreamLimits, cfg.Name, strings.Join(l, ", "))
	}
	return nil
}

// firstSeq is the sequence the stream's first message gets (its
// configured first sequence, 1 by default).
func firstSeq(cfg jetstream.StreamConfig) uint64 { return max(cfg.FirstSeq, 1) }

// lostError says that the stream lost the messages before seq (its first
// on the subject, or the next it would store): they expired, were
// deleted or purged.
func lostError(cfg jetstream.StreamConfig, subject string, seq uint64, what string) error {
	why := "deleted or purged"
	if l := droppingLimits(cfg); len(l) > 0 {
		why = "dropped by its limits (" + strings.Join(l, ", ") + "), deleted or purged"
	}
	return fmt.Errorf("%w: stream %s %s: its messages on %s before sequence %d were %s", ErrStreamLost, cfg.Name, what, subject, seq, why)
}
