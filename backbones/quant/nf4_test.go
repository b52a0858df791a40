package quant

import (
	"encoding/json"
	"math"
	"testing"

	"github.com/sugarme/gotch"
	"github.com/sugarme/gotch/ts"

	"github.com/ptbench/ptbench/core"
	"github.com/ptbench/ptbench/core/coretest"
	"github.com/ptbench/ptbench/internal/testfix"
)

// The dynamic map has create_dynamic_map's shape: 256 ascending values, 0 at index 127 and 1
// at 255, symmetric around 0 below 255, and per decade i = 0..6 exactly 2^i positive values in
// (0.1·10^(i−6), 10^(i−6)); anchors: the one value of decade 0 is 10⁻⁶ times the float32 mean
// of 0.1 and 1, the largest below 1 is the mean of linspace(0.1, 1, 65)'s last two points.
func TestDynamicMapIsBitsandbytes(t *testing.T) {
	coretest.LockThread(t)
	code, err := DynamicMap()
	if err != nil {
		t.Fatal(err)
	}
	if code[127] != 0 || code[255] != 1 {
		t.Fatalf("code[127] = %v, code[255] = %v; want 0 and 1", code[127], code[255])
	}
	for i := 1; i < 256; i++ {
		if !(code[i] > code[i-1]) {
			t.Fatalf("not ascending at %d: %v, %v", i, code[i-1], code[i])
		}
	}
	for i := 0; i < 127; i++ {
		if code[i] != -code[254-i] {
			t.Fatalf("code[%d] = %v, −code[%d] = %v", i, code[i], 254-i, -code[254-i])
		}
	}
	next := 128
	for i := 0; i < 7; i++ {
		lo, hi := 0.1*decades[i], decades[i]
		for k := 0; k < 1<<i; k++ {
			if v := float64(code[next]); !(v > lo && v < hi) {
				t.Fatalf("decade %d value %d = %g outside (%g, %g)", i, k, v, lo, hi)
			}
			next++
		}
	}
	if next != 255 {
		t.Fatalf("%d positive values below 1, want 127", next-128)
	}
	var tenth, one float32 = 0.1, 1
	if want := float32(1e-6) * ((tenth + one) / 2); code[128] != want {
		t.Errorf("smallest positive %v, want %v", code[128], want)
	}
	// Every value as PyTorch computes bitsandbytes' create_dynamic_map (a float32 product of
	// the decade and the midpoint; see the fixture's README).
	var pinned struct{ Values []float64 }
	if err := json.Unmarshal(testfix.Read(t, "fixtures/quant/dynamic-map-signed.json"), &pinned); err != nil {
		t.Fatal(err)
	}
	if len(pinned.Values) != 256 {
		t.Fatalf("fixture has %d values", len(pinned.Values))
	}
	for i, v := range pinned.Values {
		if code[i] != float32(v) {
			t.Errorf("map[%d] = %.10g, bitsandbytes' %.10g", i, code[i], v)
		}
	}
	if math.Abs(float64(code[254])-0.99296875) > 1e-7 {
		t.Errorf("largest below 1: %v, want ≈ 0.99296875", code[254])
	}
}

// quantised is a tensor's NF4 form and its values, for the tests below.
func quantised(t *testing.T, w *ts.Tensor) (*NF4, []float32) {
	t.Helper()
	q, err := QuantizeNF4(w)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(q.Drop)
	return q, core.Float32s(w)
}

// The double quantisation is quantize_blockwise(absmax − mean, 256) with the dynamic map:
// the stored bytes index the map, each is the code nearest to (absmax − mean)/scale, scale
// is each 256-block's largest |absmax − mean|, and the dequantised absmax is exactly
// map[index]·scale + mean in float32. 1,000 blocks: three full blocks of 256 and a partial one.
func TestNF4DoubleQuantisationUsesTheDynamicMap(t *testing.T) {
	coretest.LockThread(t)
	ts.ManualSeed(3)
	w := ts.MustRandn([]int64{1000, 64}, gotch.Float, gotch.CPU).MustMulScalar(ts.FloatScalar(0.02), true)
	defer w.MustDrop()
	q, wv := quantised(t, w)
	code, _ := DynamicMap()
	if q.QAbs.DType() != gotch.Uint8 || q.QAbs.Numel() != 1024 || q.Scale.Numel() != 4 {
		t.Fatalf("QAbs %v × %d, Scale × %d; want uint8 × 1024, 4 scales", q.QAbs.DType(), q.QAbs.Numel(), q.Scale.Numel())
	}
	trueAbs := make([]float32, 1000)
	var sum float64
	for b := range trueAbs {
		for _, v := range wv[b*64 : (b+1)*64] {
			trueAbs[b] = max(trueAbs[b], float32(math.Abs(float64(v))))
		}
		sum += float64(trueAbs[b])
	}
	if math.Abs(float64(q.Mean)-sum/1000) > 1e-6*sum/1000 {
		t.Fatalf("offset %v, mean absmax %v", q.Mean, sum/1000)
	}
	idx := core.Float32s(q.QAbs.MustTotype(gotch.Float, false))
	scale := core.Float32s(q.Scale)
	deq := q.Absmax()
	defer deq.MustDrop()
	got := core.Float32s(deq)
	for blk := 0; blk < 4; blk++ {
		var want float32
		for b := blk * 256; b < min(1000, (blk+1)*256); b++ {
			want = max(want, float32(math.Abs(float64(trueAbs[b]-q.Mean))))
		}
		if scale[blk] != want {
			t.Fatalf("256-block %d: scale %v, want its largest |absmax − mean| %v", blk, scale[blk], want)
		}
	}
	for b := 0; b < 1000; b++ {
		k := int(idx[b])
		s := scale[b/256]
		if want := code[k]*s + q.Mean; got[b] != want {
			t.Fatalf("absmax %d: %v, want map[%d]·scale + mean = %v", b, got[b], k, want)
		}
		x := float64((trueAbs[b] - q.Mean) * (1 / s))
		for _, j := range []int{k - 1, k + 1} {
			if j >= 0 && j < 256 && math.Abs(float64(code[j])-x) < math.Abs(float64(code[k])-x) {
				t.Fatalf("absmax %d: normalised %v stored as code %d (%v), code %d (%v) is nearer", b, x, k, code[k], j, code[j])
			}
		}
	}
}

// A weight exactly on a threshold of the CUDA quantiser gets the lower code (x > t is
// strict), one just above it the upper code; the block's absmax (1 here) is code 15.
func TestNF4CodesFollowTheKernelThresholds(t *testing.T) {
	coretest.LockThread(t)
	vals := make([]float32, 64)
	vals[0] = 1
	for i, th := range nf4Thresholds {
		vals[2+2*i] = th
		vals[3+2*i] = math.Nextafter32(th, 2)
	}
	w := ts.MustOfSlice(vals)
	defer w.MustDrop()
	q, _ := quantised(t, w)
	bytes := core.Float32s(q.Codes.MustTotype(gotch.Float, false))
	codeOf := func(i int) int {
		b := int(bytes[i/2])
		if i%2 == 0 {
			return b >> 4
		}
		return b & 15
	}
	if codeOf(0) != 15 || codeOf(1) != 7 {
		t.Fatalf("absmax → code %d, zero → code %d; want 15 and 7", codeOf(0), codeOf(1))
	}
	for i := range nf4Thresholds {
		if lo, hi := codeOf(2+2*i), codeOf(3+2*i); lo != i || hi != i+1 {
			t.Errorf("threshold %d (%v): codes %d and %d just above, want %d and %d", i, nf4Thresholds[i], lo, hi, i, i+1)
		}
	}
}

// Round trip on Gaussian weights: every element within the nearest-code bound (half the
// widest gap between codes, times its block's absmax, plus the absmax's own error); the mean
// absolute error near QLoRA's ≈ 10% of mean |w|.
func TestNF4RoundTripError(t *testing.T) {
	coretest.LockThread(t)
	ts.ManualSeed(7)
	w := ts.MustRandn([]int64{384, 512}, gotch.Float, gotch.CPU).MustMulScalar(ts.FloatScalar(0.02), true)
	defer w.MustDrop()
	q, wv := quantised(t, w)
	deq := q.Dequantize()
	defer deq.MustDrop()
	dv := core.Float32s(deq)
	aq := q.Absmax()
	av := core.Float32s(aq)
	aq.MustDrop()
	maxHalfGap := 0.0
	for i := 0; i < 15; i++ {
		maxHalfGap = math.Max(maxHalfGap, float64(NF4Code[i+1]-NF4Code[i])/2)
	}
	var sumErr, sumAbs float64
	for b := 0; b < len(wv)/NF4Block; b++ {
		trueAbs := 0.0
		for _, v := range wv[b*NF4Block : (b+1)*NF4Block] {
			trueAbs = math.Max(trueAbs, math.Abs(float64(v)))
		}
		for i := b * NF4Block; i < (b+1)*NF4Block; i++ {
			e := math.Abs(float64(wv[i] - dv[i]))
			if bound := trueAbs*maxHalfGap + math.Abs(float64(av[b])-trueAbs) + 1e-7; e > bound {
				t.Fatalf("element %d: error %g > bound %g", i, e, bound)
			}
			sumErr += e
			sumAbs += math.Abs(float64(wv[i]))
		}
	}
	rel := sumErr / sumAbs
	t.Logf("mean |Δw| / mean |w| = %.4f; %d bytes (%.3f bits/weight)", rel, q.Bytes(), 8*float64(q.Bytes())/float64(len(wv)))
	if rel > 0.12 || rel < 0.05 {
		t.Fatalf("mean relative error %.3f outside [0.05, 0.12]", rel)
	}
}
