package benchmarks

import (
	"bytes"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/ptbench/ptbench/core"
	"github.com/ptbench/ptbench/core/coretest"
	"github.com/ptbench/ptbench/core/storage"
	_ "github.com/ptbench/ptbench/methods/attempt"
	_ "github.com/ptbench/ptbench/methods/mpt"
	_ "github.com/ptbench/ptbench/methods/spot"
)

func sourceGrid(out string, seeds []int64) *Grid {
	g := smallGrid(out, []string{"spot", "attempt", "mpt"}, seeds)
	sources := []any{"syn-keyword", "syn-parity"}
	g.Tasks = []string{"syn-copy"}
	g.MethodConfigs = map[string]map[string]any{
		"spot":    {"source": "syn-keyword", "length": 3, "source_steps": 3},
		"attempt": {"sources": sources, "length": 3, "source_steps": 3, "bottleneck": 4},
		"mpt":     {"sources": sources, "length": 3, "source_steps": 3, "distill_steps": 3},
	}
	return g
}

func countSources(rows []storage.ResultRow) (sources, targets int) {
	for _, r := range rows {
		if isSource(r) {
			sources++
		} else {
			targets++
		}
	}
	return
}

// SPoT, ATTEMPT and MPT train their sources once — shared where the same prompt is needed —
// and a second invocation trains none again; the leaderboard shows them apart.
func TestSourcesTrainedOnceAndReported(t *testing.T) {
	coretest.LockThread(t)
	out := t.TempDir()
	sum, err := sourceGrid(out, []int64{1}).Run()
	rows, _ := storage.ReadResults(filepath.Join(out, "results.jsonl"))
	if err != nil || sum.Ran != 3 {
		t.Fatalf("grid %+v, %v: %+v", sum, err, rows)
	}
	for _, r := range rows {
		if r.Status != "ok" {
			t.Fatalf("row %s: %s %s", r.RunKey, r.Status, r.Error)
		}
	}
	// PT on syn-keyword (SPoT's source, ATTEMPT's and MPT's teacher), PT on syn-parity, MPT's stage 1.
	if s, tg := countSources(rows); s != 3 || tg != 3 {
		t.Fatalf("%d source rows and %d target rows, want 3 and 3", s, tg)
	}
	if sum, err := sourceGrid(out, []int64{1, 2}).Run(); err != nil || sum.Ran != 3 || sum.Skipped != 3 {
		t.Fatalf("second invocation %+v, %v", sum, err)
	}
	rows, _ = storage.ReadResults(filepath.Join(out, "results.jsonl"))
	if s, tg := countSources(rows); s != 3 || tg != 6 {
		t.Fatalf("after a second invocation: %d source rows, %d target rows; want 3 and 6", s, tg)
	}
	b := BuildBoard(rows)
	if len(b.Sources) != 3 || len(b.Rows) != 3 {
		t.Fatalf("board: %d sources, %d method rows", len(b.Sources), len(b.Rows))
	}
	for _, r := range b.Rows {
		if r.SourceTrainSec <= 0 {
			t.Errorf("%s: source cost %v, want the time of its source runs", r.Label, r.SourceTrainSec)
		}
	}
	var md bytes.Buffer
	if err := RenderMarkdown(&md, b); err != nil || !strings.Contains(md.String(), "### Source artefacts") || !strings.Contains(md.String(), "MPT (source stage)") {
		t.Fatalf("leaderboard (%v):\n%s", err, md.String())
	}
}

// `ptbench sources train` finds what a run trained and trains only what is missing.
func TestTrainSourcesAheadOfTime(t *testing.T) {
	coretest.LockThread(t)
	out := t.TempDir()
	g := smallGrid(out, nil, []int64{1})
	spec := MethodSpec{Name: "attempt", Config: map[string]any{"sources": []any{"syn-keyword", "syn-parity"}, "length": 3, "source_steps": 3}}
	first, err := g.TrainSources([]MethodSpec{spec})
	if err != nil || len(first) != 2 {
		t.Fatalf("trained %v, %v", first, err)
	}
	again, err := g.TrainSources([]MethodSpec{spec, {Name: "spot", Config: map[string]any{"source": "syn-parity", "length": 3, "source_steps": 3}}})
	if err != nil || !slices.Equal(again[:2], first) || again[2] != first[1] {
		t.Fatalf("second call %v (first %v), %v", again, first, err)
	}
	rows, _ := storage.ReadResults(filepath.Join(out, "results.jsonl"))
	if s, _ := countSources(rows); s != 2 {
		t.Fatalf("%d source rows, want 2", s)
	}
	// A method without sources is refused; a missing source task says what is missing.
	if _, err := g.TrainSources([]MethodSpec{{Name: "pt"}}); err == nil {
		t.Error("TrainSources accepted pt")
	}
	_, err = g.TrainSources([]MethodSpec{{Name: "spot", Config: map[string]any{"source": "no-such-task", "length": 3}}})
	if err == nil || !strings.Contains(err.Error(), "no-such-task") {
		t.Errorf("missing source: %v", err)
	}
}

// `ptbench bench` times SPoT, ATTEMPT and MPT on untrained source artefacts (no training of
// sources; the step costs the same).
func TestBenchMethodsWithSources(t *testing.T) {
	coretest.LockThread(t)
	bb, err := core.OpenBackbone("t5-tiny", core.BackboneOptions{Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer bb.Close()
	res, err := Bench(bb, BenchOptions{Methods: []string{"spot", "attempt", "mpt"}, Seq: 8, Batch: 2, Steps: 2, Warmup: 1, TargetLen: 2, Seed: 1,
		MethodConfigs: map[string]map[string]any{"spot": {"length": 3}, "attempt": {"length": 3}, "mpt": {"length": 3}}})
	if err != nil || len(res) != 3 {
		t.Fatalf("bench: %v, %+v", err, res)
	}
	for _, r := range res {
		if r.MeanStepSec <= 0 || r.TrainableParams == 0 {
			t.Errorf("%s: %+v", r.Method, r)
		}
	}
}
