package t5

import (
	"encoding/json"
	"os"
	"runtime"
	"testing"

	"github.com/ptbench/ptbench/core"
)

const fixtures = "../../testdata/fixtures/t5"

// lockThread pins the test's goroutine to one OS thread: libtorch's grad mode is per thread.
func lockThread(t *testing.T) {
	runtime.LockOSThread()
	t.Cleanup(runtime.UnlockOSThread)
}

// tinyV10 is the fixture t5-tiny-v10's architecture, written out so this test does not
// depend on the config.json loader.
var tinyV10 = Config{Vocab: 128, DModel: 32, DKV: 8, DFF: 64, EncoderLayers: 2, DecoderLayers: 2, Heads: 4,
	Buckets: 32, MaxDistance: 128, Eps: 1e-6, TiedHead: true, Pad: 0, EOS: 1, DecoderStart: 0}

func TestRelativePositionBucketMatchesHF(t *testing.T) {
	lockThread(t)
	raw, err := os.ReadFile(fixtures + "/buckets.json")
	if err != nil {
		t.Fatal(err)
	}
	var f struct {
		Tables []struct {
			NumBuckets    int64   `json:"num_buckets"`
			MaxDistance   int64   `json:"max_distance"`
			Bidirectional bool    `json:"bidirectional"`
			From          int64   `json:"relative_position_from"`
			Buckets       []int64 `json:"buckets"`
		} `json:"tables"`
	}
	if err := json.Unmarshal(raw, &f); err != nil {
		t.Fatal(err)
	}
	if len(f.Tables) == 0 {
		t.Fatal("no tables")
	}
	for _, tab := range f.Tables {
		for k, want := range tab.Buckets {
			rel := tab.From + int64(k)
			if got := RelativePositionBucket(rel, tab.Bidirectional, tab.NumBuckets, tab.MaxDistance); got != want {
				t.Fatalf("bucket(%d, bidir=%v, %d, %d) = %d, want %d", rel, tab.Bidirectional, tab.NumBuckets, tab.MaxDistance, got, want)
			}
		}
	}
}

func TestForwardMatchesReferenceWithoutLoader(t *testing.T) {
	lockThread(t)
	tensors, err := core.LoadTorchFile(fixtures + "/t5-tiny-v10/model.safetensors")
	if err != nil {
		t.Fatal(err)
	}
	m, unused, err := NewModel(tinyV10, tensors, "t5-tiny-v10")
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	if len(unused) != 1 || unused[0] != "prompt.weight" {
		t.Fatalf("unused tensors %v, want [prompt.weight]", unused)
	}
	tensors["prompt.weight"].MustDrop()
	if got := m.NumParams(); got != 45696 {
		t.Errorf("NumParams = %d, want 45696 (cases.json num_parameters)", got)
	}
	raw, err := os.ReadFile(fixtures + "/t5-tiny-v10/cases.json")
	if err != nil {
		t.Fatal(err)
	}
	var ref referenceFile
	if err := json.Unmarshal(raw, &ref); err != nil {
		t.Fatal(err)
	}
	expected, err := core.LoadTorchFile(fixtures + "/t5-tiny-v10/expected.safetensors")
	if err != nil {
		t.Fatal(err)
	}
	defer dropAll(expected)
	for _, c := range ref.Cases {
		embeds, mask := caseInput(m, c, nil)
		out, err := m.Forward(embeds, mask, c.Labels, true, true)
		if err != nil {
			t.Fatal(err)
		}
		if d := maxAbsDiff(out.EncoderHidden, expected[c.Name+"/encoder_last_hidden_state"]); d > 1e-4 {
			t.Errorf("%s: encoder max abs err %g", c.Name, d)
		}
		if d := maxAbsDiff(out.Logits, expected[c.Name+"/logits"]); d > 1e-4 {
			t.Errorf("%s: logits max abs err %g", c.Name, d)
		}
		got, want := out.Loss.Float64Values()[0], expected[c.Name+"/loss"].Float64Values()[0]
		if d := (got - want) / want; d > 1e-5 || d < -1e-5 {
			t.Errorf("%s: loss %v, want %v", c.Name, got, want)
		}
		out.Drop()
		embeds.MustDrop()
		mask.MustDrop()
	}
}
