package core

import (
	"fmt"
	"reflect"
	"strings"
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
