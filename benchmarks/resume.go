package benchmarks

import (
	"fmt"

	"github.com/ptbench/ptbench/core/storage"
)

// Resume: which runs of a results folder are finished, which are retried, and which row of
// a run counts. The grid holds the folder's lock (storage.OpenResults) for its whole duration,
// so two grids on one folder never run the same run key twice or lose a row.

// FinishedKeys returns the run keys a grid skips. A key is finished when it has an "ok" or
// "diverged" row (a diverged run is a result: retrying it with the same seed diverges
// again). With retryFailed, a key whose rows are all "failed" is not finished, so the next
// invocation runs it again; its failed rows stay in the file as history. Without it, any
// row finishes its key (the behaviour before retries).
func FinishedKeys(rows []storage.ResultRow, retryFailed bool) map[string]bool {
	done := map[string]bool{}
	for _, r := range rows {
		if !retryFailed || r.Status == "ok" || r.Status == "diverged" {
			done[r.RunKey] = true
		}
	}
	return done
}

// LatestPerKey keeps the last row of every run key (the latest attempt: a retried failure's
// success, or one copy of a run recorded twice), in the order of those last rows. Rows
// without a run key are kept as they are.
func LatestPerKey(rows []storage.ResultRow) []storage.ResultRow {
	last := map[string]int{}
	for i, r := range rows {
		if r.RunKey != "" {
			last[r.RunKey] = i
		}
	}
	out := make([]storage.ResultRow, 0, len(last))
	for i, r := range rows {
		if r.RunKey == "" || last[r.RunKey] == i {
			out = append(out, r)
		}
	}
	return out
}

// openStore takes the results folder's lock for the grid (waiting unless NoWait) and opens
// its results file, repairing what a killed run left (see storage.OpenResults).
func (g *Grid) openStore() (*storage.ResultStore, error) {
	return storage.OpenResults(g.OutDir, storage.ResultsOptions{Wait: !g.NoWait, Log: g.Log})
}

// finishedKeys is FinishedKeys for this grid (failed runs retried unless KeepFailed), and
// says how many failed runs it will retry.
func (g *Grid) finishedKeys(rows []storage.ResultRow) map[string]bool {
	done := FinishedKeys(rows, !g.KeepFailed)
	retry := map[string]bool{}
	for _, r := range rows {
		if !done[r.RunKey] {
			retry[r.RunKey] = true
		}
	}
	if len(retry) > 0 {
		fmt.Fprintf(g.Log, "%d failed runs in results.jsonl are not done: this grid retries those it includes (their failed rows stay as history; --retry-failed=false skips them)\n", len(retry))
	}
	return done
}
