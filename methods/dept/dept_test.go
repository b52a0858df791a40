package dept_test

import (
	"testing"

	"github.com/sugarme/gotch/ts"

	_ "github.com/ptbench/ptbench/backbones/t5"
	"github.com/ptbench/ptbench/core"
	"github.com/ptbench/ptbench/core/coretest"
	"github.com/ptbench/ptbench/methods/dept"
)

// By default P_s starts as DePT's scripts start it: the embeddings of "Classify this text is
// postive or not:" tokenised with the model's special tokens (T5: the trailing </s>), tiled
// to m rows; "vocab" does not.
func TestPromptStartsFromDePTsText(t *testing.T) {
	coretest.LockThread(t)
	bb, err := core.OpenBackbone("t5-tiny", core.BackboneOptions{Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer bb.Close()
	if c := dept.DefaultConfig(); c.Init != "text" || c.InitText != "Classify this text is postive or not:" {
		t.Fatalf("default init %q %q", c.Init, c.InitText)
	}
	toks := bb.EncodeSource(dept.DefaultInitText, 1000)
	ids := make([]int64, 60)
	for i := range ids {
		ids[i] = toks[i%len(toks)]
	}
	idt := ts.MustOfSlice(ids).MustView([]int64{1, 60}, true)
	want := core.Float32s(bb.Embed(idt))
	idt.MustDrop()
	for _, c := range []struct {
		raw  map[string]any
		same bool
	}{{nil, true}, {map[string]any{"init": "vocab"}, false}} {
		m, err := core.NewMethod("dept", c.raw)
		if err != nil {
			t.Fatal(err)
		}
		if err := m.Setup(core.SetupEnv{Backbone: bb, Seed: 1, MaxSourceLen: 256}); err != nil {
			t.Fatal(err)
		}
		got := core.Float32s(m.(*dept.Method).Prompt)
		same := len(got) == len(want)
		for i := range got {
			if same && got[i] != want[i] {
				same = false
			}
		}
		if same != c.same {
			t.Errorf("%v: P_s equals the text's embeddings: %v, want %v", c.raw, same, c.same)
		}
		m.Close()
	}
}

// A's rows are the run's max source length unless max_len says otherwise, as the reference
// sizes A by max_seq_length: MultiRC's 348-token sources fit (a fixed 256 refused them).
func TestMaxLenDefaultsToTheRunsMaxSourceLength(t *testing.T) {
	coretest.LockThread(t)
	bb, err := core.OpenBackbone("t5-tiny", core.BackboneOptions{Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer bb.Close()
	for _, c := range []struct {
		maxLen, sourceLen, wantRows int
	}{{0, 348, 348}, {0, 256, 256}, {100, 348, 100}} {
		cfg := dept.DefaultConfig()
		cfg.MaxLen = c.maxLen
		m := &dept.Method{Cfg: cfg}
		if err := m.Setup(core.SetupEnv{Backbone: bb, Seed: 1, MaxSourceLen: c.sourceLen}); err != nil {
			t.Fatal(err)
		}
		if got := m.A.MustSize()[0]; got != int64(c.wantRows) {
			t.Errorf("max_len %d, sources up to %d: A has %d rows, want %d", c.maxLen, c.sourceLen, got, c.wantRows)
		}
		off, err := m.Offset(int64(min(c.sourceLen, c.wantRows)))
		if err != nil {
			t.Errorf("max_len %d: %v", c.maxLen, err)
		} else {
			off.MustDrop()
		}
		m.Close()
	}
}
