package core

import (
	"fmt"
	"unsafe"

	"github.com/sugarme/gotch"
	"github.com/sugarme/gotch/ts"

	"github.com/ptbench/ptbench/core/safetensors"
)

var torchDTypes = map[string]gotch.DType{
	"F32": gotch.Float, "F64": gotch.Double, "F16": gotch.Half, "BF16": gotch.BFloat16,
	"I64": gotch.Int64, "I32": gotch.Int, "I16": gotch.Int16, "I8": gotch.Int8,
	"U8": gotch.Uint8, "BOOL": gotch.Bool,
}

// ToTorch copies a safetensors tensor into a new CPU gotch tensor (caller owns it).
func ToTorch(t *safetensors.Tensor) (*ts.Tensor, error) {
	dt, ok := torchDTypes[t.DType]
	if !ok {
		return nil, fmt.Errorf("tensor %q: dtype %s has no libtorch equivalent here", t.Name, t.DType)
	}
	if len(t.Shape) == 0 { // libtorch's from_blob wants a non-empty shape: view a [1] as 0-rank
		one, err := ts.OfDataSize(t.Data, []int64{1}, dt, ts.WithName(t.Name))
		if err != nil {
			return nil, fmt.Errorf("tensor %q: %w", t.Name, err)
		}
		return one.MustSqueeze(true), nil
	}
	out, err := ts.OfDataSize(t.Data, t.Shape, dt, ts.WithName(t.Name))
	if err != nil {
		return nil, fmt.Errorf("tensor %q: %w", t.Name, err)
	}
	return out, nil
}

// FromTorch copies a gotch tensor into a safetensors tensor (from a CPU copy when it lives on
// another device: its memory is read directly).
func FromTorch(name string, t *ts.Tensor) (*safetensors.Tensor, error) {
	var tag string
	for k, v := range torchDTypes {
		if v == t.DType() {
			tag = k
		}
	}
	if tag == "" {
		return nil, fmt.Errorf("tensor %q: unsupported dtype %v", name, t.DType())
	}
	c, err := CPU.Move(t.MustDetach(false))
	if err != nil {
		return nil, fmt.Errorf("tensor %q: %w", name, err)
	}
	c = c.MustContiguous(true)
	defer c.MustDrop()
	n := int(c.Numel()) * int(c.DType().Size())
	data := make([]byte, n)
	if n > 0 {
		copy(data, unsafe.Slice((*byte)(c.MustDataPtr()), n))
	}
	return &safetensors.Tensor{Name: name, DType: tag, Shape: c.MustSize(), Data: data}, nil
}

// LoadTorchFile reads every tensor of a safetensors file into gotch tensors (caller owns them).
func LoadTorchFile(path string) (map[string]*ts.Tensor, error) {
	f, err := safetensors.Read(path)
	if err != nil {
		return nil, err
	}
	out := map[string]*ts.Tensor{}
	for _, name := range f.Names() {
		st, _ := f.Get(name)
		t, err := ToTorch(st)
		if err != nil {
			for _, o := range out {
				o.MustDrop()
			}
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		out[name] = t
	}
	return out, nil
}

// SaveTorchFile writes named tensors to a safetensors file atomically.
func SaveTorchFile(path string, tensors []NamedTensor, metadata map[string]string) error {
	st := make([]*safetensors.Tensor, 0, len(tensors))
	for _, nt := range tensors {
		t, err := FromTorch(nt.Name, nt.Tensor)
		if err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
		st = append(st, t)
	}
	return safetensors.Write(path, st, metadata)
}

// Float32s copies a float tensor's values out (any shape, row-major).
func Float32s(t *ts.Tensor) []float32 {
	c := t.MustDetach(false).MustTotype(gotch.Float, true).MustContiguous(true)
	defer c.MustDrop()
	out := make([]float32, c.Numel())
	c.MustCopyData(out, uint(len(out)))
	return out
}
