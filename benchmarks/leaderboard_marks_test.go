package benchmarks

import (
	"bytes"
	"strings"
	"testing"

	"github.com/ptbench/ptbench/core"
	"github.com/ptbench/ptbench/core/storage"
)

// A cell whose test predictions are mostly invalid is flagged (JSON and markdown), one under
// the threshold is not, and a random-init preset's rows say so.
func TestBoardFlagsInvalidPredictionsAndRandomInit(t *testing.T) {
	row := func(method string, seed int64, invalid int) storage.ResultRow {
		return storage.ResultRow{RunKey: method + ".rte.s" + string(rune('0'+seed)), Method: method, Label: strings.ToUpper(method), Task: "rte",
			Benchmark: "GLUE", Seed: seed, Status: "ok", TestScore: 50, Test: core.Scores{"accuracy": 50},
			Backbone: core.BackboneInfo{Name: "t5-tiny", RandomInit: true},
			Invalid:  &core.InvalidCounts{Test: invalid, TestTotal: 100, DevTotal: 10}}
	}
	rows := []storage.ResultRow{row("pt", 1, 40), row("pt", 2, 20), row("dept", 1, 5)}
	cases := []struct {
		name      string
		threshold float64
		ptFlagged bool
	}{
		{"default 10%", 0, true},
		{"threshold 50%", 0.5, false},
		{"never", -1, false},
	}
	for _, c := range cases {
		b := BuildBoardWith(rows, BoardOptions{InvalidThreshold: c.threshold})
		var pt, dept MethodRow
		for _, r := range b.Rows {
			switch r.Method {
			case "pt":
				pt = r
			case "dept":
				dept = r
			}
		}
		if got := pt.Tasks["rte"]; got.Flagged != c.ptFlagged || got.InvalidShare < 0.299 || got.InvalidShare > 0.301 {
			t.Errorf("%s: pt cell %+v, want invalid share 0.30 flagged=%v", c.name, got, c.ptFlagged)
		}
		if dept.Tasks["rte"].Flagged {
			t.Errorf("%s: dept (5%% invalid) flagged", c.name)
		}
		if !pt.RandomInit {
			t.Errorf("%s: random-init backbone not marked", c.name)
		}
	}
	var md bytes.Buffer
	if err := RenderMarkdown(&md, BuildBoard(rows)); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"⚠ 30% invalid", "t5-tiny (random init)", "not its trained checkpoint"} {
		if !strings.Contains(md.String(), want) {
			t.Errorf("markdown lacks %q:\n%s", want, md.String())
		}
	}
	if strings.Count(md.String(), "⚠ ") != 1 || !strings.Contains(md.String(), "⚠: more than 10%") { // one flagged cell and the footnote
		t.Errorf("want exactly one flagged cell:\n%s", md.String())
	}
}
