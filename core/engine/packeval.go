package engine

import (
	"fmt"
	"sort"
	"time"

	"github.com/sugarme/gotch/ts"

	"github.com/ptbench/ptbench/core"
)

// Packed evaluation: at a step where several runs of a pack evaluate (dev every EvalEvery
// steps, test at the end), their generations share greedy decoding passes too. Every run
// still encodes, sorts and batches its examples as Trainer.predict does and transforms
// them with its own method; the k-th batches of all runs are padded (masked, on the side the
// backbone pads),
// stacked and decoded together, and each row's tokens are its own (greedy decoding treats
// rows independently; a row's tokens after its EOS are dropped by DecodeTarget). The texts
// wait in the run's Trainer until its evaluation callback asks for exactly those examples;
// a run whose batch or transform fails gets nothing cached and evaluates alone (where the
// error is its own), and a failed shared pass leaves every run to evaluate alone.

// predKey names one prediction request: the examples (by their first element and count,
// the slice the evaluation passes) and the task index of their rows.
type predKey struct {
	first *core.Example
	n     int
	task  int
}

// takePacked returns the predictions a pack made for these examples, once.
func (tr *Trainer) takePacked(examples []core.Example, taskIdx int) ([]string, bool) {
	if len(tr.packed) == 0 || len(examples) == 0 {
		return nil, false
	}
	k := predKey{&examples[0], len(examples), taskIdx}
	out, ok := tr.packed[k]
	delete(tr.packed, k)
	return out, ok
}

// evalJob is one run's prediction request within a pack.
type evalJob struct {
	m        *packMember
	examples []core.Example
	taskIdx  int
	// filled by packedPredict
	order  []int
	enc    []core.Encoded
	out    []string
	failed bool
}

// devJobs are the dev requests of the members that evaluate after this step.
func devJobs(members []*packMember, step int) []*evalJob {
	var jobs []*evalJob
	for _, m := range members {
		o := m.r.o
		if step%o.EvalEvery != 0 && step != o.Steps {
			continue
		}
		for t, td := range m.r.tasks {
			jobs = append(jobs, &evalJob{m: m, examples: limit(td.Data.Dev, o.EvalLimit), taskIdx: t})
		}
	}
	return jobs
}

// testJobs are the final test requests of members that finish with a best checkpoint; it
// restores that checkpoint first (finish restores it again, to the same values).
func testJobs(members []*packMember) []*evalJob {
	var jobs []*evalJob
	for _, m := range members {
		res := m.r.res
		if m.err != nil || res.Status != "ok" || res.Best == nil {
			continue
		}
		restore(m.r.tr.Method.ParamGroups(), res.Best)
		for t, td := range m.r.tasks {
			jobs = append(jobs, &evalJob{m: m, examples: limit(td.Data.Test, m.r.o.TestLimit), taskIdx: t})
		}
	}
	return jobs
}

// packedPredict decodes the jobs' examples in shared passes and leaves each successful job's
// texts in its run's Trainer. Jobs of one run only, or none, are left to evaluate alone. The
// shared passes' time is split evenly between the runs in them (their EvalSeconds).
func packedPredict(bb core.Backbone, jobs []*evalJob) {
	t0 := time.Now()
	defer func() {
		runs := map[*packMember]bool{}
		for _, j := range jobs {
			runs[j.m] = true
		}
		for m := range runs {
			m.r.res.EvalSeconds += time.Since(t0).Seconds() / float64(len(runs))
		}
	}()
	var usable []*evalJob
	for _, j := range jobs {
		if len(j.examples) > 0 && j.m.r.o.MaxNewTokens == jobs[0].m.r.o.MaxNewTokens {
			usable = append(usable, j)
		}
	}
	if len(usable) < 2 {
		return
	}
	err := guard(func() (err error) {
		ts.NoGrad(func() { err = decodeJobs(bb, usable) })
		return err
	})
	for _, j := range usable {
		if err != nil || j.failed {
			j.m.r.res.AloneEvals++
			continue
		}
		tr := j.m.r.tr
		if tr.packed == nil {
			tr.packed = map[predKey][]string{}
		}
		tr.packed[predKey{&j.examples[0], len(j.examples), j.taskIdx}] = j.out
	}
}

// decodeJobs runs the shared greedy passes: pass k stacks every job's k-th batch.
func decodeJobs(bb core.Backbone, jobs []*evalJob) error {
	for _, j := range jobs {
		o := j.m.r.o
		j.enc = make([]core.Encoded, len(j.examples))
		j.order = make([]int, len(j.examples))
		for i, ex := range j.examples {
			j.order[i] = i
			j.enc[i] = core.Encoded{Source: bb.EncodeSource(ex.Source, o.MaxSourceLen), Task: j.taskIdx}
		}
		sort.SliceStable(j.order, func(a, b int) bool { return len(j.enc[j.order[a]].Source) < len(j.enc[j.order[b]].Source) })
		j.out = make([]string, len(j.examples))
	}
	for k := 0; ; k++ {
		var parts []*evalJob
		var spans [][]int
		var inputs []core.Input
		var batches []*core.Batch
		for _, j := range jobs {
			size := j.m.r.o.EvalBatchSize
			if j.failed || k*size >= len(j.order) {
				continue
			}
			span := j.order[k*size : min((k+1)*size, len(j.order))]
			x, b, err := j.input(bb, span)
			if err != nil {
				j.failed = true // this run evaluates alone, where the error is its own
				continue
			}
			parts, spans, inputs, batches = append(parts, j), append(spans, span), append(inputs, x), append(batches, b)
		}
		if len(parts) == 0 {
			return nil
		}
		all := make([]int, len(parts))
		for p := range parts {
			all[p] = p
		}
		for _, group := range lengthGroups(all, inputLength(inputs), bb.(core.Packer).PackSlack()) {
			var gin []core.Input
			var gb []*core.Batch
			var blocks []hookBlock
			for _, p := range group {
				gin, gb = append(gin, inputs[p]), append(gb, batches[p])
				blocks = append(blocks, hookBlock{hooks: parts[p].m.hooks, batch: batches[p], rows: int64(batches[p].Size())})
			}
			install(bb, blocks, parts[group[0]].m.hooked)
			ids, err := generateStacked(bb, gin, gb, jobs[0].m.r.o.MaxNewTokens)
			if err != nil {
				dropAll(inputs, batches)
				return err
			}
			row := 0
			for _, p := range group {
				for _, i := range spans[p] {
					parts[p].out[i] = bb.DecodeTarget(ids[row])
					row++
				}
			}
		}
		dropAll(inputs, batches)
	}
}

func dropAll(inputs []core.Input, batches []*core.Batch) {
	for i := range inputs {
		inputs[i].Drop()
		batches[i].Close()
	}
}

// input collates a job's rows (as predict does) and transforms them with its run's method.
func (j *evalJob) input(bb core.Backbone, span []int) (core.Input, *core.Batch, error) {
	o := j.m.r.o
	rows := make([]core.Encoded, len(span))
	for r, i := range span {
		rows[r] = j.enc[i]
	}
	var x core.Input
	var b *core.Batch
	err := guard(func() (err error) {
		padTo := 0
		if o.PadToMax {
			padTo = o.MaxSourceLen
		}
		if b, err = bb.Collate(rows, core.CollateOptions{PadTo: padTo, TaskNames: j.m.r.names, NoLabels: true}); err != nil {
			return err
		}
		x, err = core.MethodInput(bb, j.m.r.tr.Method, b)
		return err
	})
	if err != nil {
		b.Close()
		return core.Input{}, nil, err
	}
	return x, b, nil
}

// generateStacked pads the inputs to the longest (masked, on the backbone's side), stacks them and
// decodes greedily once; it returns every row's ids in stacking order.
func generateStacked(bb core.Backbone, inputs []core.Input, batches []*core.Batch, maxNew int) ([][]int64, error) {
	opts := core.GenerateOptions{MaxNewTokens: maxNew, StopAtEOS: true}
	if len(inputs) == 1 {
		return bb.Generate(inputs[0], opts)
	}
	in, err := stackEmbeds(inputs, bb.(core.Packer).PackPadSide())
	if err != nil {
		return nil, err
	}
	defer in.Drop()
	ctx := &core.Batch{}
	for _, b := range batches {
		ctx.Lengths = append(ctx.Lengths, b.Lengths...)
	}
	in.Batch = ctx
	ids, err := bb.Generate(in, opts)
	if err == nil && len(ids) != len(ctx.Lengths) {
		err = fmt.Errorf("pack: generation returned %d rows for %d", len(ids), len(ctx.Lengths))
	}
	return ids, err
}
