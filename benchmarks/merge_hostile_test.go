package benchmarks

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ptbench/ptbench/core/storage"
)

// writeLines writes a results folder whose results.jsonl is exactly lines.
func writeLines(t *testing.T, dir string, lines ...string) string {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, storage.ResultsFile), []byte(strings.Join(lines, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

// Rows that cannot be a run's record are errors naming file:line, in merge as in every
// reader: before, a keyless row was appended again on every merge (three merges, three
// copies) and a finished_at that is not a time won every conflict by sorting last.
func TestMergeRefusesRowsThatAreNotRecords(t *testing.T) {
	good := `{"run_key":"pt.rte.s1.a","method":"pt","task":"rte","status":"ok","dev_score":60,"test_score":50,"finished_at":"2026-01-01T00:00:00Z"}`
	cases := []struct {
		name, line, want string
	}{
		{"empty object", `{}`, "no run_key"},
		{"hand-written row without a key", `{"method":"pt","task":"rte","status":"ok","test_score":99}`, "no run_key"},
		{"unknown status", `{"run_key":"k","status":"great"}`, "status"},
		{"finished_at not a time", `{"run_key":"k","status":"ok","finished_at":"zzz"}`, "finished_at"},
		{"dev score out of range", `{"run_key":"k","status":"ok","dev_score":1e9}`, "dev_score"},
		{"test score out of range", `{"run_key":"k","status":"ok","test_score":-101}`, "test_score"},
		{"a metric out of range", `{"run_key":"k","status":"ok","test":{"accuracy":250}}`, "test accuracy"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			root := t.TempDir()
			src := writeLines(t, filepath.Join(root, "shard"), good, c.line)
			out := filepath.Join(root, "out")
			for i := 0; i < 3; i++ {
				_, err := MergeResults(out, []string{src}, false, nil)
				if err == nil || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), storage.ResultsFile+":2") {
					t.Fatalf("merge %d: %v, want an error naming %s:2 and %q", i+1, err, storage.ResultsFile, c.want)
				}
			}
			rows, err := storage.ReadResults(filepath.Join(out, storage.ResultsFile))
			if err != nil || len(rows) != 0 {
				t.Fatalf("out holds %d rows (%v) after refused merges, want none", len(rows), err)
			}
			// run's reader (and the leaderboard's) refuses the file the same way.
			if _, err := storage.ReadResults(filepath.Join(src, storage.ResultsFile)); err == nil || !strings.Contains(err.Error(), ":2:") {
				t.Fatalf("ReadResults: %v", err)
			}
		})
	}
}

// Of two finished rows of one key the later finished_at wins as a time, and the kept row keeps
// its own checkpoint even where out already holds the loser's under the same name; merging
// again adds nothing.
func TestMergeConflictKeepsTheWinnersCheckpoint(t *testing.T) {
	root := t.TempDir()
	rel := filepath.Join("checkpoints", "pt.rte.s1.a.safetensors")
	row := func(dev float64, at string) string {
		return fmt.Sprintf(`{"run_key":"pt.rte.s1.a","method":"pt","task":"rte","status":"ok","dev_score":%v,"test_score":%v,"checkpoint":%q,"finished_at":%q}`, dev, dev, rel, at)
	}
	out := writeLines(t, filepath.Join(root, "out"), row(60, "2026-01-01T00:00:00Z"))
	newer := writeLines(t, filepath.Join(root, "newer"), row(70, "2026-01-01T00:00:00.5+00:00")) // later by half a second, in another zone spelling
	for dir, content := range map[string]string{out: "loser weights", newer: "winner weights"} {
		os.MkdirAll(filepath.Join(dir, "checkpoints"), 0o755)
		if err := os.WriteFile(filepath.Join(dir, rel), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	var log bytes.Buffer
	rep, err := MergeResults(out, []string{newer}, false, &log)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Appended != 1 || len(rep.Conflicts) != 1 {
		t.Fatalf("report %+v", rep)
	}
	latest := LatestPerKey(mustRead(t, out))
	if len(latest) != 1 || latest[0].DevScore != 70 {
		t.Fatalf("kept %+v, want the newer row (dev 70)", latest)
	}
	got, err := os.ReadFile(filepath.Join(out, latest[0].Checkpoint))
	if err != nil || string(got) != "winner weights" {
		t.Fatalf("the kept row's checkpoint %s holds %q (%v), want the winner's weights", latest[0].Checkpoint, got, err)
	}
	if old, _ := os.ReadFile(filepath.Join(out, rel)); string(old) != "loser weights" {
		t.Fatalf("the loser's file was replaced: %q", old)
	}
	before := len(mustRead(t, out))
	for i := 0; i < 2; i++ {
		if _, err := MergeResults(out, []string{newer}, false, nil); err != nil {
			t.Fatal(err)
		}
	}
	if after := len(mustRead(t, out)); after != before {
		t.Fatalf("merging again grew the file from %d to %d rows", before, after)
	}
}

// AppendAll writes many rows in one rewrite; merge uses it for all its rows.
func TestAppendAllWritesEveryRowOnce(t *testing.T) {
	dir := t.TempDir()
	var lines []string
	for i := 0; i < 1000; i++ {
		lines = append(lines, fmt.Sprintf(`{"run_key":"k%d","status":"ok","finished_at":"2026-01-01T00:00:00Z"}`, i))
	}
	src := writeLines(t, filepath.Join(dir, "src"), lines...)
	out := filepath.Join(dir, "out")
	rep, err := MergeResults(out, []string{src}, false, nil)
	if err != nil {
		t.Fatal(err)
	}
	if rows := mustRead(t, out); rep.Appended != 1000 || len(rows) != 1000 || rows[999].RunKey != "k999" {
		t.Fatalf("appended %d, read %d rows", rep.Appended, len(rows))
	}
}

func mustRead(t *testing.T, dir string) []storage.ResultRow {
	t.Helper()
	rows, err := storage.ReadResults(filepath.Join(dir, storage.ResultsFile))
	if err != nil {
		t.Fatal(err)
	}
	return rows
}
