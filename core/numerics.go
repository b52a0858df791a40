package core

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/sugarme/gotch"
)

// The three options that change how a backbone computes — compute dtype, weight
// quantisation and device — are parsed once, where they enter (the CLI's flags implement
// pflag.Value with these types; experiment files call the Parse functions), into typed
// values with one set of spellings for every backbone. Backbones, memory estimates and run
// identities read the typed values; no string crosses the program after parsing.

// DType is the backbone's compute dtype. The zero value is float32 (the default).
type DType uint8

const (
	Float32  DType = iota // weights and activations fp32 (the default)
	BFloat16              // bf16 weights and matmuls; what stays fp32 is the backbone's (README: bfloat16)
)

// ParseDType reads --dtype: "" / float32 / fp32 / float, or bfloat16 / bf16 (any case).
func ParseDType(s string) (DType, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "", "float32", "fp32", "float":
		return Float32, nil
	case "bfloat16", "bf16":
		return BFloat16, nil
	}
	return Float32, fmt.Errorf("--dtype %q: want float32 or bfloat16 (bf16)", s)
}

// String is the canonical name ("float32", "bfloat16").
func (d DType) String() string {
	if d == BFloat16 {
		return "bfloat16"
	}
	return "float32"
}

// Torch is the gotch dtype of the compute precision.
func (d DType) Torch() gotch.DType {
	if d == BFloat16 {
		return gotch.BFloat16
	}
	return gotch.Float
}

// Set parses s into d (pflag.Value).
func (d *DType) Set(s string) error {
	v, err := ParseDType(s)
	if err != nil {
		return err
	}
	*d = v
	return nil
}

// Type names the flag's value kind in help (pflag.Value).
func (d *DType) Type() string { return "dtype" }

// Quant is how the frozen linear weights are stored. The zero value is full precision.
type Quant uint8

const (
	QuantNone Quant = iota // full precision
	QuantNF4               // QLoRA's 4-bit NormalFloat with double quantisation
)

// ParseQuant reads --quant: "" / none, or nf4 (any case).
func ParseQuant(s string) (Quant, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "", "none":
		return QuantNone, nil
	case "nf4":
		return QuantNF4, nil
	}
	return QuantNone, fmt.Errorf("--quant %q: want none or nf4 (4-bit NormalFloat, double-quantised; Llama and T5 backbones)", s)
}

// String is the canonical name ("none", "nf4").
func (q Quant) String() string {
	if q == QuantNF4 {
		return "nf4"
	}
	return "none"
}

// Set parses s into q (pflag.Value).
func (q *Quant) Set(s string) error {
	v, err := ParseQuant(s)
	if err != nil {
		return err
	}
	*q = v
	return nil
}

// Type names the flag's value kind in help (pflag.Value).
func (q *Quant) Type() string { return "quant" }

// Device is where tensors are created: the CPU (the zero value) or CUDA device N.
type Device struct {
	CUDA  bool
	Index int // CUDA device index (0 for "cuda")
}

// CPU is the default device.
var CPU = Device{}

// ParseDevice reads --device: cpu, cuda or cuda:N (any case).
func ParseDevice(s string) (Device, error) {
	t := strings.ToLower(strings.TrimSpace(s))
	switch {
	case t == "" || t == "cpu":
		return CPU, nil
	case t == "cuda":
		return Device{CUDA: true}, nil
	case strings.HasPrefix(t, "cuda:"):
		n, err := strconv.Atoi(t[len("cuda:"):])
		if err == nil && n >= 0 && n < 1024 {
			return Device{CUDA: true, Index: n}, nil
		}
	}
	return CPU, fmt.Errorf("--device %q: want cpu, cuda or cuda:N (N ≥ 0)", s)
}

// String is the canonical name ("cpu", "cuda:0").
func (d Device) String() string {
	if d.CUDA {
		return "cuda:" + strconv.Itoa(d.Index)
	}
	return "cpu"
}

// Torch is gotch's device value.
func (d Device) Torch() gotch.Device {
	if d.CUDA {
		return gotch.CudaBuilder(uint(d.Index))
	}
	return gotch.CPU
}

// Set parses s into d (pflag.Value).
func (d *Device) Set(s string) error {
	v, err := ParseDevice(s)
	if err != nil {
		return err
	}
	*d = v
	return nil
}

// Type names the flag's value kind in help (pflag.Value).
func (d *Device) Type() string { return "device" }

// ErrNoCUDA is wrapped by CheckDevice's error when libtorch was built without CUDA.
var ErrNoCUDA = fmt.Errorf("this libtorch has no CUDA")

// cudaDevices is how many CUDA devices the linked libtorch sees (0 on a CPU-only build);
// a variable so tests can stand in for a GPU machine.
var cudaDevices = func() int {
	if !gotch.CUDA.IsAvailable() {
		return 0
	}
	return int(gotch.CUDA.DeviceCount())
}

// CheckDevice says, before anything loads, whether d can be used: the CPU always; cuda:N is
// refused where libtorch was built without CUDA (ErrNoCUDA) or does not see device N. A
// device libtorch sees is accepted: backbones, methods, batches, optimiser state and plugin
// tensors are created there (core.Device.Move/Param), though no run has yet been made on a
// GPU (README: GPUs says what is verified and how to check a CUDA machine).
func CheckDevice(d Device) error {
	if !d.CUDA {
		return nil
	}
	n := cudaDevices()
	if n == 0 {
		return fmt.Errorf("--device %s: %w (it was built for the CPU only, e.g. Debian's libtorch): run on the CPU (--device cpu), or link a CUDA build of libtorch — see README: GPUs", d, ErrNoCUDA)
	}
	if d.Index >= n {
		return fmt.Errorf("--device %s: this libtorch sees %d CUDA device(s) (cuda:0 … cuda:%d) — see README: GPUs", d, n, n-1)
	}
	return nil
}
