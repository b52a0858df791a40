package host

import (
	"errors"
	"reflect"
	"testing"

	"github.com/ptbench/ptbench/core"
	methodpb "github.com/ptbench/ptbench/plugins/proto"
)

// A plugin's Describe answer becomes the description a built-in registers: its settings in
// default_config_json's order, typed by their defaults, documented by config_doc.
func TestDescriptionOfAPlugin(t *testing.T) {
	cases := []struct {
		name string
		resp *methodpb.DescribeResponse
		want core.Description
		err  bool
	}{
		{"settings in order, typed, documented", &methodpb.DescribeResponse{Name: "residual", Label: "Residual PT", About: "a prompt",
			DefaultConfigJson: `{"length": 20, "lr": 0.3, "init": "vocab", "fused": true, "sources": ["mnli", "qqp"], "extra": null}`,
			ConfigDoc:         map[string]string{"length": "soft tokens", "lr": "the rate"}},
			core.Description{Name: "plugin:./x", Label: "Residual PT", About: "a prompt", Family: core.FamilyInput, Settings: []core.Setting{
				{Name: "length", Type: "int", Default: int64(20), Doc: "soft tokens"},
				{Name: "lr", Type: "float", Default: 0.3, Doc: "the rate"},
				{Name: "init", Type: "string", Default: "vocab"},
				{Name: "fused", Type: "bool", Default: true},
				{Name: "sources", Type: "[]string", Default: []any{"mnli", "qqp"}},
				{Name: "extra", Type: "any", Default: nil},
			}}, false},
		{"no label: the plugin's name", &methodpb.DescribeResponse{Name: "mypt"},
			core.Description{Name: "plugin:./x", Label: "mypt", Family: core.FamilyInput, Settings: []core.Setting{}}, false},
		{"defaults that are not an object", &methodpb.DescribeResponse{Name: "bad", DefaultConfigJson: `[1, 2]`}, core.Description{}, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := DescriptionOf("plugin:./x", c.resp)
			if c.err {
				if err == nil {
					t.Fatalf("no error for %q", c.resp.DefaultConfigJson)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, c.want) {
				t.Errorf("got  %#v\nwant %#v", got, c.want)
			}
		})
	}
}

// A plugin's rejection of an unknown key also lists its settings, from its defaults.
func TestPluginRejectionListsValidSettings(t *testing.T) {
	d := &methodpb.DescribeResponse{DefaultConfigJson: `{"length": 20, "lr": 0.3}`}
	plugin := errors.New(`plugin x: Configure: unknown field "lenght"`)
	for _, c := range []struct {
		name string
		d    *methodpb.DescribeResponse
		raw  map[string]any
		want string
	}{
		{"an unknown key", d, map[string]any{"lenght": 4, "lr": 1},
			`plugin x: Configure: unknown field "lenght" ("lenght" not among its settings: length, lr; and the host's plugin_timeout, plugin_wire_dtype; see ` + "`ptbench methods x`)"},
		{"known keys: the plugin's reason as it is", d, map[string]any{"lr": -1}, plugin.Error()},
		{"no declared defaults", &methodpb.DescribeResponse{}, map[string]any{"lenght": 4}, plugin.Error()},
	} {
		err := withValidSettings("x", c.d, c.raw, plugin)
		if err.Error() != c.want || !errors.Is(err, plugin) {
			t.Errorf("%s: %v\nwant %s", c.name, err, c.want)
		}
	}
}
