// Package storage is what a run leaves on disk and how it is found again: the results file
// (results.jsonl: one ResultRow per finished run, appended under a lock, read back with every
// impossible row named by file:line), its predictions files, and the identities that name
// runs and source artefacts (RunIdentity.Key for resume, ArtefactName for trained sources).
//
// It sits beside the training engine, not under it: storage imports core for the records it
// writes (TrainOptions, BackboneInfo, Scores, Prediction, InvalidCounts) and never the engine,
// so reading, merging and plotting results needs no trainer, and the engine writes nothing.
// Results are data a person may edit, copy between machines and merge, hence the checks:
//
//   - ResultStore, OpenResults, ResultsFile: an append-only JSONL file rewritten through a
//     temp file and an atomic rename; one writer per folder (flock, LockedError), which
//     repairs what a killed writer left (temp files, a torn last line moved aside);
//     ReadResults names damage by file:line, ReadResultsLenient returns a torn line.
//   - CheckRow, ScoreBound, ParseFinishedAt: what makes a row impossible as a run's record.
//   - Curves, LossCurve: the training curves a row carries for `ptbench plot`.
//   - PredictionsFile, WritePredictions, ReadPredictions: a row's generations, atomically
//     written next to results.jsonl so a score can be recomputed or audited.
//   - RunIdentity, Numerics, NumericsOf, ArtefactIdentity, ArtefactName, DataHash: what makes
//     two runs the same run; keys stay stable across releases (see RunIdentity).
//   - CheckFiniteConfig, SafeFileName, CheckPathElement: what a run writes must be writable —
//     a config JSON can encode (no NaN), names that stay one plain path element.
package storage
