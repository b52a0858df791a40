package storage

import (
	"fmt"
	"math"
	"time"
)

// Checks of a result row as read from a results file. results.jsonl is data a person can
// edit, copy between machines and merge; a row that cannot be a run's record (no run key, an
// unknown status, a finished_at that is not a time, a score outside what a metric can give)
// is an error naming file:line when the file is read, not a blank leaderboard line, a row
// merged again on every merge, or a conflict won by a string that sorts last.

// ScoreBound is the largest magnitude a score can have: metrics are stored ×100, and the
// correlations (Matthews, Pearson, Spearman) go down to −100.
const ScoreBound = 100

// CheckRow reports what makes r impossible as a run's record, or nil.
func CheckRow(r ResultRow) error {
	if r.RunKey == "" {
		return fmt.Errorf("row has no run_key (every row is one run's record, found by its key)")
	}
	switch r.Status {
	case "ok", "diverged", "failed":
	default:
		return fmt.Errorf("run %s: status %q (want ok, diverged or failed)", r.RunKey, r.Status)
	}
	if r.FinishedAt != "" {
		if _, err := ParseFinishedAt(r.FinishedAt); err != nil {
			return fmt.Errorf("run %s: finished_at %q is not an RFC 3339 time", r.RunKey, r.FinishedAt)
		}
	}
	check := func(what string, v float64) error {
		if math.IsNaN(v) || math.Abs(v) > ScoreBound {
			return fmt.Errorf("run %s: %s %v is outside [-%d, %d] (scores are stored ×100)", r.RunKey, what, v, ScoreBound, ScoreBound)
		}
		return nil
	}
	if err := check("dev_score", r.DevScore); err != nil {
		return err
	}
	if err := check("test_score", r.TestScore); err != nil {
		return err
	}
	for split, scores := range map[string]map[string]float64{"dev": r.Dev, "test": r.Test} {
		for name, v := range scores {
			if err := check(split+" "+name, v); err != nil {
				return err
			}
		}
	}
	return nil
}

// ParseFinishedAt reads a row's finished_at (RFC 3339, as runs write it).
func ParseFinishedAt(s string) (time.Time, error) { return time.Parse(time.RFC3339Nano, s) }
