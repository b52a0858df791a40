// Package benchmarks runs the comparison grid (methods × tasks × seeds) over one backbone,
// stores every finished run in results.jsonl, and renders leaderboards from that file.
package benchmarks

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/ptbench/ptbench/core"
	"github.com/ptbench/ptbench/core/engine"
	"github.com/ptbench/ptbench/core/storage"
)

// Grid is one `ptbench run`.
type Grid struct {
	Methods       []string
	MethodConfigs map[string]map[string]any // per method raw settings (from --method-config / --set)
	Tasks         []string
	Seeds         []int64
	Backbone      string
	BackboneOpts  core.BackboneOptions
	Data          core.DataOptions
	Train         core.TrainOptions
	OutDir        string
	Log           io.Writer
	Terminal      bool
	CodeVersion   string
	// MultiTask trains each method once over all Tasks (rows drawn by a temperature
	// sampler) and writes one result row per task; otherwise every task is its own run.
	MultiTask bool
	// Temperature of the multi-task sampler: p_i ∝ n_i^{1/T} (0 or 1 = proportional).
	Temperature float64
	// NoWait fails at once when another process writes OutDir (else the grid waits).
	NoWait bool
	// KeepFailed counts failed runs as done (else the next invocation retries them).
	KeepFailed bool
	// Worker and Workers make this grid one worker process of a `--jobs N` grid: it runs the
	// runs whose index in the grid's order is Worker mod Workers (Workers ≤ 1: all).
	Worker, Workers int
	// Shard and Shards make this grid shard Shard (1-based) of Shards: it runs only the runs
	// ShardPlan gives that shard (Shards ≤ 1: all). Its Workers then split the shard's runs.
	Shard, Shards int
	// ArtefactDir, if set, is where artefacts live instead of OutDir/artefacts (a worker uses
	// its parent's, pre-trained there).
	ArtefactDir string
	// ResumeFrom, if set, is another results.jsonl whose finished runs count as done too (a
	// worker resumes from its parent's results).
	ResumeFrom string
	// SourcesFromDev lets a source artefact train on its task's official validation set when
	// the training file is absent (opt-in; recorded in the artefact's data fingerprint).
	SourcesFromDev bool
	// OnRun, if set, sees every finished training run (not skipped or failed ones) with its
	// full result, e.g. every step's loss.
	OnRun func(key string, res *engine.TrainResult)

	// Pack is the most runs that train together over the backbone (--pack; pack.go): runs
	// whose method packs (engine.Packable) queue until Pack of them can step as one batch;
	// the others run alone, as with Pack ≤ 1. PackAuto lets the backbone choose
	// (core.Packer.PackAuto).
	Pack int
	// MemoryLimit is the memory this process may use, in bytes (--memory-limit, else the
	// machine's; 0: unknown): PackAuto keeps a pack's extra activations within half of what
	// it leaves once the backbone is loaded.
	MemoryLimit int64

	// InitFrom, if set, is a PEFT adapter folder every method's Setup loads (--init-from; see
	// initfrom.go): part of each run's identity by its content hash.
	InitFrom string

	// Labels name a method's leaderboard row instead of its own label (an ablation variant
	// of a method is a row of its own); LabelSuffix is appended to every label (" (k=16)").
	Labels      map[string]string
	LabelSuffix string

	// Sweep, if set, runs every method once per point of the cartesian product of its axes
	// (sweep.go): each variant is its own run, its row records the variant's settings, and
	// the leaderboard selects the best-dev variant per method, task and seed.
	Sweep []SweepAxis
}

// Summary counts what a grid did.
type Summary struct {
	Ran, Skipped, Failed, Diverged int
}

// runIdentity is what a run of this grid is (storage.RunIdentity: its key hashes everything that
// changes the numbers — method config, tasks, seed, backbone and its numerics, schedule, data).
func (g *Grid) runIdentity(method string, cfg any, tasks []string, seed int64, train core.TrainOptions, dataHash string) storage.RunIdentity {
	id := storage.RunIdentity{Method: method, Config: cfg, Tasks: tasks, Seed: seed, Backbone: g.Backbone,
		Numerics: storage.NumericsOf(g.BackboneOpts), Train: train, KShot: g.Data.KShot, DataHash: dataHash}
	if g.MultiTask {
		id.Temperature = g.Temperature
	}
	return id
}

// Run executes the grid; finished runs already in results.jsonl are skipped. A failing run
// is recorded (status "failed") and the grid goes on.
func (g *Grid) Run() (Summary, error) {
	var sum Summary
	if g.Log == nil {
		g.Log = io.Discard
	}
	store, err := g.openStore() // the folder's lock, held until the grid ends (resume.go)
	if err != nil {
		return sum, err
	}
	defer store.Close()
	rows, err := store.Read()
	if err != nil {
		return sum, err
	}
	done := g.finishedKeys(rows)
	if g.ResumeFrom != "" {
		parent, _, err := storage.ReadResultsLenient(g.ResumeFrom)
		if err != nil {
			return sum, err
		}
		for k := range FinishedKeys(parent, !g.KeepFailed) {
			done[k] = true
		}
	}
	bb, err := core.OpenBackbone(g.Backbone, g.BackboneOpts)
	if err != nil {
		return sum, err
	}
	defer func() { bb.Close() }()
	fmt.Fprintf(g.Log, "backbone %s: %s, d %d, %d parameters (frozen)\n", core.RandomInitNote(g.Backbone), bb.Info().Arch, bb.Info().DModel, bb.Info().NumParams)
	arts := g.NewArtefacts(bb, store)

	// Single-task: every task its own run. Multi-task: one run over all of them.
	var runs [][]engine.TaskData
	if g.MultiTask {
		var all []engine.TaskData
		for _, name := range g.Tasks {
			td, err := g.loadTask(name)
			if err != nil {
				return sum, err
			}
			all = append(all, td)
		}
		runs = append(runs, all)
	}
	for i := 0; !g.MultiTask && i < len(g.Tasks); i++ {
		td, err := g.loadTask(g.Tasks[i])
		if err != nil {
			return sum, err
		}
		runs = append(runs, []engine.TaskData{td})
	}
	index, mine, inShard := -1, -1, g.inShard() // shard.go
	pack := &packQueue{g: g, size: g.packSize(bb, runs)}
	defer pack.close()
	for _, tasks := range runs {
		for _, methodName := range g.Methods {
			for _, variant := range g.Variants(methodName) { // one, unless swept (sweep.go)
				for _, seed := range g.Seeds {
					if index++; !inShard(index) {
						continue // another shard's run
					}
					if mine++; g.Workers > 1 && mine%g.Workers != g.Worker {
						continue // another worker's run
					}
					tasks, err := g.kshotFor(tasks, seed)
					if err != nil {
						return sum, err
					}
					var statuses []string
					if pack.size > 1 { // pack.go: packable runs wait for their pack
						statuses, err = pack.add(bb, tasks, methodName, variant, seed, done, store, arts)
					} else {
						var status string
						status, err = g.runOne(bb, tasks, methodName, variant, seed, done, store, arts)
						statuses = []string{status}
					}
					if err != nil {
						return sum, err
					}
					if bb, err = g.checkFrozen(bb, methodName, arts); err != nil {
						return sum, err
					}
					sum.count(statuses...)
				}
			}
		}
	}
	statuses, err := pack.flush(bb, store, done)
	sum.count(statuses...)
	return sum, err
}

// checkFrozen is a safety net after a run: a method that unfroze backbone weights without
// declaring core.WeightEditor (so nothing restored them) gets the backbone reopened.
func (g *Grid) checkFrozen(bb core.Backbone, methodName string, arts *Artefacts) (core.Backbone, error) {
	w := core.UnfrozenWeight(bb)
	if w == "" {
		return bb, nil
	}
	fmt.Fprintf(g.Log, "%s left backbone weight %s trainable without declaring core.WeightEditor: reopening the backbone\n", methodName, w)
	bb.Close()
	bb, err := core.OpenBackbone(g.Backbone, g.BackboneOpts)
	if err != nil {
		return noBackbone{}, err
	}
	arts.backbone = bb
	return bb, nil
}

// count adds runs' statuses ("skipped", "failed", "diverged", else ran) to the summary.
func (s *Summary) count(statuses ...string) {
	for _, status := range statuses {
		switch status {
		case "skipped":
			s.Skipped++
		case "failed":
			s.Failed++
		case "diverged":
			s.Diverged++
		default:
			s.Ran++
		}
	}
}

// loadTask reads a task's splits and reports rows the official files lose.
func (g *Grid) loadTask(name string) (engine.TaskData, error) {
	task, err := core.NewTask(name)
	if err != nil {
		return engine.TaskData{}, err
	}
	opts := g.Data
	sampler, perSeed := task.(core.KShotSampler)
	if perSeed {
		opts.KShot = 0 // the full set: each run seed draws its own k-shot set (kshotFor)
	}
	ds, err := task.Load(opts)
	if err != nil {
		return engine.TaskData{}, fmt.Errorf("task %s: %w", name, err)
	}
	for file, n := range ds.Skipped {
		fmt.Fprintf(g.Log, "%s: skipped %d malformed rows of the official file %s\n", name, n, file)
	}
	if perSeed && g.Data.KShot > 0 && len(ds.Train) > 0 {
		if _, err := sampler.SampleKShot(ds.Train, g.Data.KShot, 0); err != nil { // a k the data cannot give fails here, before any run
			return engine.TaskData{}, err
		}
	}
	return engine.TaskData{Task: task, Data: ds}, nil
}

// kshotFor is a run's tasks with its own k-shot training sets: drawn with the run's seed from
// the full sets loadTask kept, as DePT's train.py draws with training_args.seed, so seeds
// differ in their examples, not only in initialisation and batch order. Without --k-shot (or
// for a task that cannot draw from a loaded set, which Load already sampled) tasks as given.
func (g *Grid) kshotFor(tasks []engine.TaskData, seed int64) ([]engine.TaskData, error) {
	if g.Data.KShot == 0 {
		return tasks, nil
	}
	out := make([]engine.TaskData, len(tasks))
	for i, td := range tasks {
		out[i] = td
		sampler, ok := td.Task.(core.KShotSampler)
		if !ok {
			continue
		}
		train, err := sampler.SampleKShot(td.Data.Train, g.Data.KShot, seed)
		if err != nil {
			return nil, err
		}
		ds := *td.Data
		ds.Train = train
		out[i].Data = &ds
	}
	return out, nil
}

// runOne trains one method with one seed on one task (or, multi-task, on several at once)
// and appends a row per task. It returns "skipped" or the run's status.
func (g *Grid) runOne(bb core.Backbone, tasks []engine.TaskData, methodName string, variant Variant, seed int64,
	done map[string]bool, store *storage.ResultStore, arts *Artefacts) (string, error) {
	p, err := g.prepareRun(bb, tasks, methodName, variant, seed, done, arts)
	if err != nil || p == nil {
		return "skipped", err
	}
	defer p.m.Close()
	arts.begin()
	res, err := safeRun(p.tr)
	if used := arts.end(); len(used) > 0 {
		p.base.Extra["artefacts"] = used // source cost: the leaderboard adds these runs' time
	}
	return g.record(p, res, err, store, done)
}

// pendingRun is a run of the grid that is set up to train: its method (the caller closes
// it), trainer, key and the row fields it shares with every task's row.
type pendingRun struct {
	m         core.Method
	tr        *engine.Trainer
	tasks     []engine.TaskData
	key       string
	rowKey    func(task string) string
	taskLabel string
	prefix    string
	base      storage.ResultRow
}

// prepareRun builds a run's method, key and trainer; nil (and the method closed) when its
// rows are already in results.jsonl.
func (g *Grid) prepareRun(bb core.Backbone, tasks []engine.TaskData, methodName string, variant Variant, seed int64,
	done map[string]bool, arts *Artefacts) (_ *pendingRun, err error) {
	m, err := core.NewMethod(methodName, g.VariantConfig(methodName, variant))
	if err != nil {
		return nil, err // a configuration error stops the grid: every run would fail
	}
	keep := false
	defer func() {
		if !keep {
			m.Close()
		}
	}()
	keyConfig, initExtra, err := g.initFrom(m, methodName) // initfrom.go
	if err != nil {
		return nil, err
	}
	train := g.Train.ForMethod(methodName) // AdamW's ε: the method's reference value unless --adam-eps
	train.Seed = seed
	names := make([]string, len(tasks))
	var splits [][]core.Example
	for i, td := range tasks {
		names[i] = td.Task.Name()
		splits = append(splits, td.Data.Train, td.Data.Dev, td.Data.Test)
	}
	taskLabel := strings.Join(names, "+")
	key, err := g.runIdentity(methodName, keyConfig, names, seed, train, storage.DataHash(splits...)).Key()
	if err != nil {
		return nil, err
	}
	// One row per task: a single-task run's row carries the run key itself; a multi-task
	// run's rows share it as a prefix.
	rowKey := func(task string) string {
		if len(tasks) == 1 {
			return key
		}
		return key + "/" + task
	}
	finished := true
	for _, n := range names {
		finished = finished && done[rowKey(n)]
	}
	if finished {
		fmt.Fprintf(g.Log, "%s: already in results.jsonl, skipped\n", key)
		return nil, nil
	}
	prefix := fmt.Sprintf("[%s %s seed %d]", methodName, taskLabel, seed)
	if len(variant.Settings) > 0 {
		prefix = fmt.Sprintf("[%s %s %s seed %d]", methodName, taskLabel, variant, seed)
	}
	train.Progress = engine.NewProgress(g.Log, g.Terminal, prefix, 50)
	base := storage.ResultRow{
		Method: methodName, Label: g.label(methodName, m), MethodConfig: m.Config(),
		Seed: seed, Backbone: bb.Info(), Train: train, KShot: g.Data.KShot, CodeVersion: g.CodeVersion,
		TrainingRevision: storage.TrainingRevision,
	}
	base.Backbone.Name = g.Backbone
	base.Backbone.RandomInit = core.IsBackbonePreset(g.Backbone)
	if n := storage.NumericsOf(g.BackboneOpts); !n.IsDefault() {
		base.Numerics = &n
	}
	base.Extra = map[string]any{}
	for k, v := range initExtra {
		base.Extra[k] = v
	}
	if vals := variant.Values(); vals != nil { // the leaderboard selects among these (selection.go)
		base.Extra["sweep"], base.Extra["sweep_index"] = vals, variant.Index
		// Every value each axis takes, so that the board recognises a plain row of the
		// folder as a variant the grid skipped because its run was already done.
		takes := map[string]any{}
		for _, a := range g.Sweep {
			if a.Method == methodName {
				takes[a.Key()] = a.Values
			}
		}
		base.Extra["sweep_takes"] = takes
	}
	if len(tasks) > 1 {
		base.Extra["multi_task"], base.Extra["run"], base.Extra["temperature"] = names, key, g.Temperature
	}
	if g.Data.KShot > 0 { // the examples of each class actually drawn (a class may have fewer than its share)
		for _, td := range tasks {
			counts := map[string]int{}
			for _, ex := range td.Data.Train {
				counts[ex.Target]++
			}
			base.Extra["k_shot_drawn."+td.Task.Name()] = counts
		}
	}
	tr := &engine.Trainer{Backbone: bb, Method: m, Tasks: tasks, Opts: train, Temperature: g.Temperature, Artefacts: arts}
	keep = true
	return &pendingRun{m: m, tr: tr, tasks: tasks, key: key, rowKey: rowKey, taskLabel: taskLabel, prefix: prefix, base: base}, nil
}

// record appends a finished (or failed) run's rows, writes its checkpoint and predictions,
// and returns its status.
func (g *Grid) record(p *pendingRun, res *engine.TrainResult, err error, store *storage.ResultStore, done map[string]bool) (string, error) {
	m, tasks, key, rowKey, taskLabel, prefix, base := p.m, p.tasks, p.key, p.rowKey, p.taskLabel, p.prefix, p.base
	var out []storage.ResultRow
	status := "failed"
	if err != nil {
		fmt.Fprintf(g.Log, "%s failed: %v\n", prefix, err)
		for _, td := range tasks {
			row := base
			row.RunKey, row.Task, row.Benchmark = rowKey(td.Task.Name()), td.Task.Name(), td.Task.Benchmark()
			row.Status, row.Error = "failed", err.Error()
			out = append(out, row)
		}
	} else {
		defer core.DropNamed(res.Best)
		status = res.Status
		if g.OnRun != nil {
			g.OnRun(key, res)
		}
		// SafeFileName: a plugin:PATH method's key holds its path, which must not leave --out.
		ckpt := filepath.Join(g.OutDir, "checkpoints", storage.SafeFileName(key)+".safetensors")
		ckRow := base
		ckRow.Task, ckRow.RunKey = taskLabel, key
		if ckpt, err = safeSave(ckpt, m, res.Best, ckRow); err != nil {
			// The run trained but its checkpoint could not be written (libtorch or disk):
			// record it failed, with the reason, and go on.
			fmt.Fprintf(g.Log, "%s failed: %v\n", prefix, err)
			for _, td := range tasks {
				row := base
				row.RunKey, row.Task, row.Benchmark = rowKey(td.Task.Name()), td.Task.Name(), td.Task.Benchmark()
				fillRow(&row, res, td.Task)
				row.Status, row.Error = "failed", err.Error()
				row.FinishedAt = time.Now().UTC().Format(time.RFC3339)
				if aerr := store.Append(row); aerr != nil {
					return "", aerr
				}
				done[row.RunKey] = true
			}
			return "failed", nil
		}
		rel, _ := filepath.Rel(g.OutDir, ckpt)
		for _, td := range tasks {
			row := base
			row.RunKey, row.Task, row.Benchmark = rowKey(td.Task.Name()), td.Task.Name(), td.Task.Benchmark()
			fillRow(&row, res, td.Task)
			row.Checkpoint = rel
			g.writePredictions(&row, res.PerTask[td.Task.Name()], prefix) // predictions.go
			out = append(out, row)
			fmt.Fprintf(g.Log, "%s %s %s: dev %.2f test %.2f (%d trainable, %.3fs/step)\n", prefix, row.Task, row.Status,
				row.DevScore, row.TestScore, row.TrainableParams, row.MeanStepSec)
		}
	}
	for _, row := range out {
		row.FinishedAt = time.Now().UTC().Format(time.RFC3339)
		if err := store.Append(row); err != nil {
			return "", err
		}
		done[row.RunKey] = true
	}
	return status, nil
}

// label is the leaderboard label of the method's rows.
func (g *Grid) label(name string, m core.Method) string {
	if l := g.Labels[name]; l != "" {
		return l + g.LabelSuffix
	}
	return core.MethodLabel(name, m) + g.LabelSuffix
}

// fillRow copies a finished run's outcome for one task into its row.
func fillRow(row *storage.ResultRow, res *engine.TrainResult, task core.Task) {
	row.Status, row.Error = res.Status, res.Error
	row.Dev, row.Test = res.Dev, res.Test
	if per, ok := res.PerTask[task.Name()]; ok {
		row.Dev, row.Test = per.Dev, per.Test
	}
	row.DevScore, _ = core.PrimaryScore(task, row.Dev)
	row.TestScore, _ = core.PrimaryScore(task, row.Test)
	row.TrainableParams = res.TrainableParams
	row.MeanStepSec, row.MedianStepSec = res.MeanStepSeconds, res.MedianStepSeconds
	row.PeakRSSBytes, row.Steps, row.BestStep = res.PeakRSSBytes, res.Steps, res.BestStep
	row.EvalSeconds = res.EvalSeconds
	if n := len(res.Losses); n > 0 {
		row.FinalLoss = res.Losses[n-1]
	}
	// Curves: the run's (shared) loss curve and this task's dev curve.
	curves := &storage.Curves{Loss: storage.LossCurve(res.Losses, storage.MaxLossPoints)}
	for _, p := range res.DevCurve {
		v, ok := p.PerTask[task.Name()]
		if !ok {
			v = p.Mean
		}
		curves.Dev = append(curves.Dev, storage.CurvePoint{Step: p.Step, Value: v})
	}
	if len(curves.Loss) > 0 || len(curves.Dev) > 0 {
		row.Curves = curves
	}
}

// panicError is core.PanicError: a recovered panic as the run's error.
func panicError(p any) error { return core.PanicError(p) }

// safeSave is saveCheckpoint with a libtorch panic (gotch's Must* panic on a torch error, see
// scripts/setup-gotch.sh) turned into the save's error.
func safeSave(path string, m core.Method, best []core.NamedTensor, row storage.ResultRow) (out string, err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("saving checkpoint %s: %w", path, panicError(p))
		}
	}()
	return saveCheckpoint(path, m, best, row)
}

// safeRun turns a panic inside a run (gotch's Must* functions panic on torch errors) into
// that run's error, so the rest of the grid goes on.
func safeRun(tr *engine.Trainer) (res *engine.TrainResult, err error) {
	defer func() {
		if p := recover(); p != nil {
			err = panicError(p)
		}
	}()
	return tr.Run()
}

// dirCheckpointer is a method whose checkpoint is a directory (FT: a Hugging Face model
// directory that --backbone opens).
type dirCheckpointer interface {
	SaveCheckpointDir(dir string, tensors []core.NamedTensor, meta map[string]string) error
}

// saveCheckpoint writes the trained tensors (or the method's own state) with the resolved
// config as metadata, so a checkpoint is self-describing. It returns the path written: path
// itself, or for a dirCheckpointer the directory path without its .safetensors suffix.
func saveCheckpoint(path string, m core.Method, best []core.NamedTensor, row storage.ResultRow) (string, error) {
	cfg, _ := json.Marshal(row.MethodConfig)
	meta := map[string]string{"method": row.Method, "config": string(cfg), "task": row.Task,
		"seed": fmt.Sprint(row.Seed), "backbone": row.Backbone.Name}
	if d, ok := m.(dirCheckpointer); ok {
		dir := strings.TrimSuffix(path, ".safetensors")
		return dir, d.SaveCheckpointDir(dir, best, meta)
	}
	return path, saveCheckpointFile(path, m, best, meta)
}

func saveCheckpointFile(path string, m core.Method, best []core.NamedTensor, meta map[string]string) error {
	tensors := best
	if s, ok := m.(core.StateSaver); ok {
		st, err := s.SaveState()
		if err != nil {
			return fmt.Errorf("%s: saving method state: %w", path, err)
		}
		defer core.DropNamed(st)
		tensors = st
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	return core.SaveTorchFile(path, tensors, meta)
}

// ParseSeeds parses "42,43".
func ParseSeeds(s string) ([]int64, error) {
	var out []int64
	for _, f := range strings.Split(s, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		var v int64
		if _, err := fmt.Sscan(f, &v); err != nil {
			return nil, fmt.Errorf("seed %q is not an integer", f)
		}
		out = append(out, v)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no seeds given")
	}
	return out, nil
}

// noBackbone stands in after a failed reopen so the deferred Close has something to close.
type noBackbone struct{ core.Backbone }

func (noBackbone) Close() {}
