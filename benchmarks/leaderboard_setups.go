package benchmarks

import (
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/ptbench/ptbench/core"
	"github.com/ptbench/ptbench/core/storage"
)

// Runs of one method that differ in their setup — another --dtype or --adam-eps, the plain
// forms, a --set that no label separates, rows trained before a training revision — have
// different run keys, so a results folder can hold both. Averaged as one row they would pass
// for seeds of one setup. The board keeps them apart instead: a setting whose value differs
// between rows of the method (same seed or not, same task or not) names a row per value, as a
// suffix of the label ("PT [adam_eps=1e-8]", "PT [adam_eps=1e-6]"). This happens before sweep
// variants are selected, so a sweep run under two setups is selected within each. What a
// sweep chose splits nothing, and a per-task setting (perTaskSettings: the paper harness's
// step budgets) splits only where it differs within one task, labelling that task's rows.

const (
	unsetValue = "(unset)" // a setting the row does not record (a row from before it existed)
	sweptValue = "swept"   // a setting the row's sweep chose (selected per seed on dev)
)

// setupOf flattens what a row's run key hashes besides its task, seed and data: the method's
// settings (those its sweep chose as sweptValue), the training options (minus the seed), the
// numerics, the k-shot size, the training revision, and the multi-task and --init-from
// identity, as "kind.name" → JSON value (absent: not recorded).
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
	add("config.", r.MethodConfig, nil)
	for k, v := range out { // rows from before a setting was renamed ("prompt_lr" is "lr")
		if name, ok := core.CanonicalSetting(r.Method, strings.TrimPrefix(k, "config.")); ok && "config."+name != k {
			delete(out, k)
			if _, both := out["config."+name]; !both {
				out["config."+name] = v
			}
		}
	}
	if vals, _ := rowSweep(r); vals != nil {
		for k := range vals {
			name := strings.TrimPrefix(k, r.Method+".")
			if canonical, ok := core.CanonicalSetting(r.Method, name); ok {
				name = canonical // a sweep over a deprecated spelling ("prompt_lr") sets "lr"
			}
			out["config."+name] = sweptValue
		}
	}
	add("train.", r.Train, map[string]bool{"seed": true})
	if r.Numerics != nil {
		add("numerics.", r.Numerics, nil)
	}
	if r.KShot != 0 {
		out["data.k_shot"] = strconv.Itoa(r.KShot)
	}
	if r.TrainingRevision != 0 {
		out["train.training_revision"] = strconv.Itoa(r.TrainingRevision)
	}
	if tasks, ok := r.Extra["multi_task"].([]any); ok { // "rte+mrpc (T=2)"
		names := make([]string, len(tasks))
		for i, t := range tasks {
			names[i] = fmt.Sprint(t)
		}
		v := strings.Join(names, "+")
		if t, ok := r.Extra["temperature"]; ok {
			v += fmt.Sprintf(" (T=%v)", t)
		}
		out["extra.multi_task"] = v
	}
	if from, ok := r.Extra["init_from"].(map[string]any); ok {
		sum, _ := from["sha256"].(string)
		out["extra.init_from"] = "sha256:" + sum[:min(12, len(sum))]
	}
	return out
}

// setupDefaults are what a setting means when a row does not record it (the storage leaves
// defaults out so that default runs keep their keys).
var setupDefaults = map[string]string{
	"train.adam_eps":          formatSetupFloat(core.DefaultAdamEps),
	"train.training_revision": "0",
	"numerics.dtype":          "float32",
	"numerics.quant":          "none",
	"numerics.device":         "cpu",
	"numerics.forms":          "fast",
	"numerics.dropout":        "checkpoint's",
	"numerics.tokenizer":      "checkpoint's",
	"numerics.init_seed":      "0",
	"data.k_shot":             "all",
	"extra.multi_task":        "no",
	"extra.init_from":         "none",
}

// setupZeros are what a recorded 0 means for the training options whose 0 is a default.
var setupZeros = map[string]string{
	"train.eval_limit":     "all",
	"train.test_limit":     "all",
	"train.max_source_len": "task's",
	"train.max_target_len": "default",
	"train.max_new_tokens": "default",
	"train.eval_every":     "auto",
	"train.warmup":         "auto",
}

// setupLabel is "name=value" for a setting of a row's setup: values as recorded (strings
// unquoted), an unrecorded setting as its default where there is one.
func setupLabel(key string, setup map[string]string) string {
	v, ok := setup[key]
	switch {
	case !ok && setupDefaults[key] != "":
		v = setupDefaults[key]
	case !ok:
		v = unsetValue
	case v != sweptValue && strings.HasPrefix(v, `"`):
		if s, err := strconv.Unquote(v); err == nil {
			v = s
		}
	case v == "0" && setupZeros[key] != "":
		v = setupZeros[key]
	default:
		if f, err := strconv.ParseFloat(v, 64); err == nil && strings.ContainsAny(v, "eE") {
			v = formatSetupFloat(f)
		}
	}
	return key[strings.IndexByte(key, '.')+1:] + "=" + v
}

// formatSetupFloat writes 1e-06 as 1e-6.
func formatSetupFloat(f float64) string {
	s := strconv.FormatFloat(f, 'g', -1, 64)
	return strings.NewReplacer("e-0", "e-", "e+0", "e+").Replace(s)
}

// withLabelSuffix adds a suffix to a label before a few-shot grid's " (k=16)", which ranking
// and the step-time comparison read from the label's end.
func withLabelSuffix(label, suffix string) string {
	if loc := kShotSuffix.FindStringIndex(label); loc != nil {
		return label[:loc[0]] + suffix + label[loc[0]:]
	}
	return label + suffix
}

// setupSplit records, for each label the split made, the label it was made from and the
// settings it names.
type setupSplit map[string]struct {
	base string
	keys []string
}

// splitSetups relabels the target rows of each (method, label, backbone) whose setups differ
// within a task. It returns the rows (relabelled copies where needed), the labels it made
// (sorted) and the settings each made label names.
func splitSetups(rows []storage.ResultRow) ([]storage.ResultRow, []string, setupSplit) {
	type group struct{ method, label, backbone string }
	members := map[group][]int{}
	var order []group
	setups := make([]map[string]string, len(rows))
	for i, r := range rows {
		if isSource(r) {
			continue
		}
		g := group{r.Method, r.Label, r.Backbone.Name}
		if _, ok := members[g]; !ok {
			order = append(order, g)
		}
		members[g] = append(members[g], i)
		setups[i] = setupOf(r)
	}
	out := append([]storage.ResultRow(nil), rows...)
	split := setupSplit{}
	var made []string
	for _, g := range order {
		idx := members[g]
		named := setupKeysToName(idx, rows, setups)
		for _, i := range idx {
			if len(named[i]) == 0 {
				continue
			}
			parts := make([]string, len(named[i]))
			for j, k := range named[i] {
				parts[j] = setupLabel(k, setups[i])
			}
			out[i].Label = withLabelSuffix(rows[i].Label, " ["+strings.Join(parts, ", ")+"]")
			split[out[i].Label] = struct {
				base string
				keys []string
			}{rows[i].Label, named[i]}
			made = append(made, out[i].Label)
		}
	}
	sort.Strings(made)
	return out, slices.Compact(made), split
}

// setupKeysToName picks, for each row of one method (idx), the settings its label names. A
// setting other than the per-task budgets that takes two values among the rows names every
// row. Within each setup those settings leave apart, a per-task setting that takes two values
// on one task names that task's rows only (two step budgets for rte), so that one run's rows
// are never split by a budget another setup's rows differ in.
func setupKeysToName(idx []int, rows []storage.ResultRow, setups []map[string]string) map[int][]string {
	valueOf := func(i int, k string) string {
		if v, ok := setups[i][k]; ok {
			return v
		}
		return unsetValue
	}
	// The rows that finished decide what splits: a failed attempt in another setup is
	// counted in the row of the setup it shares the most with, not a reason to relabel.
	var ok []int
	for _, i := range idx {
		if rows[i].Status == "ok" {
			ok = append(ok, i)
		}
	}
	if len(ok) == 0 {
		return map[int][]string{}
	}
	var keys []string
	for _, i := range ok {
		for k := range setups[i] {
			if !slices.Contains(keys, k) {
				keys = append(keys, k)
			}
		}
	}
	sort.Strings(keys)
	var global, perTask []string
	for _, k := range keys {
		if perTaskSettings[k] {
			perTask = append(perTask, k)
			continue
		}
		for _, i := range ok[1:] {
			if valueOf(i, k) != valueOf(ok[0], k) {
				global = append(global, k)
				break
			}
		}
	}
	okValues := map[string]map[string]bool{} // global setting → values among finished rows
	for _, k := range global {
		okValues[k] = map[string]bool{}
		for _, i := range ok {
			okValues[k][valueOf(i, k)] = true
		}
	}
	named := map[int][]string{}
	bySetup := map[string][]int{}
	for _, i := range idx {
		var sig strings.Builder
		for _, k := range global {
			if okValues[k][valueOf(i, k)] || rows[i].Status == "ok" {
				named[i] = append(named[i], k)
				sig.WriteString(valueOf(i, k))
			}
			sig.WriteString("\x00")
		}
		bySetup[sig.String()] = append(bySetup[sig.String()], i)
	}
	// Within a setup, a per-task budget that differs on one task labels that task's rows
	// off its most common value (an extra run at another budget does not take the task out
	// of the method's row); with no single most common value, all of them.
	for _, members := range bySetup {
		for _, k := range perTask {
			counts := map[string]map[string]int{} // task → value → finished rows
			for _, i := range members {
				if rows[i].Status != "ok" {
					continue
				}
				t := rows[i].Task
				if counts[t] == nil {
					counts[t] = map[string]int{}
				}
				counts[t][valueOf(i, k)]++
			}
			for _, i := range members {
				c := counts[rows[i].Task]
				if len(c) > 1 && !isSoleMode(c, valueOf(i, k)) {
					named[i] = append(named[i], k)
				}
			}
		}
	}
	for _, i := range idx {
		sort.Strings(named[i])
	}
	return named
}

// isSoleMode reports whether v is the one most common value of counts.
func isSoleMode(counts map[string]int, v string) bool {
	for w, n := range counts {
		if w != v && n >= counts[v] {
			return false
		}
	}
	return counts[v] > 0
}

// perTaskSettings are the settings a grid legitimately sets per task: the paper harness's
// step budgets (30,000 or 300,000 by training-set size) and the warm-up derived from them, and
// DePT's and EPT's offset rows (the run's max source length: MultiRC's 348).
var perTaskSettings = map[string]bool{"train.steps": true, "train.warmup": true, "config.max_len": true,
	// A multi-task run's task set: glue's hypernetworks over 8 tasks and superglue's over 5
	// never meet on a task; a single- and a multi-task run on one task do.
	"extra.multi_task": true}

// sameSeedRows names the cells (a board row's task) that hold two rows of one seed after
// selection and the split: runs whose keys differ in nothing a row records (the data, the
// method's revision, a plugin's binary). They stay averaged, and the board says so.
func sameSeedRows(rows []storage.ResultRow) []string {
	type cell struct {
		method, label, backbone, task string
		seed                          int64
	}
	count := map[cell]int{}
	for _, r := range rows {
		if r.Status == "ok" { // a failed or diverged row is not averaged in
			count[cell{r.Method, r.Label, r.Backbone.Name, r.Task, r.Seed}]++
		}
	}
	var out []string
	for c, n := range count {
		if n > 1 {
			out = append(out, fmt.Sprintf("%s on %s, seed %d (%d rows)", c.label, c.task, c.seed, n))
		}
	}
	sort.Strings(out)
	return out
}

// sameSeedVariants names the sweep variants that hold two finished rows of one seed (runs
// whose keys differ in nothing a row records, e.g. other data): selection would pick between
// them on dev without a word, so the board says so as it does for unswept cells.
func sameSeedVariants(rows []storage.ResultRow) []string {
	type cell struct {
		method, label, backbone, task, variant string
		seed                                   int64
	}
	count := map[cell]int{}
	for _, r := range rows {
		vals, _ := rowSweep(r)
		if vals == nil || isSource(r) || r.Status != "ok" {
			continue
		}
		count[cell{r.Method, r.Label, r.Backbone.Name, r.Task, formatSettings(vals), r.Seed}]++
	}
	var out []string
	for c, n := range count {
		if n > 1 {
			out = append(out, fmt.Sprintf("%s on %s, seed %d, variant %s (%d rows)", c.label, c.task, c.seed, c.variant, n))
		}
	}
	return out
}

// sharedValue is the value every setup gives setting k (unsetValue where one does not record
// it); false when they differ or there are none.
func sharedValue(setups []map[string]string, k string) (string, bool) {
	var first string
	for i, s := range setups {
		v, ok := s[k]
		if !ok {
			v = unsetValue
		}
		if i == 0 {
			first = v
		} else if v != first {
			return "", false
		}
	}
	return first, len(setups) > 0
}
