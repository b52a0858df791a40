package host

import (
	"bytes"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/ptbench/ptbench/core"
	methodpb "github.com/ptbench/ptbench/plugins/proto"
)

// DescriptionOf turns a plugin's Describe answer into the core.Description a built-in
// method registers, so `ptbench methods NAME` shows plugins and built-ins alike: label,
// about, family (plugins change the encoder input) and the settings of default_config_json
// (in the plugin's order) with their config_doc lines.
func DescriptionOf(name string, d *methodpb.DescribeResponse) (core.Description, error) {
	desc := core.Description{Name: name, Label: d.Label, About: d.About, Family: core.FamilyInput, Settings: []core.Setting{}}
	if desc.Label == "" {
		desc.Label = d.Name
	}
	settings, err := settingsFromJSON(d.DefaultConfigJson)
	if err != nil {
		return desc, fmt.Errorf("plugin %s: default_config_json: %w", name, err)
	}
	for i := range settings {
		settings[i].Doc = d.ConfigDoc[settings[i].Name]
	}
	desc.Settings = settings
	return desc, nil
}

// DescribeMethod describes the plugin spec names (a discovered ptbench-method-<name> or
// plugin:PATH) by starting it briefly; it returns the description and the binary's path.
func DescribeMethod(spec string, timeout time.Duration) (core.Description, string, error) {
	name, path, _, isPath, err := ParseSpec(spec)
	if err != nil {
		return core.Description{}, "", err
	}
	if !isPath {
		path = ""
		for _, f := range Discover() {
			if f.Name == name {
				path = f.Path
				break
			}
		}
		if path == "" {
			return core.Description{}, "", fmt.Errorf("unknown method %q: not built in and no %s%s in $PTBENCH_PLUGIN_DIR, beside ptbench or on $PATH (`ptbench methods` lists them)",
				spec, BinaryPrefix, name)
		}
	}
	d, err := Describe(path, timeout)
	if err != nil {
		return core.Description{}, path, err
	}
	desc, err := DescriptionOf(spec, d)
	return desc, path, err
}

// settingsFromJSON lists the keys of a JSON object in their written order, each typed by its
// default value (an integral number is an int).
func settingsFromJSON(js string) ([]core.Setting, error) {
	if strings.TrimSpace(js) == "" {
		return []core.Setting{}, nil
	}
	dec := json.NewDecoder(bytes.NewReader([]byte(js)))
	dec.UseNumber()
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return nil, fmt.Errorf("not a JSON object")
	}
	out := []core.Setting{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, err
		}
		key, _ := tok.(string)
		var v any
		if err := dec.Decode(&v); err != nil {
			return nil, fmt.Errorf("%s: %w", key, err)
		}
		typ, def := jsonType(v)
		out = append(out, core.Setting{Name: key, Type: typ, Default: def})
	}
	return out, nil
}

// jsonType names a decoded JSON value's type as core.SettingsOf names Go types, and returns
// the value with numbers as int64 or float64.
func jsonType(v any) (string, any) {
	switch x := v.(type) {
	case json.Number:
		if i, err := x.Int64(); err == nil {
			return "int", i
		}
		f, _ := x.Float64()
		return "float", f
	case bool:
		return "bool", x
	case string:
		return "string", x
	case []any:
		elem := "any"
		out := make([]any, len(x))
		for i, e := range x {
			t, ev := jsonType(e)
			if i == 0 {
				elem = t
			} else if t != elem {
				elem = "any"
			}
			out[i] = ev
		}
		return "[]" + elem, out
	case map[string]any:
		out := map[string]any{}
		for k, e := range x {
			_, out[k] = jsonType(e)
		}
		return "object", out
	default:
		return "any", nil
	}
}

// withValidSettings adds the plugin's valid settings to its rejection of raw when raw holds
// keys its default_config_json does not (as a built-in method's unknown key is reported):
// `… ("lenght" not among its settings: hidden, length, lr; …)`. Otherwise, or when
// the plugin declares no defaults, the plugin's error is returned as it is.
func withValidSettings(name string, d *methodpb.DescribeResponse, raw map[string]any, err error) error {
	settings, serr := settingsFromJSON(d.GetDefaultConfigJson())
	if serr != nil || len(settings) == 0 {
		return err
	}
	valid := map[string]bool{}
	var names []string
	for _, s := range settings {
		valid[s.Name] = true
		names = append(names, s.Name)
	}
	var unknown []string
	for k := range raw {
		if !valid[k] {
			unknown = append(unknown, fmt.Sprintf("%q", k))
		}
	}
	if len(unknown) == 0 {
		return err
	}
	sort.Strings(unknown)
	sort.Strings(names)
	return fmt.Errorf("%w (%s not among its settings: %s; and the host's %s, %s; see `ptbench methods %s`)",
		err, strings.Join(unknown, ", "), strings.Join(names, ", "), keyTimeout, keyWire, name)
}
