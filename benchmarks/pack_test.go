package benchmarks

import (
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ptbench/ptbench/core"
	"github.com/ptbench/ptbench/core/coretest"
	"github.com/ptbench/ptbench/core/storage"
	_ "github.com/ptbench/ptbench/methods/ept"
)

// packedNaN is nanMethod declared packable: its loss is NaN from the first step.
type packedNaN struct{ nanMethod }

func (*packedNaN) PacksRows() bool { return true }

func init() {
	core.RegisterMethod("test-nan-packed", "test only", func(map[string]any) (core.Method, error) { return &packedNaN{}, nil })
}

// packGrid is smallGrid over both synthetic tasks with valid pt, dept and ept settings.
func packGrid(out string, methods []string, seeds []int64, pack int) *Grid {
	g := smallGrid(out, methods, seeds)
	g.Tasks = []string{"syn-keyword", "syn-parity"}
	g.MethodConfigs = map[string]map[string]any{
		"pt":   {"length": 4},
		"dept": {"length": 6, "rank": 2},
		"ept":  {"length": 5, "rank": 2},
	}
	g.Pack = pack
	return g
}

func rowsByKey(t *testing.T, out string) map[string]storage.ResultRow {
	t.Helper()
	rows, err := storage.ReadResults(filepath.Join(out, storage.ResultsFile))
	if err != nil {
		t.Fatal(err)
	}
	by := map[string]storage.ResultRow{}
	for _, r := range rows {
		by[r.RunKey] = r
	}
	return by
}

// assertSameRun checks a packed row against its unpacked row: the pack's shared passes all
// succeeded (nothing retried alone), status, every step's loss within 1e-4 relative,
// identical dev and test scores, identical prediction files.
func assertSameRun(t *testing.T, alone, packed storage.ResultRow, aloneOut, packedOut string) {
	t.Helper()
	if packed.Extra["pack_alone_steps"] != nil || packed.Extra["pack_alone_evals"] != nil {
		t.Errorf("%s: the pack's shared pass failed: %v steps and %v evaluations alone", packed.RunKey,
			packed.Extra["pack_alone_steps"], packed.Extra["pack_alone_evals"])
	}
	if alone.Status != packed.Status || alone.Steps != packed.Steps || alone.BestStep != packed.BestStep {
		t.Errorf("%s: status/steps/best %s/%d/%d packed, %s/%d/%d alone", alone.RunKey,
			packed.Status, packed.Steps, packed.BestStep, alone.Status, alone.Steps, alone.BestStep)
	}
	if alone.Curves == nil || packed.Curves == nil || len(alone.Curves.Loss) != len(packed.Curves.Loss) || len(alone.Curves.Loss) == 0 {
		t.Fatalf("%s: loss curves missing or of different lengths", alone.RunKey)
	}
	for i, p := range alone.Curves.Loss {
		q := packed.Curves.Loss[i]
		if rel := math.Abs(p.Value-q.Value) / math.Abs(p.Value); !(rel <= 1e-4) {
			t.Errorf("%s step %d: loss %v packed, %v alone (relative %.2g)", alone.RunKey, p.Step, q.Value, p.Value, rel)
		}
	}
	if alone.DevScore != packed.DevScore || alone.TestScore != packed.TestScore {
		t.Errorf("%s: dev/test %v/%v packed, %v/%v alone", alone.RunKey, packed.DevScore, packed.TestScore, alone.DevScore, alone.TestScore)
	}
	for _, f := range []string{alone.Predictions["dev"], alone.Predictions["test"]} {
		if f == "" {
			t.Fatalf("%s: no predictions file", alone.RunKey)
		}
		a, errA := os.ReadFile(filepath.Join(aloneOut, f))
		b, errB := os.ReadFile(filepath.Join(packedOut, f))
		if errA != nil || errB != nil || string(a) != string(b) {
			t.Errorf("%s: predictions %s differ (%v, %v)", alone.RunKey, f, errA, errB)
		}
	}
}

// packedMatchesAlone trains methods × both synthetic tasks × seeds (packGrid, adjusted by
// configure) once run by run and once as one pack of them all, and checks that every run ran,
// packed, and left the row it leaves alone (assertSameRun; the keys must not change).
func packedMatchesAlone(t *testing.T, methods []string, seeds []int64, configure func(*Grid)) {
	t.Helper()
	n := 2 * len(methods) * len(seeds)
	aloneOut, packedOut := t.TempDir(), t.TempDir()
	for _, c := range []struct {
		out  string
		pack int
	}{{aloneOut, 1}, {packedOut, n}} {
		g := packGrid(c.out, methods, seeds, c.pack)
		if configure != nil {
			configure(g)
		}
		var log strings.Builder
		g.Log = &log
		sum, err := g.Run()
		if err != nil {
			t.Fatal(err)
		}
		if sum.Ran != n || sum.Failed+sum.Diverged != 0 {
			t.Fatalf("--pack %d: %+v, want %d ran\n%s", c.pack, sum, n, log.String())
		}
		if c.pack > 1 && (!strings.Contains(log.String(), fmt.Sprintf("training %d runs as one pack", n)) || strings.Contains(log.String(), "runs alone")) {
			t.Fatalf("--pack %d did not pack every run:\n%s", c.pack, log.String())
		}
	}
	alone, packed := rowsByKey(t, aloneOut), rowsByKey(t, packedOut)
	if len(alone) != n || len(packed) != n {
		t.Fatalf("%d rows alone, %d packed; want %d each", len(alone), len(packed), n)
	}
	for key, a := range alone {
		p, ok := packed[key]
		if !ok {
			t.Fatalf("run %s has no packed row (keys changed?)", key)
		}
		if p.Extra["pack"] != float64(n) {
			t.Errorf("%s: extra.pack = %v, want %d", key, p.Extra["pack"], n)
		}
		assertSameRun(t, a, p, aloneOut, packedOut)
	}
}

// Packing changes nothing a row reports: methods, tasks and seeds packed together give the
// rows, keys, losses, scores and predictions of the same runs trained one at a time.
func TestPackedGridMatchesUnpacked(t *testing.T) {
	coretest.LockThread(t)
	packedMatchesAlone(t, []string{"pt", "dept", "ept"}, []int64{1, 2}, nil)
}

// A run that fails or diverges in a pack ends alone: its packmates train on and report what
// they report unpacked.
func TestPackedRunFailsAlone(t *testing.T) {
	coretest.LockThread(t)
	aloneOut, packedOut := t.TempDir(), t.TempDir()
	if _, err := packGrid(aloneOut, []string{"pt"}, []int64{1}, 1).Run(); err != nil {
		t.Fatal(err)
	}
	g := packGrid(packedOut, []string{"dept", "test-nan-packed", "pt"}, []int64{1}, 6)
	g.MethodConfigs["dept"] = map[string]any{"length": 4, "rank": 2, "max_len": 8} // sources are longer: fails in its first transform
	sum, err := g.Run()
	if err != nil {
		t.Fatal(err)
	}
	if sum.Failed != 2 || sum.Diverged != 2 || sum.Ran != 2 {
		t.Fatalf("summary %+v, want 2 failed (dept), 2 diverged (NaN), 2 ran (pt)", sum)
	}
	alone, packed := rowsByKey(t, aloneOut), rowsByKey(t, packedOut)
	seen := 0
	for key, p := range packed {
		switch p.Method {
		case "dept":
			if p.Status != "failed" || !strings.Contains(p.Error, "max_len") {
				t.Errorf("dept row: status %s, error %q", p.Status, p.Error)
			}
		case "test-nan-packed":
			if p.Status != "diverged" || p.Steps != 1 {
				t.Errorf("NaN row: status %s after %d steps", p.Status, p.Steps)
			}
		case "pt":
			a, ok := alone[key]
			if !ok {
				t.Fatalf("pt run %s: key differs from the unpacked run's", key)
			}
			assertSameRun(t, a, p, aloneOut, packedOut)
			seen++
		}
	}
	if seen != 2 {
		t.Fatalf("%d pt rows compared, want 2", seen)
	}
}

// packBackbone is a backbone preset and its weights' storage for the pack tests.
type packBackbone struct {
	name  string
	quant core.Quant
}

// packedMatchesAloneOn runs packedMatchesAlone on each backbone as a subtest (configure, if
// set, adjusts the grids further).
func packedMatchesAloneOn(t *testing.T, backbones []packBackbone, methods []string, seeds []int64, configure func(*Grid)) {
	for _, b := range backbones {
		t.Run(b.name+"-"+b.quant.String(), func(t *testing.T) {
			coretest.LockThread(t) // grad mode is per OS thread; a subtest runs on its own goroutine
			packedMatchesAlone(t, methods, seeds, func(g *Grid) {
				g.Backbone, g.BackboneOpts.Quant = b.name, b.quant
				if configure != nil {
					configure(g)
				}
			})
		})
	}
}

// Every backbone packs (core.Packer: its padding side, per-run losses inside the model):
// Llama with float32 weights, and T5 and Llama with NF4 weights, whose packs take their
// recomputed backward (every length in one pass) — the same rows as the runs trained one at
// a time.
func TestPackedGridMatchesUnpackedOnEveryBackbone(t *testing.T) {
	packedMatchesAloneOn(t, []packBackbone{{"t5-tiny", core.QuantNF4}, {"llama-tiny", core.QuantNone}, {"llama-tiny", core.QuantNF4}},
		[]string{"pt", "dept", "ept"}, []int64{1}, nil)
}

// --pack auto over 4-bit weights packs as many runs as the memory left allows: without a
// known limit, both runs in one pack; with no memory to spare, each run alone — the log says
// which and why, and the rows record it.
func TestPackAutoWithinMemory(t *testing.T) {
	coretest.LockThread(t)
	for _, c := range []struct {
		name     string
		limit    int64
		wantLog  string
		wantPack any
	}{
		{"no limit known", 0, "--pack auto: 4 (4-bit weights", float64(2)},
		{"no memory to spare", 1, "--pack auto: 1 (4-bit weights, but each more run", nil},
	} {
		out := t.TempDir()
		g := packGrid(out, []string{"pt"}, []int64{1}, PackAuto)
		g.Backbone, g.BackboneOpts.Quant, g.MemoryLimit = "llama-tiny", core.QuantNF4, c.limit
		var log strings.Builder
		g.Log = &log
		if sum, err := g.Run(); err != nil || sum.Ran != 2 {
			t.Fatalf("%s: %+v, %v\n%s", c.name, sum, err, log.String())
		}
		if !strings.Contains(log.String(), c.wantLog) {
			t.Fatalf("%s: log lacks %q:\n%s", c.name, c.wantLog, log.String())
		}
		for key, r := range rowsByKey(t, out) {
			if r.Extra["pack"] != c.wantPack {
				t.Errorf("%s: %s extra.pack = %v, want %v", c.name, key, r.Extra["pack"], c.wantPack)
			}
		}
	}
}
