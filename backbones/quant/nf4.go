// Package quant holds weight quantisation shared by the backbones: QLoRA's NF4 (4-bit
// NormalFloat with double-quantised block scales). Llama stores its frozen linears this way
// (backbones/llama forwards its NF4 names here); any backbone may.
package quant

import (
	"fmt"
	"sync"

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

// NF4 is a weight matrix quantised as QLoRA quantises it (bitsandbytes' quantize_4bit with
// quant_type "nf4", blocksize 64, compress_statistics=True, the Params4bit defaults that
// QLoRA's --double_quant sets): blocks of 64 weights in row-major order, each stored as 4-bit
// indices into NF4Code (two per byte, the first in the high nibble) times the block's absmax.
// The absmaxes are double-quantised as quantize_blockwise(absmax − mean, blocksize=256) does:
// their mean is subtracted, and each block of 256 is stored as 8-bit indices into DynamicMap
// times the block's own absmax (one float32 per 256 absmaxes). Dequantised, an absmax is
// DynamicMap[QAbs]·Scale + Mean, in float32, as dequantize_4bit computes it.
type NF4 struct {
	Shape  []int64
	Codes  *ts.Tensor // [n/2] uint8
	QAbs   *ts.Tensor // [n2·256] uint8: indices into DynamicMap of (absmax − Mean)/Scale
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

// nf4Thresholds are the decision boundaries of bitsandbytes' CUDA NF4 quantiser
// (dQuantizeNF4 in csrc/kernels.cu, which QLoRA ran): a normalised weight x gets code i+1
// when x > nf4Thresholds[i]. They are the midpoints between neighbouring codes, written as
// float literals in the kernel; bucketize with right=false gives the same strict ">".
var nf4Thresholds = []float32{
	-0.8480964004993439, -0.6106329262256622, -0.4599952697753906, -0.33967943489551544,
	-0.23460740596055984, -0.13791173323988914, -0.045525018125772476, 0.03979014977812767,
	0.1202552504837513, 0.2035212516784668, 0.2920137718319893, 0.3893125355243683,
	0.5016634166240692, 0.6427869200706482, 0.8614784181118011,
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

// dynamicTable is DynamicMap as a tensor (built once).
var (
	dynamicTableOnce sync.Once
	dynamicTable     *ts.Tensor
	dynamicTableErr  error
)

func dynamicMapTensor() (*ts.Tensor, error) {
	dynamicTableOnce.Do(func() {
		code, err := DynamicMap()
		if err != nil {
			dynamicTableErr = err
			return
		}
		dynamicTable, dynamicTableErr = ts.OfSlice(code[:])
	})
	return dynamicTable, dynamicTableErr
}

func scalar(v float64) *ts.Scalar { return ts.FloatScalar(v) }

// blockQuantize quantises x [blocks, size] as bitsandbytes' blockwise kernels do: each row
// is scaled by the reciprocal of its absmax (x · (1/absmax), as kQuantizeBlockwise computes)
// and mapped to the code whose decision interval holds it (bounds: the ascending thresholds
// between codes). It returns the code indices (int64, [blocks, size]) and the absmaxes
// [blocks, 1]; x is kept.
func blockQuantize(x *ts.Tensor, bounds []float32) (idx, absmax *ts.Tensor, err error) {
	a, err := x.Abs(false)
	if err != nil {
		return nil, nil, err
	}
	if absmax, err = a.Amax([]int64{1}, true, true); err != nil {
		return nil, nil, err
	}
	// An all-zero block: 1/0 would make NaNs (CUDA's then decode as the lowest code times a
	// zero absmax, i.e. zeros); a tiny floor gives code 0.0 and the same zeros.
	safe, err := absmax.ClampMin(scalar(1e-38), false)
	if err != nil {
		absmax.MustDrop()
		return nil, nil, err
	}
	recip, err := safe.Reciprocal(true)
	if err != nil {
		absmax.MustDrop()
		return nil, nil, err
	}
	scaled, err := x.Mul(recip, false)
	recip.MustDrop()
	if err != nil {
		absmax.MustDrop()
		return nil, nil, err
	}
	b, err := ts.OfSlice(bounds)
	if err == nil {
		b, err = toDeviceOf(b, x)
	}
	if err != nil {
		scaled.MustDrop()
		absmax.MustDrop()
		return nil, nil, err
	}
	idx, err = scaled.Bucketize(b, false, false, true)
	b.MustDrop()
	if err != nil {
		absmax.MustDrop()
		return nil, nil, err
	}
	return idx, absmax, nil
}

// QuantizeNF4 quantises w (any float dtype, numel a multiple of 64; not consumed).
func QuantizeNF4(w *ts.Tensor) (*NF4, error) {
	shape := w.MustSize()
	n := int64(w.Numel())
	if n%NF4Block != 0 {
		return nil, fmt.Errorf("nf4: %v has %d elements, not a multiple of %d", shape, n, NF4Block)
	}
	var q *NF4
	var err error
	ts.NoGrad(func() { q, err = quantizeNF4(w, shape, n) })
	return q, err
}

func quantizeNF4(w *ts.Tensor, shape []int64, n int64) (*NF4, error) {
	nb := n / NF4Block
	x, err := w.Detach(false)
	if err != nil {
		return nil, err
	}
	if x, err = x.Totype(gotch.Float, true); err != nil {
		return nil, err
	}
	if x, err = x.Reshape([]int64{nb, NF4Block}, true); err != nil {
		return nil, err
	}
	idx, absmax, err := blockQuantize(x, nf4Thresholds)
	x.MustDrop()
	if err != nil {
		return nil, err
	}
	codes, err := packNibbles(idx, n)
	idx.MustDrop()
	if err != nil {
		absmax.MustDrop()
		return nil, err
	}
	q := &NF4{Shape: shape, Codes: codes, blocks: nb}
	err = q.doubleQuantize(absmax)
	absmax.MustDrop()
	if err != nil {
		q.Drop()
		return nil, err
	}
	return q, nil
}

// packNibbles packs code indices [n] (int64, 0..15) two to a byte, the first in the high nibble.
func packNibbles(idx *ts.Tensor, n int64) (*ts.Tensor, error) {
	pairs, err := idx.View([]int64{n / 2, 2}, false)
	if err != nil {
		return nil, err
	}
	defer pairs.MustDrop()
	hi, err := pairs.Select(1, 0, false)
	if err != nil {
		return nil, err
	}
	if hi, err = hi.MulScalar(ts.IntScalar(16), true); err != nil {
		return nil, err
	}
	lo, err := pairs.Select(1, 1, false)
	if err != nil {
		hi.MustDrop()
		return nil, err
	}
	both, err := hi.Add(lo, true)
	lo.MustDrop()
	if err != nil {
		return nil, err
	}
	return both.Totype(gotch.Uint8, true)
}

// doubleQuantize stores the absmaxes [nb, 1] as quantize_4bit(compress_statistics=True)
// does: offset = mean(absmax), then quantize_blockwise(absmax − offset, blocksize=256) with
// the dynamic map. The last block of 256 may be partial; zero padding leaves its absmax
// (the largest |absmax − offset| of the block's real entries) as bitsandbytes computes it.
func (q *NF4) doubleQuantize(absmax *ts.Tensor) error {
	nb := q.blocks
	a, err := absmax.View([]int64{nb}, false)
	if err != nil {
		return err
	}
	defer a.MustDrop()
	meanT, err := a.Mean(gotch.Float, false)
	if err != nil {
		return err
	}
	q.Mean = float32(meanT.Float64Values()[0])
	meanT.MustDrop()
	c, err := a.SubScalar(scalar(float64(q.Mean)), false)
	if err != nil {
		return err
	}
	n2 := (nb + NF4Block2 - 1) / NF4Block2
	if pad := n2*NF4Block2 - nb; pad > 0 {
		dev, err := deviceOf(c)
		if err != nil {
			c.MustDrop()
			return err
		}
		z, err := ts.Zeros([]int64{pad}, gotch.Float, dev)
		if err != nil {
			c.MustDrop()
			return err
		}
		c2, err := ts.Cat([]*ts.Tensor{c, z}, 0)
		c.MustDrop()
		z.MustDrop()
		if err != nil {
			return err
		}
		c = c2
	}
	if c, err = c.View([]int64{n2, NF4Block2}, true); err != nil {
		return err
	}
	code, err := DynamicMap()
	if err != nil {
		c.MustDrop()
		return err
	}
	idx, scale, err := blockQuantize(c, dynamicMidpoints(code))
	c.MustDrop()
	if err != nil {
		return err
	}
	if q.QAbs, err = idx.Totype(gotch.Uint8, true); err != nil {
		scale.MustDrop()
		return err
	}
	if q.QAbs, err = q.QAbs.View([]int64{n2 * NF4Block2}, true); err != nil {
		scale.MustDrop()
		return err
	}
	q.Scale, err = scale.View([]int64{n2}, true)
	return err
}

// Absmax returns the dequantised per-block absmaxes [blocks] float32:
// DynamicMap[QAbs]·Scale + Mean, in that order and in float32 (dequantize_blockwise, then
// "absmax += offset" in dequantize_4bit).
func (q *NF4) Absmax() *ts.Tensor {
	table, err := dynamicMapTensor()
	if err != nil {
		panic(fmt.Errorf("nf4: %w", err)) // the dynamic map is built once, before any weight is quantised
	}
	if table, err = tableOn(dynamicTableID, table, q.QAbs); err != nil {
		panic(fmt.Errorf("nf4: dynamic map on the weight's device: %w", err))
	}
	n2 := q.Scale.MustSize()[0]
	idx := q.QAbs.MustTotype(gotch.Int, false)
	f := table.MustIndexSelect(0, idx, false).MustView([]int64{n2, NF4Block2}, true)
	idx.MustDrop()
	s := q.Scale.MustView([]int64{n2, 1}, false)
	a := f.MustMul(s, true).MustAddScalar(scalar(float64(q.Mean)), true)
	s.MustDrop()
	return a.MustView([]int64{n2 * NF4Block2}, true).MustNarrow(0, 0, q.blocks, true).MustContiguous(true)
}

// Dequantize returns the float32 weight in its original shape (the caller drops it).
func (q *NF4) Dequantize() *ts.Tensor {
	var out *ts.Tensor
	ts.NoGrad(func() {
		idx := q.Codes.MustTotype(gotch.Int, false) // int32 indices: half the bytes of int64
		pairs, err := tableOn(pairTableID, nf4PairTable(), q.Codes)
		if err != nil {
			panic(fmt.Errorf("nf4: code table on the weight's device: %w", err))
		}
		vals := pairs.MustIndexSelect(0, idx, false).MustView([]int64{q.blocks, NF4Block}, true)
		idx.MustDrop()
		a := q.Absmax().MustView([]int64{q.blocks, 1}, true)
		out = vals.MustMul(a, true).MustView(q.Shape, true)
		a.MustDrop()
	})
	return out
}
