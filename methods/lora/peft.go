package lora

import (
	"fmt"
	"math"
	"slices"
	"sort"
	"strings"

	"github.com/sugarme/gotch/ts"

	"github.com/ptbench/ptbench/core"
	"github.com/ptbench/ptbench/core/safetensors"
	"github.com/ptbench/ptbench/peft"
)

// LoRA is PEFT's LORA: a site's A and B are "base_model.model.<site>.lora_A.weight" and
// ".lora_B.weight" (site names are Hugging Face module names), lora_alpha/r = α/r, and
// target_modules the adapted modules' last name components (see package peft).

func (m *Method) PEFTType() string { return peft.LoRA }

// PEFTKey is PEFT's state-dict key of a site's A ("A") or B ("B").
func PEFTKey(site, ab string) string { return "base_model.model." + site + ".lora_" + ab + ".weight" }

// targetModules is PEFT's target_modules for these sites: their sorted, distinct last
// name components.
func targetModules(sites []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, s := range sites {
		last := s[strings.LastIndex(s, ".")+1:]
		if !seen[last] {
			seen[last] = true
			out = append(out, last)
		}
	}
	sort.Strings(out)
	return out
}

// ExportPEFT maps the checkpoint's <site>.lora_A / .lora_B to PEFT's keys.
func (m *Method) ExportPEFT(ck map[string]*safetensors.Tensor, bb core.BackboneInfo) (map[string]any, []*safetensors.Tensor, error) {
	var sites []string
	for name := range ck {
		if site, ok := strings.CutSuffix(name, ".lora_A"); ok {
			sites = append(sites, site)
		} else if !strings.HasSuffix(name, ".lora_B") {
			return nil, nil, fmt.Errorf("tensor %q is not a site's lora_A or lora_B (is this a lora checkpoint?)", name)
		}
	}
	if len(sites) == 0 {
		return nil, nil, fmt.Errorf("no <site>.lora_A tensor (is this a lora checkpoint?)")
	}
	sort.Strings(sites)
	r := int64(m.cfg.Rank)
	var state []*safetensors.Tensor
	for _, site := range sites {
		a, b := ck[site+".lora_A"], ck[site+".lora_B"]
		if b == nil {
			return nil, nil, fmt.Errorf("tensor %q has no %q", site+".lora_A", site+".lora_B")
		}
		if len(a.Shape) != 2 || a.Shape[0] != r || len(b.Shape) != 2 || b.Shape[1] != r {
			return nil, nil, fmt.Errorf("site %s: lora_A %v, lora_B %v; want [%d in] and [out %d] (rank %d)", site, a.Shape, b.Shape, r, r, r)
		}
		ea, eb := *a, *b
		ea.Name, eb.Name = PEFTKey(site, "A"), PEFTKey(site, "B")
		state = append(state, &ea, &eb)
	}
	if len(state) != len(ck) {
		return nil, nil, fmt.Errorf("%d tensors, but %d sites have both lora_A and lora_B", len(ck), len(sites))
	}
	var alpha any = m.cfg.Alpha
	if m.cfg.Alpha == math.Trunc(m.cfg.Alpha) && m.cfg.Alpha < 1<<31 {
		alpha = int(m.cfg.Alpha) // PEFT's lora_alpha is an int
	}
	fields := map[string]any{
		"r": m.cfg.Rank, "lora_alpha": alpha, "lora_dropout": m.cfg.Dropout,
		"target_modules": targetModules(sites), "bias": "none", "fan_in_fan_out": false,
		"use_rslora": false, "use_dora": false, "init_lora_weights": true,
		"rank_pattern": map[string]any{}, "alpha_pattern": map[string]any{},
		"layers_to_transform": nil, "layers_pattern": nil, "modules_to_save": nil,
	}
	return fields, state, nil
}

// CheckPEFTConfig checks what needs no backbone (peft.ConfigChecker): r and lora_alpha
// against the method's, no option ptbench's lora lacks, no init that makes PEFT rewrite W.
func (m *Method) CheckPEFTConfig(a *peft.Adapter) error {
	r, err := a.Int("r")
	if err != nil {
		return err
	}
	if r != m.cfg.Rank {
		return a.Errorf("r is %d but the lora method's rank is %d (set lora.rank=%d)", r, m.cfg.Rank, r)
	}
	alpha, err := a.Number("lora_alpha")
	if err != nil {
		return err
	}
	if alpha != m.cfg.Alpha {
		return a.Errorf("lora_alpha is %g but the lora method's alpha is %g (set lora.alpha=%g)", alpha, m.cfg.Alpha, alpha)
	}
	for _, f := range []string{"use_rslora", "use_dora", "fan_in_fan_out", "lora_bias", "bias", "rank_pattern",
		"alpha_pattern", "layers_to_transform", "modules_to_save", "exclude_modules", "trainable_token_indices", "layer_replication",
		"alora_invocation_tokens"} { // aLoRA: the same tensors, another forward pass
		if !a.Empty(f) {
			return a.Errorf("%s is %v: ptbench's lora has no equivalent", f, a.Config[f])
		}
	}
	// PiSSA, OLoRA, CorDA and LoftQ: PEFT re-runs the init when it loads such a folder and
	// replaces the base weight by a residual (W − s·B₀A₀ for PiSSA; tuners/lora/layer.py), so
	// the folder's B A belongs to another W than the checkpoint's.
	if init, ok := a.Config["init_lora_weights"].(string); ok {
		switch low := strings.ToLower(init); {
		case strings.HasPrefix(low, "pissa"), low == "olora", low == "corda", low == "loftq":
			return a.Errorf("init_lora_weights is %q: PEFT replaces the base weight for it when it loads the folder, which ptbench's lora does not; only folders whose init leaves W alone (true, false, gaussian, orthogonal, eva, mica) load", init)
		}
	}
	return nil
}

// ImportPEFT copies every site's lora_A and lora_B after checking r, lora_alpha,
// target_modules, the options ptbench's LoRA lacks, and that the state dict holds exactly
// the method's sites.
func (m *Method) ImportPEFT(a *peft.Adapter, bb core.BackboneInfo) error {
	if len(m.pairs) == 0 {
		return fmt.Errorf("lora: ImportPEFT before Setup")
	}
	if err := m.CheckPEFTConfig(a); err != nil {
		return err
	}
	sites := m.Sites()
	want := targetModules(sites)
	got, isList, err := a.Strings("target_modules")
	if err != nil {
		return err
	}
	if !isList {
		return a.Errorf("target_modules is the pattern %q; only a list of module names loads", got[0])
	}
	g := slices.Clone(got)
	sort.Strings(g)
	if !slices.Equal(slices.Compact(g), want) {
		return a.Errorf("target_modules is %v but the lora method (targets %v) adapts %v on backbone %s", got, m.cfg.Targets, want, bb.Name)
	}
	known := map[string]bool{}
	for _, p := range m.pairs {
		known[PEFTKey(p.site, "A")], known[PEFTKey(p.site, "B")] = true, true
	}
	for name := range a.Tensors {
		if !known[name] {
			return fmt.Errorf("%s: tensor %q is not one of the lora method's %d sites on backbone %s", a.WeightsPath(), name, len(m.pairs), bb.Name)
		}
	}
	// Check every tensor before copying any, so a bad folder leaves the method as Setup made it.
	src := make([][2]*safetensors.Tensor, len(m.pairs))
	for i, p := range m.pairs {
		for j, ab := range []struct {
			key, why string
			t        *ts.Tensor
		}{{PEFTKey(p.site, "A"), "r × in of " + p.site, p.a}, {PEFTKey(p.site, "B"), "out × r of " + p.site, p.b}} {
			shape, err := ab.t.Size()
			if err != nil {
				return err
			}
			if src[i][j], err = a.Tensor(ab.key, shape, ab.why); err != nil {
				return err
			}
		}
	}
	for i, p := range m.pairs {
		for j, dst := range []*ts.Tensor{p.a, p.b} {
			if err := peft.CopyInto(dst, src[i][j]); err != nil {
				return fmt.Errorf("%s: %w", a.WeightsPath(), err)
			}
		}
	}
	return nil
}

// InitFromPEFT makes Setup end by loading a (`ptbench run --init-from`).
func (m *Method) InitFromPEFT(a *peft.Adapter) { m.init = a }
