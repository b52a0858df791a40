package hf

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func writeFiles(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for name, content := range files {
		path := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

const twoShardIndex = `{"metadata":{"total_size":1234},"weight_map":{
	"shared.weight":"model-00001-of-00002.safetensors",
	"encoder.final_layer_norm.weight":"model-00002-of-00002.safetensors",
	"decoder.final_layer_norm.weight":"model-00002-of-00002.safetensors"}}`

func TestWeightFiles(t *testing.T) {
	cases := []struct {
		name    string
		files   map[string]string
		want    []string // relative to the model dir
		wantErr []string
	}{
		{"single safetensors", map[string]string{"model.safetensors": "x", "pytorch_model.bin": "x"}, []string{"model.safetensors"}, nil},
		{"safetensors shards", map[string]string{
			"model.safetensors.index.json":     twoShardIndex,
			"model-00002-of-00002.safetensors": "x",
			"model-00001-of-00002.safetensors": "x",
			"pytorch_model.bin":                "x",
		}, []string{"model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors"}, nil},
		{"pytorch pickle as-is", map[string]string{"pytorch_model.bin": "x", "config.json": "{}"}, []string{"pytorch_model.bin"}, nil},
		{"pytorch shards", map[string]string{
			"pytorch_model.bin.index.json":     `{"weight_map":{"a":"pytorch_model-00001-of-00001.bin"}}`,
			"pytorch_model-00001-of-00001.bin": "x",
		}, []string{"pytorch_model-00001-of-00001.bin"}, nil},
		{"missing shard", map[string]string{
			"model.safetensors.index.json":     twoShardIndex,
			"model-00001-of-00002.safetensors": "x",
		}, nil, []string{"model.safetensors.index.json", "model-00002-of-00002.safetensors", "missing"}},
		{"no weights", map[string]string{"config.json": "{}"}, nil, []string{"no weights", "model.safetensors", "pytorch_model.bin"}},
		{"tensorflow only", map[string]string{"tf_model.h5": "x"}, nil, []string{"tf_model.h5", "not supported"}},
		{"index without weight_map", map[string]string{"model.safetensors.index.json": `{"metadata":{}}`}, nil, []string{"model.safetensors.index.json", "weight_map"}},
		{"index not json", map[string]string{"model.safetensors.index.json": `{`}, nil, []string{"model.safetensors.index.json", "not a weight index"}},
		{"shard escaping the dir", map[string]string{"model.safetensors.index.json": `{"weight_map":{"w":"../other/model.safetensors"}}`}, nil, []string{`"w"`, "../other/model.safetensors", "inside the model directory"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			writeFiles(t, dir, tc.files)
			got, err := WeightFiles(dir)
			if tc.wantErr != nil {
				if err == nil {
					t.Fatalf("WeightFiles = %v, want an error", got)
				}
				for _, want := range append([]string{dir}, tc.wantErr...) {
					if !strings.Contains(err.Error(), want) {
						t.Errorf("error %q does not mention %q", err, want)
					}
				}
				return
			}
			if err != nil {
				t.Fatalf("WeightFiles: %v", err)
			}
			want := make([]string, len(tc.want))
			for i, name := range tc.want {
				want[i] = filepath.Join(dir, name)
			}
			if !slices.Equal(got, want) {
				t.Errorf("WeightFiles = %v, want %v", got, want)
			}
		})
	}
}

func TestWeightFilesTreatsDanglingCacheLinksAsMissing(t *testing.T) {
	dir := t.TempDir()
	// A cache snapshot whose blob was deleted: the link exists, the content does not.
	if err := os.Symlink("../../blobs/deadbeef", filepath.Join(dir, "model.safetensors")); err != nil {
		t.Skip("symlinks unavailable:", err)
	}
	if _, err := WeightFiles(dir); err == nil || !strings.Contains(err.Error(), "no weights") {
		t.Errorf("WeightFiles with a dangling link: err = %v, want \"no weights\"", err)
	}
	if _, err := WeightFiles(filepath.Join(dir, "absent")); err == nil || !strings.Contains(err.Error(), "does not exist") {
		t.Errorf("WeightFiles on a missing dir: err = %v", err)
	}
}

func TestLoadWeightIndex(t *testing.T) {
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{
		"a.index.json": twoShardIndex,
		"b.index.json": `{"metadata":{"total_size":4.5e9},"weight_map":{"w":"s.safetensors"}}`,
		"c.index.json": `{"metadata":{"total_size":-3},"weight_map":{"w":"s.safetensors"}}`,
	})
	index, err := LoadWeightIndex(filepath.Join(dir, "a.index.json"))
	if err != nil {
		t.Fatal(err)
	}
	if index.TotalSize != 1234 || len(index.WeightMap) != 3 || index.WeightMap["shared.weight"] != "model-00001-of-00002.safetensors" {
		t.Errorf("index = %+v", index)
	}
	if shards := index.Shards(); !slices.Equal(shards, []string{"model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors"}) {
		t.Errorf("Shards() = %v", shards)
	}
	if index, err := LoadWeightIndex(filepath.Join(dir, "b.index.json")); err != nil || index.TotalSize != 4_500_000_000 {
		t.Errorf("float total_size: %+v, %v", index, err)
	}
	if _, err := LoadWeightIndex(filepath.Join(dir, "c.index.json")); err == nil || !strings.Contains(err.Error(), "total_size") {
		t.Errorf("negative total_size: err = %v", err)
	}
}
