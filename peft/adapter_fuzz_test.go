package peft

import (
	"os"
	"path/filepath"
	"testing"
)

// FuzzAdapterFolder: any adapter_config.json and adapter_model.safetensors bytes give an
// adapter or an error naming a file; a read adapter answers its field and tensor queries and
// its warnings without panicking, and holds no non-finite tensor.
func FuzzAdapterFolder(f *testing.F) {
	good := filepath.Join(f.TempDir(), "good")
	if err := sample().Write(good); err != nil {
		f.Fatal(err)
	}
	cfg, _ := os.ReadFile(filepath.Join(good, ConfigName))
	weights, _ := os.ReadFile(filepath.Join(good, WeightsName))
	f.Add(cfg, weights)
	f.Add([]byte(`{"peft_type":"LORA","r":8,"lora_alpha":16,"target_modules":["q","v"],"base_model_name_or_path":"t5-base"}`), weights)
	f.Add([]byte(`{"peft_type":1}`), weights)
	f.Add([]byte(`null`), []byte{})
	f.Add(cfg, weights[:len(weights)/2])
	f.Fuzz(func(t *testing.T, cfg, weights []byte) {
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, ConfigName), cfg, 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, WeightsName), weights, 0o644); err != nil {
			t.Fatal(err)
		}
		a, err := Read(dir)
		if err != nil {
			if err.Error() == "" {
				t.Fatal("empty error")
			}
			return
		}
		for _, k := range []string{"peft_type", "task_type", "num_virtual_tokens", "token_dim", "r", "lora_alpha", "target_modules"} {
			_, _ = a.OptString(k)
			_, _, _ = a.OptInt(k)
			_, _, _ = a.Strings(k)
			_, _ = a.Bool(k, false)
			_ = a.Empty(k)
		}
		_ = a.Warnings("t5-base")
		for name, tensor := range a.Tensors {
			if firstNonFinite(tensor) >= 0 {
				t.Fatalf("tensor %s with a non-finite value was read", name)
			}
			_, _ = a.Tensor(name, tensor.Shape, "fuzz")
		}
		_, _ = a.Tensor("prompt_embeddings", []int64{-1, -1}, "fuzz")
	})
}
