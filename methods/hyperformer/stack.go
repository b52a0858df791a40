package hyperformer

import (
	"fmt"

	"github.com/sugarme/gotch/ts"

	"github.com/ptbench/ptbench/core"
	"github.com/ptbench/ptbench/methods/internal/hypernet"
	"github.com/ptbench/ptbench/methods/internal/params"
)

// Block types index the block-type embedding as the reference's
// AdapterLayersOneHyperNetController.forward does: 0 for the feed-forward adapter, 1 for the
// self-attention one.
const (
	blockFFN      = 0
	blockSelfAttn = 1
)

// projectedNormEps is the epsilon of the layer norm on the projected embedding
// (AdapterLayersOneHyperNetController: layer_norm_epsilon = 1e-6).
const projectedNormEps = 1e-6

// stackNet is one stack's hypernetwork (the reference's AdapterLayersOneHyperNetController:
// every T5Stack builds its own, so encoder and decoder do not share one):
//
//	s = LN(W_2 ReLU(W_1 [z_τ ; l_i ; p_j] + c_1) + c_2)          (task_hypernet, LayerNorm)
//
// with l_i the stack's layer-id embedding and p_j the block-type embedding, then the
// generator heads (up/down sampler hyper-nets and the post layer-norm hyper-net) on s.
type stackNet struct {
	name               string     // "encoder" or "decoder"
	layers, blockTypes *ts.Tensor // [blocks, t], [2, t]
	proj1, proj2       hypernet.Linear
	normW, normB       *ts.Tensor // [p] each; nil without unique_hyper_net_layer_norm
	heads              *hypernet.Heads
	projected          int64 // p
}

// newStackNet builds one stack's hypernetwork for blocks blocks of width d, initialised as
// the reference initialises it: nn.Embedding tables N(0, 1); every linear of the projector
// and of the heads linear_layer's N(0, std²) weights and zero biases; the layer norm ones
// and zeros. Every tensor is on dev (drawn on the CPU, then moved: hypernet.NewParam).
func newStackNet(dev core.Device, name string, blocks int, d int64, cfg Config) (*stackNet, error) {
	t, p, hid := int64(cfg.TaskDim), int64(cfg.ProjectedDim), int64(cfg.TaskHiddenDim)
	b := d / int64(cfg.ReductionFactor)
	if b <= 0 {
		return nil, fmt.Errorf("hyperformer: d_model %d / reduction_factor %d leaves no bottleneck", d, cfg.ReductionFactor)
	}
	s := &stackNet{name: name, projected: p}
	var err error
	normal := hypernet.Normal(cfg.InitStd)
	lin := func(in, out int64) hypernet.Linear {
		if err != nil {
			return hypernet.Linear{}
		}
		var l hypernet.Linear
		l, err = hypernet.NewLinear(dev, in, out, normal, nil)
		return l
	}
	if s.layers, err = hypernet.NewEmbedding(dev, int64(blocks), t); err != nil {
		return nil, err
	}
	if s.blockTypes, err = hypernet.NewEmbedding(dev, 2, t); err != nil {
		s.close()
		return nil, err
	}
	s.proj1, s.proj2 = lin(3*t, hid), lin(hid, p)
	h := &hypernet.Heads{D: d, B: b}
	h.Down, h.DownB = lin(p, b*d), lin(p, b)
	h.Up, h.UpB = lin(p, d*b), lin(p, d)
	gamma, beta := lin(p, d), lin(p, d)
	h.Gamma, h.Beta = &gamma, &beta
	s.heads = h
	if err == nil && cfg.ProjectedNorm {
		if s.normW, err = hypernet.NewParam(dev, []int64{p}, hypernet.Ones); err == nil {
			s.normB, err = hypernet.NewParam(dev, []int64{p}, nil)
		}
	}
	if err != nil {
		s.close()
		return nil, fmt.Errorf("hyperformer: %s hypernetwork: %w", name, err)
	}
	return s, nil
}

// params names the tensors as the reference's module tree does under
// "<stack>.adapter_layers_hyper_net.".
func (s *stackNet) params() []core.NamedTensor {
	p := s.name + ".adapter_layers_hyper_net."
	out := []core.NamedTensor{
		{Name: p + "layer_id_embeddings.weight", Tensor: s.layers},
		{Name: p + "adapters_block_type.weight", Tensor: s.blockTypes},
	}
	out = append(out, s.proj1.Params(p+"task_hypernet.task_embeding_generator.0.")...)
	out = append(out, s.proj2.Params(p+"task_hypernet.task_embeding_generator.2.")...)
	if s.normW != nil {
		out = append(out, core.NamedTensor{Name: p + "LayerNorm.weight", Tensor: s.normW},
			core.NamedTensor{Name: p + "LayerNorm.bias", Tensor: s.normB})
	}
	h := s.heads
	out = append(out, h.Up.Params(p+"up_sampler_hyper_net.weight_generator.0.")...)
	out = append(out, h.UpB.Params(p+"up_sampler_hyper_net.bias_generator.0.")...)
	out = append(out, h.Down.Params(p+"down_sampler_hyper_net.weight_generator.0.")...)
	out = append(out, h.DownB.Params(p+"down_sampler_hyper_net.bias_generator.0.")...)
	out = append(out, h.Gamma.Params(p+"post_layernorm_hypernet.weight_generator.")...)
	out = append(out, h.Beta.Params(p+"post_layernorm_hypernet.bias_generator.")...)
	return out
}

// source is s for task embeddings z [R, t] at one block and block type: [R, p] (caller drops).
func (s *stackNet) source(z *ts.Tensor, block, blockType int) (*ts.Tensor, error) {
	sz := z.MustSize()
	row := func(table *ts.Tensor, i int) (*ts.Tensor, error) {
		r, err := table.Narrow(0, int64(i), 1, false)
		if err != nil {
			return nil, err
		}
		return r.Expand(sz, false, true)
	}
	l, err := row(s.layers, block)
	if err != nil {
		return nil, err
	}
	defer l.MustDrop()
	q, err := row(s.blockTypes, blockType)
	if err != nil {
		return nil, err
	}
	defer q.MustDrop()
	cat, err := ts.Cat([]*ts.Tensor{z, l, q}, 1)
	if err != nil {
		return nil, err
	}
	hid, err := s.proj1.Forward(cat)
	cat.MustDrop()
	if err != nil {
		return nil, err
	}
	if hid, err = hid.Relu(true); err != nil {
		return nil, err
	}
	out, err := s.proj2.Forward(hid)
	hid.MustDrop()
	if err != nil || s.normW == nil {
		return out, err
	}
	normed, err := ts.LayerNorm(out, []int64{s.projected}, s.normW, s.normB, projectedNormEps, false)
	out.MustDrop()
	return normed, err
}

func (s *stackNet) close() {
	params.Drop(&s.layers, &s.blockTypes, &s.normW, &s.normB)
	s.proj1.Close()
	s.proj2.Close()
	if s.heads != nil {
		s.heads.Close()
	}
}
