package llama

import (
	"fmt"
	"runtime"
	"testing"

	"github.com/sugarme/gotch"
	"github.com/sugarme/gotch/ts"
)

// The floor of an NF4 training step is its matmuls at this machine's bfloat16 GEMM rate plus
// its dequantised bytes at its memory bandwidth; these two benchmarks measure both (README,
// Llama-2 NF4). Not tests: they assert nothing, they only time.

// BenchmarkFloorGEMM is the bfloat16 GFLOP/s of Llama-2-7B's linear shapes as the model runs
// them: the forward x Wᵀ (W [out, in] transposed, as Model.linear) and the backward's input
// gradient g W, for M rows (64; 126 = DePT's 60 prompt + 64 source + 2 target tokens).
func BenchmarkFloorGEMM(b *testing.B) {
	lockThreadB(b)
	for _, M := range []int64{64, 126} {
		for _, s := range [][2]int64{{4096, 4096}, {11008, 4096}, {4096, 11008}} {
			out, in := s[0], s[1]
			w := ts.MustRandn([]int64{out, in}, gotch.BFloat16, gotch.CPU)
			x := ts.MustRandn([]int64{M, in}, gotch.BFloat16, gotch.CPU)
			g := ts.MustRandn([]int64{M, out}, gotch.BFloat16, gotch.CPU)
			flops := float64(2 * M * out * in)
			b.Run(fmt.Sprintf("fwd-%dx%dx%d", M, in, out), func(b *testing.B) {
				for b.Loop() {
					wt := w.MustTranspose(0, 1, false)
					x.MustMatmul(wt, false).MustDrop()
					wt.MustDrop()
				}
				b.ReportMetric(flops*float64(b.N)/float64(b.Elapsed().Nanoseconds()), "GFLOP/s")
			})
			b.Run(fmt.Sprintf("bwd-%dx%dx%d", M, out, in), func(b *testing.B) {
				for b.Loop() {
					g.MustMatmul(w, false).MustDrop()
				}
				b.ReportMetric(flops*float64(b.N)/float64(b.Elapsed().Nanoseconds()), "GFLOP/s")
			})
			w.MustDrop()
			x.MustDrop()
			g.MustDrop()
		}
	}
}

// BenchmarkFloorCopy is the memory bandwidth of copying a 1 GiB bfloat16 tensor into a
// fresh one (bytes read plus bytes written per second), as a dequantisation writes its
// weight and the matmul reads it.
func BenchmarkFloorCopy(b *testing.B) {
	lockThreadB(b)
	const n = 1 << 29 // bfloat16 elements: 1 GiB
	src := ts.MustOnes([]int64{n}, gotch.BFloat16, gotch.CPU)
	defer src.MustDrop()
	dst := ts.MustZeros([]int64{n}, gotch.BFloat16, gotch.CPU)
	defer dst.MustDrop()
	for b.Loop() {
		dst.Copy_(src)
	}
	b.ReportMetric(2*2*float64(n)*float64(b.N)/float64(b.Elapsed().Nanoseconds()), "GB/s")
}

// lockThreadB pins a benchmark to one OS thread (libtorch's grad mode is per thread).
func lockThreadB(b *testing.B) {
	runtime.LockOSThread()
	b.Cleanup(runtime.UnlockOSThread)
}
