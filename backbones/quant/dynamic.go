package quant

import (
	"fmt"
	"slices"
	"sync"

	"github.com/sugarme/gotch"
	"github.com/sugarme/gotch/ts"
)

// DynamicMap returns bitsandbytes' signed dynamic 8-bit data type, create_dynamic_map(
// signed=True, max_exponent_bits=7, total_bits=8) in bitsandbytes/functional.py: the 256 code
// values quantize_blockwise uses when no code is given — and so the code of QLoRA's double
// quantisation, which quantises the NF4 absmaxes with quantize_blockwise's default.
//
// For each decade i = 0..6 the map holds the 2^i midpoints of float32 torch.linspace(0.1, 1,
// 2^i + 1), times 10^(i−6), with both signs; then 0 and 1. Sorted, the map runs from
// −0.99296875 (index 0) through 0 (index 127) to 0.99296875 (index 254) and 1 (index 255): the
// values are dense near zero (5.5·10⁻⁷ is the smallest step), so an absmax close to the mean
// of its tensor keeps most of its digits.
//
// The arithmetic is the reference's: the linspace is libtorch's own float32 CPU kernel (its
// last bit depends on the kernel's vectorisation, so it is computed, not re-derived), the
// midpoints are float32 sums halved, and the scale by 10^(i−6) is a float32 product — the
// reference multiplies the float32 midpoints by a Python number, which torch applies in the
// tensor's float32 (a float64 product rounded once differs in the last bit of 28 values).
// testdata/fixtures/quant pins the 256 values. The map is built once, on first use.
func DynamicMap() ([256]float32, error) {
	dynamicOnce.Do(func() { dynamicValues, dynamicErr = buildDynamicMap() })
	return dynamicValues, dynamicErr
}

var (
	dynamicOnce   sync.Once
	dynamicValues [256]float32
	dynamicErr    error
)

// decades are Python's 10 ** (i − 6) for i = 0..6 (literals: correctly rounded, as
// Python's are).
var decades = [7]float64{1e-6, 1e-5, 1e-4, 1e-3, 1e-2, 1e-1, 1}

func buildDynamicMap() ([256]float32, error) {
	const maxExponentBits, nonSignBits = 7, 7
	var out [256]float32
	var data []float64
	for i := 0; i < maxExponentBits; i++ {
		items := 1<<(i+nonSignBits-maxExponentBits) + 1 // fraction_items, signed
		bounds, err := torchLinspace(0.1, 1, int64(items))
		if err != nil {
			return out, fmt.Errorf("dynamic map: %w", err)
		}
		for k := 0; k+1 < len(bounds); k++ {
			mean := (bounds[k] + bounds[k+1]) / 2 // float32 arithmetic, as torch's
			v := float64(float32(float32(decades[i]) * mean)) // float32 tensor × Python scalar
			data = append(data, v, -v)
		}
	}
	// additional_items = 2^(nonSignBits − maxExponentBits) − 1 = 0: none.
	data = append(data, 0, 1)
	if len(data) != 256 {
		return out, fmt.Errorf("dynamic map: %d values, want 256", len(data))
	}
	slices.Sort(data)
	for i, v := range data {
		out[i] = float32(v)
	}
	return out, nil
}

// torchLinspace is torch.linspace(start, end, steps, dtype=torch.float32) on the CPU.
func torchLinspace(start, end float64, steps int64) ([]float32, error) {
	t, err := ts.Linspace(ts.FloatScalar(start), ts.FloatScalar(end), steps, gotch.Float, gotch.CPU)
	if err != nil {
		return nil, err
	}
	defer t.MustDrop()
	v := t.Float64Values()
	out := make([]float32, len(v))
	for i, x := range v {
		out[i] = float32(x) // exact: the values are float32
	}
	return out, nil
}

// dynamicMidpoints are the 255 decision boundaries between neighbouring dynamic-map values:
// a value maps to the nearest code, as bitsandbytes' quantize_blockwise kernels do
// (backends/default/ops.py bucketizes on these midpoints; the CUDA kernel's dQuantize
// searches for the nearest code).
func dynamicMidpoints(code [256]float32) []float32 {
	out := make([]float32, 255)
	for i := range out {
		out[i] = (code[i] + code[i+1]) / 2
	}
	return out
}
