package host

// The tensor codec between ptbench and a plugin: what Transform sends (mask, embeddings),
// how the plugin's outputs become leaf tensors and the backbone's input, and tensor encoding
// in the wire dtype.

import (
	"fmt"
	"unsafe"

	"github.com/sugarme/gotch"
	"github.com/sugarme/gotch/ts"

	"github.com/ptbench/ptbench/core"
	methodpb "github.com/ptbench/ptbench/plugins/proto"
	"github.com/ptbench/ptbench/plugins/wire"
)

// inputs adds the input embeddings the plugin declared it needs.
func (m *Method) inputs(in core.Input, req *methodpb.ForwardRequest) error {
	kind := m.info.Input
	if kind == methodpb.InputKind_INPUT_NONE {
		return nil
	}
	ts.NoGrad(func() {
		switch kind {
		case methodpb.InputKind_INPUT_FULL:
			req.Embeds = encodeTorch(in.Embeds, m.wire)
		case methodpb.InputKind_INPUT_POOLED_MEAN:
			mask := in.Mask.MustUnsqueeze(-1, false)
			sum := in.Embeds.MustMul(mask, false).MustSumDimIntlist([]int64{1}, false, gotch.Float, true)
			cnt := mask.MustSumDimIntlist([]int64{1}, false, gotch.Float, true).MustClampMin(ts.FloatScalar(1), true)
			pooled := sum.MustDiv(cnt, true)
			cnt.MustDrop()
			req.Embeds = encodeTorch(pooled, m.wire)
			pooled.MustDrop()
		case methodpb.InputKind_INPUT_POOLED_MAX:
			pad := in.Mask.MustUnsqueeze(-1, false).MustLe(ts.FloatScalar(0.5), true)
			filled := in.Embeds.MustMaskedFill(pad, ts.FloatScalar(-3.4028234663852886e38), false)
			pad.MustDrop()
			pooled := filled.MustAmax([]int64{1}, false, true)
			req.Embeds = encodeTorch(pooled, m.wire)
			pooled.MustDrop()
		}
	})
	if req.Embeds == nil {
		return fmt.Errorf("plugin %s declares an unknown input kind %v", m.name, kind)
	}
	return nil
}

// outputs checks the plugin's outputs (declared kinds, shapes, finite values) and makes them
// leaf tensors; in training they require grad.
func (m *Method) outputs(resp *methodpb.ForwardResponse, B, L int64) (prefix, offset *ts.Tensor, err error) {
	d := m.dModel
	check := func(what string, t *methodpb.Tensor, declared bool, shapeOK func([]int64) bool, want string) (*ts.Tensor, error) {
		if t == nil {
			if declared {
				return nil, fmt.Errorf("plugin %s: Forward returned no %s, but the plugin declares one", m.name, what)
			}
			return nil, nil
		}
		if !declared {
			return nil, fmt.Errorf("plugin %s: Forward returned a %s it did not declare", m.name, what)
		}
		shape, data, err := wire.Decode(t)
		if err != nil {
			return nil, fmt.Errorf("plugin %s: Forward returned a malformed %s: %v", m.name, what, err)
		}
		if !shapeOK(shape) {
			return nil, fmt.Errorf("plugin %s: Forward returned a %s of shape %v, want %s", m.name, what, shape, want)
		}
		if i := wire.FirstNonFinite(data); i >= 0 {
			return nil, fmt.Errorf("plugin %s: Forward returned a non-finite value (%v) in its %s (element %d of shape %v)", m.name, data[i], what, i, shape)
		}
		out, err := ts.OfDataSize(f32View(data), shape, gotch.Float)
		if err != nil {
			return nil, err
		}
		return m.dev.Param(out) // received on the CPU, used on the run's device
	}
	mm := m.prefixLen
	prefix, err = check("prefix", resp.Prefix, m.info.Prefix, func(s []int64) bool {
		return (len(s) == 2 && s[0] == mm && s[1] == d) || (len(s) == 3 && s[0] == B && s[1] == mm && s[2] == d)
	}, fmt.Sprintf("[%d %d] or [%d %d %d]", mm, d, B, mm, d))
	if err != nil {
		return nil, nil, err
	}
	offset, err = check("offset", resp.Offset, m.info.Offset, func(s []int64) bool {
		return (len(s) == 2 && s[0] >= L && s[1] == d) || (len(s) == 3 && s[0] == B && s[1] == L && s[2] == d)
	}, fmt.Sprintf("[s %d] with s ≥ %d, or [%d %d %d]", d, L, B, L, d))
	if err != nil {
		dropAll(prefix)
		return nil, nil, err
	}
	return prefix, offset, nil
}

// apply adds the offset to the input embeddings, then prepends the prefix: H0 = [P ; E + O].
func apply(in core.Input, prefix, offset *ts.Tensor) (core.Input, error) {
	x := core.Input{Embeds: in.Embeds.MustShallowClone(), Mask: in.Mask.MustShallowClone()}
	for _, s := range []struct {
		t *ts.Tensor
		f func(core.Input, *ts.Tensor) (core.Input, error)
	}{{offset, core.AddOffset}, {prefix, core.PrependPrompt}} {
		if s.t == nil {
			continue
		}
		y, err := s.f(x, s.t)
		x.Drop()
		if err != nil {
			return core.Input{}, err
		}
		x = y
	}
	return x, nil
}

func dropAll(ts ...*ts.Tensor) {
	for _, t := range ts {
		if t != nil {
			t.MustDrop()
		}
	}
}

// encodeTorch copies a float tensor to the wire (float32, or rounded to bfloat16), from a CPU
// copy when it lives elsewhere (its memory is read directly).
func encodeTorch(t *ts.Tensor, dt methodpb.DType) *methodpb.Tensor {
	c := core.CPU.MustMove(t.MustDetach(false)).MustTotype(gotch.Float, true).MustContiguous(true)
	defer c.MustDrop()
	shape := c.MustSize()
	n := int(c.Numel())
	if dt == methodpb.DType_DTYPE_BF16 {
		vals := make([]float32, n)
		if n > 0 {
			copy(vals, unsafe.Slice((*float32)(c.MustDataPtr()), n))
		}
		return wire.Encode(shape, vals, dt)
	}
	data := make([]byte, 4*n)
	if n > 0 {
		copy(data, unsafe.Slice((*byte)(c.MustDataPtr()), 4*n))
	}
	return &methodpb.Tensor{Shape: shape, Dtype: methodpb.DType_DTYPE_F32, Data: data}
}

// f32View is the bytes of float32 values (native little-endian on every libtorch platform).
func f32View(v []float32) []byte {
	if len(v) == 0 {
		return []byte{}
	}
	return unsafe.Slice((*byte)(unsafe.Pointer(&v[0])), 4*len(v))
}
