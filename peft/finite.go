package peft

import (
	"encoding/binary"
	"fmt"
	"path/filepath"
	"slices"

	"github.com/ptbench/ptbench/core/safetensors"
)

// firstNonFinite returns the index of the first NaN or ±Inf element of a float tensor (its
// exponent bits all ones), or -1. The check reads the stored bits, so it costs no conversion.
func firstNonFinite(t *safetensors.Tensor) int {
	d := t.Data
	switch t.DType {
	case "F32":
		for i := 0; i+4 <= len(d); i += 4 {
			if binary.LittleEndian.Uint32(d[i:])&0x7f800000 == 0x7f800000 {
				return i / 4
			}
		}
	case "F64":
		for i := 0; i+8 <= len(d); i += 8 {
			if binary.LittleEndian.Uint64(d[i:])&0x7ff0000000000000 == 0x7ff0000000000000 {
				return i / 8
			}
		}
	case "F16":
		for i := 0; i+2 <= len(d); i += 2 {
			if binary.LittleEndian.Uint16(d[i:])&0x7c00 == 0x7c00 {
				return i / 2
			}
		}
	case "BF16":
		for i := 0; i+2 <= len(d); i += 2 {
			if binary.LittleEndian.Uint16(d[i:])&0x7f80 == 0x7f80 {
				return i / 2
			}
		}
	}
	return -1
}

// checkFinite refuses a tensor holding NaN or ±Inf, naming the file and the tensor: loaded
// as an initialisation it would only show later as a run that "diverged".
func (a *Adapter) checkFinite(name string, t *safetensors.Tensor) error {
	if i := firstNonFinite(t); i >= 0 {
		return fmt.Errorf("%s: tensor %q holds a non-finite value (NaN or ±Inf) at element %d: not a usable initialisation", a.WeightsPath(), name, i)
	}
	return nil
}

// Warnings are what an adapter loads despite, said before a run starts from it: tensors a
// prompt-tuning adapter holds beside prompt_embeddings (ignored by the load), and a
// base_model_name_or_path that names another backbone than the run's (the adapter was
// trained on another model; loading it is allowed, shapes permitting, but rarely meant).
func (a *Adapter) Warnings(backbone string) []string {
	var out []string
	if a.PeftType() == PromptTuning {
		var extra []string
		for n := range a.Tensors {
			if n != "prompt_embeddings" {
				extra = append(extra, n)
			}
		}
		slices.Sort(extra)
		if len(extra) > 0 {
			out = append(out, fmt.Sprintf("%s: tensors %v are not part of a prompt-tuning adapter and are ignored", a.WeightsPath(), extra))
		}
	}
	if base, err := a.OptString("base_model_name_or_path"); err == nil && base != "" && backbone != "" &&
		base != backbone && filepath.Base(filepath.Clean(base)) != filepath.Base(filepath.Clean(backbone)) {
		out = append(out, fmt.Sprintf("%s: base_model_name_or_path is %q but this run's backbone is %q", a.ConfigPath(), base, backbone))
	}
	return out
}
