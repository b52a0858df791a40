package storage

import (
	"math"
	"path/filepath"
	"strings"
	"testing"
)

// SafeFileName keeps built-in run keys as they are and turns any other name into one plain
// path element that stays in its folder.
func TestSafeFileName(t *testing.T) {
	cases := []struct{ in, want string }{
		{"pt.rte.s42.0123456789", "pt.rte.s42.0123456789"},
		{"attempt.rte+mrpc.s7.abcdef0123", "attempt.rte+mrpc.s7.abcdef0123"},
		{"plugin:../../../../tmp/x/ptbench-method-evil.rte.s42.aa", "plugin_.._.._.._.._tmp_x_ptbench-method-evil.rte.s42.aa"},
		{"..", "_"},
		{"../x", "_x"},
		{"a\nb\\c", "a_b_c"},
		{"", "_"},
	}
	for _, c := range cases {
		got := SafeFileName(c.in)
		if got != c.want {
			t.Errorf("SafeFileName(%q) = %q, want %q", c.in, got, c.want)
		}
		if !filepath.IsLocal(got) || filepath.Base(got) != got {
			t.Errorf("SafeFileName(%q) = %q is not one local path element", c.in, got)
		}
	}
}

// CheckPathElement refuses names that would leave or break the folder they name.
func TestCheckPathElement(t *testing.T) {
	for _, bad := range []string{"", ".", "..", "../../../tmp/x", "a/b", `a\b`, "a\nb", "x\x00"} {
		if CheckPathElement("name", bad) == nil {
			t.Errorf("%q accepted", bad)
		}
	}
	for _, good := range []string{"glue", "my-experiment_2", "glue.v2", "..x"} {
		if err := CheckPathElement("name", good); err != nil {
			t.Errorf("%q: %v", good, err)
		}
	}
}

func TestCheckFiniteConfig(t *testing.T) {
	type group struct {
		LR float64 `json:"lr"`
	}
	type inner struct{ Decay float32 }
	type cfg struct {
		inner
		Length int     `json:"length"`
		LR     float64 `json:"lr,omitempty"`
		Groups []group `json:"groups"`
		Hidden float64 `json:"-"`
		Ptr    *float64
	}
	inf := math.Inf(-1)
	cases := []struct {
		name string
		cfg  any
		want string // "" = fine
	}{
		{"finite struct", cfg{Length: 4, LR: 0.3, Groups: []group{{1}}, Hidden: math.NaN()}, ""},
		{"nan lr", cfg{LR: math.NaN()}, "lr = NaN: settings must be finite numbers"},
		{"inf in a slice", cfg{Groups: []group{{1}, {math.Inf(1)}}}, "groups[1].lr = +Inf"},
		{"embedded field", cfg{inner: inner{Decay: float32(math.NaN())}}, "Decay = NaN"},
		{"pointer", cfg{Ptr: &inf}, "Ptr = -Inf"},
		{"raw map", map[string]any{"a": 1, "lr": math.NaN()}, "lr = NaN"},
		{"nested map", map[string]any{"opt": map[string]any{"beta": []any{0.9, math.Inf(1)}}}, "opt.beta[1] = +Inf"},
		{"bare nan", math.NaN(), "the setting is NaN"},
		{"unencodable", map[string]any{"f": func() {}}, "cannot be recorded"},
		{"nil", nil, ""},
	}
	for _, c := range cases {
		err := CheckFiniteConfig(c.cfg)
		switch {
		case c.want == "" && err != nil:
			t.Errorf("%s: %v", c.name, err)
		case c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)):
			t.Errorf("%s: error %v, want one containing %q", c.name, err, c.want)
		}
	}
}
