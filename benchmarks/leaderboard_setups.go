package benchmarks

import (
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/ptbench/ptbench/core/storage"
)

// Runs of one method that differ in their setup — another --dtype or --adam-eps, the plain
// forms, a --set that no label separates — have different run keys, so a results folder can
// hold both for the same task and seed. Averaged as one row they would pass for two seeds of
// one setup. The board keeps them apart instead: where two rows of a leaderboard row share a
// task and a seed, the settings that differ between such rows name a row each, as a suffix of
// the label ("PT [adam_eps=1e-8]", "PT [adam_eps=default]"). Settings that differ only across
// tasks (the paper harness's per-task step budgets) or that a sweep selected per seed do not
// split a row.

// setupOf flattens what a row's run key hashes besides its task, seed and data: the method's
// settings (minus those a sweep chose for this seed), the training options (minus the seed),
// the numerics and the k-shot size, as "name" → JSON value.
func setupOf(r storage.ResultRow) map[string]string {
	out := map[string]string{}
	add := func(prefix string, v any, skip map[string]bool) {
		b, err := json.Marshal(v)
		if err != nil {
			return
		}
		var m map[string]any
		if json.Unmarshal(b, &m) != nil {
			return
		}
		for k, x := range m {
			if skip[k] {
				continue
			}
			vb, _ := json.Marshal(x)
			out[prefix+k] = string(vb)
		}
	}
	swept := map[string]bool{}
	if vals, ok := r.Extra["sweep"].(map[string]any); ok {
		for k := range vals {
			swept[strings.TrimPrefix(k, r.Method+".")] = true
		}
	}
	add("config.", r.MethodConfig, swept)
	add("train.", r.Train, map[string]bool{"seed": true})
	if r.Numerics != nil {
		add("numerics.", r.Numerics, nil)
	}
	if r.KShot != 0 {
		out["k_shot"] = fmt.Sprint(r.KShot)
	}
	if r.TrainingRevision != 0 {
		out["training_revision"] = fmt.Sprint(r.TrainingRevision)
	}
	return out
}

// splitMixedSetups relabels rows so that runs of different setups that would share a cell
// (same method, label, backbone, task and seed) land in leaderboard rows of their own. It
// returns the rows (relabelled copies where needed), the labels it made, and the cells where
// rows of one seed differ in nothing a row records (the data or the method's revision, which
// only the run key hashes): those stay averaged, and the board says so.
func splitMixedSetups(rows []storage.ResultRow) ([]storage.ResultRow, []string, []string) {
	type group struct{ method, label, backbone string }
	type cell struct {
		task string
		seed int64
	}
	setups := make([]map[string]string, len(rows))
	members := map[group][]int{}
	for i, r := range rows {
		g := group{r.Method, r.Label, r.Backbone.Name}
		members[g] = append(members[g], i)
	}
	var made, unexplained []string
	out := append([]storage.ResultRow(nil), rows...)
	for _, idx := range members {
		// The settings that differ between rows sharing a cell.
		byCell := map[cell][]int{}
		for _, i := range idx {
			c := cell{rows[i].Task, rows[i].Seed}
			byCell[c] = append(byCell[c], i)
		}
		differ := map[string]bool{}
		for _, same := range byCell {
			if len(same) < 2 {
				continue
			}
			for _, i := range same {
				if setups[i] == nil {
					setups[i] = setupOf(rows[i])
				}
			}
			found := false
			for _, i := range same[1:] {
				for k := range union(setups[same[0]], setups[i]) {
					if setups[same[0]][k] != setups[i][k] {
						differ[k], found = true, true
					}
				}
			}
			if !found {
				r := rows[same[0]]
				unexplained = append(unexplained, fmt.Sprintf("%s on %s, seed %d (%d rows)", r.Label, r.Task, r.Seed, len(same)))
			}
		}
		if len(differ) == 0 {
			continue
		}
		keys := make([]string, 0, len(differ))
		for k := range differ {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, i := range idx {
			if setups[i] == nil {
				setups[i] = setupOf(rows[i])
			}
			parts := make([]string, len(keys))
			for j, k := range keys {
				v, ok := setups[i][k]
				if !ok {
					v = "default"
				}
				parts[j] = k[strings.IndexByte(k, '.')+1:] + "=" + strings.Trim(v, `"`)
			}
			out[i].Label = rows[i].Label + " [" + strings.Join(parts, ", ") + "]"
			made = append(made, out[i].Label)
		}
	}
	sort.Strings(made)
	sort.Strings(unexplained)
	return out, slices.Compact(made), unexplained
}

func union(a, b map[string]string) map[string]bool {
	out := map[string]bool{}
	for k := range a {
		out[k] = true
	}
	for k := range b {
		out[k] = true
	}
	return out
}
