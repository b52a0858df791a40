package host

// The state mirror: gradients go to the plugin after each backward pass (AfterBackward), and
// the plugin's parameters are pulled for checkpoints and pushed back on restore.

import (
	"context"
	"fmt"
	"math"

	"github.com/sugarme/gotch"
	"github.com/sugarme/gotch/ts"

	"github.com/ptbench/ptbench/core"
	methodpb "github.com/ptbench/ptbench/plugins/proto"
	"github.com/ptbench/ptbench/plugins/wire"
)

// AfterBackward sends the gradients of the latest training outputs to the plugin, which
// clips them (maxGradNorm, 0 = off) and updates its parameters.
func (m *Method) AfterBackward(lrFactor, maxGradNorm float64) error {
	if m.pending == [2]*ts.Tensor{} {
		return nil
	}
	defer m.dropPending()
	m.dirty = true
	req := &methodpb.BackwardRequest{LrFactor: lrFactor, MaxGradNorm: maxGradNorm}
	for i, leaf := range m.pending {
		if leaf == nil {
			continue
		}
		g := leaf.MustGrad(false)
		if !g.MustDefined() { // the loss did not depend on this output
			g.MustDrop()
			g = leaf.MustZerosLike(false)
		}
		enc := encodeTorch(g, m.wire)
		g.MustDrop()
		if i == 0 {
			req.GradPrefix = enc
		} else {
			req.GradOffset = enc
		}
	}
	return m.call("Backward", func(ctx context.Context) error {
		resp, err := m.rpc.Backward(ctx, req)
		if err == nil {
			m.gradNorm = resp.GradNorm
		}
		return err
	})
}

// GradNorm is the global gradient norm (before clipping) the plugin reported for the latest
// step.
func (m *Method) GradNorm() float64 { return m.gradNorm }

func (m *Method) dropPending() {
	dropAll(m.pending[:]...)
	m.pending = [2]*ts.Tensor{}
}

// SaveState returns the plugin's state as named float32 tensors (caller drops them); a state
// the trainer restored into the mirror is the plugin's state.
func (m *Method) SaveState() ([]core.NamedTensor, error) {
	if err := m.sync(); err != nil {
		return nil, err
	}
	return m.fetchState()
}

func (m *Method) fetchState() ([]core.NamedTensor, error) {
	var resp *methodpb.SaveStateResponse
	var err error
	if err = m.call("SaveState", func(ctx context.Context) error {
		resp, err = m.rpc.SaveState(ctx, &methodpb.SaveStateRequest{})
		return err
	}); err != nil {
		return nil, err
	}
	var out []core.NamedTensor
	for _, nt := range resp.Tensors {
		shape, data, err := wire.Decode(nt.Tensor)
		if err == nil && len(shape) == 0 {
			shape = []int64{1}
		}
		var t *ts.Tensor
		if err == nil {
			t, err = ts.OfDataSize(f32View(data), shape, gotch.Float)
		}
		if err == nil {
			t, err = m.dev.Move(t) // the mirror lives with the run's other parameters
		}
		if err != nil {
			core.DropNamed(out)
			return nil, fmt.Errorf("plugin %s: state tensor %q: %v", m.name, nt.Name, err)
		}
		out = append(out, core.NamedTensor{Name: nt.Name, Tensor: t})
	}
	return out, nil
}

// LoadState sends a state saved by SaveState back to the plugin.
func (m *Method) LoadState(state []core.NamedTensor) error {
	if err := m.sendState(state); err != nil {
		return err
	}
	return m.pull()
}

// pull copies the plugin's state into the mirror (creating it the first time).
func (m *Method) pull() error {
	st, err := m.fetchState()
	if err != nil {
		return err
	}
	defer core.DropNamed(st)
	fresh := len(m.mirror) == 0
	if !fresh && len(st) != len(m.mirror) {
		return fmt.Errorf("plugin %s: its state changed from %d to %d tensors", m.name, len(m.mirror), len(st))
	}
	m.synced = m.synced[:0]
	for i, nt := range st {
		if fresh {
			m.mirror = append(m.mirror, core.NamedTensor{Name: nt.Name, Tensor: nt.Tensor.MustDetachCopy(false)})
		} else {
			mt := m.mirror[i]
			if mt.Name != nt.Name || mt.Tensor.Numel() != nt.Tensor.Numel() {
				return fmt.Errorf("plugin %s: state tensor %d changed from %s to %s", m.name, i, mt.Name, nt.Name)
			}
			ts.NoGrad(func() { mt.Tensor.Copy_(nt.Tensor) })
		}
		m.synced = append(m.synced, core.Float32s(nt.Tensor))
	}
	m.dirty = false
	return nil
}

// sync makes the mirror and the plugin agree before an evaluation: after training the plugin
// is newer; otherwise a mirror that differs from what was last exchanged was restored by the
// trainer and goes to the plugin.
func (m *Method) sync() error {
	if len(m.mirror) == 0 {
		return nil
	}
	if m.dirty {
		return m.pull()
	}
	for i, mt := range m.mirror {
		now := core.Float32s(mt.Tensor)
		for j := range now {
			if math.Float32bits(now[j]) != math.Float32bits(m.synced[i][j]) {
				if err := m.sendState(m.mirror); err != nil {
					return err
				}
				return m.pull()
			}
		}
	}
	return nil
}

func (m *Method) sendState(state []core.NamedTensor) error {
	req := &methodpb.LoadStateRequest{}
	for _, nt := range state {
		req.Tensors = append(req.Tensors, &methodpb.NamedTensor{Name: nt.Name, Tensor: encodeTorch(nt.Tensor, methodpb.DType_DTYPE_F32)})
	}
	return m.call("LoadState", func(ctx context.Context) error {
		_, err := m.rpc.LoadState(ctx, req)
		return err
	})
}
