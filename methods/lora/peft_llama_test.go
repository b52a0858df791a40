package lora

import (
	"fmt"
	"path/filepath"
	"slices"
	"testing"

	"github.com/sugarme/gotch/ts"

	_ "github.com/ptbench/ptbench/backbones/llama"
	"github.com/ptbench/ptbench/core"
	"github.com/ptbench/ptbench/core/coretest"
	"github.com/ptbench/ptbench/peft"
)

// On a decoder-only backbone (llama-tiny) LoRA exports as a CAUSAL_LM adapter under
// LlamaForCausalLM's module names (base_model.model.model.layers.{i}.self_attn.{q,v}_proj),
// target_modules ["q_proj", "v_proj"], and loads back to identical logits.
func TestPEFTRoundTripLlama(t *testing.T) {
	coretest.LockThread(t)
	bb, err := core.OpenBackbone("llama-tiny", core.BackboneOptions{Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer bb.Close()
	rows := []core.Encoded{
		{Source: bb.EncodeSource("export me to peft", 32), Target: bb.EncodeTarget("yes", 8)},
		{Source: bb.EncodeSource("a second, longer source sentence", 32), Target: bb.EncodeTarget("no", 8)},
	}
	eval, err := bb.Collate(rows, core.CollateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer eval.Close()
	cfg := map[string]any{"rank": 2}
	m1, err := core.NewMethod("lora", cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer m1.Close()
	sess, err := core.StartSession(bb, m1, core.SetupEnv{Backbone: bb, Seed: 3})
	if err != nil {
		t.Fatal(err)
	}
	ts.NoGrad(func() { // B away from zero so that B A changes the outputs
		for _, p := range m1.(*Method).pairs {
			r := ts.MustRandn(p.b.MustSize(), p.b.DType(), p.b.MustDevice()).MustMulScalar(ts.FloatScalar(0.3), true)
			p.b.Copy_(r)
			r.MustDrop()
		}
	})
	want := coretest.Logits(t, bb, m1, eval)
	dir := t.TempDir()
	ckpt := filepath.Join(dir, "lora.safetensors")
	if err := core.SaveTorchFile(ckpt, m1.ParamGroups()[0].Params, nil); err != nil {
		t.Fatal(err)
	}
	sess.Close()
	info := bb.Info()
	info.Name = "llama-tiny"
	out := filepath.Join(dir, "peft")
	if _, err := peft.Export(peft.Source{Method: "lora", Config: map[string]any{"rank": 2, "alpha": 8.0, "targets": []any{"q", "v"}}, Backbone: info, Checkpoint: ckpt}, out); err != nil {
		t.Fatal(err)
	}
	a, err := peft.Read(out)
	if err != nil {
		t.Fatal(err)
	}
	if a.Config["task_type"] != "CAUSAL_LM" || fmt.Sprint(a.Config["target_modules"]) != "[q_proj v_proj]" {
		t.Errorf("task_type %v, target_modules %v: want CAUSAL_LM, [q_proj v_proj]", a.Config["task_type"], a.Config["target_modules"])
	}
	var keys []string
	for k := range a.Tensors {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	var wantKeys []string
	for i := range 2 {
		for _, p := range []string{"q_proj", "v_proj"} {
			for _, ab := range []string{"A", "B"} {
				wantKeys = append(wantKeys, fmt.Sprintf("base_model.model.model.layers.%d.self_attn.%s.lora_%s.weight", i, p, ab))
			}
		}
	}
	slices.Sort(wantKeys)
	if !slices.Equal(keys, wantKeys) {
		t.Fatalf("keys\n%v\nwant\n%v", keys, wantKeys)
	}
	m2, err := core.NewMethod("lora", cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer m2.Close()
	if err := peft.Attach(m2, a); err != nil {
		t.Fatal(err)
	}
	sess2, err := core.StartSession(bb, m2, core.SetupEnv{Backbone: bb, Seed: 99})
	if err != nil {
		t.Fatal(err)
	}
	got := coretest.Logits(t, bb, m2, eval)
	sess2.Close()
	if d := coretest.MaxDiff(want, got); d != 0 {
		t.Fatalf("logits after export → import differ by %g", d)
	}
}
