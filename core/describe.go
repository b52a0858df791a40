package core

import (
	"fmt"
	"sort"
	"strings"
)

// Description is everything ptbench knows about a method without building it, registered
// once with the method (RegisterConfigured) and read by everything else: listings and
// `ptbench methods NAME`, settings validation, leaderboard labels, shard costs, the PEFT
// export, preflight checks. No other package keeps a table keyed by method names.
type Description struct {
	Name  string `json:"name"`
	Label string `json:"label"` // how leaderboards name it ("EPT (reimpl.)"); "" = Name
	About string `json:"about"` // one line for `ptbench methods`
	// Family says how the method acts; NewMethod checks that the built method implements
	// the family's interfaces.
	Family Family `json:"family,omitempty"`
	// Settings are derived from the config struct (RegisterConfigured): json tag = name, Go
	// type = type, the default config's value = default, `doc:"…"` tag = doc. nil for a
	// method that checks its own settings (plugins).
	Settings []Setting `json:"settings"`
	// StepCost is the estimated time of one training step relative to the baseline method
	// (PT = 1), used to balance shards and to estimate a grid's time. 0 = unknown (counted 1).
	StepCost float64 `json:"step_cost,omitempty"`
	// Baseline marks the method others are compared to (step time "× PT") and the one
	// `ptbench bench` runs by default. At most one registered method is the baseline.
	Baseline bool `json:"baseline,omitempty"`
	// PEFT is the Hugging Face PEFT peft_type the method exports to and imports from
	// ("PROMPT_TUNING", "LORA"); "" = none (`ptbench export --format native` only).
	PEFT string `json:"peft_type,omitempty"`
	// Tensors is the method's equation and the role of each checkpoint tensor, written by
	// the native export (nil: names, shapes and dtypes only).
	Tensors *TensorDoc `json:"tensors,omitempty"`
	Needs   Needs      `json:"needs"`
	// AdamEps is AdamW's ε as the method's reference code trains it (cite it in
	// docs/fidelity.md); 0 = DefaultAdamEps. A run's --adam-eps overrides it.
	AdamEps float64 `json:"adam_eps,omitempty"`
	// Revision counts fixes that change what the method computes for some configurations
	// (0: as first released). Run keys and artefact names hash it when it is not 0, so rows
	// computed before a fix are never resumed as if they were the fixed method's; a fix that
	// leaves every result bit-identical keeps the revision.
	Revision int `json:"revision,omitempty"`
	// (A fix that changed results only at some settings — weight decay above 0 — is the
	// config's RevisedConfig instead, so runs at the other settings keep their keys.)
	// Published is what the method's paper reports, shown beside measured results; nil when
	// it is not a published baseline with numbers on this benchmark.
	Published *Published `json:"published,omitempty"`
}

// Published is a method's published results: test scores per task (each the task's table
// score, on the paper's backbone) and the paper's training-time claim against the baseline.
type Published struct {
	Label    string             `json:"label"`            // "DePT (paper, T5-Base)"
	Scores   map[string]float64 `json:"scores,omitempty"` // task → published test score
	Note     string             `json:"note,omitempty"`   // how the numbers were obtained
	StepTime string             `json:"step_time,omitempty"`
}

// Family is how a method changes what the backbone computes (see the catalogue in doc.go).
type Family string

const (
	FamilyInput    Family = "input"          // InputMethod: changes the encoder input
	FamilyBackbone Family = "backbone"       // BackboneMethod: hooks inside the backbone
	FamilyBoth     Family = "input+backbone" // both
)

// Needs is what a method requires of a run beyond a backbone and a task.
type Needs struct {
	// Artefacts: states trained elsewhere (source-task prompts) that the harness trains or
	// finds before the run (the method implements ArtefactUser).
	Artefacts bool `json:"artefacts"`
	// EncoderDecoder: defined only for encoder–decoder backbones (T5, not Llama).
	EncoderDecoder bool `json:"encoder_decoder"`
	// MultiTask: trains on several tasks at once (its sources, or --multi-task).
	MultiTask bool `json:"multi_task"`
	// TrainsBackboneWeights: trains the backbone's own linear weights, so it cannot run on a
	// quantised (frozen 4-bit) backbone.
	TrainsBackboneWeights bool `json:"trains_backbone_weights"`
}

// Setting is one method setting as `ptbench methods NAME` lists it.
type Setting struct {
	Name    string `json:"name"`
	Type    string `json:"type"` // int, float, string, bool, []string, …
	Default any    `json:"default"`
	Doc     string `json:"doc"`
	// Aliases are deprecated spellings still accepted (renamed settings keep old files
	// working); a config is recorded under Name.
	Aliases []string `json:"deprecated_aliases,omitempty"`
}

// TensorDoc is a method's equation and the role of each tensor (or family of tensors) of
// its checkpoint; Pattern is a path.Match pattern over checkpoint tensor names.
type TensorDoc struct {
	Equation string       `json:"equation"`
	Tensors  []TensorRole `json:"tensors"`
}

// TensorRole is one tensor (or family of tensors) of an equation.
type TensorRole struct {
	Pattern string `json:"pattern"`
	Role    string `json:"role"`
}

// methodEntry is what the method registry holds per name.
type methodEntry struct {
	desc    Description
	factory MethodFactory
}

// Describe returns the registered method's description.
func Describe(name string) (Description, bool) {
	e, err := methodRegistry.lookup(name)
	if err != nil {
		return Description{}, false
	}
	return e.desc, true
}

// Descriptions lists every registered method's description, sorted by name.
func Descriptions() []Description {
	var out []Description
	for _, r := range methodRegistry.list() {
		if d, ok := Describe(r.Name); ok {
			out = append(out, d)
		}
	}
	return out
}

// DisplayLabel is the label leaderboards use: Label, or the name when none is given.
func (d Description) DisplayLabel() string {
	if d.Label != "" {
		return d.Label
	}
	return d.Name
}

// MethodStepCost is the method's estimated step time relative to the baseline (its
// description's StepCost; 1 for an unknown method or a plugin).
func MethodStepCost(name string) float64 {
	if d, ok := Describe(name); ok && d.StepCost > 0 {
		return d.StepCost
	}
	return 1
}

// BaselineMethod is the registered method marked Baseline ("" when none is registered).
func BaselineMethod() string {
	for _, d := range Descriptions() {
		if d.Baseline {
			return d.Name
		}
	}
	return ""
}

// SettingNames are the description's setting names, sorted (nil: the method checks its own).
func (d Description) SettingNames() []string {
	var out []string
	for _, s := range d.Settings {
		out = append(out, s.Name)
	}
	sort.Strings(out)
	return out
}

// Setting finds a setting by its name or a deprecated alias.
func (d Description) Setting(key string) (Setting, bool) {
	for _, s := range d.Settings {
		if s.Name == key {
			return s, true
		}
	}
	for _, s := range d.Settings {
		for _, a := range s.Aliases {
			if a == key {
				return s, true
			}
		}
	}
	return Setting{}, false
}

// CanonicalSetting is key under its current name (a deprecated alias is renamed); ok is false
// for a key the method does not have. A method without a settings list (a plugin) keeps
// every key.
func CanonicalSetting(method, key string) (name string, ok bool) {
	d, found := Describe(method)
	if !found || d.Settings == nil {
		return key, true
	}
	s, ok := d.Setting(key)
	return s.Name, ok
}

// DeprecatedSettings names the keys of raw that are deprecated spellings ("prompt_length
// (now length)"), sorted, for a warning; nil when there are none.
func DeprecatedSettings(method string, raw map[string]any) []string {
	d, ok := Describe(method)
	if !ok {
		return nil
	}
	var out []string
	for k := range raw {
		if s, ok := d.Setting(k); ok && s.Name != k {
			out = append(out, fmt.Sprintf("%s (now %s)", k, s.Name))
		}
	}
	sort.Strings(out)
	return out
}

// resolve renames deprecated aliases to their settings and rejects keys the method does not
// have, listing the valid ones. A setting given under two spellings is an error (which one
// was meant is unclear).
func (d Description) resolve(raw map[string]any) (map[string]any, error) {
	if d.Settings == nil || len(raw) == 0 {
		return raw, nil
	}
	out := make(map[string]any, len(raw))
	var unknown []string
	spelled := map[string]string{}
	for k, v := range raw {
		s, ok := d.Setting(k)
		if !ok {
			unknown = append(unknown, fmt.Sprintf("%q", k))
			continue
		}
		if prev, dup := spelled[s.Name]; dup {
			a, b := prev, k
			if a > b {
				a, b = b, a
			}
			return nil, fmt.Errorf("settings %s and %s are the same setting %s (deprecated spelling: use %s)", a, b, s.Name, s.Name)
		}
		spelled[s.Name] = k
		out[s.Name] = v
	}
	if len(unknown) > 0 {
		sort.Strings(unknown)
		noun := "setting"
		if len(unknown) > 1 {
			noun = "settings"
		}
		return nil, fmt.Errorf("unknown %s %s; valid settings: %s (see `ptbench methods %s`)",
			noun, strings.Join(unknown, ", "), strings.Join(d.SettingNames(), ", "), d.Name)
	}
	return out, nil
}

// checkFamily rejects a built method that does not implement its declared family.
func (d Description) checkFamily(m Method) error {
	_, input := m.(InputMethod)
	_, inside := m.(BackboneMethod)
	if !input && !inside {
		return fmt.Errorf("method %s implements neither core.InputMethod nor core.BackboneMethod (see the catalogue in core's package doc)", d.Name)
	}
	var has Family
	switch {
	case input && inside:
		has = FamilyBoth
	case input:
		has = FamilyInput
	default:
		has = FamilyBackbone
	}
	if d.Family != "" && d.Family != has {
		return fmt.Errorf("method %s is described as family %q but implements %q", d.Name, d.Family, has)
	}
	exported := ""
	if p, ok := m.(interface{ PEFTType() string }); ok {
		exported = p.PEFTType()
	}
	if exported != d.PEFT {
		return fmt.Errorf("method %s is described with PEFT type %q but its PEFTType is %q", d.Name, d.PEFT, exported)
	}
	return nil
}

// RevisedConfig is a method config for which a fix changed results only at some values:
// ConfigRevision is the revision that applies to this configuration (0 where the fix changed
// nothing). Run keys and artefact names hash the larger of it and Description.Revision.
type RevisedConfig interface{ ConfigRevision() int }
