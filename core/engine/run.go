package engine

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"time"

	"github.com/ptbench/ptbench/core"
)

// Run sets the method up, trains, keeps the best dev checkpoint of the method's parameters
// (by the mean primary dev score over the run's tasks) and reports every task's test score.
// A NaN/Inf loss ends the run with Status "diverged" (not an error).
//
// A run is three parts — start (session and data), the loop of steps with its callbacks,
// finish (the best checkpoint's test evaluation) — so RunPacked (pack.go) can step several
// runs together and still start, evaluate and finish each exactly as Run does.
func (tr *Trainer) Run() (*TrainResult, error) {
	ResetPeakRSS()
	r, err := tr.start()
	if err != nil {
		return nil, err
	}
	defer r.close()
	loop := &Loop{Steps: r.o.Steps, Step: func(step int) (float64, error) {
		b, err := r.collate(step)
		if err != nil {
			return 0, err
		}
		defer b.Close()
		return r.sess.Step(b, core.LinearSchedule(step, r.o.Warmup, r.o.Steps), r.o.MaxGradNorm)
	}, Callbacks: r.callbacks()}
	if err := loop.Run(); err != nil {
		return nil, err
	}
	return r.finish()
}

// runState is one run between start and finish: its session, data feed and result so far.
type runState struct {
	tr        *Trainer
	o         core.TrainOptions
	tasks     []TaskData
	names     []string
	sess      *core.Session
	res       *TrainResult
	next      func() []core.Encoded // the next training batch's rows (seeded order)
	padTo     int
	stepTimes []float64
}

// start validates the tasks, seeds, sets the method up (StartSession), tokenises the
// training sets and prepares the run's seeded batch order.
func (tr *Trainer) start() (*runState, error) {
	tasks := tr.tasks()
	o := tr.Opts.Defaults(tasks[0].Task)
	names := make([]string, len(tasks))
	for i, td := range tasks {
		names[i] = td.Task.Name()
		if len(td.Data.Train) == 0 {
			return nil, fmt.Errorf("task %s: no training examples", names[i])
		}
		if tr.Opts.MaxSourceLen == 0 {
			o.MaxSourceLen = max(o.MaxSourceLen, td.Task.MaxSourceLen())
		}
	}
	core.SeedAll(o.Seed)
	sess, err := core.StartSession(tr.Backbone, tr.Method, core.SetupEnv{Backbone: tr.Backbone, Seed: o.Seed,
		MaxSourceLen: o.MaxSourceLen, Task: strings.Join(names, "+"), Tasks: names, Artefacts: tr.Artefacts})
	if err != nil {
		return nil, err
	}
	sess.Opt.Eps = o.AdamEpsilon() // the method's reference ε, resolved by TrainOptions.ForMethod
	// Training's own torch draws (dropout) are seeded after Setup, so whatever Setup drew —
	// including training a missing artefact — never shifts them.
	core.SeedAll(o.Seed + 1)
	r := &runState{tr: tr, o: o, tasks: tasks, names: names, sess: sess,
		res: &TrainResult{Status: "ok", TrainableParams: core.TrainableParams(tr.Method)}}
	r.next = tr.batchOrder(o, tasks)
	if o.PadToMax {
		r.padTo = o.MaxSourceLen
	}
	return r, nil
}

// close ends the session (hooks, optimiser, restored weights).
func (r *runState) close() { r.sess.Close() }

// collate builds the training batch of a step from the run's next rows.
func (r *runState) collate(step int) (*core.Batch, error) {
	return r.tr.Backbone.Collate(r.next(), core.CollateOptions{PadTo: r.padTo, Train: true, Step: step, TaskNames: r.names})
}

// batchOrder tokenises every task's training set once and returns the run's batch source: a
// seeded permutation per epoch, rows drawn from the tasks by the sampler (multi-task), or
// with --group-by-length length-grouped batches.
func (tr *Trainer) batchOrder(o core.TrainOptions, tasks []TaskData) func() []core.Encoded {
	train := make([][]core.Encoded, len(tasks))
	sizes := make([]int, len(tasks))
	for t, td := range tasks {
		train[t] = make([]core.Encoded, len(td.Data.Train))
		for i, ex := range td.Data.Train {
			train[t][i] = core.Encoded{Source: tr.Backbone.EncodeSource(ex.Source, o.MaxSourceLen), Target: tr.Backbone.EncodeTarget(ex.Target, o.MaxTargetLen), Task: t}
		}
		sizes[t] = len(train[t])
	}
	rng := rand.New(rand.NewPCG(uint64(o.Seed), 0x7074_6265_6e63_68)) // "ptbench"
	orders := make([][]int, len(tasks))
	cursors := make([]int, len(tasks))
	for t := range tasks {
		orders[t] = rng.Perm(sizes[t])
	}
	var sampler *TaskSampler
	if len(tasks) > 1 {
		sampler = NewTaskSampler(sizes, tr.Temperature, o.Seed)
	}
	// newEpoch refills a task's example order: a seeded permutation, or with --group-by-length
	// its length-grouped batches back to back (batch boundaries kept in groups).
	var grouped [][][]int
	newEpoch := func(t int) {
		cursors[t] = 0
		if !o.GroupByLength {
			orders[t] = rng.Perm(sizes[t])
			return
		}
		lengths := make([]int, sizes[t])
		for i, e := range train[t] {
			lengths[i] = len(e.Source)
		}
		grouped[t] = LengthGroupedBatches(lengths, o.BatchSize, rng)
		orders[t] = orders[t][:0]
		for _, b := range grouped[t] {
			orders[t] = append(orders[t], b...)
		}
	}
	if o.GroupByLength {
		grouped = make([][][]int, len(tasks))
		for t := range tasks {
			newEpoch(t)
		}
	}
	if o.GroupByLength && len(tasks) == 1 {
		// One task: take its grouped batches whole (a window's last batch may be smaller).
		next := 0
		return func() []core.Encoded {
			if next == len(grouped[0]) {
				newEpoch(0)
				next = 0
			}
			g := grouped[0][next]
			next++
			rows := make([]core.Encoded, len(g))
			for i, k := range g {
				rows[i] = train[0][k]
			}
			return rows
		}
	}
	return func() []core.Encoded {
		b := make([]core.Encoded, 0, o.BatchSize)
		for len(b) < o.BatchSize {
			t := 0
			if sampler != nil {
				t = sampler.Next()
			}
			if cursors[t] == len(orders[t]) {
				newEpoch(t)
			}
			b = append(b, train[t][orders[t][cursors[t]]])
			cursors[t]++
		}
		return b
	}
}

// callbacks are the run's built-in callbacks (record, progress, divergence, evaluation) and
// then the trainer's own.
func (r *runState) callbacks() []Callback {
	res := r.res
	cbs := []Callback{
		// Record the loss and the step time.
		{Name: "record", OnStep: func(s StepInfo) error {
			r.stepTimes = append(r.stepTimes, s.Seconds)
			res.Losses = append(res.Losses, s.Loss)
			res.Steps = s.Step
			return nil
		}},
		ProgressCallback(r.o.Progress),
		// A non-finite loss ends the run as "diverged".
		{Name: "divergence", OnStep: func(s StepInfo) error {
			if ferr := checkFinite("training loss", s.Loss); ferr != nil {
				res.Status, res.Error = "diverged", fmt.Sprintf("step %d: %v", s.Step, ferr)
				return ErrStopTraining
			}
			return nil
		}},
		r.tr.bestCheckpoint(r.o, r.tasks, r.sess, res),
	}
	return append(cbs, r.tr.Callbacks...)
}

// finish evaluates the best checkpoint on every task's test set and completes the result.
func (r *runState) finish() (*TrainResult, error) {
	res, o, tr := r.res, r.o, r.tr
	res.MeanStepSeconds, res.MedianStepSeconds = MeanMedian(r.stepTimes)
	groups := tr.Method.ParamGroups()
	if res.Status == "ok" && res.Best != nil {
		t0 := time.Now()
		defer func() { res.EvalSeconds += time.Since(t0).Seconds() }()
		restore(groups, res.Best)
		for _, td := range r.tasks {
			test, testPreds, err := tr.evaluate(td, limit(td.Data.Test, o.TestLimit), o, r.names)
			if err != nil {
				return nil, err
			}
			ts := res.PerTask[td.Task.Name()]
			ts.Test, ts.TestPredictions = test, testPreds
			ts.Invalid.Test, ts.Invalid.TestTotal = countInvalid(td.Task, testPreds), len(testPreds)
			res.PerTask[td.Task.Name()] = ts
		}
	}
	if res.Best == nil {
		res.Best = snapshot(groups)
	}
	if first, ok := res.PerTask[r.names[0]]; ok {
		res.Dev, res.Test = first.Dev, first.Test
	}
	res.PeakRSSBytes = PeakRSS()
	return res, nil
}

// bestCheckpoint evaluates every task on dev every EvalEvery steps (and at the last step)
// and keeps a copy of the method's parameters at the best mean selection score
// (data.SelectionScore: the primary score except where the reference selects otherwise).
func (tr *Trainer) bestCheckpoint(o core.TrainOptions, tasks []TaskData, sess *core.Session, res *TrainResult) Callback {
	best := math.Inf(-1)
	names := make([]string, len(tasks))
	for i, td := range tasks {
		names[i] = td.Task.Name()
	}
	return Callback{Name: "evaluate", OnStep: func(s StepInfo) error {
		if s.Step%o.EvalEvery != 0 && s.Step != o.Steps {
			return nil
		}
		t0 := time.Now()
		defer func() { res.EvalSeconds += time.Since(t0).Seconds() }()
		per := map[string]TaskScores{}
		point := DevPoint{Step: s.Step, PerTask: map[string]float64{}}
		mean, selMean := 0.0, 0.0
		var parts []string
		for _, td := range tasks {
			devExamples := limit(td.Data.Dev, o.EvalLimit)
			dev, devPreds, err := tr.evaluate(td, devExamples, o, names)
			if err != nil {
				return err
			}
			score, err := core.PrimaryScore(td.Task, dev)
			if err != nil {
				return err
			}
			// The checkpoint is chosen by the reference code's selection metric (CB:
			// macro-F1), which for every other task is the primary score.
			sel, err := core.SelectionScore(td.Task, dev)
			if err != nil {
				return err
			}
			per[td.Task.Name()] = TaskScores{Dev: dev, DevPredictions: devPreds,
				Invalid: core.InvalidCounts{Dev: countInvalid(td.Task, devPreds), DevTotal: len(devPreds)}}
			point.PerTask[td.Task.Name()] = score
			mean += score / float64(len(tasks))
			selMean += sel / float64(len(tasks))
			parts = append(parts, fmt.Sprintf("%s %s = %.2f", td.Task.Name(), td.Task.Metrics()[0], score))
		}
		point.Mean = mean
		res.DevCurve = append(res.DevCurve, point)
		if o.Progress != nil {
			o.Progress.Log("step %d: dev %s (loss %.4f)", s.Step, strings.Join(parts, ", "), s.Loss)
		}
		if selMean > best || res.Best == nil {
			best, res.BestStep, res.PerTask = selMean, s.Step, per
			core.DropNamed(res.Best)
			res.Best = snapshot(sess.Method.ParamGroups())
		}
		return nil
	}}
}
