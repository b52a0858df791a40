package t5

import "encoding/json"

// HFConfig writes the model's architecture as a Hugging Face T5 config.json, so a state
// dict saved next to it (full fine-tuning's checkpoint) opens again as a backbone.
func (b *Backbone) HFConfig() ([]byte, error) {
	c := b.model.Cfg
	proj := "relu"
	if c.GatedGELU {
		proj = "gated-gelu"
	}
	out, err := json.MarshalIndent(map[string]any{
		"architectures": []string{"T5ForConditionalGeneration"}, "model_type": "t5",
		"vocab_size": c.Vocab, "d_model": c.DModel, "d_kv": c.DKV, "d_ff": c.DFF,
		"num_layers": c.EncoderLayers, "num_decoder_layers": c.DecoderLayers, "num_heads": c.Heads,
		"relative_attention_num_buckets": c.Buckets, "relative_attention_max_distance": c.MaxDistance,
		"layer_norm_epsilon": c.Eps, "dropout_rate": c.Dropout, "feed_forward_proj": proj,
		"tie_word_embeddings": c.TiedHead, "pad_token_id": c.Pad, "eos_token_id": c.EOS,
		"decoder_start_token_id": c.DecoderStart, "torch_dtype": "float32",
	}, "", "  ")
	if err != nil {
		return nil, err
	}
	return append(out, '\n'), nil
}
