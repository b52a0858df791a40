// Package quant holds weight quantisation shared by the backbones: QLoRA's NF4 (4-bit
// NormalFloat with double-quantised block scales). Llama stores its frozen linears this way
// (backbones/llama forwards its NF4 names here); any backbone may.
package quant

import (
	"fmt"

	"github.com/sugarme/gotch"
	"github.com/sugarme/gotch/ts"
)

// NF4Code is QLoRA's 4-bit NormalFloat code book (bitsandbytes' NF4 lookup table): the
// quantiles of N(0, 1) scaled to [−1, 1], with an exact zero.
var NF4Code = [16]float32{
	-1.0, -0.6961928009986877, -0.5250730514526367, -0.39491748809814453,
	-0.28444138169288635, -0.18477343022823334, -0.09105003625154495, 0.0,
	0.07958029955625534, 0.16093020141124725, 0.24611230194568634, 0.33791524171829224,
	0.44070982933044434, 0.5626170039176941, 0.7229568362236023, 1.0,
}

const (
	// NF4Block is the number of weights sharing one absmax.
	NF4Block = 64
	// NF4Block2 is the number of absmaxes sharing one fp32 scale (double quantisation).
	NF4Block2 = 256
)

// NF4 is a weight matrix quantised as QLoRA does: blocks of 64 weights in row-major order,
// each stored as 4-bit indices into NF4Code (two per byte, the first in the high nibble)
// times the block's absmax; the absmaxes themselves are double-quantised: their mean is
// subtracted and the rest stored as 8-bit values in blocks of 256, with one fp32 scale per
// block. (bitsandbytes stores those 8-bit values as indices into its dynamic 8-bit map;
// here they are symmetric linear int8, |error| ≤ scale/254.)
type NF4 struct {
	Shape  []int64
	Codes  *ts.Tensor // [n/2] uint8
	QAbs   *ts.Tensor // [n2·256] int8: round((absmax − Mean) / Scale · 127)
	Scale  *ts.Tensor // [n2] float32: per 256-block max |absmax − Mean|
	Mean   float32
	blocks int64 // number of 64-blocks (absmaxes)
}

// Drop frees the tensors.
func (q *NF4) Drop() {
	for _, t := range []*ts.Tensor{q.Codes, q.QAbs, q.Scale} {
		if t != nil {
			t.MustDrop()
		}
	}
	q.Codes, q.QAbs, q.Scale = nil, nil, nil
}

// Bytes is the storage the quantised weight takes.
func (q *NF4) Bytes() int64 { return int64(q.Codes.Numel() + q.QAbs.Numel() + 4*q.Scale.Numel() + 4) }

// nf4Mid are the 15 decision boundaries between neighbouring codes (nearest-code rounding).
func nf4Mid() []float32 {
	out := make([]float32, 15)
	for i := range out {
		out[i] = (NF4Code[i] + NF4Code[i+1]) / 2
	}
	return out
}

// nf4PairTable is [256, 2]: the two code values of every packed byte.
var pairTable *ts.Tensor

func nf4PairTable() *ts.Tensor {
	if pairTable == nil {
		vals := make([]float32, 0, 512)
		for b := 0; b < 256; b++ {
			vals = append(vals, NF4Code[b>>4], NF4Code[b&15])
		}
		pairTable = ts.MustOfSlice(vals).MustView([]int64{256, 2}, true)
	}
	return pairTable
}

func scalar(v float64) *ts.Scalar { return ts.FloatScalar(v) }

// QuantizeNF4 quantises w (any float dtype, numel a multiple of 64; not consumed).
func QuantizeNF4(w *ts.Tensor) (*NF4, error) {
	shape := w.MustSize()
	n := w.Numel()
	if n%NF4Block != 0 {
		return nil, fmt.Errorf("nf4: %v has %d elements, not a multiple of %d", shape, n, NF4Block)
	}
	nb := int64(n) / NF4Block
	var x *ts.Tensor
	ts.NoGrad(func() {
		x = w.MustDetach(false).MustTotype(gotch.Float, true).MustReshape([]int64{nb, NF4Block}, true)
	})
	absmax := x.MustAbs(false).MustAmax([]int64{1}, true, true) // [nb, 1]
	safe := absmax.MustClampMin(scalar(1e-30), false)
	normed := x.MustDiv(safe, true)
	safe.MustDrop()
	mid := ts.MustOfSlice(nf4Mid())
	idx := normed.MustBucketize(mid, false, false, true).MustView([]int64{int64(n) / 2, 2}, true) // int64 0..15
	mid.MustDrop()
	hi := idx.MustSelect(1, 0, false).MustMulScalar(ts.IntScalar(16), true)
	lo := idx.MustSelect(1, 1, false)
	idx.MustDrop()
	codes := hi.MustAdd(lo, true).MustTotype(gotch.Uint8, true)
	lo.MustDrop()

	// Double quantisation of the absmaxes.
	a := absmax.MustView([]int64{nb}, true)
	meanT := a.MustMean(gotch.Float, false)
	mean := float32(meanT.Float64Values()[0])
	meanT.MustDrop()
	c := a.MustSubScalar(scalar(float64(mean)), true)
	n2 := (nb + NF4Block2 - 1) / NF4Block2
	if pad := n2*NF4Block2 - nb; pad > 0 {
		z := ts.MustZeros([]int64{pad}, gotch.Float, gotch.CPU)
		c2 := ts.MustCat([]*ts.Tensor{c, z}, 0)
		c.MustDrop()
		z.MustDrop()
		c = c2
	}
	c = c.MustView([]int64{n2, NF4Block2}, true)
	scale := c.MustAbs(false).MustAmax([]int64{1}, true, true).MustClampMin(scalar(1e-30), true) // [n2, 1]
	q8 := c.MustDiv(scale, true).MustMulScalar(scalar(127), true).MustRound(true).MustTotype(gotch.Int8, true).MustView([]int64{n2 * NF4Block2}, true)
	return &NF4{Shape: shape, Codes: codes, QAbs: q8, Scale: scale.MustView([]int64{n2}, true), Mean: mean, blocks: nb}, nil
}

// Absmax returns the dequantised per-block absmaxes [blocks] float32.
func (q *NF4) Absmax() *ts.Tensor {
	n2 := q.Scale.MustSize()[0]
	f := q.QAbs.MustTotype(gotch.Float, false).MustView([]int64{n2, NF4Block2}, true)
	s := q.Scale.MustView([]int64{n2, 1}, false).MustDivScalar(scalar(127), true)
	a := f.MustMul(s, true).MustAddScalar(scalar(float64(q.Mean)), true)
	s.MustDrop()
	return a.MustView([]int64{n2 * NF4Block2}, true).MustNarrow(0, 0, q.blocks, true).MustContiguous(true)
}

// Dequantize returns the float32 weight in its original shape (the caller drops it).
func (q *NF4) Dequantize() *ts.Tensor {
	var out *ts.Tensor
	ts.NoGrad(func() {
		idx := q.Codes.MustTotype(gotch.Int, false) // int32 indices: half the bytes of int64
		vals := nf4PairTable().MustIndexSelect(0, idx, false).MustView([]int64{q.blocks, NF4Block}, true)
		idx.MustDrop()
		a := q.Absmax().MustView([]int64{q.blocks, 1}, true)
		out = vals.MustMul(a, true).MustView(q.Shape, true)
		a.MustDrop()
	})
	return out
}
