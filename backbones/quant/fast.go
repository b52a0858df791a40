package quant

import (
	"fmt"
	"math"
	"runtime"
	"sync"
	"unsafe"

	"github.com/sugarme/gotch"
	"github.com/sugarme/gotch/ts"
)

// DequantizeAs is Dequantize written straight into a fresh tensor of dtype (Float or
// BFloat16) by Go code, for weights on the CPU; elsewhere it is Dequantize (then a cast).
//
// Why: the libtorch path gathers every byte's code pair through index_select into a float32
// tensor and multiplies it by the broadcast absmaxes: three full-size passes and ≈5.5 ns a
// weight, most of an NF4 training step. Here each 64-block builds its 16 products code·absmax
// once and every packed byte picks two of them, one pass over the output, goroutines over
// blocks. The float32 values are Dequantize's to the bit (the same float32 products:
// absmax = map[QAbs]·Scale + Mean, then code·absmax); BFloat16 is the float32 value rounded to
// nearest-even, as libtorch's float→bfloat16 cast rounds, without the float32 intermediate.
func (q *NF4) DequantizeAs(dtype gotch.DType) (*ts.Tensor, error) {
	if dtype != gotch.Float && dtype != gotch.BFloat16 {
		return nil, fmt.Errorf("nf4: dequantise to %v (Float or BFloat16 only)", dtype)
	}
	dev, err := q.Codes.Device()
	if err != nil {
		return nil, err
	}
	if dev.CInt() != gotch.CPU.CInt() { // compared as CInt: gotch reports the CPU as {CPU, 1}
		return q.dequantizeTorch(dtype)
	}
	codes, err := bytesOf(q.Codes)
	if err != nil {
		return nil, err
	}
	qabs, err := bytesOf(q.QAbs)
	if err != nil {
		return nil, err
	}
	scales, err := float32sOf(q.Scale)
	if err != nil {
		return nil, err
	}
	if int64(len(codes))*2 != q.blocks*NF4Block || int64(len(qabs)) < q.blocks || int64(len(scales))*NF4Block2 < q.blocks {
		return nil, fmt.Errorf("nf4: %d code bytes, %d absmax codes, %d scales for %d blocks", len(codes), len(qabs), len(scales), q.blocks)
	}
	dmap, err := DynamicMap()
	if err != nil {
		return nil, err
	}
	out, err := ts.Empty(q.Shape, dtype, gotch.CPU)
	if err != nil {
		return nil, err
	}
	p, err := out.DataPtr()
	if err != nil {
		out.MustDrop()
		return nil, err
	}
	n := int(q.blocks) * NF4Block
	d := nf4Job{codes: codes, qabs: qabs, scales: scales, mean: q.Mean, dmap: &dmap}
	if dtype == gotch.Float {
		dst := unsafe.Slice((*float32)(p), n)
		parallelBlocks(int(q.blocks), func(lo, hi int) { d.float32s(dst, lo, hi) })
	} else {
		dst := unsafe.Slice((*uint16)(p), n)
		parallelBlocks(int(q.blocks), func(lo, hi int) { d.bfloat16s(dst, lo, hi) })
	}
	runtime.KeepAlive(q)
	return out, nil
}

// dequantizeTorch is the libtorch path in dtype (devices other than the CPU).
func (q *NF4) dequantizeTorch(dtype gotch.DType) (out *ts.Tensor, err error) {
	defer func() {
		if r := recover(); r != nil {
			out, err = nil, fmt.Errorf("nf4: dequantise: %v", r)
		}
	}()
	out = q.Dequantize()
	if dtype != gotch.Float {
		ts.NoGrad(func() { out, err = out.Totype(dtype, true) })
	}
	return out, err
}

// The kernels below store two or four values per 8-byte write, in little-endian order (the
// first weight in the low bits, at the lower address): the byte order of every platform
// libtorch and gotch build for (amd64, arm64).

// nf4Job is one weight's packed data, read in place from its tensors.
type nf4Job struct {
	codes, qabs []byte
	scales      []float32
	mean        float32
	dmap        *[256]float32
}

// absmax is block b's dequantised absmax: map[QAbs]·Scale + Mean, each step rounded to
// float32 (the explicit conversion keeps the compiler from fusing them), as Absmax computes.
func (d *nf4Job) absmax(b int) float32 {
	return float32(d.dmap[d.qabs[b]]*d.scales[b/NF4Block2]) + d.mean
}

// float32s fills dst's blocks lo..hi−1: each code byte becomes one 8-byte store of its two
// values (first in the low half: little-endian order, the first weight at the lower address).
func (d *nf4Job) float32s(dst []float32, lo, hi int) {
	var lut [16]uint64
	for b := lo; b < hi; b++ {
		a := d.absmax(b)
		for i := range lut {
			lut[i] = uint64(math.Float32bits(NF4Code[i] * a))
		}
		src := (*[NF4Block / 2]byte)(d.codes[b*NF4Block/2:])
		out := (*[NF4Block / 2]uint64)(unsafe.Pointer(&dst[b*NF4Block]))
		for j, c := range src {
			out[j] = lut[c>>4] | lut[c&15]<<32
		}
	}
}

// bfloat16s fills dst's blocks lo..hi−1 with the bfloat16 bits of the float32 values: every
// two code bytes become one 8-byte store of their four values.
func (d *nf4Job) bfloat16s(dst []uint16, lo, hi int) {
	var lut [16]uint64
	for b := lo; b < hi; b++ {
		a := d.absmax(b)
		for i := range lut {
			lut[i] = uint64(BFloat16Bits(NF4Code[i] * a))
		}
		src := (*[NF4Block / 2]byte)(d.codes[b*NF4Block/2:])
		out := (*[NF4Block / 4]uint64)(unsafe.Pointer(&dst[b*NF4Block]))
		for j := range out {
			c0, c1 := src[2*j], src[2*j+1]
			out[j] = lut[c0>>4] | lut[c0&15]<<16 | lut[c1>>4]<<32 | lut[c1&15]<<48
		}
	}
}

// BFloat16Bits rounds f to bfloat16 as c10::BFloat16 does (round_to_nearest_even: add
// 0x7FFF plus the lowest kept bit, keep the top 16 bits; NaN becomes 0x7FC0).
func BFloat16Bits(f float32) uint16 {
	if f != f {
		return 0x7FC0
	}
	u := math.Float32bits(f)
	return uint16((u + 0x7FFF + (u>>16)&1) >> 16)
}

// parallelBlocks runs f over [0, n) in contiguous chunks, one goroutine per CPU (at least
// 4,096 blocks, 256 Ki weights, each: smaller weights are not worth a goroutine).
func parallelBlocks(n int, f func(lo, hi int)) {
	workers := min(runtime.NumCPU(), (n+4095)/4096)
	if workers <= 1 {
		f(0, n)
		return
	}
	var wg sync.WaitGroup
	chunk := (n + workers - 1) / workers
	for lo := 0; lo < n; lo += chunk {
		hi := min(n, lo+chunk)
		wg.Add(1)
		go func() {
			defer wg.Done()
			f(lo, hi)
		}()
	}
	wg.Wait()
}

// bytesOf is t's contiguous uint8 data in place (t must outlive the slice).
func bytesOf(t *ts.Tensor) ([]byte, error) {
	p, n, err := dataOf(t, gotch.Uint8)
	if err != nil || n == 0 {
		return nil, err
	}
	return unsafe.Slice((*byte)(p), n), nil
}

// float32sOf is t's contiguous float32 data in place (t must outlive the slice).
func float32sOf(t *ts.Tensor) ([]float32, error) {
	p, n, err := dataOf(t, gotch.Float)
	if err != nil || n == 0 {
		return nil, err
	}
	return unsafe.Slice((*float32)(p), n), nil
}

func dataOf(t *ts.Tensor, dtype gotch.DType) (unsafe.Pointer, int, error) {
	if t.DType() != dtype {
		return nil, 0, fmt.Errorf("nf4: tensor is %v, want %v", t.DType(), dtype)
	}
	ok, err := t.IsContiguous()
	if err != nil {
		return nil, 0, err
	}
	if !ok {
		return nil, 0, fmt.Errorf("nf4: packed tensor is not contiguous")
	}
	n := int(t.Numel())
	if n == 0 {
		return nil, 0, nil
	}
	p, err := t.DataPtr()
	return p, n, err
}
