package host

import (
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/ptbench/ptbench/core"
)

// TestResidualExamplePlugin builds the example plugin from its own module
// (plugins/examples/residual, which must not compile gotch), runs its unit tests, trains it
// through the host on t5-tiny (the loss on a repeated batch falls), and round-trips its state.
func TestResidualExamplePlugin(t *testing.T) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	dir, err := filepath.Abs("../examples/residual")
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(t.TempDir(), "ptbench-method-residual")
	gocmd := func(args ...string) string {
		cmd := exec.Command("go", args...)
		cmd.Dir = dir
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("go %s in %s: %v\n%s", strings.Join(args, " "), dir, err, out)
		}
		return string(out)
	}
	if deps := gocmd("list", "-deps", "."); strings.Contains(deps, "gotch") {
		t.Fatal("the example plugin depends on gotch; plugins/sdk must stay pure Go")
	}
	gocmd("build", "-o", bin, ".")
	gocmd("test", "./...")

	bb := openTiny(t)
	cfg := map[string]any{"length": 6, "hidden": 16, "mlp_lr": 1e-3}
	m, err := Open("residual", bin, cfg, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	if err := m.Setup(core.SetupEnv{Backbone: bb, Seed: 5, MaxSourceLen: 64}); err != nil {
		t.Fatal(err)
	}
	d := int64(64)
	if want := 6*d + 16*d + 16 + d*16 + d + 2*d; m.TrainableParams() != want {
		t.Errorf("%d trainable parameters, want %d", m.TrainableParams(), want)
	}
	if m.Label() != "Residual PT" {
		t.Errorf("label %q", m.Label())
	}
	srcs, tgts := fixedBatches(1, 4, bb.Info().Vocab)
	opt := core.NewAdamW(nil)
	defer opt.Close()
	var losses []float64
	for s := 0; s < 15; s++ {
		loss, err := core.TrainStep(bb, m, opt, srcs[0], tgts[0], 0, 1, 1)
		if err != nil {
			t.Fatal(err)
		}
		losses = append(losses, loss)
	}
	if losses[len(losses)-1] >= losses[0]-0.1 {
		t.Errorf("loss did not fall on a repeated batch: %v", losses)
	}

	st, err := m.SaveState()
	if err != nil {
		t.Fatal(err)
	}
	defer core.DropNamed(st)
	if len(st) != 8 || st[7].Name != "reparameterized_prompt" {
		t.Fatalf("state: %d tensors, last %q", len(st), st[len(st)-1].Name)
	}
	m2, err := Open("residual", bin, cfg, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer m2.Close()
	if err := m2.Setup(core.SetupEnv{Backbone: bb, Seed: 99, MaxSourceLen: 64}); err != nil {
		t.Fatal(err)
	}
	if err := m2.LoadState(st); err != nil {
		t.Fatal(err)
	}
	st2, err := m2.SaveState()
	if err != nil {
		t.Fatal(err)
	}
	defer core.DropNamed(st2)
	for i := range st {
		a, b := core.Float32s(st[i].Tensor), core.Float32s(st2[i].Tensor)
		for j := range a {
			if a[j] != b[j] {
				t.Fatalf("state %s differs after LoadState at %d", st[i].Name, j)
			}
		}
	}
}
