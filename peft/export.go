package peft

import (
	"encoding/json"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"

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

// ConfigChecker is an Importer that checks a folder's adapter_config.json against its own
// settings without a backbone (what ImportPEFT checks short of shapes), so that `ptbench run
// --init-from` refuses a folder before anything loads.
type ConfigChecker interface {
	CheckPEFTConfig(a *Adapter) error
}

// Check is --init-from's preflight for a built (not set-up) method: m must load a's
// peft_type, and a's config must pass m's ConfigChecker where it has one.
func Check(m core.Method, a *Adapter) error {
	imp, err := importer(m, a)
	if err != nil {
		return err
	}
	if c, ok := imp.(ConfigChecker); ok {
		return c.CheckPEFTConfig(a)
	}
	return nil
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
		return nil, fmt.Errorf("--init-from %s: this method has no PEFT equivalent to load (PEFT equivalents: %s)", a.Dir, Equivalents())
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
		return nil, fmt.Errorf("method %s has no PEFT equivalent (PEFT equivalents: %s): use --format native", src.Method, Equivalents())
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
// each tensor (Pattern is a path.Match pattern over the checkpoint's tensor names). Methods
// give it in their core.Description (Tensors).
type Description = core.TensorDoc

// TensorRole is one tensor (or family of tensors) of an equation.
type TensorRole = core.TensorRole

// Describer is a method that describes its checkpoint at run time, overriding its
// registered description.
type Describer interface{ DescribeTensors() Description }

// Describe returns a method's description: its own (Describer), its registered one, or none.
// m may be nil (the run's method could not be rebuilt).
func Describe(name string, m core.Method) (Description, bool) {
	if d, ok := m.(Describer); ok {
		return d.DescribeTensors(), true
	}
	if d, ok := core.Describe(name); ok && d.Tensors != nil {
		return *d.Tensors, true
	}
	return Description{}, false
}

// Methods are the registered methods with a PEFT equivalent (their descriptions' PEFT type),
// sorted: the methods `export --format peft` and `run --init-from` take.
func Methods() []string {
	var out []string
	for _, d := range core.Descriptions() {
		if d.PEFT != "" {
			out = append(out, d.Name)
		}
	}
	return out
}

// Equivalents names the registered methods with a PEFT equivalent, for errors: "pt ↔
// PROMPT_TUNING, lora ↔ LORA".
func Equivalents() string {
	var out []string
	for _, d := range core.Descriptions() {
		if d.PEFT != "" {
			out = append(out, d.Name+" ↔ "+d.PEFT)
		}
	}
	if len(out) == 0 {
		return "none registered"
	}
	return strings.Join(out, ", ")
}

// role is the role of the checkpoint tensor name under d ("" if no pattern matches).
func role(d Description, name string) string {
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
	var built core.Method // nil when the run's method cannot be rebuilt here (a plugin): generic
	if m, err := src.method(); err == nil {
		built = m
		defer m.Close()
		if e, isExp := m.(Exporter); isExp {
			n.PEFT = e.PEFTType()
		}
	}
	desc, ok := Describe(src.Method, built)
	n.Equation, n.Undescribed = desc.Equation, !ok
	tensors := f.Tensors()
	for _, t := range tensors {
		n.Tensors = append(n.Tensors, TensorInfo{Name: t.Name, Shape: t.Shape, DType: t.DType, Role: role(desc, t.Name)})
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	meta := provenance(src)
	meta[safetensors.FormatKey] = safetensors.FormatPyTorch
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
