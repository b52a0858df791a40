package peft

import (
	"encoding/binary"
	"math"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ptbench/ptbench/core/safetensors"
)

// An adapter whose tensors hold NaN or ±Inf is refused when the folder is read, naming the
// file and the tensor, in every float dtype (before, it loaded and the run later "diverged").
func TestReadRefusesNonFiniteTensors(t *testing.T) {
	bits16 := func(vals ...uint16) []byte {
		b := make([]byte, 2*len(vals))
		for i, v := range vals {
			binary.LittleEndian.PutUint16(b[2*i:], v)
		}
		return b
	}
	f64 := make([]byte, 16)
	binary.LittleEndian.PutUint64(f64[8:], math.Float64bits(math.Inf(-1)))
	cases := []struct {
		name string
		t    *safetensors.Tensor
	}{
		{"F32 NaN", safetensors.FromFloat32("prompt_embeddings", []int64{2, 3}, []float32{1, 2, float32(math.NaN()), 4, 5, 6})},
		{"F32 +Inf", safetensors.FromFloat32("prompt_embeddings", []int64{2, 3}, []float32{1, 2, 3, 4, 5, float32(math.Inf(1))})},
		{"F16 Inf", &safetensors.Tensor{Name: "prompt_embeddings", DType: "F16", Shape: []int64{2}, Data: bits16(0x3c00, 0x7c00)}},
		{"BF16 NaN", &safetensors.Tensor{Name: "prompt_embeddings", DType: "BF16", Shape: []int64{2}, Data: bits16(0x3f80, 0x7fc0)}},
		{"F64 -Inf", &safetensors.Tensor{Name: "prompt_embeddings", DType: "F64", Shape: []int64{2}, Data: f64}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			a := sample()
			a.Tensors["prompt_embeddings"] = c.t
			dir := filepath.Join(t.TempDir(), "adapter")
			if err := a.Write(dir); err != nil {
				t.Fatal(err)
			}
			_, err := Read(dir)
			if err == nil || !strings.Contains(err.Error(), WeightsName) || !strings.Contains(err.Error(), `"prompt_embeddings"`) || !strings.Contains(err.Error(), "non-finite") {
				t.Fatalf("Read: %v, want the file, the tensor and non-finite named", err)
			}
		})
	}
	// Large finite values and subnormals are fine.
	a := sample()
	a.Tensors["prompt_embeddings"] = safetensors.FromFloat32("prompt_embeddings", []int64{2, 3}, []float32{math.MaxFloat32, -math.MaxFloat32, 1e-45, 0, -0, 1})
	dir := filepath.Join(t.TempDir(), "ok")
	if err := a.Write(dir); err != nil {
		t.Fatal(err)
	}
	if _, err := Read(dir); err != nil {
		t.Fatalf("finite extremes refused: %v", err)
	}
}

// Extra tensors beside prompt_embeddings and a base model other than the run's are warned
// about (before, they loaded silently); the same backbone spelt as a path or a name is not.
func TestAdapterWarnings(t *testing.T) {
	a := sample()
	if w := a.Warnings("t5-base"); len(w) != 0 {
		t.Fatalf("a clean adapter: %v", w)
	}
	a.Tensors["extra.weight"] = safetensors.FromFloat32("extra.weight", []int64{1}, []float32{1})
	a.Config["base_model_name_or_path"] = "google-t5/t5-large"
	w := a.Warnings("t5-base")
	if len(w) != 2 || !strings.Contains(w[0], "extra.weight") || !strings.Contains(w[1], "t5-large") {
		t.Fatalf("warnings %v, want the extra tensor and the other base model", w)
	}
	a.Config["base_model_name_or_path"] = "/models/t5-base/"
	if w := a.Warnings("google-t5/t5-base"); len(w) != 1 {
		t.Fatalf("the same backbone by another spelling: %v", w)
	}
}
