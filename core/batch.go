package core

import (
	"fmt"

	"github.com/sugarme/gotch"
	"github.com/sugarme/gotch/ts"
)

// Encoded is one example after tokenisation: source and target ids with the backbone's
// special tokens, and the index of its task in the run's task list (0 for single-task runs).
type Encoded struct {
	Source, Target []int64
	Task           int
}

// CollateOptions say how a backbone turns encoded examples into a Batch.
type CollateOptions struct {
	PadTo     int      // pad sources to at least this length (--pad-to-max); 0 = the batch's longest
	Train     bool     // a training batch (dropout on, hooks see Train)
	Step      int      // the optimisation step this batch belongs to (0 in evaluation)
	TaskNames []string // the run's tasks; Encoded.Task indexes it
	NoLabels  bool     // generation batches carry no labels
	// Device is where the batch's tensors are made: a backbone's Collate sets its own, so ids
	// reach the embedding table without a copy per use (the zero value is the CPU).
	Device Device
}

// Batch is one collated batch and its context. The backbone builds it (padding side, pad id
// and positions are the backbone's business); the trainer embeds IDs, lets an input method
// transform the embeddings, and hands the result to the backbone; hooks and backbone-family
// methods read the context (train flag, step, task of every row).
//
// The batch owns its tensors: Close frees them.
type Batch struct {
	IDs       *ts.Tensor // [B, L] int64 source ids, padded
	Mask      *ts.Tensor // [B, L] float32: 1 = real token, 0 = padding
	Positions *ts.Tensor // [B, L] int64: each token's position within its source (pads: 0)
	Labels    *ts.Tensor // [B, T] int64 target ids, -100 = ignored; nil for generation
	Lengths   []int      // real source tokens per row
	Tasks     []int      // per row: index into TaskNames
	TaskNames []string
	Train     bool
	Step      int
}

// Size is the number of rows.
func (b *Batch) Size() int { return len(b.Lengths) }

// TaskOf returns the task name of row i.
func (b *Batch) TaskOf(i int) string {
	if b == nil || i >= len(b.Tasks) || b.Tasks[i] >= len(b.TaskNames) {
		return ""
	}
	return b.TaskNames[b.Tasks[i]]
}

// Close frees the batch's tensors; nil-safe.
func (b *Batch) Close() {
	if b == nil {
		return
	}
	for _, t := range []*ts.Tensor{b.IDs, b.Mask, b.Positions, b.Labels} {
		if t != nil {
			t.MustDrop()
		}
	}
	b.IDs, b.Mask, b.Positions, b.Labels = nil, nil, nil, nil
}

// PadSide is where a backbone puts padding: encoder–decoders pad on the right, decoder-only
// models that generate after the source pad on the left.
type PadSide int

const (
	PadRight PadSide = iota
	PadLeft
)

// CollateWith pads rows with padID on the given side (to the longest source, or opts.PadTo
// when larger), numbers real tokens 0..n-1 in Positions, and pads labels with -100 on the
// right. It is the shared mechanics behind every backbone's Collate.
func CollateWith(rows []Encoded, opts CollateOptions, side PadSide, padID int64) (*Batch, error) {
	if len(rows) == 0 {
		return nil, fmt.Errorf("collate: empty batch")
	}
	L := opts.PadTo
	T := 0
	for _, r := range rows {
		L = max(L, len(r.Source))
		T = max(T, len(r.Target))
	}
	B := len(rows)
	ids := make([]int64, 0, B*L)
	mask := make([]float32, 0, B*L)
	pos := make([]int64, 0, B*L)
	b := &Batch{Lengths: make([]int, B), Tasks: make([]int, B), TaskNames: opts.TaskNames, Train: opts.Train, Step: opts.Step}
	for i, r := range rows {
		n := len(r.Source)
		b.Lengths[i], b.Tasks[i] = n, r.Task
		pad := L - n
		if side == PadLeft {
			for j := 0; j < pad; j++ {
				ids, mask, pos = append(ids, padID), append(mask, 0), append(pos, 0)
			}
		}
		for j, id := range r.Source {
			ids, mask, pos = append(ids, id), append(mask, 1), append(pos, int64(j))
		}
		if side == PadRight {
			for j := 0; j < pad; j++ {
				// Right padding keeps counting: position-indexed offsets (DePT) then see the same
				// rows a batch padded to a fixed length sees, so dynamic padding stays exact.
				ids, mask, pos = append(ids, padID), append(mask, 0), append(pos, int64(n+j))
			}
		}
	}
	shape := []int64{int64(B), int64(L)}
	var err error
	dev := opts.Device
	if b.IDs, err = tensorOf(ids, shape, dev); err == nil {
		if b.Mask, err = tensorOf(mask, shape, dev); err == nil {
			b.Positions, err = tensorOf(pos, shape, dev)
		}
	}
	if err == nil && !opts.NoLabels && T > 0 {
		labels := make([]int64, 0, B*T)
		for _, r := range rows {
			labels = append(labels, r.Target...)
			for j := len(r.Target); j < T; j++ {
				labels = append(labels, -100)
			}
		}
		b.Labels, err = tensorOf(labels, []int64{int64(B), int64(T)}, dev)
	}
	if err != nil {
		b.Close()
		return nil, fmt.Errorf("collate: %w", err)
	}
	return b, nil
}

// tensorOf is vals in shape on dev (made on the CPU from Go values, then moved).
func tensorOf[T int64 | float32](vals []T, shape []int64, dev Device) (*ts.Tensor, error) {
	if len(vals) == 0 {
		var dt gotch.DType = gotch.Int64
		if _, ok := any(vals).([]float32); ok {
			dt = gotch.Float
		}
		return ts.Zeros(shape, dt, dev.Torch())
	}
	t, err := ts.OfSlice(vals)
	if err != nil {
		return nil, err
	}
	if t, err = t.View(shape, true); err != nil {
		return nil, err
	}
	return dev.Move(t)
}

// Labels2D reads a [B, T] int64 label tensor back into rows.
func Labels2D(labels *ts.Tensor) ([][]int64, error) {
	sz, err := labels.Size()
	if err != nil {
		return nil, err
	}
	if len(sz) != 2 {
		return nil, fmt.Errorf("labels must be [B, T], got %v", sz)
	}
	flat := labels.Int64Values()
	rows := make([][]int64, sz[0])
	for i := range rows {
		rows[i] = flat[int64(i)*sz[1] : int64(i+1)*sz[1]]
	}
	return rows, nil
}
