package benchmarks

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strings"

	"github.com/ptbench/ptbench/core/storage"
)

// MergeConflict is one run key that two folders finished with different outcomes (status or
// scores). The row with the latest finished_at is kept.
type MergeConflict struct {
	RunKey string         `json:"run_key"`
	Kept   MergeOutcome   `json:"kept"`
	Others []MergeOutcome `json:"others"`
}

// MergeOutcome is where a conflicting row came from and what it says.
type MergeOutcome struct {
	Dir        string  `json:"dir"`
	Status     string  `json:"status"`
	DevScore   float64 `json:"dev_score"`
	TestScore  float64 `json:"test_score"`
	FinishedAt string  `json:"finished_at"`
}

// MergeReport says what MergeResults did.
type MergeReport struct {
	Out         string          `json:"out"`
	Dirs        []string        `json:"dirs"`
	RowsRead    int             `json:"rows_read"`
	Appended    int             `json:"rows_appended"`
	Duplicates  int             `json:"duplicates"`          // rows identical in outcome to a kept one
	Superseded  int             `json:"superseded_failures"` // failed rows of a key another row finished
	Conflicts   []MergeConflict `json:"conflicts"`
	Checkpoints int             `json:"checkpoints_copied"`
	Artefacts   int             `json:"artefacts_copied"`
	Torn        []string        `json:"torn,omitempty"` // folders whose last line was cut short (skipped)
}

// MergeResults appends to out's results.jsonl the rows of every dir's results.jsonl (the
// shards of a `--shard i/n` grid, or any results folders), one row per run key:
//   - rows of one key with the same outcome (status, scores) are one run recorded twice: the
//     first is kept;
//   - a finished row (ok, diverged) wins over failed ones (a retried failure);
//   - two finished rows with different outcomes are a conflict: the one with the latest
//     finished_at is kept and the conflict is reported;
//   - a key out already holds with the same outcome is not appended again, so merging twice
//     (or a shard folder merged into its parent) adds nothing.
//
// It copies (hard-links where it can) each kept row's checkpoint and every dir's artefacts
// beside out's results, never replacing what out already has. It holds out's lock (waiting
// for another writer when wait) while it writes.
func MergeResults(out string, dirs []string, wait bool, log io.Writer) (MergeReport, error) {
	rep := MergeReport{Out: out, Dirs: dirs, Conflicts: []MergeConflict{}}
	if log == nil {
		log = io.Discard
	}
	for _, d := range dirs {
		st, err := os.Stat(d)
		if err != nil {
			return rep, err
		}
		if !st.IsDir() {
			return rep, fmt.Errorf("%s: not a results folder", d)
		}
	}
	store, err := storage.OpenResults(out, storage.ResultsOptions{Wait: wait, Log: log})
	if err != nil {
		return rep, err
	}
	defer store.Close()
	existing, err := store.Read()
	if err != nil {
		return rep, err
	}
	type cand struct {
		row storage.ResultRow
		dir string
	}
	var order []string // run keys in order of first appearance
	best := map[string]cand{}
	others := map[string][]cand{} // finished rows that lost to best (conflicts)
	for _, d := range dirs {
		rows, torn, err := storage.ReadResultsLenient(filepath.Join(d, storage.ResultsFile))
		if err != nil {
			return rep, err
		}
		if torn != nil {
			rep.Torn = append(rep.Torn, d)
			fmt.Fprintf(log, "warning: %s: skipped a last line cut short (%d bytes)\n", filepath.Join(d, storage.ResultsFile), len(torn))
		}
		rep.RowsRead += len(rows)
		for _, r := range rows {
			c := cand{r, d} // every row has a run key: ReadResultsLenient refuses one without (file:line)
			b, seen := best[r.RunKey]
			switch {
			case !seen:
				order = append(order, r.RunKey)
				best[r.RunKey] = c
			case sameOutcome(b.row, r):
				rep.Duplicates++
			case !finished(r):
				rep.Superseded++ // a failure of a key already finished, or an older failure
				if !finished(b.row) && later(r, b.row) {
					best[r.RunKey] = c
				}
			case !finished(b.row):
				rep.Superseded++
				best[r.RunKey] = c
			default: // two finished rows that disagree
				if later(r, b.row) {
					others[r.RunKey] = append(others[r.RunKey], b)
					best[r.RunKey] = c
				} else {
					others[r.RunKey] = append(others[r.RunKey], c)
				}
			}
		}
	}
	have := map[string]storage.ResultRow{} // out's latest row per key
	for _, r := range LatestPerKey(existing) {
		if r.RunKey != "" {
			have[r.RunKey] = r
		}
	}
	copied := map[string]string{} // source path → the relative path it was copied to
	var appended []storage.ResultRow
	for _, k := range order {
		c := best[k]
		if old, ok := have[k]; ok {
			switch {
			case sameOutcome(old, c.row):
				rep.Duplicates++
				continue
			case finished(old) && !finished(c.row):
				rep.Superseded++
				continue
			case finished(old) && finished(c.row) && !later(c.row, old):
				others[k] = append(others[k], c)
				c = cand{old, out}
				best[k] = c
				continue
			case finished(old) && finished(c.row):
				others[k] = append(others[k], cand{old, out})
			}
		}
		// The kept row keeps its own files: where out already holds a different file under
		// the same name (the losing row's checkpoint of the same key), the kept one is copied
		// beside it under a new name and the row points there.
		row := c.row
		rel, err := copyCheckpoint(c.dir, out, row.Checkpoint, copied, &rep, log)
		if err != nil {
			return rep, err
		}
		row.Checkpoint = rel
		if len(row.Predictions) > 0 {
			preds := make(map[string]string, len(row.Predictions))
			for split, p := range row.Predictions { // predictions files travel with their row
				var ignored MergeReport
				if preds[split], err = copyCheckpoint(c.dir, out, p, copied, &ignored, log); err != nil {
					return rep, err
				}
			}
			row.Predictions = preds
		}
		appended = append(appended, row)
	}
	// One atomic write for every row (a row at a time rewrote the file and synced twice per row).
	if err := store.AppendAll(appended); err != nil {
		return rep, err
	}
	rep.Appended = len(appended)
	for _, k := range order {
		if len(others[k]) == 0 {
			continue
		}
		mc := MergeConflict{RunKey: k, Kept: outcome(best[k].row, best[k].dir)}
		for _, o := range others[k] {
			mc.Others = append(mc.Others, outcome(o.row, o.dir))
		}
		rep.Conflicts = append(rep.Conflicts, mc)
		fmt.Fprintf(log, "conflict: %s: kept %s (%s, dev %.2f, test %.2f, finished %s); also in %s\n", k,
			mc.Kept.Dir, mc.Kept.Status, mc.Kept.DevScore, mc.Kept.TestScore, mc.Kept.FinishedAt, describe(mc.Others))
	}
	for _, d := range dirs {
		n, err := copyArtefacts(filepath.Join(d, artefactDir), filepath.Join(out, artefactDir))
		if err != nil {
			return rep, err
		}
		rep.Artefacts += n
	}
	return rep, nil
}

func finished(r storage.ResultRow) bool { return r.Status == "ok" || r.Status == "diverged" }

// sameOutcome: the same status and scores (finished_at, timing and paths may differ).
func sameOutcome(a, b storage.ResultRow) bool {
	if a.Status != b.Status || a.DevScore != b.DevScore || a.TestScore != b.TestScore {
		return false
	}
	return jsonEqual(a.Dev, b.Dev) && jsonEqual(a.Test, b.Test)
}

func jsonEqual(a, b any) bool {
	ja, _ := json.Marshal(a)
	jb, _ := json.Marshal(b)
	return reflect.DeepEqual(ja, jb)
}

func outcome(r storage.ResultRow, dir string) MergeOutcome {
	return MergeOutcome{Dir: dir, Status: r.Status, DevScore: r.DevScore, TestScore: r.TestScore, FinishedAt: r.FinishedAt}
}

func describe(os []MergeOutcome) string {
	var parts []string
	for _, o := range os {
		parts = append(parts, fmt.Sprintf("%s (%s, dev %.2f, test %.2f, finished %s)", o.Dir, o.Status, o.DevScore, o.TestScore, o.FinishedAt))
	}
	return strings.Join(parts, ", ")
}

// copyCheckpoint copies a kept row's checkpoint (a path relative to its folder: a file, or
// FT's directory) into out at the same relative path and returns the path the row should
// name. Where out already holds that path with other content (the checkpoint of a row this
// one wins a conflict against), the file goes beside it as <name>.merged-N<ext> and that
// path is returned, so the kept row never points at the loser's weights.
func copyCheckpoint(dir, out, rel string, copied map[string]string, rep *MergeReport, log io.Writer) (string, error) {
	if rel == "" || dir == out {
		return rel, nil
	}
	if filepath.IsAbs(rel) || !filepath.IsLocal(rel) {
		fmt.Fprintf(log, "warning: %s: checkpoint %s is outside the folder; the row keeps the path as it is\n", dir, rel)
		return rel, nil
	}
	src := filepath.Join(dir, rel)
	if to, ok := copied[src]; ok {
		return to, nil
	}
	if _, err := os.Stat(src); err != nil {
		return rel, nil // never written (a failed save): the row keeps its path as data
	}
	to := rel
	for n := 2; ; n++ {
		dst := filepath.Join(out, to)
		if _, err := os.Lstat(dst); err != nil {
			break
		}
		same, err := sameContent(src, dst)
		if err != nil {
			return rel, err
		}
		if same {
			copied[src] = to
			return to, nil
		}
		ext := filepath.Ext(rel)
		to = fmt.Sprintf("%s.merged-%d%s", strings.TrimSuffix(rel, ext), n, ext)
	}
	if err := copyTree(src, filepath.Join(out, to)); err != nil {
		return rel, fmt.Errorf("checkpoint %s: %w", src, err)
	}
	copied[src] = to
	rep.Checkpoints++
	return to, nil
}

// sameContent reports whether two paths hold the same bytes (files), or for directories the
// same entries with the same content.
func sameContent(a, b string) (bool, error) {
	sa, err := os.Stat(a)
	if err != nil {
		return false, err
	}
	sb, err := os.Stat(b)
	if err != nil {
		return false, err
	}
	if os.SameFile(sa, sb) {
		return true, nil // a hard link made by an earlier merge
	}
	if sa.IsDir() != sb.IsDir() {
		return false, nil
	}
	if sa.IsDir() {
		ea, err := os.ReadDir(a)
		if err != nil {
			return false, err
		}
		eb, err := os.ReadDir(b)
		if err != nil || len(ea) != len(eb) {
			return false, err
		}
		for i := range ea {
			if ea[i].Name() != eb[i].Name() {
				return false, nil
			}
			if same, err := sameContent(filepath.Join(a, ea[i].Name()), filepath.Join(b, eb[i].Name())); err != nil || !same {
				return false, err
			}
		}
		return true, nil
	}
	if sa.Size() != sb.Size() {
		return false, nil
	}
	ba, err := os.ReadFile(a)
	if err != nil {
		return false, err
	}
	bb, err := os.ReadFile(b)
	if err != nil {
		return false, err
	}
	return bytes.Equal(ba, bb), nil
}

// later reports whether a finished after b (finished_at as times; a row without one is oldest).
func later(a, b storage.ResultRow) bool {
	ta, _ := storage.ParseFinishedAt(a.FinishedAt)
	tb, _ := storage.ParseFinishedAt(b.FinishedAt)
	return ta.After(tb)
}

// copyArtefacts copies the entries of one artefacts folder into another, skipping the names
// the destination has (an artefact's name is its identity, so the same name is the same one).
func copyArtefacts(src, dst string) (int, error) {
	ents, err := os.ReadDir(src)
	if os.IsNotExist(err) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	n := 0
	for _, e := range ents {
		if strings.HasPrefix(e.Name(), ".") {
			continue // temp files of a write in progress
		}
		to := filepath.Join(dst, e.Name())
		if _, err := os.Lstat(to); err == nil {
			continue
		}
		if err := copyTree(filepath.Join(src, e.Name()), to); err != nil {
			return n, fmt.Errorf("artefact %s: %w", e.Name(), err)
		}
		n++
	}
	return n, nil
}

// copyTree copies a file or a directory: files are hard-linked where the file system allows
// (checkpoints are written once, never modified in place), else copied through a temp name
// and renamed, so a merge cut short leaves no half file under the final name.
func copyTree(src, dst string) error {
	st, err := os.Stat(src)
	if err != nil {
		return err
	}
	if st.IsDir() {
		ents, err := os.ReadDir(src)
		if err != nil {
			return err
		}
		if err := os.MkdirAll(dst, 0o755); err != nil {
			return err
		}
		for _, e := range ents {
			if err := copyTree(filepath.Join(src, e.Name()), filepath.Join(dst, e.Name())); err != nil {
				return err
			}
		}
		return nil
	}
	if !st.Mode().IsRegular() {
		return nil
	}
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return err
	}
	if os.Link(src, dst) == nil {
		return nil
	}
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	// Named as core/atomicfile names its temps (".NAME.tmp-…"), so that the next run or merge
	// on out (storage.OpenResults) removes one a killed merge left.
	tmp := filepath.Join(filepath.Dir(dst), "."+filepath.Base(dst)+".tmp-merge")
	f, err := os.Create(tmp)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, in); err != nil {
		f.Close()
		os.Remove(tmp)
		return err
	}
	if err := f.Close(); err != nil {
		os.Remove(tmp)
		return err
	}
	return os.Rename(tmp, dst)
}
