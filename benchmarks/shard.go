package benchmarks

import (
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/ptbench/ptbench/core"
)

// Sharding: a grid too big for one machine runs as n independent shards (`ptbench run
// --shard i/n`, one per machine, each writing its own results folder), and `ptbench merge`
// combines their results.jsonl files. Every process computes the same plan from the grid's
// spec alone (methods, tasks, seeds, steps, multi-task) — no data, backbone or clock — so the
// shards need no coordination: each run lands in exactly one shard.
//
// The plan balances estimated cost by LPT (longest processing time first): runs sorted by
// cost, largest first (ties: grid order), each given to the shard with the least cost so far
// (ties: the lowest shard). LPT is within 4/3 of the best possible makespan.

// RunSpec is one run of a grid as the plan sees it: its position in the grid's order (the
// order Grid.Run trains in), what it trains, and its estimated cost.
type RunSpec struct {
	Index  int            `json:"index"`
	Tasks  []string       `json:"tasks"` // one task, or all of them for a multi-task run
	Method string         `json:"method"`
	Sweep  map[string]any `json:"sweep,omitempty"` // the variant's settings, if the method is swept
	Seed   int64          `json:"seed"`
	// Cost is steps × the method's relative step cost (its description's StepCost, see
	// core.MethodStepCost), in "PT steps".
	Cost float64 `json:"cost"`
}

// Runs enumerates the grid's runs in the order Grid.Run trains them: for each task (or the
// one multi-task run), for each method, for each of its sweep variants, for each seed.
func (g *Grid) Runs() []RunSpec {
	var groups [][]string
	if g.MultiTask {
		groups = [][]string{g.Tasks}
	} else {
		for _, t := range g.Tasks {
			groups = append(groups, []string{t})
		}
	}
	steps := float64(max(1, g.Train.Steps))
	var out []RunSpec
	for _, tasks := range groups {
		for _, m := range g.Methods {
			f := core.MethodStepCost(m)       // 1 for a method with no estimate (a plugin)
			for _, v := range g.Variants(m) { // a swept method: one run per variant (sweep.go)
				for _, s := range g.Seeds {
					out = append(out, RunSpec{Index: len(out), Tasks: tasks, Method: m, Sweep: v.Values(), Seed: s, Cost: steps * f})
				}
			}
		}
	}
	return out
}

// ShardPlan splits the grid's runs into max(1, g.Shards) shards by LPT on their estimated
// cost; shard i (1-based) is element i-1, its runs in grid order.
func (g *Grid) ShardPlan() [][]RunSpec {
	return PlanShards(g.Runs(), max(1, g.Shards))
}

// PlanShards assigns runs to n shards: largest cost first (ties: lower Index first), each to
// the least-loaded shard (ties: the lowest). Each shard's runs come back in Index order.
func PlanShards(runs []RunSpec, n int) [][]RunSpec {
	n = max(1, n)
	order := make([]int, len(runs))
	for i := range order {
		order[i] = i
	}
	sort.SliceStable(order, func(a, b int) bool {
		ra, rb := runs[order[a]], runs[order[b]]
		if ra.Cost != rb.Cost {
			return ra.Cost > rb.Cost
		}
		return ra.Index < rb.Index
	})
	load := make([]float64, n)
	plan := make([][]RunSpec, n)
	for _, i := range order {
		best := 0
		for s := 1; s < n; s++ {
			if load[s] < load[best] {
				best = s
			}
		}
		load[best] += runs[i].Cost
		plan[best] = append(plan[best], runs[i])
	}
	for _, p := range plan {
		sort.Slice(p, func(a, b int) bool { return p[a].Index < p[b].Index })
	}
	return plan
}

// ShardCost is the total estimated cost of a shard's runs.
func ShardCost(runs []RunSpec) float64 {
	var c float64
	for _, r := range runs {
		c += r.Cost
	}
	return c
}

// inShard reports, by a run's index in the grid's order, whether this process runs it: every
// run when Shards ≤ 1, else the runs ShardPlan gives shard Shard.
func (g *Grid) inShard() func(index int) bool {
	if g.Shards <= 1 {
		return func(int) bool { return true }
	}
	mine := map[int]bool{}
	if g.Shard >= 1 && g.Shard <= g.Shards {
		plan := g.ShardPlan()
		for _, r := range plan[g.Shard-1] {
			mine[r.Index] = true
		}
		if g.Log != nil {
			var total float64
			for _, p := range plan {
				total += ShardCost(p)
			}
			fmt.Fprintf(g.Log, "shard %d/%d: %d of the grid's %d runs (%.0f%% of its estimated cost)\n", g.Shard, g.Shards,
				len(plan[g.Shard-1]), len(g.Runs()), 100*ShardCost(plan[g.Shard-1])/max(total, 1e-9))
		}
	}
	return func(index int) bool { return mine[index] }
}

// shardMethods is the set of methods that have a run in this process's shard.
func (g *Grid) shardMethods() map[string]bool {
	in := g.inShard()
	out := map[string]bool{}
	for _, r := range g.Runs() {
		if in(r.Index) {
			out[r.Method] = true
		}
	}
	return out
}

// ParseShard parses "i/n" (1 ≤ i ≤ n).
func ParseShard(s string) (shard, shards int, err error) {
	a, b, ok := strings.Cut(strings.TrimSpace(s), "/")
	if ok {
		shard, err = strconv.Atoi(a)
		if err == nil {
			shards, err = strconv.Atoi(b)
		}
	}
	if !ok || err != nil || shards < 1 || shard < 1 || shard > shards {
		return 0, 0, fmt.Errorf("--shard %q: want i/n with 1 ≤ i ≤ n (shard i of n, e.g. 1/4)", s)
	}
	return shard, shards, nil
}
