package benchmarks

import (
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/sugarme/gotch/ts"

	"github.com/ptbench/ptbench/core"
	"github.com/ptbench/ptbench/core/coretest"
	"github.com/ptbench/ptbench/core/engine"
	"github.com/ptbench/ptbench/core/storage"
	_ "github.com/ptbench/ptbench/methods/ft"
)

// fullFT unfreezes every backbone weight and trains it: the shape of FT, enough to prove that
// a grid restores the backbone after a method that edits it.
type fullFT struct{ weights []core.NamedTensor }

func (m *fullFT) Setup(env core.SetupEnv) error {
	m.weights = env.Backbone.Weights()
	for _, w := range m.weights {
		w.Tensor.MustRequiresGrad_(true)
	}
	return nil
}
func (m *fullFT) ParamGroups() []core.ParamGroup {
	return []core.ParamGroup{{Name: "backbone", LR: 1e-2, Params: m.weights}}
}
func (m *fullFT) Config() any        { return map[string]any{} }
func (m *fullFT) Close()             {}
func (m *fullFT) Hooks() *core.Hooks { return nil }
func (m *fullFT) EditsWeights() bool { return true }

// sourcePrompt asks the artefact store for a PT prompt trained on syn-keyword (twice, as two
// methods sharing a source would) and prepends it, frozen.
type sourcePrompt struct{ prompt *ts.Tensor }

func (m *sourcePrompt) Setup(env core.SetupEnv) error {
	if env.Artefacts == nil {
		return fmt.Errorf("no artefact store")
	}
	spec := core.ArtefactSpec{Method: "pt", Config: map[string]any{"length": 3}, Tasks: []string{"syn-keyword"}, Seed: 5, Steps: 3}
	for i := 0; i < 2; i++ {
		a, err := env.Artefacts.Artefact(spec)
		if err != nil {
			return err
		}
		p, err := a.Tensor("prompt")
		if err != nil {
			a.Close()
			return err
		}
		if m.prompt != nil {
			m.prompt.MustDrop()
		}
		m.prompt = p.Tensor.MustDetachCopy(false)
		m.prompt.MustRequiresGrad_(true)
		a.Close()
	}
	return nil
}
func (m *sourcePrompt) ParamGroups() []core.ParamGroup {
	return []core.ParamGroup{{Name: "prompt", LR: 0.3, Params: []core.NamedTensor{{Name: "prompt", Tensor: m.prompt}}}}
}
func (m *sourcePrompt) Config() any { return map[string]any{"source": "syn-keyword"} }
func (m *sourcePrompt) Close() {
	if m.prompt != nil {
		m.prompt.MustDrop()
	}
}
func (m *sourcePrompt) Transform(in core.Input, train bool) (core.Input, error) {
	return core.PrependPrompt(in, m.prompt)
}

// undeclaredFT edits the backbone like fullFT but does not say so.
type undeclaredFT struct{ fullFT }

func (m *undeclaredFT) EditsWeights() bool { return false }

func init() {
	core.RegisterMethod("test-ft-undeclared", "test only: FT that does not declare WeightEditor", func(map[string]any) (core.Method, error) { return &undeclaredFT{}, nil })
	core.RegisterMethod("test-ft", "test only: every backbone weight trainable", func(map[string]any) (core.Method, error) { return &fullFT{}, nil })
	core.RegisterMethod("test-source", "test only: PT from a source artefact", func(map[string]any) (core.Method, error) { return &sourcePrompt{}, nil })
}

// losses runs a grid and returns every run's per-step losses by method.
func gridLosses(t *testing.T, g *Grid) map[string][]float64 {
	t.Helper()
	out := map[string][]float64{}
	g.OnRun = func(key string, res *engine.TrainResult) {
		out[strings.SplitN(key, ".", 2)[0]] = append([]float64(nil), res.Losses...)
	}
	sum, err := g.Run()
	if err != nil {
		t.Fatal(err)
	}
	if sum.Failed+sum.Diverged > 0 {
		rows, _ := storage.ReadResults(filepath.Join(g.OutDir, "results.jsonl"))
		t.Fatalf("grid %+v: %+v", sum, rows)
	}
	return out
}

// A grid "ft,pt" gives PT exactly the losses of PT alone: the backbone FT trained is restored.
func TestGridRestoresTheBackboneAfterFineTuning(t *testing.T) {
	coretest.LockThread(t)
	alone := gridLosses(t, smallGrid(t.TempDir(), []string{"pt"}, []int64{3}))["pt"]
	g := smallGrid(t.TempDir(), []string{"test-ft", "pt"}, []int64{3})
	after := gridLosses(t, g)
	if len(alone) != 4 || !slices.Equal(alone, after["pt"]) {
		t.Fatalf("PT alone %v, PT after FT %v", alone, after["pt"])
	}
	// FT did train the backbone (else the test proves nothing): its losses fell.
	ft := after["test-ft"]
	if len(ft) != 4 || !(ft[3] < ft[0]) {
		t.Fatalf("FT losses %v", ft)
	}
	rows, _ := storage.ReadResults(filepath.Join(g.OutDir, "results.jsonl"))
	if rows[0].TrainableParams != rows[0].Backbone.NumParams {
		t.Errorf("FT trained %d of %d parameters", rows[0].TrainableParams, rows[0].Backbone.NumParams)
	}
	// The real FT method (methods/ft), as `ptbench run --methods ft,pt` runs it.
	if after := gridLosses(t, smallGrid(t.TempDir(), []string{"ft", "pt"}, []int64{3})); !slices.Equal(alone, after["pt"]) || len(after["ft"]) != 4 {
		t.Fatalf("PT alone %v, PT after ft %v (ft %v)", alone, after["pt"], after["ft"])
	}
	// A method that edits weights without declaring it: the grid reopens the backbone.
	var log strings.Builder
	g = smallGrid(t.TempDir(), []string{"test-ft-undeclared", "pt"}, []int64{3})
	g.Log = &log
	if after := gridLosses(t, g); !slices.Equal(alone, after["pt"]) {
		t.Fatalf("PT alone %v, PT after undeclared FT %v", alone, after["pt"])
	}
	if !strings.Contains(log.String(), "reopening the backbone") {
		t.Errorf("log: %s", log.String())
	}
}

// A multi-task PT run over two tasks writes one row per task under one run key.
func TestMultiTaskRunWritesOneRowPerTask(t *testing.T) {
	coretest.LockThread(t)
	out := t.TempDir()
	g := smallGrid(out, []string{"pt"}, []int64{1})
	g.Tasks, g.MultiTask, g.Temperature = []string{"syn-keyword", "syn-parity"}, true, 2
	sum, err := g.Run()
	if err != nil || sum.Ran != 1 {
		t.Fatalf("summary %+v, err %v", sum, err)
	}
	rows, _ := storage.ReadResults(filepath.Join(out, "results.jsonl"))
	if len(rows) != 2 || rows[0].Task != "syn-keyword" || rows[1].Task != "syn-parity" {
		t.Fatalf("rows %+v", rows)
	}
	prefix := strings.TrimSuffix(rows[0].RunKey, "/syn-keyword")
	if prefix == rows[0].RunKey || rows[1].RunKey != prefix+"/syn-parity" || rows[0].Checkpoint != rows[1].Checkpoint {
		t.Fatalf("run keys %q, %q", rows[0].RunKey, rows[1].RunKey)
	}
	for _, r := range rows {
		if r.Status != "ok" || len(r.Dev) == 0 || len(r.Test) == 0 {
			t.Errorf("row %+v", r)
		}
	}
	// Resume skips the whole multi-task run.
	if sum, err := g.Run(); err != nil || sum.Skipped != 1 || sum.Ran != 0 {
		t.Fatalf("resume: %+v, %v", sum, err)
	}
}

// Asking the store twice for the same source artefact — in one run, in another run, in a
// later invocation — trains it once.
func TestArtefactTrainedOnce(t *testing.T) {
	coretest.LockThread(t)
	out := t.TempDir()
	g := smallGrid(out, []string{"test-source"}, []int64{1, 2})
	if sum, err := g.Run(); err != nil || sum.Ran != 2 {
		rows, _ := storage.ReadResults(filepath.Join(out, "results.jsonl"))
		t.Fatalf("summary %+v, err %v, rows %+v", sum, err, rows)
	}
	g = smallGrid(out, []string{"test-source"}, []int64{3})
	if sum, err := g.Run(); err != nil || sum.Ran != 1 {
		t.Fatalf("second invocation %+v, %v", sum, err)
	}
	rows, _ := storage.ReadResults(filepath.Join(out, "results.jsonl"))
	var artefactRows int
	for _, r := range rows {
		if strings.HasPrefix(r.RunKey, "artefact.") {
			artefactRows++
			if r.Status != "ok" || r.Steps != 3 || r.Task != "syn-keyword" {
				t.Errorf("artefact row %+v", r)
			}
		}
	}
	if artefactRows != 1 || len(rows) != 4 {
		t.Fatalf("%d artefact rows in %d rows", artefactRows, len(rows))
	}
	arts, err := ListArtefacts(out)
	if err != nil || len(arts) != 1 || arts[0].Identity.Method != "pt" || !slices.Equal(arts[0].Tensors["prompt"], []int64{3, 64}) {
		t.Fatalf("artefacts %+v, %v", arts, err)
	}
}

// With dropout 0.1 a training run is seeded and repeatable, and differs from dropout 0.
func TestDropoutRunsRepeat(t *testing.T) {
	coretest.LockThread(t)
	p := 0.1
	var runs [][]float64
	for i := 0; i < 2; i++ {
		g := smallGrid(t.TempDir(), []string{"pt"}, []int64{4})
		g.BackboneOpts.Dropout = &p
		runs = append(runs, gridLosses(t, g)["pt"])
	}
	plain := gridLosses(t, smallGrid(t.TempDir(), []string{"pt"}, []int64{4}))["pt"]
	if len(runs[0]) != 4 || !slices.Equal(runs[0], runs[1]) || slices.Equal(runs[0], plain) {
		t.Fatalf("dropout runs %v and %v, without dropout %v", runs[0], runs[1], plain)
	}
}

// A k-shot run draws k examples in all, balanced over classes, with its own seed (as DePT's
// train.py draws with the run's seed), and records how many of each class it drew.
func TestKShotDrawsPerSeedAndRecordsCounts(t *testing.T) {
	coretest.LockThread(t)
	out := t.TempDir()
	g := smallGrid(out, []string{"pt"}, []int64{1, 2})
	g.Data.KShot = 4
	if _, err := g.Run(); err != nil {
		t.Fatal(err)
	}
	rows, _ := storage.ReadResults(filepath.Join(out, "results.jsonl"))
	if len(rows) != 2 {
		t.Fatalf("%d rows, want 2", len(rows))
	}
	for _, r := range rows {
		drawn, ok := r.Extra["k_shot_drawn.syn-keyword"].(map[string]any)
		if !ok || len(drawn) != 2 || r.KShot != 4 {
			t.Fatalf("row extra %v, k %d", r.Extra, r.KShot)
		}
		total := 0.0
		for _, n := range drawn {
			total += n.(float64)
		}
		if total != 4 {
			t.Errorf("seed %d: %v drawn, want 4 in all", r.Seed, drawn)
		}
	}
	td, err := g.loadTask("syn-keyword")
	if err != nil {
		t.Fatal(err)
	}
	ids := func(seed int64) string {
		tasks, err := g.kshotFor([]engine.TaskData{td}, seed)
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, ex := range tasks[0].Data.Train {
			out = append(out, ex.ID)
		}
		return strings.Join(out, ",")
	}
	if a, b := ids(1), ids(2); a == b || a != ids(1) || len(td.Data.Train) <= 4 {
		t.Errorf("seed 1 drew %s, seed 2 %s (full set %d): want different draws per seed, the same for one seed", a, b, len(td.Data.Train))
	}
}

// --group-by-length trains (single- and multi-task) and records the option in the row.
func TestGroupByLengthRuns(t *testing.T) {
	coretest.LockThread(t)
	for _, multi := range []bool{false, true} {
		out := t.TempDir()
		g := smallGrid(out, []string{"pt"}, []int64{1})
		g.Train.GroupByLength = true
		if multi {
			g.Tasks, g.MultiTask = []string{"syn-keyword", "syn-parity"}, true
		}
		losses := gridLosses(t, g)["pt"]
		rows, _ := storage.ReadResults(filepath.Join(out, "results.jsonl"))
		if len(losses) != 4 || !rows[0].Train.GroupByLength || rows[0].Status != "ok" {
			t.Fatalf("multi %v: losses %v, row %+v", multi, losses, rows[0])
		}
	}
}

// badSave is PT whose state cannot be saved.
type badSave struct{ core.Method }

func (badSave) SaveState() ([]core.NamedTensor, error) { return nil, fmt.Errorf("disk on fire") }
func (badSave) LoadState([]core.NamedTensor) error     { return nil }
func (b badSave) Transform(in core.Input, train bool) (core.Input, error) {
	return b.Method.(core.InputMethod).Transform(in, train)
}

func init() {
	core.RegisterMethod("test-badsave", "test only: PT whose checkpoint fails", func(raw map[string]any) (core.Method, error) {
		m, err := core.NewMethod("pt", map[string]any{"length": 4})
		return badSave{m}, err
	})
}

// A run whose checkpoint cannot be written is recorded failed (with the reason) and the grid
// goes on; nothing exits the process.
func TestCheckpointFailureFailsOnlyItsRun(t *testing.T) {
	coretest.LockThread(t)
	out := t.TempDir()
	sum, err := smallGrid(out, []string{"test-badsave", "pt"}, []int64{1}).Run()
	if err != nil || sum.Failed != 1 || sum.Ran != 1 {
		t.Fatalf("summary %+v, %v", sum, err)
	}
	rows, _ := storage.ReadResults(filepath.Join(out, "results.jsonl"))
	if len(rows) != 2 || rows[0].Status != "failed" || !strings.Contains(rows[0].Error, "disk on fire") || rows[0].Steps != 4 || rows[1].Status != "ok" {
		t.Fatalf("rows %+v", rows)
	}
}
