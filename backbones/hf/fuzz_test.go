package hf

import (
	"strings"
	"testing"

	"github.com/ptbench/ptbench/internal/testfix"
)

// FuzzParseT5Config: any bytes given as config.json either fail with an error naming the file,
// or give a config that keeps the parser's promises (positive sizes, token ids inside the
// vocabulary, usable relative-attention buckets, epsilon and dropout in range).
func FuzzParseT5Config(f *testing.F) {
	for _, rel := range []string{"fixtures/t5/t5-tiny-v10/config.json", "fixtures/t5/t5-tiny-v11/config.json"} {
		if b := testfix.Read(f, rel); b != nil {
			f.Add(b)
		}
	}
	f.Add([]byte(`{"model_type": "mt5", "vocab_size": 10, "hidden_size": 8, "head_dim": 4, "d_ff": 16, "num_hidden_layers": 1, "num_attention_heads": 2}`))
	f.Add([]byte(`{"model_type": "t5", "vocab_size": 10, "d_model": 8.0, "d_kv": 4, "d_ff": 16, "num_layers": 1, "num_heads": 2, "num_decoder_layers": null, "feed_forward_proj": "gated-silu", "dense_act_fn": "silu", "is_gated_act": true, "pad_token_id": 9}`))
	f.Add([]byte("{\n  \"model_type\": \"t5\",,\n}"))
	f.Add([]byte(`[1]`))
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := ParseT5Config("cfg/config.json", data)
		if err != nil {
			if !strings.Contains(err.Error(), "cfg/config.json") {
				t.Fatalf("error does not name the file: %v", err)
			}
			return
		}
		for name, v := range map[string]int64{"vocab_size": c.VocabSize, "d_model": c.DModel, "d_kv": c.DKV, "d_ff": c.DFF,
			"num_layers": c.NumLayers, "num_decoder_layers": c.NumDecoderLayers, "num_heads": c.NumHeads} {
			if v <= 0 {
				t.Fatalf("%s = %d accepted", name, v)
			}
		}
		for name, id := range map[string]int64{"pad": c.PadTokenID, "eos": c.EOSTokenID, "decoder_start": c.DecoderStartTokenID} {
			if id < 0 || id >= c.VocabSize {
				t.Fatalf("%s token id %d outside vocabulary %d", name, id, c.VocabSize)
			}
		}
		if c.RelativeAttentionNumBuckets < 4 || c.RelativeAttentionMaxDistance <= c.RelativeAttentionNumBuckets/2 {
			t.Fatalf("buckets %d, max distance %d accepted", c.RelativeAttentionNumBuckets, c.RelativeAttentionMaxDistance)
		}
		if !(c.LayerNormEpsilon > 0 && c.LayerNormEpsilon < 1) || !(c.DropoutRate >= 0 && c.DropoutRate < 1) {
			t.Fatalf("epsilon %g, dropout %g accepted", c.LayerNormEpsilon, c.DropoutRate)
		}
		if !knownActivations[c.Act] || c.ModelType != "t5" && c.ModelType != "mt5" {
			t.Fatalf("activation %q, model_type %q accepted", c.Act, c.ModelType)
		}
	})
}
