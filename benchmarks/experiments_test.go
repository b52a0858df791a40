package benchmarks

import (
	"slices"
	"strings"
	"testing"
)

// The six built-in experiments parse, name the paper's tables, and hold the paper's grids.
func TestBuiltinExperiments(t *testing.T) {
	all, err := Experiments()
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, x := range all {
		names = append(names, x.Name)
		if x.Title == "" || x.Paper == "" {
			t.Errorf("%s: no title or paper reference", x.Name)
		}
	}
	want := []string{"ablation", "fewshot", "glue", "scaling", "superglue", "time"}
	if !slices.Equal(names, want) {
		t.Fatalf("experiments %v, want %v", names, want)
	}
	glue, err := LoadExperiment("glue")
	if err != nil {
		t.Fatal(err)
	}
	plan, err := glue.Plan(ReproduceOptions{})
	if err != nil {
		t.Fatal(err)
	}
	methods, tasks := map[string]bool{}, map[string]int{}
	for _, p := range plan {
		for _, m := range p.Methods {
			methods[m] = true
		}
		for _, task := range p.Tasks {
			if !p.MultiTask {
				tasks[task] = max(tasks[task], p.Steps)
			}
		}
		// The papers' trainers drew random batches (DePT's runs: group_by_length False).
		if p.BatchSize != 16 || p.Backbone != "google-t5/t5-base" || p.EvalEvery != 1000 || p.GroupByLen {
			t.Errorf("group %q: batch %d, backbone %s, eval every %d, grouped %v", p.Group, p.BatchSize, p.Backbone, p.EvalEvery, p.GroupByLen)
		}
	}
	if len(methods) != 13 || !methods["ept"] || !methods["hyperdecoder"] {
		t.Errorf("glue methods %v: want EPT and its 12 comparisons", methods)
	}
	// SST-2 has 67k training examples: under the paper's 100k line.
	if tasks["rte"] != 30000 || tasks["sst2"] != 30000 || tasks["mnli"] != 300000 || tasks["qnli"] != 300000 || len(tasks) != 8 {
		t.Errorf("glue step budgets %v: want 30,000 under 100k examples, 300,000 above", tasks)
	}
	for _, name := range []string{"glue", "superglue"} {
		x, err := LoadExperiment(name)
		if err != nil {
			t.Fatal(err)
		}
		plan, err := x.Plan(ReproduceOptions{})
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range plan {
			if p.MultiTask {
				continue
			}
			// The paper's grids: prompt {3e-1, 4e-1, 5e-1} × low-rank {1e-4, 5e-4, 5e-3}.
			want := map[string]int{"pt": 3, "dept": 9, "ept": 9, "lora": 1, "ft": 1}
			for m, n := range want {
				if got := len(SweepVariants(p.Sweep, m)); got != n {
					t.Errorf("%s %q: %s has %d variants, want %d", name, p.Group, m, got, n)
				}
			}
			v := SweepVariants(p.Sweep, "ept")[5] // prompt 4e-1, low-rank 5e-3
			if got := v.Values(); got["ept.lr"] != 0.4 || got["ept.lowrank_lr"] != 5e-3 {
				t.Errorf("%s: EPT's sixth variant %v", name, got)
			}
			if p.MethodConfig["ept"]["proj_lr"] != 0 || p.MethodConfig["ft"]["lr"] != 3e-4 {
				t.Errorf("%s: EPT's projection rate %v, want 0 (= the prompt's); FT's rate %v, want the references' 3e-4",
					name, p.MethodConfig["ept"]["proj_lr"], p.MethodConfig["ft"]["lr"])
			}
		}
	}
	tm, err := LoadExperiment("time")
	if err != nil {
		t.Fatal(err)
	}
	plan, err = tm.Plan(ReproduceOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if !plan[0].PadToMax || plan[0].GroupByLen || plan[2].PadToMax || !plan[2].GroupByLen || plan[2].LabelSuffix == "" {
		t.Errorf("time: primary grid padded %v grouped %v; second grid padded %v grouped %v labelled %q: want 256-padded primary, labelled length-grouped second",
			plan[0].PadToMax, plan[0].GroupByLen, plan[2].PadToMax, plan[2].GroupByLen, plan[2].LabelSuffix)
	}
}

// A group's sweep multiplies its method's runs (and the cost), reaches the grid, and a
// group's axis replaces the experiment's of the same key.
func TestPlanSweep(t *testing.T) {
	x, err := ParseExperiment("x.yaml", []byte(`
name: x
backbone: t5-small
sweep:
  pt.lr: [0.3, 0.4]
  dept.prompt_lr: [0.3, 0.5]
groups:
  - name: a
    methods: [pt, lora]
    tasks: [rte, mrpc]
    steps: 10
  - name: b
    methods: [pt, dept]
    tasks: [rte]
    steps: 10
    pad_to_max: true
    label_suffix: " (padded)"
    sweep:
      pt.lr: [0.1, 0.2, 0.3]
      dept.lowrank_lr: [1e-4, 5e-3]
`))
	if err != nil {
		t.Fatal(err)
	}
	plan, err := x.Plan(ReproduceOptions{})
	if err != nil {
		t.Fatal(err)
	}
	a, b := plan[0], plan[1]
	if len(a.Sweep) != 1 || a.Sweep[0].Key() != "pt.lr" || a.Runs() != 2*2+2 {
		t.Errorf("group a: sweep %v, %d runs; want pt.lr only (dept not in the group), 6 runs", a.Sweep, a.Runs())
	}
	// b: pt 3 variants (the group's axis), dept 2 × 2.
	if b.Runs() != 3+4 || b.MethodRuns("pt") != 3 || !b.PadToMax {
		t.Errorf("group b: %d runs (pt %d), padded %v; want 7 (pt 3)", b.Runs(), b.MethodRuns("pt"), b.PadToMax)
	}
	if keys := []string{b.Sweep[0].Key(), b.Sweep[1].Key(), b.Sweep[2].Key()}; !slices.Equal(keys, []string{"dept.lr", "pt.lr", "dept.lowrank_lr"}) {
		t.Errorf("group b axes %v", keys)
	}
	g := b.Grid(Grid{})
	if len(g.Variants("dept")) != 4 || !g.Train.PadToMax || g.LabelSuffix != " (padded)" {
		t.Errorf("grid b: %d dept variants, padded %v, suffix %q", len(g.Variants("dept")), g.Train.PadToMax, g.LabelSuffix)
	}
	c := EstimateCost(plan, nil)
	if c.Runs != 13 || c.Steps != 130 {
		t.Errorf("cost %+v: want 13 runs, 130 steps (every variant counted)", c)
	}
	// reproduce --sweep: adds an axis where its method runs, replaces one of the same key;
	// --no-sweep drops the file's axes first.
	extra, err := ParseSweeps([]string{"pt.lr=0.9", "lora.lr=1e-4,5e-4"}, []string{"pt", "lora"})
	if err != nil {
		t.Fatal(err)
	}
	plan, err = x.Plan(ReproduceOptions{Sweep: extra})
	if err != nil {
		t.Fatal(err)
	}
	if plan[0].MethodRuns("pt") != 2 || plan[0].MethodRuns("lora") != 4 || plan[1].MethodRuns("pt") != 1 || plan[1].MethodRuns("dept") != 4 {
		t.Errorf("with --sweep: group a pt %d lora %d runs, group b pt %d dept %d; want 2, 4, 1, 4",
			plan[0].MethodRuns("pt"), plan[0].MethodRuns("lora"), plan[1].MethodRuns("pt"), plan[1].MethodRuns("dept"))
	}
	plan, err = x.Plan(ReproduceOptions{Sweep: extra, NoSweep: true})
	if err != nil {
		t.Fatal(err)
	}
	if plan[1].MethodRuns("dept") != 1 || plan[1].MethodRuns("pt") != 1 {
		t.Errorf("--no-sweep with --sweep: dept %d, pt %d runs; want the file's axes dropped, --sweep's kept", plan[1].MethodRuns("dept"), plan[1].MethodRuns("pt"))
	}
	if _, err := x.Plan(ReproduceOptions{Sweep: []SweepAxis{{Method: "ept", Setting: "lr", Values: []any{1}}}}); err == nil || !strings.Contains(err.Error(), `has no method "ept"`) {
		t.Errorf("--sweep of a method the experiment lacks: %v", err)
	}
	for _, tc := range []struct{ yaml, want string }{
		{"name: x\nbackbone: b\ngroups:\n  - {name: g, methods: [pt], tasks: [rte], steps: 5, sweep: {ept.lr: [1]}}\n", `sweep ept.lr: "ept" is not among its methods`},
		{"name: x\nbackbone: b\ngroups:\n  - {name: g, methods: [pt], tasks: [rte], steps: 5, sweep: {pt.lr: []}}\n", "non-empty list"},
		{"name: x\nbackbone: b\ngroups:\n  - {name: g, methods: [pt], tasks: [rte], steps: 5, sweep: {lr: [1]}}\n", "want method.setting"},
		{"name: x\nbackbone: b\ngroups:\n  - {name: g, methods: [pt], tasks: [rte], steps: 5, sweep: {pt.lr: [.nan]}}\n", "finite"},
	} {
		_, err := ParseExperiment("x.yaml", []byte(tc.yaml))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: error %v, want %q", tc.yaml, err, tc.want)
		}
	}
}

func TestPlanScalesFiltersAndExpands(t *testing.T) {
	x, err := ParseExperiment("x.yaml", []byte(`
name: x
backbone: t5-base
seeds: [1, 2]
batch_size: 16
eval_every: 1000
method_config: {pt: {lr: 0.3}}
groups:
  - name: a
    methods: [pt, ept]
    tasks: [rte, mrpc]
    steps: 30000
    k_shot: [4, 16]
    method_config: {pt: {length: 8}}
    labels: {ept: "EPT variant"}
  - name: b
    methods: [hyperformer]
    tasks: [rte, cola]
    steps: 300000
    multi_task: true
    backbone: t5-small
    dtype: bfloat16
`))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name      string
		opts      ReproduceOptions
		grids     int
		steps     []int
		evalEvery []int
		runs      int
		backbones []string
	}{
		{"as written", ReproduceOptions{}, 3, []int{30000, 30000, 300000}, []int{1000, 1000, 1000}, 8 + 8 + 2, []string{"t5-base", "t5-base", "t5-small"}},
		{"scaled", ReproduceOptions{StepsScale: 0.001}, 3, []int{30, 30, 300}, []int{10, 10, 10}, 18, nil},
		{"scaled a little", ReproduceOptions{StepsScale: 0.1}, 3, []int{3000, 3000, 30000}, []int{100, 100, 100}, 18, nil},
		{"scaled below one step", ReproduceOptions{StepsScale: 1e-9}, 3, []int{1, 1, 1}, []int{1, 1, 1}, 18, nil},
		{"one task", ReproduceOptions{Tasks: []string{"cola"}}, 1, []int{300000}, nil, 2, nil},
		{"one method, one seed", ReproduceOptions{Methods: []string{"ept"}, Seeds: []int64{7}}, 2, []int{30000, 30000}, nil, 4, nil},
		{"backbone replaced", ReproduceOptions{Backbone: "t5-tiny"}, 3, nil, nil, 18, []string{"t5-tiny", "t5-tiny", "t5-tiny"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			plan, err := x.Plan(tc.opts)
			if err != nil {
				t.Fatal(err)
			}
			if len(plan) != tc.grids {
				t.Fatalf("%d grids, want %d: %+v", len(plan), tc.grids, plan)
			}
			runs := 0
			for i, p := range plan {
				runs += p.Runs()
				if tc.steps != nil && p.Steps != tc.steps[i] {
					t.Errorf("grid %d: %d steps, want %d", i, p.Steps, tc.steps[i])
				}
				if tc.evalEvery != nil && p.EvalEvery != tc.evalEvery[i] {
					t.Errorf("grid %d: eval every %d, want %d", i, p.EvalEvery, tc.evalEvery[i])
				}
				if tc.backbones != nil && p.Backbone != tc.backbones[i] {
					t.Errorf("grid %d: backbone %s, want %s", i, p.Backbone, tc.backbones[i])
				}
			}
			if runs != tc.runs {
				t.Errorf("%d runs, want %d", runs, tc.runs)
			}
		})
	}
	plan, _ := x.Plan(ReproduceOptions{})
	a := plan[1] // group a, k = 16
	if a.KShot != 16 || a.MethodConfig["pt"]["lr"] != 0.3 || a.MethodConfig["pt"]["length"] != 8 {
		t.Errorf("group a (k 16): k %d, config %v: want the experiment's and the group's settings merged", a.KShot, a.MethodConfig)
	}
	g := a.Grid(Grid{OutDir: "out"})
	if g.OutDir != "out" || g.Data.KShot != 16 || g.LabelSuffix != " (k=16)" || g.Labels["ept"] != "EPT variant" || len(g.Seeds) != 2 {
		t.Errorf("grid from plan: %+v", g)
	}
	if b := plan[2]; !b.MultiTask || b.DType != "bfloat16" || b.Runs() != 2 {
		t.Errorf("group b: %+v", b)
	}
	for _, bad := range []ReproduceOptions{{Tasks: []string{"wsc"}}, {Methods: []string{"lora"}}, {StepsScale: -1}} {
		if _, err := x.Plan(bad); err == nil {
			t.Errorf("%+v accepted", bad)
		}
	}
}

func TestParseExperimentErrorsNameTheFileAndGroup(t *testing.T) {
	for _, tc := range []struct{ yaml, want string }{
		{"name: x\nbackbone: b\ngroups: []\n", "x.yaml: no groups"},
		{"name: x\nbackbone: b\ngroups:\n  - {name: g, methods: [pt], tasks: [rte], steps: 0}\n", `group 1 ("g"): steps must be > 0`},
		{"name: x\ngroups:\n  - {name: g, methods: [pt], tasks: [rte], steps: 5}\n", `group 1 ("g"): no backbone`},
		{"name: x\nbackbone: b\ngroups:\n  - {name: g, methods: [], tasks: [rte], steps: 5}\n", "no methods"},
		{"name: x\nbackbone: b\ngroups:\n  - {name: g, methods: [pt], tasks: [rte], steps: 5, k_shot: [-4]}\n", "k_shot must be ≥ 0"},
		{"name: x\nbackbone: b\ngroups:\n  - {name: g, methods: [pt], tasks: [rte], steps: 5, labels: {ept: E}}\n", `label for "ept"`},
		{"name: x\nbackbone: b\nstep: 4\ngroups:\n  - {name: g, methods: [pt], tasks: [rte], steps: 5}\n", "field step not found"},
	} {
		_, err := ParseExperiment("x.yaml", []byte(tc.yaml))
		if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "x.yaml") {
			t.Errorf("%q: error %v, want it to name x.yaml and say %q", tc.yaml, err, tc.want)
		}
	}
	if _, err := LoadExperiment("gleu"); err == nil || !strings.Contains(err.Error(), "glue") {
		t.Errorf("unknown experiment: %v, want the list of known ones", err)
	}
}

func TestStepSecondsAndCost(t *testing.T) {
	for _, tc := range []struct {
		backbone, method, dtype string
		batch                   int
		want                    float64
		source                  string
	}{
		{"t5-small", "pt", "", 16, 3.07, "measured"},
		{"t5-small", "pt", "bfloat16", 16, 1.79, "measured"},
		{"/models/t5-small/", "pt", "", 32, 6.14, "measured"},
		{"google-t5/t5-base", "ept", "", 16, 13.0 * 0.87, "measured"},
		{"google-t5/t5-11b", "pt", "bfloat16", 16, 385, "extrapolated"},
		{"meta-llama/Llama-2-7b-hf", "pt", "bfloat16", 16, 1560, "extrapolated"},
		{"some/unknown", "pt", "", 16, 13.0, "assumed t5-base"},
	} {
		got, src := StepSeconds(tc.backbone, tc.method, tc.batch, tc.dtype)
		if d := got - tc.want; d > 1e-9 || d < -1e-9 || src != tc.source {
			t.Errorf("StepSeconds(%s, %s, %d, %q) = %v (%s), want %v (%s)", tc.backbone, tc.method, tc.batch, tc.dtype, got, src, tc.want, tc.source)
		}
	}
	plan := []PlannedGrid{{Methods: []string{"pt", "ept"}, Tasks: []string{"rte", "mrpc"}, Seeds: []int64{1}, Backbone: "t5-small", Steps: 10, BatchSize: 16}}
	c := EstimateCost(plan, nil)
	if c.Runs != 4 || c.Steps != 40 || c.Seconds < 20*3.07+20*3.07*0.87-1e-6 || c.Seconds > 20*3.07+20*3.07*0.87+1e-6 {
		t.Errorf("cost %+v", c)
	}
}
