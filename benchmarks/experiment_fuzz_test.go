package benchmarks

import (
	"path/filepath"
	"testing"

	"github.com/ptbench/ptbench/core/storage"
)

// FuzzExperimentYAML: any experiment file is refused with an error naming the file, or
// parsed into an experiment whose name stays one folder name (runs/<name>) and whose plan
// (at a small steps scale) resolves without panicking into grids with positive budgets.
func FuzzExperimentYAML(f *testing.F) {
	ents, _ := experimentFiles.ReadDir("experiments")
	for _, e := range ents {
		if raw, err := experimentFiles.ReadFile("experiments/" + e.Name()); err == nil {
			f.Add(raw)
		}
	}
	f.Add([]byte("name: ../../../tmp/x\nbackbone: t5-tiny\ngroups:\n  - name: g\n    methods: [pt]\n    tasks: [rte]\n    steps: 10\n"))
	f.Add([]byte("backbone: t5-tiny\ngroups:\n  - name: g\n    methods: [pt]\n    tasks: [rte]\n    steps: -1\n"))
	f.Add([]byte("groups: {}\n"))
	f.Fuzz(func(t *testing.T, raw []byte) {
		x, err := ParseExperiment("fuzz.yaml", raw)
		if err != nil {
			return
		}
		if err := storage.CheckPathElement("name", x.Name); err != nil || !filepath.IsLocal(x.Name) {
			t.Fatalf("accepted name %q: %v", x.Name, err)
		}
		plan, err := x.Plan(ReproduceOptions{StepsScale: 0.01})
		if err != nil {
			return
		}
		for _, p := range plan {
			if len(p.Methods) == 0 || len(p.Tasks) == 0 || p.Steps < 1 {
				t.Fatalf("planned grid %+v", p)
			}
		}
	})
}
