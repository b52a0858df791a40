package ft

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/ptbench/ptbench/backbones/hf"
	_ "github.com/ptbench/ptbench/backbones/t5"
	"github.com/ptbench/ptbench/core"
	"github.com/ptbench/ptbench/core/coretest"
)

// FT's checkpoint is a sharded Hugging Face directory that opens again as a backbone whose
// weights are the trained ones.
func TestCheckpointLoadsBackAsABackbone(t *testing.T) {
	coretest.LockThread(t)
	bb, err := core.OpenBackbone("t5-tiny", core.BackboneOptions{Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer bb.Close()
	orig := core.SnapshotWeights(bb)
	defer core.DropNamed(orig)
	m := &Method{cfg: Config{LR: 1e-2, MaxShardBytes: 100_000}} // t5-tiny is ~1 MB: several shards
	defer m.Close()
	sess, err := core.StartSession(bb, m, core.SetupEnv{Backbone: bb, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	rows := []core.Encoded{{Source: bb.EncodeSource("fine-tune me", 32), Target: bb.EncodeTarget("done", 8)}}
	b, err := bb.Collate(rows, core.CollateOptions{Train: true})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if _, err := sess.Step(b, 1, 0); err != nil {
		t.Fatal(err)
	}
	trained := core.SnapshotWeights(bb)
	defer core.DropNamed(trained)
	dir := filepath.Join(t.TempDir(), "ft-model")
	if err := m.SaveCheckpointDir(dir, m.ParamGroups()[0].Params, map[string]string{"method": "ft"}); err != nil {
		t.Fatal(err)
	}
	sess.Close()

	files, err := hf.WeightFiles(dir)
	if err != nil || len(files) < 3 {
		t.Fatalf("weight files %v, %v", files, err)
	}
	raw, err := os.ReadFile(filepath.Join(dir, IndexFile))
	if err != nil {
		t.Fatal(err)
	}
	var index struct {
		Metadata struct {
			TotalSize int64 `json:"total_size"`
		} `json:"metadata"`
		WeightMap map[string]string `json:"weight_map"`
	}
	if err := json.Unmarshal(raw, &index); err != nil || len(index.WeightMap) != len(trained) || index.Metadata.TotalSize != 4*bb.Info().NumParams {
		t.Fatalf("index %s: %v", raw, err)
	}

	back, err := core.OpenBackbone(dir, core.BackboneOptions{Tokenizer: "byte"})
	if err != nil {
		t.Fatal(err)
	}
	defer back.Close()
	if back.Info().NumParams != bb.Info().NumParams {
		t.Fatalf("loaded %d parameters, trained %d", back.Info().NumParams, bb.Info().NumParams)
	}
	changed := 0
	for i, w := range back.Weights() {
		if w.Name != trained[i].Name || !w.Tensor.MustEqual(trained[i].Tensor, false) {
			t.Errorf("weight %s differs from the trained %s", w.Name, trained[i].Name)
		}
		if !w.Tensor.MustEqual(orig[i].Tensor, false) {
			changed++
		}
	}
	if changed == 0 {
		t.Fatal("no weight changed in training: the test proves nothing")
	}
}
