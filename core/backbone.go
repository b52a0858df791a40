package core

import (
	"fmt"
	"os"
	"runtime/debug"

	"github.com/sugarme/gotch/ts"
)

// Input is what a backbone's encoder (or a decoder-only model's prompt side) consumes:
// embeddings and an attention mask. Methods of the input family receive the frozen token
// embeddings and return a new Input (a prefix of soft tokens, an additive offset, or both).
type Input struct {
	Embeds *ts.Tensor // [B, L, D] float32
	Mask   *ts.Tensor // [B, L] float32: 1 = real position, 0 = padding
	// Positions [B, L] int64: each source token's position in its row, borrowed from the
	// batch (never dropped by Drop). Position-indexed methods (DePT's offset) read it; a
	// method that prepends tokens sets it to nil in its output.
	Positions *ts.Tensor
	// Batch is the context of the batch these embeddings come from (borrowed; nil for raw
	// calls): the train flag, step and task of every row, read by multi-task methods and
	// passed on to hooks.
	Batch *Batch
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
	// RandomInit marks a preset: the shape of a released model with seeded random weights,
	// never its trained checkpoint (scores on it say nothing about the released model).
	RandomInit bool `json:"random_init,omitempty"`
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
	// Collate pads encoded examples into a Batch: padding side, pad id and positions are
	// the backbone's (T5 pads right with id 0; a decoder-only model pads left).
	Collate(rows []Encoded, opts CollateOptions) (*Batch, error)
	// DecodeTarget turns generated ids back into text, stopping at EOS, skipping specials.
	DecodeTarget(ids []int64) string
	// Embed looks up the frozen token embeddings: ids [B, L] int64 → [B, L, D].
	Embed(ids *ts.Tensor) *ts.Tensor
	// Loss is the teacher-forced mean cross-entropy over labels [B, T] (-100 = ignore).
	// in.Batch (when set) is the context hooks receive; training behaviour (dropout) follows
	// in.Batch.Train.
	Loss(in Input, labels *ts.Tensor) (*ts.Tensor, error)
	// Generate decodes greedily from in and returns the new ids of each row.
	Generate(in Input, opts GenerateOptions) ([][]int64, error)
	// Weights lists the frozen parameters by Hugging Face name (for FT and BitFit-like
	// methods). These are the live tensors: a method that edits or unfreezes them must
	// implement WeightEditor so the harness restores them after its run.
	Weights() []NamedTensor
	// HookSites lists the places a backbone-family method can attach to.
	HookSites() []HookSite
	// SetHooks installs (or, with nil, removes) the hooks called during forward passes.
	SetHooks(h *Hooks)
	// Device is where the backbone's weights live and its inputs must be (BackboneOptions.
	// Device): methods create their parameters there, batches and optimiser state follow.
	Device() Device
	// Close frees every tensor the backbone owns.
	Close()
}

// Outputs are a teacher-forced pass's loss with the logits [B, T, V] and the final encoder
// states [B, L, d] (encoder–decoders; nil otherwise). Drop frees them.
type Outputs struct {
	Loss, Logits, Encoder *ts.Tensor
}

// Drop frees every non-nil output.
func (o Outputs) Drop() {
	for _, t := range []*ts.Tensor{o.Loss, o.Logits, o.Encoder} {
		if t != nil {
			t.MustDrop()
		}
	}
}

// OutputsBackbone is a backbone that also returns logits and encoder states (distillation).
type OutputsBackbone interface {
	ForwardOutputs(in Input, labels *ts.Tensor) (Outputs, error)
}

// Packer is a backbone's own side of packed training (engine.RunPacked), for one that is not
// an encoder–decoder padding on the right, or whose loss takes a path of its own (Llama: left
// padding; with 4-bit weights, the recomputed backward).
type Packer interface {
	// PackPadSide is where a pack pads its runs' transformed inputs to one length: the side
	// Collate pads, so every row keeps the positions it has alone.
	PackPadSide() PadSide
	// PackSlack bounds the ratio of input lengths that share one stacked pass (engine
	// lengthGroups); ≤ 1 puts every length in one pass (a pass's fixed cost, such as
	// dequantising 4-bit weights, outweighs the padding).
	PackSlack() float64
	// BlockLosses is Loss over a pack's stacked rows: rows[b] consecutive rows belong to
	// run b. It returns the sum of the blocks' losses (each the mean cross-entropy over its
	// own target tokens, what Loss returns for that run alone), to back-propagate, and each
	// block's value.
	BlockLosses(in Input, labels *ts.Tensor, rows []int64) (*ts.Tensor, []float64, error)
	// PackAuto is `--pack auto` on this backbone as loaded, for runs whose batches are at most
	// shape and packs whose extra runs may take budget bytes (≤ 0: unbounded): the most runs
	// a pack takes (1: every run alone) and why, a phrase for the log (PackAutoOf is the
	// shared rule).
	PackAuto(shape PackShape, budget int64) (runs int, why string)
}

// HookKind says what a hook site wraps.
type HookKind string

const (
	// HookLinear is a linear map y = W x (LoRA and BitFit attach here).
	HookLinear HookKind = "linear"
	// HookSublayer is the output of a self-attention, cross-attention or FFN sublayer
	// before its dropout and the residual add (adapters attach here). A backbone may also
	// call Hooks.PostDropout at an FFN sublayer site, after the dropout (no sites of their own).
	HookSublayer HookKind = "sublayer"
	// HookNorm is the output of a layer norm (x̂ · w): each block's sublayer norms and each
	// stack's final norm (BitFit's norm biases attach here).
	HookNorm HookKind = "norm"
)

// HookRole says what a site is for, independent of one model's tensor names, so a method's
// defaults name roles (LoRA: q and v) and work on every backbone.
type HookRole string

const (
	RoleQ         HookRole = "q"       // attention query projection (T5 q, Llama q_proj)
	RoleK         HookRole = "k"       // key projection
	RoleV         HookRole = "v"       // value projection
	RoleO         HookRole = "o"       // attention output projection
	RoleFFNIn     HookRole = "ffn_in"  // FFN input projections (wi, wi_0, wi_1; gate/up_proj)
	RoleFFNOut    HookRole = "ffn_out" // FFN output projection (wo; down_proj)
	RoleSelfAttn  HookRole = "self_attention"
	RoleCrossAttn HookRole = "cross_attention"
	RoleFFN       HookRole = "ffn"
	RoleLMHead    HookRole = "lm_head"
	RoleNorm      HookRole = "norm" // a layer norm (T5 layer_norm, final_layer_norm; Llama RMSNorm)
)

// HookSite names one attachment point, e.g. "encoder.block.3.layer.0.SelfAttention.q".
type HookSite struct {
	Name  string   `json:"name"`
	Kind  HookKind `json:"kind"`
	Role  HookRole `json:"role"`
	Stack string   `json:"stack"` // "encoder" or "decoder"
	Layer int      `json:"layer"`
	In    int64    `json:"in"`  // input features (linear) or hidden size (sublayer)
	Out   int64    `json:"out"` // output features
}

// HookCall is what a hook learns about the call it is in: the site and the batch being
// computed (train flag, step, task of every row). Batch is nil for raw model calls.
type HookCall struct {
	Site  string
	Batch *Batch
}

// Train reports whether the call is part of a training step.
func (c HookCall) Train() bool { return c.Batch != nil && c.Batch.Train }

// Hooks are called by the backbone during its forward pass. A hook returns the tensor to
// use instead of its argument; returning the argument itself means "unchanged". When a
// hook returns a new tensor, the backbone drops the one it passed in.
type Hooks struct {
	// Linear receives the layer input x and output y = W x.
	Linear func(c HookCall, x, y *ts.Tensor) *ts.Tensor
	// Sublayer receives the sublayer output h.
	Sublayer func(c HookCall, h *ts.Tensor) *ts.Tensor
	// PostDropout receives an FFN sublayer's output after its dropout, d = dropout(FFN(x)),
	// just before the residual add h + d; Site is the FFN's HookSublayer site. What it adds
	// escapes the dropout (HyperDecoder's parallel adapter: h + dropout(FFN(x)) + A(x)).
	// Encoder–decoders call it (T5); a method relying on it checks that it ran.
	PostDropout func(c HookCall, d *ts.Tensor) *ts.Tensor
	// Norm receives a layer norm's output (after its weight) at a HookNorm site.
	Norm func(c HookCall, h *ts.Tensor) *ts.Tensor
	// EncoderOutput receives an encoder–decoder's final encoder states [B, L, d] and the
	// encoder mask [B, L] once per batch, before the decoder runs (HyperDecoder conditions
	// the decoder on it); its result is what the decoder attends to. Site is "encoder".
	EncoderOutput func(c HookCall, enc, mask *ts.Tensor) *ts.Tensor
}

// BackboneOptions are passed to a backbone factory.
type BackboneOptions struct {
	Seed      int64  // for random-init presets
	Tokenizer string // override: "byte", a spiece.model or tokenizer.json path; "" = the model's own
	DType     DType  // compute dtype (ParseDType); Float32 is the default
	Device    Device // where tensors are created (ParseDevice); CPU is the default
	// Dropout overrides the checkpoint's training dropout rate (nil: the checkpoint's, e.g.
	// T5's dropout_rate; 0 turns it off). Evaluation never drops.
	Dropout *float64
	// Quant stores the frozen linear weights quantised: QuantNone (full precision) or
	// QuantNF4 (QLoRA's 4-bit NormalFloat with double quantisation; backbones that support it).
	Quant Quant
}

// ErrEncoderDecoderOnly is wrapped by RequireEncoderDecoder's error.
var ErrEncoderDecoderOnly = fmt.Errorf("defined only for encoder–decoder backbones")

// RequireEncoderDecoder is how a method defined only for encoder–decoders (one that hooks
// the encoder output, e.g. HyperDecoder) refuses a decoder-only backbone (Llama): call it
// from Setup with the backbone.
func RequireEncoderDecoder(bb Backbone, method string) error {
	if info := bb.Info(); !info.EncoderDecoder {
		return fmt.Errorf("%s is %w; %s (%s) is decoder-only", method, ErrEncoderDecoderOnly, info.Name, info.Arch)
	}
	return nil
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

// IsBackbonePreset reports whether spec names a registered preset (a random-init model of a
// released shape). A preset name wins over a hub id of the same spelling: "t5-base" is the
// preset; the released checkpoint is "google-t5/t5-base" (or a local directory).
func IsBackbonePreset(spec string) bool {
	_, err := backbonePresets.lookup(spec)
	return err == nil
}

// RandomInitNote is how a banner names a preset: "t5-base (random init, not the released
// checkpoint)"; any other spec as it is.
func RandomInitNote(spec string) string {
	if IsBackbonePreset(spec) {
		return spec + " (random init, not the released checkpoint)"
	}
	return spec
}

// OpenBackbone opens spec: a registered preset name first, else a path some loader accepts.
// A device the linked libtorch cannot use is refused first (CheckDevice), before any load.
//
// Loading stages weights in Go slices (random init, checkpoint reads) that are garbage once
// copied into tensors; OpenBackbone returns them to the system before training starts, since
// a step allocates too little Go memory for the collector to run again soon (gotch's tensors
// are C memory) and the staging would otherwise stay in the process's peak RSS.
func OpenBackbone(spec string, opts BackboneOptions) (Backbone, error) {
	bb, err := openBackbone(spec, opts)
	if err == nil {
		debug.FreeOSMemory()
	}
	return bb, err
}

func openBackbone(spec string, opts BackboneOptions) (Backbone, error) {
	if err := CheckDevice(opts.Device); err != nil {
		return nil, err
	}
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
