package wire

import (
	"encoding/binary"
	"fmt"
	"math"
	"unsafe"

	methodpb "github.com/ptbench/ptbench/plugins/proto"
)

var littleEndian = func() bool {
	x := uint16(1)
	return *(*byte)(unsafe.Pointer(&x)) == 1
}()

// MaxDims is the most dimensions a wire tensor may have.
const MaxDims = 16

// maxBytes bounds a tensor's byte length (so that element count × element size never
// overflows an int).
const maxBytes = math.MaxInt / 8

// Numel is the element count of shape (1 for a scalar), or an error for a negative
// dimension, too many dimensions or a count too large to address.
func Numel(shape []int64) (int, error) {
	if len(shape) > MaxDims {
		return 0, fmt.Errorf("shape has %d dimensions, more than %d", len(shape), MaxDims)
	}
	zero := false
	for _, s := range shape {
		if s < 0 {
			return 0, fmt.Errorf("negative dimension in shape %v", shape)
		}
		zero = zero || s == 0
	}
	if zero {
		return 0, nil
	}
	n := int64(1)
	for _, s := range shape {
		if s > maxBytes/n {
			return 0, fmt.Errorf("shape %v has too many elements", shape)
		}
		n *= s
	}
	return int(n), nil
}

// DTypeSize is the number of bytes of one element.
func DTypeSize(dt methodpb.DType) (int, error) {
	switch dt {
	case methodpb.DType_DTYPE_F32:
		return 4, nil
	case methodpb.DType_DTYPE_BF16:
		return 2, nil
	}
	return 0, fmt.Errorf("unknown tensor dtype %v", dt)
}

// Encode copies float32 values into a wire tensor of dtype dt (bfloat16 rounds to nearest even).
func Encode(shape []int64, data []float32, dt methodpb.DType) *methodpb.Tensor {
	t := &methodpb.Tensor{Shape: append([]int64(nil), shape...), Dtype: dt}
	switch dt {
	case methodpb.DType_DTYPE_BF16:
		b := make([]byte, 2*len(data))
		for i, v := range data {
			binary.LittleEndian.PutUint16(b[2*i:], F32ToBF16(v))
		}
		t.Data = b
	default:
		t.Dtype = methodpb.DType_DTYPE_F32
		t.Data = F32Bytes(data)
	}
	return t
}

// Decode checks a wire tensor (known dtype, byte length matching its shape) and returns its
// shape and values as float32.
func Decode(t *methodpb.Tensor) ([]int64, []float32, error) {
	if t == nil {
		return nil, nil, fmt.Errorf("tensor missing")
	}
	n, err := Numel(t.Shape)
	if err != nil {
		return nil, nil, err
	}
	size, err := DTypeSize(t.Dtype)
	if err != nil {
		return nil, nil, err
	}
	if len(t.Data) != n*size { // n ≤ maxBytes: no overflow
		return nil, nil, fmt.Errorf("shape %v needs %d bytes of %s, got %d", t.Shape, n*size, t.Dtype, len(t.Data))
	}
	if t.Dtype == methodpb.DType_DTYPE_BF16 {
		out := make([]float32, n)
		for i := range out {
			out[i] = BF16ToF32(binary.LittleEndian.Uint16(t.Data[2*i:]))
		}
		return t.Shape, out, nil
	}
	return t.Shape, BytesF32(t.Data), nil
}

// F32Bytes copies float32 values into little-endian bytes.
func F32Bytes(data []float32) []byte {
	b := make([]byte, 4*len(data))
	if len(data) == 0 {
		return b
	}
	if littleEndian {
		copy(b, unsafe.Slice((*byte)(unsafe.Pointer(&data[0])), len(b)))
		return b
	}
	for i, v := range data {
		binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(v))
	}
	return b
}

// BytesF32 copies little-endian bytes (len a multiple of 4) into float32 values.
func BytesF32(b []byte) []float32 {
	out := make([]float32, len(b)/4)
	if len(out) == 0 {
		return out
	}
	if littleEndian {
		copy(unsafe.Slice((*byte)(unsafe.Pointer(&out[0])), 4*len(out)), b)
		return out
	}
	for i := range out {
		out[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))
	}
	return out
}

// F32ToBF16 rounds a float32 to bfloat16 (nearest, ties to even; NaN stays NaN), as torch does.
func F32ToBF16(v float32) uint16 {
	u := math.Float32bits(v)
	if v != v {
		return uint16(u>>16) | 0x40
	}
	u += 0x7fff + (u>>16)&1
	return uint16(u >> 16)
}

// BF16ToF32 widens a bfloat16 to float32 (exact).
func BF16ToF32(h uint16) float32 { return math.Float32frombits(uint32(h) << 16) }

// FirstNonFinite returns the index of the first NaN or ±Inf value, or -1.
func FirstNonFinite(data []float32) int {
	for i, v := range data {
		if v != v || v > math.MaxFloat32 || v < -math.MaxFloat32 {
			return i
		}
	}
	return -1
}
