package core

import (
	"fmt"
	"math"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
)

// SettingsOf derives a method's settings from its default config (a struct value): each
// exported field with a json tag is a setting named by the tag, typed by the Go type, with
// the field's value as its default and its `doc:"…"` tag as its one-line doc; `alias:"a,b"`
// lists deprecated spellings. Embedded structs without a tag contribute their fields in
// place, as encoding/json flattens them (EPT's config embeds DePT's). The settings come in
// field order, so the struct is the one place a setting is declared.
func SettingsOf(defaults any) ([]Setting, error) {
	v := reflect.ValueOf(defaults)
	for v.Kind() == reflect.Pointer {
		if v.IsNil() {
			return nil, fmt.Errorf("settings: nil default config")
		}
		v = v.Elem()
	}
	if v.Kind() != reflect.Struct {
		return nil, fmt.Errorf("settings: the default config is a %s, not a struct", v.Kind())
	}
	out := []Setting{}
	seen := map[string]bool{}
	if err := appendSettings(&out, seen, v); err != nil {
		return nil, err
	}
	return out, nil
}

func appendSettings(out *[]Setting, seen map[string]bool, v reflect.Value) error {
	t := v.Type()
	for i := range t.NumField() {
		f := t.Field(i)
		tag, hasTag := f.Tag.Lookup("json")
		name, _, _ := strings.Cut(tag, ",")
		if f.Anonymous && !hasTag && f.Type.Kind() == reflect.Struct {
			if err := appendSettings(out, seen, v.Field(i)); err != nil {
				return err
			}
			continue
		}
		if !f.IsExported() || name == "-" {
			continue
		}
		if name == "" {
			return fmt.Errorf("settings: field %s.%s has no json tag (the tag is the setting's name)", t.Name(), f.Name)
		}
		s := Setting{Name: name, Type: settingType(f.Type), Default: settingDefault(v.Field(i)), Doc: f.Tag.Get("doc")}
		if a := f.Tag.Get("alias"); a != "" {
			s.Aliases = strings.Split(a, ",")
		}
		for _, n := range append([]string{s.Name}, s.Aliases...) {
			if seen[n] {
				return fmt.Errorf("settings: %q is declared twice in %s", n, t.Name())
			}
			seen[n] = true
		}
		*out = append(*out, s)
	}
	return nil
}

// settingType names a Go type as settings files write it.
func settingType(t reflect.Type) string {
	switch t.Kind() {
	case reflect.Pointer:
		return settingType(t.Elem())
	case reflect.Bool:
		return "bool"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "int"
	case reflect.Float32, reflect.Float64:
		return "float"
	case reflect.String:
		return "string"
	case reflect.Slice, reflect.Array:
		return "[]" + settingType(t.Elem())
	case reflect.Map:
		return "map[" + settingType(t.Key()) + "]" + settingType(t.Elem())
	default:
		return t.Kind().String()
	}
}

// settingDefault is the field's value with pointers followed (nil stays nil).
func settingDefault(v reflect.Value) any {
	for v.Kind() == reflect.Pointer {
		if v.IsNil() {
			return nil
		}
		v = v.Elem()
	}
	return v.Interface()
}

// Validator is a method configuration with rules between its settings (DePT: rank ≤ max_len)
// that `check` tags cannot state; CheckConfig calls Validate after the tags hold.
type Validator interface{ Validate() error }

// RegisterConfigured registers a method and its description; the factory starts from
// defaults(), overlays the raw settings (deprecated spellings renamed, unknown keys rejected
// with the valid ones listed), checks them (CheckConfig: the fields' `check` tags, then the
// config's Validate if it has one), and builds the method — the shape every built-in
// method's registration has. d.Settings and the checks are derived from the config type once,
// here, so a setting and its rules are declared once, on its config field; a malformed tag
// panics at registration (every test that loads the method package sees it).
func RegisterConfigured[C any](d Description, defaults func() C, build func(C) Method) {
	settings, err := SettingsOf(defaults())
	if err == nil {
		_, err = checksOf(reflect.TypeOf(defaults()))
	}
	if err != nil {
		panic(fmt.Sprintf("core: RegisterConfigured(%q): %v", d.Name, err))
	}
	d.Settings = settings
	RegisterDescribed(d, func(raw map[string]any) (Method, error) {
		raw, err := d.resolve(raw)
		if err != nil {
			return nil, err
		}
		cfg := defaults()
		if err := DecodeConfig(raw, &cfg); err != nil {
			return nil, err
		}
		if err := CheckConfig(cfg); err != nil {
			return nil, err
		}
		return build(cfg), nil
	})
}

// Setting rules. A config field's `check:"…"` tag says which values its setting accepts, so
// the rule stands beside the setting's name, type, default and doc instead of in a Validate
// switch per method. The tag holds one or more rules separated by spaces; every one must hold:
//
//	>N  >=N  <N  <=N  a number (int or float field) compared with the number N; NaN fails all
//	finite            a float that is neither NaN nor ±Inf; finite>0, finite>=0: both at once
//	in[A,B)           a number in an interval: [ ] closed ends, ( ) open ones (in(0,1], in[0,1))
//	nonempty          a string other than "", a slice or map with at least one element
//	distinct          a slice with no element listed twice
//	oneof=a|b|c       a string equal to one of the words
//	each=RULE         RULE holds for every element of a slice
//
// A pointer field is checked through the pointer; nil (unset) passes. Errors name the setting
// by its json name, an element by name[i]: "length must be > 0, got 0", "lr must be a finite
// number > 0, got +Inf", `init must be "vocab" or "text", got "x"`, "dropout must be in
// [0, 1), got 1", "sources[1] must not be empty", `targets: "q" listed twice`.

// rule checks one value; name is what the error calls it.
type rule func(v reflect.Value, name string) error

// fieldRules are the rules of one setting; index reaches its field through embedded structs.
type fieldRules struct {
	index []int
	name  string
	rules []rule
}

// checkCache holds the compiled rules per config type ([]fieldRules): tags are parsed once.
var checkCache sync.Map

// checksOf compiles the `check` tags of a config struct type (embedded structs flattened as
// SettingsOf flattens them).
func checksOf(t reflect.Type) ([]fieldRules, error) {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if c, ok := checkCache.Load(t); ok {
		return c.([]fieldRules), nil
	}
	if t.Kind() != reflect.Struct {
		return nil, fmt.Errorf("settings: the config is a %s, not a struct", t.Kind())
	}
	var out []fieldRules
	if err := appendChecks(&out, t, nil); err != nil {
		return nil, err
	}
	checkCache.Store(t, out)
	return out, nil
}

func appendChecks(out *[]fieldRules, t reflect.Type, index []int) error {
	for i := range t.NumField() {
		f := t.Field(i)
		tag, hasTag := f.Tag.Lookup("json")
		name, _, _ := strings.Cut(tag, ",")
		at := append(slices.Clip(index), i)
		if f.Anonymous && !hasTag && f.Type.Kind() == reflect.Struct {
			if err := appendChecks(out, f.Type, at); err != nil {
				return err
			}
			continue
		}
		spec, ok := f.Tag.Lookup("check")
		if !ok {
			continue
		}
		if !f.IsExported() || name == "" || name == "-" {
			return fmt.Errorf("settings: %s.%s has a check tag but is not a setting", t.Name(), f.Name)
		}
		rules, err := parseRules(spec, f.Type)
		if err != nil {
			return fmt.Errorf("settings: %s.%s: check %q: %w", t.Name(), f.Name, spec, err)
		}
		*out = append(*out, fieldRules{index: at, name: name, rules: rules})
	}
	return nil
}

// CheckConfig checks a config against its fields' `check` tags, in field order, then runs its
// Validate (the rules between fields) if it has one. A method whose config embeds another
// method's checks it whole with this, not with the embedded config's Validate alone.
func CheckConfig(cfg any) error {
	v := reflect.ValueOf(cfg)
	for v.Kind() == reflect.Pointer {
		if v.IsNil() {
			return fmt.Errorf("settings: nil config")
		}
		v = v.Elem()
	}
	fields, err := checksOf(v.Type())
	if err != nil {
		return err
	}
	for _, f := range fields {
		fv := v.FieldByIndex(f.index)
		if fv.Kind() == reflect.Pointer {
			if fv.IsNil() {
				continue
			}
			fv = fv.Elem()
		}
		for _, r := range f.rules {
			if err := r(fv, f.name); err != nil {
				return err
			}
		}
	}
	if val, ok := cfg.(Validator); ok {
		return val.Validate()
	}
	return nil
}

func parseRules(spec string, t reflect.Type) ([]rule, error) {
	words := strings.Fields(spec)
	if len(words) == 0 {
		return nil, fmt.Errorf("no rule")
	}
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	var out []rule
	for _, w := range words {
		r, err := parseRule(w, t)
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, nil
}

// parseRule compiles one rule of the grammar above for values of type t.
func parseRule(w string, t reflect.Type) (rule, error) {
	kind := t.Kind()
	isList := kind == reflect.Slice || kind == reflect.Array
	switch {
	case strings.HasPrefix(w, "each="):
		if !isList {
			return nil, fmt.Errorf("each applies to slices, not %s", t)
		}
		inner, err := parseRule(w[len("each="):], t.Elem())
		if err != nil {
			return nil, err
		}
		return func(v reflect.Value, name string) error {
			for i := range v.Len() {
				if err := inner(v.Index(i), fmt.Sprintf("%s[%d]", name, i)); err != nil {
					return err
				}
			}
			return nil
		}, nil
	case w == "nonempty":
		if kind != reflect.String && kind != reflect.Map && !isList {
			return nil, fmt.Errorf("nonempty applies to strings, slices and maps, not %s", t)
		}
		return func(v reflect.Value, name string) error {
			if v.Len() == 0 {
				return fmt.Errorf("%s must not be empty", name)
			}
			return nil
		}, nil
	case w == "distinct":
		if !isList || !t.Elem().Comparable() {
			return nil, fmt.Errorf("distinct applies to slices of comparable elements, not %s", t)
		}
		return func(v reflect.Value, name string) error {
			seen := map[any]bool{}
			for i := range v.Len() {
				x := v.Index(i).Interface()
				if seen[x] {
					return fmt.Errorf("%s: %s listed twice", name, quoted(x))
				}
				seen[x] = true
			}
			return nil
		}, nil
	case strings.HasPrefix(w, "oneof="):
		if kind != reflect.String {
			return nil, fmt.Errorf("oneof applies to strings, not %s", t)
		}
		words := strings.Split(w[len("oneof="):], "|")
		if slices.Contains(words, "") {
			return nil, fmt.Errorf("oneof has an empty word")
		}
		return func(v reflect.Value, name string) error {
			if !slices.Contains(words, v.String()) {
				return fmt.Errorf("%s must be %s, got %q", name, alternatives(words), v.String())
			}
			return nil
		}, nil
	}
	if !isNumber(kind) {
		return nil, fmt.Errorf("%q applies to numbers, not %s (or it is not a rule)", w, t)
	}
	if strings.HasPrefix(w, "in") {
		return parseInterval(w)
	}
	rest, finite := strings.CutPrefix(w, "finite")
	if finite && kind != reflect.Float32 && kind != reflect.Float64 {
		return nil, fmt.Errorf("finite applies to floats, not %s", t)
	}
	if rest == "" {
		return func(v reflect.Value, name string) error {
			if x := v.Float(); math.IsNaN(x) || math.IsInf(x, 0) {
				return fmt.Errorf("%s must be a finite number, got %v", name, v.Interface())
			}
			return nil
		}, nil
	}
	op, shown, holds := comparison(rest)
	if holds == nil {
		return nil, fmt.Errorf("unknown rule %q", w)
	}
	bound, err := strconv.ParseFloat(rest[len(op):], 64)
	if err != nil {
		return nil, fmt.Errorf("%q: %q is not a number", w, rest[len(op):])
	}
	what := ""
	if finite {
		what = "a finite number "
	}
	return func(v reflect.Value, name string) error {
		x := number(v)
		if !holds(x, bound) || finite && math.IsInf(x, 0) {
			return fmt.Errorf("%s must be %s%s %s, got %v", name, what, shown, formatNumber(bound), v.Interface())
		}
		return nil
	}, nil
}

// comparison splits off a rule's operator: its spelling in the tag and in messages and the test
// (false for NaN, as every comparison with NaN is).
func comparison(s string) (op, shown string, holds func(x, bound float64) bool) {
	switch {
	case strings.HasPrefix(s, ">="):
		return ">=", "≥", func(x, b float64) bool { return x >= b }
	case strings.HasPrefix(s, "<="):
		return "<=", "≤", func(x, b float64) bool { return x <= b }
	case strings.HasPrefix(s, ">"):
		return ">", ">", func(x, b float64) bool { return x > b }
	case strings.HasPrefix(s, "<"):
		return "<", "<", func(x, b float64) bool { return x < b }
	}
	return "", "", nil
}

// parseInterval compiles in[A,B), in(A,B] and their kin.
func parseInterval(w string) (rule, error) {
	body := w[len("in"):]
	if len(body) < 5 || !strings.ContainsRune("[(", rune(body[0])) || !strings.ContainsRune("])", rune(body[len(body)-1])) {
		return nil, fmt.Errorf("%q: want in[A,B] with [ or ( and ] or )", w)
	}
	a, b, ok := strings.Cut(body[1:len(body)-1], ",")
	lo, errA := strconv.ParseFloat(a, 64)
	hi, errB := strconv.ParseFloat(b, 64)
	if !ok || errA != nil || errB != nil || !(lo <= hi) {
		return nil, fmt.Errorf("%q: want two numbers A ≤ B", w)
	}
	closedLo, closedHi := body[0] == '[', body[len(body)-1] == ']'
	shown := fmt.Sprintf("%c%s, %s%c", body[0], formatNumber(lo), formatNumber(hi), body[len(body)-1])
	return func(v reflect.Value, name string) error {
		x := number(v)
		if !(x > lo || closedLo && x == lo) || !(x < hi || closedHi && x == hi) {
			return fmt.Errorf("%s must be in %s, got %v", name, shown, v.Interface())
		}
		return nil
	}, nil
}

func isNumber(k reflect.Kind) bool {
	return reflect.Int <= k && k <= reflect.Float64 && k != reflect.Uintptr
}

// number is an int, uint or float value as a float64 (exact for every bound a setting needs).
func number(v reflect.Value) float64 {
	switch {
	case v.CanInt():
		return float64(v.Int())
	case v.CanUint():
		return float64(v.Uint())
	}
	return v.Float()
}

func formatNumber(x float64) string { return strconv.FormatFloat(x, 'g', -1, 64) }

// alternatives writes words as `"a", "b" or "c"`.
func alternatives(words []string) string {
	q := make([]string, len(words))
	for i, w := range words {
		q[i] = strconv.Quote(w)
	}
	if len(q) == 1 {
		return q[0]
	}
	return strings.Join(q[:len(q)-1], ", ") + " or " + q[len(q)-1]
}

func quoted(x any) string {
	if s, ok := x.(string); ok {
		return strconv.Quote(s)
	}
	return fmt.Sprint(x)
}
