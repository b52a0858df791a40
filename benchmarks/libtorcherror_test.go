package benchmarks

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/sugarme/gotch"
	"github.com/sugarme/gotch/ts"

	_ "github.com/ptbench/ptbench/backbones/llama"
	"github.com/ptbench/ptbench/core"
	"github.com/ptbench/ptbench/core/coretest"
	"github.com/ptbench/ptbench/core/storage"
)

// torchErrorMethod makes libtorch itself raise inside a run's forward pass: it multiplies the
// input embeddings [B, L, d] by a [3, 5] matrix, which libtorch refuses (a real c10::Error,
// not an allocation failure). With viaPanic it uses gotch's Must variant, whose panic the
// grid's safeRun must turn into the run's error.
type torchErrorMethod struct {
	p        *ts.Tensor
	viaPanic bool
	evalOnly bool // misbehave only in evaluation (under no-grad), after training steps went well
}

func (m *torchErrorMethod) Setup(core.SetupEnv) error {
	m.p = ts.MustZeros([]int64{1}, gotch.Float, gotch.CPU)
	m.p.MustRequiresGrad_(true)
	return nil
}
func (m *torchErrorMethod) ParamGroups() []core.ParamGroup {
	return []core.ParamGroup{{Name: "p", LR: 1, Params: []core.NamedTensor{{Name: "p", Tensor: m.p}}}}
}
func (m *torchErrorMethod) Config() any { return map[string]any{"via_panic": m.viaPanic} }
func (m *torchErrorMethod) Close()      { m.p.MustDrop() }
func (m *torchErrorMethod) Transform(in core.Input, train bool) (core.Input, error) {
	if m.evalOnly && train {
		return core.Input{Embeds: in.Embeds.MustAdd(m.p, false), Mask: in.Mask.MustShallowClone()}, nil
	}
	w := ts.MustZeros([]int64{3, 5}, gotch.Float, gotch.CPU)
	defer w.MustDrop()
	if m.viaPanic {
		out := in.Embeds.MustMatmul(w, false) // panics with libtorch's error
		return core.Input{Embeds: out, Mask: in.Mask.MustShallowClone()}, nil
	}
	out, err := in.Embeds.Matmul(w, false)
	if err != nil {
		return core.Input{}, err
	}
	return core.Input{Embeds: out, Mask: in.Mask.MustShallowClone()}, nil
}

func init() {
	core.RegisterMethod("test-torch-error", "test only", func(map[string]any) (core.Method, error) { return &torchErrorMethod{}, nil })
	core.RegisterMethod("test-torch-panic", "test only", func(map[string]any) (core.Method, error) {
		return &torchErrorMethod{viaPanic: true}, nil
	})
	core.RegisterMethod("test-torch-eval-panic", "test only", func(map[string]any) (core.Method, error) {
		return &torchErrorMethod{viaPanic: true, evalOnly: true}, nil
	})
}

// A libtorch error raised inside a run — returned as an error, or as gotch's panic, in a
// training step or in an evaluation (under no-grad) — fails that run only, recorded with
// libtorch's message, and the next method's run completes, on the encoder–decoder and on the
// decoder-only backbone. (libtorch's grad mode is per OS thread, so each subtest locks its
// goroutine to one, as the CLI does.)
func TestLibtorchRaisedErrorFailsOnlyItsRunOnBothBackbones(t *testing.T) {
	coretest.LockThread(t)
	for _, backbone := range []string{"t5-tiny", "llama-tiny"} {
		t.Run(backbone, func(t *testing.T) {
			coretest.LockThread(t) // libtorch's grad mode is per OS thread; a subtest is a new goroutine
			out := t.TempDir()
			g := smallGrid(out, []string{"test-torch-error", "test-torch-panic", "test-torch-eval-panic", "pt"}, []int64{1})
			g.Backbone = backbone
			sum, err := g.Run()
			if err != nil {
				t.Fatalf("the grid stopped: %v", err)
			}
			rows, err := storage.ReadResults(filepath.Join(out, storage.ResultsFile))
			if err != nil {
				t.Fatal(err)
			}
			if len(rows) != 4 || sum.Failed != 3 {
				for _, r := range rows {
					t.Logf("%s: %s %.300s", r.Method, r.Status, r.Error)
				}
				t.Fatalf("summary %+v, %d rows, want 3 failed and 4 rows", sum, len(rows))
			}
			for _, r := range rows[:3] {
				// libtorch's own words for the shape mismatch.
				if r.Status != "failed" || !strings.Contains(r.Error, "cannot be multiplied") {
					t.Errorf("%s: status %q error %q, want failed with libtorch's message", r.Method, r.Status, r.Error)
				}
			}
			if rows[3].Method != "pt" || rows[3].Status != "ok" {
				t.Errorf("the run after the libtorch errors: %s %q %q, want pt ok", rows[3].Method, rows[3].Status, rows[3].Error)
			}
		})
	}
}
