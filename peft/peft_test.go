package peft

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ptbench/ptbench/core/safetensors"
)

func sample() *Adapter {
	return &Adapter{
		Config:  map[string]any{"peft_type": PromptTuning, "num_virtual_tokens": 2, "token_dim": 3, "target_modules": []any{"q", "v"}},
		Tensors: map[string]*safetensors.Tensor{"prompt_embeddings": safetensors.FromFloat32("prompt_embeddings", []int64{2, 3}, []float32{1, 2, 3, 4, 5, 6})},
	}
}

// A written folder reads back field for field and bit for bit; its hash depends on the
// content only (not the folder's path) and changes with it.
func TestWriteReadAndHash(t *testing.T) {
	d1, d2 := filepath.Join(t.TempDir(), "a"), filepath.Join(t.TempDir(), "b")
	for _, d := range []string{d1, d2} {
		if err := sample().Write(d); err != nil {
			t.Fatal(err)
		}
	}
	a, err := Read(d1)
	if err != nil {
		t.Fatal(err)
	}
	if n, err := a.Int("num_virtual_tokens"); err != nil || n != 2 || a.PeftType() != PromptTuning {
		t.Fatalf("num_virtual_tokens %d %v, peft_type %s", n, err, a.PeftType())
	}
	if l, isList, err := a.Strings("target_modules"); err != nil || !isList || strings.Join(l, ",") != "q,v" {
		t.Fatalf("target_modules %v %v %v", l, isList, err)
	}
	pe, err := a.Tensor("prompt_embeddings", []int64{2, -1}, "test")
	if err != nil {
		t.Fatal(err)
	}
	if v, _ := pe.Float32s(); v[5] != 6 || a.Metadata["format"] != "pt" {
		t.Fatalf("values %v, metadata %v", v, a.Metadata)
	}
	b, err := Read(d2)
	if err != nil {
		t.Fatal(err)
	}
	if a.SHA256 == "" || a.SHA256 != b.SHA256 {
		t.Fatalf("same content, hashes %q and %q", a.SHA256, b.SHA256)
	}
	c := sample()
	c.Tensors["prompt_embeddings"] = safetensors.FromFloat32("prompt_embeddings", []int64{2, 3}, []float32{1, 2, 3, 4, 5, 7})
	c.Write(d2)
	if b, _ = Read(d2); b.SHA256 == a.SHA256 {
		t.Fatal("other weights, same hash")
	}
}

// Folders that are not PEFT adapters fail with the file named.
func TestReadErrors(t *testing.T) {
	cases := []struct {
		name string
		make func(dir string)
		want []string
	}{
		{"not a folder", func(dir string) { os.WriteFile(filepath.Join(dir, "x"), nil, 0o644) }, []string{"x", "not a directory"}},
		{"bin only", func(dir string) {
			sample().Write(dir)
			os.Remove(filepath.Join(dir, WeightsName))
			os.WriteFile(filepath.Join(dir, "adapter_model.bin"), []byte("pickle"), 0o644)
		}, []string{WeightsName, "adapter_model.bin", "safe_serialization"}},
		{"bad json", func(dir string) {
			sample().Write(dir)
			os.WriteFile(filepath.Join(dir, ConfigName), []byte("{"), 0o644)
		}, []string{ConfigName}},
		{"no peft_type", func(dir string) {
			a := sample()
			delete(a.Config, "peft_type")
			a.Write(dir)
		}, []string{ConfigName, `"peft_type" is missing`}},
		{"torn weights", func(dir string) {
			sample().Write(dir)
			os.WriteFile(filepath.Join(dir, WeightsName), []byte{1, 2, 3}, 0o644)
		}, []string{WeightsName}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			c.make(dir)
			target := dir
			if c.name == "not a folder" {
				target = filepath.Join(dir, "x")
			}
			_, err := Read(target)
			if err == nil {
				t.Fatal("no error")
			}
			for _, s := range c.want {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("error %q lacks %q", err, s)
				}
			}
		})
	}
}
