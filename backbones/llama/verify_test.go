package llama

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/sugarme/gotch"
	"github.com/sugarme/gotch/ts"

	"github.com/ptbench/ptbench/core"

	"github.com/ptbench/ptbench/internal/testfix"
)

// TestVerifyStories260K runs the llama2.c reference (every forced logit, final hidden state,
// argmax, greedy ids through the KV cache) on the .bin and on the same weights written as an
// HF directory.
func TestVerifyStories260K(t *testing.T) {
	lockThread(t)
	bin := testfix.Path(t, "models/stories260K/stories260K.bin")
	cases := testfix.Path(t, "fixtures/llama/stories260K-reference.json")
	if bin == "" || cases == "" {
		return
	}
	run := func(path string) {
		checks, err := VerifyCases(path, cases, DefaultTolerances)
		if err != nil {
			t.Fatal(err)
		}
		if len(checks) != 7 {
			t.Fatalf("%d checks, want 7 (2 forced cases × 3 + greedy)", len(checks))
		}
		for _, c := range checks {
			t.Logf("%s %-14s %-28s %.3g (tol %.0e)", filepath.Base(path), c.Case, c.Output, c.Error, c.Tol)
			if !c.Pass {
				t.Errorf("%s: %s %s: error %g > %g", path, c.Case, c.Output, c.Error, c.Tol)
			}
		}
	}
	run(bin)
	m, err := OpenBin(bin, LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	err = WriteHFDir(m, dir)
	m.Close()
	if err != nil {
		t.Fatal(err)
	}
	run(dir)
}

// A sharded BF16 HF directory (model.safetensors.index.json + 2 shards) loads to the same
// float32 model as the .bin's weights rounded to bf16.
func TestShardedBF16Dir(t *testing.T) {
	lockThread(t)
	bin := testfix.Path(t, "models/stories260K/stories260K.bin")
	if bin == "" {
		return
	}
	m, err := OpenBin(bin, LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	dir := t.TempDir()
	if err := WriteHFDir(m, dir); err != nil {
		t.Fatal(err)
	}
	os.Remove(filepath.Join(dir, "model.safetensors"))
	ws := m.Weights()
	rounded := map[string]*ts.Tensor{}
	weightMap := map[string]string{}
	var shards [2][]core.NamedTensor
	for i, w := range ws {
		bf := w.Tensor.MustTotype(gotch.BFloat16, false)
		rounded[w.Name] = bf.MustTotype(gotch.Float, false)
		shards[i*2/len(ws)] = append(shards[i*2/len(ws)], core.NamedTensor{Name: w.Name, Tensor: bf})
		weightMap[w.Name] = fmt.Sprintf("model-%05d-of-00002.safetensors", i*2/len(ws)+1)
	}
	for i, sh := range shards {
		if err := core.SaveTorchFile(filepath.Join(dir, fmt.Sprintf("model-%05d-of-00002.safetensors", i+1)), sh, nil); err != nil {
			t.Fatal(err)
		}
		for _, nt := range sh {
			nt.Tensor.MustDrop()
		}
	}
	idx, _ := json.Marshal(map[string]any{"metadata": map[string]any{}, "weight_map": weightMap})
	if err := os.WriteFile(filepath.Join(dir, "model.safetensors.index.json"), idx, 0o644); err != nil {
		t.Fatal(err)
	}
	fromDir, err := OpenDir(dir, LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer fromDir.Close()
	want, err := build(m.Cfg, func(name string, _ []int64) (*ts.Tensor, error) {
		r := rounded[name]
		delete(rounded, name)
		return r, nil
	}, LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer want.Close()
	ids := ts.MustOfSlice([]int64{1, 5, 100, 37}).MustView([]int64{1, 4}, true)
	defer ids.MustDrop()
	mask := ts.MustOnes([]int64{1, 4}, gotch.Float, gotch.CPU)
	defer mask.MustDrop()
	var a, b []float32
	ts.NoGrad(func() {
		for i, mm := range []*Model{fromDir, want} {
			e := mm.EmbedIDs(ids)
			l, h := mm.Forward(e, mask)
			if i == 0 {
				a = float32s(l)
			} else {
				b = float32s(l)
			}
			e.MustDrop()
			l.MustDrop()
			h.MustDrop()
		}
	})
	for i := range a {
		if a[i] != b[i] {
			t.Fatalf("logit %d: sharded bf16 dir %v, bf16-rounded .bin %v", i, a[i], b[i])
		}
	}
}
