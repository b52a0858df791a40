package peft

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"github.com/ptbench/ptbench/core"
	"github.com/ptbench/ptbench/core/safetensors"
	"github.com/sugarme/gotch/ts"
)

// File names of a PEFT adapter folder (peft/utils/constants.py).
const (
	ConfigName  = "adapter_config.json"
	WeightsName = "adapter_model.safetensors"
	binName     = "adapter_model.bin"
)

// PEFT's names for the things ptbench maps.
const (
	PromptTuning = "PROMPT_TUNING"
	LoRA         = "LORA"
	Seq2SeqLM    = "SEQ_2_SEQ_LM"
	CausalLM     = "CAUSAL_LM"
)

// Adapter is a PEFT adapter folder in memory.
type Adapter struct {
	Dir      string
	Config   map[string]any                 // adapter_config.json
	Tensors  map[string]*safetensors.Tensor // adapter_model.safetensors
	Metadata map[string]string              // its metadata
	// SHA256 is the hash of both files' bytes (read only): a run initialised from the folder
	// carries it in its identity.
	SHA256 string
}

// ConfigPath and WeightsPath are the folder's two files.
func (a *Adapter) ConfigPath() string  { return filepath.Join(a.Dir, ConfigName) }
func (a *Adapter) WeightsPath() string { return filepath.Join(a.Dir, WeightsName) }

// Read loads and checks a PEFT adapter folder: both files present, the config a JSON object
// with a peft_type, the weights a valid safetensors file. Errors name the file.
func Read(dir string) (*Adapter, error) {
	a := &Adapter{Dir: dir}
	if st, err := os.Stat(dir); err != nil {
		return nil, fmt.Errorf("PEFT adapter folder: %w", err)
	} else if !st.IsDir() {
		return nil, fmt.Errorf("PEFT adapter folder %s is not a directory (it holds %s and %s)", dir, ConfigName, WeightsName)
	}
	cfgRaw, err := os.ReadFile(a.ConfigPath())
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("%s: missing: a PEFT adapter folder holds %s and %s", a.ConfigPath(), ConfigName, WeightsName)
	}
	if err != nil {
		return nil, err
	}
	dec := json.NewDecoder(bytes.NewReader(cfgRaw))
	dec.UseNumber()
	if err := dec.Decode(&a.Config); err != nil || a.Config == nil {
		if err == nil {
			err = errors.New("not a JSON object")
		}
		return nil, fmt.Errorf("%s: %w", a.ConfigPath(), err)
	}
	if _, err := a.String("peft_type"); err != nil {
		return nil, err
	}
	wRaw, err := os.ReadFile(a.WeightsPath())
	if errors.Is(err, os.ErrNotExist) {
		if _, berr := os.Stat(filepath.Join(dir, binName)); berr == nil {
			return nil, fmt.Errorf("%s: missing (the folder has %s, a pickle; save the adapter with safe_serialization=True)", a.WeightsPath(), binName)
		}
		return nil, fmt.Errorf("%s: missing: a PEFT adapter folder holds %s and %s", a.WeightsPath(), ConfigName, WeightsName)
	}
	if err != nil {
		return nil, err
	}
	f, err := safetensors.Parse(a.WeightsPath(), wRaw)
	if err != nil {
		return nil, err
	}
	a.Metadata = f.Metadata
	a.Tensors = map[string]*safetensors.Tensor{}
	for _, t := range f.Tensors() {
		if err := a.checkFinite(t.Name, t); err != nil { // finite.go: refused at load, before any run
			return nil, err
		}
		a.Tensors[t.Name] = t
	}
	h := sha256.New()
	fmt.Fprintf(h, "%s\x00%d\x00", ConfigName, len(cfgRaw))
	h.Write(cfgRaw)
	fmt.Fprintf(h, "\x00%s\x00%d\x00", WeightsName, len(wRaw))
	h.Write(wRaw)
	a.SHA256 = hex.EncodeToString(h.Sum(nil))
	return a, nil
}

// Write saves the adapter in dir (created if needed): the config as PEFT writes it (keys
// sorted, indent 2) and the tensors with metadata {"format": "pt"} plus a.Metadata.
func (a *Adapter) Write(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	cfg, err := json.MarshalIndent(a.Config, "", "  ")
	if err != nil {
		return fmt.Errorf("%s: %w", filepath.Join(dir, ConfigName), err)
	}
	meta := map[string]string{safetensors.FormatKey: safetensors.FormatPyTorch}
	for k, v := range a.Metadata {
		meta[k] = v
	}
	names := make([]string, 0, len(a.Tensors))
	for n := range a.Tensors {
		names = append(names, n)
	}
	sort.Strings(names)
	ts := make([]*safetensors.Tensor, len(names))
	for i, n := range names {
		ts[i] = a.Tensors[n]
	}
	if err := safetensors.Write(filepath.Join(dir, WeightsName), ts, meta); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, ConfigName), append(cfg, '\n'), 0o644)
}

// PeftType is the config's peft_type.
func (a *Adapter) PeftType() string { s, _ := a.String("peft_type"); return s }

// Errorf is an error about the config file.
func (a *Adapter) Errorf(format string, args ...any) error {
	return fmt.Errorf("%s: %s", a.ConfigPath(), fmt.Sprintf(format, args...))
}

// present reports whether key is set to a non-null value.
func (a *Adapter) present(key string) bool { v, ok := a.Config[key]; return ok && v != nil }

// String is a required string field.
func (a *Adapter) String(key string) (string, error) {
	v, ok := a.Config[key]
	if !ok || v == nil {
		return "", a.Errorf("field %q is missing", key)
	}
	s, ok := v.(string)
	if !ok {
		return "", a.Errorf("field %q is %v, not a string", key, v)
	}
	return s, nil
}

// OptString is a string field that may be missing or null ("" then).
func (a *Adapter) OptString(key string) (string, error) {
	if !a.present(key) {
		return "", nil
	}
	return a.String(key)
}

// Number is a required numeric field.
func (a *Adapter) Number(key string) (float64, error) {
	v, ok := a.Config[key]
	if !ok || v == nil {
		return 0, a.Errorf("field %q is missing", key)
	}
	switch n := v.(type) {
	case json.Number:
		f, err := n.Float64()
		if err == nil {
			return f, nil
		}
	case float64:
		return n, nil
	case int:
		return float64(n), nil
	}
	return 0, a.Errorf("field %q is %v, not a number", key, v)
}

// Int is a required integer field.
func (a *Adapter) Int(key string) (int, error) {
	f, err := a.Number(key)
	if err != nil {
		return 0, err
	}
	if f != math.Trunc(f) || math.Abs(f) > 1<<40 {
		return 0, a.Errorf("field %q is %v, not an integer", key, f)
	}
	return int(f), nil
}

// OptInt is an integer field that may be missing or null (ok false then).
func (a *Adapter) OptInt(key string) (int, bool, error) {
	if !a.present(key) {
		return 0, false, nil
	}
	n, err := a.Int(key)
	return n, err == nil, err
}

// Bool is a boolean field; missing or null is def.
func (a *Adapter) Bool(key string, def bool) (bool, error) {
	if !a.present(key) {
		return def, nil
	}
	b, ok := a.Config[key].(bool)
	if !ok {
		return false, a.Errorf("field %q is %v, not true or false", key, a.Config[key])
	}
	return b, nil
}

// Strings is a list of strings (a single string is a one-element list, as PEFT's
// target_modules may be a regex string: then ok is false and the string is returned alone).
func (a *Adapter) Strings(key string) (list []string, isList bool, err error) {
	switch v := a.Config[key].(type) {
	case nil:
		return nil, true, nil
	case string:
		return []string{v}, false, nil
	case []any:
		for _, x := range v {
			s, ok := x.(string)
			if !ok {
				return nil, true, a.Errorf("field %q holds %v, not a string", key, x)
			}
			list = append(list, s)
		}
		return list, true, nil
	}
	return nil, true, a.Errorf("field %q is %v, not a list of strings", key, a.Config[key])
}

// Empty reports whether a field is missing, null, false, "", [] or {} (an unused option).
func (a *Adapter) Empty(key string) bool {
	switch v := a.Config[key].(type) {
	case nil:
		return true
	case bool:
		return !v
	case string:
		return v == "" || v == "none"
	case []any:
		return len(v) == 0
	case map[string]any:
		return len(v) == 0
	}
	return false
}

// Tensor returns a tensor of the state dict with the shape wanted (a dimension < 0 is not
// checked). Errors name the file and the tensor.
func (a *Adapter) Tensor(name string, shape []int64, why string) (*safetensors.Tensor, error) {
	t, ok := a.Tensors[name]
	if !ok {
		names := slices.Sorted(func(yield func(string) bool) {
			for n := range a.Tensors {
				if !yield(n) {
					return
				}
			}
		})
		if len(names) > 4 {
			names = append(names[:4], fmt.Sprintf("… %d in all", len(a.Tensors)))
		}
		return nil, fmt.Errorf("%s: tensor %q is missing (the file has %s)", a.WeightsPath(), name, strings.Join(names, ", "))
	}
	bad := len(t.Shape) != len(shape)
	for i := 0; !bad && i < len(shape); i++ {
		bad = shape[i] >= 0 && shape[i] != t.Shape[i]
	}
	if bad {
		return nil, fmt.Errorf("%s: tensor %q has shape %v, want %v (%s)", a.WeightsPath(), name, t.Shape, shapeString(shape), why)
	}
	switch t.DType {
	case "F32", "F16", "BF16", "F64":
	default:
		return nil, fmt.Errorf("%s: tensor %q has dtype %s, want a float type", a.WeightsPath(), name, t.DType)
	}
	if err := a.checkFinite(name, t); err != nil { // finite.go
		return nil, err
	}
	return t, nil
}

func shapeString(s []int64) string {
	parts := make([]string, len(s))
	for i, d := range s {
		parts[i] = fmt.Sprint(d)
		if d < 0 {
			parts[i] = "*"
		}
	}
	return "[" + strings.Join(parts, " ") + "]"
}

// TaskType is PEFT's task_type for a backbone.
func TaskType(bb core.BackboneInfo) string {
	if bb.EncoderDecoder {
		return Seq2SeqLM
	}
	return CausalLM
}

// checkTaskType refuses an adapter made for the other kind of model (null is accepted).
func (a *Adapter) checkTaskType(bb core.BackboneInfo) error {
	tt, err := a.OptString("task_type")
	if err != nil || tt == "" {
		return err
	}
	want := TaskType(bb)
	if (tt == Seq2SeqLM || tt == CausalLM) && tt != want {
		return a.Errorf("task_type is %s but backbone %s is %s", tt, bb.Name, want)
	}
	return nil
}

// CopyInto copies a state-dict tensor into a parameter of the same shape (converted to the
// parameter's dtype and device), without recording gradients.
func CopyInto(dst *ts.Tensor, src *safetensors.Tensor) error {
	want, err := dst.Size()
	if err != nil {
		return err
	}
	if !slices.Equal(want, src.Shape) {
		return fmt.Errorf("tensor %q has shape %v, the parameter %v", src.Name, src.Shape, want)
	}
	t, err := core.ToTorch(src)
	if err != nil {
		return err
	}
	if t.DType() != dst.DType() {
		if t, err = t.Totype(dst.DType(), true); err != nil {
			return fmt.Errorf("tensor %q: %w", src.Name, err)
		}
	}
	ts.NoGrad(func() { dst.Copy_(t) })
	return t.Drop()
}
