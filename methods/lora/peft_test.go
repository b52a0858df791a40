package lora

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/sugarme/gotch/ts"

	"github.com/ptbench/ptbench/core"
	"github.com/ptbench/ptbench/core/coretest"
	"github.com/ptbench/ptbench/core/safetensors"
	"github.com/ptbench/ptbench/peft"
)

// LoRA → PEFT → LoRA: trained A and B exported as LORA under PEFT's key names and loaded
// into a fresh lora method by the --init-from path (peft.Attach, then Setup) give identical
// logits, unmerged and merged.
func TestPEFTRoundTrip(t *testing.T) {
	coretest.LockThread(t)
	bb, err := core.OpenBackbone("t5-tiny", core.BackboneOptions{Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer bb.Close()
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
	// PEFT's names for t5-tiny's q and v sites (2 encoder and 2 decoder blocks).
	var wantKeys []string
	for _, site := range []string{"encoder.block.%d.layer.0.SelfAttention", "decoder.block.%d.layer.0.SelfAttention", "decoder.block.%d.layer.1.EncDecAttention"} {
		for i := range 2 {
			for _, p := range []string{"q", "v"} {
				for _, ab := range []string{"A", "B"} {
					wantKeys = append(wantKeys, "base_model.model."+fmt.Sprintf(site, i)+"."+p+".lora_"+ab+".weight")
				}
			}
		}
	}
	slices.Sort(wantKeys)

	for _, c := range []struct {
		name    string
		cfg     map[string]any
		targets []any
		keys    []string // nil: check the count only
	}{
		{"default q v", map[string]any{"rank": 2}, []any{"q", "v"}, wantKeys},
		{"merged q k v o", map[string]any{"rank": 4, "alpha": 8, "targets": []any{"q", "k", "v", "o"}, "merge": true}, []any{"k", "o", "q", "v"}, nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			coretest.LockThread(t)
			m1, err := core.NewMethod("lora", c.cfg)
			if err != nil {
				t.Fatal(err)
			}
			defer m1.Close()
			sess, err := core.StartSession(bb, m1, core.SetupEnv{Backbone: bb, Seed: 3})
			if err != nil {
				t.Fatal(err)
			}
			for range 2 {
				if _, err := sess.Step(train, 1, 1); err != nil {
					t.Fatal(err)
				}
			}
			ts.NoGrad(func() { // and B far from zero, so that B A changes the outputs visibly
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
			var raw map[string]any
			b, _ := json.Marshal(m1.Config())
			json.Unmarshal(b, &raw)
			sess.Close()

			out := filepath.Join(dir, "peft")
			info := bb.Info()
			info.Name = "t5-tiny"
			if _, err := peft.Export(peft.Source{Method: "lora", Config: raw, Backbone: info, Checkpoint: ckpt}, out); err != nil {
				t.Fatal(err)
			}
			a, err := peft.Read(out)
			if err != nil {
				t.Fatal(err)
			}
			cfg := m1.Config().(Config)
			for k, v := range map[string]any{"peft_type": "LORA", "task_type": "SEQ_2_SEQ_LM", "base_model_name_or_path": "t5-tiny",
				"r": fmt.Sprint(cfg.Rank), "lora_alpha": fmt.Sprint(cfg.Alpha), "bias": "none", "use_rslora": false, "use_dora": false,
				"fan_in_fan_out": false, "lora_dropout": "0", "inference_mode": true} {
				if fmt.Sprint(a.Config[k]) != fmt.Sprint(v) {
					t.Errorf("adapter_config.json: %s = %v, want %v", k, a.Config[k], v)
				}
			}
			if fmt.Sprint(a.Config["target_modules"]) != fmt.Sprint(c.targets) {
				t.Errorf("target_modules %v, want %v", a.Config["target_modules"], c.targets)
			}
			keys := slices.Sorted(func(yield func(string) bool) {
				for k := range a.Tensors {
					if !yield(k) {
						return
					}
				}
			})
			if c.keys != nil && !slices.Equal(keys, c.keys) {
				t.Fatalf("state dict keys\n%v\nwant\n%v", keys, c.keys)
			}
			if len(keys) != 2*len(m1.(*Method).pairs) {
				t.Fatalf("%d keys for %d sites", len(keys), len(m1.(*Method).pairs))
			}
			for _, k := range keys { // A [r, in], B [out, r]
				tn := a.Tensors[k]
				site := strings.TrimPrefix(strings.TrimSuffix(strings.TrimSuffix(k, ".lora_A.weight"), ".lora_B.weight"), "base_model.model.")
				for _, s := range bb.HookSites() {
					if s.Name != site {
						continue
					}
					want := []int64{int64(cfg.Rank), s.In}
					if strings.HasSuffix(k, "lora_B.weight") {
						want = []int64{s.Out, int64(cfg.Rank)}
					}
					if !slices.Equal(tn.Shape, want) {
						t.Errorf("%s: shape %v, want %v", k, tn.Shape, want)
					}
				}
			}

			m2, err := core.NewMethod("lora", c.cfg)
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
			if diff := coretest.MaxDiff(want, got); diff != 0 {
				t.Fatalf("logits after export → import differ by %g", diff)
			}
			// A fresh LoRA (B = 0) is the frozen model: different logits, so the check means something.
			m3, _ := core.NewMethod("lora", c.cfg)
			defer m3.Close()
			sess3, err := core.StartSession(bb, m3, core.SetupEnv{Backbone: bb, Seed: 99})
			if err != nil {
				t.Fatal(err)
			}
			fresh := coretest.Logits(t, bb, m3, eval)
			sess3.Close()
			if coretest.MaxDiff(want, fresh) < 1e-4 {
				t.Fatal("a fresh LoRA gives the trained logits: the round trip proves nothing")
			}
		})
	}
}

// Bad PEFT folders fail with errors naming the file and the field or tensor; nothing is
// half loaded.
func TestPEFTImportErrors(t *testing.T) {
	coretest.LockThread(t)
	bb, err := core.OpenBackbone("t5-tiny", core.BackboneOptions{Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer bb.Close()
	// A good folder: the default lora (r 8, α 8, q and v) on t5-tiny.
	good := func() *peft.Adapter {
		a := &peft.Adapter{Config: map[string]any{"peft_type": "LORA", "task_type": "SEQ_2_SEQ_LM", "r": 8, "lora_alpha": 8,
			"target_modules": []any{"v", "q"}, "bias": "none", "use_dora": false, "rank_pattern": map[string]any{}},
			Tensors: map[string]*safetensors.Tensor{}}
		for _, s := range bb.HookSites() {
			if s.Role == core.RoleQ || s.Role == core.RoleV {
				ka, kb := PEFTKey(s.Name, "A"), PEFTKey(s.Name, "B")
				a.Tensors[ka] = safetensors.FromFloat32(ka, []int64{8, s.In}, make([]float32, 8*s.In))
				half := make([]float32, 8*s.Out)
				for i := range half {
					half[i] = 0.5
				}
				a.Tensors[kb] = safetensors.FromFloat32(kb, []int64{s.Out, 8}, half)
			}
		}
		return a
	}
	q0 := "base_model.model.encoder.block.0.layer.0.SelfAttention.q.lora_B.weight"
	cases := []struct {
		name string
		edit func(a *peft.Adapter)
		want []string
	}{
		{"ok", func(*peft.Adapter) {}, nil},
		{"peft_type", func(a *peft.Adapter) { a.Config["peft_type"] = "PROMPT_TUNING" }, []string{"adapter_config.json", `peft_type is "PROMPT_TUNING"`, "LORA"}},
		{"rank", func(a *peft.Adapter) { a.Config["r"] = 4 }, []string{"adapter_config.json", "r is 4", "rank is 8"}},
		{"alpha", func(a *peft.Adapter) { a.Config["lora_alpha"] = 32 }, []string{"adapter_config.json", "lora_alpha is 32"}},
		{"targets", func(a *peft.Adapter) { a.Config["target_modules"] = []any{"q"} }, []string{"adapter_config.json", "target_modules is [q]"}},
		{"regex targets", func(a *peft.Adapter) { a.Config["target_modules"] = ".*(q|v)$" }, []string{"adapter_config.json", "pattern"}},
		{"dora", func(a *peft.Adapter) { a.Config["use_dora"] = true }, []string{"adapter_config.json", "use_dora"}},
		{"alora", func(a *peft.Adapter) { a.Config["alora_invocation_tokens"] = []any{1, 2} }, []string{"adapter_config.json", "alora_invocation_tokens"}},
		{"pissa", func(a *peft.Adapter) { a.Config["init_lora_weights"] = "pissa_niter_4" }, []string{"adapter_config.json", `init_lora_weights is "pissa_niter_4"`}},
		{"loftq", func(a *peft.Adapter) { a.Config["init_lora_weights"] = "loftq" }, []string{"adapter_config.json", `init_lora_weights is "loftq"`}},
		{"gaussian init loads", func(a *peft.Adapter) { a.Config["init_lora_weights"] = "gaussian" }, nil},
		{"default init loads", func(a *peft.Adapter) { a.Config["init_lora_weights"] = true }, nil},
		{"shape", func(a *peft.Adapter) {
			a.Tensors[q0] = safetensors.FromFloat32(q0, []int64{17, 8}, make([]float32, 17*8))
		}, []string{"adapter_model.safetensors", q0, "shape [17 8]"}},
		{"missing tensor", func(a *peft.Adapter) { delete(a.Tensors, q0) }, []string{"adapter_model.safetensors", q0, "missing"}},
		{"extra tensor", func(a *peft.Adapter) {
			k := "base_model.model.encoder.block.0.layer.0.SelfAttention.k.lora_A.weight"
			a.Tensors[k] = safetensors.FromFloat32(k, []int64{8, 8}, make([]float32, 64))
		}, []string{"adapter_model.safetensors", "SelfAttention.k.lora_A.weight", "not one of"}},
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
			m, err := core.NewMethod("lora", nil)
			if err != nil {
				t.Fatal(err)
			}
			defer m.Close()
			err = func() error {
				a, err := peft.Read(dir)
				if err != nil {
					return err
				}
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
			// Nothing half loaded: every B is still Setup's zeros.
			for _, p := range m.(*Method).pairs {
				for _, x := range core.Float32s(p.b) {
					if x != 0 {
						t.Fatalf("%s: B changed by a failed import", p.site)
					}
				}
			}
		})
	}
}
