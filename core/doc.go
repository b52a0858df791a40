// Package core holds what every part of ptbench agrees on and what methods and backbones are
// written against: the Backbone, Method and Task interfaces and their registries, method
// descriptions and settings, numerics (dtype, quantisation, device), the batch, the training
// options, one training step (Session, TrainStep) and the artefact store's interface.
//
// It is the small room. Runs live next door, each in its own package importing core, and
// core imports neither:
//
//   - core/engine: the trainer (Trainer.Run: the step inside a loop of callbacks), packed
//     runs, the multi-task sampler, length grouping, progress and process RSS.
//   - core/storage: what runs leave on disk — results.jsonl, its lock and row checks,
//     predictions files, run keys and artefact names.
//   - core/data (examples, datasets, the Task interface; no libtorch), core/registry (name
//     registries), core/safetensors, core/atomicfile, core/coretest (test doubles).
//
// Methods and backbones import core only. A type lives here when they need it (the step,
// Session, AdamW, DetachedCopy: tests of methods train through them), or when both engine
// and storage name it (TrainOptions, Prediction, InvalidCounts).
//
// core never imports a concrete method, backbone or task. Like database/sql drivers, each
// implementation registers itself from its package's init function, and a program enables
// it with one blank import.
//
// # Methods: one description, then the catalogue of interfaces
//
// A method is declared once, in its package's init: RegisterConfigured(Description{…},
// DefaultConfig, build). The Description is what everything else reads — listings and
// `ptbench methods NAME`, the leaderboard label, the relative step cost that balances shards,
// the baseline (PT: step times are "× PT", bench's default), the Hugging Face PEFT type, the
// tensor roles of the native export, the paper's published numbers, and Needs (source
// artefacts, an encoder–decoder backbone, several tasks at once, trainable backbone weights).
// Its settings are derived from the config struct (SettingsOf: json tag = name, Go type =
// type, DefaultConfig's value = default, `doc:"…"` = one line, `alias:"…"` = a deprecated
// spelling, `check:"…"` = a rule), so an unknown or out-of-range --set key fails with the
// valid ones listed. No package outside methods/ names a method.
//
// Every method implements Method (Setup, ParamGroups, Config, Close) and at least one of the
// two families, the one its Description declares (NewMethod checks). The harness discovers
// the rest with type assertions, as database/sql discovers a driver's optional interfaces.
// This is the whole catalogue; each entry names who asks.
//
// The families:
//
//   - InputMethod: Transform(in, train) is called once per batch, training and evaluation,
//     with the frozen embeddings of the batch (in.Batch carries its context: train flag,
//     step, task of every row; in.Positions each token's position). It returns the encoder
//     input: a soft prefix (PT), an offset (DePT), both (EPT), per example (ATTEMPT).
//   - BackboneMethod: Hooks() is installed on the backbone for the whole run and removed
//     after it. Each hook receives a HookCall (site, batch context); Linear wraps y = W x,
//     Sublayer rewrites a sublayer's output, PostDropout an FFN's output after its dropout
//     (HyperDecoder's parallel adapters), Norm a layer norm's output (BitFit's norm biases),
//     EncoderOutput the encoder's states before the decoder attends to them.
//
// Optional, declared in core (the step, the engine and the grid ask):
//
//   - LossMethod: TrainingLoss replaces the backbone's cross-entropy in training steps
//     (MPT's distillation from teacher prompts; it uses OutputsBackbone's logits and states).
//   - ArtefactUser: NeededArtefacts lists the states trained elsewhere (source prompts) that
//     Setup will ask SetupEnv.Artefacts for, so the harness trains or finds them first
//     (Description.Needs.Artefacts says the same without building the method).
//   - BatchBeginner: Begin(batch) before every forward pass (per-batch generated weights).
//   - WeightEditor: the method changes the backbone's own weights; Session snapshots and
//     restores them around its run (EditsWeights false skips the copy).
//   - ExternalOptimizer: parameters live outside the step's AdamW (plugins);
//     AfterBackward(lrFactor, clip) runs after each backward pass.
//   - StateSaver: the checkpoint is not just ParamGroups (plugins).
//   - ParamCounter: the trainable count is not the sum of ParamGroups (plugins).
//   - Labeler: a label chosen at run time (plugins); built-in methods give Description.Label.
//   - RowPacker: PacksRows() declares that Transform and hooks treat each row on its own, so runs of
//     the method can share one backbone pass per step with other runs (engine.RunPacked,
//     --pack; engine.Packable lists what else keeps a run out of a pack).
//   - Validator (on the config, not the method): Validate() states rules between settings
//     that `check` tags cannot (DePT: rank ≤ max_len); CheckConfig calls it after the tags.
//
// Optional, asked for by an anonymous or package-local interface elsewhere (so core stays
// free of what only one caller needs):
//
//   - PEFTType() string (NewMethod's description check): must equal Description.PEFT.
//   - peft.Exporter, peft.Importer: a Hugging Face PEFT equivalent (PROMPT_TUNING, LORA)
//     that `ptbench export --format peft` writes and `ptbench run --init-from` loads after
//     Setup; peft.Describer overrides Description.Tensors at run time.
//   - PromptLength() int (benchmarks' `lengthy`): the encoder positions the method adds, so
//     bench times the sequence the backbone really sees.
//   - SaveCheckpointDir (benchmarks' `dirCheckpointer`): the checkpoint is a directory (FT
//     writes a Hugging Face model folder that --backbone opens).
//   - KeyConfig() any (benchmarks' keyConfigOf): what the run key hashes instead of Config
//     (plugins: their settings and binary hash; DePT and EPT: their settings under the names
//     they had before the rename, so keys did not change).
//
// A method that needs a state trained elsewhere (a source-task prompt) asks
// SetupEnv.Artefacts, an ArtefactStore, for it by ArtefactSpec; the grid's store trains it
// first when missing, UntrainedArtefacts hands out fresh parameters (`ptbench params`).
//
// # Backbones
//
// A Backbone tokenises, collates (padding side, pad id, positions), embeds, computes the
// teacher-forced loss and generates; it lists hook sites with model-independent roles and
// applies a hook's answer with Replace. It is opened with BackboneOptions whose compute
// dtype, quantisation and device are typed values (DType, Quant, Device), parsed once where
// they enter (flags, experiment files) with one set of spellings for every backbone;
// OpenBackbone refuses a device the linked libtorch cannot use before anything loads.
//
// Optional backbone interfaces:
//
//   - OutputsBackbone: ForwardOutputs returns logits and encoder states (LossMethod's
//     distillation, coretest's logits).
//   - Packer: how a pack pads stacked inputs, how far their lengths may differ in one
//     pass, per-run losses from one stacked pass (BlockLoss; T5 and Llama), and how many runs
//     `--pack auto` packs (PackAutoOf: 4-bit weights pack within a memory budget,
//     full-precision ones run alone). A backbone without it never packs.
//   - methods/ft's ConfigExporter: HFConfig() writes the config.json FT's checkpoint folder
//     needs (T5).
//   - On a Tokenizer: BOS(), EOS(), Pad() int (Llama's backbone takes its special ids from
//     the tokenizer that has them), UNK() int and tokenizers.ExpectedDecoder (the tokenizer
//     verifier's unknown-id and decode round-trip checks).
//
// Tasks (core/data, aliased here) have theirs: data.SelectionMetricTask (checkpoints chosen
// by another metric than the table's), data.PredictionChecker (counts ill-formed
// generations, InvalidCounts), data.EvalOnlyLoader (evaluation files without a training
// file), data.FileChecker (missing official files named before anything loads).
//
// # One step here, runs in core/engine
//
// TrainBatch is one optimisation step of a method over a backbone: MethodInput (Begin, embed,
// Transform), the loss (LossMethod's or the backbone's), backward, clipping, AdamW,
// ExternalOptimizer. Session wraps a method set up on a backbone (hooks installed, weights
// snapshotted for a WeightEditor, optimiser made). Methods' and backbones' tests train
// through them; engine.Trainer runs them inside its loop with evaluation, best-checkpoint
// keeping, progress, divergence checks and RSS tracking as callbacks.
package core
