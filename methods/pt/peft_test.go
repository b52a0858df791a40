package pt

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	_ "github.com/ptbench/ptbench/backbones/t5"
	"github.com/ptbench/ptbench/core"
	"github.com/ptbench/ptbench/core/coretest"
	"github.com/ptbench/ptbench/core/safetensors"
	"github.com/ptbench/ptbench/peft"
)

func rawConfig(t *testing.T, m core.Method) map[string]any {
	t.Helper()
	b, _ := json.Marshal(m.Config())
	var raw map[string]any
	if err := json.Unmarshal(b, &raw); err != nil {
		t.Fatal(err)
	}
	return raw
}

// PT → PEFT → PT: a trained prompt exported as PROMPT_TUNING and loaded into a fresh pt
// method by the --init-from path (peft.Attach, then Setup) gives identical logits; the
// folder holds exactly PEFT's key and config fields.
func TestPEFTRoundTrip(t *testing.T) {
	coretest.LockThread(t)
	bb, err := core.OpenBackbone("t5-tiny", core.BackboneOptions{Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer bb.Close()
	d := bb.Info().DModel
	rows := []core.Encoded{
		{Source: bb.EncodeSource("export me to peft", 32), Target: bb.EncodeTarget("yes", 8)},
		{Source: bb.EncodeSource("a second, longer source sentence", 32), Target: bb.EncodeTarget("no", 8)},
	}
	train, err := bb.Collate(rows, core.CollateOptions{Train: true})
	if err != nil {
		t.Fatal(err)
	}
	defer train.Close()
	eval, err := bb.Collate(rows, core.CollateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer eval.Close()

	cfg := map[string]any{"length": 4}
	m1, err := core.NewMethod("pt", cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer m1.Close()
	sess, err := core.StartSession(bb, m1, core.SetupEnv{Backbone: bb, Seed: 3})
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 3; i++ { // a few training steps move the prompt off its init
		if _, err := sess.Step(train, 1, 1); err != nil {
			t.Fatal(err)
		}
	}
	want := coretest.Logits(t, bb, m1, eval)
	dir := t.TempDir()
	ckpt := filepath.Join(dir, "checkpoints", "pt.safetensors")
	os.MkdirAll(filepath.Dir(ckpt), 0o755)
	if err := core.SaveTorchFile(ckpt, m1.ParamGroups()[0].Params, map[string]string{"method": "pt"}); err != nil {
		t.Fatal(err)
	}
	sess.Close()

	out := filepath.Join(dir, "peft")
	info := bb.Info()
	info.Name = "google/t5-tiny-test"
	w, err := peft.Export(peft.Source{Method: "pt", Config: rawConfig(t, m1), Backbone: info, Checkpoint: ckpt, RunKey: "pt.x.s3.abc"}, out)
	if err != nil {
		t.Fatal(err)
	}
	if w.PeftType != "PROMPT_TUNING" || len(w.Files) != 2 {
		t.Fatalf("written %+v", w)
	}
	// The config as PEFT reads it.
	var got map[string]any
	raw, err := os.ReadFile(filepath.Join(out, "adapter_config.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(raw, &got); err != nil {
		t.Fatal(err)
	}
	for k, v := range map[string]any{
		"peft_type": "PROMPT_TUNING", "task_type": "SEQ_2_SEQ_LM", "base_model_name_or_path": "google/t5-tiny-test",
		"num_virtual_tokens": 4.0, "token_dim": float64(d), "num_transformer_submodules": 1.0,
		"prompt_tuning_init": "RANDOM", "inference_mode": true,
	} {
		if got[k] != v {
			t.Errorf("adapter_config.json: %s = %v, want %v", k, got[k], v)
		}
	}
	for _, k := range []string{"num_layers", "num_attention_heads", "revision", "tokenizer_name_or_path", "prompt_tuning_init_text"} {
		if v, ok := got[k]; !ok || v != nil {
			t.Errorf("adapter_config.json: %s = %v (present %v), want null", k, v, ok)
		}
	}
	f, err := safetensors.Read(filepath.Join(out, "adapter_model.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	if names := f.Names(); len(names) != 1 || names[0] != "prompt_embeddings" {
		t.Fatalf("state dict keys %v, want [prompt_embeddings]", names)
	}
	if pe, _ := f.Get("prompt_embeddings"); pe.DType != "F32" || len(pe.Shape) != 2 || pe.Shape[0] != 4 || pe.Shape[1] != d {
		t.Fatalf("prompt_embeddings %s %v, want F32 [4 %d]", pe.DType, pe.Shape, d)
	}
	if f.Metadata["format"] != "pt" {
		t.Errorf("metadata %v lacks format pt", f.Metadata)
	}

	// Import into a fresh method (another seed: another init) the way --init-from does.
	a, err := peft.Read(out)
	if err != nil {
		t.Fatal(err)
	}
	m2, err := core.NewMethod("pt", cfg)
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
	defer sess2.Close()
	if diff := coretest.MaxDiff(want, coretest.Logits(t, bb, m2, eval)); diff != 0 {
		t.Fatalf("logits after export → import differ by %g", diff)
	}
	// Without the import the fresh method's logits differ: the comparison means something.
	m3, _ := core.NewMethod("pt", cfg)
	defer m3.Close()
	if err := m3.Setup(core.SetupEnv{Backbone: bb, Seed: 99}); err != nil {
		t.Fatal(err)
	}
	if coretest.MaxDiff(want, coretest.Logits(t, bb, m3, eval)) < 1e-4 {
		t.Fatal("a fresh prompt gives the trained logits: the round trip proves nothing")
	}
}

// Bad PEFT folders fail with errors naming the file and the field or tensor.
func TestPEFTImportErrors(t *testing.T) {
	coretest.LockThread(t)
	bb, err := core.OpenBackbone("t5-tiny", core.BackboneOptions{Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer bb.Close()
	d := bb.Info().DModel
	good := func() *peft.Adapter {
		return &peft.Adapter{
			Config: map[string]any{"peft_type": "PROMPT_TUNING", "task_type": "SEQ_2_SEQ_LM", "num_virtual_tokens": 4,
				"token_dim": d, "num_transformer_submodules": 1},
			Tensors: map[string]*safetensors.Tensor{"prompt_embeddings": safetensors.FromFloat32("prompt_embeddings", []int64{4, d}, make([]float32, 4*d))},
		}
	}
	cases := []struct {
		name  string
		edit  func(a *peft.Adapter)
		files func(dir string) // after writing
		want  []string         // substrings of the error
	}{
		{"ok", func(*peft.Adapter) {}, nil, nil},
		{"missing weights", func(*peft.Adapter) {}, func(dir string) { os.Remove(filepath.Join(dir, "adapter_model.safetensors")) },
			[]string{"adapter_model.safetensors", "missing"}},
		{"missing config", func(*peft.Adapter) {}, func(dir string) { os.Remove(filepath.Join(dir, "adapter_config.json")) },
			[]string{"adapter_config.json", "missing"}},
		{"wrong peft_type", func(a *peft.Adapter) { a.Config["peft_type"] = "LORA" },
			nil, []string{"adapter_config.json", `peft_type is "LORA"`, "PROMPT_TUNING"}},
		{"wrong shape", func(a *peft.Adapter) {
			a.Tensors["prompt_embeddings"] = safetensors.FromFloat32("prompt_embeddings", []int64{4, d + 1}, make([]float32, 4*(d+1)))
		}, nil, []string{"adapter_model.safetensors", `"prompt_embeddings"`, "shape"}},
		{"missing tensor", func(a *peft.Adapter) {
			a.Tensors = map[string]*safetensors.Tensor{"prompt": safetensors.FromFloat32("prompt", []int64{4, d}, make([]float32, 4*d))}
		}, nil, []string{"adapter_model.safetensors", `"prompt_embeddings" is missing`}},
		{"length", func(a *peft.Adapter) { a.Config["num_virtual_tokens"] = 8 }, nil, []string{"adapter_config.json", "num_virtual_tokens is 8"}},
		{"token_dim", func(a *peft.Adapter) { a.Config["token_dim"] = 768 }, nil, []string{"adapter_config.json", "token_dim is 768"}},
		{"PEFT's seq2seq default 2 without its rows", func(a *peft.Adapter) { delete(a.Config, "num_transformer_submodules") }, nil,
			[]string{"adapter_model.safetensors", `"prompt_embeddings" has shape [4 64], want [8 64]`}},
		{"PEFT's seq2seq default 2", func(a *peft.Adapter) {
			delete(a.Config, "num_transformer_submodules")
			a.Tensors["prompt_embeddings"] = safetensors.FromFloat32("prompt_embeddings", []int64{8, d}, make([]float32, 8*d))
		}, nil, nil},
		{"modules_to_save", func(a *peft.Adapter) { a.Config["modules_to_save"] = []any{"lm_head"} }, nil,
			[]string{"adapter_config.json", "modules_to_save is [lm_head]"}},
		{"three submodules", func(a *peft.Adapter) { a.Config["num_transformer_submodules"] = 3 }, nil,
			[]string{"adapter_config.json", "num_transformer_submodules is 3"}},
		{"causal", func(a *peft.Adapter) { a.Config["task_type"] = "CAUSAL_LM" }, nil, []string{"adapter_config.json", "task_type is CAUSAL_LM"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			coretest.LockThread(t)
			dir := t.TempDir()
			a := good()
			c.edit(a)
			if err := a.Write(dir); err != nil {
				t.Fatal(err)
			}
			if c.files != nil {
				c.files(dir)
			}
			err := func() error {
				a, err := peft.Read(dir)
				if err != nil {
					return err
				}
				m, err := core.NewMethod("pt", map[string]any{"length": 4})
				if err != nil {
					t.Fatal(err)
				}
				defer m.Close()
				if err := peft.Attach(m, a); err != nil {
					return err
				}
				return m.Setup(core.SetupEnv{Backbone: bb, Seed: 1})
			}()
			if c.want == nil {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil {
				t.Fatalf("no error, want %q", c.want)
			}
			for _, s := range c.want {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("error %q lacks %q", err, s)
				}
			}
		})
	}
}

// A T5 folder saved with PEFT's seq2seq default (num_transformer_submodules 2) holds 2l rows,
// of which PEFT's prompt tuning prepends the first l: those are the prompt ptbench loads.
func TestPEFTImportTakesTheEncoderRows(t *testing.T) {
	bb := coretest.OpenPreset(t, "t5-tiny")
	d := bb.Info().DModel
	values := make([]float32, 8*d)
	for i := range values {
		values[i] = float32(1 + i/int(4*d)) // rows 0-3: 1, rows 4-7: 2
	}
	a := &peft.Adapter{
		Config:  map[string]any{"peft_type": "PROMPT_TUNING", "task_type": "SEQ_2_SEQ_LM", "num_virtual_tokens": 4, "token_dim": d},
		Tensors: map[string]*safetensors.Tensor{"prompt_embeddings": safetensors.FromFloat32("prompt_embeddings", []int64{8, d}, values)},
	}
	dir := t.TempDir()
	if err := a.Write(dir); err != nil {
		t.Fatal(err)
	}
	read, err := peft.Read(dir)
	if err != nil {
		t.Fatal(err)
	}
	m, err := core.NewMethod("pt", map[string]any{"length": 4})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	if err := peft.Attach(m, read); err != nil {
		t.Fatal(err)
	}
	if err := m.Setup(core.SetupEnv{Backbone: bb, Seed: 1}); err != nil {
		t.Fatal(err)
	}
	for i, v := range core.Float32s(m.(*Method).P) {
		if v != 1 {
			t.Fatalf("prompt value %d is %v, want 1 (the first num_virtual_tokens rows)", i, v)
		}
	}
}
