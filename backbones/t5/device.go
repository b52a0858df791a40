package t5

import (
	"fmt"

	"github.com/sugarme/gotch/ts"

	"github.com/ptbench/ptbench/core"
)

// A model computes on one device (--device). Weights are read or drawn on the CPU and moved
// once, after loading (ToDevice, before ToBF16 stacks any of them); every tensor the forward
// pass makes from Go values — decoder ids, targets, bucket grids, the causal mask — is made
// on the model's device (onDevice). On the CPU nothing moves and nothing is copied.

// Device is where the model's weights live.
func (m *Model) Device() core.Device { return m.dev }

// ToDevice moves every weight (the 4-bit ones too) to d and makes d the device of the
// tensors the forward pass creates. It must run before ToBF16: stacked q/k/v weights are
// views that a move would not follow.
func (m *Model) ToDevice(d core.Device) error {
	if len(m.stacked) > 0 {
		return fmt.Errorf("t5: ToDevice after ToBF16")
	}
	moved := map[*ts.Tensor]*ts.Tensor{}
	for n, t := range m.weights {
		nt, err := d.Move(t)
		if err != nil {
			return fmt.Errorf("t5: weight %s: %w", n, err)
		}
		m.weights[n] = nt
		moved[t] = nt
	}
	for _, p := range m.fieldPtrs() {
		if *p != nil {
			if nt, ok := moved[*p]; ok {
				*p = nt
			}
		}
	}
	for site, q := range m.nf4 {
		if err := q.ToDevice(d.Torch()); err != nil {
			return fmt.Errorf("t5: linear %s: %w", site, err)
		}
	}
	m.dropBucketCache() // grids made for the old device
	m.dev = d
	return nil
}

// fieldPtrs are the model's fields that hold weights (each also in m.weights).
func (m *Model) fieldPtrs() []**ts.Tensor {
	ps := []**ts.Tensor{&m.shared, &m.encBias, &m.decBias, &m.encFinal, &m.decFinal, &m.lmHead}
	for _, stack := range [][]block{m.encoder, m.decoder} {
		for i := range stack {
			b := &stack[i]
			ps = append(ps, &b.selfNorm, &b.crossNorm, &b.ffNorm,
				&b.ff.wi, &b.ff.wi0, &b.ff.wi1, &b.ff.wo)
			for _, a := range []*attention{&b.self, &b.cross} {
				ps = append(ps, &a.q, &a.k, &a.v, &a.o)
			}
		}
	}
	return ps
}

// onDevice puts t (consumed; made from Go values on the CPU) on the model's device.
func (m *Model) onDevice(t *ts.Tensor) *ts.Tensor { return m.dev.MustMove(t) }

// idsOnDevice is an int64 tensor of vals in shape on the model's device.
func (m *Model) idsOnDevice(vals []int64, shape ...int64) *ts.Tensor {
	return m.onDevice(ts.MustOfSlice(vals).MustView(shape, true))
}
