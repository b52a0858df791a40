package core

import (
	"encoding/json"
	"fmt"
	"math"
	"reflect"
	"sort"
	"strings"
)

// Validate checks the training options as given on the command line, before Defaults and
// before anything loads. Zero keeps meaning "the default" only where Defaults documents it
// (eval batch size, eval interval, warmup, source/target lengths, limits); steps and batch
// size must be given as positive numbers. Messages name the flag (or, for options with no
// flag, the field's JSON name).
func (o TrainOptions) Validate() error {
	ints := []struct {
		flag     string
		v, least int
	}{
		{"--steps", o.Steps, 1},
		{"--batch-size", o.BatchSize, 1},
		{"eval_batch_size", o.EvalBatchSize, 0},
		{"--eval-every", o.EvalEvery, 0},
		{"--warmup", o.Warmup, 0},
		{"--max-source-len", o.MaxSourceLen, 0},
		{"max_target_len", o.MaxTargetLen, 0},
		{"max_new_tokens", o.MaxNewTokens, 0},
		{"--eval-limit", o.EvalLimit, 0},
		{"--test-limit", o.TestLimit, 0},
	}
	for _, c := range ints {
		if c.v < c.least {
			return fmt.Errorf("%s must be ≥ %d, got %d", c.flag, c.least, c.v)
		}
	}
	// Sizes that set tensor shapes are bounded: a typo such as --batch-size 1e9 would otherwise
	// pass here and end as an out-of-memory kill (steps and limits only cost time).
	for _, c := range ints {
		if c.flag == "--steps" || c.flag == "--eval-every" || c.flag == "--warmup" || c.flag == "--eval-limit" || c.flag == "--test-limit" {
			continue
		}
		if c.v > MaxShapeSize {
			return fmt.Errorf("%s must be ≤ %d, got %d", c.flag, MaxShapeSize, c.v)
		}
	}
	if o.Warmup > o.Steps {
		return fmt.Errorf("--warmup must be ≤ --steps (%d), got %d", o.Steps, o.Warmup)
	}
	if math.IsNaN(o.MaxGradNorm) || math.IsInf(o.MaxGradNorm, 0) || o.MaxGradNorm < 0 {
		return fmt.Errorf("--max-grad-norm must be a finite number ≥ 0 (0 = off), got %v", o.MaxGradNorm)
	}
	return nil
}

// MaxShapeSize bounds the training options that become tensor dimensions (batch sizes,
// sequence lengths): 65,536 is 16 times the longest context of the backbones here.
const MaxShapeSize = 1 << 16

// ValidateKShot checks --k-shot as a number (whether the data has that many examples per
// class is the task's check when it loads).
func ValidateKShot(k int) error {
	if k < 0 {
		return fmt.Errorf("--k-shot must be ≥ 0 (0 = the full training set), got %d", k)
	}
	return nil
}

// CheckFiniteConfig reports a configuration that cannot be recorded: a NaN or infinite
// number anywhere in it (named by its path, e.g. "lr" or "groups[1].lr"), or anything else
// JSON cannot encode. A result row stores the resolved config and the run key hashes it, so
// such a config must be refused before a run starts, not after it trained.
func CheckFiniteConfig(cfg any) error {
	if path, v, ok := findNonFinite(reflect.ValueOf(cfg), ""); ok {
		if path == "" {
			return fmt.Errorf("the setting is %v; it must be a finite number", v)
		}
		return fmt.Errorf("%s = %v: settings must be finite numbers", path, v)
	}
	if _, err := json.Marshal(cfg); err != nil {
		return fmt.Errorf("the configuration cannot be recorded: %w", err)
	}
	return nil
}

// findNonFinite walks v (structs by their json names, maps in sorted key order, slices) and
// returns the path of the first NaN or ±Inf.
func findNonFinite(v reflect.Value, path string) (string, float64, bool) {
	switch v.Kind() {
	case reflect.Float32, reflect.Float64:
		if f := v.Float(); math.IsNaN(f) || math.IsInf(f, 0) {
			return path, f, true
		}
	case reflect.Interface, reflect.Pointer:
		if !v.IsNil() {
			return findNonFinite(v.Elem(), path)
		}
	case reflect.Struct:
		t := v.Type()
		for i := 0; i < t.NumField(); i++ {
			f := t.Field(i)
			if !f.IsExported() && !f.Anonymous { // embedded structs are walked like encoding/json does
				continue
			}
			name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
			if name == "-" {
				continue
			}
			if name == "" {
				name = f.Name
			}
			if f.Anonymous && f.Tag.Get("json") == "" {
				name = "" // embedded fields are flattened, as encoding/json does
			}
			if p, x, ok := findNonFinite(v.Field(i), join(path, name)); ok {
				return p, x, true
			}
		}
	case reflect.Map:
		keys := v.MapKeys()
		sort.Slice(keys, func(i, j int) bool { return fmt.Sprint(keys[i]) < fmt.Sprint(keys[j]) })
		for _, k := range keys {
			if p, x, ok := findNonFinite(v.MapIndex(k), join(path, fmt.Sprint(k))); ok {
				return p, x, true
			}
		}
	case reflect.Slice, reflect.Array:
		for i := 0; i < v.Len(); i++ {
			if p, x, ok := findNonFinite(v.Index(i), fmt.Sprintf("%s[%d]", path, i)); ok {
				return p, x, true
			}
		}
	}
	return "", 0, false
}

func join(path, name string) string {
	switch {
	case path == "":
		return name
	case name == "":
		return path
	}
	return path + "." + name
}

// SafeFileName maps a run key (or any name that becomes a file name) to one plain path
// element: letters, digits, '.', '+', '-' and '_' are kept, anything else (a '/' of a
// plugin:PATH method or a multi-task row key, a '\', a ':', a control character) becomes '_',
// and leading dots are dropped, so the result can neither climb out of its folder ("..") nor
// hide. Built-in run keys ("pt.rte.s42.<hash>") are unchanged.
func SafeFileName(name string) string {
	var b strings.Builder
	for _, r := range name {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '.', r == '+', r == '-', r == '_':
			b.WriteRune(r)
		default:
			b.WriteByte('_')
		}
	}
	out := strings.TrimLeft(b.String(), ".")
	if out == "" {
		return "_"
	}
	return out
}

// CheckPathElement refuses a name that is used as one path element (an experiment's name
// becomes runs/<name>) unless it is a plain one: not empty, not "." or "..", no '/' or '\',
// no control characters. what names the field in the message.
func CheckPathElement(what, name string) error {
	switch {
	case name == "" || name == "." || name == "..":
		return fmt.Errorf("%s %q: want a plain name (it becomes a folder name)", what, name)
	case strings.ContainsAny(name, `/\`):
		return fmt.Errorf("%s %q: a name cannot hold '/' or '\\' (it becomes one folder name, and could leave the results folder)", what, name)
	}
	for _, r := range name {
		if r < 0x20 || r == 0x7f {
			return fmt.Errorf("%s %q: control character %U", what, name, r)
		}
	}
	return nil
}
