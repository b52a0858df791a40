package benchmarks

import (
	"bytes"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sugarme/gotch"
	"github.com/sugarme/gotch/ts"

	_ "github.com/ptbench/ptbench/backbones/t5"
	"github.com/ptbench/ptbench/core"
	"github.com/ptbench/ptbench/core/coretest"
	"github.com/ptbench/ptbench/core/storage"
	_ "github.com/ptbench/ptbench/methods/dept"
	_ "github.com/ptbench/ptbench/methods/pt"
	_ "github.com/ptbench/ptbench/tasks"
)

func smallGrid(out string, methods []string, seeds []int64) *Grid {
	return &Grid{
		Methods: methods, Tasks: []string{"syn-keyword"}, Seeds: seeds, Backbone: "t5-tiny",
		MethodConfigs: map[string]map[string]any{
			"pt":   {"length": 4},
			"dept": {"prompt_length": 4, "rank": 2, "max_len": 8}, // sources are longer than 8: every run fails
		},
		Data:   core.DataOptions{Offline: true, Seed: 1},
		Train:  core.TrainOptions{Steps: 4, BatchSize: 4, EvalLimit: 8, TestLimit: 8, MaxNewTokens: 3},
		OutDir: out,
	}
}

func TestGridResumesAfterInterruption(t *testing.T) {
	coretest.LockThread(t)
	out := t.TempDir()
	g := smallGrid(out, []string{"pt"}, []int64{1})
	sum, err := g.Run()
	if err != nil {
		t.Fatal(err)
	}
	if sum.Ran != 1 {
		t.Fatalf("first grid ran %d", sum.Ran)
	}
	// An interrupted run leaves at most a temp file beside results.jsonl (atomic rename).
	if err := os.WriteFile(filepath.Join(out, ".results.jsonl.tmp123"), []byte(`{"run_key": "torn`), 0o644); err != nil {
		t.Fatal(err)
	}
	g = smallGrid(out, []string{"pt"}, []int64{1, 2})
	sum, err = g.Run()
	if err != nil {
		t.Fatal(err)
	}
	if sum.Ran != 1 || sum.Skipped != 1 {
		t.Fatalf("resumed grid: %+v, want 1 ran and 1 skipped", sum)
	}
	rows, err := storage.ReadResults(filepath.Join(out, "results.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 2 || rows[0].Seed != 1 || rows[1].Seed != 2 {
		t.Fatalf("rows %+v", rows)
	}
	for _, r := range rows {
		if r.Status != "ok" || r.TrainableParams != 4*64 || r.Checkpoint == "" {
			t.Errorf("row %+v", r)
		}
		if _, err := os.Stat(filepath.Join(out, r.Checkpoint)); err != nil {
			t.Errorf("checkpoint: %v", err)
		}
	}
}

func TestFailedRunIsRecordedAndGridGoesOn(t *testing.T) {
	coretest.LockThread(t)
	out := t.TempDir()
	g := smallGrid(out, []string{"dept", "pt"}, []int64{1})
	sum, err := g.Run()
	if err != nil {
		t.Fatal(err)
	}
	if sum.Failed != 1 || sum.Ran != 1 {
		t.Fatalf("summary %+v, want 1 failed and 1 ran", sum)
	}
	rows, _ := storage.ReadResults(filepath.Join(out, "results.jsonl"))
	if rows[0].Status != "failed" || !strings.Contains(rows[0].Error, "exceeds max_len s = 8") {
		t.Fatalf("failed row: %+v", rows[0])
	}
	var buf bytes.Buffer
	if err := RenderMarkdown(&buf, BuildBoard(rows)); err != nil {
		t.Fatal(err)
	}
	md := buf.String()
	if !strings.Contains(md, "| PT ") || !strings.Contains(md, "syn-keyword") {
		t.Fatalf("leaderboard:\n%s", md)
	}
}

func TestBoardAggregatesSeedsAndBenchmarks(t *testing.T) {
	rows := []storage.ResultRow{
		{Method: "pt", Label: "pt", Task: "rte", Benchmark: "GLUE", Status: "ok", TestScore: 60, TrainableParams: 10},
		{Method: "pt", Label: "pt", Task: "rte", Benchmark: "GLUE", Status: "ok", TestScore: 70, TrainableParams: 10},
		{Method: "pt", Label: "pt", Task: "cb", Benchmark: "SuperGLUE", Status: "ok", TestScore: 80},
		{Method: "pt", Label: "pt", Task: "cb", Benchmark: "SuperGLUE", Status: "diverged"},
	}
	b := BuildBoard(rows)
	if len(b.Rows) != 1 || strings.Join(b.Tasks, ",") != "rte,cb" {
		t.Fatalf("board %+v", b)
	}
	r := b.Rows[0]
	rte := r.Tasks["rte"]
	if rte.Mean != 65 || rte.Seeds != 2 || rte.Std < 7.07 || rte.Std > 7.08 {
		t.Errorf("rte cell %+v, want 65 ± 7.07 over 2", rte)
	}
	// One task of each benchmark: no average column (its task column says it), and no GLUE
	// or SuperGLUE average, which would need the full task sets.
	if r.GLUEAvg != nil || r.SuperGLUEAvg != nil || len(b.Averages) != 0 || r.Diverged != 1 {
		t.Errorf("averages %v %v %+v diverged %d, want none and 1 diverged", r.GLUEAvg, r.SuperGLUEAvg, b.Averages, r.Diverged)
	}
}

// nanMethod poisons the input so the first loss is NaN: the run must be recorded as
// diverged and the grid must go on.
type nanMethod struct{ p *ts.Tensor }

func (m *nanMethod) Setup(env core.SetupEnv) error {
	m.p = ts.MustZeros([]int64{1}, gotch.Float, gotch.CPU)
	m.p.MustRequiresGrad_(true)
	return nil
}
func (m *nanMethod) ParamGroups() []core.ParamGroup {
	return []core.ParamGroup{{Name: "p", LR: 1, Params: []core.NamedTensor{{Name: "p", Tensor: m.p}}}}
}
func (m *nanMethod) Config() any { return map[string]any{} }
func (m *nanMethod) Close()      { m.p.MustDrop() }
func (m *nanMethod) Transform(in core.Input, train bool) (core.Input, error) {
	poisoned := in.Embeds.MustMulScalar(ts.FloatScalar(math.NaN()), false).MustAdd(m.p, true)
	return core.Input{Embeds: poisoned, Mask: in.Mask.MustShallowClone()}, nil
}

func init() {
	core.RegisterMethod("test-nan", "test only", func(map[string]any) (core.Method, error) { return &nanMethod{}, nil })
}

func TestDivergedRunIsRecordedAndGridGoesOn(t *testing.T) {
	coretest.LockThread(t)
	out := t.TempDir()
	g := smallGrid(out, []string{"test-nan", "pt"}, []int64{1})
	sum, err := g.Run()
	if err != nil {
		t.Fatal(err)
	}
	if sum.Diverged != 1 || sum.Ran != 1 {
		t.Fatalf("summary %+v", sum)
	}
	rows, _ := storage.ReadResults(filepath.Join(out, "results.jsonl"))
	if rows[0].Status != "diverged" || !strings.Contains(rows[0].Error, "NaN") || rows[0].Steps != 1 {
		t.Fatalf("diverged row %+v", rows[0])
	}
}

// Same seed, same numbers: two runs of one configuration produce identical losses and scores.
func TestSameSeedSameNumbers(t *testing.T) {
	coretest.LockThread(t)
	var losses [2]float64
	var scores [2]float64
	for i := range losses {
		out := t.TempDir()
		g := smallGrid(out, []string{"pt"}, []int64{7})
		if _, err := g.Run(); err != nil {
			t.Fatal(err)
		}
		rows, _ := storage.ReadResults(filepath.Join(out, "results.jsonl"))
		losses[i], scores[i] = rows[0].FinalLoss, rows[0].DevScore
	}
	if losses[0] != losses[1] || scores[0] != scores[1] || losses[0] == 0 {
		t.Fatalf("losses %v, dev scores %v", losses, scores)
	}
}

func TestReferenceRowsOnlyForKnownTasks(t *testing.T) {
	var buf bytes.Buffer
	if err := RenderReference(&buf, []string{"rte", "syn-copy"}); err != nil {
		t.Fatal(err)
	}
	if s := buf.String(); !strings.Contains(s, "| 79.1 ") || !strings.Contains(s, "EPT (paper, T5-Base)") {
		t.Fatalf("reference table:\n%s", s)
	}
	buf.Reset()
	RenderReference(&buf, []string{"syn-copy"})
	if buf.Len() != 0 {
		t.Fatalf("reference table for synthetic tasks only:\n%s", buf.String())
	}
}
