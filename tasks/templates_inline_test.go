package tasks

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/ptbench/ptbench/core/data"
)

// Hand-made files in the official layouts for the tasks whose data is not in the shared
// folder (MNLI, QQP, ReCoRD), and for the format rules the real examples do not exercise.

const mnliTrainHeader = "index\tpromptID\tpairID\tgenre\tsentence1_binary_parse\tsentence2_binary_parse\tsentence1_parse\tsentence2_parse\tsentence1\tsentence2\tlabel1\tgold_label"
const mnliDevHeader = "index\tpromptID\tpairID\tgenre\tsentence1_binary_parse\tsentence2_binary_parse\tsentence1_parse\tsentence2_parse\tsentence1\tsentence2\tlabel1\tlabel2\tlabel3\tlabel4\tlabel5\tgold_label"

func mnliDevRow(i int, s1, s2, label string) string {
	return fmt.Sprintf("%d\t1\t1n\tfiction\t( x )\t( y )\t(ROOT x)\t(ROOT y)\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s", i, s1, s2, label, label, label, label, label, label)
}

func TestMNLIFromOfficialLayout(t *testing.T) {
	root := writeFiles(t, map[string]string{
		"glue/MNLI/train.tsv": lines(mnliTrainHeader,
			"0\t1\t1e\tgov\t( a )\t( b )\t(ROOT a)\t(ROOT b)\tConceptually cream skimming has two basic dimensions .\tProduct and geography are what make cream skimming work. \tneutral\tneutral"),
		"glue/MNLI/dev_matched.tsv": lines(mnliDevHeader,
			mnliDevRow(0, "The new rights are nice enough", "Everyone really likes the newest benefits ", "neutral"),
			mnliDevRow(1, "This site includes a list.", "The Government Executive articles are not on the site.", "contradiction")),
		"glue/MNLI/dev_mismatched.tsv": lines(mnliDevHeader,
			mnliDevRow(0, "Your contribution helped make it possible.", "Your contributions were of no help.", "contradiction"),
			mnliDevRow(1, "The sun rose.", "It was morning.", "entailment")),
	})
	ds, err := taskByName(t, "mnli").Load(data.DataOptions{DataDir: root})
	if err != nil {
		t.Fatal(err)
	}
	want := data.Example{ID: "mnli/train/0",
		Source: "premise: Conceptually cream skimming has two basic dimensions . hypothesis: Product and geography are what make cream skimming work.",
		Target: "1"}
	if len(ds.Train) != 1 || ds.Train[0].ID != want.ID || ds.Train[0].Source != want.Source || ds.Train[0].Target != want.Target {
		t.Errorf("train = %+v, want [%+v]", ds.Train, want)
	}
	// dev = validation_mismatched, test = validation_matched, both in file order.
	if got := []string{ds.Dev[0].ID, ds.Dev[0].Target, ds.Dev[1].Target}; !slices.Equal(got, []string{"mnli/val_mismatched/0", "2", "0"}) {
		t.Errorf("dev = %v", got)
	}
	if got := []string{ds.Test[0].ID, ds.Test[0].Target, ds.Test[1].Target}; !slices.Equal(got, []string{"mnli/val_matched/0", "1", "2"}) {
		t.Errorf("test = %v", got)
	}
	if ds.Test[0].Source != "premise: The new rights are nice enough hypothesis: Everyone really likes the newest benefits" {
		t.Errorf("test[0].Source = %q", ds.Test[0].Source)
	}
}

func TestQQPSkipsAndCountsMalformedRows(t *testing.T) {
	header := "id\tqid1\tqid2\tquestion1\tquestion2\tis_duplicate"
	train := []string{header}
	for i := range 1003 {
		train = append(train, fmt.Sprintf("%d\t%d\t%d\tHow do I learn Go %d?\tWhat is the best way to learn Go %d?\t%d", i, 2*i, 2*i+1, i, i, i%2))
		if i == 10 || i == 500 {
			train = append(train, "broken row\twith three\tfields")
		}
	}
	root := writeFiles(t, map[string]string{
		"glue/QQP/train.tsv": lines(train...),
		"glue/QQP/dev.tsv": lines(header,
			"0\t1\t2\tWhy is the sky blue?\tWhat makes the sky blue?\t1",
			"a line the Quora export broke in two",
			"1\t3\t4\tHow old is the moon?\tHow far is the moon?\t0"),
	})
	ds, err := taskByName(t, "qqp").Load(data.DataOptions{DataDir: root})
	if err != nil {
		t.Fatal(err)
	}
	if want := map[string]int{"glue/QQP/train.tsv": 2, "glue/QQP/dev.tsv": 1}; !mapsEqual(ds.Skipped, want) {
		t.Errorf("Skipped = %v, want %v", ds.Skipped, want)
	}
	if len(ds.Dev) != HoldOutSize || len(ds.Train) != 3 || len(ds.Test) != 2 {
		t.Errorf("sizes train/dev/test = %d/%d/%d, want 3/1000/2", len(ds.Train), len(ds.Dev), len(ds.Test))
	}
	if ds.Test[0].Source != "question1: Why is the sky blue? question2: What makes the sky blue?" || ds.Test[0].Target != "1" {
		t.Errorf("test[0] = %+v", ds.Test[0])
	}
}

func mapsEqual(a, b map[string]int) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

func TestReCoRDFromOfficialLayout(t *testing.T) {
	line := `{"source": "Daily mail", "passage": {"text": "The cat sat.\n@highlight\nCats like mats\n@highlight\nDogs do not", "entities": [{"start": 4, "end": 6}]}, "qas": [` +
		`{"query": "@placeholder sat on the mat", "answers": [{"start": 4, "end": 6, "text": "cat"}, {"start": 40, "end": 42, "text": "cat"}, {"start": 50, "end": 53, "text": "Cats"}], "idx": 0},` +
		`{"query": "The @placeholder barked", "answers": [{"start": 60, "end": 63, "text": "Dogs"}], "idx": 1}], "idx": 7}`
	root := writeFiles(t, map[string]string{"superglue/ReCoRD/val.jsonl": line + "\n"})
	task := taskByName(t, "record")
	if _, err := task.Load(data.DataOptions{DataDir: root}); err == nil || !strings.Contains(err.Error(), "train.jsonl") {
		t.Errorf("Load without train.jsonl: err = %v, want one naming train.jsonl", err)
	}
	ds, err := LoadEval(task, data.DataOptions{DataDir: root})
	if err != nil {
		t.Fatal(err)
	}
	if len(ds.Train) != 0 || len(ds.Dev) != 0 || len(ds.Test) != 2 {
		t.Fatalf("sizes train/dev/test = %d/%d/%d, want 0/0/2", len(ds.Train), len(ds.Dev), len(ds.Test))
	}
	ex := ds.Test[0]
	if ex.ID != "record/val/p7/q0" ||
		ex.Source != "question: @placeholder sat on the mat context: The cat sat. Cats like mats. Dogs do not" ||
		ex.Target != "cat" || !slices.Equal(ex.Answers, []string{"cat", "Cats"}) {
		t.Errorf("test[0] = %+v", ex)
	}
}

func TestMultiRCMarkupRemoved(t *testing.T) {
	line := `{"idx": 3, "passage": {"text": "<b>Sent 1: </b>Tom ran.<br><b>Sent 2: </b>He won.<br>", "questions": [` +
		`{"question": "Who <b>won</b>?", "idx": 9, "answers": [{"text": "Tom", "idx": 0, "label": 1}, {"text": "Ann", "idx": 1, "label": 0}]}]}}`
	exs, err := parseMultiRC([]byte(line), "multirc/val", 0)
	if err != nil {
		t.Fatal(err)
	}
	want := []data.Example{
		{ID: "multirc/val/p3/q9/a0", Source: "question: Who won? answer: Tom paragraph: Sent 1: Tom ran. Sent 2: He won.", Target: "1", Group: "multirc/val/p3/q9"},
		{ID: "multirc/val/p3/q9/a1", Source: "question: Who won? answer: Ann paragraph: Sent 1: Tom ran. Sent 2: He won.", Target: "0", Group: "multirc/val/p3/q9"},
	}
	if len(exs) != 2 {
		t.Fatalf("got %d examples, want 2", len(exs))
	}
	for i := range want {
		if exs[i].ID != want[i].ID || exs[i].Source != want[i].Source || exs[i].Target != want[i].Target || exs[i].Group != want[i].Group {
			t.Errorf("example %d = %+v, want %+v", i, exs[i], want[i])
		}
	}
}

func TestWSCMarks(t *testing.T) {
	cases := []struct {
		name, text string
		span1      wscSpan
		span2      wscSpan
		want       string
	}{
		{"plain", "Mark told Pete many lies about himself. He lied.",
			wscSpan{0, "Mark", "*"}, wscSpan{7, "He", "#"},
			"* Mark * told Pete many lies about himself. # He # lied."},
		{"span case differs from the text", "He hit the table because it was there.",
			wscSpan{2, "The table", "*"}, wscSpan{5, "it", "#"},
			"He hit * the table * because # it # was there."},
		{"index one word early", "Put it in the safe . Use it later.",
			wscSpan{4, "safe", "*"}, wscSpan{5, "it", "#"},
			"Put it in the * safe * . Use # it # later."},
		{"punctuation after the span", `"Good for him," he said to Bob.`,
			wscSpan{6, "Bob", "*"}, wscSpan{2, "him", "#"},
			`"Good for # him #," he said to * Bob *.`},
		{"newline inside the span text", "to \" willow-towered Canopy \" as it was",
			wscSpan{2, "willow-towered\nCanopy", "*"}, wscSpan{6, "it", "#"},
			"to \" * willow-towered Canopy * \" as # it # was"},
		{"pronoun nested in the noun phrase", "and their mothers are worried.",
			wscSpan{1, "their mothers", "*"}, wscSpan{1, "their", "#"},
			"and * # their # mothers * are worried."},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := markWSCSpans(c.text, c.span1, c.span2)
			if err != nil {
				t.Fatal(err)
			}
			if got != c.want {
				t.Errorf("got  %q\nwant %q", got, c.want)
			}
		})
	}
	if _, err := markWSCSpans("nothing to see here", wscSpan{0, "zebra", "*"}); err == nil {
		t.Error("a span absent from the text should be an error")
	}
}

func TestFillTemplateAndSTSBTarget(t *testing.T) {
	if got := fillTemplate(piece{"sentence1", " padded  "}, piece{"sentence2", ""}); got != "sentence1: padded sentence2:" {
		t.Errorf("fillTemplate = %q", got)
	}
	// Expected values computed by the references' own expression under numpy 1.24:
	// str(np.round((float(np.float32(s))*5)/5, decimals=1)).
	for score, want := range map[string]string{
		"5.000": "5.0", "3.800": "3.8", "4.750": "4.8", "0.000": "0.0", "2.7": "2.7", "0.2999": "0.3",
		"2.5": "2.5", "0.1": "0.1", "1.3": "1.3", "0.5": "0.5", "3.867": "3.9", "4.909": "4.9",
		// Ties go to even on the float32 value: 0.25 is exact, 0.35 and 0.45 lie below, 2.45 above.
		"0.25": "0.2", "0.35": "0.3", "0.45": "0.4", "2.45": "2.5", "1.15": "1.1",
	} {
		got, ok := stsbTarget(score)
		if !ok || got != want {
			t.Errorf("stsbTarget(%q) = %q, %v; want %q", score, got, ok, want)
		}
	}
	for _, bad := range []string{"", "x", "-0.5", "5.2"} {
		if _, ok := stsbTarget(bad); ok {
			t.Errorf("stsbTarget(%q) accepted an invalid score", bad)
		}
	}
}

// A generation is valid for STS-B when it is a finite number: "nan" and "inf" parse but score
// as −1, so they count as invalid too.
func TestSTSBValidPredictions(t *testing.T) {
	stsb := taskByName(t, "stsb").(interface{ ValidPrediction(string) bool })
	for p, want := range map[string]bool{"3.8": true, " 0 ": true, "5.0": true, "nan": false, "NaN": false, "inf": false, "-Inf": false, "high": false, "": false} {
		if got := stsb.ValidPrediction(p); got != want {
			t.Errorf("ValidPrediction(%q) = %v, want %v", p, got, want)
		}
	}
}
