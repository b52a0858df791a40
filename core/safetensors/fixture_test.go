package safetensors

// Tests against the repository's real T5 fixtures (testdata/fixtures/t5).

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// fixtureDir holds the shared T5 reference fixtures (see its README.md).
const fixtureDir = "../../testdata/fixtures/t5"

func TestReadT5Fixture(t *testing.T) {
	path := filepath.Join(fixtureDir, "t5-tiny-v10", "model.safetensors")
	file, err := Read(path)
	if err != nil {
		t.Fatalf("Read: %v", err)
	}
	if got := file.Metadata["model"]; got != "t5-tiny-v10" {
		t.Errorf(`Metadata["model"] = %q, want "t5-tiny-v10"`, got)
	}
	if n := len(file.Names()); n != 48 {
		t.Errorf("fixture has %d tensors, want 48", n)
	}
	if !slices.IsSorted(file.Names()) {
		t.Error("Names() is not sorted")
	}
	wantShapes := map[string][]int64{
		"shared.weight": {128, 32},
		"prompt.weight": {5, 32},
		"encoder.block.0.layer.0.SelfAttention.relative_attention_bias.weight": {32, 4},
		"encoder.block.1.layer.1.DenseReluDense.wi.weight":                     {64, 32},
		"decoder.block.0.layer.1.EncDecAttention.q.weight":                     {32, 32},
		"decoder.final_layer_norm.weight":                                      {32},
	}
	header, err := ReadHeader(path)
	if err != nil {
		t.Fatalf("ReadHeader: %v", err)
	}
	if !slices.Equal(header.Names(), file.Names()) {
		t.Error("ReadHeader and Read list different tensors")
	}
	for name, want := range wantShapes {
		tensor, ok := file.Get(name)
		if !ok {
			t.Errorf("fixture lacks %q", name)
			continue
		}
		if tensor.DType != "F32" || !slices.Equal(tensor.Shape, want) {
			t.Errorf("%q is %s %v, want F32 %v", name, tensor.DType, tensor.Shape, want)
		}
		if info, _ := header.Info(name); !slices.Equal(info.Shape, want) || info.End-info.Begin != 4*info.Numel() {
			t.Errorf("ReadHeader: %q is %v at [%d, %d)", name, info.Shape, info.Begin, info.End)
		}
	}
	for _, absent := range []string{"encoder.embed_tokens.weight", "lm_head.weight"} {
		if _, ok := file.Get(absent); ok {
			t.Errorf("fixture unexpectedly holds %q", absent)
		}
	}
}

// TestT5FixtureValuesMatchGenerator regenerates every weight from init.json's documented
// generator and compares bit for bit, which checks Float32s on real data, not just shapes.
func TestT5FixtureValuesMatchGenerator(t *testing.T) {
	for _, model := range []string{"t5-tiny-v10", "t5-tiny-v11"} {
		t.Run(model, func(t *testing.T) {
			var init struct {
				Seed    uint64 `json:"seed"`
				Tensors []struct {
					Name      string  `json:"name"`
					Shape     []int64 `json:"shape"`
					Offset    float64 `json:"offset"`
					HalfWidth float64 `json:"half_width"`
				} `json:"tensors"`
			}
			raw, err := os.ReadFile(filepath.Join(fixtureDir, model, "init.json"))
			if err != nil {
				t.Fatal(err)
			}
			if err := json.Unmarshal(raw, &init); err != nil {
				t.Fatal(err)
			}
			file, err := Read(filepath.Join(fixtureDir, model, "model.safetensors"))
			if err != nil {
				t.Fatal(err)
			}
			if len(init.Tensors) != len(file.Names()) {
				t.Errorf("init.json describes %d tensors, the file has %d", len(init.Tensors), len(file.Names()))
			}
			for _, spec := range init.Tensors {
				tensor, ok := file.Get(spec.Name)
				if !ok {
					t.Errorf("file lacks %q", spec.Name)
					continue
				}
				values, err := tensor.Float32s()
				if err != nil {
					t.Fatal(err)
				}
				state := fnv1a64(spec.Name) ^ init.Seed*0x9E3779B97F4A7C15
				for i, got := range values {
					z := splitmix(state + uint64(i+1)*0x9E3779B97F4A7C15)
					u := (float64(z>>40) + 0.5) / (1 << 24)
					want := float32(spec.Offset + (2*u-1)*spec.HalfWidth)
					if math.Float32bits(got) != math.Float32bits(want) {
						t.Fatalf("%s[%d] = %v, generator says %v", spec.Name, i, got, want)
					}
				}
			}
		})
	}
}

func fnv1a64(s string) uint64 {
	h := uint64(0xCBF29CE484222325)
	for i := 0; i < len(s); i++ {
		h ^= uint64(s[i])
		h *= 0x100000001B3
	}
	return h
}

func splitmix(z uint64) uint64 {
	z = (z ^ z>>30) * 0xBF58476D1CE4E5B9
	z = (z ^ z>>27) * 0x94D049BB133111EB
	return z ^ z>>31
}

// TestBF16FixtureIsRoundedF32 checks both conversions against PyTorch's own: the fixture's
// BF16 file was made by torch's round-to-nearest-even from the F32 file.
func TestBF16FixtureIsRoundedF32(t *testing.T) {
	for _, model := range []string{"t5-tiny-v10", "t5-tiny-v11"} {
		f32File, err := Read(filepath.Join(fixtureDir, model, "model.safetensors"))
		if err != nil {
			t.Fatal(err)
		}
		bf16File, err := Read(filepath.Join(fixtureDir, model, "model.bf16.safetensors"))
		if err != nil {
			t.Fatal(err)
		}
		compared := 0
		for _, name := range bf16File.Names() {
			bf16, _ := bf16File.Get(name)
			f32, ok := f32File.Get(name)
			if !ok || bf16.DType != "BF16" {
				t.Errorf("%s: %q is %s in the bf16 file, present in f32 file: %v", model, name, bf16.DType, ok)
				continue
			}
			values, err := f32.Float32s()
			if err != nil {
				t.Fatal(err)
			}
			rounded := FromFloat32AsBF16(name, f32.Shape, values)
			if !bytes.Equal(rounded.Data, bf16.Data) {
				t.Errorf("%s: %q: our RNE rounding differs from torch's", model, name)
			}
			widened, err := bf16.Float32s()
			if err != nil {
				t.Fatal(err)
			}
			for i, v := range widened {
				if bits := binary.LittleEndian.Uint16(bf16.Data[2*i:]); math.Float32bits(v) != uint32(bits)<<16 {
					t.Fatalf("%s: %q[%d] widened to %#08x, want %#08x", model, name, i, math.Float32bits(v), uint32(bits)<<16)
				}
				if diff := math.Abs(float64(v - values[i])); diff > math.Abs(float64(values[i]))/256 {
					t.Fatalf("%s: %q[%d]: bf16 %v is %v away from f32 %v", model, name, i, v, diff, values[i])
				}
			}
			compared++
		}
		if compared < 40 {
			t.Errorf("%s: compared only %d tensors", model, compared)
		}
	}
}

func TestExpectedFixtureScalarsAndIntegers(t *testing.T) {
	file, err := Read(filepath.Join(fixtureDir, "t5-tiny-v10", "expected.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	loss, ok := file.Get("single/loss")
	if !ok || len(loss.Shape) != 0 || loss.Numel() != 1 {
		t.Fatalf("single/loss: present %v, shape %v", ok, loss.Shape)
	}
	if values, err := loss.Float32s(); err != nil || !(values[0] > 0 && values[0] < 20) {
		t.Errorf("single/loss = %v, %v; want one plausible cross-entropy", values, err)
	}
	ids, _ := file.Get("batch3_padded/input_ids")
	mask, _ := file.Get("batch3_padded/attention_mask")
	idValues, err := ids.Int64s()
	if err != nil {
		t.Fatal(err)
	}
	maskValues, err := mask.Int64s()
	if err != nil {
		t.Fatal(err)
	}
	// README: rows of lengths 7/4/10, right-padded with 0, last real token EOS=1.
	length := ids.Shape[1]
	for row, wantLen := range []int64{7, 4, 10} {
		var real int64
		for j := int64(0); j < length; j++ {
			real += maskValues[int64(row)*length+j]
		}
		if real != wantLen || idValues[int64(row)*length+wantLen-1] != 1 {
			t.Errorf("row %d: %d real tokens ending in %d, want %d ending in EOS 1", row, real, idValues[int64(row)*length+wantLen-1], wantLen)
		}
	}
	adam, _ := file.Get("prompt/adam_losses")
	if values, err := adam.Float64s(); err != nil || len(values) != 21 || !(values[20] < values[0]) {
		t.Errorf("prompt/adam_losses = %v, %v; want 21 decreasing-overall F64 losses", values, err)
	}
}
