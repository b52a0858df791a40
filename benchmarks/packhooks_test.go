package benchmarks

import (
	"strings"
	"testing"

	"github.com/ptbench/ptbench/core"
	"github.com/ptbench/ptbench/core/coretest"
	_ "github.com/ptbench/ptbench/methods/bitfit"
	_ "github.com/ptbench/ptbench/methods/lora"
)

// Hook methods pack too (LoRA, BitFit: each run's hooks see only its own rows of a stacked
// pass), beside an input method in passes of its own, on T5 and on Llama in float32 and NF4 (the recomputed
// backward with the pack's hooks): every row as when the runs train one at a time.
func TestPackedHookMethodsMatchUnpacked(t *testing.T) {
	for _, c := range []struct {
		backbone string
		quant    core.Quant
	}{{"t5-tiny", core.QuantNone}, {"llama-tiny", core.QuantNone}, {"llama-tiny", core.QuantNF4}} {
		t.Run(c.backbone+"-"+c.quant.String(), func(t *testing.T) {
			coretest.LockThread(t) // grad mode is per OS thread; a subtest runs on its own goroutine
			methods, seeds := []string{"lora", "bitfit", "pt"}, []int64{1, 2}
			aloneOut, packedOut := t.TempDir(), t.TempDir()
			for _, run := range []struct {
				out  string
				pack int
			}{{aloneOut, 1}, {packedOut, 12}} {
				g := packGrid(run.out, methods, seeds, run.pack)
				g.Backbone, g.BackboneOpts.Quant = c.backbone, c.quant
				// PT's 40 prompt tokens put its rows in passes of their own (lengthGroups), where
				// no hook method's hooks may be left installed.
				g.MethodConfigs["pt"] = map[string]any{"length": 40}
				var log strings.Builder
				g.Log = &log
				sum, err := g.Run()
				if err != nil {
					t.Fatal(err)
				}
				if sum.Ran != 12 || sum.Failed+sum.Diverged != 0 {
					t.Fatalf("--pack %d: %+v, want 12 ran\n%s", run.pack, sum, log.String())
				}
				if run.pack > 1 && (!strings.Contains(log.String(), "training 12 runs as one pack") || strings.Contains(log.String(), "runs alone")) {
					t.Fatalf("--pack %d did not pack every run:\n%s", run.pack, log.String())
				}
			}
			alone, packed := rowsByKey(t, aloneOut), rowsByKey(t, packedOut)
			if len(alone) != 12 || len(packed) != 12 {
				t.Fatalf("%d rows alone, %d packed; want 12 each", len(alone), len(packed))
			}
			for key, a := range alone {
				p, ok := packed[key]
				if !ok {
					t.Fatalf("run %s has no packed row (keys changed?)", key)
				}
				assertSameRun(t, a, p, aloneOut, packedOut)
			}
		})
	}
}
