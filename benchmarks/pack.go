package benchmarks

import (
	"fmt"

	"github.com/ptbench/ptbench/core"
	"github.com/ptbench/ptbench/core/engine"
	"github.com/ptbench/ptbench/core/storage"
)

// PackAuto as Grid.Pack (`--pack auto`, the CLI's default) packs as many runs as the
// backbone chooses (core.Packer.PackAuto; core.PackAutoOf: 4-bit weights pack, full-precision
// ones run alone).
const PackAuto = -1

// packSize is how many runs a pack takes over bb: Grid.Pack, or under PackAuto the
// backbone's choice for the grid's largest batch (packShape) within packBudget, logged with
// its reason.
func (g *Grid) packSize(bb core.Backbone, runs [][]engine.TaskData) int {
	if g.Pack != PackAuto {
		return g.Pack
	}
	p, ok := bb.(core.Packer)
	if !ok {
		fmt.Fprintf(g.Log, "--pack auto: 1 (%s does not pack)\n", bb.Info().Arch)
		return 1
	}
	n, why := p.PackAuto(g.packShape(runs), g.packBudget())
	fmt.Fprintf(g.Log, "--pack auto: %d (%s)\n", n, why)
	return n
}

// packBudget is what a pack's extra runs may add to this process: half of what MemoryLimit
// leaves beyond the process as it stands (the backbone loaded), shared by a --jobs grid's
// workers; 0 when no limit is known.
func (g *Grid) packBudget() int64 {
	if g.MemoryLimit <= 0 {
		return 0
	}
	left := (g.MemoryLimit - engine.CurrentRSS()) / 2 / int64(max(g.Workers, 1))
	return max(left, 1)
}

// packPromptAllowance is the positions packShape adds for a method's own tokens: PT's
// 100-token prompt, the longest of the paper's methods.
const packPromptAllowance = 100

// packShape is the largest batch a run of the grid adds to a pass: the batch size, and the
// longest task's source and target lengths (the run options' defaults resolved per task)
// plus packPromptAllowance.
func (g *Grid) packShape(runs [][]engine.TaskData) core.PackShape {
	var shape core.PackShape
	for _, tasks := range runs {
		for _, td := range tasks {
			o := g.Train.Defaults(td.Task)
			shape.Rows = max(shape.Rows, int64(o.BatchSize))
			shape.Positions = max(shape.Positions, int64(o.MaxSourceLen+o.MaxTargetLen+packPromptAllowance))
		}
	}
	return shape
}

// packQueue holds the grid's packable runs until size of them can train together
// (engine.RunPacked: one backbone pass per step for all of them, every run's own batches,
// losses, optimiser, evaluation and checkpoint). A run whose method cannot pack
// (engine.Packable: FT, methods without row-independent rows, plugins, methods with
// artefacts) runs alone at once.
//
// Runs pack across methods, sweep variants, seeds and tasks: each run collates and
// transforms its own rows, and a pack has no hooks that would read a batch's task names, so
// a pack needs only the one backbone the grid opened. Keys and rows are the runs' own; a row
// records its pack's size in extra.pack, and its step times are the pack's divided by the
// runs in it.
type packQueue struct {
	g       *Grid
	size    int // the most runs in one pack (Grid.packSize)
	pending []*pendingRun
}

// add prepares a run and queues it if it packs (running the pack once full), or runs it
// alone; it returns the statuses of the runs that finished.
func (q *packQueue) add(bb core.Backbone, tasks []engine.TaskData, methodName string, variant Variant, seed int64,
	done map[string]bool, store *storage.ResultStore, arts *Artefacts) ([]string, error) {
	p, err := q.g.prepareRun(bb, tasks, methodName, variant, seed, done, arts)
	if err != nil {
		return nil, err
	}
	if p == nil {
		return []string{"skipped"}, nil
	}
	why := engine.Packable(bb, p.m)
	if why != nil {
		fmt.Fprintf(q.g.Log, "%s runs alone: %v\n", p.prefix, why)
		defer p.m.Close()
		arts.begin()
		res, err := safeRun(p.tr)
		if used := arts.end(); len(used) > 0 {
			p.base.Extra["artefacts"] = used
		}
		status, err := q.g.record(p, res, err, store, done)
		return []string{status}, err
	}
	q.pending = append(q.pending, p)
	if len(q.pending) < q.size {
		return nil, nil
	}
	return q.flush(bb, store, done)
}

// flush trains the queued runs as one pack and records each run's rows in queue order.
func (q *packQueue) flush(bb core.Backbone, store *storage.ResultStore, done map[string]bool) ([]string, error) {
	runs := q.pending
	q.pending = nil
	if len(runs) == 0 {
		return nil, nil
	}
	defer func() {
		for _, p := range runs {
			p.m.Close()
		}
	}()
	trs := make([]*engine.Trainer, len(runs))
	for i, p := range runs {
		trs[i] = p.tr
		p.base.Extra["pack"] = len(runs)
	}
	fmt.Fprintf(q.g.Log, "training %d runs as one pack\n", len(runs))
	results, errs := runPacked(trs)
	var statuses []string
	var firstErr error
	for i, p := range runs {
		if r := results[i]; r != nil && r.AloneSteps+r.AloneEvals > 0 {
			p.base.Extra["pack_alone_steps"] = r.AloneSteps
			p.base.Extra["pack_alone_evals"] = r.AloneEvals
		}
		status, err := q.g.record(p, results[i], errs[i], store, done)
		if err != nil && firstErr == nil {
			firstErr = err // the results store failed: the grid stops after recording the rest
		}
		statuses = append(statuses, status)
	}
	return statuses, firstErr
}

// close frees the methods of runs still queued (a grid that stopped early).
func (q *packQueue) close() {
	for _, p := range q.pending {
		p.m.Close()
	}
	q.pending = nil
}

// runPacked is engine.RunPacked with a panic outside its per-run guards turned into every
// run's error, so the grid records them failed and goes on (as safeRun does for one run).
func runPacked(trs []*engine.Trainer) (results []*engine.TrainResult, errs []error) {
	defer func() {
		if p := recover(); p != nil {
			err := panicError(p)
			results, errs = make([]*engine.TrainResult, len(trs)), make([]error, len(trs))
			for i := range errs {
				errs[i] = err
			}
		}
	}()
	return engine.RunPacked(trs)
}
