// Package safetensors reads and writes the safetensors format in pure Go, so that checkpoint
// plumbing (saving prompts, checking a hub checkpoint's names and shapes, converting dtypes)
// needs neither libtorch nor cgo.
//
// A safetensors file is:
//
//	8 bytes   N, the header length, unsigned little-endian
//	N bytes   a JSON object {name: {"dtype", "shape", "data_offsets": [begin, end]}, ...}
//	          with an optional "__metadata__": {string: string}, right-padded with spaces
//	rest      the tensors' bytes, little-endian, row-major; data_offsets are relative to the
//	          start of this section and must tile it exactly
package safetensors

import (
	"encoding/binary"
	"fmt"
	"math"
)

// metadataKey is the reserved header key holding free-form string metadata rather than a tensor.
const metadataKey = "__metadata__"

// FormatKey: FormatPyTorch is the metadata entry transformers and PEFT write into the
// safetensors files they save, and check when loading: tensors in PyTorch's layout. "pt"
// here names that file convention, not ptbench's prompt-tuning method.
const (
	FormatKey     = "format"
	FormatPyTorch = "pt"
)

// maxHeaderSize bounds the header length field, as the reference implementation does, so a
// corrupt or hostile length cannot make us allocate gigabytes before failing.
const maxHeaderSize = 100 << 20

// dtypeSizes maps every dtype tag this package accepts to its element size in bytes. Sub-byte
// dtypes of newer safetensors versions (F4, F6_*) are left out: their tensors cannot be sliced
// per element and nothing here needs them.
var dtypeSizes = map[string]int{
	"BOOL":    1,
	"U8":      1,
	"I8":      1,
	"F8_E5M2": 1,
	"F8_E4M3": 1,
	"F8_E8M0": 1,
	"I16":     2,
	"U16":     2,
	"F16":     2,
	"BF16":    2,
	"I32":     4,
	"U32":     4,
	"F32":     4,
	"F64":     8,
	"I64":     8,
	"U64":     8,
	"C64":     8,
}

// DTypeSize returns the element size in bytes of a safetensors dtype tag such as "F32", and
// false for tags this package does not know.
func DTypeSize(dtype string) (int, bool) {
	size, ok := dtypeSizes[dtype]
	return size, ok
}

// Tensor is one named tensor: its dtype tag, its shape, and its raw little-endian row-major
// bytes. Tensors returned by Read share one buffer holding the whole file, so Data must be
// treated as read-only.
type Tensor struct {
	Name  string
	DType string // safetensors tag: "F32", "BF16", "F16", "F64", "I64", "I32", "U8", "BOOL", ...
	Shape []int64
	Data  []byte
}

// Numel is the number of elements: the product of the shape, 1 for a scalar (empty shape).
func (t *Tensor) Numel() int64 {
	n, _ := numel(t.Shape)
	return n
}

// numel multiplies the dims, refusing negative dims and products that overflow int64, since
// both come straight from untrusted headers.
func numel(shape []int64) (int64, error) {
	n := int64(1)
	for _, dim := range shape {
		if dim < 0 {
			return 0, fmt.Errorf("negative dimension %d in shape %v", dim, shape)
		}
		if dim != 0 && n > math.MaxInt64/dim {
			return 0, fmt.Errorf("shape %v has more elements than fit in int64", shape)
		}
		n *= dim
	}
	return n, nil
}

// byteSize is numel × element size with overflow checks, for validating data_offsets.
func byteSize(dtype string, shape []int64) (int64, error) {
	size, ok := dtypeSizes[dtype]
	if !ok {
		return 0, fmt.Errorf("unknown dtype %q", dtype)
	}
	n, err := numel(shape)
	if err != nil {
		return 0, err
	}
	if n > math.MaxInt64/int64(size) {
		return 0, fmt.Errorf("shape %v of %s is larger than fits in int64 bytes", shape, dtype)
	}
	return n * int64(size), nil
}

// checkSize reports whether Data holds exactly numel × element size bytes; every conversion
// calls it so a hand-built Tensor with a wrong Data length fails loudly instead of panicking.
func (t *Tensor) checkSize() error {
	want, err := byteSize(t.DType, t.Shape)
	if err != nil {
		return fmt.Errorf("safetensors: tensor %q: %w", t.Name, err)
	}
	if int64(len(t.Data)) != want {
		return fmt.Errorf("safetensors: tensor %q: %s %v needs %d bytes, has %d",
			t.Name, t.DType, t.Shape, want, len(t.Data))
	}
	return nil
}

// Float32s decodes the data as float32. F32 is copied; BF16 and F16 are widened exactly (every
// value of both is representable in float32); F64 is rounded to nearest. Other dtypes are an
// error rather than a silent reinterpretation.
func (t *Tensor) Float32s() ([]float32, error) {
	if err := t.checkSize(); err != nil {
		return nil, err
	}
	n := t.Numel()
	out := make([]float32, n)
	switch t.DType {
	case "F32":
		for i := range out {
			out[i] = math.Float32frombits(binary.LittleEndian.Uint32(t.Data[4*i:]))
		}
	case "BF16":
		for i := range out {
			out[i] = BFloat16ToFloat32(binary.LittleEndian.Uint16(t.Data[2*i:]))
		}
	case "F16":
		for i := range out {
			out[i] = Float16ToFloat32(binary.LittleEndian.Uint16(t.Data[2*i:]))
		}
	case "F64":
		for i := range out {
			out[i] = float32(math.Float64frombits(binary.LittleEndian.Uint64(t.Data[8*i:])))
		}
	default:
		return nil, fmt.Errorf("safetensors: tensor %q: cannot read %s as float32 (want F32, BF16, F16 or F64)", t.Name, t.DType)
	}
	return out, nil
}

// Float64s decodes the data as float64: F64 is copied, F32/BF16/F16 are widened exactly. It
// exists for reference values stored in double precision (losses, optimizer traces).
func (t *Tensor) Float64s() ([]float64, error) {
	if t.DType == "F64" {
		if err := t.checkSize(); err != nil {
			return nil, err
		}
		out := make([]float64, t.Numel())
		for i := range out {
			out[i] = math.Float64frombits(binary.LittleEndian.Uint64(t.Data[8*i:]))
		}
		return out, nil
	}
	switch t.DType {
	case "F32", "BF16", "F16":
	default:
		return nil, fmt.Errorf("safetensors: tensor %q: cannot read %s as float64 (want F64, F32, BF16 or F16)", t.Name, t.DType)
	}
	narrow, err := t.Float32s()
	if err != nil {
		return nil, err
	}
	out := make([]float64, len(narrow))
	for i, v := range narrow {
		out[i] = float64(v)
	}
	return out, nil
}

// Int64s decodes integer (and BOOL) data as int64, widening the narrower integer types. U64
// values above MaxInt64 are an error, not a wrap-around.
func (t *Tensor) Int64s() ([]int64, error) {
	if err := t.checkSize(); err != nil {
		return nil, err
	}
	out := make([]int64, t.Numel())
	d := t.Data
	switch t.DType {
	case "I64":
		for i := range out {
			out[i] = int64(binary.LittleEndian.Uint64(d[8*i:]))
		}
	case "U64":
		for i := range out {
			v := binary.LittleEndian.Uint64(d[8*i:])
			if v > math.MaxInt64 {
				return nil, fmt.Errorf("safetensors: tensor %q: U64 element %d = %d does not fit in int64", t.Name, i, v)
			}
			out[i] = int64(v)
		}
	case "I32":
		for i := range out {
			out[i] = int64(int32(binary.LittleEndian.Uint32(d[4*i:])))
		}
	case "U32":
		for i := range out {
			out[i] = int64(binary.LittleEndian.Uint32(d[4*i:]))
		}
	case "I16":
		for i := range out {
			out[i] = int64(int16(binary.LittleEndian.Uint16(d[2*i:])))
		}
	case "U16":
		for i := range out {
			out[i] = int64(binary.LittleEndian.Uint16(d[2*i:]))
		}
	case "I8":
		for i := range out {
			out[i] = int64(int8(d[i]))
		}
	case "U8", "BOOL":
		for i := range out {
			out[i] = int64(d[i])
		}
	default:
		return nil, fmt.Errorf("safetensors: tensor %q: cannot read %s as int64 (want an integer dtype or BOOL)", t.Name, t.DType)
	}
	return out, nil
}

// cloneShape copies the caller's shape so later edits to it cannot change the tensor, and
// turns nil into an empty slice so scalars serialize as [] rather than null.
func cloneShape(shape []int64) []int64 {
	return append(make([]int64, 0, len(shape)), shape...)
}

// fromValues builds a dtype tensor whose elements put writes into their slots (the dtype's
// size each). It panics, naming the constructor kind, when len(values) is not the shape's
// element count: the caller built both, so the mismatch is a bug to surface at its source,
// not at Write time.
func fromValues[V any](kind, dtype, name string, shape []int64, values []V, put func(slot []byte, v V)) *Tensor {
	n, err := numel(shape)
	if err != nil {
		panic(fmt.Sprintf("safetensors.%s(%q): %v", kind, name, err))
	}
	if n != int64(len(values)) {
		panic(fmt.Sprintf("safetensors.%s(%q): shape %v has %d elements, got %d values", kind, name, shape, n, len(values)))
	}
	size := dtypeSizes[dtype]
	data := make([]byte, size*len(values))
	for i, v := range values {
		put(data[size*i:], v)
	}
	return &Tensor{Name: name, DType: dtype, Shape: cloneShape(shape), Data: data}
}

// FromFloat32 builds an F32 tensor. It panics if len(values) is not the shape's element count.
func FromFloat32(name string, shape []int64, values []float32) *Tensor {
	return fromValues("FromFloat32", "F32", name, shape, values, func(slot []byte, v float32) {
		binary.LittleEndian.PutUint32(slot, math.Float32bits(v))
	})
}

// FromFloat32AsBF16 builds a BF16 tensor from float32 values rounded to nearest-even, the
// rounding torch's .to(torch.bfloat16) uses, so a file written here matches one saved by
// PyTorch bit for bit. It panics if len(values) is not the shape's element count.
func FromFloat32AsBF16(name string, shape []int64, values []float32) *Tensor {
	return fromValues("FromFloat32AsBF16", "BF16", name, shape, values, func(slot []byte, v float32) {
		binary.LittleEndian.PutUint16(slot, Float32ToBFloat16(v))
	})
}

// FromFloat64 builds an F64 tensor. It panics if len(values) is not the shape's element count.
func FromFloat64(name string, shape []int64, values []float64) *Tensor {
	return fromValues("FromFloat64", "F64", name, shape, values, func(slot []byte, v float64) {
		binary.LittleEndian.PutUint64(slot, math.Float64bits(v))
	})
}

// FromInt64 builds an I64 tensor. It panics if len(values) is not the shape's element count.
func FromInt64(name string, shape []int64, values []int64) *Tensor {
	return fromValues("FromInt64", "I64", name, shape, values, func(slot []byte, v int64) {
		binary.LittleEndian.PutUint64(slot, uint64(v))
	})
}

// BFloat16ToFloat32 widens a bfloat16 bit pattern. bfloat16 is the top half of a float32, so
// the conversion is a shift and is exact for every value, NaN payloads included.
func BFloat16ToFloat32(bits uint16) float32 {
	return math.Float32frombits(uint32(bits) << 16)
}

// Float32ToBFloat16 rounds a float32 to bfloat16 with round-to-nearest-even, keeping NaNs NaN
// (a NaN whose payload lives only in the low bits would otherwise round to infinity).
func Float32ToBFloat16(v float32) uint16 {
	bits := math.Float32bits(v)
	if v != v {
		return uint16(bits>>16) | 0x0040 // force a quiet-NaN mantissa bit
	}
	roundingBias := uint32(0x7FFF) + (bits>>16)&1
	return uint16((bits + roundingBias) >> 16)
}

// Float16ToFloat32 widens an IEEE 754 half-precision bit pattern exactly, including
// subnormals, infinities and NaNs.
func Float16ToFloat32(bits uint16) float32 {
	sign := uint32(bits>>15) << 31
	exponent := uint32(bits>>10) & 0x1F
	mantissa := uint32(bits) & 0x3FF
	switch {
	case exponent == 0x1F: // infinity or NaN: keep the payload
		return math.Float32frombits(sign | 0x7F800000 | mantissa<<13)
	case exponent != 0: // normal: rebias 15 → 127
		return math.Float32frombits(sign | (exponent+112)<<23 | mantissa<<13)
	case mantissa == 0: // signed zero
		return math.Float32frombits(sign)
	default: // subnormal half = mantissa × 2^-24, a normal float32
		value := float32(mantissa) * (1.0 / (1 << 24))
		if sign != 0 {
			value = -value
		}
		return value
	}
}
