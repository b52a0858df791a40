package tasks

import (
	"fmt"
	"path"
	"strings"

	"github.com/ptbench/ptbench/core/data"
)

// glueFormat describes one GLUE TSV layout: which columns fill the template and which one
// holds the label.
type glueFormat struct {
	// header names the columns of a headerless file (CoLA); nil: the file has a header.
	header []string
	// fields maps template names to column names, in template order.
	fields []piece // name = template name, value = column name
	// labelColumn holds the gold label; labels maps its raw values to target ids.
	labelColumn string
	labels      map[string]string
	// stsb: the label column is a similarity score in [0, 5], rounded by stsbTarget.
	stsb bool
	// skipMalformed: drop and count rows with the wrong field count (QQP).
	skipMalformed bool
}

// parse reads one GLUE file into examples with IDs idPrefix/<row>.
func (g glueFormat) parse(path, idPrefix string) ([]data.Example, int, error) {
	t, err := readTSV(path, tsvOptions{header: g.header, skipMalformed: g.skipMalformed})
	if err != nil {
		return nil, 0, err
	}
	cols := make([]int, len(g.fields))
	for i, f := range g.fields {
		if cols[i], err = t.column(f.value); err != nil {
			return nil, 0, err
		}
	}
	labelCol, err := t.column(g.labelColumn)
	if err != nil {
		return nil, 0, err
	}
	out := make([]data.Example, 0, len(t.rows))
	pieces := make([]piece, len(g.fields))
	for row, r := range t.rows {
		for i, f := range g.fields {
			pieces[i] = piece{f.name, r.fields[cols[i]]}
		}
		raw := strings.TrimSpace(r.fields[labelCol])
		var target string
		var ok bool
		if g.stsb {
			target, ok = stsbTarget(raw)
		} else {
			target, ok = g.labels[raw]
		}
		if !ok {
			return nil, 0, fmt.Errorf("%s:%d: column %q holds %q, expected %s", path, r.line, g.labelColumn, raw, g.expectedLabels())
		}
		out = append(out, data.Example{
			ID:     fmt.Sprintf("%s/%d", idPrefix, row),
			Source: fillTemplate(pieces...),
			Target: target,
		})
	}
	return out, t.skipped, nil
}

func (g glueFormat) expectedLabels() string {
	if g.stsb {
		return "a score between 0 and 5"
	}
	return "one of " + sortedKeys(g.labels)
}

var (
	binaryLabels     = map[string]string{"0": "0", "1": "1"}
	entailmentLabels = map[string]string{"entailment": "0", "not_entailment": "1"}
	mnliLabels       = map[string]string{"entailment": "0", "neutral": "1", "contradiction": "2"}
)

// glueTask builds a GLUE task whose files live under glue/<dir>/.
func glueTask(i info, dir string, layout splitLayout, files map[string]string, g glueFormat, remote []remoteFile) *fileTask {
	i.benchmark = "GLUE"
	rel := map[string]string{}
	for role, name := range files {
		rel[role] = path.Join("glue", dir, name)
	}
	return &fileTask{info: i, layout: layout, files: rel, parse: g.parse, remote: remote}
}

var standardGLUEFiles = map[string]string{fileTrain: "train.tsv", fileVal: "dev.tsv"}

func glueTasks() []*fileTask {
	acc := []string{"accuracy"}
	two := []string{"0", "1"}
	return []*fileTask{
		glueTask(info{name: "mnli", about: "MultiNLI entailment (GLUE), 3 classes; dev = mismatched, test = matched validation",
			maxSourceLen: 256, metrics: acc, labels: []string{"0", "1", "2"}},
			"MNLI", mnliLayout,
			map[string]string{fileTrain: "train.tsv", fileValMatched: "dev_matched.tsv", fileValMismatched: "dev_mismatched.tsv"},
			glueFormat{fields: []piece{{"premise", "sentence1"}, {"hypothesis", "sentence2"}}, labelColumn: "gold_label", labels: mnliLabels},
			[]remoteFile{glueZip("MNLI.zip")}),
		glueTask(info{name: "qqp", about: "Quora question pairs duplicate detection (GLUE); accuracy (the tables' score) and F1",
			maxSourceLen: 256, metrics: []string{"accuracy", "f1"}, labels: two},
			"QQP", holdOutTrain, standardGLUEFiles,
			glueFormat{fields: []piece{{"question1", "question1"}, {"question2", "question2"}}, labelColumn: "is_duplicate", labels: binaryLabels, skipMalformed: true},
			[]remoteFile{glueZip("QQP-clean.zip")}),
		glueTask(info{name: "qnli", about: "Question-answering NLI from SQuAD (GLUE)",
			maxSourceLen: 256, metrics: acc, labels: two},
			"QNLI", holdOutTrain, standardGLUEFiles,
			glueFormat{fields: []piece{{"question", "question"}, {"sentence", "sentence"}}, labelColumn: "label", labels: entailmentLabels},
			[]remoteFile{glueZip("QNLIv2.zip")}),
		glueTask(info{name: "sst2", about: "Stanford sentiment treebank, binary (GLUE)",
			maxSourceLen: 256, metrics: acc, labels: two},
			"SST-2", holdOutTrain, standardGLUEFiles,
			glueFormat{fields: []piece{{"sentence", "sentence"}}, labelColumn: "label", labels: binaryLabels},
			[]remoteFile{glueZip("SST-2.zip")}),
		glueTask(info{name: "stsb", about: "Semantic textual similarity, score rounded to 0.1 as the references print it (GLUE); Pearson and Spearman",
			maxSourceLen: 256, metrics: []string{"pearson", "spearman"}, scoring: scoreRegression},
			"STS-B", halveValidation, standardGLUEFiles,
			glueFormat{fields: []piece{{"sentence1", "sentence1"}, {"sentence2", "sentence2"}}, labelColumn: "score", stsb: true},
			[]remoteFile{glueZip("STS-B.zip")}),
		mrpcTask(info{name: "mrpc", about: "Microsoft research paraphrase corpus (GLUE); accuracy (the tables' score) and F1",
			maxSourceLen: 256, metrics: []string{"accuracy", "f1"}, labels: two}),
		glueTask(info{name: "rte", about: "Recognising textual entailment (GLUE files)",
			maxSourceLen: 256, metrics: acc, labels: two},
			"RTE", halveValidation, standardGLUEFiles,
			glueFormat{fields: []piece{{"sentence1", "sentence1"}, {"sentence2", "sentence2"}}, labelColumn: "label", labels: entailmentLabels},
			[]remoteFile{glueZip("RTE.zip")}),
		glueTask(info{name: "cola", about: "Corpus of linguistic acceptability (GLUE); Matthews correlation",
			maxSourceLen: 256, metrics: []string{"matthews"}, labels: two},
			"CoLA", halveValidation, standardGLUEFiles,
			glueFormat{header: []string{"source", "label", "original_label", "sentence"},
				fields: []piece{{"sentence", "sentence"}}, labelColumn: "label", labels: binaryLabels},
			[]remoteFile{glueZip("CoLA.zip")}),
	}
}
