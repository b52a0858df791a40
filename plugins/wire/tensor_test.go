package wire

import (
	"math"
	"strings"
	"testing"

	methodpb "github.com/ptbench/ptbench/plugins/proto"
)

func TestEncodeDecodeRoundTrip(t *testing.T) {
	vals := []float32{0, -1.5, 3.25, float32(math.Inf(1)), 1e-30, -7}
	shape, got, err := Decode(Encode([]int64{2, 3}, vals, methodpb.DType_DTYPE_F32))
	if err != nil {
		t.Fatal(err)
	}
	if len(shape) != 2 || shape[0] != 2 || shape[1] != 3 {
		t.Fatalf("shape %v", shape)
	}
	for i := range vals {
		if math.Float32bits(got[i]) != math.Float32bits(vals[i]) {
			t.Fatalf("value %d: %v, want %v", i, got[i], vals[i])
		}
	}
	// Little-endian on the wire whatever the machine.
	if b := Encode([]int64{1}, []float32{1}, methodpb.DType_DTYPE_F32).Data; b[3] != 0x3f || b[2] != 0x80 || b[0] != 0 {
		t.Fatalf("1.0 encodes as % x, want 00 00 80 3f", b)
	}
}

func TestDecodeRejectsMalformed(t *testing.T) {
	for _, c := range []struct {
		t    *methodpb.Tensor
		want string
	}{
		{nil, "missing"},
		{&methodpb.Tensor{Shape: []int64{2, 2}, Data: make([]byte, 12)}, "needs 16 bytes"},
		{&methodpb.Tensor{Shape: []int64{-1}, Data: nil}, "negative"},
		{&methodpb.Tensor{Shape: []int64{1}, Dtype: 7, Data: make([]byte, 4)}, "unknown tensor dtype"},
		// Shapes whose element count overflows must not wrap around to the data's length.
		{&methodpb.Tensor{Shape: []int64{1 << 62, 4}, Data: nil}, "too many elements"},
		{&methodpb.Tensor{Shape: []int64{1 << 62, 4}, Dtype: methodpb.DType_DTYPE_BF16, Data: nil}, "too many elements"},
		{&methodpb.Tensor{Shape: []int64{1 << 32, 1 << 32}, Data: nil}, "too many elements"},
		{&methodpb.Tensor{Shape: []int64{math.MaxInt64, 2, 0}, Data: nil}, ""}, // zero elements: fine
		{&methodpb.Tensor{Shape: []int64{1 << 61}, Data: nil}, "too many elements"},
		{&methodpb.Tensor{Shape: []int64{3, -2, -2}, Data: make([]byte, 48)}, "negative"},
		{&methodpb.Tensor{Shape: make([]int64, MaxDims+1), Data: nil}, "17 dimensions"},
		{&methodpb.Tensor{Shape: []int64{2}, Dtype: methodpb.DType_DTYPE_BF16, Data: make([]byte, 3)}, "needs 4 bytes"},
	} {
		if c.want == "" {
			if _, v, err := Decode(c.t); err != nil || len(v) != 0 {
				t.Errorf("Decode(%v): %d values, %v; want none and no error", c.t, len(v), err)
			}
			continue
		}
		if _, _, err := Decode(c.t); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("Decode(%v): %v, want an error with %q", c.t, err, c.want)
		}
	}
}

// TestBF16RoundsToNearestEven checks the rounding torch uses for float32 → bfloat16.
func TestBF16RoundsToNearestEven(t *testing.T) {
	for _, c := range []struct {
		in   float32
		want uint16
	}{
		{1, 0x3f80},
		{1 + 1.0/256, 0x3f80},        // half-way, even below
		{1 + 3.0/256, 0x3f82},        // half-way, even above
		{1 + 1.0/256 + 1e-7, 0x3f81}, // just past half-way
		{-2, 0xc000},
		{float32(math.Inf(-1)), 0xff80},
	} {
		if got := F32ToBF16(c.in); got != c.want {
			t.Errorf("F32ToBF16(%v) = %#04x, want %#04x", c.in, got, c.want)
		}
	}
	if v := BF16ToF32(F32ToBF16(float32(math.NaN()))); v == v {
		t.Error("NaN did not stay NaN")
	}
	_, got, err := Decode(Encode([]int64{2}, []float32{1.5, -0.125}, methodpb.DType_DTYPE_BF16))
	if err != nil || got[0] != 1.5 || got[1] != -0.125 {
		t.Errorf("bf16 round trip of exact values: %v %v", got, err)
	}
}

func TestFirstNonFinite(t *testing.T) {
	if i := FirstNonFinite([]float32{1, 2, 3}); i != -1 {
		t.Errorf("finite data: %d", i)
	}
	if i := FirstNonFinite([]float32{1, float32(math.Inf(-1)), float32(math.NaN())}); i != 1 {
		t.Errorf("got %d, want 1", i)
	}
}
