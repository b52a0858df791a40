package t5

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ptbench/ptbench/core"
)

// TestBadConfigJSONIsExplained: --backbone DIR with a config.json that cannot be read names
// the file and the problem instead of "no loader recognises this path"; other model types
// are still left alone.
func TestBadConfigJSONIsExplained(t *testing.T) {
	for _, c := range []struct {
		name, config string
		want         []string
	}{
		{"syntax", "{\n  \"model_type\": \"t5\",\n  \"d_model\": 64,,\n}\n", []string{"config.json:3:17", "invalid character ','"}},
		{"truncated", `{"model_type": "t5", "d_mod`, []string{"config.json", "unexpected end of JSON input"}},
		{"array", "[1, 2]", []string{"config.json:1:", "not a JSON object"}},
		{"null", "null", []string{"config.json", "not a JSON object"}},
		{"model_type not a string", `{"model_type": 5}`, []string{"config.json", "model_type"}},
		{"model_type missing", `{"d_model": 64}`, []string{"config.json", `"model_type" is missing`}},
		{"bad t5 field", `{"model_type": "t5", "vocab_size": 100, "d_model": "big", "d_kv": 8, "d_ff": 32, "num_layers": 1, "num_heads": 2, "relative_attention_num_buckets": 8}`,
			[]string{"config.json", "d_model"}},
		{"other model", `{"model_type": "bert"}`, []string{"no loader recognises this path"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			if err := os.WriteFile(filepath.Join(dir, "config.json"), []byte(c.config), 0o644); err != nil {
				t.Fatal(err)
			}
			bb, err := core.OpenBackbone(dir, core.BackboneOptions{})
			if err == nil {
				bb.Close()
				t.Fatal("opened; want an error")
			}
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
		})
	}
}
