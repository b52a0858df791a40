// Package benchmarks runs the comparison grid (methods × tasks × seeds) over one backbone,
// stores every finished run in results.jsonl, and renders leaderboards from that file.
package benchmarks

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/ptbench/ptbench/core"
)

// Grid is one `ptbench run`.
type Grid struct {
	Methods       []string
	MethodConfigs map[string]map[string]any // per method raw settings (from --method-config / --set)
	Tasks         []string
	Seeds         []int64
	Backbone      string
	BackboneOpts  core.BackboneOptions
	Data          core.DataOptions
	Train         core.TrainOptions
	OutDir        string
	Log           io.Writer
	Terminal      bool
	CodeVersion   string
}

// Summary counts what a grid did.
type Summary struct {
	Ran, Skipped, Failed, Diverged int
}

// RunKey identifies a run for resume: same method, resolved config, task, seed, backbone and
// training options means the same run.
func RunKey(method string, cfg any, task string, seed int64, backbone string, train core.TrainOptions, kshot int) string {
	b, _ := json.Marshal(struct {
		M string
		C any
		T string
		S int64
		B string
		O core.TrainOptions
		K int
	}{method, cfg, task, seed, backbone, train, kshot})
	h := sha256.Sum256(b)
	return fmt.Sprintf("%s.%s.s%d.%s", method, task, seed, hex.EncodeToString(h[:])[:10])
}

// Run executes the grid; finished runs already in results.jsonl are skipped. A failing run
// is recorded (status "failed") and the grid goes on.
func (g *Grid) Run() (Summary, error) {
	var sum Summary
	if g.Log == nil {
		g.Log = io.Discard
	}
	store := &core.ResultStore{Path: filepath.Join(g.OutDir, "results.jsonl")}
	rows, err := store.Read()
	if err != nil {
		return sum, err
	}
	done := map[string]bool{}
	for _, r := range rows {
		done[r.RunKey] = true
	}
	bb, err := core.OpenBackbone(g.Backbone, g.BackboneOpts)
	if err != nil {
		return sum, err
	}
	defer bb.Close()
	fmt.Fprintf(g.Log, "backbone %s: %s, d %d, %d parameters (frozen)\n", g.Backbone, bb.Info().Arch, bb.Info().DModel, bb.Info().NumParams)

	for _, taskName := range g.Tasks {
		task, err := core.NewTask(taskName)
		if err != nil {
			return sum, err
		}
		ds, err := task.Load(g.Data)
		if err != nil {
			return sum, fmt.Errorf("task %s: %w", taskName, err)
		}
		for file, n := range ds.Skipped {
			fmt.Fprintf(g.Log, "%s: skipped %d malformed rows of the official file %s\n", taskName, n, file)
		}
		for _, methodName := range g.Methods {
			for _, seed := range g.Seeds {
				r, skipped, err := g.runOne(bb, task, ds, methodName, seed, done, store)
				if err != nil {
					return sum, err
				}
				switch {
				case skipped:
					sum.Skipped++
				case r.Status == "failed":
					sum.Failed++
				case r.Status == "diverged":
					sum.Diverged++
				default:
					sum.Ran++
				}
			}
		}
	}
	return sum, nil
}

func (g *Grid) runOne(bb core.Backbone, task core.Task, ds *core.Dataset, methodName string, seed int64,
	done map[string]bool, store *core.ResultStore) (core.ResultRow, bool, error) {
	m, err := core.NewMethod(methodName, g.MethodConfigs[methodName])
	if err != nil {
		return core.ResultRow{}, false, err // a configuration error stops the grid: every run would fail
	}
	defer m.Close()
	train := g.Train
	train.Seed = seed
	key := RunKey(methodName, m.Config(), task.Name(), seed, g.Backbone, train, g.Data.KShot)
	if done[key] {
		fmt.Fprintf(g.Log, "%s: already in results.jsonl, skipped\n", key)
		return core.ResultRow{}, true, nil
	}
	prefix := fmt.Sprintf("[%s %s seed %d]", methodName, task.Name(), seed)
	train.Progress = core.NewProgress(g.Log, g.Terminal, prefix, 50)
	row := core.ResultRow{
		RunKey: key, Method: methodName, Label: core.MethodLabel(methodName, m), MethodConfig: m.Config(),
		Task: task.Name(), Benchmark: task.Benchmark(), Seed: seed, Backbone: bb.Info(), Train: train,
		KShot: g.Data.KShot, CodeVersion: g.CodeVersion,
	}
	row.Backbone.Name = g.Backbone
	tr := &core.Trainer{Backbone: bb, Method: m, Task: task, Data: ds, Opts: train}
	res, err := safeRun(tr)
	if err != nil {
		row.Status, row.Error = "failed", err.Error()
		fmt.Fprintf(g.Log, "%s failed: %v\n", prefix, err)
	} else {
		defer core.DropNamed(res.Best)
		row.Status, row.Error = res.Status, res.Error
		row.Dev, row.Test = res.Dev, res.Test
		row.DevScore, _ = core.PrimaryScore(task, res.Dev)
		row.TestScore, _ = core.PrimaryScore(task, res.Test)
		row.TrainableParams = res.TrainableParams
		row.MeanStepSec, row.MedianStepSec = res.MeanStepSeconds, res.MedianStepSeconds
		row.PeakRSSBytes, row.Steps, row.BestStep = res.PeakRSSBytes, res.Steps, res.BestStep
		if n := len(res.Losses); n > 0 {
			row.FinalLoss = res.Losses[n-1]
		}
		ckpt := filepath.Join(g.OutDir, "checkpoints", key+".safetensors")
		if err := saveCheckpoint(ckpt, m, res.Best, row); err != nil {
			return row, false, err
		}
		row.Checkpoint, _ = filepath.Rel(g.OutDir, ckpt)
		fmt.Fprintf(g.Log, "%s %s: dev %.2f test %.2f (%d trainable, %.3fs/step)\n", prefix, row.Status,
			row.DevScore, row.TestScore, row.TrainableParams, row.MeanStepSec)
	}
	row.FinishedAt = time.Now().UTC().Format(time.RFC3339)
	if err := store.Append(row); err != nil {
		return row, false, err
	}
	done[key] = true
	return row, false, nil
}

// safeRun turns a panic inside a run (gotch's Must* functions panic on torch errors) into
// that run's error, so the rest of the grid goes on.
func safeRun(tr *core.Trainer) (res *core.TrainResult, err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("panic: %v", p)
		}
	}()
	return tr.Run()
}

// saveCheckpoint writes the trained tensors (or the method's own state) with the resolved
// config as metadata, so a checkpoint is self-describing.
func saveCheckpoint(path string, m core.Method, best []core.NamedTensor, row core.ResultRow) error {
	tensors := best
	if s, ok := m.(core.StateSaver); ok {
		st, err := s.SaveState()
		if err != nil {
			return fmt.Errorf("%s: saving method state: %w", path, err)
		}
		defer core.DropNamed(st)
		tensors = st
	}
	cfg, _ := json.Marshal(row.MethodConfig)
	meta := map[string]string{"method": row.Method, "config": string(cfg), "task": row.Task,
		"seed": fmt.Sprint(row.Seed), "backbone": row.Backbone.Name}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	return core.SaveTorchFile(path, tensors, meta)
}

// ParseSeeds parses "42,43".
func ParseSeeds(s string) ([]int64, error) {
	var out []int64
	for _, f := range strings.Split(s, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		var v int64
		if _, err := fmt.Sscan(f, &v); err != nil {
			return nil, fmt.Errorf("seed %q is not an integer", f)
		}
		out = append(out, v)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no seeds given")
	}
	return out, nil
}
