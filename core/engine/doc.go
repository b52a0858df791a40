// Package engine runs methods: it turns a method, a backbone and tasks into a trained
// checkpoint and scores. core defines one training step (core.TrainBatch inside a
// core.Session); the engine drives many of them and decides what happens between them.
//
//   - Trainer.Run: the run — seeded batch order (optionally LengthGroupedBatches, less
//     padding for the same per-row losses), the warmup/decay schedule, the step inside Loop,
//     dev evaluations, the best checkpoint by the task's selection metric, the final test
//     evaluation, a TrainResult with every task's scores and predictions. Predict and
//     Evaluate decode greedily outside a run.
//   - Loop, Callback, StepInfo, ErrStopTraining: the step stays small; evaluation, best
//     checkpoints, progress (ProgressCallback, NewProgress), divergence checks and RSS
//     tracking (RSSCallback) are callbacks after it, and a caller adds its own.
//   - TaskSampler: multi-task runs draw each row's task with p_i ∝ n_i^{1/T}.
//   - RunPacked, Packable: runs of row-independent input and hook methods (core.RowPacker)
//     on one backbone share a forward and backward per step, each with its own loss, hooks
//     (packhooks.go), optimiser, evaluation and result (`ptbench run --pack`).
//   - InitTorch, Threads, PeakRSS, ResetPeakRSS, BLASWarning, BF16Support: the process a run
//     needs (one OS thread for libtorch, the thread count) and what it reports (peak memory,
//     a slow BLAS, native bf16).
//
// engine imports core and core/data, never core/storage: what a run produced comes back as
// values (TrainResult, core.Prediction, core.InvalidCounts) and the caller (benchmarks' grid)
// decides what to write. Methods and backbones never import it; their tests train through
// core.Session and core.TrainStep.
package engine
