// Package sdk is what a ptbench method plugin imports. A method written against it runs out
// of process (a binary whose main calls Serve) or compiled into ptbench
// (plugins/host.RegisterInProcess) with the same results, bit for bit.
//
// The SDK is pure Go: no gotch, no cgo, no libtorch. A method works on float32 slices and
// shapes. It declares what it needs to see of each batch (nothing, pooled input embeddings,
// or the full input embeddings) and what it outputs (a prefix of soft tokens and/or an
// additive offset to the input embeddings). Per training step it computes its outputs in
// Forward; after the host's backward pass, Backward receives the gradients of the loss with
// respect to those outputs and accumulates the gradients of the method's parameters into
// Param.Grad. The SDK then clips the global gradient norm and applies AdamW with exactly the
// arithmetic of ptbench's in-process optimiser (core.AdamW), so a method gets the same update
// here as it would in process.
//
// A minimal plugin (see plugins/examples/residual for a complete one):
//
//	func main() {
//		sdk.Serve(sdk.Plugin{
//			Info: sdk.Info{Name: "mypt", Version: "0.1.0", About: "...", Prefix: true},
//			New:  func(config []byte) (sdk.Method, error) { ... },
//		})
//	}
package sdk

import (
	"fmt"
)

// Input says what a method needs to see of each batch besides the attention mask.
type Input int

const (
	// InputNone: nothing (PT, residual PT, DePT, EPT).
	InputNone Input = iota
	// InputPooledMean: [B, d], the mean of the input embeddings over real tokens.
	InputPooledMean
	// InputPooledMax: [B, d], the maximum over real tokens (ATTEMPT's x̂).
	InputPooledMax
	// InputFull: [B, L, d], the frozen input embeddings.
	InputFull
)

func (i Input) String() string {
	switch i {
	case InputNone:
		return "none"
	case InputPooledMean:
		return "pooled-mean"
	case InputPooledMax:
		return "pooled-max"
	case InputFull:
		return "full"
	}
	return fmt.Sprintf("Input(%d)", int(i))
}

// Info describes a method without any configuration (`ptbench methods` shows it).
type Info struct {
	Name    string // short name, e.g. "residual"
	Version string // the method's own version, recorded with every result
	About   string // one line
	Label   string // leaderboard label; empty = Name
	Input   Input  // what Forward's Batch.Embeds holds
	Prefix  bool   // Forward returns a prefix of soft tokens: [m, d] or per example [B, m, d]
	Offset  bool   // Forward returns an additive offset: [s, d] (s ≥ L; rows 0..L-1 are used) or [B, L, d]
	// Defaults is the configuration with every default (JSON-encoded for Describe); nil means
	// the Config() of a method made from an empty configuration.
	Defaults any
	// ConfigDoc documents each setting in one line.
	ConfigDoc map[string]string
	// AdamEps is the ε of the AdamW the SDK runs for the plugin, as the method's reference
	// code trains it (0: the protocol's 1e-6). A plugin reproducing a built-in method uses that
	// method's (PT: 1e-8). ptbench's --adam-eps does not reach a plugin's optimiser.
	AdamEps float64
}

// Plugin is a method's entry point: its description and its factory.
type Plugin struct {
	Info Info
	// New builds a method from its configuration, a JSON object (nil or "{}" = defaults). It
	// must reject unknown keys and invalid values (DecodeConfig does the first).
	New func(config []byte) (Method, error)
}

// Tensor is a dense row-major float32 array.
type Tensor struct {
	Shape []int
	Data  []float32
}

// NewTensor returns a zero tensor of the given shape.
func NewTensor(shape ...int) *Tensor {
	return &Tensor{Shape: append([]int(nil), shape...), Data: make([]float32, numel(shape))}
}

// Numel is the element count.
func (t *Tensor) Numel() int { return numel(t.Shape) }

func numel(shape []int) int {
	n := 1
	for _, s := range shape {
		n *= s
	}
	return n
}

// Env is what a method sees when it creates its parameters.
type Env struct {
	DModel       int      // d, the backbone's hidden size
	Vocab        int      // rows of the backbone's embedding table
	Seed         int64    // the run's seed: derive every random draw from it
	MaxSourceLen int      // s, the longest source the task produces
	Task         string   // task name (multi-task runs: the tasks joined by "+")
	Tasks        []string // the run's tasks; Batch.Tasks indexes them
	Backbone     string   // backbone name (preset or path)
	// Rows holds the frozen embedding rows the method asked for in Needs (and those of every
	// token of the texts it asked to tokenize), by token id; each has DModel values.
	Rows map[int64][]float32
	// Tokens holds the token ids of each text asked for in Needs (backbone tokenizer, no
	// special tokens).
	Tokens map[string][]int64
}

// Needs lists what a method wants from the backbone before Setup.
type Needs struct {
	EmbeddingRows []int64  // token ids whose frozen embedding rows it wants (PT's vocab init)
	Texts         []string // texts to tokenize; their tokens' rows come too (PT's text init)
}

// Needer is implemented by methods that initialise from the backbone's frozen embeddings.
// Needs is called before Setup with the same Env, without Rows and Tokens.
type Needer interface {
	Needs(env Env) (Needs, error)
}

// Batch is one batch of the task as the method declared it wants to see it.
type Batch struct {
	B, L  int
	Train bool      // false during evaluation (no Backward follows)
	Step  int       // the optimisation step of a training batch (0 in evaluation)
	Tasks []int     // per row: index into Env.Tasks (nil from a host that sends none)
	Mask  []float32 // [B, L]: 1 real token, 0 padding
	// Embeds is nil for InputNone, [B, d] for the pooled inputs, [B, L, d] for InputFull.
	Embeds *Tensor
}

// Outputs are what Forward returns, and, in Backward, the gradients of the loss with respect
// to them (same shapes). A nil field is absent.
type Outputs struct {
	Prefix *Tensor // [m, d] shared by the batch, or [B, m, d] per example
	Offset *Tensor // [s, d] with s ≥ L (the first L rows are added), or [B, L, d]
}

// Method is a prompt-tuning method, close to ptbench's in-process core.Method.
type Method interface {
	// Config returns the resolved configuration (recorded in every result row).
	Config() any
	// Setup creates the parameters. Called once, before any Forward.
	Setup(env Env) error
	// Params lists every trainable tensor. The SDK zeroes their Grad before each Backward,
	// clips and steps them with AdamW after it, and saves them as the method's state.
	Params() []*Param
	// PrefixLen is m, the number of soft tokens of the prefix (0 without a prefix).
	PrefixLen() int
	// Forward computes the outputs for one batch. A training Forward is followed by Backward
	// (unless the loss is not finite), with no other Forward between; keep what Backward
	// needs. The SDK copies the outputs before the next call, so they may alias the method's
	// own buffers.
	Forward(b Batch) (Outputs, error)
	// Backward receives d loss / d outputs of the latest training Forward and adds the
	// gradients of the parameters into their Grad.
	Backward(grads Outputs) error
}

// Optimizer is implemented by methods that update their parameters themselves. When present,
// the SDK calls Step after Backward instead of clipping and applying its AdamW.
type Optimizer interface {
	// Step applies one update; lrFactor is the schedule's factor, maxGradNorm the clipping
	// threshold (0 = none). It returns the gradient norm before clipping.
	Step(lrFactor, maxGradNorm float64) (float64, error)
}

// Named is a named tensor of a method's state.
type Named struct {
	Name   string
	Tensor *Tensor
}

// StateSaver is implemented by methods whose saved state is not just Params.
type StateSaver interface {
	State() ([]Named, error)
	LoadState(state []Named) error
}
