package host

import (
	"runtime"
	"slices"
	"testing"

	"github.com/ptbench/ptbench/core"
	"github.com/ptbench/ptbench/plugins/sdk"
)

// envProbe is probe that also keeps its Env.
type envProbe struct {
	probe
	env sdk.Env
}

func (p *envProbe) Setup(env sdk.Env) error { p.env = env; return p.probe.Setup(env) }

// TestPluginSeesBatchContext: protocol version 2 carries the run's tasks at Setup and each
// batch's step, train flag and per-row task ids at Forward.
func TestPluginSeesBatchContext(t *testing.T) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	pr := &envProbe{}
	plug := sdk.Plugin{Info: sdk.Info{Name: "probe", Version: "0", Input: sdk.InputNone, Prefix: true, Offset: true},
		New: func([]byte) (sdk.Method, error) { return pr, nil }}
	m, err := NewInProcess("probe", plug, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	bb := fakeBackbone{d: 8, vocab: 20}
	tasks := []string{"rte", "mrpc"}
	if err := m.Setup(core.SetupEnv{Backbone: bb, Seed: 1, MaxSourceLen: 9, Task: "rte+mrpc", Tasks: tasks}); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(pr.env.Tasks, tasks) {
		t.Fatalf("plugin Env.Tasks %v", pr.env.Tasks)
	}
	rows := []core.Encoded{{Source: []int64{3, 4, 1}, Task: 1}, {Source: []int64{5, 1}, Task: 0}, {Source: []int64{6, 1}, Task: 1}}
	for _, train := range []bool{true, false} {
		b, err := core.CollateWith(rows, core.CollateOptions{Train: train, Step: 7, TaskNames: tasks, NoLabels: true}, core.PadRight, 0)
		if err != nil {
			t.Fatal(err)
		}
		in := core.EmbedBatch(bb, b)
		x, err := m.Transform(in, train)
		if err != nil {
			t.Fatal(err)
		}
		x.Drop()
		in.Drop()
		b.Close()
		if got := pr.batch; got.Train != train || got.Step != 7 || !slices.Equal(got.Tasks, []int{1, 0, 1}) {
			t.Fatalf("train %v: plugin saw step %d, train %v, tasks %v", train, got.Step, got.Train, got.Tasks)
		}
	}
}
