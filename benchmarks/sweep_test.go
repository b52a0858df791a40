package benchmarks

import (
	"errors"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/ptbench/ptbench/core/coretest"
	"github.com/ptbench/ptbench/core/storage"
)

func TestParseSweep(t *testing.T) {
	methods := []string{"pt", "ept", "plugin:./bin/x.y"}
	for _, tc := range []struct {
		spec    string
		method  string
		setting string
		values  []any
		err     string
	}{
		{spec: "pt.lr=0.3,0.03,0.003", method: "pt", setting: "lr", values: []any{0.3, 0.03, 0.003}},
		{spec: "ept.lowrank_lr= 1e-4, 5e-4 ,5e-3", method: "ept", setting: "lowrank_lr", values: []any{1e-4, 5e-4, 5e-3}},
		{spec: "ept.spaces=1,2,4", method: "ept", setting: "spaces", values: []any{1, 2, 4}},
		{spec: "ept.gate=pooled,token", method: "ept", setting: "gate", values: []any{"pooled", "token"}},
		{spec: "plugin:./bin/x.y.rank=2,4", method: "plugin:./bin/x.y", setting: "rank", values: []any{2, 4}},
		{spec: "dept.lr=0.3", err: `method "dept" is not in --methods`},
		{spec: "pt.lr=", err: "no values"},
		{spec: "pt.lr=,", err: "no values"},
		{spec: "pt.lr", err: "want method.setting=v1,v2"},
		{spec: "lr=0.3", err: "want method.setting=v1,v2"},
		{spec: "pt.lr=0.3,0.30", err: "given twice"},
		{spec: "pt.lr=0.3,.inf", err: "not a finite number"},
		{spec: "pt.lr=nan", err: "not a finite number"},
	} {
		a, err := ParseSweep(tc.spec, methods)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%q: error %v, want %q", tc.spec, err, tc.err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%q: %v", tc.spec, err)
			continue
		}
		if a.Method != tc.method || a.Setting != tc.setting || !slices.Equal(a.Values, tc.values) {
			t.Errorf("%q: %s . %s = %v, want %s . %s = %v", tc.spec, a.Method, a.Setting, a.Values, tc.method, tc.setting, tc.values)
		}
	}
	if _, err := ParseSweeps([]string{"pt.lr=0.3", "pt.lr=0.4"}, methods); err == nil || !strings.Contains(err.Error(), "given twice") {
		t.Errorf("one axis in two flags: %v", err)
	}
}

// Variants are the product of a method's own axes, the first axis varying slowest; another
// method's axes do not multiply it.
func TestSweepVariantsOrderAndConfig(t *testing.T) {
	axes, err := ParseSweeps([]string{"ept.prompt_lr=0.3,0.4", "pt.lr=0.1,0.2,0.3", "ept.lowrank_lr=1e-4,5e-3"}, []string{"pt", "ept", "lora"})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, v := range SweepVariants(axes, "ept") {
		got = append(got, v.String())
	}
	// ept.prompt_lr is the deprecated spelling of ept.lr: the axis carries the current name.
	want := []string{
		"ept.lr=0.3 ept.lowrank_lr=0.0001", "ept.lr=0.3 ept.lowrank_lr=0.005",
		"ept.lr=0.4 ept.lowrank_lr=0.0001", "ept.lr=0.4 ept.lowrank_lr=0.005",
	}
	if w := SweepDeprecations(axes); len(w) != 1 || !strings.Contains(w[0], "ept.prompt_lr: deprecated setting name (now ept.lr") {
		t.Errorf("deprecation warnings %q", w)
	}
	if !slices.Equal(got, want) {
		t.Errorf("ept variants %q, want %q", got, want)
	}
	if vs := SweepVariants(axes, "pt"); len(vs) != 3 || vs[2].Index != 2 || vs[2].Values()["pt.lr"] != 0.3 {
		t.Errorf("pt variants %+v", vs)
	}
	if vs := SweepVariants(axes, "lora"); len(vs) != 1 || vs[0].Values() != nil {
		t.Errorf("an unswept method: %+v, want one empty variant", vs)
	}
	g := &Grid{Methods: []string{"pt", "ept"}, Sweep: axes, MethodConfigs: map[string]map[string]any{"ept": {"spaces": 2, "prompt_lr": 0.5}}}
	cfg := g.VariantConfig("ept", g.Variants("ept")[3])
	if _, old := cfg["prompt_lr"]; cfg["spaces"] != 2 || cfg["lr"] != 0.4 || old || cfg["lowrank_lr"] != 5e-3 {
		t.Errorf("variant config %v: want --set's spaces, the sweep's rates (over --set's prompt_lr, which is lr)", cfg)
	}
	if g.MethodConfigs["ept"]["prompt_lr"] != 0.5 {
		t.Errorf("VariantConfig changed the grid's own settings: %v", g.MethodConfigs["ept"])
	}
	runs := (&Grid{Methods: []string{"pt", "ept", "lora"}, Tasks: []string{"rte", "mrpc"}, Seeds: []int64{1, 2}, Sweep: axes}).Runs()
	if len(runs) != 2*(3+4+1)*2 || runs[0].Sweep["pt.lr"] != 0.1 || runs[2].Sweep["pt.lr"] != 0.2 || runs[14].Sweep != nil {
		t.Errorf("%d runs; first %+v, third %+v, fifteenth %+v", len(runs), runs[0], runs[2], runs[14])
	}
}

// CheckSweep builds every value with the method's own check and names the axis of a bad one.
func TestCheckSweep(t *testing.T) {
	check := func(method string, raw map[string]any) error {
		for k, v := range raw {
			if k != "lr" {
				return errors.New("unknown field " + k)
			}
			if _, ok := v.(float64); !ok {
				return errors.New("lr must be a number")
			}
		}
		return nil
	}
	for _, tc := range []struct {
		specs []string
		err   string
	}{
		{[]string{"pt.lr=0.3,0.4"}, ""},
		{[]string{"pt.lr=0.3,abc"}, "--sweep pt.lr=abc: lr must be a number"},
		{[]string{"pt.lrr=0.3"}, "--sweep pt.lrr=0.3: unknown field lrr"},
		{[]string{"x.lr=abc"}, ""}, // a plugin: checked by its own process
	} {
		axes, err := ParseSweeps(tc.specs, []string{"pt", "x"})
		if err != nil {
			t.Fatal(err)
		}
		g := &Grid{Methods: []string{"pt", "x"}, Sweep: axes}
		err = g.CheckSweep(check, func(m string) bool { return m == "x" })
		if (tc.err == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), tc.err)) {
			t.Errorf("%v: error %v, want %q", tc.specs, err, tc.err)
		}
	}
	g := &Grid{Methods: []string{"pt"}, Sweep: []SweepAxis{{Method: "ept", Setting: "lr", Values: []any{0.3}}}}
	if err := g.CheckSweep(check, nil); err == nil || !strings.Contains(err.Error(), "not in --methods") {
		t.Errorf("an axis of a method not in the grid: %v", err)
	}
}

// An experiment file's sweep keeps its order, reads 3e-1 as a number and names a setting by
// its current name (ept.prompt_lr is ept.lr).
func TestSweepYAMLKeepsOrder(t *testing.T) {
	var s struct {
		Sweep Sweep `yaml:"sweep"`
	}
	if err := yaml.Unmarshal([]byte("sweep:\n  ept.prompt_lr: [3e-1, 4e-1]\n  dept.lowrank_lr: [1e-4]\n  ept.gate: [pooled]\n"), &s); err != nil {
		t.Fatal(err)
	}
	if len(s.Sweep) != 3 || s.Sweep[0].Key() != "ept.lr" || s.Sweep[0].Given != "prompt_lr" || s.Sweep[1].Key() != "dept.lowrank_lr" ||
		s.Sweep[0].Values[0] != 0.3 || s.Sweep[1].Values[0] != 1e-4 || s.Sweep[2].Values[0] != "pooled" {
		t.Errorf("sweep %+v", s.Sweep)
	}
	if err := yaml.Unmarshal([]byte("sweep: [pt.lr]\n"), &s); err == nil {
		t.Error("a list instead of a mapping accepted")
	}
}

// Each variant is its own run with its own key and settings in its row; a second invocation
// skips them all; two shards split the variants between them.
func TestGridRunsEverySweepVariant(t *testing.T) {
	coretest.LockThread(t)
	out := t.TempDir()
	g := smallGrid(out, []string{"pt"}, []int64{1})
	axes, err := ParseSweeps([]string{"pt.lr=0.3,0.03"}, g.Methods)
	if err != nil {
		t.Fatal(err)
	}
	g.Sweep = axes
	sum, err := g.Run()
	if err != nil || sum.Ran != 2 {
		t.Fatalf("grid: %+v, %v; want 2 runs", sum, err)
	}
	rows, err := storage.ReadResults(filepath.Join(out, storage.ResultsFile))
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 2 || rows[0].RunKey == rows[1].RunKey {
		t.Fatalf("%d rows, keys %s / %s: want two distinct runs", len(rows), rows[0].RunKey, rows[1].RunKey)
	}
	for i, lr := range []float64{0.3, 0.03} {
		sw, _ := rows[i].Extra["sweep"].(map[string]any)
		cfg, _ := rows[i].MethodConfig.(map[string]any)
		if sw["pt.lr"] != lr || cfg["lr"] != lr || rows[i].Extra["sweep_index"] != float64(i) {
			t.Errorf("row %d: sweep %v index %v, config lr %v; want %v", i, sw, rows[i].Extra["sweep_index"], cfg["lr"], lr)
		}
	}
	if b := BuildBoard(rows); len(b.Rows) != 1 || len(b.Selection) != 1 {
		t.Errorf("board: %d rows, %d choices; want one PT row and one choice", len(b.Rows), len(b.Selection))
	}
	g = smallGrid(out, []string{"pt"}, []int64{1})
	g.Sweep = axes
	if sum, err := g.Run(); err != nil || sum.Skipped != 2 || sum.Ran != 0 {
		t.Errorf("second invocation: %+v, %v; want both variants skipped", sum, err)
	}
	g.Shards = 2
	var lrs []any
	for shard := 1; shard <= 2; shard++ {
		g.Shard = shard
		plan := g.ShardPlan()[shard-1]
		if len(plan) != 1 {
			t.Fatalf("shard %d: %d runs, want 1", shard, len(plan))
		}
		lrs = append(lrs, plan[0].Sweep["pt.lr"])
	}
	if lrs[0] == lrs[1] {
		t.Errorf("both shards run pt.lr=%v", lrs[0])
	}
}
