package core

import (
	"fmt"
	"os"

	"github.com/sugarme/gotch/ts"
)

// Input is what a backbone's encoder (or a decoder-only model's prompt side) consumes:
// embeddings and an attention mask. Methods of the input family receive the frozen token
// embeddings and return a new Input (a prefix of soft tokens, an additive offset, or both).
type Input struct {
	Embeds *ts.Tensor // [B, L, D] float32
	Mask   *ts.Tensor // [B, L] float32: 1 = real position, 0 = padding
}

// Drop frees both tensors; nil-safe.
func (in Input) Drop() {
	if in.Embeds != nil {
		in.Embeds.MustDrop()
	}
	if in.Mask != nil {
		in.Mask.MustDrop()
	}
}

// Tokenizer turns text into ids and back, without adding special tokens.
type Tokenizer interface {
	Encode(text string) []int
	Decode(ids []int) string
	VocabSize() int
}

// BackboneInfo describes a loaded backbone for logs, results and methods' shapes.
type BackboneInfo struct {
	Name           string `json:"name"`            // preset name or checkpoint directory
	Arch           string `json:"arch"`            // "t5-v1.0", "t5-v1.1", "llama"
	DModel         int64  `json:"d_model"`         // hidden size d
	Vocab          int64  `json:"vocab"`           // embedding rows
	EncoderDecoder bool   `json:"encoder_decoder"` // T5 true, Llama false
	NumParams      int64  `json:"num_params"`      // frozen backbone parameters
	DType          string `json:"dtype"`           // weight dtype as loaded
}

// GenerateOptions controls greedy decoding.
type GenerateOptions struct {
	MaxNewTokens int  // at most this many tokens per row
	StopAtEOS    bool // stop when every row has produced EOS; tokens after a row's EOS are pad
}

// Backbone is a frozen language model that the trainer drives and methods adapt.
//
// Ownership: every method returning a tensor returns a new one the caller must drop;
// arguments are never consumed.
type Backbone interface {
	Info() BackboneInfo
	Tokenizer() Tokenizer
	// EncodeSource tokenizes a source text with the model's special tokens (T5: trailing
	// EOS), truncated to at most maxLen ids.
	EncodeSource(text string, maxLen int) []int64
	// EncodeTarget tokenizes a target text for teacher forcing (T5: trailing EOS).
	EncodeTarget(text string, maxLen int) []int64
	// DecodeTarget turns generated ids back into text, stopping at EOS, skipping specials.
	DecodeTarget(ids []int64) string
	// Embed looks up the frozen token embeddings: ids [B, L] int64 → [B, L, D].
	Embed(ids *ts.Tensor) *ts.Tensor
	// Loss is the teacher-forced mean cross-entropy over labels [B, T] (-100 = ignore).
	Loss(in Input, labels *ts.Tensor) (*ts.Tensor, error)
	// Generate decodes greedily from in and returns the new ids of each row.
	Generate(in Input, opts GenerateOptions) ([][]int64, error)
	// Weights lists the frozen parameters by Hugging Face name (for FT and BitFit-like methods).
	Weights() []NamedTensor
	// HookSites lists the places a backbone-family method can attach to.
	HookSites() []HookSite
	// SetHooks installs (or, with nil, removes) the hooks called during forward passes.
	SetHooks(h *Hooks)
	// Close frees every tensor the backbone owns.
	Close()
}

// HookKind says what a hook site wraps.
type HookKind string

const (
	// HookLinear is a linear map y = W x (LoRA and BitFit attach here).
	HookLinear HookKind = "linear"
	// HookSublayer is the output of a self-attention, cross-attention or FFN sublayer
	// before it is added to the residual stream (adapters attach here).
	HookSublayer HookKind = "sublayer"
)

// HookSite names one attachment point, e.g. "encoder.block.3.layer.0.SelfAttention.q".
type HookSite struct {
	Name  string   `json:"name"`
	Kind  HookKind `json:"kind"`
	Stack string   `json:"stack"` // "encoder" or "decoder"
	Layer int      `json:"layer"`
	In    int64    `json:"in"`  // input features (linear) or hidden size (sublayer)
	Out   int64    `json:"out"` // output features
}

// Hooks are called by the backbone during its forward pass. A hook returns the tensor to
// use instead of its argument; returning the argument itself means "unchanged". When a
// hook returns a new tensor, the backbone drops the one it passed in.
type Hooks struct {
	// Linear receives the site, the layer input x and output y = W x.
	Linear func(site string, x, y *ts.Tensor) *ts.Tensor
	// Sublayer receives the site and the sublayer output h.
	Sublayer func(site string, h *ts.Tensor) *ts.Tensor
}

// BackboneOptions are passed to a backbone factory.
type BackboneOptions struct {
	Seed      int64  // for random-init presets
	Tokenizer string // override: "byte", a spiece.model or tokenizer.json path; "" = the model's own
	DType     string // "float32" (default) or "bfloat16" compute
}

// BackboneFactory opens a backbone from a spec: a preset name, or a path for loaders.
type BackboneFactory func(spec string, opts BackboneOptions) (Backbone, error)

// BackboneLoader recognises checkpoint directories (or files) it can open.
type BackboneLoader struct {
	Probe func(path string) bool
	Open  BackboneFactory
}

var (
	backbonePresets = newRegistry[BackboneFactory]("Backbone")
	backboneLoaders = newRegistry[BackboneLoader]("BackboneLoader")
)

// RegisterBackbone makes a preset backbone available by name (e.g. "t5-tiny").
func RegisterBackbone(name, about string, f BackboneFactory) {
	backbonePresets.register(name, about, f)
}

// RegisterBackboneLoader makes a family of checkpoints loadable from a path.
func RegisterBackboneLoader(name, about string, l BackboneLoader) {
	backboneLoaders.register(name, about, l)
}

// Backbones lists registered presets and loaders.
func Backbones() []Registered {
	return append(backbonePresets.list(), backboneLoaders.list()...)
}

// OpenBackbone opens spec: a registered preset name first, else a path some loader accepts.
func OpenBackbone(spec string, opts BackboneOptions) (Backbone, error) {
	if f, err := backbonePresets.lookup(spec); err == nil {
		return f(spec, opts)
	}
	for _, r := range backboneLoaders.list() {
		l, _ := backboneLoaders.lookup(r.Name)
		if l.Probe(spec) {
			return l.Open(spec, opts)
		}
	}
	if _, err := os.Stat(spec); err != nil {
		return nil, fmt.Errorf("backbone %q is neither a preset (%v) nor a readable path: %w",
			spec, names(backbonePresets.list()), err)
	}
	return nil, fmt.Errorf("backbone %q: no loader recognises this path (loaders: %v)", spec, names(backboneLoaders.list()))
}

func names(rs []Registered) []string {
	out := make([]string, len(rs))
	for i, r := range rs {
		out[i] = r.Name
	}
	return out
}
