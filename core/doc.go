// Package core holds what every part of ptbench agrees on: the Backbone, Method and Task
// interfaces, their name registries, the batch, the trainer loop, the artefact store and the
// results store.
//
// core never imports a concrete method, backbone or task. Like database/sql drivers, each
// implementation registers itself from its package's init function, and a program enables
// it with one blank import.
//
// # Methods: the catalogue of interfaces
//
// Every method implements Method (Setup, ParamGroups, Config, Close) and at least one of the
// two families; NewMethod rejects one that implements neither. The trainer discovers the
// rest with type assertions, as database/sql discovers a driver's optional interfaces:
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
//   - BatchBeginner: Begin(batch) before every forward pass (per-batch generated weights).
//   - WeightEditor: the method changes the backbone's own weights; the harness snapshots
//     and restores them around its run.
//   - ExternalOptimizer: parameters live outside the trainer's AdamW (plugins);
//     AfterBackward(lrFactor, clip) runs after each backward pass.
//   - StateSaver: the checkpoint is not just ParamGroups (plugins).
//   - ParamCounter: the trainable count is not the sum of ParamGroups (plugins).
//   - Labeler: the leaderboard name ("EPT (reimpl.)").
//   - peft.Exporter, peft.Importer, peft.Describer (package peft, so core stays free of
//     file formats): the method has a Hugging Face PEFT equivalent (pt: PROMPT_TUNING, lora:
//     LORA) that `ptbench export --format peft` writes and `ptbench run --init-from` loads
//     after Setup; Describer gives its tensors' roles for `--format native`.
//
// A method that needs a state trained elsewhere (a source-task prompt) asks
// SetupEnv.Artefacts for it by ArtefactSpec; the harness trains it first when missing.
//
// # Backbones
//
// A Backbone tokenises, collates (padding side, pad id, positions), embeds, computes the
// teacher-forced loss and generates; it lists hook sites with model-independent roles.
//
// # The loop
//
// Trainer.Run is a small step (collate → embed → transform → loss → backward → AdamW) inside
// Loop, with evaluation, best-checkpoint keeping, progress, divergence checks and RSS
// tracking as Callbacks around it. Multi-task runs sample each row's task with a
// temperature (TaskSampler) and evaluate every task.
package core
