package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ptbench/ptbench/core"
	"github.com/ptbench/ptbench/core/coretest"
	"github.com/ptbench/ptbench/core/safetensors"
	"github.com/ptbench/ptbench/core/storage"
	"github.com/ptbench/ptbench/peft"
)

// rowsOf reads dir's results.jsonl by method.
func rowsOf(t *testing.T, dir string) map[string]storage.ResultRow {
	t.Helper()
	rows, err := storage.ReadResults(filepath.Join(dir, storage.ResultsFile))
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]storage.ResultRow{}
	for _, r := range rows {
		out[r.Method] = r
	}
	return out
}

// run → export --format peft → run --init-from: the exported folders are PEFT's, a run
// initialised from one has another run key (the folder's content hash, not its path), and a
// method of another peft_type is refused.
func TestExportPEFTAndInitFrom(t *testing.T) {
	coretest.LockThread(t)
	tmp := t.TempDir()
	grid := func(out string, extra ...string) (string, error) {
		args := append([]string{"run", "--preset", "smoke", "--tasks", "syn-keyword", "--steps", "3", "--eval-limit", "8",
			"--test-limit", "8", "--out", out}, extra...)
		return execute(args...)
	}
	a := filepath.Join(tmp, "a")
	if log, err := grid(a, "--methods", "pt,lora", "--set", "pt.length=4", "--set", "lora.rank=2"); err != nil {
		t.Fatalf("%v\n%s", err, log)
	}
	rows := rowsOf(t, a)
	for method, want := range map[string]string{"pt": "PROMPT_TUNING", "lora": "LORA"} {
		dir := filepath.Join(tmp, "peft-"+method)
		js, err := execute("export", rows[method].RunKey, "--format", "peft", "--results", a, "--out", dir, "-o", "json")
		if err != nil {
			t.Fatalf("export %s: %v\n%s", method, err, js)
		}
		var w peft.Written
		if err := json.Unmarshal([]byte(js), &w); err != nil {
			t.Fatalf("export -o json: %v\n%s", err, js)
		}
		if w.PeftType != want || w.Config["base_model_name_or_path"] != "t5-tiny" || w.Config["task_type"] != "SEQ_2_SEQ_LM" {
			t.Errorf("%s exported as %s %v", method, w.PeftType, w.Config)
		}
		if _, err := peft.Read(dir); err != nil {
			t.Fatal(err)
		}
	}
	// The checkpoint path names the run as well (its row found in --results).
	if log, err := execute("export", filepath.Join(a, rows["pt"].Checkpoint), "--results", a, "--out", filepath.Join(tmp, "by-path")); err != nil ||
		!strings.Contains(log, "PROMPT_TUNING") {
		t.Fatalf("export by checkpoint path (%v): %s", err, log)
	}

	b := filepath.Join(tmp, "b")
	if log, err := grid(b, "--methods", "pt", "--set", "pt.length=4", "--init-from", filepath.Join(tmp, "peft-pt")); err != nil {
		t.Fatalf("%v\n%s", err, log)
	}
	init := rowsOf(t, b)["pt"]
	if init.RunKey == rows["pt"].RunKey {
		t.Fatal("a run initialised from a PEFT folder has the plain run's key")
	}
	if ex := init.Extra["init_from"]; ex == nil || !strings.Contains(toJSON(ex), `"peft_type":"PROMPT_TUNING"`) {
		t.Errorf("row extra init_from = %v", ex)
	}
	// The same content elsewhere is the same run: skipped.
	moved := filepath.Join(tmp, "moved")
	os.MkdirAll(moved, 0o755)
	for _, f := range []string{peft.ConfigName, peft.WeightsName} {
		raw, _ := os.ReadFile(filepath.Join(tmp, "peft-pt", f))
		os.WriteFile(filepath.Join(moved, f), raw, 0o644)
	}
	if log, err := grid(b, "--methods", "pt", "--set", "pt.length=4", "--init-from", moved); err != nil || !strings.Contains(log, "skipped") {
		t.Fatalf("the moved folder's run was not skipped (%v):\n%s", err, log)
	}
	// LoRA cannot start from a PROMPT_TUNING folder, nor PT from one of another length: both
	// are refused before anything loads (no results folder is written).
	for _, c := range []struct{ method, set, want string }{
		{"lora", "lora.rank=2", `peft_type is "PROMPT_TUNING"`},
		{"pt", "pt.length=8", "num_virtual_tokens is 4 but the pt method's length is 8"},
	} {
		out := filepath.Join(tmp, "c-"+c.method)
		log, err := grid(out, "--methods", c.method, "--set", c.set, "--init-from", moved)
		if err == nil || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), "adapter_config.json") {
			t.Fatalf("%s from the PT folder: %v\n%s", c.method, err, log)
		}
		if _, statErr := os.Stat(filepath.Join(out, storage.ResultsFile)); !os.IsNotExist(statErr) {
			t.Errorf("%s: a refused --init-from still wrote %s (%v)", c.method, storage.ResultsFile, statErr)
		}
	}
}

func toJSON(v any) string { b, _ := json.Marshal(v); return string(b) }

// Methods PEFT lacks export natively (tensors kept, their roles in the method's equation
// described); --format peft refuses them and points at native.
func TestExportNative(t *testing.T) {
	res := t.TempDir()
	store := &storage.ResultStore{Path: filepath.Join(res, storage.ResultsFile)}
	mk := func(method string, tensors map[string][]int64) storage.ResultRow {
		m, err := core.NewMethod(method, nil)
		if err != nil {
			t.Fatal(err)
		}
		var cfg map[string]any
		json.Unmarshal([]byte(toJSON(m.Config())), &cfg)
		m.Close()
		var st []*safetensors.Tensor
		for name, shape := range tensors {
			n := int64(1)
			for _, d := range shape {
				n *= d
			}
			st = append(st, safetensors.FromFloat32(name, shape, make([]float32, n)))
		}
		key := method + ".rte.s42.0123456789"
		rel := filepath.Join("checkpoints", key+".safetensors")
		os.MkdirAll(filepath.Join(res, "checkpoints"), 0o755)
		if err := safetensors.Write(filepath.Join(res, rel), st, map[string]string{"method": method}); err != nil {
			t.Fatal(err)
		}
		row := storage.ResultRow{RunKey: key, Method: method, MethodConfig: cfg, Task: "rte", Status: "ok", Checkpoint: rel,
			Backbone: core.BackboneInfo{Name: "t5-base", Arch: "t5-v1.0", DModel: 64, EncoderDecoder: true}}
		if err := store.Append(row); err != nil {
			t.Fatal(err)
		}
		return row
	}
	cases := []struct {
		method  string
		tensors map[string][]int64
		roles   map[string]string // tensor → a substring of its role
	}{
		{"dept", map[string][]int64{"prompt": {60, 64}, "lora_A": {256, 30}, "lora_B": {30, 64}},
			map[string]string{"prompt": "P_s", "lora_A": "A ∈ R^{s×r}", "lora_B": "B ∈ R^{r×d}"}},
		{"ept", map[string][]int64{"prompt": {60, 64}, "lora_A": {256, 30}, "lora_B": {30, 64}, "proj_down": {4, 64, 8},
			"proj_up": {4, 8, 64}, "gate_w": {4, 64}, "gate_b": {4}},
			map[string]string{"prompt": "P_s", "proj_down": "W_down", "gate_b": "b_g"}},
		{"pt", map[string][]int64{"prompt": {100, 64}}, map[string]string{"prompt": "P ∈ R^{l×d}"}},
	}
	for _, c := range cases {
		t.Run(c.method, func(t *testing.T) {
			row := mk(c.method, c.tensors)
			out := filepath.Join(t.TempDir(), "native")
			if log, err := execute("export", row.RunKey, "--format", "native", "--results", res, "--out", out); err != nil {
				t.Fatalf("%v\n%s", err, log)
			}
			var n peft.Native
			raw, err := os.ReadFile(filepath.Join(out, c.method+".json"))
			if err != nil {
				t.Fatal(err)
			}
			if err := json.Unmarshal(raw, &n); err != nil {
				t.Fatal(err)
			}
			if n.Method != c.method || n.Equation == "" || n.Undescribed || len(n.Tensors) != len(c.tensors) || n.Backbone.Name != "t5-base" {
				t.Fatalf("%s.json: %s", c.method, raw)
			}
			for _, ti := range n.Tensors {
				if toJSON(ti.Shape) != toJSON(c.tensors[ti.Name]) || ti.DType != "F32" {
					t.Errorf("%s: %v %s, want %v F32", ti.Name, ti.Shape, ti.DType, c.tensors[ti.Name])
				}
				if want, ok := c.roles[ti.Name]; ok && !strings.Contains(ti.Role, want) {
					t.Errorf("%s: role %q lacks %q", ti.Name, ti.Role, want)
				}
			}
			f, err := safetensors.Read(filepath.Join(out, c.method+".safetensors"))
			if err != nil || len(f.Names()) != len(c.tensors) {
				t.Fatalf("%s.safetensors: %v %v", c.method, err, f)
			}
			_, err = execute("export", row.RunKey, "--format", "peft", "--results", res, "--out", filepath.Join(t.TempDir(), "p"))
			if c.method == "pt" {
				if err != nil {
					t.Fatalf("pt to peft: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), "no PEFT equivalent") || !strings.Contains(err.Error(), "--format native") {
				t.Fatalf("--format peft on %s: %v", c.method, err)
			}
		})
	}
	if _, err := execute("export", "nope.rte.s1.0", "--results", res, "--out", t.TempDir()); err == nil || !strings.Contains(err.Error(), `run "nope.rte.s1.0" is not in`) {
		t.Fatalf("unknown run: %v", err)
	}
}
