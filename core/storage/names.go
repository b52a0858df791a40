package storage

import (
	"encoding/json"
	"fmt"
	"math"
	"reflect"
	"sort"
	"strings"
)

// What a run writes must be writable: its config encodes to JSON (the row stores it, the run
// key hashes it) and its names become plain file and folder names under the results folder.

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
