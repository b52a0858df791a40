package core

import (
	"path/filepath"
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
