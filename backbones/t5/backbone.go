package t5

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/sugarme/gotch"
	"github.com/sugarme/gotch/ts"

	"github.com/ptbench/ptbench/backbones/hf"
	"github.com/ptbench/ptbench/backbones/internal/seq"
	"github.com/ptbench/ptbench/backbones/tokenizers"
	"github.com/ptbench/ptbench/core"
)

// Presets need no download: random-init copies of real shapes, seeded (for tests, smoke runs
// and timing). t5-tiny pairs with the byte-level tokenizer.
var Presets = map[string]Config{
	"t5-tiny":  v10(Config{Vocab: 259, DModel: 64, DKV: 16, DFF: 256, EncoderLayers: 2, Heads: 4}),
	"t5-small": v10(Config{Vocab: 32128, DModel: 512, DKV: 64, DFF: 2048, EncoderLayers: 6, Heads: 8}),
	"t5-base":  v10(Config{Vocab: 32128, DModel: 768, DKV: 64, DFF: 3072, EncoderLayers: 12, Heads: 12}),
	// The released v1.0 large, 3B and 11B shapes (google-t5/t5-large, t5-3b, t5-11b config.json):
	// d_model 1024 throughout; the larger ones widen the FFN and the attention (H·d_kv 4096, 16384).
	"t5-large": v10(Config{Vocab: 32128, DModel: 1024, DKV: 64, DFF: 4096, EncoderLayers: 24, Heads: 16}),
	"t5-3b":    v10(Config{Vocab: 32128, DModel: 1024, DKV: 128, DFF: 16384, EncoderLayers: 24, Heads: 32}),
	"t5-11b":   v10(Config{Vocab: 32128, DModel: 1024, DKV: 128, DFF: 65536, EncoderLayers: 24, Heads: 128}),
}

// v10 completes a preset with what every released T5 v1.0 config.json shares, so each preset
// states only its sizes: as many decoder as encoder layers, 32 relative-position buckets up
// to distance 128, ε 1e-6, the tied head, pad 0, EOS 1 and decoder start 0.
func v10(c Config) Config {
	c.DecoderLayers = c.EncoderLayers
	c.Buckets, c.MaxDistance, c.Eps, c.TiedHead = 32, 128, 1e-6, true
	c.Pad, c.EOS, c.DecoderStart = 0, 1, 0
	return c
}

func init() {
	for name, cfg := range Presets {
		cfg := cfg
		core.RegisterBackbone(name, fmt.Sprintf("T5 v1.0 shape (d %d, %d+%d layers, %d heads, FFN %d), random init from --seed; --quant nf4, --dtype bfloat16; byte-level tokenizer",
			cfg.DModel, cfg.EncoderLayers, cfg.DecoderLayers, cfg.Heads, cfg.DFF),
			func(spec string, opts core.BackboneOptions) (core.Backbone, error) {
				var m *Model
				var err error
				if quantized(opts) { // drawn and quantised one matrix at a time
					m, err = NewRandomNF4(cfg, opts.Seed, opts.DType == core.BFloat16)
				} else {
					m, _, err = NewModel(cfg, RandomWeights(cfg, opts.Seed), spec)
				}
				if err != nil {
					return nil, err
				}
				if err := m.ToDevice(opts.Device); err != nil {
					m.Close()
					return nil, err
				}
				if err := applyOptions(m, opts); err != nil {
					m.Close()
					return nil, err
				}
				return newBackbone(spec, m, "t5-v1.0", dtypeLabel(opts, "float32 (random init)"), opts.Tokenizer, "")
			})
	}
	core.RegisterBackboneLoader("t5", "Hugging Face T5 directory (config.json + safetensors/bin), HF cache id org/name, or hub download",
		core.BackboneLoader{Probe: probe, Open: openDir})
}

// probe accepts a directory whose config.json says model_type t5, a hub id in the cache, or
// an "org/name" hub id to download.
func probe(spec string) bool {
	dir, err := hf.ResolveModelDir(spec)
	if err != nil {
		return hf.LooksLikeHubID(spec)
	}
	_, err = hf.LoadT5Config(dir)
	return err == nil
}

func openDir(spec string, opts core.BackboneOptions) (core.Backbone, error) {
	dir, err := hf.ResolveModelDir(spec)
	if err != nil && hf.LooksLikeHubID(spec) {
		dir, err = hf.FetchModel(context.Background(), spec, "spiece.model", "tokenizer.json")
	}
	if err != nil {
		return nil, err
	}
	var m *Model
	if quantized(opts) {
		m, err = LoadModelDirNF4(dir, opts.DType == core.BFloat16)
	} else {
		var extra map[string]*ts.Tensor
		m, extra, err = LoadModelDir(dir, "")
		dropAll(extra)
	}
	if err != nil {
		return nil, err
	}
	if err := m.ToDevice(opts.Device); err != nil { // before applyOptions stacks q/k/v
		m.Close()
		return nil, err
	}
	if err := applyOptions(m, opts); err != nil {
		m.Close()
		return nil, err
	}
	arch := "t5-v1.0"
	if m.Cfg.GatedGELU {
		arch = "t5-v1.1"
	}
	return newBackbone(spec, m, arch, dtypeLabel(opts, "float32"), opts.Tokenizer, dir)
}

// applyOptions sets --dropout when given (it overrides config.json's dropout_rate), the
// forms (core.FormsEnv: the fast ones unless PTBENCH_FORMS=plain; forms.go) and --dtype
// bfloat16's bf16 matmuls, in that order (ToBF16 converts stacked weights as they are).
func applyOptions(m *Model, opts core.BackboneOptions) error {
	if opts.Dropout != nil {
		m.Cfg.Dropout = *opts.Dropout
	}
	plain, err := formsFromEnv()
	if err != nil {
		return err
	}
	m.UseForms(plain)
	if opts.DType == core.BFloat16 {
		m.ToBF16()
	}
	return nil
}

// Backbone adapts Model to core.Backbone.
type Backbone struct {
	model *Model
	tok   core.Tokenizer
	info  core.BackboneInfo
}

// newBackbone picks the tokenizer: an explicit override, else the directory's spiece.model or
// tokenizer.json, else (presets) the byte-level tokenizer.
func newBackbone(name string, m *Model, arch, dtype, tokSpec, dir string) (*Backbone, error) {
	var tok core.Tokenizer
	var err error
	switch {
	case tokSpec != "":
		tok, err = tokenizers.Load(tokSpec)
	case dir != "":
		for _, f := range []string{"spiece.model", "tokenizer.json", "tokenizer.model"} {
			if _, statErr := os.Stat(filepath.Join(dir, f)); statErr == nil {
				tok, err = tokenizers.Load(filepath.Join(dir, f))
				break
			}
		}
		if tok == nil && err == nil {
			err = fmt.Errorf("%s: no spiece.model or tokenizer.json; pass --tokenizer", dir)
		}
	default:
		tok = tokenizers.NewByteLevel()
	}
	if err != nil {
		m.Close()
		return nil, err
	}
	if int64(tok.VocabSize()) > m.Cfg.Vocab {
		m.Close()
		return nil, fmt.Errorf("%s: tokenizer has %d ids but the model only %d embeddings", name, tok.VocabSize(), m.Cfg.Vocab)
	}
	return &Backbone{model: m, tok: tok, info: core.BackboneInfo{
		Name: name, Arch: arch, DModel: m.Cfg.DModel, Vocab: m.Cfg.Vocab, EncoderDecoder: true,
		NumParams: m.NumParams(), DType: dtype,
	}}, nil
}

// Model exposes the underlying T5 (for verification and benchmarks).
func (b *Backbone) Model() *Model { return b.model }

func (b *Backbone) Info() core.BackboneInfo              { return b.info }
func (b *Backbone) Tokenizer() core.Tokenizer            { return b.tok }
func (b *Backbone) SetHooks(h *core.Hooks)               { b.model.SetHooks(h) }
func (b *Backbone) Device() core.Device                  { return b.model.Device() }
func (b *Backbone) Close()                               { b.model.Close() }
func (b *Backbone) EncodeTarget(t string, n int) []int64 { return b.EncodeSource(t, n) }

// EncodeSource appends EOS, as T5's tokenizer does, truncating the text to keep it.
func (b *Backbone) EncodeSource(text string, maxLen int) []int64 {
	return seq.EndWithEOS(b.tok.Encode(text), maxLen, b.model.Cfg.EOS)
}

// DecodeTarget stops at the first EOS and drops pads and <unk>, as the references' decode with
// skip_special_tokens (spiece.model's decoder alone would write <unk> as " ⁇ ").
func (b *Backbone) DecodeTarget(ids []int64) string {
	pad, unk := b.model.Cfg.Pad, tokenizers.UnknownID(b.tok)
	return b.tok.Decode(seq.UntilEOS(ids, b.model.Cfg.EOS, func(id int64) bool { return id == pad || id == unk }))
}

// Collate pads on the right with T5's pad id (0); positions count 0..L-1 along each row.
func (b *Backbone) Collate(rows []core.Encoded, opts core.CollateOptions) (*core.Batch, error) {
	opts.Device = b.Device()
	return core.CollateWith(rows, opts, core.PadRight, b.model.Cfg.Pad)
}

// Embed looks up frozen token embeddings.
func (b *Backbone) Embed(ids *ts.Tensor) *ts.Tensor {
	return b.model.embed(ids)
}

// Loss is the teacher-forced cross-entropy; in.Batch is the hooks' context and says whether
// dropout is on.
func (b *Backbone) Loss(in core.Input, labels *ts.Tensor) (loss *ts.Tensor, err error) {
	rows, err := core.Labels2D(labels)
	if err != nil {
		return nil, fmt.Errorf("t5: %w", err)
	}
	b.model.Within(in.Batch, func() {
		var out Outputs
		if out, err = b.model.Forward(in.Embeds, in.Mask, rows, false, false); err == nil {
			loss = out.Loss
		}
	})
	return loss, err
}

// ForwardOutputs is Loss that also returns the logits and the final encoder states.
func (b *Backbone) ForwardOutputs(in core.Input, labels *ts.Tensor) (out core.Outputs, err error) {
	rows, err := core.Labels2D(labels)
	if err != nil {
		return core.Outputs{}, fmt.Errorf("t5: %w", err)
	}
	b.model.Within(in.Batch, func() {
		var o Outputs
		if o, err = b.model.Forward(in.Embeds, in.Mask, rows, true, true); err == nil {
			out = core.Outputs{Loss: o.Loss, Logits: o.Logits, Encoder: o.EncoderHidden}
		}
	})
	return out, err
}

// Generate decodes greedily with the key/value cache, without gradients or dropout.
func (b *Backbone) Generate(in core.Input, opts core.GenerateOptions) ([][]int64, error) {
	var out [][]int64
	ctx := in.Batch
	if ctx != nil && ctx.Train { // generation is evaluation, whatever the batch says
		c := *ctx
		c.Train = false
		ctx = &c
	}
	b.model.Within(ctx, func() {
		ts.NoGrad(func() { out = b.model.Greedy(in.Embeds, in.Mask, opts.MaxNewTokens, opts.StopAtEOS, nil) })
	})
	return out, nil
}

// Weights lists every parameter by HF name.
func (b *Backbone) Weights() []core.NamedTensor {
	names := b.model.Weights()
	out := make([]core.NamedTensor, len(names))
	for i, n := range names {
		out[i] = core.NamedTensor{Name: n, Tensor: b.model.Weight(n)}
	}
	return out
}

// HookSites lists every linear layer, sublayer output and layer norm of both stacks (a
// stack's final norm has Layer = its number of blocks, as the LM head does).
func (b *Backbone) HookSites() []core.HookSite {
	c := b.model.Cfg
	var sites []core.HookSite
	inner := c.Heads * c.DKV
	lin := func(stack string, layer int, name string, role core.HookRole, in, out int64) {
		sites = append(sites, core.HookSite{Name: name, Kind: core.HookLinear, Role: role, Stack: stack, Layer: layer, In: in, Out: out})
	}
	sub := func(stack string, layer int, name string, role core.HookRole) {
		sites = append(sites, core.HookSite{Name: name, Kind: core.HookSublayer, Role: role, Stack: stack, Layer: layer, In: c.DModel, Out: c.DModel})
	}
	norm := func(stack string, layer int, name string) {
		sites = append(sites, core.HookSite{Name: name, Kind: core.HookNorm, Role: core.RoleNorm, Stack: stack, Layer: layer, In: c.DModel, Out: c.DModel})
	}
	addAttn := func(stack string, layer int, a attention, role core.HookRole) {
		norm(stack, layer, normSite(a.prefix))
		for _, p := range []core.HookRole{core.RoleQ, core.RoleK, core.RoleV} {
			lin(stack, layer, a.prefix+"."+string(p), p, c.DModel, inner)
		}
		lin(stack, layer, a.prefix+".o", core.RoleO, inner, c.DModel)
		sub(stack, layer, a.prefix, role)
	}
	addFF := func(stack string, layer int, f feedForward) {
		norm(stack, layer, normSite(f.prefix))
		if c.GatedGELU {
			lin(stack, layer, f.prefix+".wi_0", core.RoleFFNIn, c.DModel, c.DFF)
			lin(stack, layer, f.prefix+".wi_1", core.RoleFFNIn, c.DModel, c.DFF)
		} else {
			lin(stack, layer, f.prefix+".wi", core.RoleFFNIn, c.DModel, c.DFF)
		}
		lin(stack, layer, f.prefix+".wo", core.RoleFFNOut, c.DFF, c.DModel)
		sub(stack, layer, f.prefix, core.RoleFFN)
	}
	for i, blk := range b.model.encoder {
		addAttn("encoder", i, blk.self, core.RoleSelfAttn)
		addFF("encoder", i, blk.ff)
	}
	norm("encoder", len(b.model.encoder), "encoder.final_layer_norm")
	for i, blk := range b.model.decoder {
		addAttn("decoder", i, blk.self, core.RoleSelfAttn)
		addAttn("decoder", i, blk.cross, core.RoleCrossAttn)
		addFF("decoder", i, blk.ff)
	}
	norm("decoder", len(b.model.decoder), "decoder.final_layer_norm")
	lin("decoder", len(b.model.decoder), "lm_head", core.RoleLMHead, c.DModel, c.Vocab)
	return sites
}

// MaskFromLengths is a helper for tests and benchmarks: a [B, L] float mask of ones up to
// each row's length.
func MaskFromLengths(lengths []int, L int) *ts.Tensor {
	vals := make([]float32, 0, len(lengths)*L)
	for _, n := range lengths {
		for j := 0; j < L; j++ {
			if j < n {
				vals = append(vals, 1)
			} else {
				vals = append(vals, 0)
			}
		}
	}
	return ts.MustOfSlice(vals).MustView([]int64{int64(len(lengths)), int64(L)}, true).MustTotype(gotch.Float, true)
}

// quantized reports whether opts ask for 4-bit linear weights.
func quantized(opts core.BackboneOptions) bool { return opts.Quant == core.QuantNF4 }

// dtypeLabel is how results name the weights' precision.
func dtypeLabel(opts core.BackboneOptions, fp32 string) string {
	label := fp32
	if opts.DType == core.BFloat16 {
		label = "bfloat16 (matmuls; norms, softmax and loss fp32)"
	}
	if quantized(opts) {
		label += " +nf4 (linear weights 4-bit, double-quantised)"
	}
	return label
}
