package t5

import (
	"fmt"
	"path/filepath"

	"github.com/sugarme/gotch/ts"

	"github.com/ptbench/ptbench/backbones/hf"
)

// ConfigFromHF converts a parsed config.json into the architecture the model implements:
// ReLU (v1.0) or gated-GELU-tanh (v1.1) feed-forward.
func ConfigFromHF(c *hf.T5Config) (Config, error) {
	gelu := c.Act == "gelu_new" || c.Act == "gelu_pytorch_tanh"
	switch {
	case !c.IsGated && c.Act == "relu", c.IsGated && gelu:
	default:
		return Config{}, fmt.Errorf("%s: feed-forward %q (gated %v, act %s) is not implemented (relu or gated-gelu)",
			c.Path, c.FeedForwardProj, c.IsGated, c.Act)
	}
	return Config{
		Vocab: c.VocabSize, DModel: c.DModel, DKV: c.DKV, DFF: c.DFF,
		EncoderLayers: c.NumLayers, DecoderLayers: c.NumDecoderLayers, Heads: c.NumHeads,
		Buckets: c.RelativeAttentionNumBuckets, MaxDistance: c.RelativeAttentionMaxDistance,
		Eps: c.LayerNormEpsilon, GatedGELU: c.IsGated, TiedHead: c.TieWordEmbeddings,
		Pad: c.PadTokenID, EOS: c.EOSTokenID, DecoderStart: c.DecoderStartTokenID,
		Dropout: c.DropoutRate,
	}, nil
}

// LoadModelDir loads a Hugging Face T5 directory (config.json + model.safetensors, sharded
// safetensors with an index, or pytorch_model.bin). weightsFile, if not empty, picks one
// file in dir instead (e.g. "model.bf16.safetensors"). Tensors the model does not use are
// returned (owned by the caller) so that callers can use extra tensors a file carries.
func LoadModelDir(dir, weightsFile string) (*Model, map[string]*ts.Tensor, error) {
	hc, err := hf.LoadT5Config(dir)
	if err != nil {
		return nil, nil, err
	}
	cfg, err := ConfigFromHF(hc)
	if err != nil {
		return nil, nil, err
	}
	files := []string{filepath.Join(dir, weightsFile)}
	if weightsFile == "" {
		if files, err = hf.WeightFiles(dir); err != nil {
			return nil, nil, err
		}
	}
	tensors := map[string]*ts.Tensor{}
	for _, f := range files {
		part, err := hf.LoadWeightFile(f)
		if err != nil {
			dropAll(tensors)
			return nil, nil, err
		}
		for n, t := range part {
			if _, dup := tensors[n]; dup {
				dropAll(tensors)
				dropAll(part)
				return nil, nil, fmt.Errorf("%s: tensor %q appears in more than one weight file", f, n)
			}
			tensors[n] = t
		}
	}
	m, unused, err := NewModel(cfg, tensors, dir)
	if err != nil {
		dropAll(tensors)
		return nil, nil, err
	}
	extra := map[string]*ts.Tensor{}
	for _, n := range unused {
		extra[n] = tensors[n]
	}
	for n := range aliases {
		if t, ok := tensors[n]; ok {
			t.MustDrop()
		}
	}
	return m, extra, nil
}
