package main

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"sort"
	"strconv"
	"strings"

	"github.com/ptbench/ptbench/backbones/hf"
	"github.com/ptbench/ptbench/benchmarks"
	"github.com/ptbench/ptbench/core"
	"github.com/ptbench/ptbench/core/data"
	"github.com/ptbench/ptbench/core/storage"
	"github.com/ptbench/ptbench/peft"
	"github.com/ptbench/ptbench/plugins/host"
)

// Up-front checks of `ptbench run`: every number and setting is checked before the backbone
// or any data loads, so a bad flag is an error in a second, not a silently wrong row or a
// grid that stops after hours.

// validateRunFlags checks the numeric flags (usage errors).
func validateRunFlags(g *benchmarks.Grid) error {
	if err := g.Train.Validate(); err != nil {
		return usageError{err}
	}
	if err := core.ValidateKShot(g.Data.KShot); err != nil {
		return usageError{err}
	}
	seen := map[int64]bool{}
	for _, s := range g.Seeds {
		if seen[s] {
			return usageError{fmt.Errorf("--seeds: seed %d is given twice", s)}
		}
		seen[s] = true
	}
	return nil
}

// builtinMethods are the methods registered before plugins are (plugins are checked by the
// plugin itself when its run starts: building one here would start its process).
func builtinMethods() map[string]bool {
	out := map[string]bool{}
	for _, r := range core.Methods() {
		out[r.Name] = true
	}
	return out
}

// preflight checks what the grid will need, short of the backbone: each built-in method is
// built once from its settings (its own validation) and its resolved config must be finite
// (a NaN learning rate trains nonsense and cannot be recorded); every task must exist; with
// --k-shot, each task's training data is read once to check k against its class counts.
func preflight(g *benchmarks.Grid, builtin map[string]bool) error {
	if err := validateQuant(g.BackboneOpts.Quant, g.Methods); err != nil {
		return err
	}
	// A device this libtorch cannot use fails here, before any backbone, data or plugin loads
	// (a cluster job checked elsewhere runs on its own machine's libtorch).
	if !checkingOnly {
		if err := core.CheckDevice(g.BackboneOpts.Device); err != nil {
			return usageError{err}
		}
	}
	if g.Data.Offline && !checkingOnly { // jobcheck.go: a job's cache is not this machine's
		if err := checkOffline(g.Backbone); err != nil {
			return err
		}
	}
	resolved := map[string]map[string]any{} // each method's settings, for warnPackMemory
	for _, name := range g.Methods {
		raw := g.MethodConfigs[name]
		if err := storage.CheckFiniteConfig(raw); err != nil {
			return fmt.Errorf("method %s: %w", name, err)
		}
		isBuiltin := builtin[name] && !strings.HasPrefix(name, "plugin:")
		if old := core.DeprecatedSettings(name, raw); len(old) > 0 && g.Log != nil && isBuiltin {
			fmt.Fprintf(g.Log, "warning: %s: deprecated setting names %s (accepted; the run records the current names)\n", name, strings.Join(old, ", "))
		}
		// A built-in method is built once here (its own validation, finite and bounded
		// settings); a plugin's settings are checked as given (building it would start it).
		cfg := raw
		if isBuiltin {
			if err := checkNonFiniteWords(name, raw); err != nil {
				return err
			}
			var err error
			if cfg, err = resolveMethod(name, raw); err != nil {
				return err
			}
		} else {
			if g.Train.AdamEps != 0 && g.Log != nil {
				fmt.Fprintf(g.Log, "warning: --adam-eps does not reach method %s: a plugin runs its own AdamW (the SDK's Info.AdamEps)\n", name)
			}
			if err := host.CheckHostSettings(raw); err != nil { // plugin_timeout, plugin_wire_dtype
				return usageError{fmt.Errorf("method %s: %w", name, err)}
			}
			if err := checkSettingSizes(name, cfg); err != nil { // memory.go
				return err
			}
		}
		if isBuiltin {
			if err := checkSourceLengths(g, name, raw); err != nil {
				return usageError{err}
			}
		}
		if !checkingOnly { // a cluster job's memory is not this machine's
			if err := checkMemory(g, name, cfg, runMemoryLimit); err != nil {
				return err
			}
		}
		resolved[name] = cfg
	}
	if err := checkInitFrom(g, builtin); err != nil {
		return err
	}
	if !checkingOnly { // --pack auto sizes packs within it (benchmarks.Grid.packBudget)
		g.MemoryLimit, _ = effectiveLimit(runMemoryLimit)
		warnPackMemory(g, resolved, runMemoryLimit) // an explicit --pack N: memory.go
	}
	for _, name := range g.Tasks {
		task, err := core.NewTask(name)
		if err != nil {
			return usageError{fmt.Errorf("--tasks: %w", err)}
		}
		if checkingOnly || preflightReadsNoData { // a cluster job's data is on its own machine; a dry run reads none
			continue
		}
		if g.Data.KShot == 0 {
			// A missing official file is named here, not after the backbone has loaded.
			if fc, ok := task.(data.FileChecker); ok {
				if err := fc.CheckFiles(g.Data); err != nil {
					return err // "<task>: data file … not found; …"
				}
			}
			continue
		}
		if _, err := task.Load(g.Data); err != nil {
			return err // the task's errors start with its name
		}
	}
	return stopAfterPreflight()
}

// checkOffline makes --offline a promise about the backbone too: a preset or a local path is
// fine, an uncached hub id fails here, before anything loads. The process (and the workers it
// starts) then run with PTBENCH_OFFLINE=1, so no loader falls back to a download.
func checkOffline(backbone string) error {
	isPreset := false
	for _, r := range core.Backbones() {
		isPreset = isPreset || r.Name == backbone
	}
	if !isPreset {
		if err := hf.CheckOffline(backbone); err != nil {
			return usageError{err}
		}
	}
	return os.Setenv("PTBENCH_OFFLINE", "1")
}

// checkMethod builds one method without setting it up, checks its resolved config, and
// closes it (CheckSweep calls it for every swept variant).
func checkMethod(name string, raw map[string]any) error {
	_, err := resolveMethod(name, raw)
	return err
}

// resolveMethod builds one method without setting it up, checks that its resolved config is
// finite and its size-like settings bounded, closes it, and returns the config as a JSON map
// (its defaults filled in) for the memory check.
func resolveMethod(name string, raw map[string]any) (cfg map[string]any, err error) {
	m, err := core.NewMethod(name, raw)
	if err != nil {
		return nil, err
	}
	defer func() {
		if p := recover(); p != nil && err == nil {
			err = fmt.Errorf("method %s: checking its settings: %v", name, p)
		}
	}()
	defer m.Close()
	if err := storage.CheckFiniteConfig(m.Config()); err != nil {
		return nil, fmt.Errorf("method %s: %w", name, err)
	}
	b, err := json.Marshal(m.Config())
	if err != nil {
		return nil, fmt.Errorf("method %s: %w", name, err)
	}
	if json.Unmarshal(b, &cfg) != nil {
		return map[string]any{}, nil // a config that is not an object has no size fields
	}
	return cfg, checkSettingSizes(name, cfg) // memory.go
}

// nonFinite reports a --set value that is NaN or infinite: a YAML .nan/.inf. A word such as
// nan or Infinity is a string, and only an error where the setting is a number: that is
// checkNonFiniteWords', which knows the method's fields (init_text=Infinity is a prompt text).
func nonFinite(v any) bool {
	x, ok := v.(float64)
	return ok && (math.IsNaN(x) || math.IsInf(x, 0))
}

// checkNonFiniteWords refuses a setting given as a word that reads as NaN or ±Inf ("nan",
// "inf", "Infinity") where the built-in method's default for that key is a number; the same
// word for a text setting is left alone.
func checkNonFiniteWords(name string, raw map[string]any) error {
	var words []string
	for k, v := range raw {
		if s, ok := v.(string); ok {
			if f, err := strconv.ParseFloat(strings.TrimSpace(s), 64); err == nil && (math.IsNaN(f) || math.IsInf(f, 0)) {
				words = append(words, k)
			}
		}
	}
	if len(words) == 0 {
		return nil
	}
	defaults, err := resolveMethod(name, nil)
	if err != nil {
		return nil // the method's own check reports what is wrong
	}
	sort.Strings(words)
	for _, k := range words {
		if _, isNumber := number(defaults[k]); isNumber {
			if _, isText := defaults[k].(string); !isText {
				return usageError{fmt.Errorf("method %s: %s = %q is not a finite number (settings must be finite)", name, k, raw[k])}
			}
		}
	}
	return nil
}

// validateBenchFlags checks `ptbench bench`'s numbers and method settings before the
// backbone loads.
func validateBenchFlags(o benchmarks.BenchOptions) error {
	for _, c := range []struct {
		flag     string
		v, least int
	}{{"--seq", o.Seq, 1}, {"--batch-size", o.Batch, 1}, {"--steps", o.Steps, 1}, {"--warmup", o.Warmup, 0}} {
		if c.v < c.least {
			return usageError{fmt.Errorf("%s must be ≥ %d, got %d", c.flag, c.least, c.v)}
		}
	}
	for _, name := range o.Methods {
		if err := storage.CheckFiniteConfig(o.MethodConfigs[name]); err != nil {
			return fmt.Errorf("method %s: %w", name, err)
		}
	}
	return nil
}

// validateQuant checks --quant (already parsed by the flag: none or nf4) against the methods
// before the backbone loads: no method may train the weights nf4 stores frozen.
func validateQuant(quant core.Quant, methods []string) error {
	if quant == core.QuantNone {
		return nil
	}
	for _, m := range methods {
		if d, ok := core.Describe(m); ok && d.Needs.TrainsBackboneWeights {
			return usageError{fmt.Errorf("--quant nf4 stores the backbone's linear weights 4-bit and frozen, and %s trains them: run %s without --quant (a method that keeps them frozen, such as LoRA, runs on a 4-bit backbone: LoRA there is QLoRA)", m, m)}
		}
	}
	return nil
}

// checkSourceLengths asks a method that sizes a tensor by the run's max source length (DePT's
// and EPT's A, max_len 0) whether each task's length fits its settings, before anything loads.
func checkSourceLengths(g *benchmarks.Grid, name string, raw map[string]any) error {
	m, err := core.NewMethod(name, raw)
	if err != nil {
		return nil // resolveMethod reported it
	}
	defer m.Close()
	c, ok := m.(interface{ CheckMaxSourceLen(int) error })
	if !ok {
		return nil
	}
	for _, t := range g.Tasks {
		n := g.Train.MaxSourceLen
		if n == 0 {
			task, err := core.NewTask(t)
			if err != nil {
				return nil // the task check below reports it
			}
			n = task.MaxSourceLen()
		}
		if err := c.CheckMaxSourceLen(n); err != nil {
			return fmt.Errorf("method %s on %s: %w", name, t, err)
		}
	}
	return nil
}

// checkInitFrom reads the --init-from folder once and checks it against every built-in method
// of the grid (its peft_type, and what its adapter_config.json says that the method cannot
// compute as PEFT does), so a folder a run would refuse is an error before anything loads,
// not a failed row after the backbone has. Shapes need the backbone and stay the run's check.
func checkInitFrom(g *benchmarks.Grid, builtin map[string]bool) error {
	if g.InitFrom == "" || checkingOnly { // a cluster job's folder is on its own machine
		return nil
	}
	a, err := peft.Read(g.InitFrom)
	if err != nil {
		return usageError{fmt.Errorf("--init-from: %w", err)}
	}
	for _, name := range g.Methods {
		if !builtin[name] || strings.HasPrefix(name, "plugin:") {
			continue
		}
		m, err := core.NewMethod(name, g.MethodConfigs[name])
		if err != nil {
			return err
		}
		err = peft.Check(m, a)
		m.Close()
		if err != nil {
			return usageError{fmt.Errorf("--init-from: method %s: %w", name, err)}
		}
	}
	return nil
}
