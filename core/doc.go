// Package core holds what every part of ptbench agrees on: the Backbone, Method and Task
// interfaces, their name registries, the batch, the trainer loop, the artefact store and the
// results store.
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
// tensor roles of the native export, the paper's published numbers, and Needs (source artefacts, an encoder–decoder
// backbone, several tasks at once, trainable backbone weights). Its settings are derived from
// the config struct (SettingsOf: json tag = name, Go type = type, DefaultConfig's value =
// default, `doc:"…"` = one line, `alias:"…"` = a deprecated spelling), so an unknown --set key
// fails with the valid ones listed. No package outside methods/ names a method.
//
// Every method implements Method (Setup, ParamGroups, Config, Close) and at least one of the
// two families, the one its Description declares (NewMethod checks). The harness discovers
// the rest with type assertions, as database/sql discovers a driver's optional interfaces:
//
//   - InputMethod (family): Transform(in, train) is called once per batch, training and
//     evaluation, with the frozen embeddings of the batch (in.Batch carries its context:
//     train flag, step, task of every row; in.Positions each token's position). It returns
//     the encoder input: a soft prefix (PT), an offset (DePT), both (EPT), per example
//     (ATTEMPT). Examples: pt, dept, ept, plugins.
//   - BackboneMethod (family): Hooks() is installed on the backbone for the whole run and
//     removed after it. Each hook receives a HookCall (site, batch context); Linear wraps
//     y = W x, Sublayer rewrites a sublayer's output, Norm a layer norm's output (BitFit's
//     norm biases), EncoderOutput the encoder's states before the decoder attends to them.
//   - LossMethod: TrainingLoss replaces the backbone's cross-entropy in training steps
//     (MPT's distillation from teacher prompts; it uses OutputsBackbone's logits and states).
//   - ArtefactUser: NeededArtefacts lists the states trained elsewhere (source prompts) that
//     Setup will ask SetupEnv.Artefacts for, so the harness trains or finds them first
//     (Description.Needs.Artefacts says the same without building the method).
//   - BatchBeginner: Begin(batch) before every forward pass (per-batch generated weights).
//   - WeightEditor: the method changes the backbone's own weights; the harness snapshots
//     and restores them around its run.
//   - ExternalOptimizer: parameters live outside the trainer's AdamW (plugins);
//     AfterBackward(lrFactor, clip) runs after each backward pass.
//   - StateSaver: the checkpoint is not just ParamGroups (plugins).
//   - ParamCounter: the trainable count is not the sum of ParamGroups (plugins).
//   - Labeler: a label chosen at run time (plugins); built-in methods give Description.Label.
//   - RowPacker: PacksRows() declares that Transform treats each row on its own, so runs of
//     the method can share one backbone pass per step with other runs (RunPacked, --pack;
//     Packable lists what else keeps a run out of a pack). Examples: pt, dept, ept.
//   - PromptLength() int (benchmarks' `lengthy`): the encoder positions the method adds, so
//     bench times the sequence the backbone really sees.
//   - SaveCheckpointDir (benchmarks' `dirCheckpointer`): the checkpoint is a directory (FT
//     writes a Hugging Face model folder that --backbone opens).
//   - KeyConfig() any (benchmarks' keyConfigOf): what the run key hashes instead of Config
//     (plugins: their settings and binary hash; DePT and EPT: their settings under the names
//     they had before the rename, so keys did not change).
//   - peft.Exporter, peft.Importer (package peft, so core stays free of file formats): the
//     method has a Hugging Face PEFT equivalent (Description.PEFT: PROMPT_TUNING, LORA) that
//     `ptbench export --format peft` writes and `ptbench run --init-from` loads after Setup;
//     peft.Describer overrides Description.Tensors at run time.
//
// Backbones have optional interfaces too: OutputsBackbone (logits and encoder states for
// LossMethod) and methods/ft's ConfigExporter (HFConfig: the config.json FT's checkpoint
// folder needs). Method configs implement Validator.
//
// A method that needs a state trained elsewhere (a source-task prompt) asks
// SetupEnv.Artefacts for it by ArtefactSpec; the harness trains it first when missing.
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
// # The loop
//
// Trainer.Run is a small step (collate → embed → transform → loss → backward → AdamW) inside
// Loop, with evaluation, best-checkpoint keeping, progress, divergence checks and RSS
// tracking as Callbacks around it. Multi-task runs sample each row's task with a
// temperature (TaskSampler) and evaluate every task. RunPacked (pack.go) steps several runs
// over one backbone at once: their transformed batches stacked, one forward and backward,
// each run's own loss, optimiser, evaluation and result.
package core
