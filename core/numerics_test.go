package core

import (
	"errors"
	"strings"
	"testing"

	"github.com/sugarme/gotch"
)

// One set of spellings for every backbone: each flag value parses to one typed value or
// fails naming the flag and the valid values.
func TestParseNumerics(t *testing.T) {
	dtypes := []struct {
		in   string
		want DType
		bad  bool
	}{
		{"", Float32, false}, {"float32", Float32, false}, {"FP32", Float32, false}, {"float", Float32, false},
		{"bfloat16", BFloat16, false}, {"bf16", BFloat16, false}, {" BF16 ", BFloat16, false},
		{"float16", Float32, true}, {"f32x", Float32, true},
	}
	for _, c := range dtypes {
		got, err := ParseDType(c.in)
		if (err != nil) != c.bad || got != c.want {
			t.Errorf("ParseDType(%q) = %v, %v; want %v, error %v", c.in, got, err, c.want, c.bad)
		}
		if err != nil && !strings.Contains(err.Error(), "--dtype") {
			t.Errorf("ParseDType(%q): error %q does not name --dtype", c.in, err)
		}
	}
	quants := []struct {
		in   string
		want Quant
		bad  bool
	}{{"", QuantNone, false}, {"none", QuantNone, false}, {"NF4", QuantNF4, false}, {"int4", QuantNone, true}, {"nf8", QuantNone, true}}
	for _, c := range quants {
		got, err := ParseQuant(c.in)
		if (err != nil) != c.bad || got != c.want {
			t.Errorf("ParseQuant(%q) = %v, %v; want %v, error %v", c.in, got, err, c.want, c.bad)
		}
	}
	devices := []struct {
		in    string
		want  string
		torch gotch.Device
		bad   bool
	}{
		{"", "cpu", gotch.CPU, false}, {"cpu", "cpu", gotch.CPU, false}, {"CUDA", "cuda:0", gotch.CudaBuilder(0), false},
		{"cuda:3", "cuda:3", gotch.CudaBuilder(3), false}, {"cuda:-1", "", gotch.CPU, true}, {"cuda:x", "", gotch.CPU, true},
		{"gpu", "", gotch.CPU, true}, {"mps", "", gotch.CPU, true},
	}
	for _, c := range devices {
		got, err := ParseDevice(c.in)
		if (err != nil) != c.bad {
			t.Errorf("ParseDevice(%q): error %v, want error %v", c.in, err, c.bad)
			continue
		}
		if !c.bad && (got.String() != c.want || got.Torch() != c.torch) {
			t.Errorf("ParseDevice(%q) = %s (%v), want %s (%v)", c.in, got, got.Torch(), c.want, c.torch)
		}
	}
	if BFloat16.Torch() != gotch.BFloat16 || Float32.Torch() != gotch.Float {
		t.Error("DType.Torch does not map to gotch's dtypes")
	}
}

// CheckDevice: the CPU always; CUDA refused by name on a CPU-only libtorch, an index past
// the devices libtorch sees refused too, and a device libtorch has accepted (tensors are
// created there).
func TestCheckDevice(t *testing.T) {
	saved := cudaDevices
	t.Cleanup(func() { cudaDevices = saved })
	cases := []struct {
		devices int
		device  Device
		want    string // "" = accepted
	}{
		{0, CPU, ""},
		{0, Device{CUDA: true}, "this libtorch has no CUDA"},
		{2, Device{CUDA: true, Index: 1}, ""},
		{2, Device{CUDA: true, Index: 2}, "sees 2 CUDA device(s)"},
	}
	for _, c := range cases {
		cudaDevices = func() int { return c.devices }
		err := CheckDevice(c.device)
		if c.want == "" {
			if err != nil {
				t.Errorf("%d devices, %s: %v", c.devices, c.device, err)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), "README: GPUs") {
			t.Errorf("%d devices, %s: error %v, want one containing %q and README: GPUs", c.devices, c.device, err, c.want)
		}
		if c.devices == 0 && !errors.Is(err, ErrNoCUDA) {
			t.Errorf("%s on a CPU-only libtorch: %v does not wrap ErrNoCUDA", c.device, err)
		}
	}
	// OpenBackbone refuses a device libtorch lacks before it looks at the spec; one it has
	// passes the check, and the spec is then what fails.
	cudaDevices = func() int { return 0 }
	if _, err := OpenBackbone("no-such-backbone", BackboneOptions{Device: Device{CUDA: true}}); !errors.Is(err, ErrNoCUDA) {
		t.Errorf("OpenBackbone on cuda without CUDA: %v", err)
	}
	cudaDevices = func() int { return 1 }
	if _, err := OpenBackbone("no-such-backbone", BackboneOptions{Device: Device{CUDA: true}}); err == nil || !strings.Contains(err.Error(), "no-such-backbone") || strings.Contains(err.Error(), "CUDA") {
		t.Errorf("OpenBackbone on cuda with CUDA: %v, want the unknown spec's error", err)
	}
}
