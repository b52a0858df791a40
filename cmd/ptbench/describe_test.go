package main

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/ptbench/ptbench/core"
)

// `ptbench methods pt -o json` lists pt's settings with their types, defaults and docs.
func TestMethodsNameListsSettings(t *testing.T) {
	out, err := execute("methods", "pt", "-o", "json")
	if err != nil {
		t.Fatal(err, out)
	}
	var v struct {
		Name     string
		Source   string
		AdamEps  float64 `json:"adam_eps"`
		Settings []struct {
			Name, Type, Doc string
			Default         any
		}
	}
	if err := json.Unmarshal([]byte(out), &v); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	got := map[string]string{}
	for _, s := range v.Settings {
		if s.Doc == "" {
			t.Errorf("setting %s has no doc", s.Name)
		}
		def, _ := json.Marshal(s.Default)
		got[s.Name] = s.Type + " " + string(def)
	}
	if v.Name != "pt" || v.Source != "built-in" || got["length"] != "int 100" || got["lr"] != "float 0.3" || v.AdamEps != 1e-8 {
		t.Errorf("pt: %+v (settings %v)", v, got)
	}
	// The text form names the same settings, deprecated spellings included.
	text, err := execute("methods", "dept")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"dept — DePT (built-in)", "length ", "deprecated spelling: prompt_length", "lowrank_lr", "0.85× PT",
		"AdamW ε:    1e-06 (the protocol's default"} {
		if !strings.Contains(text, want) {
			t.Errorf("methods dept: no %q in\n%s", want, text)
		}
	}
	if _, err := execute("methods", "no-such-method"); err == nil || !strings.Contains(err.Error(), `unknown method "no-such-method"`) {
		t.Errorf("an unknown method: %v", err)
	}
}

// An unknown --set key fails before anything loads, listing the method's valid keys; a
// deprecated spelling still works.
func TestSetRejectsUnknownKeysListingValidOnes(t *testing.T) {
	_, err := execute("run", "--methods", "pt", "--tasks", "rte", "--offline", "--data-dir", t.TempDir(),
		"--set", "pt.bogus=1", "--out", t.TempDir())
	want := `method pt: unknown setting "bogus"; valid settings: init, init_text, length, lr, vocab_limit`
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("error %v, want %q", err, want)
	}
	out, _ := execute("run", "--methods", "dept", "--tasks", "rte", "--offline", "--data-dir", t.TempDir(),
		"--set", "dept.prompt_lr=0.4", "--out", t.TempDir())
	if !strings.Contains(out, "warning: dept: deprecated setting names prompt_lr (now lr)") {
		t.Errorf("no deprecation warning for dept.prompt_lr in\n%s", out)
	}
	cfgs, err := loadMethodConfigs("", []string{"dept.prompt_lr=0.4"}, []string{"dept"})
	if err != nil {
		t.Fatal(err)
	}
	m, err := core.NewMethod("dept", cfgs["dept"])
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	raw, _ := json.Marshal(m.Config())
	if !strings.Contains(string(raw), `"lr":0.4`) || strings.Contains(string(raw), "prompt_lr") {
		t.Errorf("dept.prompt_lr=0.4 resolved to %s, want it recorded as lr", raw)
	}
}

// Every built-in method is described once, completely: a label, a family its built method
// has (NewMethod checks it), a doc for every setting, a step cost, and the baseline is one
// method. Settings several methods share have one name: a prompt's length is "length" and a
// method's main learning rate "lr".
func TestEveryMethodIsDescribed(t *testing.T) {
	baselines := 0
	for _, d := range core.Descriptions() {
		if d.Settings == nil {
			continue // registered by a test, not a configured method
		}
		if d.Label == "" || d.About == "" || d.Family == "" {
			t.Errorf("%s: label %q, about %q, family %q", d.Name, d.Label, d.About, d.Family)
		}
		for _, s := range d.Settings {
			if s.Doc == "" || s.Type == "" {
				t.Errorf("%s.%s: type %q, doc %q", d.Name, s.Name, s.Type, s.Doc)
			}
			if s.Name == "prompt_length" || s.Name == "prompt_lr" {
				t.Errorf("%s.%s: a shared setting under its own name (length, lr)", d.Name, s.Name)
			}
		}
		if _, ok := d.Setting("lr"); !ok {
			t.Errorf("%s has no lr", d.Name)
		}
		if d.Baseline {
			baselines++
		}
		m, err := core.NewMethod(d.Name, nil)
		if err != nil {
			t.Errorf("%s with its defaults: %v", d.Name, err)
			continue
		}
		if _, isUser := m.(core.ArtefactUser); isUser != d.Needs.Artefacts {
			t.Errorf("%s: Needs.Artefacts %v, but ArtefactUser %v", d.Name, d.Needs.Artefacts, isUser)
		}
		m.Close()
	}
	if baselines != 1 {
		t.Errorf("%d baseline methods, want 1", baselines)
	}
}
