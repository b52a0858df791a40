package t5

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"

	"github.com/ptbench/ptbench/backbones/hf"
	"github.com/ptbench/ptbench/core"
)

// A second loader, after "t5" in the registry's order, for model directories whose config.json
// the t5 loader refuses because it cannot read it: malformed JSON, a missing model_type or one that
// is not a string, or a T5 config with a bad field. Without it `--backbone DIR` would only say that no
// loader recognises the path; with it the error names the file and the problem (line and
// column of a JSON syntax error). Configs of other model types are left to their loaders.
func init() {
	core.RegisterBackboneLoader("t5-config", "explains why a directory's config.json cannot be read (malformed JSON, or a T5 config with a bad field)",
		core.BackboneLoader{Probe: probeBadConfig, Open: openBadConfig})
}

func probeBadConfig(spec string) bool {
	dir, err := hf.ResolveModelDir(spec)
	if err != nil {
		return false
	}
	data, err := os.ReadFile(filepath.Join(dir, hf.ConfigFile))
	if err != nil {
		return false // no config.json: not a Hugging Face model directory
	}
	var head struct {
		ModelType json.RawMessage `json:"model_type"`
	}
	if json.Unmarshal(data, &head) != nil {
		return true // not JSON, or not an object
	}
	var mt string
	if len(head.ModelType) > 0 && json.Unmarshal(head.ModelType, &mt) != nil {
		return true // model_type is not a string
	}
	if mt != "" && mt != "t5" && mt != "mt5" {
		return false // some other model: not ours to explain (a missing model_type is)
	}
	_, err = hf.LoadT5Config(dir)
	return err != nil
}

func openBadConfig(spec string, opts core.BackboneOptions) (core.Backbone, error) {
	dir, err := hf.ResolveModelDir(spec)
	if err != nil {
		return nil, fmt.Errorf("backbone %q: %w", spec, err)
	}
	if _, err := hf.LoadT5Config(dir); err != nil {
		return nil, fmt.Errorf("backbone %q: %w", spec, err)
	}
	return openDir(spec, opts) // the file was fixed since the probe
}
