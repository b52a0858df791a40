package t5

import "testing"

// TestPresetsAreReleasedV10Shapes pins every preset to the released T5 v1.0 config.json it
// copies (t5-tiny: the byte-level test shape), sizes and shared fields alike.
func TestPresetsAreReleasedV10Shapes(t *testing.T) {
	for name, want := range map[string]struct{ vocab, d, dkv, dff, layers, heads int64 }{
		"t5-tiny":  {259, 64, 16, 256, 2, 4},
		"t5-small": {32128, 512, 64, 2048, 6, 8},
		"t5-base":  {32128, 768, 64, 3072, 12, 12},
		"t5-large": {32128, 1024, 64, 4096, 24, 16},
		"t5-3b":    {32128, 1024, 128, 16384, 24, 32},
		"t5-11b":   {32128, 1024, 128, 65536, 24, 128},
	} {
		got, ok := Presets[name]
		if !ok {
			t.Errorf("%s: no such preset", name)
			continue
		}
		full := Config{Vocab: want.vocab, DModel: want.d, DKV: want.dkv, DFF: want.dff,
			EncoderLayers: want.layers, DecoderLayers: want.layers, Heads: want.heads,
			Buckets: 32, MaxDistance: 128, Eps: 1e-6, TiedHead: true, Pad: 0, EOS: 1, DecoderStart: 0}
		if got != full {
			t.Errorf("%s: %+v, want %+v", name, got, full)
		}
	}
	if len(Presets) != 6 {
		t.Errorf("%d presets, want the 6 pinned here", len(Presets))
	}
}
