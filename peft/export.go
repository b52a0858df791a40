package peft

import (
	"encoding/json"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"sort"

	"github.com/ptbench/ptbench/core"
	"github.com/ptbench/ptbench/core/safetensors"
)

// Exporter is a method with a PEFT equivalent. ExportPEFT is called on a method built from
// the run's config (not set up) with the checkpoint's tensors by name; it returns its
// peft_type's own config fields and the state dict under PEFT's key names. The common
// fields (base_model_name_or_path, task_type, peft_type, …) are added by Export.
type Exporter interface {
	PEFTType() string
	ExportPEFT(ck map[string]*safetensors.Tensor, bb core.BackboneInfo) (fields map[string]any, state []*safetensors.Tensor, err error)
}

// Importer is a method that loads a PEFT adapter. ImportPEFT copies a's tensors into the
// parameters Setup made, checking every field and shape first (errors name the file and the
// tensor). InitFromPEFT keeps a so that Setup ends with Load(m, a, backbone) — the
// `ptbench run --init-from` path.
type Importer interface {
	PEFTType() string
	ImportPEFT(a *Adapter, bb core.BackboneInfo) error
	InitFromPEFT(a *Adapter)
}

// Load loads a into a set-up method: the method must be an Importer of a's peft_type and a's
// task_type must fit the backbone.
func Load(m core.Method, a *Adapter, bb core.BackboneInfo) error {
	imp, err := importer(m, a)
	if err != nil {
		return err
	}
	if err := a.checkTaskType(bb); err != nil {
		return err
	}
	return imp.ImportPEFT(a, bb)
}

// Attach makes m's Setup load a (see Importer), after checking that m can.
func Attach(m core.Method, a *Adapter) error {
	imp, err := importer(m, a)
	if err != nil {
		return err
	}
	imp.InitFromPEFT(a)
	return nil
}

func importer(m core.Method, a *Adapter) (Importer, error) {
	imp, ok := m.(Importer)
	if !ok {
		return nil, fmt.Errorf("--init-from %s: method %T cannot load a PEFT adapter (PEFT equivalents: pt ↔ %s, lora ↔ %s)", a.Dir, m, PromptTuning, LoRA)
	}
	if pt := a.PeftType(); pt != imp.PEFTType() {
		return nil, a.Errorf("peft_type is %q but this method loads %q adapters", pt, imp.PEFTType())
	}
	return imp, nil
}

// Source is a trained run as export sees it.
type Source struct {
	Method     string         // registered method name
	Config     map[string]any // the method's resolved config (raw)
	Backbone   core.BackboneInfo
	Checkpoint string // the run's checkpoint (a safetensors file)
	RunKey     string
}

// Written says what an export wrote.
type Written struct {
	Format   string         `json:"format"` // "peft" or "native"
	Dir      string         `json:"dir"`
	Files    []string       `json:"files"`
	Method   string         `json:"method"`
	PeftType string         `json:"peft_type,omitempty"`
	Config   map[string]any `json:"adapter_config,omitempty"`
	Tensors  []TensorInfo   `json:"tensors"`
}

// TensorInfo describes one exported tensor.
type TensorInfo struct {
	Name  string  `json:"name"`
	Shape []int64 `json:"shape"`
	DType string  `json:"dtype"`
	Role  string  `json:"role,omitempty"`
}

func (s Source) method() (core.Method, error) {
	m, err := core.NewMethod(s.Method, s.Config)
	if err != nil {
		return nil, fmt.Errorf("rebuilding the run's method: %w", err)
	}
	return m, nil
}

func readCheckpoint(p string) (*safetensors.File, map[string]*safetensors.Tensor, error) {
	if st, err := os.Stat(p); err == nil && st.IsDir() {
		return nil, nil, fmt.Errorf("checkpoint %s is a directory (a full model, e.g. FT's): open it as a backbone instead", p)
	}
	f, err := safetensors.Read(p)
	if err != nil {
		return nil, nil, err
	}
	ck := map[string]*safetensors.Tensor{}
	for _, t := range f.Tensors() {
		ck[t.Name] = t
	}
	return f, ck, nil
}

// Export writes src as a PEFT adapter folder in dir.
func Export(src Source, dir string) (*Written, error) {
	m, err := src.method()
	if err != nil {
		return nil, err
	}
	defer m.Close()
	exp, ok := m.(Exporter)
	if !ok {
		return nil, fmt.Errorf("method %s has no PEFT equivalent (PEFT has pt as %s and lora as %s): use --format native", src.Method, PromptTuning, LoRA)
	}
	_, ck, err := readCheckpoint(src.Checkpoint)
	if err != nil {
		return nil, err
	}
	fields, state, err := exp.ExportPEFT(ck, src.Backbone)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", src.Checkpoint, err)
	}
	var base any
	if src.Backbone.Name != "" {
		base = src.Backbone.Name
	}
	cfg := map[string]any{
		"auto_mapping": nil, "base_model_name_or_path": base, "revision": nil,
		"inference_mode": true, "peft_type": exp.PEFTType(), "task_type": TaskType(src.Backbone),
	}
	for k, v := range fields {
		cfg[k] = v
	}
	a := &Adapter{Dir: dir, Config: cfg, Tensors: map[string]*safetensors.Tensor{}, Metadata: provenance(src)}
	w := &Written{Format: "peft", Dir: dir, Method: src.Method, PeftType: exp.PEFTType(), Config: cfg,
		Files: []string{filepath.Join(dir, ConfigName), filepath.Join(dir, WeightsName)}}
	for _, t := range state {
		a.Tensors[t.Name] = t
		w.Tensors = append(w.Tensors, TensorInfo{Name: t.Name, Shape: t.Shape, DType: t.DType})
	}
	sort.Slice(w.Tensors, func(i, j int) bool { return w.Tensors[i].Name < w.Tensors[j].Name })
	if err := a.Write(dir); err != nil {
		return nil, err
	}
	return w, nil
}

func provenance(src Source) map[string]string {
	cfg, _ := json.Marshal(src.Config)
	return map[string]string{"ptbench.method": src.Method, "ptbench.config": string(cfg), "ptbench.run_key": src.RunKey}
}

// Description is what the native export says about a method: its equation and the role of
// each tensor (Pattern is a path.Match pattern over the checkpoint's tensor names).
type Description struct {
	Equation string
	Tensors  []TensorRole
}

// TensorRole is one tensor (or family of tensors) of an equation.
type TensorRole struct {
	Pattern string
	Role    string
}

// Describer is a method that describes its checkpoint for the native export.
type Describer interface{ DescribeTensors() Description }

// described are the methods whose packages do not (yet) implement Describer, from their
// package docs.
var described = map[string]Description{
	"dept": {
		Equation: "E'_t = E_t + (α/√r)·(A B)[pos(t)];  H0 = [P_s ; E']   (DePT, Shi & Lipani 2024)",
		Tensors: []TensorRole{
			{"prompt", "P_s ∈ R^{m×d}: the short soft prompt prepended to the input embeddings"},
			{"lora_A", "A ∈ R^{s×r}: row p scales the offset added to the token at source position p"},
			{"lora_B", "B ∈ R^{r×d}: the offset's basis; (α/√r)·A B ∈ R^{s×d} is added position by position"},
		},
	},
	"ept": {
		Equation: "E' = E + (α/√r)·(A B)[pos];  F = softmax(P_s Kᵀ/√d) V with K = V = (α/√r)·A B;  P_f = P_s + F;  " +
			"P_ms = Σ_i g_i P_f W_down^(i) W_up^(i), g = softmax(W_g·mean_rows(P_f) + b_g);  H0 = [P_f + P_ms ; E']   (EPT reimpl.)",
		Tensors: []TensorRole{
			{"prompt", "P_s ∈ R^{m×d}: the short soft prompt (fused and projected before it is prepended)"},
			{"lora_A", "A ∈ R^{s×r}: DePT's position-wise offset factor"},
			{"lora_B", "B ∈ R^{r×d}: DePT's offset basis; (α/√r)·A B is the offset and the fusion's keys and values"},
			{"proj_down", "W_down ∈ R^{N×d×k}: the N spaces' down projections"},
			{"proj_up", "W_up ∈ R^{N×k×d}: the N spaces' up projections"},
			{"gate_w", "W_g ∈ R^{N×d}: the gate over the N spaces"},
			{"gate_b", "b_g ∈ R^N: the gate's bias"},
		},
	},
}

// Describe returns a method's description: its own (Describer), the table's, or none.
func Describe(name string, m core.Method) (Description, bool) {
	if d, ok := m.(Describer); ok {
		return d.DescribeTensors(), true
	}
	d, ok := described[name]
	return d, ok
}

func (d Description) role(name string) string {
	for _, t := range d.Tensors {
		if ok, _ := path.Match(t.Pattern, name); ok {
			return t.Role
		}
	}
	return ""
}

// Native is the JSON written beside a native export.
type Native struct {
	Format      string            `json:"format"` // "ptbench-native/1"
	Method      string            `json:"method"`
	Config      map[string]any    `json:"config"`
	Backbone    core.BackboneInfo `json:"backbone"`
	RunKey      string            `json:"run_key,omitempty"`
	Equation    string            `json:"equation,omitempty"`
	Tensors     []TensorInfo      `json:"tensors"`
	PEFT        string            `json:"peft_equivalent,omitempty"` // the peft_type of --format peft, if any
	Weights     string            `json:"weights"`                   // the safetensors file's name
	Undescribed bool              `json:"undescribed,omitempty"`     // no description: names, shapes and dtypes only
}

// ExportNative writes dir/<method>.safetensors (the checkpoint's tensors, names kept) and
// dir/<method>.json (a Native) for any method.
func ExportNative(src Source, dir string) (*Written, error) {
	f, _, err := readCheckpoint(src.Checkpoint)
	if err != nil {
		return nil, err
	}
	n := Native{Format: "ptbench-native/1", Method: src.Method, Config: src.Config, Backbone: src.Backbone,
		RunKey: src.RunKey, Weights: src.Method + ".safetensors"}
	desc, ok := Description{}, false
	if m, err := src.method(); err == nil { // a plugin not registered here: generic
		desc, ok = Describe(src.Method, m)
		if e, isExp := m.(Exporter); isExp {
			n.PEFT = e.PEFTType()
		}
		m.Close()
	} else if d, has := described[src.Method]; has {
		desc, ok = d, true
	}
	n.Equation, n.Undescribed = desc.Equation, !ok
	tensors := f.Tensors()
	for _, t := range tensors {
		n.Tensors = append(n.Tensors, TensorInfo{Name: t.Name, Shape: t.Shape, DType: t.DType, Role: desc.role(t.Name)})
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	meta := provenance(src)
	meta["format"] = "pt"
	wpath := filepath.Join(dir, n.Weights)
	if err := safetensors.Write(wpath, tensors, meta); err != nil {
		return nil, err
	}
	js, err := json.MarshalIndent(n, "", "  ")
	if err != nil {
		return nil, err
	}
	jpath := filepath.Join(dir, src.Method+".json")
	if err := os.WriteFile(jpath, append(js, '\n'), 0o644); err != nil {
		return nil, err
	}
	return &Written{Format: "native", Dir: dir, Method: src.Method, Files: []string{wpath, jpath}, Tensors: n.Tensors}, nil
}
