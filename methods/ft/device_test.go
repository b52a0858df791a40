package ft_test

// The device reaches every tensor of a run: the backbone's weights, a batch, each method's
// parameters (after a training step, which also makes the optimiser's moments) and what the
// method hands the backbone. On the CPU this holds trivially; run with
// PTBENCH_TEST_DEVICE=cuda (or cuda:N) on a machine whose libtorch has CUDA to check a GPU
// (README: GPUs) — every tensor must then say cuda:N, and each step must compute there.

import (
	"math"
	"os"
	"testing"

	"github.com/sugarme/gotch/ts"

	_ "github.com/ptbench/ptbench/backbones/llama"
	"github.com/ptbench/ptbench/core"
	"github.com/ptbench/ptbench/core/coretest"
	_ "github.com/ptbench/ptbench/methods/attempt"
	_ "github.com/ptbench/ptbench/methods/dept"
	_ "github.com/ptbench/ptbench/methods/ept"
	_ "github.com/ptbench/ptbench/methods/hyperdecoder"
	_ "github.com/ptbench/ptbench/methods/hyperformer"
	_ "github.com/ptbench/ptbench/methods/mpt"
	_ "github.com/ptbench/ptbench/methods/pt"
	_ "github.com/ptbench/ptbench/methods/spot"
)

// testDevice is the CPU, or PTBENCH_TEST_DEVICE where it is set; a device this libtorch
// cannot use fails the test (it was asked for explicitly).
func testDevice(t *testing.T) core.Device {
	t.Helper()
	d, err := core.ParseDevice(os.Getenv("PTBENCH_TEST_DEVICE"))
	if err == nil {
		err = core.CheckDevice(d)
	}
	if err != nil {
		t.Fatalf("PTBENCH_TEST_DEVICE: %v", err)
	}
	return d
}

// deviceZoo is one configuration of every built-in method (source-based ones get their
// sources from coretest.Artefacts; mpt-source trains over its sources as the run's tasks).
var deviceZoo = []struct {
	name   string
	raw    map[string]any
	label  string // subtest name when name is not enough
	tasks  []string
	encDec bool // defined only for encoder–decoders
}{
	{name: "pt"}, {name: "spot"}, {name: "dept"}, {name: "ept"},
	{name: "mpt", raw: map[string]any{"init": "ones"}},
	{name: "mpt-source", raw: map[string]any{"sources": []string{"a", "b"}}, tasks: []string{"a", "b"}},
	{name: "attempt", raw: map[string]any{"sources": []string{"a", "b"}}},
	{name: "hyperformer"}, {name: "hyperdecoder", encDec: true},
	{name: "lora"}, {name: "lora", raw: map[string]any{"merge": true}, label: "lora-merge"},
	{name: "adapter"}, {name: "adapterdrop", raw: map[string]any{"k": 1}},
	{name: "bitfit"}, {name: "ft"},
}

// onDevice reports every tensor of ts that is not on want (by name).
func onDevice(t *testing.T, what string, want core.Device, tensors []core.NamedTensor) {
	t.Helper()
	for _, nt := range tensors {
		if nt.Tensor == nil {
			continue
		}
		got, err := core.DeviceOf(nt.Tensor)
		if err != nil {
			t.Fatalf("%s %s: %v", what, nt.Name, err)
		}
		if got != want {
			t.Errorf("%s %s is on %s, want %s", what, nt.Name, got, want)
		}
	}
}

func TestTensorsLiveOnTheBackbonesDevice(t *testing.T) {
	coretest.LockThread(t)
	dev := testDevice(t)
	for _, spec := range []string{"t5-tiny", "llama-tiny"} {
		t.Run(spec, func(t *testing.T) {
			coretest.LockThread(t)
			bb, err := core.OpenBackbone(spec, core.BackboneOptions{Seed: 1, Device: dev})
			if err != nil {
				t.Fatal(err)
			}
			defer bb.Close()
			if bb.Device() != dev {
				t.Fatalf("backbone reports %s, opened on %s", bb.Device(), dev)
			}
			onDevice(t, "weight", dev, bb.Weights())
			encDec := bb.Info().EncoderDecoder
			for _, c := range deviceZoo {
				if c.encDec && !encDec {
					continue
				}
				label := c.label
				if label == "" {
					label = c.name
				}
				t.Run(label, func(t *testing.T) {
					coretest.LockThread(t)
					m, err := core.NewMethod(c.name, c.raw)
					if err != nil {
						t.Fatal(err)
					}
					defer m.Close()
					tasks := c.tasks
					if tasks == nil {
						tasks = []string{"t"}
					}
					core.SeedAll(3)
					store := &coretest.Artefacts{D: bb.Info().DModel, Names: map[string]string{"pt": "prompt", "mpt-source": "prompt_shared"}}
					sess, err := core.StartSession(bb, m, core.SetupEnv{Backbone: bb, Seed: 3, MaxSourceLen: 32,
						Task: tasks[0], Tasks: tasks, Artefacts: store})
					if err != nil {
						t.Fatal(err)
					}
					defer sess.Close()
					var rows []core.Encoded
					for i, p := range [][2]string{{"the cat sat on the mat", "yes"}, {"a b", "no"}} {
						rows = append(rows, core.Encoded{Source: bb.EncodeSource(p[0], 32), Target: bb.EncodeTarget(p[1], 8), Task: i % len(tasks)})
					}
					b, err := bb.Collate(rows, core.CollateOptions{Train: true, Step: 1, TaskNames: tasks})
					if err != nil {
						t.Fatal(err)
					}
					defer b.Close()
					onDevice(t, "batch", dev, []core.NamedTensor{{Name: "ids", Tensor: b.IDs}, {Name: "mask", Tensor: b.Mask},
						{Name: "positions", Tensor: b.Positions}, {Name: "labels", Tensor: b.Labels}})
					var in core.Input
					ts.NoGrad(func() { in, err = core.MethodInput(bb, m, b) })
					if err != nil {
						t.Fatal(err)
					}
					onDevice(t, "input", dev, []core.NamedTensor{{Name: "embeds", Tensor: in.Embeds}, {Name: "mask", Tensor: in.Mask}})
					in.Drop()
					loss, err := core.TrainBatch(bb, m, sess.Opt, b, 1, 1)
					if err != nil {
						t.Fatal(err)
					}
					if math.IsNaN(loss) || math.IsInf(loss, 0) {
						t.Fatalf("loss %v", loss)
					}
					for _, g := range m.ParamGroups() {
						onDevice(t, "parameter", dev, g.Params)
					}
				})
			}
		})
	}
}
