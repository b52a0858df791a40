package llama

import (
	"github.com/sugarme/gotch/ts"

	"github.com/ptbench/ptbench/core"
)

// A model computes on one device (LoadOptions.Device, from --device). The builder moves each
// tensor there as it arrives (a 4-bit weight after it is quantised on the CPU), so loading
// holds at most one full-precision matrix on the host; every tensor the forward pass makes
// from Go values — rotary tables, attention biases, ids, the target mask, targets — is made
// on the model's device (onDevice). On the CPU nothing moves and nothing is copied.

// Device is where the model's weights live.
func (m *Model) Device() core.Device { return m.dev }

// onDevice puts t (consumed; made from Go values on the CPU) on the model's device.
func (m *Model) onDevice(t *ts.Tensor) *ts.Tensor { return m.dev.MustMove(t) }

// idsOnDevice is an int64 tensor of vals in shape on the model's device.
func (m *Model) idsOnDevice(vals []int64, shape ...int64) *ts.Tensor {
	return m.onDevice(ts.MustOfSlice(vals).MustView(shape, true))
}
