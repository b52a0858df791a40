package core

import (
	"fmt"

	"github.com/sugarme/gotch"
	"github.com/sugarme/gotch/ts"
)

// Tensors are created where the run computes: a backbone is opened with
// BackboneOptions.Device and reports it (Backbone.Device); methods, batches, optimiser
// state and plugin tensors are created on, or moved to, that device. Values go back to Go
// through gotch's copy functions (CopyData, Vals, Float64Values, Int64Values, item), which
// copy a CUDA tensor to the host themselves; raw data pointers (FromTorch, the plugin codec)
// read a CPU copy.

// Move puts t on d and returns the tensor to use from then on, consuming t (it is dropped
// when copied, and on an error). A tensor already on d is returned itself — no copy and no new handle — so
// the CPU path computes exactly what it did before devices were threaded through.
func (d Device) Move(t *ts.Tensor) (*ts.Tensor, error) {
	at, err := t.Device()
	if err != nil {
		t.MustDrop()
		return nil, fmt.Errorf("tensor device: %w", err)
	}
	want := d.Torch()
	if at.CInt() == want.CInt() { // gotch reports the CPU as {CPU, 1}, gotch.CPU is {CPU, -1}
		return t, nil
	}
	out, err := t.To(want, true)
	if err != nil {
		return nil, fmt.Errorf("moving a tensor to %s: %w", d, err)
	}
	return out, nil
}

// MustMove is Move for callers that cannot return an error (a forward pass's helpers);
// a failure panics, which a run turns into its error.
func (d Device) MustMove(t *ts.Tensor) *ts.Tensor {
	out, err := d.Move(t)
	if err != nil {
		panic(err)
	}
	return out
}

// OnCPU returns a CPU copy of t for reading its memory directly (t is not consumed): a new
// handle to the same storage when t is already there.
func OnCPU(t *ts.Tensor) (*ts.Tensor, error) {
	c, err := t.ShallowClone()
	if err != nil {
		return nil, err
	}
	return CPU.Move(c)
}

// DeviceOf reports where t lives as a Device (what tests compare with Backbone.Device).
func DeviceOf(t *ts.Tensor) (Device, error) {
	at, err := t.Device()
	if err != nil {
		return CPU, err
	}
	if at.CInt() == gotch.CPU.CInt() {
		return CPU, nil
	}
	return Device{CUDA: true, Index: at.Value}, nil
}

// Param makes t (consumed) a trainable leaf on d. Parameters are created and initialised on
// the CPU, whose seeded generator draws the same values on every device, and then moved:
// the copy is made without autograd history, so the result is a leaf the optimiser can own.
// On the CPU t itself is returned, requiring grad.
func (d Device) Param(t *ts.Tensor) (*ts.Tensor, error) {
	var out *ts.Tensor
	var err error
	ts.NoGrad(func() { out, err = d.Move(t) })
	if err != nil {
		return nil, err
	}
	if err := out.RequiresGrad_(true); err != nil {
		out.MustDrop()
		return nil, err
	}
	return out, nil
}

// OnDeviceOf puts t (consumed; typically made from Go values on the CPU) where like lives:
// per-batch index tensors a method makes go to its inputs' device.
func OnDeviceOf(t, like *ts.Tensor) (*ts.Tensor, error) {
	d, err := DeviceOf(like)
	if err != nil {
		t.MustDrop()
		return nil, err
	}
	return d.Move(t)
}

// MustOnDeviceOf is OnDeviceOf for helpers that cannot return an error; a failure panics,
// which a run turns into its error.
func MustOnDeviceOf(t, like *ts.Tensor) *ts.Tensor {
	out, err := OnDeviceOf(t, like)
	if err != nil {
		panic(err)
	}
	return out
}
