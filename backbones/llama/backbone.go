package llama

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/sugarme/gotch"
	"github.com/sugarme/gotch/ts"

	"github.com/ptbench/ptbench/backbones/hf"
	"github.com/ptbench/ptbench/backbones/internal/seq"
	"github.com/ptbench/ptbench/backbones/tokenizers"
	"github.com/ptbench/ptbench/core"
)

// Separator follows the source text (DePT's Llama format "{source} Label : {target}"): the
// target is generated after it.
const Separator = " Label :"

// Presets need no download: random-init copies of real shapes, seeded.
var Presets = map[string]Config{
	// llama-tiny is test-sized (GQA on: 8 query heads share 4 key/value heads).
	"llama-tiny": {Vocab: 259, Dim: 64, Hidden: 172, Layers: 2, Heads: 8, KVHeads: 4, MaxSeq: 1024,
		Eps: 1e-5, Theta: 10000, Tied: false, BOS: -1, EOS: 1, Pad: 0},
	"llama2-7b": {Vocab: 32000, Dim: 4096, Hidden: 11008, Layers: 32, Heads: 32, KVHeads: 32, MaxSeq: 4096,
		Eps: 1e-5, Theta: 10000, Tied: false, BOS: 1, EOS: 2, Pad: 0},
}

func init() {
	for name, cfg := range Presets {
		cfg := cfg
		core.RegisterBackbone(name, fmt.Sprintf("Llama-2 shape (d %d, %d layers, %d/%d heads, FFN %d, vocab %d), random init from --seed; --quant nf4, --dtype bfloat16; byte-level tokenizer unless --tokenizer",
			cfg.Dim, cfg.Layers, cfg.Heads, cfg.KVHeads, cfg.Hidden, cfg.Vocab),
			func(spec string, opts core.BackboneOptions) (core.Backbone, error) {
				tok, err := loadTokenizer(opts.Tokenizer, "")
				if err != nil {
					return nil, err
				}
				c := withSpecials(cfg, tok)
				if v := int64(tok.VocabSize()); v > c.Vocab {
					c.Vocab = v
				}
				m, err := NewRandom(c, opts.Seed, loadOptions(opts))
				if err != nil {
					return nil, err
				}
				return newBackbone(spec, m, tok, "random init")
			})
	}
	core.RegisterBackboneLoader("llama", "Llama-2: Hugging Face LlamaForCausalLM directory (config.json + safetensors/bin, sharded), HF cache id, hub id with \"llama\" in it, or a llama2.c .bin checkpoint",
		core.BackboneLoader{Probe: Probe, Open: openSpec})
}

// Probe accepts a llama2.c .bin, a directory (or cached hub id) whose config.json says
// model_type llama, or an uncached "org/name" hub id naming a Llama.
func Probe(spec string) bool {
	if probeBin(spec) {
		return true
	}
	if dir, err := hf.ResolveModelDir(spec); err == nil {
		_, err = LoadHFConfig(dir)
		return err == nil
	}
	return hf.LooksLikeHubID(spec) && strings.Contains(strings.ToLower(spec), "llama")
}

// loadOptions are the typed options core parsed (one set of spellings for every backbone).
func loadOptions(opts core.BackboneOptions) LoadOptions {
	return LoadOptions{DType: opts.DType, Quant: opts.Quant, Device: opts.Device}
}

func openSpec(spec string, opts core.BackboneOptions) (core.Backbone, error) {
	lo := loadOptions(opts)
	if probeBin(spec) {
		tok, err := loadTokenizer(opts.Tokenizer, filepath.Dir(spec))
		if err != nil {
			return nil, fmt.Errorf("%s: %w", spec, err)
		}
		m, err := OpenBin(spec, lo)
		if err != nil {
			return nil, err
		}
		m.Cfg = withSpecials(m.Cfg, tok)
		return newBackbone(spec, m, tok, "llama2.c")
	}
	dir, err := hf.ResolveModelDir(spec)
	if err != nil && hf.LooksLikeHubID(spec) {
		if dir, err = hf.FetchModel(context.Background(), spec, "spiece.model", "tokenizer.json"); err == nil {
			fetchTokenizerModel(spec)
		}
	}
	if err != nil {
		return nil, err
	}
	tok, err := loadTokenizer(opts.Tokenizer, dir)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", spec, err)
	}
	m, err := OpenDir(dir, lo)
	if err != nil {
		return nil, err
	}
	if opts.Tokenizer != "" {
		m.Cfg = withSpecials(m.Cfg, tok)
	}
	return newBackbone(spec, m, tok, "hf")
}

// fetchTokenizerModel also downloads tokenizer.model (Llama's SentencePiece file).
func fetchTokenizerModel(repoID string) {
	rev := "main"
	if i := strings.IndexByte(repoID, '@'); i > 0 {
		repoID, rev = repoID[:i], repoID[i+1:]
	}
	_, _ = hf.Download(context.Background(), repoID, rev, []string{"tokenizer.model"},
		hf.DownloadOptions{Endpoint: hf.HubEndpoint, Token: hf.TokenFromEnv()})
}

// loadTokenizer: an explicit --tokenizer, else dir's tokenizer.model / tokenizer.json, else
// (presets, dir "") the byte-level tokenizer.
func loadTokenizer(spec, dir string) (core.Tokenizer, error) {
	if spec != "" {
		return tokenizers.Load(spec)
	}
	if dir == "" {
		return tokenizers.NewByteLevel(), nil
	}
	for _, f := range []string{"tokenizer.model", "tokenizer.json"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err == nil {
			return tokenizers.Load(filepath.Join(dir, f))
		}
	}
	return nil, fmt.Errorf("no tokenizer.model or tokenizer.json beside the weights; pass --tokenizer (a file or \"byte\")")
}

// withSpecials takes BOS/EOS/pad from the tokenizer where it has them (Llama-2's has no pad:
// 0, <unk>, as HF pads; the byte-level one has no BOS: none is added).
func withSpecials(c Config, tok core.Tokenizer) Config {
	if t, ok := tok.(interface{ BOS() int }); ok {
		c.BOS = int64(t.BOS())
	}
	if t, ok := tok.(interface{ EOS() int }); ok && t.EOS() >= 0 {
		c.EOS = int64(t.EOS())
	}
	c.Pad = 0
	if t, ok := tok.(interface{ Pad() int }); ok && t.Pad() >= 0 {
		c.Pad = int64(t.Pad())
	}
	return c
}

// Backbone adapts Model to core.Backbone as a causal LM over "{source} Label : {target}".
type Backbone struct {
	model *Model
	tok   core.Tokenizer
	info  core.BackboneInfo
	hooks *core.Hooks
}

func newBackbone(name string, m *Model, tok core.Tokenizer, origin string) (*Backbone, error) {
	if int64(tok.VocabSize()) > m.Cfg.Vocab {
		m.Close()
		return nil, fmt.Errorf("%s: tokenizer has %d ids but the model only %d embeddings", name, tok.VocabSize(), m.Cfg.Vocab)
	}
	dt := "float32"
	if m.DType == gotch.BFloat16 {
		dt = "bfloat16"
	}
	if m.Quantized() {
		dt += "+nf4"
	}
	return &Backbone{model: m, tok: tok, info: core.BackboneInfo{
		Name: name, Arch: "llama", DModel: m.Cfg.Dim, Vocab: m.Cfg.Vocab, EncoderDecoder: false,
		NumParams: m.NumParams(), DType: dt + " (" + origin + ")",
	}}, nil
}

// Model exposes the underlying Llama (verification, benchmarks).
func (b *Backbone) Model() *Model { return b.model }

func (b *Backbone) Info() core.BackboneInfo   { return b.info }
func (b *Backbone) Tokenizer() core.Tokenizer { return b.tok }
func (b *Backbone) Close()                    { b.model.Close() }
func (b *Backbone) Device() core.Device       { return b.model.Device() }

// SetHooks installs (nil removes) a method's hooks.
func (b *Backbone) SetHooks(h *core.Hooks) { b.hooks = h; b.model.SetHooks(h) }

// decoderOnly refuses hooks that need an encoder (HyperDecoder-like methods).
func (b *Backbone) decoderOnly() error {
	if b.hooks.HasEncoderOutput() {
		return fmt.Errorf("llama: the method hooks the encoder output, which a decoder-only backbone does not have (%w)", core.ErrEncoderDecoderOnly)
	}
	return nil
}

// EncodeSource is BOS + "{text} Label :", truncated from the front to maxLen ids so that the
// separator the target follows is always kept.
func (b *Backbone) EncodeSource(text string, maxLen int) []int64 {
	ids := b.tok.Encode(text + Separator)
	room := maxLen
	if b.model.Cfg.BOS >= 0 {
		room--
	}
	if maxLen > 0 && len(ids) > room {
		ids = ids[len(ids)-max(room, 0):]
	}
	out := make([]int64, 0, len(ids)+1)
	if b.model.Cfg.BOS >= 0 {
		out = append(out, b.model.Cfg.BOS)
	}
	for _, id := range ids {
		out = append(out, int64(id))
	}
	return out
}

// EncodeTarget is the target's tokens then EOS (truncated to keep EOS). The tokens are those
// the target gets in the joint text "{source} Label : {target}": the encoding of
// Separator + " " + target after the separator's own tokens (SentencePiece: "▁yes", not
// "▁", "yes"; bytes: " yes").
func (b *Backbone) EncodeTarget(text string, maxLen int) []int64 {
	text = strings.TrimSpace(text)
	sep := b.tok.Encode(Separator)
	joint := b.tok.Encode(Separator + " " + text)
	ids := b.tok.Encode(text)
	if len(joint) >= len(sep) && slices.Equal(joint[:len(sep)], sep) {
		ids = joint[len(sep):]
	}
	return seq.EndWithEOS(ids, maxLen, b.model.Cfg.EOS)
}

// DecodeTarget stops at the first EOS and drops pad, BOS and <unk> (Hugging Face's
// skip_special_tokens; the SentencePiece decoder alone writes <unk> as " ⁇ ").
func (b *Backbone) DecodeTarget(ids []int64) string {
	c, unk := b.model.Cfg, tokenizers.UnknownID(b.tok)
	keep := seq.UntilEOS(ids, c.EOS, func(id int64) bool { return id == c.Pad || id == c.BOS || id == unk || id < 0 })
	return strings.TrimSpace(b.tok.Decode(keep))
}

// Collate pads on the LEFT with the pad id, so every source ends at the last column and
// generation continues at the same column for every row; positions count real tokens.
func (b *Backbone) Collate(rows []core.Encoded, opts core.CollateOptions) (*core.Batch, error) {
	opts.Device = b.Device()
	return core.CollateWith(rows, opts, core.PadLeft, b.model.Cfg.Pad)
}

// Embed looks up the frozen token embeddings (float32, whatever the compute dtype).
func (b *Backbone) Embed(ids *ts.Tensor) *ts.Tensor { return b.model.EmbedIDs(ids) }

// Loss appends the targets to the (transformed) source and returns the mean cross-entropy
// of the target tokens (float32).
func (b *Backbone) Loss(in core.Input, labels *ts.Tensor) (loss *ts.Tensor, err error) {
	if err := b.decoderOnly(); err != nil {
		return nil, err
	}
	rows, err := core.Labels2D(labels)
	if err != nil {
		return nil, fmt.Errorf("llama: %w", err)
	}
	b.model.Within(in.Batch, func() { loss, err = b.model.Loss(in.Embeds, in.Mask, rows) })
	return loss, err
}

// ForwardOutputs is Loss that also returns the target logits and the source columns' final
// hidden states (core.OutputsBackbone; MPT's distillation).
func (b *Backbone) ForwardOutputs(in core.Input, labels *ts.Tensor) (out core.Outputs, err error) {
	if err := b.decoderOnly(); err != nil {
		return out, err
	}
	rows, err := core.Labels2D(labels)
	if err != nil {
		return out, fmt.Errorf("llama: %w", err)
	}
	b.model.Within(in.Batch, func() { out, err = b.model.ForwardOutputs(in.Embeds, in.Mask, rows) })
	return out, err
}

// Generate runs the source once and appends greedy tokens through the KV cache.
func (b *Backbone) Generate(in core.Input, opts core.GenerateOptions) ([][]int64, error) {
	if err := b.decoderOnly(); err != nil {
		return nil, err
	}
	ctx := in.Batch
	if ctx != nil && ctx.Train {
		c := *ctx
		c.Train = false
		ctx = &c
	}
	var out [][]int64
	b.model.Within(ctx, func() {
		ts.NoGrad(func() { out = b.model.Greedy(in.Embeds, in.Mask, opts.MaxNewTokens, opts.StopAtEOS, nil) })
	})
	return out, nil
}

// Weights lists the full-precision parameters by HF name (NF4 linears are not listed).
func (b *Backbone) Weights() []core.NamedTensor { return b.model.Weights() }

// HookSites lists every linear layer (q/k/v/o_proj, gate/up/down_proj, lm_head), the
// attention and MLP sublayer outputs and the RMSNorms (input_layernorm,
// post_attention_layernorm, and model.norm with Layer = the number of layers) of the decoder.
func (b *Backbone) HookSites() []core.HookSite {
	c := b.model.Cfg
	var sites []core.HookSite
	norm := func(name string, layer int) {
		sites = append(sites, core.HookSite{Name: name, Kind: core.HookNorm, Role: core.RoleNorm, Stack: "decoder", Layer: layer, In: c.Dim, Out: c.Dim})
	}
	roles := []core.HookRole{core.RoleQ, core.RoleK, core.RoleV, core.RoleO, core.RoleFFNIn, core.RoleFFNIn, core.RoleFFNOut}
	for i := range b.model.layers {
		L := &b.model.layers[i]
		norm(L.attnNormSite, i)
		for j, l := range []*linear{&L.q, &L.k, &L.v, &L.o, &L.gate, &L.up, &L.down} {
			sites = append(sites, core.HookSite{Name: l.name, Kind: core.HookLinear, Role: roles[j], Stack: "decoder", Layer: i, In: l.in, Out: l.out})
			if j == 3 {
				sites = append(sites, core.HookSite{Name: L.attnSite, Kind: core.HookSublayer, Role: core.RoleSelfAttn, Stack: "decoder", Layer: i, In: c.Dim, Out: c.Dim})
				norm(L.ffnNormSite, i)
			}
		}
		sites = append(sites, core.HookSite{Name: L.mlpSite, Kind: core.HookSublayer, Role: core.RoleFFN, Stack: "decoder", Layer: i, In: c.Dim, Out: c.Dim})
	}
	norm("model.norm", len(b.model.layers))
	sites = append(sites, core.HookSite{Name: "lm_head", Kind: core.HookLinear, Role: core.RoleLMHead, Stack: "decoder", Layer: len(b.model.layers), In: c.Dim, Out: c.Vocab})
	return sites
}
