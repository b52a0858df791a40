package benchmarks

import (
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/ptbench/ptbench/core"
	"github.com/ptbench/ptbench/core/storage"
)

// Learning-rate (or any setting) sweeps. The papers tune each method's rates on dev: EPT
// "for soft prompts, we search for learning rate within {3e-1, 4e-1, 5e-1}; for the low-rank
// matrices within {1e-4, 5e-4, 5e-3}" and reports the test score of the best dev checkpoint.
// A sweep axis is one method setting with the values it takes (`--sweep ept.prompt_lr=0.3,0.4,0.5`);
// a method's variants are the cartesian product of its axes, each variant its own run (its
// settings change the method's resolved config, so the run key differs), and the leaderboard
// keeps, per (method, task, seed), the variant with the best dev score (selection.go).

// SweepAxis is one swept setting: Method's setting Setting takes each of Values in turn.
type SweepAxis struct {
	Method  string `json:"-"`
	Setting string `json:"-"`
	Values  []any  `json:"values"`
	// Given is the deprecated spelling the axis was given as ("prompt_lr" for DePT's lr),
	// "" when it was given by its name: Setting is always the current name, so rows, labels
	// and the selection record one name.
	Given string `json:"-"`
}

// canonical renames a deprecated spelling of the axis's setting to its current name.
func (a SweepAxis) canonical() SweepAxis {
	if name, ok := core.CanonicalSetting(a.Method, a.Setting); ok && name != a.Setting {
		a.Given, a.Setting = a.Setting, name
	}
	return a
}

// SweepDeprecations are warnings for the axes given by a deprecated spelling.
func SweepDeprecations(axes []SweepAxis) []string {
	var out []string
	for _, a := range axes {
		if a.Given != "" {
			out = append(out, fmt.Sprintf("warning: sweep %s.%s: deprecated setting name (now %s; the runs record %s)", a.Method, a.Given, a.Key(), a.Key()))
		}
	}
	return out
}

// Key is the axis as the command line names it: "method.setting".
func (a SweepAxis) Key() string { return a.Method + "." + a.Setting }

// MarshalJSON writes {"key": "ept.prompt_lr", "values": [0.3, 0.4, 0.5]}.
func (a SweepAxis) MarshalJSON() ([]byte, error) {
	return json.Marshal(struct {
		Key    string `json:"key"`
		Values []any  `json:"values"`
	}{a.Key(), a.Values})
}

// ParseSweep parses one `--sweep method.setting=v1,v2,…` against the grid's methods (a method
// name may itself contain dots, e.g. plugin:./bin/x: the longest listed name that prefixes
// the key wins). Each value is read as a YAML scalar, as --set reads its value (0.3 is a
// number, true a bool); a value given twice, an empty list, a non-finite number or a method
// not in methods is an error.
func ParseSweep(spec string, methods []string) (SweepAxis, error) {
	key, list, ok := strings.Cut(spec, "=")
	key = strings.TrimSpace(key)
	bad := func(format string, args ...any) (SweepAxis, error) {
		return SweepAxis{}, fmt.Errorf("--sweep %q: %s", spec, fmt.Sprintf(format, args...))
	}
	if !ok {
		return bad("want method.setting=v1,v2,…")
	}
	var a SweepAxis
	for _, m := range methods {
		if strings.HasPrefix(key, m+".") && len(key) > len(m)+1 && len(m) > len(a.Method) {
			a.Method, a.Setting = m, key[len(m)+1:]
		}
	}
	if a.Method == "" {
		dot := strings.IndexByte(key, '.')
		if dot <= 0 || dot == len(key)-1 {
			return bad("want method.setting=v1,v2,…")
		}
		return bad("method %q is not in --methods %v", key[:dot], methods)
	}
	seen := map[string]bool{}
	for _, field := range strings.Split(list, ",") {
		field = strings.TrimSpace(field)
		if field == "" {
			continue
		}
		var v any
		if err := yaml.Unmarshal([]byte(field), &v); err != nil {
			return bad("value %q: %v", field, err)
		}
		if x, isNum := v.(float64); isNum && (math.IsNaN(x) || math.IsInf(x, 0)) {
			return bad("%s is not a finite number", field)
		}
		if s, isStr := v.(string); isStr {
			if x, err := strconv.ParseFloat(s, 64); err == nil && (math.IsNaN(x) || math.IsInf(x, 0)) {
				return bad("%s is not a finite number", field)
			}
		}
		canon := fmt.Sprint(v)
		if seen[canon] {
			return bad("value %s is given twice", field)
		}
		seen[canon] = true
		a.Values = append(a.Values, v)
	}
	if len(a.Values) == 0 {
		return bad("no values (want method.setting=v1,v2,…)")
	}
	return a.canonical(), nil
}

// ParseSweeps parses every --sweep flag; an axis given twice is an error.
func ParseSweeps(specs []string, methods []string) ([]SweepAxis, error) {
	var out []SweepAxis
	for _, s := range specs {
		a, err := ParseSweep(s, methods)
		if err != nil {
			return nil, err
		}
		for _, b := range out {
			if b.Key() == a.Key() {
				return nil, fmt.Errorf("--sweep %s is given twice (list every value in one flag)", a.Key())
			}
		}
		out = append(out, a)
	}
	return out, nil
}

// Sweep is an experiment file's `sweep:` mapping, {method.setting: [values]}, in the file's
// order (the order is the sweep order, which breaks ties in the selection).
type Sweep []SweepAxis

// UnmarshalYAML reads the mapping in order; every key must be method.setting and every
// value a non-empty list of scalars.
func (s *Sweep) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.MappingNode {
		return fmt.Errorf("line %d: sweep: want {method.setting: [v1, v2, …]}", n.Line)
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		m, setting, ok := strings.Cut(k.Value, ".")
		if !ok || m == "" || setting == "" {
			return fmt.Errorf("line %d: sweep key %q: want method.setting", k.Line, k.Value)
		}
		var values []any
		if err := v.Decode(&values); err != nil || len(values) == 0 {
			return fmt.Errorf("line %d: sweep %s: want a non-empty list of values", v.Line, k.Value)
		}
		for _, x := range values {
			if err := storage.CheckFiniteConfig(x); err != nil {
				return fmt.Errorf("line %d: sweep %s: %w", v.Line, k.Value, err)
			}
		}
		*s = append(*s, SweepAxis{Method: m, Setting: setting, Values: values}.canonical())
	}
	return nil
}

// mergeSweep is base's axes with group's added; an axis of group replaces base's of the same
// key. Only axes of the given methods are kept.
func mergeSweep(base, group Sweep, methods []string) []SweepAxis {
	var out []SweepAxis
	for _, a := range base {
		if slices.Contains(methods, a.Method) && !slices.ContainsFunc(group, func(b SweepAxis) bool { return b.Key() == a.Key() }) {
			out = append(out, a)
		}
	}
	for _, a := range group {
		if slices.Contains(methods, a.Method) {
			out = append(out, a)
		}
	}
	return out
}

// Setting is one swept setting of a variant.
type Setting struct {
	Key   string // method.setting
	Name  string // the setting alone, as the method's config names it
	Value any
}

// Variant is one point of a method's sweep: Index is its place in the sweep order (the
// cartesian product with the first axis varying slowest), Settings its values.
type Variant struct {
	Index    int
	Settings []Setting
}

// Values is the variant as a row records it: {"ept.prompt_lr": 0.3, …} (nil for no sweep).
func (v Variant) Values() map[string]any {
	if len(v.Settings) == 0 {
		return nil
	}
	out := map[string]any{}
	for _, s := range v.Settings {
		out[s.Key] = s.Value
	}
	return out
}

// String is "ept.prompt_lr=0.3 ept.lowrank_lr=0.0001".
func (v Variant) String() string {
	parts := make([]string, len(v.Settings))
	for i, s := range v.Settings {
		parts[i] = fmt.Sprintf("%s=%v", s.Key, s.Value)
	}
	return strings.Join(parts, " ")
}

// SweepVariants is the cartesian product of method's axes in sweep order; one empty variant
// when none of the axes is the method's.
func SweepVariants(axes []SweepAxis, method string) []Variant {
	out := []Variant{{}}
	for _, a := range axes {
		if a.Method != method {
			continue
		}
		var next []Variant
		for _, v := range out {
			for _, x := range a.Values {
				s := append(slices.Clone(v.Settings), Setting{Key: a.Key(), Name: a.Setting, Value: x})
				next = append(next, Variant{Settings: s})
			}
		}
		out = next
	}
	for i := range out {
		out[i].Index = i
	}
	return out
}

// Variants is the method's variants under the grid's sweep.
func (g *Grid) Variants(method string) []Variant { return SweepVariants(g.Sweep, method) }

// VariantConfig is the method's raw settings with the variant's on top (a swept setting
// overrides the same setting of --set or --method-config, under either of its names).
func (g *Grid) VariantConfig(method string, v Variant) map[string]any {
	if len(v.Settings) == 0 {
		return g.MethodConfigs[method]
	}
	out := map[string]any{}
	for k, x := range g.MethodConfigs[method] {
		out[k] = x
	}
	for _, s := range v.Settings {
		for k := range out { // --set's deprecated spelling of the swept setting ("prompt_lr" for "lr")
			if name, ok := core.CanonicalSetting(method, k); ok && name == s.Name && k != s.Name {
				delete(out, k)
			}
		}
		out[s.Name] = s.Value
	}
	return out
}

// CheckSweep builds every value of every axis, then every variant, with check (a method's
// own validation, e.g. core.NewMethod): an unknown setting or a value of the wrong type is
// an error naming the axis, before any backbone or data loads. Methods check skips (plugins,
// checked by their own process) pass.
func (g *Grid) CheckSweep(check func(method string, raw map[string]any) error, skip func(method string) bool) error {
	for _, a := range g.Sweep {
		if !slices.Contains(g.Methods, a.Method) {
			return fmt.Errorf("--sweep %s: method %q is not in --methods %v", a.Key(), a.Method, g.Methods)
		}
		if skip != nil && skip(a.Method) {
			continue
		}
		for _, x := range a.Values {
			v := Variant{Settings: []Setting{{Key: a.Key(), Name: a.Setting, Value: x}}}
			if err := check(a.Method, g.VariantConfig(a.Method, v)); err != nil {
				return fmt.Errorf("--sweep %s=%v: %w", a.Key(), x, err)
			}
		}
	}
	for _, m := range g.Methods {
		if skip != nil && skip(m) {
			continue
		}
		vs := g.Variants(m)
		if len(vs) == 1 && len(vs[0].Settings) == 0 {
			continue
		}
		for _, v := range vs {
			if err := check(m, g.VariantConfig(m, v)); err != nil {
				return fmt.Errorf("--sweep variant %s: %w", v, err)
			}
		}
	}
	return nil
}
