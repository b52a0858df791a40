package benchmarks

import (
	"bytes"
	"embed"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/ptbench/ptbench/core"
	"github.com/ptbench/ptbench/core/storage"
)

// The EPT paper's experiments, one file per table or figure (benchmarks/experiments/*.yaml),
// built into the binary so `ptbench reproduce NAME` needs nothing beside it. A user's own
// experiment file is read the same way (`ptbench reproduce path/to/mine.yaml`).
//
//go:embed experiments/*.yaml
var experimentFiles embed.FS

// Experiment is one table or figure of the paper as a set of grids: every group is a grid
// (methods × tasks × seeds, one step budget, optionally k-shot or multi-task) written into
// the same results folder, so one leaderboard shows the whole table.
type Experiment struct {
	Name      string  `yaml:"name" json:"name"`
	Title     string  `yaml:"title" json:"title"`
	Paper     string  `yaml:"paper" json:"paper"` // which table or figure it reproduces
	Backbone  string  `yaml:"backbone" json:"backbone,omitempty"`
	Quant     string  `yaml:"quant" json:"quant,omitempty"`
	DType     string  `yaml:"dtype" json:"dtype,omitempty"`
	Seeds     []int64 `yaml:"seeds" json:"seeds"`
	BatchSize int     `yaml:"batch_size" json:"batch_size"`
	EvalEvery int     `yaml:"eval_every" json:"eval_every"`
	// GroupByLength draws batches from windows of similar-length examples (less padding, the
	// same per-row losses; see engine.LengthGroupedBatches).
	GroupByLength bool `yaml:"group_by_length" json:"group_by_length"`
	// PadToMax pads every input to the max source length (256), as DePT's and EPT's reference
	// runs did; their step times were measured so.
	PadToMax bool `yaml:"pad_to_max" json:"pad_to_max"`
	// Sweep applies to every group with the axis's method (a group's own sweep replaces an
	// axis of the same key): {method.setting: [values]} (sweep.go).
	Sweep Sweep `yaml:"sweep" json:"sweep,omitempty"`
	// MethodConfig applies to every group (a group's own method_config overrides it key by key).
	MethodConfig map[string]map[string]any `yaml:"method_config" json:"method_config,omitempty"`
	Groups       []ExperimentGroup         `yaml:"groups" json:"groups"`
	File         string                    `yaml:"-" json:"file"` // where it was read from
}

// ExperimentGroup is one grid of an experiment. Empty fields take the experiment's values.
type ExperimentGroup struct {
	Name         string                    `yaml:"name" json:"name"`
	Methods      []string                  `yaml:"methods" json:"methods"`
	Tasks        []string                  `yaml:"tasks" json:"tasks"`
	Steps        int                       `yaml:"steps" json:"steps"`
	KShot        []int                     `yaml:"k_shot" json:"k_shot,omitempty"` // one grid per k (0 = all data)
	MultiTask    bool                      `yaml:"multi_task" json:"multi_task,omitempty"`
	Backbone     string                    `yaml:"backbone" json:"backbone,omitempty"`
	Quant        string                    `yaml:"quant" json:"quant,omitempty"`
	DType        string                    `yaml:"dtype" json:"dtype,omitempty"`
	Seeds        []int64                   `yaml:"seeds" json:"seeds,omitempty"`
	BatchSize    int                       `yaml:"batch_size" json:"batch_size,omitempty"`
	EvalEvery    int                       `yaml:"eval_every" json:"eval_every,omitempty"`
	MethodConfig map[string]map[string]any `yaml:"method_config" json:"method_config,omitempty"`
	// Labels name a method's leaderboard row (ablation variants of one method get a row each).
	Labels map[string]string `yaml:"labels" json:"labels,omitempty"`
	// LabelSuffix is appended to every row label of the group (a second grid of the same
	// methods, e.g. " (length-grouped)", gets rows of its own).
	LabelSuffix string `yaml:"label_suffix" json:"label_suffix,omitempty"`
	// GroupByLength and PadToMax, if set, replace the experiment's.
	GroupByLength *bool `yaml:"group_by_length" json:"group_by_length,omitempty"`
	PadToMax      *bool `yaml:"pad_to_max" json:"pad_to_max,omitempty"`
	// Sweep: {method.setting: [values]}, on top of the experiment's.
	Sweep Sweep `yaml:"sweep" json:"sweep,omitempty"`
}

// Experiments lists the built-in experiments, sorted by name.
func Experiments() ([]*Experiment, error) {
	entries, err := experimentFiles.ReadDir("experiments")
	if err != nil {
		return nil, err
	}
	var out []*Experiment
	for _, e := range entries {
		raw, err := experimentFiles.ReadFile("experiments/" + e.Name())
		if err != nil {
			return nil, err
		}
		x, err := ParseExperiment("experiments/"+e.Name(), raw)
		if err != nil {
			return nil, err
		}
		out = append(out, x)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// LoadExperiment finds a built-in experiment by name, or reads a YAML file (a name ending in
// .yaml/.yml or containing a path separator).
func LoadExperiment(nameOrPath string) (*Experiment, error) {
	if strings.HasSuffix(nameOrPath, ".yaml") || strings.HasSuffix(nameOrPath, ".yml") || strings.ContainsRune(nameOrPath, os.PathSeparator) {
		raw, err := os.ReadFile(nameOrPath)
		if err != nil {
			return nil, err
		}
		return ParseExperiment(nameOrPath, raw)
	}
	all, err := Experiments()
	if err != nil {
		return nil, err
	}
	var names []string
	for _, x := range all {
		if x.Name == nameOrPath {
			return x, nil
		}
		names = append(names, x.Name)
	}
	return nil, fmt.Errorf("no experiment %q (built in: %s; or give a .yaml file)", nameOrPath, strings.Join(names, ", "))
}

// ParseExperiment reads one experiment file; unknown keys and impossible values are errors
// naming the file (and the group).
func ParseExperiment(file string, raw []byte) (*Experiment, error) {
	var x Experiment
	dec := yaml.NewDecoder(bytes.NewReader(raw))
	dec.KnownFields(true)
	if err := dec.Decode(&x); err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	x.File = file
	if x.Name == "" {
		x.Name = strings.TrimSuffix(strings.TrimSuffix(filepath.Base(file), ".yaml"), ".yml")
	}
	if err := storage.CheckPathElement("name", x.Name); err != nil { // runs/<name> must stay in runs/
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	if len(x.Groups) == 0 {
		return nil, fmt.Errorf("%s: no groups (each group is a grid: methods, tasks, steps)", file)
	}
	bad := func(g int, format string, args ...any) error {
		return fmt.Errorf("%s: group %d (%q): %s", file, g+1, x.Groups[g].Name, fmt.Sprintf(format, args...))
	}
	if err := canonicalNumerics(&x.DType, &x.Quant); err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	for i := range x.Groups {
		if err := canonicalNumerics(&x.Groups[i].DType, &x.Groups[i].Quant); err != nil {
			return nil, bad(i, "%v", err)
		}
	}
	for i, g := range x.Groups {
		switch {
		case len(g.Methods) == 0:
			return nil, bad(i, "no methods")
		case len(g.Tasks) == 0:
			return nil, bad(i, "no tasks")
		case g.Steps <= 0:
			return nil, bad(i, "steps must be > 0, got %d", g.Steps)
		case x.backbone(g) == "":
			return nil, bad(i, "no backbone (set it on the experiment or the group)")
		}
		for _, k := range g.KShot {
			if k < 0 {
				return nil, bad(i, "k_shot must be ≥ 0, got %d", k)
			}
		}
		for m := range g.Labels {
			if !slices.Contains(g.Methods, m) {
				return nil, bad(i, "label for %q, which is not among its methods", m)
			}
		}
		for _, a := range g.Sweep {
			if !slices.Contains(g.Methods, a.Method) {
				return nil, bad(i, "sweep %s: %q is not among its methods", a.Key(), a.Method)
			}
		}
	}
	return &x, nil
}

// canonicalNumerics checks an experiment's dtype and quant with the CLI's rules
// (core.ParseDType, core.ParseQuant) and rewrites a given one to its canonical name ("bf16" →
// "bfloat16"); an empty one stays empty (inherited from the experiment, or the default).
func canonicalNumerics(dtype, quant *string) error {
	if *dtype != "" {
		d, err := core.ParseDType(*dtype)
		if err != nil {
			return err
		}
		*dtype = d.String()
	}
	if *quant != "" {
		q, err := core.ParseQuant(*quant)
		if err != nil {
			return err
		}
		*quant = q.String()
	}
	return nil
}

func (x *Experiment) backbone(g ExperimentGroup) string { return cmpOr(g.Backbone, x.Backbone) }

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// ReproduceOptions narrow or scale an experiment for one invocation.
type ReproduceOptions struct {
	Backbone   string   // replaces every group's backbone
	StepsScale float64  // multiplies every step budget and evaluation interval (0 = 1); scaled-down runs evaluate at most every 10 steps
	Tasks      []string // keep only these tasks (none = all)
	Methods    []string // keep only these methods (none = all)
	Seeds      []int64  // replace the seeds
	// NoSweep runs every method once, with the experiment's settings and no learning-rate
	// search (a quick look; the paper's tables select among the sweep's variants).
	NoSweep bool
	// Sweep adds axes (`reproduce --sweep`) to every grid with the axis's method; an axis of
	// a key the experiment sweeps replaces the experiment's. Applied after NoSweep.
	Sweep []SweepAxis
}

// PlannedGrid is one grid of an experiment, resolved: what `ptbench reproduce` runs.
type PlannedGrid struct {
	Group        string                    `json:"group"`
	Methods      []string                  `json:"methods"`
	Tasks        []string                  `json:"tasks"`
	Seeds        []int64                   `json:"seeds"`
	Backbone     string                    `json:"backbone"`
	Quant        string                    `json:"quant,omitempty"`
	DType        string                    `json:"dtype,omitempty"`
	Steps        int                       `json:"steps"`
	BatchSize    int                       `json:"batch_size"`
	EvalEvery    int                       `json:"eval_every"`
	KShot        int                       `json:"k_shot,omitempty"`
	MultiTask    bool                      `json:"multi_task,omitempty"`
	GroupByLen   bool                      `json:"group_by_length,omitempty"`
	PadToMax     bool                      `json:"pad_to_max"`
	MethodConfig map[string]map[string]any `json:"method_config,omitempty"`
	Labels       map[string]string         `json:"labels,omitempty"`
	LabelSuffix  string                    `json:"label_suffix,omitempty"`
	// Sweep: the axes of the grid's methods; every method runs once per variant.
	Sweep []SweepAxis `json:"sweep,omitempty"`
}

// Runs is how many training runs the grid holds (a multi-task grid trains once per method
// variant and seed).
func (p PlannedGrid) Runs() int {
	n := 0
	for _, m := range p.Methods {
		n += p.MethodRuns(m)
	}
	return n
}

// MethodRuns is how many of the grid's runs train method: its sweep variants × seeds × tasks
// (one task set if multi-task).
func (p PlannedGrid) MethodRuns(method string) int {
	n := len(SweepVariants(p.Sweep, method)) * len(p.Seeds)
	if !p.MultiTask {
		n *= len(p.Tasks)
	}
	return n
}

// Plan resolves the experiment's groups into grids under the options; groups left with no
// methods or tasks by the filters are dropped. An option that matches nothing is an error.
func (x *Experiment) Plan(o ReproduceOptions) ([]PlannedGrid, error) {
	scale := o.StepsScale
	if scale == 0 {
		scale = 1
	}
	if !(scale > 0 && scale <= 1) { // above 1 multiplies budgets: 1e9 gave 3e13 steps, 1e300 overflowed to 1
		return nil, fmt.Errorf("--steps-scale must be in (0, 1], got %v", o.StepsScale)
	}
	scaled := func(n int) int { return max(1, int(math.Round(float64(n)*scale))) }
	keep := func(list, only []string) []string {
		if len(only) == 0 {
			return slices.Clone(list)
		}
		var out []string
		for _, v := range list {
			if slices.Contains(only, v) {
				out = append(out, v)
			}
		}
		return out
	}
	seenTask, seenMethod := map[string]bool{}, map[string]bool{}
	var out []PlannedGrid
	for _, g := range x.Groups {
		methods, tasks := keep(g.Methods, o.Methods), keep(g.Tasks, o.Tasks)
		for _, t := range g.Tasks {
			seenTask[t] = true
		}
		for _, m := range g.Methods {
			seenMethod[m] = true
		}
		if len(methods) == 0 || len(tasks) == 0 {
			continue
		}
		p := PlannedGrid{Group: g.Name, Methods: methods, Tasks: tasks, MultiTask: g.MultiTask, Labels: g.Labels,
			Backbone: cmpOr(o.Backbone, x.backbone(g)), Quant: cmpOr(g.Quant, x.Quant), DType: cmpOr(g.DType, x.DType),
			Seeds: g.Seeds, BatchSize: g.BatchSize, EvalEvery: g.EvalEvery, GroupByLen: x.GroupByLength, PadToMax: x.PadToMax,
			LabelSuffix: g.LabelSuffix, Sweep: mergeSweep(x.Sweep, g.Sweep, methods)}
		if g.GroupByLength != nil {
			p.GroupByLen = *g.GroupByLength
		}
		if g.PadToMax != nil {
			p.PadToMax = *g.PadToMax
		}
		if o.NoSweep {
			p.Sweep = nil
		}
		p.Sweep = mergeSweep(p.Sweep, o.Sweep, methods)
		if o.Backbone != "" { // a replaced backbone keeps the group's number format only if asked again
			p.Quant, p.DType = "", ""
		}
		if len(p.Seeds) == 0 {
			p.Seeds = x.Seeds
		}
		if len(o.Seeds) > 0 {
			p.Seeds = o.Seeds
		}
		if len(p.Seeds) == 0 {
			p.Seeds = []int64{42}
		}
		if p.BatchSize == 0 {
			p.BatchSize = x.BatchSize
		}
		if p.EvalEvery == 0 {
			p.EvalEvery = x.EvalEvery
		}
		p.Steps = scaled(g.Steps)
		if p.EvalEvery > 0 {
			p.EvalEvery = min(scaled(p.EvalEvery), p.Steps)
			if scale < 1 { // a shrunk run: at least 10 steps between evaluations (they cost more than steps)
				p.EvalEvery = max(p.EvalEvery, min(10, p.Steps))
			}
		}
		p.MethodConfig = mergeMethodConfig(x.MethodConfig, g.MethodConfig, methods)
		ks := g.KShot
		if len(ks) == 0 {
			ks = []int{0}
		}
		for _, k := range ks {
			q := p
			q.KShot = k
			out = append(out, q)
		}
	}
	for _, t := range o.Tasks {
		if !seenTask[t] {
			return nil, fmt.Errorf("experiment %s has no task %q (its tasks: %s)", x.Name, t, strings.Join(sortedKeys(seenTask), ", "))
		}
	}
	for _, a := range o.Sweep {
		if !seenMethod[a.Method] {
			return nil, fmt.Errorf("--sweep %s: experiment %s has no method %q (its methods: %s)", a.Key(), x.Name, a.Method, strings.Join(sortedKeys(seenMethod), ", "))
		}
	}
	for _, m := range o.Methods {
		if !seenMethod[m] {
			return nil, fmt.Errorf("experiment %s has no method %q (its methods: %s)", x.Name, m, strings.Join(sortedKeys(seenMethod), ", "))
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("experiment %s: no grid left after --tasks/--methods", x.Name)
	}
	return out, nil
}

func mergeMethodConfig(base, group map[string]map[string]any, methods []string) map[string]map[string]any {
	out := map[string]map[string]any{}
	for _, m := range methods {
		for _, src := range []map[string]map[string]any{base, group} {
			for k, v := range src[m] {
				if out[m] == nil {
					out[m] = map[string]any{}
				}
				out[m][k] = v
			}
		}
	}
	return out
}

func sortedKeys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// Grid turns a planned grid into a benchmarks.Grid over base (output folder, data options,
// limits and logging already set), labelling k-shot rows so each k is its own leaderboard row.
func (p PlannedGrid) Grid(base Grid) Grid {
	g := base
	g.Methods, g.Tasks, g.Seeds = p.Methods, p.Tasks, p.Seeds
	g.Backbone = p.Backbone
	// ParseExperiment checked both with the same rules, so these parse.
	g.BackboneOpts.Quant, _ = core.ParseQuant(p.Quant)
	g.BackboneOpts.DType, _ = core.ParseDType(p.DType)
	g.Train.Steps, g.Train.BatchSize, g.Train.EvalEvery = p.Steps, p.BatchSize, p.EvalEvery
	g.Data.KShot, g.MultiTask = p.KShot, p.MultiTask
	g.Train.GroupByLength = g.Train.GroupByLength || p.GroupByLen
	g.Train.PadToMax = g.Train.PadToMax || p.PadToMax
	g.MethodConfigs = p.MethodConfig
	g.Sweep = slices.Clone(p.Sweep)
	g.Labels = map[string]string{}
	for m, l := range p.Labels {
		g.Labels[m] = l
	}
	g.LabelSuffix = p.LabelSuffix
	if p.KShot > 0 {
		g.LabelSuffix += fmt.Sprintf(" (k=%d)", p.KShot)
	}
	return g
}

// CostEstimate is an experiment's estimated training time: Σ runs × steps × step time.
type CostEstimate struct {
	Runs       int     `json:"runs"`
	Steps      int64   `json:"steps"`   // training steps over all runs
	Seconds    float64 `json:"seconds"` // estimated training time on the machine the step times were measured on
	StepSource string  `json:"step_source"`
}

// EstimateCost sums the planned grids' training steps (every sweep variant a run of its
// own) times each (backbone, method)'s step time: measured (mean step seconds of finished rows in known, e.g. the results folder's own
// runs) where there is one, else StepSeconds' table.
func EstimateCost(plan []PlannedGrid, known []storage.ResultRow) CostEstimate {
	measured := map[[2]string][]float64{}
	for _, r := range LatestPerKey(known) {
		if r.Status == "ok" && r.MeanStepSec > 0 {
			k := [2]string{r.Backbone.Name, r.Method}
			measured[k] = append(measured[k], r.MeanStepSec)
		}
	}
	var c CostEstimate
	sources := map[string]bool{}
	for _, p := range plan {
		for _, m := range p.Methods {
			per := int64(p.MethodRuns(m)) // sweep variants included
			sec, src := StepSeconds(p.Backbone, m, p.BatchSize, p.DType)
			if xs := measured[[2]string{p.Backbone, m}]; len(xs) > 0 {
				sec, _ = meanStd(xs)
				src = "measured"
			}
			sources[src] = true
			c.Runs += int(per)
			c.Steps += per * int64(p.Steps)
			c.Seconds += float64(per) * float64(p.Steps) * sec
		}
	}
	c.StepSource = strings.Join(sortedKeys(sources), "+")
	return c
}

// MethodNames lists the methods of every group, each once, in order of first appearance.
func (x *Experiment) MethodNames() []string {
	var out []string
	for _, g := range x.Groups {
		for _, m := range g.Methods {
			if !slices.Contains(out, m) {
				out = append(out, m)
			}
		}
	}
	return out
}
