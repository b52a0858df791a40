package hf

import (
	"encoding/json"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
)

// Weight file names in the order transformers looks for them: safetensors before pickles,
// a single file before a sharded index.
const (
	SafetensorsWeights      = "model.safetensors"
	SafetensorsWeightsIndex = "model.safetensors.index.json"
	PytorchWeights          = "pytorch_model.bin"
	PytorchWeightsIndex     = "pytorch_model.bin.index.json"
)

// WeightFiles lists the files holding a model's weights in dir, as absolute-or-as-given paths:
// model.safetensors; else the shards model.safetensors.index.json names; else
// pytorch_model.bin or the shards of pytorch_model.bin.index.json (pickles, which the caller
// reads with libtorch). Every listed file is checked to exist, so a partial download fails
// here, naming the index and the missing shard, instead of deep inside a loader.
func WeightFiles(dir string) ([]string, error) {
	if !isDir(dir) {
		return nil, fmt.Errorf("hf: model directory %s does not exist", dir)
	}
	for _, single := range []struct{ file, index string }{
		{SafetensorsWeights, SafetensorsWeightsIndex},
		{PytorchWeights, PytorchWeightsIndex},
	} {
		if p := filepath.Join(dir, single.file); fileExists(p) {
			return []string{p}, nil
		}
		indexPath := filepath.Join(dir, single.index)
		if !exists(indexPath) {
			continue
		}
		index, err := LoadWeightIndex(indexPath)
		if err != nil {
			return nil, err
		}
		shards := index.Shards()
		paths := make([]string, len(shards))
		for i, shard := range shards {
			paths[i] = filepath.Join(dir, filepath.FromSlash(shard))
			if !fileExists(paths[i]) {
				return nil, fmt.Errorf("hf: %s lists shard %s, which is missing from %s (incomplete download?)", indexPath, shard, dir)
			}
		}
		return paths, nil
	}
	msg := fmt.Sprintf("hf: no weights in %s: looked for %s, %s, %s and %s", dir,
		SafetensorsWeights, SafetensorsWeightsIndex, PytorchWeights, PytorchWeightsIndex)
	for _, other := range []string{"tf_model.h5", "flax_model.msgpack", "model.ckpt.index"} {
		if exists(filepath.Join(dir, other)) {
			msg += fmt.Sprintf(" (found %s: TensorFlow/Flax checkpoints are not supported; convert to safetensors)", other)
			break
		}
	}
	return nil, fmt.Errorf("%s", msg)
}

// exists reports whether anything is at path, without following symlinks, so an index that
// is present but unreadable (a dangling cache link) is reported rather than skipped.
func exists(path string) bool {
	_, err := os.Lstat(path)
	return err == nil
}

// fileExists follows symlinks, so a cache snapshot link whose blob was deleted counts as missing.
func fileExists(path string) bool {
	stat, err := os.Stat(path)
	return err == nil && !stat.IsDir()
}

// WeightIndex is a sharded checkpoint's index file: which shard holds each tensor.
type WeightIndex struct {
	Path      string
	TotalSize int64             // metadata.total_size in bytes; 0 when absent
	WeightMap map[string]string // tensor name → shard file, relative to the index's directory
}

// LoadWeightIndex reads a *.index.json. Shard names must stay inside the model directory.
func LoadWeightIndex(indexPath string) (*WeightIndex, error) {
	data, err := os.ReadFile(indexPath)
	if err != nil {
		return nil, fmt.Errorf("hf: %w", err)
	}
	var raw struct {
		Metadata struct {
			TotalSize json.Number `json:"total_size"`
		} `json:"metadata"`
		WeightMap map[string]string `json:"weight_map"`
	}
	if err := json.Unmarshal(data, &raw); err != nil {
		return nil, fmt.Errorf("hf: %s: not a weight index: %v", indexPath, err)
	}
	if len(raw.WeightMap) == 0 {
		return nil, fmt.Errorf("hf: %s: weight_map is missing or empty", indexPath)
	}
	index := &WeightIndex{Path: indexPath, WeightMap: raw.WeightMap}
	if raw.Metadata.TotalSize != "" {
		// Some writers emit total_size as a float (e.g. 4.5e9); accept integral values.
		if f, err := raw.Metadata.TotalSize.Float64(); err == nil && f >= 0 && f == float64(int64(f)) {
			index.TotalSize = int64(f)
		} else {
			return nil, fmt.Errorf("hf: %s: metadata.total_size %q is not a byte count", indexPath, raw.Metadata.TotalSize)
		}
	}
	for tensor, shard := range raw.WeightMap {
		if shard == "" || path.IsAbs(shard) || strings.Contains(shard, `\`) || path.Clean(shard) != shard || strings.HasPrefix(shard, "../") || shard == ".." {
			return nil, fmt.Errorf("hf: %s: tensor %q maps to shard %q, which is not a file inside the model directory", indexPath, tensor, shard)
		}
	}
	return index, nil
}

// Shards returns the distinct shard files in sorted order (model-00001-of-00003... sorts
// numerically because the numbers are zero-padded).
func (ix *WeightIndex) Shards() []string {
	seen := map[string]bool{}
	var shards []string
	for _, shard := range ix.WeightMap {
		if !seen[shard] {
			seen[shard] = true
			shards = append(shards, shard)
		}
	}
	sort.Strings(shards)
	return shards
}
