package hf

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
)

// ConfigFile is the name of a model directory's configuration.
const ConfigFile = "config.json"

// T5Config is the part of a Hugging Face T5 (or mT5) config.json that decides the network's
// shape and numerics. Missing optional fields get transformers' defaults, so a config loads
// here exactly as T5Config.from_pretrained would read it.
type T5Config struct {
	Path      string // the config.json read, for messages
	ModelType string // "t5" or "mt5"

	VocabSize        int64
	DModel           int64 // hidden size
	DKV              int64 // size of one attention head
	DFF              int64 // feed-forward inner size
	NumLayers        int64 // encoder blocks
	NumDecoderLayers int64 // decoder blocks; defaults to NumLayers
	NumHeads         int64

	RelativeAttentionNumBuckets  int64
	RelativeAttentionMaxDistance int64 // default 128 (older configs lack it)

	LayerNormEpsilon  float64 // default 1e-6
	DropoutRate       float64 // default 0.1; only training uses it
	FeedForwardProj   string  // as written: "relu", "gated-gelu", "gated-silu", ...
	TieWordEmbeddings bool    // default true for t5, false for mt5

	PadTokenID          int64  // default 0
	EOSTokenID          int64  // default 1
	DecoderStartTokenID int64  // default PadTokenID, which is what T5 uses
	TorchDType          string // "float32", "bfloat16", ...; empty when not recorded

	// Derived like transformers' T5Config: IsGated selects wi_0/wi_1 (gated) or a single wi,
	// Act is the activation's ACT2FN name. "gated-gelu" means gelu_new (tanh approximation)
	// for backward compatibility. Explicit dense_act_fn / is_gated_act fields, written by
	// newer transformers, take precedence as they do there.
	IsGated bool
	Act     string
}

// NumParameters counts the weights a checkpoint with this config holds (relative attention
// bias only in the first block of each stack; lm_head only when untied), for logs and for a
// sanity check against a loaded model.
func (c *T5Config) NumParameters() int64 {
	inner := c.NumHeads * c.DKV
	attention := 4 * c.DModel * inner // q, k, v, o
	ffIn := c.DModel * c.DFF
	if c.IsGated {
		ffIn *= 2
	}
	feedForward := ffIn + c.DFF*c.DModel
	bias := c.RelativeAttentionNumBuckets * c.NumHeads
	encoderBlock := attention + feedForward + 2*c.DModel       // + 2 layer norms
	decoderBlock := 2*attention + feedForward + 3*c.DModel     // self + cross, 3 norms
	total := c.VocabSize * c.DModel                            // shared embedding
	total += c.NumLayers*encoderBlock + bias + c.DModel        // + final norm
	total += c.NumDecoderLayers*decoderBlock + bias + c.DModel // + final norm
	if !c.TieWordEmbeddings {
		total += c.VocabSize * c.DModel
	}
	return total
}

// knownActivations are the ACT2FN names a T5 feed-forward may use; anything else is almost
// certainly a typo or a model this loader does not implement.
var knownActivations = map[string]bool{
	"relu": true, "gelu": true, "gelu_new": true, "gelu_pytorch_tanh": true, "gelu_fast": true,
	"silu": true, "swish": true,
}

// LoadT5Config reads and validates dir/config.json. Every error names the file and the field.
func LoadT5Config(dir string) (*T5Config, error) {
	path := filepath.Join(dir, ConfigFile)
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("hf: %w", err)
	}
	return ParseT5Config(path, data)
}

// ParseT5Config validates a config.json already in memory; path only labels errors.
func ParseT5Config(path string, data []byte) (*T5Config, error) {
	fields, err := parseConfigFields(path, data)
	if err != nil {
		return nil, err
	}
	c := &T5Config{Path: path}
	if c.ModelType, err = fields.stringField("model_type", ""); err != nil {
		return nil, err
	}
	switch c.ModelType {
	case "t5", "mt5":
	case "":
		return nil, fields.fieldError("model_type", "is missing; want \"t5\" or \"mt5\"")
	case "umt5":
		return nil, fields.fieldError("model_type", "is \"umt5\", which has per-layer position biases; only t5 and mt5 are supported")
	default:
		return nil, fields.fieldError("model_type", "is %q; want \"t5\" or \"mt5\" (is this a T5 checkpoint?)", c.ModelType)
	}
	// mT5 differs from T5 only in these defaults.
	defaultProj, defaultTie := "relu", true
	if c.ModelType == "mt5" {
		defaultProj, defaultTie = "gated-gelu", false
	}

	required := []struct {
		target *int64
		name   string
		alias  string // transformers' attribute_map name, accepted when the T5 name is absent
	}{
		{&c.VocabSize, "vocab_size", ""},
		{&c.DModel, "d_model", "hidden_size"},
		{&c.DKV, "d_kv", "head_dim"},
		{&c.DFF, "d_ff", ""},
		{&c.NumLayers, "num_layers", "num_hidden_layers"},
		{&c.NumHeads, "num_heads", "num_attention_heads"},
	}
	for _, r := range required {
		if *r.target, err = fields.positiveInt(r.name, r.alias, -1); err != nil {
			return nil, err
		}
	}
	if c.NumDecoderLayers, err = fields.positiveInt("num_decoder_layers", "", c.NumLayers); err != nil {
		return nil, err
	}
	if c.RelativeAttentionNumBuckets, err = fields.positiveInt("relative_attention_num_buckets", "", 32); err != nil {
		return nil, err
	}
	if c.RelativeAttentionNumBuckets < 4 {
		// The encoder halves the buckets per direction and again for the exact range.
		return nil, fields.fieldError("relative_attention_num_buckets", "is %d; the bucket function needs at least 4", c.RelativeAttentionNumBuckets)
	}
	if c.RelativeAttentionMaxDistance, err = fields.positiveInt("relative_attention_max_distance", "", 128); err != nil {
		return nil, err
	}
	if c.RelativeAttentionMaxDistance <= c.RelativeAttentionNumBuckets/2 {
		// Otherwise log(max_distance / max_exact) is ≤ 0 and the log-spaced buckets are NaN.
		return nil, fields.fieldError("relative_attention_max_distance", "is %d; it must exceed half of relative_attention_num_buckets (%d)",
			c.RelativeAttentionMaxDistance, c.RelativeAttentionNumBuckets/2)
	}
	if c.LayerNormEpsilon, err = fields.floatField("layer_norm_epsilon", 1e-6); err != nil {
		return nil, err
	}
	if !(c.LayerNormEpsilon > 0 && c.LayerNormEpsilon < 1) {
		return nil, fields.fieldError("layer_norm_epsilon", "is %g; want a small positive number like 1e-6", c.LayerNormEpsilon)
	}
	if c.DropoutRate, err = fields.floatField("dropout_rate", 0.1); err != nil {
		return nil, err
	}
	if !(c.DropoutRate >= 0 && c.DropoutRate < 1) {
		return nil, fields.fieldError("dropout_rate", "is %g; want a probability in [0, 1)", c.DropoutRate)
	}
	if c.TieWordEmbeddings, err = fields.boolField("tie_word_embeddings", defaultTie); err != nil {
		return nil, err
	}
	if c.TorchDType, err = fields.stringField("torch_dtype", ""); err != nil {
		return nil, err
	}
	if c.TorchDType == "" {
		if c.TorchDType, err = fields.stringField("dtype", ""); err != nil { // newer transformers
			return nil, err
		}
	}

	if err := c.parseActivation(fields, defaultProj); err != nil {
		return nil, err
	}

	if c.PadTokenID, err = fields.tokenID("pad_token_id", 0, c.VocabSize); err != nil {
		return nil, err
	}
	if c.EOSTokenID, err = fields.tokenID("eos_token_id", 1, c.VocabSize); err != nil {
		return nil, err
	}
	if c.DecoderStartTokenID, err = fields.tokenID("decoder_start_token_id", c.PadTokenID, c.VocabSize); err != nil {
		return nil, err
	}
	return c, nil
}

// parseActivation applies transformers' rule: feed_forward_proj is "ACT" or "gated-ACT";
// "gated-gelu" maps to gelu_new; explicit dense_act_fn / is_gated_act override.
func (c *T5Config) parseActivation(fields *configFields, defaultProj string) error {
	var err error
	if c.FeedForwardProj, err = fields.stringField("feed_forward_proj", defaultProj); err != nil {
		return err
	}
	parts := strings.Split(c.FeedForwardProj, "-")
	if len(parts) > 2 || len(parts) == 2 && parts[0] != "gated" || parts[len(parts)-1] == "" {
		return fields.fieldError("feed_forward_proj", "is %q; want \"ACT\" or \"gated-ACT\", e.g. \"relu\" or \"gated-gelu\"", c.FeedForwardProj)
	}
	c.IsGated = len(parts) == 2
	c.Act = parts[len(parts)-1]
	if c.FeedForwardProj == "gated-gelu" {
		c.Act = "gelu_new"
	}
	if c.IsGated, err = fields.boolField("is_gated_act", c.IsGated); err != nil {
		return err
	}
	if c.Act, err = fields.stringField("dense_act_fn", c.Act); err != nil {
		return err
	}
	if !knownActivations[c.Act] {
		field := "feed_forward_proj"
		if fields.has("dense_act_fn") {
			field = "dense_act_fn"
		}
		return fields.fieldError(field, "gives activation %q; known: relu, gelu, gelu_new, gelu_pytorch_tanh, gelu_fast, silu, swish", c.Act)
	}
	return nil
}

// configFields holds config.json's top-level fields undecoded, so each can be checked for
// presence, null and type separately, with errors naming the file and field.
type configFields struct {
	path string
	raw  map[string]json.RawMessage
}

func parseConfigFields(path string, data []byte) (*configFields, error) {
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(data, &raw); err != nil {
		return nil, fmt.Errorf("hf: %s%s: not a JSON object: %v", path, jsonErrorPosition(data, err), err)
	}
	if raw == nil { // the file says null
		return nil, fmt.Errorf("hf: %s: not a JSON object: null", path)
	}
	return &configFields{path: path, raw: raw}, nil
}

// jsonErrorPosition is ":line:column" of a JSON syntax or type error in data ("" if unknown).
func jsonErrorPosition(data []byte, err error) string {
	var off int64 = -1
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syn):
		off = syn.Offset
	case errors.As(err, &typ):
		off = typ.Offset
	}
	if off < 1 || off > int64(len(data)) {
		return ""
	}
	before := data[:off-1] // the offset counts the offending byte
	line := bytes.Count(before, []byte("\n")) + 1
	col := len(before) - bytes.LastIndexByte(before, '\n')
	return fmt.Sprintf(":%d:%d", line, col)
}

func (f *configFields) fieldError(name, format string, args ...any) error {
	return fmt.Errorf("hf: %s: field %q %s", f.path, name, fmt.Sprintf(format, args...))
}

// lookup returns a field's raw value; absent and null are both "not set", as transformers
// treats null (e.g. num_decoder_layers: null means "same as num_layers").
func (f *configFields) lookup(name string) (json.RawMessage, bool) {
	value, ok := f.raw[name]
	if !ok || bytes.Equal(bytes.TrimSpace(value), []byte("null")) {
		return nil, false
	}
	return value, true
}

func (f *configFields) has(name string) bool {
	_, ok := f.lookup(name)
	return ok
}

// intField decodes an integer, accepting integral floats like 512.0 that some exporters write.
func (f *configFields) intField(name string) (int64, bool, error) {
	value, ok := f.lookup(name)
	if !ok {
		return 0, false, nil
	}
	var number json.Number
	dec := json.NewDecoder(bytes.NewReader(value))
	dec.UseNumber()
	var decoded any
	if err := dec.Decode(&decoded); err == nil {
		number, _ = decoded.(json.Number)
	}
	if number == "" {
		return 0, true, f.fieldError(name, "is %s; want an integer", value)
	}
	if n, err := number.Int64(); err == nil {
		return n, true, nil
	}
	if x, err := number.Float64(); err == nil && x == math.Trunc(x) && math.Abs(x) < 1<<53 {
		return int64(x), true, nil
	}
	return 0, true, f.fieldError(name, "is %s; want an integer", value)
}

// positiveInt reads name (or its alias when name is absent); fallback < 0 means required.
func (f *configFields) positiveInt(name, alias string, fallback int64) (int64, error) {
	n, ok, err := f.intField(name)
	if err != nil {
		return 0, err
	}
	if !ok && alias != "" {
		if n, ok, err = f.intField(alias); err != nil {
			return 0, err
		}
		if ok {
			name = alias // so a bad value is reported under the name the file uses
		}
	}
	if !ok {
		if fallback < 0 {
			return 0, f.fieldError(name, "is missing; T5 configs must set it")
		}
		return fallback, nil
	}
	if n <= 0 {
		return 0, f.fieldError(name, "is %d; want a positive integer", n)
	}
	return n, nil
}

// tokenID reads a special token id, which must index the vocabulary.
func (f *configFields) tokenID(name string, fallback, vocabSize int64) (int64, error) {
	if value, ok := f.lookup(name); ok && bytes.HasPrefix(bytes.TrimSpace(value), []byte("[")) {
		return 0, f.fieldError(name, "is a list %s; T5 uses a single id", value)
	}
	id, ok, err := f.intField(name)
	if err != nil {
		return 0, err
	}
	if !ok {
		id = fallback
	}
	if id < 0 || id >= vocabSize {
		return 0, f.fieldError(name, "is %d; want an id in [0, vocab_size=%d)", id, vocabSize)
	}
	return id, nil
}

func (f *configFields) floatField(name string, fallback float64) (float64, error) {
	value, ok := f.lookup(name)
	if !ok {
		return fallback, nil
	}
	var x float64
	if err := json.Unmarshal(value, &x); err != nil {
		return 0, f.fieldError(name, "is %s; want a number", value)
	}
	return x, nil
}

func (f *configFields) boolField(name string, fallback bool) (bool, error) {
	value, ok := f.lookup(name)
	if !ok {
		return fallback, nil
	}
	var b bool
	if err := json.Unmarshal(value, &b); err != nil {
		return false, f.fieldError(name, "is %s; want true or false", value)
	}
	return b, nil
}

func (f *configFields) stringField(name, fallback string) (string, error) {
	value, ok := f.lookup(name)
	if !ok {
		return fallback, nil
	}
	var s string
	if err := json.Unmarshal(value, &s); err != nil {
		return "", f.fieldError(name, "is %s; want a string", value)
	}
	return s, nil
}
