package core

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"

	"github.com/sugarme/gotch/ts"
)

// NamedTensor pairs a tensor with a stable name (checkpoint key).
type NamedTensor struct {
	Name   string
	Tensor *ts.Tensor
}

// ParamGroup is a set of trainable tensors sharing optimiser settings. A method declares
// its groups (DePT: the prompt at 3e-1, the low-rank pair at 1e-4); the trainer's
// AdamW gives each group its own learning rate under the same schedule.
type ParamGroup struct {
	Name        string
	LR          float64
	WeightDecay float64
	Params      []NamedTensor
}

// SetupEnv is what a method sees when it creates its parameters.
type SetupEnv struct {
	Backbone     Backbone
	Seed         int64
	MaxSourceLen int    // s: the longest source the tasks produce (DePT's A has s rows)
	Task         string // task name (multi-task runs: the tasks joined by "+")
	// Tasks are the run's tasks in the order Batch.Tasks indexes them (one for single-task
	// runs). Multi-task methods size per-task state by it.
	Tasks []string
	// Artefacts finds (or has the harness train) method states trained elsewhere, such as
	// a source-task prompt; nil when the caller offers none.
	Artefacts ArtefactStore
}

// Method is a parameter-efficient tuning method: it owns trainable tensors and changes
// what the frozen backbone computes. It must also implement InputMethod, BackboneMethod
// or both; the trainer discovers which with type assertions, as database/sql does for
// optional driver interfaces.
type Method interface {
	// Setup creates the parameters for this backbone and task. Called once, before training.
	Setup(env SetupEnv) error
	// ParamGroups lists every trainable tensor, grouped by learning rate.
	ParamGroups() []ParamGroup
	// Config returns the fully resolved configuration (recorded in every result row).
	Config() any
	// Close frees the method's tensors.
	Close()
}

// InputMethod changes only the encoder input: a soft prefix and/or an additive offset.
type InputMethod interface {
	Method
	// Transform returns a new Input built from in (frozen embeddings and mask of a batch
	// padded to its own length L). in is not consumed. train is false during evaluation.
	Transform(in Input, train bool) (Input, error)
}

// BackboneMethod acts inside the backbone through hook points (LoRA, adapters, BitFit, FT).
type BackboneMethod interface {
	Method
	// Hooks returns the hooks to install on the backbone for this method (nil: none,
	// e.g. full fine-tuning, which only unfreezes weights in Setup).
	Hooks() *Hooks
}

// LossMethod computes its own training loss instead of the backbone's cross-entropy (MPT's
// distillation from teacher prompts). in is the method's transformed input for b; the loss
// must be a scalar with gradients into the method's parameters.
type LossMethod interface {
	TrainingLoss(bb Backbone, in Input, b *Batch) (*ts.Tensor, error)
}

// ArtefactUser lists the artefacts a configured method will ask for in Setup, so the harness
// (`ptbench sources train`, `ptbench run`) can train or find them before the run.
type ArtefactUser interface {
	NeededArtefacts() []ArtefactSpec
}

// BatchBeginner is told about every batch before the backbone's forward pass (training and
// evaluation), e.g. to generate this batch's adapter weights from its task ids.
type BatchBeginner interface {
	Begin(b *Batch) error
}

// WeightEditor is a method that unfreezes or edits the backbone's own weights (FT, BitFit
// on existing tensors, LoRA merged into W). The harness snapshots the backbone's weights
// before its run and restores them after, so the next run of a grid starts from the same
// backbone as a fresh process. EditsWeights may answer false (LoRA unmerged) to skip the
// copy.
type WeightEditor interface {
	EditsWeights() bool
}

// Labeler lets a method choose its leaderboard name at run time (a plugin answers with its
// own); built-in methods give theirs in their Description.
type Labeler interface{ Label() string }

// StateSaver is implemented by methods whose checkpoint is not just their parameters
// (out-of-process plugins). Others are saved from ParamGroups.
type StateSaver interface {
	SaveState() ([]NamedTensor, error)
	LoadState([]NamedTensor) error
}

// MethodFactory builds an unconfigured-to-configured method from raw settings (from YAML,
// JSON or --set flags). It must reject unknown keys and invalid values with a clear error.
type MethodFactory func(raw map[string]any) (Method, error)

var methodRegistry = newRegistry[methodEntry]("Method")

// RegisterMethod makes a method available by name with a bare description (name and about):
// for methods that describe themselves at run time (plugins) and tests. Built-in methods use
// RegisterConfigured, which registers their whole Description.
func RegisterMethod(name, about string, f MethodFactory) {
	RegisterDescribed(Description{Name: name, About: about}, f)
}

// RegisterDescribed makes a method available under d.Name with its description; call it
// from the method package's init. A second baseline method panics, like a duplicate name.
func RegisterDescribed(d Description, f MethodFactory) {
	if d.Baseline {
		if b := BaselineMethod(); b != "" {
			panic(fmt.Sprintf("core: methods %q and %q are both described as the baseline", b, d.Name))
		}
	}
	methodRegistry.register(d.Name, d.About, methodEntry{desc: d, factory: f})
}

// Methods lists the registered methods.
func Methods() []Registered { return methodRegistry.list() }

// NewMethod builds a registered method from raw settings. A method that belongs to no family
// (neither InputMethod nor BackboneMethod), or not to the family its description declares,
// is rejected: the trainer could not apply it as described.
func NewMethod(name string, raw map[string]any) (Method, error) {
	e, err := methodRegistry.lookup(name)
	if err != nil {
		return nil, err
	}
	m, err := e.factory(raw)
	if err != nil {
		return nil, fmt.Errorf("method %s: %w", name, err)
	}
	d := e.desc
	d.Name = name
	if err := d.checkFamily(m); err != nil {
		m.Close()
		return nil, err
	}
	return m, nil
}

// DecodeConfig fills into (a pointer to a config struct holding its defaults) from raw
// settings, rejecting keys the struct does not have. Keys use the struct's json tags.
func DecodeConfig(raw map[string]any, into any) error {
	if len(raw) == 0 {
		return nil
	}
	b, err := json.Marshal(raw)
	if err != nil {
		return fmt.Errorf("config: %w", err)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(into); err != nil {
		var typeErr *json.UnmarshalTypeError
		if errors.As(err, &typeErr) && typeErr.Field != "" {
			name := typeErr.Field[strings.LastIndexByte(typeErr.Field, '.')+1:]
			return fmt.Errorf("setting %s: want %s, got %s", name, kindWord(typeErr.Type), describeValue(raw[name], typeErr.Value))
		}
		return fmt.Errorf("config: %w", err)
	}
	return nil
}

// kindWord names what a config field holds, as a user writes it.
func kindWord(t reflect.Type) string {
	switch t.Kind() {
	case reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64, reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "a whole number"
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "true or false"
	case reflect.Slice, reflect.Array:
		return "a list of " + strings.TrimPrefix(kindWord(t.Elem()), "a ") + "s"
	case reflect.Pointer:
		return kindWord(t.Elem())
	}
	return t.String()
}

// describeValue quotes the value a user gave (JSON's kind of it when it is not at hand).
func describeValue(v any, kind string) string {
	if v == nil {
		return kind
	}
	b, err := json.Marshal(v)
	if err != nil {
		return kind
	}
	return string(b)
}

// CountParams sums the element counts of every tensor in groups.
func CountParams(groups []ParamGroup) int64 {
	var n int64
	for _, g := range groups {
		for _, p := range g.Params {
			n += int64(p.Tensor.Numel())
		}
	}
	return n
}

// MethodLabel is how a leaderboard names a method: a label the method gives at run time
// (Labeler: plugins), else its description's, else its name.
func MethodLabel(name string, m Method) string {
	if l, ok := m.(Labeler); ok {
		return l.Label()
	}
	if d, ok := Describe(name); ok {
		return d.DisplayLabel()
	}
	return name
}

// ExternalOptimizer is implemented by methods whose parameters live outside the trainer's
// AdamW (out-of-process plugins own their parameters and optimiser state). TrainStep calls
// AfterBackward once per step, after the backward pass, with the schedule's LR factor; the
// method reads the gradients of the tensors it handed out in Transform and updates itself.
type ExternalOptimizer interface {
	AfterBackward(lrFactor, maxGradNorm float64) error
}

// ParamCounter lets a method report its trainable parameter count when ParamGroups does not
// hold them all (plugins).
type ParamCounter interface{ TrainableParams() int64 }

// RowPacker is implemented by an input or hook method that treats every row of a batch on
// its own — a prompt or offset per row, a hook that maps each row's activations with the
// method's own parameters; no statistic across rows, no randomness, a Begin (if any) that
// touches only the method's own state — so its rows can share one backbone pass with other
// runs' rows (engine.RunPacked: each run's hooks see only its own rows). It is opt-in: a
// method that does not declare it, or answers false, always runs alone.
type RowPacker interface{ PacksRows() bool }

// TrainableParams is the method's trainable parameter count.
func TrainableParams(m Method) int64 {
	if c, ok := m.(ParamCounter); ok {
		return c.TrainableParams()
	}
	return CountParams(m.ParamGroups())
}
