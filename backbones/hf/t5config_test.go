package hf

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const fixtureDir = "../../testdata/fixtures/t5"

func TestLoadT5ConfigFixtures(t *testing.T) {
	cases := []struct {
		model string
		want  T5Config
		// num_parameters from the fixture's cases.json
		wantParams int64
	}{
		{"t5-tiny-v10", T5Config{
			ModelType: "t5", VocabSize: 128, DModel: 32, DKV: 8, DFF: 64, NumLayers: 2, NumDecoderLayers: 2, NumHeads: 4,
			RelativeAttentionNumBuckets: 32, RelativeAttentionMaxDistance: 128, LayerNormEpsilon: 1e-6, DropoutRate: 0.1,
			FeedForwardProj: "relu", TieWordEmbeddings: true, PadTokenID: 0, EOSTokenID: 1, DecoderStartTokenID: 0,
			TorchDType: "float32", IsGated: false, Act: "relu",
		}, 45696},
		{"t5-tiny-v11", T5Config{
			ModelType: "t5", VocabSize: 128, DModel: 32, DKV: 8, DFF: 48, NumLayers: 2, NumDecoderLayers: 3, NumHeads: 4,
			RelativeAttentionNumBuckets: 32, RelativeAttentionMaxDistance: 128, LayerNormEpsilon: 1e-6, DropoutRate: 0.1,
			FeedForwardProj: "gated-gelu", TieWordEmbeddings: false, PadTokenID: 0, EOSTokenID: 1, DecoderStartTokenID: 0,
			TorchDType: "float32", IsGated: true, Act: "gelu_new",
		}, 64736},
	}
	for _, tc := range cases {
		t.Run(tc.model, func(t *testing.T) {
			dir := filepath.Join(fixtureDir, tc.model)
			got, err := LoadT5Config(dir)
			if err != nil {
				t.Fatalf("LoadT5Config: %v", err)
			}
			tc.want.Path = filepath.Join(dir, "config.json")
			if *got != tc.want {
				t.Errorf("LoadT5Config =\n%+v\nwant\n%+v", *got, tc.want)
			}
			if n := got.NumParameters(); n != tc.wantParams {
				t.Errorf("NumParameters() = %d, want %d (cases.json)", n, tc.wantParams)
			}
		})
	}
}

// t5SmallConfig is google's t5-small config.json as on the hub: no feed_forward_proj,
// no relative_attention_max_distance, no num_decoder_layers in older copies.
const t5SmallConfig = `{
  "architectures": ["T5WithLMHeadModel"],
  "d_ff": 2048, "d_kv": 64, "d_model": 512, "decoder_start_token_id": 0,
  "dropout_rate": 0.1, "eos_token_id": 1, "initializer_factor": 1.0,
  "is_encoder_decoder": true, "layer_norm_epsilon": 1e-06, "model_type": "t5",
  "n_positions": 512, "num_heads": 8, "num_layers": 6, "output_past": true,
  "pad_token_id": 0, "relative_attention_num_buckets": 32, "vocab_size": 32128
}`

// withFields returns t5SmallConfig with fields set (nil value: field removed).
func withFields(t *testing.T, fields map[string]any) []byte {
	t.Helper()
	var config map[string]any
	if err := json.Unmarshal([]byte(t5SmallConfig), &config); err != nil {
		t.Fatal(err)
	}
	for k, v := range fields {
		if v == nil {
			delete(config, k)
		} else {
			config[k] = v
		}
	}
	data, err := json.Marshal(config)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func TestParseT5ConfigDefaultsAndVariants(t *testing.T) {
	cases := []struct {
		name   string
		fields map[string]any
		check  func(c *T5Config) bool
		want   string
	}{
		{"t5-small defaults", nil, func(c *T5Config) bool {
			return c.NumDecoderLayers == 6 && c.RelativeAttentionMaxDistance == 128 && c.FeedForwardProj == "relu" &&
				c.Act == "relu" && !c.IsGated && c.TieWordEmbeddings && c.DecoderStartTokenID == 0 && c.TorchDType == ""
		}, "num_decoder_layers 6, max distance 128, relu, tied"},
		{"null num_decoder_layers means num_layers", map[string]any{"num_decoder_layers": json.RawMessage("null")}, func(c *T5Config) bool {
			return c.NumDecoderLayers == 6
		}, "6 decoder layers"},
		{"v1.1 gated-gelu", map[string]any{"feed_forward_proj": "gated-gelu", "tie_word_embeddings": false}, func(c *T5Config) bool {
			return c.IsGated && c.Act == "gelu_new" && !c.TieWordEmbeddings
		}, "gated gelu_new, untied"},
		{"gated-silu", map[string]any{"feed_forward_proj": "gated-silu"}, func(c *T5Config) bool {
			return c.IsGated && c.Act == "silu"
		}, "gated silu"},
		{"plain gelu is exact gelu", map[string]any{"feed_forward_proj": "gelu"}, func(c *T5Config) bool {
			return !c.IsGated && c.Act == "gelu"
		}, "ungated gelu"},
		{"newer save_pretrained fields agree", map[string]any{"feed_forward_proj": "gated-gelu", "dense_act_fn": "gelu_new", "is_gated_act": true}, func(c *T5Config) bool {
			return c.IsGated && c.Act == "gelu_new"
		}, "gated gelu_new"},
		{"explicit dense_act_fn wins like in transformers", map[string]any{"feed_forward_proj": "gated-gelu", "dense_act_fn": "gelu_pytorch_tanh"}, func(c *T5Config) bool {
			return c.IsGated && c.Act == "gelu_pytorch_tanh"
		}, "gated gelu_pytorch_tanh"},
		{"mt5 defaults", map[string]any{"model_type": "mt5"}, func(c *T5Config) bool {
			return c.ModelType == "mt5" && c.IsGated && c.Act == "gelu_new" && !c.TieWordEmbeddings
		}, "gated gelu_new, untied"},
		{"attribute_map aliases", map[string]any{"d_model": nil, "hidden_size": 256, "num_heads": nil, "num_attention_heads": 4}, func(c *T5Config) bool {
			return c.DModel == 256 && c.NumHeads == 4
		}, "d_model 256, 4 heads"},
		{"integral floats", map[string]any{"d_ff": 2048.0, "vocab_size": json.RawMessage("32128.0")}, func(c *T5Config) bool {
			return c.DFF == 2048 && c.VocabSize == 32128
		}, "d_ff 2048"},
		{"decoder start defaults to pad", map[string]any{"decoder_start_token_id": nil, "pad_token_id": 3}, func(c *T5Config) bool {
			return c.PadTokenID == 3 && c.DecoderStartTokenID == 3
		}, "start = pad = 3"},
		{"newer dtype field", map[string]any{"dtype": "bfloat16"}, func(c *T5Config) bool {
			return c.TorchDType == "bfloat16"
		}, "bfloat16"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c, err := ParseT5Config("config.json", withFields(t, tc.fields))
			if err != nil {
				t.Fatalf("ParseT5Config: %v", err)
			}
			if !tc.check(c) {
				t.Errorf("got %+v, want %s", *c, tc.want)
			}
		})
	}
}

func TestParseT5ConfigRejects(t *testing.T) {
	cases := []struct {
		name   string
		fields map[string]any
		field  string // the field the error must name
		want   string
	}{
		{"not t5", map[string]any{"model_type": "bert"}, "model_type", `"bert"`},
		{"umt5", map[string]any{"model_type": "umt5"}, "model_type", "per-layer"},
		{"no model_type", map[string]any{"model_type": nil}, "model_type", "missing"},
		{"missing d_model", map[string]any{"d_model": nil}, "d_model", "missing"},
		{"missing vocab_size", map[string]any{"vocab_size": nil}, "vocab_size", "missing"},
		{"zero heads", map[string]any{"num_heads": 0}, "num_heads", "positive"},
		{"negative d_ff", map[string]any{"d_ff": -1}, "d_ff", "positive"},
		{"fractional d_kv", map[string]any{"d_kv": 64.5}, "d_kv", "integer"},
		{"string num_layers", map[string]any{"num_layers": "6"}, "num_layers", "integer"},
		{"zero decoder layers", map[string]any{"num_decoder_layers": 0}, "num_decoder_layers", "positive"},
		{"too few buckets", map[string]any{"relative_attention_num_buckets": 2}, "relative_attention_num_buckets", "at least 4"},
		{"max distance too small", map[string]any{"relative_attention_max_distance": 16}, "relative_attention_max_distance", "exceed"},
		{"zero epsilon", map[string]any{"layer_norm_epsilon": 0}, "layer_norm_epsilon", "positive"},
		{"dropout one", map[string]any{"dropout_rate": 1}, "dropout_rate", "[0, 1)"},
		{"bad proj shape", map[string]any{"feed_forward_proj": "double-gated-gelu"}, "feed_forward_proj", "gated-ACT"},
		{"bad proj prefix", map[string]any{"feed_forward_proj": "fancy-relu"}, "feed_forward_proj", "gated-ACT"},
		{"unknown activation", map[string]any{"feed_forward_proj": "gated-mish"}, "feed_forward_proj", `"mish"`},
		{"unknown dense_act_fn", map[string]any{"dense_act_fn": "tanh"}, "dense_act_fn", `"tanh"`},
		{"is_gated_act not bool", map[string]any{"is_gated_act": "yes"}, "is_gated_act", "true or false"},
		{"tie not bool", map[string]any{"tie_word_embeddings": 1}, "tie_word_embeddings", "true or false"},
		{"eos out of vocab", map[string]any{"eos_token_id": 40000}, "eos_token_id", "vocab_size=32128"},
		{"negative pad", map[string]any{"pad_token_id": -1}, "pad_token_id", "[0, vocab_size"},
		{"eos list", map[string]any{"eos_token_id": []int{1, 2}}, "eos_token_id", "single id"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c, err := ParseT5Config("/models/x/config.json", withFields(t, tc.fields))
			if err == nil {
				t.Fatalf("accepted: %+v", *c)
			}
			for _, want := range []string{"/models/x/config.json", `"` + tc.field + `"`, tc.want} {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q does not mention %q", err, want)
				}
			}
		})
	}
}

func TestLoadT5ConfigFileErrors(t *testing.T) {
	dir := t.TempDir()
	if _, err := LoadT5Config(dir); err == nil || !strings.Contains(err.Error(), "config.json") {
		t.Errorf("missing config.json: err = %v", err)
	}
	if err := os.WriteFile(filepath.Join(dir, "config.json"), []byte("[1, 2]"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadT5Config(dir); err == nil || !strings.Contains(err.Error(), "not a JSON object") {
		t.Errorf("config.json holding an array: err = %v", err)
	}
}
