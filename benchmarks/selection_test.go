package benchmarks

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"strings"
	"testing"

	"github.com/ptbench/ptbench/core"
	"github.com/ptbench/ptbench/core/storage"
)

// sweptRow is a finished row of variant idx with the given lr, dev and test scores.
func sweptRow(method, task string, seed int64, idx int, lr, dev, test float64, status string) storage.ResultRow {
	return storage.ResultRow{
		RunKey: fmt.Sprintf("%s.%s.s%d.v%d", method, task, seed, idx), Method: method, Label: strings.ToUpper(method),
		Task: task, Benchmark: "GLUE", Seed: seed, Backbone: core.BackboneInfo{Name: "t5-tiny"}, Status: status,
		DevScore: dev, TestScore: test, MeanStepSec: 0.1 * lr, Steps: 10,
		Extra: map[string]any{"sweep": map[string]any{method + ".lr": lr}, "sweep_index": idx},
	}
}

func TestSelectVariants(t *testing.T) {
	for _, tc := range []struct {
		name    string
		rows    []storage.ResultRow
		wantLR  []float64 // selected lr per (task, seed) group in input order
		wantOut int       // rows kept
	}{
		{"best dev wins, not best test", []storage.ResultRow{
			sweptRow("pt", "rte", 1, 0, 0.3, 60, 50, "ok"),
			sweptRow("pt", "rte", 1, 1, 0.03, 70, 40, "ok"),
			sweptRow("pt", "rte", 1, 2, 0.003, 65, 90, "ok"),
		}, []float64{0.03}, 1},
		{"ties: first in sweep order", []storage.ResultRow{
			sweptRow("pt", "rte", 1, 2, 0.003, 70, 10, "ok"),
			sweptRow("pt", "rte", 1, 1, 0.03, 70, 20, "ok"),
			sweptRow("pt", "rte", 1, 0, 0.3, 50, 30, "ok"),
		}, []float64{0.03}, 1},
		{"a failed or diverged variant is never selected", []storage.ResultRow{
			sweptRow("pt", "rte", 1, 0, 0.3, 99, 99, "diverged"),
			sweptRow("pt", "rte", 1, 1, 0.03, 10, 10, "ok"),
			sweptRow("pt", "rte", 1, 2, 0.003, 99, 99, "failed"),
		}, []float64{0.03}, 1},
		{"per task and seed", []storage.ResultRow{
			sweptRow("pt", "rte", 1, 0, 0.3, 60, 0, "ok"),
			sweptRow("pt", "rte", 1, 1, 0.03, 50, 0, "ok"),
			sweptRow("pt", "rte", 2, 0, 0.3, 50, 0, "ok"),
			sweptRow("pt", "rte", 2, 1, 0.03, 60, 0, "ok"),
			sweptRow("pt", "mrpc", 1, 0, 0.3, 50, 0, "ok"),
			sweptRow("pt", "mrpc", 1, 1, 0.03, 60, 0, "ok"),
		}, []float64{0.3, 0.03, 0.03}, 3},
		{"no variant finished: the first is kept, no choice", []storage.ResultRow{
			sweptRow("pt", "rte", 1, 1, 0.03, 0, 0, "failed"),
			sweptRow("pt", "rte", 1, 0, 0.3, 0, 0, "diverged"),
		}, nil, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			unswept := storage.ResultRow{RunKey: "lora.rte", Method: "lora", Task: "rte", Status: "ok"}
			rows := append(append([]storage.ResultRow(nil), tc.rows...), unswept)
			out, choices := SelectVariants(rows)
			if len(out) != tc.wantOut+1 || out[len(out)-1].RunKey != "lora.rte" {
				t.Fatalf("%d rows kept (last %s), want %d and the unswept row", len(out), out[len(out)-1].RunKey, tc.wantOut+1)
			}
			if len(choices) != len(tc.wantLR) {
				t.Fatalf("choices %+v, want %d", choices, len(tc.wantLR))
			}
			for i, c := range choices {
				if c.Settings["pt.lr"] != tc.wantLR[i] {
					t.Errorf("choice %d (%s seed %d): %v, want pt.lr %v", i, c.Task, c.Seed, c.Settings, tc.wantLR[i])
				}
				kept := false
				for _, r := range out {
					kept = kept || r.RunKey == c.RunKey
				}
				if !kept {
					t.Errorf("choice %d's row %s is not among the kept rows", i, c.RunKey)
				}
			}
			if tc.name == "no variant finished: the first is kept, no choice" && out[0].Status != "diverged" {
				t.Errorf("kept %s, want variant 0 (diverged)", out[0].Status)
			}
		})
	}
}

// A multi-task variant is selected on its mean dev score, all its rows together.
func TestSelectVariantsMultiTask(t *testing.T) {
	var rows []storage.ResultRow
	for idx, devs := range [][2]float64{{90, 10}, {60, 60}} { // means 50 and 60
		for i, task := range []string{"rte", "mrpc"} {
			r := sweptRow("hyperformer", task, 1, idx, []float64{0.1, 0.01}[idx], devs[i], 0, "ok")
			run := fmt.Sprintf("hyperformer.rte+mrpc.v%d", idx)
			r.RunKey, r.Extra["run"], r.Extra["multi_task"] = run+"/"+task, run, []any{"rte", "mrpc"}
			rows = append(rows, r)
		}
	}
	out, choices := SelectVariants(rows)
	if len(out) != 2 || out[0].Extra["sweep_index"] != 1 || out[1].Extra["sweep_index"] != 1 {
		t.Fatalf("kept %d rows %+v: want both rows of variant 1 (mean dev 60 > 50)", len(out), out)
	}
	if len(choices) != 1 || choices[0].Task != "mrpc+rte" || choices[0].DevScore != 60 || choices[0].RunKey != "hyperformer.rte+mrpc.v1" {
		t.Errorf("choices %+v", choices)
	}
}

// The board reports the selected variant's test score and names it; --no-select shows every
// variant; JSON carries the selection.
func TestBoardSelectsSweepVariants(t *testing.T) {
	rows := []storage.ResultRow{
		sweptRow("pt", "rte", 42, 0, 0.3, 55, 51, "ok"),
		sweptRow("pt", "rte", 42, 1, 0.03, 66, 62, "ok"),
		sweptRow("pt", "rte", 42, 2, 0.003, 60, 99, "ok"),
	}
	b := BuildBoard(rows)
	if len(b.Rows) != 1 || b.Rows[0].Tasks["rte"].Mean != 62 || b.Rows[0].Tasks["rte"].Seeds != 1 {
		t.Fatalf("board rows %+v: want one PT row, RTE = 62 (the best-dev variant's test)", b.Rows)
	}
	if len(b.Selection) != 1 || b.Selection[0].Settings["pt.lr"] != 0.03 || b.Selection[0].Variants != 3 {
		t.Errorf("selection %+v", b.Selection)
	}
	var md bytes.Buffer
	if err := RenderMarkdown(&md, b); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(md.String(), "selected variants") || !strings.Contains(md.String(), "pt.lr=0.03") {
		t.Errorf("markdown does not name the selected variant:\n%s", md.String())
	}
	raw, err := json.Marshal(b)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(raw), `"sweep_selection":[{`) || !strings.Contains(string(raw), `"pt.lr":0.03`) {
		t.Errorf("json does not mark the selection: %s", raw)
	}
	all := BuildBoardWith(rows, BoardOptions{NoSelect: true})
	if len(all.Rows) != 3 || !all.Unselected || all.Rows[2].Label != "PT [pt.lr=0.003]" || all.Rows[2].Tasks["rte"].Mean != 99 ||
		all.Rows[2].Sweep["pt.lr"] != 0.003 || len(all.Selection) != 1 {
		t.Errorf("unselected board: %+v", all.Rows)
	}
}

// Step time relative to PT: same backbone and padding, the grid's own PT (label suffix).
func TestStepTimeRelativeToPT(t *testing.T) {
	row := func(method, label, padding string, sec float64) MethodRow {
		return MethodRow{Method: method, Label: label, Backbone: "t5-base", Padding: padding, MeanStepSec: sec}
	}
	rows := []MethodRow{
		row("pt", "PT", "max", 1.0),
		row("pt", "PT (k=16)", "max", 2.0),
		row("ept", "EPT (reimpl.)", "max", 0.86),
		row("ept", "EPT (reimpl.) (k=16)", "max", 1.0),
		row("dept", "DePT (length-grouped)", "length-grouped", 0.5),
	}
	relativeToPT(rows)
	for i, want := range []float64{1, 1, 0.86, 0.5} {
		if rows[i].StepVsPT == nil || *rows[i].StepVsPT != want {
			t.Errorf("%s: vs PT %v, want %v", rows[i].Label, rows[i].StepVsPT, want)
		}
	}
	if rows[4].StepVsPT != nil {
		t.Errorf("a row with no PT of its padding got %v", *rows[4].StepVsPT)
	}
	// Packed rows compare with PT packed alike: a packed step is the pack's over its runs.
	packed := func(r MethodRow, how string) MethodRow { r.Packing = how; return r }
	rows = []MethodRow{
		row("pt", "PT", "max", 1.0),
		packed(row("pt", "PT", "max", 0.5), "packed ×4"),
		packed(row("lora", "LoRA", "max", 0.4), "packed ×4"),
		row("lora", "LoRA", "max", 0.9),
		packed(row("ept", "EPT", "max", 0.3), "mixed"),
	}
	relativeToPT(rows)
	for i, want := range []float64{1, 1, 0.8, 0.9} {
		if rows[i].StepVsPT == nil || math.Abs(*rows[i].StepVsPT-want) > 1e-12 {
			t.Errorf("%s (%s): vs PT %v, want %v", rows[i].Label, rows[i].Packing, rows[i].StepVsPT, want)
		}
	}
	if rows[4].StepVsPT != nil {
		t.Errorf("a row of mixed packing got %v against PT", *rows[4].StepVsPT)
	}
}
