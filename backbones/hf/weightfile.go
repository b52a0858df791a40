package hf

import (
	"fmt"
	"os"
	"strings"

	"github.com/sugarme/gotch/pickle"
	"github.com/sugarme/gotch/ts"

	"github.com/ptbench/ptbench/core"
	"github.com/ptbench/ptbench/core/safetensors"
)

// LoadWeightFile reads one weight file of a Hugging Face checkpoint, a .safetensors file or
// a PyTorch pickle (.bin) state dict, into tensors by name (the caller owns them). Both the
// T5 and the Llama loaders read their (sharded) checkpoints through it.
func LoadWeightFile(path string) (map[string]*ts.Tensor, error) {
	if strings.HasSuffix(path, ".safetensors") {
		return core.LoadTorchFile(path)
	}
	out, err := pickle.Decode(path)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return out, nil
}

// LazyWeights hands out a checkpoint folder's tensors one at a time, as a model builder asks
// for them: a safetensors tensor is read alone at its header's offsets (nothing else of its
// shard is in memory, so a 7B model is never whole in full precision); a pickled .bin can
// only be read whole, so its files are loaded one at a time and their tensors wait until
// asked for. T5's 4-bit loader and Llama's loader both read through it.
type LazyWeights struct {
	dir     string
	where   map[string]*safetensors.Header
	pickled []string
	next    int
	pending map[string]*ts.Tensor
	skip    func(name string) bool
}

// OpenLazyWeights indexes dir's weight files (WeightFiles). skip, if not nil, names tensors
// of pickled files that are dropped as soon as they are read (buffers the model does not
// use, e.g. Llama's rotary_emb.inv_freq).
func OpenLazyWeights(dir string, skip func(name string) bool) (*LazyWeights, error) {
	files, err := WeightFiles(dir)
	if err != nil {
		return nil, err
	}
	w := &LazyWeights{dir: dir, where: map[string]*safetensors.Header{}, pending: map[string]*ts.Tensor{}, skip: skip}
	for _, f := range files {
		if !strings.HasSuffix(f, ".safetensors") {
			w.pickled = append(w.pickled, f)
			continue
		}
		h, err := safetensors.ReadHeader(f)
		if err != nil {
			return nil, err
		}
		for _, n := range h.Names() {
			w.where[n] = h
		}
	}
	return w, nil
}

// Take returns the tensor name (the caller owns it), or an error naming it when no weight
// file has it.
func (w *LazyWeights) Take(name string) (*ts.Tensor, error) {
	if h, ok := w.where[name]; ok {
		return ReadSafetensor(h, name)
	}
	for {
		if t, ok := w.pending[name]; ok {
			delete(w.pending, name)
			return t, nil
		}
		if w.next >= len(w.pickled) {
			return nil, fmt.Errorf("%s: missing tensor %q (in none of its weight files)", w.dir, name)
		}
		part, err := LoadWeightFile(w.pickled[w.next])
		w.next++
		if err != nil {
			return nil, err
		}
		for n, t := range part {
			if w.skip != nil && w.skip(n) {
				t.MustDrop()
				continue
			}
			w.pending[n] = t
		}
	}
}

// Close drops the tensors read from pickled files and never asked for.
func (w *LazyWeights) Close() {
	for n, t := range w.pending {
		t.MustDrop()
		delete(w.pending, n)
	}
}

// ReadSafetensor reads one tensor's bytes from a safetensors file at its header's offsets.
func ReadSafetensor(h *safetensors.Header, name string) (*ts.Tensor, error) {
	info, _ := h.Info(name)
	f, err := os.Open(h.Path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data := make([]byte, info.End-info.Begin)
	if _, err := f.ReadAt(data, h.DataStart()+info.Begin); err != nil {
		return nil, fmt.Errorf("%s: tensor %s: %w", h.Path, name, err)
	}
	return core.ToTorch(&safetensors.Tensor{Name: name, DType: info.DType, Shape: info.Shape, Data: data})
}
