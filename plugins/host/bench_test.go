package host

import (
	"context"
	"runtime"
	"testing"

	"github.com/sugarme/gotch"
	"github.com/sugarme/gotch/ts"

	"github.com/ptbench/ptbench/core"
	"github.com/ptbench/ptbench/core/engine"
	"github.com/ptbench/ptbench/plugins/internal/sdkpt"
	methodpb "github.com/ptbench/ptbench/plugins/proto"
	"github.com/ptbench/ptbench/plugins/wire"
)

// BenchmarkPluginBoundary measures the per-step cost of the plugin boundary on the t5-small
// shape (batch 16, d 512, a 100-token prompt, sources padded to 128): Transform, a stand-in
// backward pass (d sum(x ⊙ G) = G), and the optimiser step — in-process PT (core.AdamW) vs PT
// through the SDK compiled in vs PT as a plugin process (prefix only, and also receiving the
// full input embeddings), and the two RPCs alone. Compare ns/op across sub-benchmarks; the
// difference is the boundary.
//
//	go test -run '^$' -bench PluginBoundary -benchtime 200x ./plugins/host/
func BenchmarkPluginBoundary(b *testing.B) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	engine.InitTorch(0)
	const B, L, d = 16, 128, 512
	bb := fakeBackbone{d: d, vocab: 32128}
	embeds := ts.MustRandn([]int64{B, L, d}, gotch.Float, gotch.CPU)
	mask := ts.MustOnes([]int64{B, L}, gotch.Float, gotch.CPU)
	gout := ts.MustRandn([]int64{B, L + 100, d}, gotch.Float, gotch.CPU)
	defer func() { embeds.MustDrop(); mask.MustDrop(); gout.MustDrop() }()
	in := core.Input{Embeds: embeds, Mask: mask}

	b.Run("plugin-rpc-only", func(b *testing.B) { benchRPC(b, B, L, d) })
	cases := []struct {
		name string
		open func() (core.Method, error)
	}{
		{"in-process-pt", func() (core.Method, error) { return core.NewMethod("pt", nil) }},
		{"compiled-in-sdk-pt", func() (core.Method, error) { return NewInProcess("testpt", sdkpt.Plugin("testpt"), nil) }},
		{"plugin-pt", func() (core.Method, error) { return Open("testpt", testPlugin, nil, Options{}) }},
		{"plugin-pt-full-input", func() (core.Method, error) {
			return Open("testpt", testPlugin, nil, Options{Env: []string{"PTBENCH_TESTPLUGIN_INPUT=full"}})
		}},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			engine.InitTorch(0) // this goroutine's own OS thread (grad mode and threads are per thread)
			defer runtime.UnlockOSThread()
			m, err := c.open()
			if err != nil {
				b.Fatal(err)
			}
			defer m.Close()
			if err := m.Setup(core.SetupEnv{Backbone: bb, Seed: 1, MaxSourceLen: L}); err != nil {
				b.Fatal(err)
			}
			opt := core.NewAdamW(m.ParamGroups())
			defer opt.Close()
			im := m.(core.InputMethod)
			step := func() {
				x, err := im.Transform(in, true)
				if err != nil {
					b.Fatal(err)
				}
				opt.ZeroGrad()
				loss := x.Embeds.MustMul(gout, false).MustSum(gotch.Float, true)
				loss.MustBackward()
				loss.MustDrop()
				x.Drop()
				opt.Step(1)
				if eo, ok := m.(core.ExternalOptimizer); ok {
					if err := eo.AfterBackward(1, 1); err != nil {
						b.Fatal(err)
					}
				}
			}
			step() // warm up
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				step()
			}
		})
	}
}

// benchRPC is the protocol alone: one Forward (mask in, [100, d] prefix out) and one Backward
// ([100, d] gradient in, the plugin's AdamW step) per iteration, without libtorch.
func benchRPC(b *testing.B, B, L, d int64) {
	m, err := Open("testpt", testPlugin, nil, Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer m.Close()
	if err := m.Setup(core.SetupEnv{Backbone: fakeBackbone{d: d, vocab: 32128}, Seed: 1, MaxSourceLen: int(L)}); err != nil {
		b.Fatal(err)
	}
	fwd := &methodpb.ForwardRequest{Batch: B, Length: L, Train: true,
		Mask: wire.Encode([]int64{B, L}, make([]float32, B*L), methodpb.DType_DTYPE_F32)}
	bwd := &methodpb.BackwardRequest{LrFactor: 1, MaxGradNorm: 1,
		GradPrefix: wire.Encode([]int64{100, d}, make([]float32, 100*d), methodpb.DType_DTYPE_F32)}
	ctx := context.Background()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := m.rpc.Forward(ctx, fwd); err != nil {
			b.Fatal(err)
		}
		if _, err := m.rpc.Backward(ctx, bwd); err != nil {
			b.Fatal(err)
		}
	}
}

// fakeBackbone is just enough of a backbone for Setup: an embedding table of random rows.
type fakeBackbone struct {
	core.Backbone
	d, vocab int64
}

func (f fakeBackbone) Device() core.Device { return core.CPU }

func (f fakeBackbone) Info() core.BackboneInfo {
	return core.BackboneInfo{Name: "fake", DModel: f.d, Vocab: f.vocab}
}

func (f fakeBackbone) Embed(ids *ts.Tensor) *ts.Tensor {
	s := ids.MustSize()
	return ts.MustRandn([]int64{s[0], s[1], f.d}, gotch.Float, gotch.CPU)
}

// BenchmarkT5SmallTrainStep is a whole training step (forward, backward, update) of PT on the
// t5-small preset, batch 16, sources of 128 tokens, in process and as a plugin, to put the
// boundary's cost in proportion. Slow (seconds per step):
//
//	go test -run '^$' -bench T5SmallTrainStep -benchtime 5x ./plugins/host/
func BenchmarkT5SmallTrainStep(b *testing.B) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	engine.InitTorch(0)
	bb, err := core.OpenBackbone("t5-small", core.BackboneOptions{Seed: 1})
	if err != nil {
		b.Fatal(err)
	}
	defer bb.Close()
	srcs, tgts := fixedBatches(1, 16, bb.Info().Vocab)
	for i := range srcs[0] {
		srcs[0][i] = make([]int64, 128)
		for j := range srcs[0][i] {
			srcs[0][i][j] = int64(3 + (i*131+j*17)%30000)
		}
	}
	for _, c := range []struct {
		name string
		open func() (core.Method, error)
	}{
		{"in-process-pt", func() (core.Method, error) { return core.NewMethod("pt", nil) }},
		{"plugin-pt", func() (core.Method, error) { return Open("testpt", testPlugin, nil, Options{}) }},
	} {
		b.Run(c.name, func(b *testing.B) {
			engine.InitTorch(0)
			defer runtime.UnlockOSThread()
			m, err := c.open()
			if err != nil {
				b.Fatal(err)
			}
			defer m.Close()
			if err := m.Setup(core.SetupEnv{Backbone: bb, Seed: 1, MaxSourceLen: 128}); err != nil {
				b.Fatal(err)
			}
			opt := core.NewAdamW(m.ParamGroups())
			defer opt.Close()
			step := func() {
				if _, err := core.TrainStep(bb, m, opt, srcs[0], tgts[0], 0, 1, 1); err != nil {
					b.Fatal(err)
				}
			}
			step()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				step()
			}
		})
	}
}
