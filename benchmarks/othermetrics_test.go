package benchmarks

import (
	"bytes"
	"strings"
	"testing"

	"github.com/ptbench/ptbench/core"
	"github.com/ptbench/ptbench/core/storage"
	_ "github.com/ptbench/ptbench/tasks" // MRPC's and RTE's metric lists
)

// TestBoardShowsOtherMetricsBesideTheTableScore: MRPC ranks by accuracy (TestScore) and shows
// its F1, averaged over seeds, beside it; a single-metric task shows nothing more.
func TestBoardShowsOtherMetricsBesideTheTableScore(t *testing.T) {
	rows := []storage.ResultRow{
		{RunKey: "a", Method: "pt", Label: "PT", Task: "mrpc", Benchmark: "GLUE", Status: "ok", TestScore: 80,
			Test: core.Scores{"accuracy": 80, "f1": 86}},
		{RunKey: "b", Method: "pt", Label: "PT", Task: "mrpc", Benchmark: "GLUE", Status: "ok", TestScore: 84,
			Test: core.Scores{"accuracy": 84, "f1": 88}},
		{RunKey: "c", Method: "pt", Label: "PT", Task: "rte", Benchmark: "GLUE", Status: "ok", TestScore: 60,
			Test: core.Scores{"accuracy": 60}},
	}
	b := BuildBoard(rows)
	if len(b.Rows) != 1 {
		t.Fatalf("board rows %+v", b.Rows)
	}
	mrpc, rte := b.Rows[0].Tasks["mrpc"], b.Rows[0].Tasks["rte"]
	if mrpc.Mean != 82 || len(mrpc.Others) != 1 || mrpc.Others["f1"] != 87 {
		t.Errorf("mrpc cell %+v, want accuracy 82 with others {f1: 87}", mrpc)
	}
	if rte.Others != nil {
		t.Errorf("rte cell %+v, want no other metrics", rte)
	}
	var md bytes.Buffer
	if err := RenderMarkdown(&md, b); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(md.String(), "82.0 ± 2.8 (F1 87.0)") {
		t.Errorf("leaderboard does not show MRPC's F1 beside its accuracy:\n%s", md.String())
	}
}
