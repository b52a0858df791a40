package core

import (
	"errors"
	"reflect"
	"strings"
	"testing"
)

// baseSettings is embedded by sampleSettings, as EPT's config embeds DePT's.
type baseSettings struct {
	Length int     `json:"length" alias:"prompt_length" doc:"soft tokens"`
	LR     float64 `json:"lr" alias:"prompt_lr" doc:"the prompt's rate"`
}

type sampleSettings struct {
	baseSettings
	Sources []string `json:"sources" doc:"source tasks"`
	Fusion  *bool    `json:"fusion" doc:"ablation switch"`
	Off     *bool    `json:"off" doc:"nil default"`
	Gate    string   `json:"gate,omitempty" doc:"gate kind"`
	Seed    int64    `json:"seed" doc:"a seed"`
	hidden  int      //nolint:unused // unexported: not a setting
	Skipped int      `json:"-"`
}

func (sampleSettings) Validate() error { return nil }

func TestSettingsOfDerivesNameTypeDefaultDoc(t *testing.T) {
	on := true
	got, err := SettingsOf(sampleSettings{baseSettings: baseSettings{Length: 100, LR: 0.3}, Sources: []string{"mnli"}, Fusion: &on, Gate: "pooled", Seed: 42})
	if err != nil {
		t.Fatal(err)
	}
	want := []Setting{
		{Name: "length", Type: "int", Default: 100, Doc: "soft tokens", Aliases: []string{"prompt_length"}},
		{Name: "lr", Type: "float", Default: 0.3, Doc: "the prompt's rate", Aliases: []string{"prompt_lr"}},
		{Name: "sources", Type: "[]string", Default: []string{"mnli"}, Doc: "source tasks"},
		{Name: "fusion", Type: "bool", Default: true, Doc: "ablation switch"},
		{Name: "off", Type: "bool", Default: nil, Doc: "nil default"},
		{Name: "gate", Type: "string", Default: "pooled", Doc: "gate kind"},
		{Name: "seed", Type: "int", Default: int64(42), Doc: "a seed"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("settings\n got %#v\nwant %#v", got, want)
	}
}

func TestSettingsOfRejectsWhatCannotBeASetting(t *testing.T) {
	type untagged struct{ Rank int }
	type twice struct {
		A int `json:"a"`
		B int `json:"b" alias:"a"`
	}
	for _, c := range []struct {
		name string
		cfg  any
		want string
	}{
		{"not a struct", 3, "not a struct"},
		{"no json tag", untagged{}, "has no json tag"},
		{"a name declared twice", twice{}, `"a" is declared twice`},
	} {
		if _, err := SettingsOf(c.cfg); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want %q", c.name, err, c.want)
		}
	}
}

// fakeInput is a do-nothing InputMethod; fakeBackbone a do-nothing BackboneMethod.
type fakeInput struct{ cfg sampleSettings }

func (f *fakeInput) Setup(SetupEnv) error                      { return nil }
func (f *fakeInput) ParamGroups() []ParamGroup                 { return nil }
func (f *fakeInput) Config() any                               { return f.cfg }
func (f *fakeInput) Close()                                    {}
func (f *fakeInput) Transform(in Input, _ bool) (Input, error) { return in, nil }

type fakeBackbone struct{ fakeInput }

func (f *fakeBackbone) Transform()    {} // hides InputMethod's Transform
func (f *fakeBackbone) Hooks() *Hooks { return nil }

func registerSample(t *testing.T, d Description, build func(sampleSettings) Method) {
	t.Helper()
	RegisterConfigured(d, func() sampleSettings {
		return sampleSettings{baseSettings: baseSettings{Length: 100, LR: 0.3}, Gate: "pooled"}
	}, build)
}

func TestConfiguredMethodsResolveTheirSettings(t *testing.T) {
	registerSample(t, Description{Name: "test-describe-input", Label: "Sample", Family: FamilyInput, StepCost: 0.5},
		func(c sampleSettings) Method { return &fakeInput{cfg: c} })
	cases := []struct {
		name string
		raw  map[string]any
		want string // error fragment; "" = builds
		cfg  func(sampleSettings) bool
	}{
		{"defaults", nil, "", func(c sampleSettings) bool { return c.Length == 100 && c.LR == 0.3 }},
		{"current names", map[string]any{"length": 20, "lr": 0.5}, "", func(c sampleSettings) bool { return c.Length == 20 && c.LR == 0.5 }},
		{"deprecated spellings still work", map[string]any{"prompt_length": 7, "prompt_lr": 0.4}, "", func(c sampleSettings) bool { return c.Length == 7 && c.LR == 0.4 }},
		{"an unknown key lists the valid ones", map[string]any{"bogus": 1},
			`unknown setting "bogus"; valid settings: fusion, gate, length, lr, off, seed, sources (see ` + "`ptbench methods test-describe-input`)", nil},
		{"several unknown keys", map[string]any{"zz": 1, "aa": 2}, `unknown settings "aa", "zz"; valid settings:`, nil},
		{"one setting under two spellings", map[string]any{"length": 5, "prompt_length": 6}, "settings length and prompt_length are the same setting length", nil},
		{"a wrong type names the setting, the kind it wants and the value", map[string]any{"length": "long"}, `setting length: want a whole number, got "long"`, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			m, err := NewMethod("test-describe-input", c.raw)
			if c.want != "" {
				if err == nil || !strings.Contains(err.Error(), c.want) {
					t.Fatalf("error %v, want it to contain %q", err, c.want)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if cfg := m.Config().(sampleSettings); !c.cfg(cfg) {
				t.Errorf("resolved config %+v", cfg)
			}
		})
	}
	d, ok := Describe("test-describe-input")
	if !ok || len(d.Settings) != 7 || d.Settings[0].Name != "length" || d.Settings[0].Default != 100 {
		t.Fatalf("description %+v", d)
	}
	if got := MethodLabel("test-describe-input", &fakeInput{}); got != "Sample" {
		t.Errorf("label %q, want the description's", got)
	}
	if MethodStepCost("test-describe-input") != 0.5 || MethodStepCost("no-such-method") != 1 {
		t.Errorf("step costs %v, %v", MethodStepCost("test-describe-input"), MethodStepCost("no-such-method"))
	}
	if n, ok := CanonicalSetting("test-describe-input", "prompt_lr"); n != "lr" || !ok {
		t.Errorf("CanonicalSetting(prompt_lr) = %q, %v", n, ok)
	}
	if got := DeprecatedSettings("test-describe-input", map[string]any{"prompt_lr": 1, "length": 2}); len(got) != 1 || got[0] != "prompt_lr (now lr)" {
		t.Errorf("DeprecatedSettings %v", got)
	}
}

func TestNewMethodChecksTheDeclaredFamily(t *testing.T) {
	registerSample(t, Description{Name: "test-describe-liar", Family: FamilyInput},
		func(c sampleSettings) Method { return &fakeBackbone{} })
	_, err := NewMethod("test-describe-liar", nil)
	if err == nil || !strings.Contains(err.Error(), `described as family "input" but implements "backbone"`) {
		t.Fatalf("error %v", err)
	}
	registerSample(t, Description{Name: "test-describe-peft", Family: FamilyInput, PEFT: "PROMPT_TUNING"},
		func(c sampleSettings) Method { return &fakeInput{} })
	if _, err := NewMethod("test-describe-peft", nil); err == nil || !strings.Contains(err.Error(), "PEFT type") {
		t.Fatalf("a method described with a PEFT type it does not export: %v", err)
	}
}

func TestASecondBaselinePanics(t *testing.T) {
	if BaselineMethod() == "" {
		RegisterDescribed(Description{Name: "test-describe-baseline", Baseline: true}, func(map[string]any) (Method, error) { return nil, errors.New("unused") })
	}
	defer func() {
		if recover() == nil {
			t.Error("a second baseline registered")
		}
	}()
	RegisterDescribed(Description{Name: "test-describe-baseline-2", Baseline: true}, func(map[string]any) (Method, error) { return nil, errors.New("unused") })
}
