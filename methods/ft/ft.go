// Package ft is full fine-tuning: every backbone weight is trainable, updated by the
// trainer's AdamW (default lr 1e-4, no weight decay). Nothing is added to the network, so
// at initialisation the model is the backbone itself; trainable parameters are the
// backbone's (222,903,552 on t5-base, the tied embedding counted once).
//
// FT edits the backbone, so it declares core.WeightEditor: the harness snapshots every
// weight before Setup and restores (and refreezes) them after the run.
//
// Checkpoint: the full state dict as a Hugging Face model directory — shards
// model-0000i-of-0000n.safetensors of at most Config.MaxShardBytes each (a larger tensor
// gets a shard of its own), model.safetensors.index.json (metadata.total_size, weight_map)
// and config.json from the backbone (core backbones that implement ConfigExporter) — so
// `--backbone DIR` opens the fine-tuned model. Random-init presets carry no tokenizer file:
// open their export with --tokenizer byte.
package ft

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"

	"github.com/ptbench/ptbench/core"
	"github.com/ptbench/ptbench/core/safetensors"
)

// Config is FT's hyperparameters; each field's doc tag is its line in `ptbench methods ft`.
type Config struct {
	LR            float64 `json:"lr" check:"finite>0" doc:"learning rate of every backbone weight"`
	WeightDecay   float64 `json:"weight_decay" check:"finite>=0" doc:"AdamW weight decay"`
	MaxShardBytes int64   `json:"max_shard_bytes" check:">0" doc:"size limit of one checkpoint shard file, in bytes"`
}

// DefaultConfig is AdamW at lr 1e-4; 5 GB shards as transformers' save_pretrained.
func DefaultConfig() Config { return Config{LR: 1e-4, MaxShardBytes: 5_000_000_000} }

func init() {
	core.RegisterConfigured(core.Description{
		Name: "ft", Label: "FT", Family: core.FamilyBackbone,
		// AdamW's ε as the reference trains it: ATTEMPT's finetuning.json and Compacter's baseline.json
		// run under Hugging Face's Trainer: TrainingArguments.adam_epsilon, 1e-8 (docs/fidelity.md).
		AdamEps: 1e-8,
		About:   "Full fine-tuning: every backbone weight trainable (AdamW); checkpoint is a loadable HF model directory",
		// Estimated: every weight's gradient and AdamW state.
		StepCost: 1.4,
		Needs:    core.Needs{TrainsBackboneWeights: true},
	}, DefaultConfig, func(c Config) core.Method { return &Method{cfg: c} })
}

// ConfigExporter is a backbone that can write its architecture as a Hugging Face
// config.json (the T5 backbone does).
type ConfigExporter interface {
	HFConfig() ([]byte, error)
}

// Method is full fine-tuning.
type Method struct {
	cfg     Config
	bb      core.Backbone
	weights []core.NamedTensor // the backbone's live weights (borrowed)
}

func (m *Method) Config() any        { return m.cfg }
func (m *Method) EditsWeights() bool { return true }
func (m *Method) Hooks() *core.Hooks { return nil }

// Setup unfreezes every backbone weight.
func (m *Method) Setup(env core.SetupEnv) error {
	m.bb = env.Backbone
	m.weights = env.Backbone.Weights()
	if len(m.weights) == 0 {
		return fmt.Errorf("ft: the backbone lists no weights")
	}
	for _, w := range m.weights {
		w.Tensor.MustRequiresGrad_(true)
	}
	return nil
}

// ParamGroups is every weight at lr; weight decay spares T5's relative_attention_bias, as
// the reference's Trainer spares every parameter named "bias".
func (m *Method) ParamGroups() []core.ParamGroup {
	return core.WithoutBiasDecay(core.ParamGroup{Name: "backbone", LR: m.cfg.LR, WeightDecay: m.cfg.WeightDecay, Params: m.weights})
}

// ConfigRevision (core.RevisedConfig) is 1 with weight decay: relative_attention_bias was
// decayed before it followed the reference's Trainer. Without decay nothing changed.
func (c Config) ConfigRevision() int {
	if c.WeightDecay > 0 {
		return 1
	}
	return 0
}

// Close forgets the backbone; its weights are the backbone's (the harness refreezes them).
func (m *Method) Close() { m.bb, m.weights = nil, nil }

// SaveCheckpointDir writes tensors (the trained state dict, by HF name) as a sharded
// safetensors model directory with config.json; the harness calls it instead of writing
// one checkpoint file.
func (m *Method) SaveCheckpointDir(dir string, tensors []core.NamedTensor, meta map[string]string) error {
	if m.bb == nil {
		return fmt.Errorf("ft: checkpoint before Setup")
	}
	ce, ok := m.bb.(ConfigExporter)
	if !ok {
		return fmt.Errorf("ft: backbone %s cannot write a config.json", m.bb.Info().Name)
	}
	cfg, err := ce.HFConfig()
	if err != nil {
		return err
	}
	return WriteModelDir(dir, tensors, cfg, meta, m.cfg.MaxShardBytes)
}

// IndexFile is the sharded checkpoint's index, as transformers names it.
const IndexFile = "model.safetensors.index.json"

// WriteModelDir writes tensors sorted by name into shards of at most maxShard bytes (a
// tensor larger than that alone in its shard), the index mapping each tensor to its shard,
// and config.json. meta goes into every shard's header (with "format": "pt").
func WriteModelDir(dir string, tensors []core.NamedTensor, config []byte, meta map[string]string, maxShard int64) error {
	if len(tensors) == 0 {
		return fmt.Errorf("ft: no tensors to write")
	}
	sorted := append([]core.NamedTensor(nil), tensors...)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i].Name < sorted[j].Name })
	var shards [][]core.NamedTensor
	var size, total int64
	for _, t := range sorted {
		n := int64(t.Tensor.Numel()) * int64(t.Tensor.DType().Size())
		total += n
		if len(shards) == 0 || size+n > maxShard && size > 0 {
			shards = append(shards, nil)
			size = 0
		}
		shards[len(shards)-1] = append(shards[len(shards)-1], t)
		size += n
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	header := map[string]string{safetensors.FormatKey: safetensors.FormatPyTorch}
	for k, v := range meta {
		header[k] = v
	}
	weightMap := map[string]string{}
	for i, shard := range shards {
		name := fmt.Sprintf("model-%05d-of-%05d.safetensors", i+1, len(shards))
		if err := core.SaveTorchFile(filepath.Join(dir, name), shard, header); err != nil {
			return err
		}
		for _, t := range shard {
			weightMap[t.Name] = name
		}
	}
	index, err := json.MarshalIndent(map[string]any{"metadata": map[string]any{"total_size": total}, "weight_map": weightMap}, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, IndexFile), append(index, '\n'), 0o644); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, "config.json"), config, 0o644)
}
