package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/ptbench/ptbench/core"
)

// FuzzMethodConfig: any --method-config file (YAML or JSON) plus one --set either fails with
// an error, or gives settings from which each built-in method either refuses with an error or
// is built, and then its resolved config is JSON (what run keys hash and rows record) that
// builds the same method again.
func FuzzMethodConfig(f *testing.F) {
	f.Add("ept:\n  spaces: 2\n  gate: token\n", "ept.proj_rank=4")
	f.Add("pt: {length: 20, lr: 0.3, init: text, init_text: \"Classify this.\"}\ndept: {prompt_length: 4, rank: 2, max_len: 64}\n", "dept.alpha=8")
	f.Add(`{"pt": {"length": 4}, "ept": {"fusion": false, "projection": true, "fusion_kv": "b"}}`, "pt.vocab_limit=100")
	f.Add("pt:\n  length: &a 5\n  lr: *a\n", "pt.init=vocab")
	f.Add("pt:\n  lr: .nan\n", "pt.length=1e400")
	f.Add("pt:\n  1: x\n", "plugin:./bin/x.v2.length=4")
	f.Add("", "ept.spaces=[1, 2]")
	methods := []string{"pt", "dept", "ept", "plugin:./bin/x.v2"}
	f.Fuzz(func(t *testing.T, file, set string) {
		path := filepath.Join(t.TempDir(), "methods.yaml")
		if err := os.WriteFile(path, []byte(file), 0o644); err != nil {
			t.Fatal(err)
		}
		cfgs, err := loadMethodConfigs(path, []string{set}, methods)
		if err != nil {
			return
		}
		for name := range cfgs {
			if !contains(methods, name) {
				t.Fatalf("settings for %q, which is not among %v", name, methods)
			}
		}
		for _, name := range methods[:3] {
			m, err := core.NewMethod(name, cfgs[name])
			if err != nil {
				if !strings.Contains(err.Error(), name) {
					t.Fatalf("error does not name method %s: %v", name, err)
				}
				continue
			}
			b, err := json.Marshal(m.Config())
			m.Close()
			if err != nil {
				t.Fatalf("%s built from %v, but its config is not JSON: %v", name, cfgs[name], err)
			}
			var raw map[string]any
			if err := json.Unmarshal(b, &raw); err != nil {
				t.Fatal(err)
			}
			again, err := core.NewMethod(name, raw)
			if err != nil {
				t.Fatalf("%s: its own resolved config %s is refused: %v", name, b, err)
			}
			if !reflect.DeepEqual(again.Config(), m.Config()) {
				t.Fatalf("%s: config %+v rebuilds as %+v", name, m.Config(), again.Config())
			}
			again.Close()
		}
	})
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
