package quant

import (
	"fmt"
	"math"
	"testing"

	"github.com/sugarme/gotch"
	"github.com/sugarme/gotch/ts"

	"github.com/ptbench/ptbench/core/coretest"
)

// bitsOf reads a float32 or bfloat16 tensor's raw bits (bfloat16 widened to float32 bits:
// exact, bfloat16 is float32's top half).
func bitsOf(t *testing.T, x *ts.Tensor) []uint32 {
	t.Helper()
	f := x
	if x.DType() != gotch.Float {
		f = x.MustTotype(gotch.Float, false)
		defer f.MustDrop()
	}
	vals := make([]float32, f.Numel())
	f.MustCopyData(vals, uint(len(vals)))
	out := make([]uint32, len(vals))
	for i, v := range vals {
		out[i] = math.Float32bits(v)
	}
	return out
}

// The Go dequantisation is the libtorch one to the bit in float32, and in bfloat16 it is
// libtorch's .to(bfloat16) of that float32 weight. Shapes: one block, a partial last
// 256-block of absmaxes (1,000 and 4,100 blocks), a block count over the goroutine split
// threshold, a 3-d weight; scales from tiny to large, so that the rounding to bfloat16 is
// exercised in every binade a weight can reach.
func TestDequantizeAsIsDequantizeBitForBit(t *testing.T) {
	coretest.LockThread(t)
	cases := []struct {
		shape []int64
		scale float64
	}{
		{[]int64{1, 64}, 0.02},
		{[]int64{1000, 64}, 0.02},
		{[]int64{320, 820}, 1},
		{[]int64{9000, 64}, 3e-4},
		{[]int64{3, 64, 128}, 50},
	}
	for i, c := range cases {
		t.Run(fmt.Sprint(c.shape), func(t *testing.T) {
			coretest.LockThread(t)
			ts.ManualSeed(int64(20 + i))
			w := ts.MustRandn(c.shape, gotch.Float, gotch.CPU).MustMulScalar(ts.FloatScalar(c.scale), true)
			defer w.MustDrop()
			q, _ := quantised(t, w)
			ref := q.Dequantize()
			defer ref.MustDrop()
			ref16 := ref.MustTotype(gotch.BFloat16, false)
			defer ref16.MustDrop()
			for _, want := range []*ts.Tensor{ref, ref16} {
				got, err := q.DequantizeAs(want.DType())
				if err != nil {
					t.Fatal(err)
				}
				if got.DType() != want.DType() || fmt.Sprint(got.MustSize()) != fmt.Sprint(c.shape) {
					t.Fatalf("%v %v, want %v %v", got.DType(), got.MustSize(), want.DType(), c.shape)
				}
				a, b := bitsOf(t, got), bitsOf(t, want)
				got.MustDrop()
				nz := 0
				for k := range a {
					if a[k] != b[k] {
						t.Fatalf("%v element %d: bits %08x, libtorch %08x", want.DType(), k, a[k], b[k])
					}
					if a[k] != 0 {
						nz++
					}
				}
				if nz < len(a)/2 {
					t.Fatalf("%v: only %d of %d weights nonzero", want.DType(), nz, len(a))
				}
			}
		})
	}
}

// BFloat16Bits rounds as c10::BFloat16: ties to even, carries into the exponent, NaN.
func TestBFloat16Bits(t *testing.T) {
	cases := []struct {
		in   uint32
		want uint16
	}{
		{0x3F800000, 0x3F80}, // 1
		{0x3F808000, 0x3F80}, // tie, even stays
		{0x3F818000, 0x3F82}, // tie, odd rounds up
		{0x3F808001, 0x3F81}, // above the tie
		{0x3F7FFFFF, 0x3F80}, // carry into the exponent
		{0xBF808001, 0xBF81}, // negative
		{0x7F7FFFFF, 0x7F80}, // the largest float32 overflows to +inf
		{0x7FC00001, 0x7FC0}, // NaN
	}
	for _, c := range cases {
		if got := BFloat16Bits(math.Float32frombits(c.in)); got != c.want {
			t.Errorf("%08x → %04x, want %04x", c.in, got, c.want)
		}
	}
}

// BenchmarkDequantize is ns per weight of a 4096×4096 weight (llama2-7b's q_proj): the
// libtorch path, its bfloat16 cast, and the Go path in float32 and bfloat16.
func BenchmarkDequantize(b *testing.B) {
	coretest.LockThread(b)
	ts.ManualSeed(1)
	w := ts.MustRandn([]int64{4096, 4096}, gotch.Float, gotch.CPU).MustMulScalar(ts.FloatScalar(0.02), true)
	q, err := QuantizeNF4(w)
	w.MustDrop()
	if err != nil {
		b.Fatal(err)
	}
	defer q.Drop()
	n := float64(4096 * 4096)
	run := func(name string, f func() *ts.Tensor) {
		b.Run(name, func(b *testing.B) {
			for b.Loop() {
				f().MustDrop()
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/n, "ns/weight")
		})
	}
	run("libtorch-f32", q.Dequantize)
	run("libtorch-bf16", func() *ts.Tensor { return q.Dequantize().MustTotype(gotch.BFloat16, true) })
	for _, dt := range []gotch.DType{gotch.Float, gotch.BFloat16} {
		run("go-"+map[gotch.DType]string{gotch.Float: "f32", gotch.BFloat16: "bf16"}[dt], func() *ts.Tensor {
			out, err := q.DequantizeAs(dt)
			if err != nil {
				b.Fatal(err)
			}
			return out
		})
	}
}
