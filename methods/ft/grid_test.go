package ft_test

import (
	"io"
	"path/filepath"
	"testing"

	"github.com/ptbench/ptbench/backbones/hf"
	"github.com/ptbench/ptbench/benchmarks"
	"github.com/ptbench/ptbench/core"
	"github.com/ptbench/ptbench/core/coretest"
	"github.com/ptbench/ptbench/core/storage"
	_ "github.com/ptbench/ptbench/tasks"
)

// In a grid, FT's checkpoint is a model directory (sharded safetensors, index, config.json)
// that the results row points to and --backbone opens; its weights are trained ones.
func TestGridWritesALoadableModelDirectory(t *testing.T) {
	coretest.LockThread(t)
	out := t.TempDir()
	g := &benchmarks.Grid{
		Methods: []string{"ft"}, Tasks: []string{"syn-keyword"}, Seeds: []int64{1}, Backbone: "t5-tiny",
		MethodConfigs: map[string]map[string]any{"ft": {"max_shard_bytes": 300_000, "lr": 1e-3}},
		Data:          core.DataOptions{Offline: true, Seed: 1},
		Train:         core.TrainOptions{Steps: 2, BatchSize: 4, EvalLimit: 8, TestLimit: 8, MaxNewTokens: 3},
		OutDir:        out, Log: io.Discard,
	}
	if sum, err := g.Run(); err != nil || sum.Ran != 1 || sum.Failed != 0 {
		t.Fatalf("grid %+v, %v", sum, err)
	}
	rows, err := storage.ReadResults(filepath.Join(out, "results.jsonl"))
	if err != nil || len(rows) != 1 || rows[0].Status != "ok" {
		t.Fatalf("rows %+v, %v", rows, err)
	}
	dir := filepath.Join(out, rows[0].Checkpoint)
	if files, err := hf.WeightFiles(dir); err != nil || len(files) < 2 {
		t.Fatalf("%s: weight files %v, %v", dir, files, err)
	}
	back, err := core.OpenBackbone(dir, core.BackboneOptions{Tokenizer: "byte"})
	if err != nil {
		t.Fatal(err)
	}
	defer back.Close()
	fresh, err := core.OpenBackbone("t5-tiny", core.BackboneOptions{Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer fresh.Close()
	changed := 0
	fw := fresh.Weights()
	for i, w := range back.Weights() {
		if w.Name != fw[i].Name {
			t.Fatalf("weight %s vs %s", w.Name, fw[i].Name)
		}
		if !w.Tensor.MustEqual(fw[i].Tensor, false) {
			changed++
		}
	}
	if changed == 0 {
		t.Fatal("the exported model equals the untrained backbone")
	}
}
