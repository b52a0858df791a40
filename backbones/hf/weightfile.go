package hf

import (
	"fmt"
	"strings"

	"github.com/sugarme/gotch/pickle"
	"github.com/sugarme/gotch/ts"

	"github.com/ptbench/ptbench/core"
)

// LoadWeightFile reads one weight file of a Hugging Face checkpoint, a .safetensors file or
// a PyTorch pickle (.bin) state dict, into tensors by name (the caller owns them). Both the
// T5 and the Llama loaders read their (sharded) checkpoints through it.
func LoadWeightFile(path string) (map[string]*ts.Tensor, error) {
	if strings.HasSuffix(path, ".safetensors") {
		return core.LoadTorchFile(path)
	}
	out, err := pickle.Decode(path)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return out, nil
}
