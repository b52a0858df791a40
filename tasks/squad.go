package tasks

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path"
	"regexp"
	"strings"

	"github.com/ptbench/ptbench/core/data"
)

// SQuAD v1.1 and ReCoRD are extractive QA in T5 style: "question: … context: …", target the
// first gold answer's text, Example.Answers every distinct gold answer (scored by the max
// over them). Both have large training sets, so they take the large-task split: 1,000
// shuffled training questions = dev, the official validation set = test.

func qaExample(id, question, context string, answers []string) data.Example {
	return data.Example{
		ID:      id,
		Source:  fillTemplate(piece{"question", question}, piece{"context", context}),
		Target:  answers[0],
		Answers: answers,
	}
}

// distinct keeps the first occurrence of each answer text, in order.
func distinct(texts []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, t := range texts {
		if !seen[t] {
			seen[t] = true
			out = append(out, t)
		}
	}
	return out
}

// parseSQuAD reads a SQuAD v1.1 JSON file; IDs are idPrefix/<official question id>.
func parseSQuAD(p, idPrefix string) ([]data.Example, int, error) {
	raw, err := os.ReadFile(p)
	if err != nil {
		return nil, 0, err
	}
	var doc struct {
		Data []struct {
			Paragraphs []struct {
				Context string
				QAs     []struct {
					ID       string
					Question string
					Answers  []struct{ Text string }
				} `json:"qas"`
			}
		}
	}
	if err := json.Unmarshal(raw, &doc); err != nil {
		return nil, 0, jsonErrorAt(p, raw, err)
	}
	if doc.Data == nil {
		return nil, 0, fmt.Errorf("%s:1: no \"data\" array, expected a SQuAD v1.1 file", p)
	}
	var out []data.Example
	for _, article := range doc.Data {
		for _, para := range article.Paragraphs {
			for _, qa := range para.QAs {
				var texts []string
				for _, a := range qa.Answers {
					texts = append(texts, a.Text)
				}
				if qa.ID == "" || len(texts) == 0 {
					return nil, 0, fmt.Errorf("%s:%d: question %q (id %q) has no id or no answers", p, lineOf(raw, qa.ID), qa.Question, qa.ID)
				}
				out = append(out, qaExample(idPrefix+"/"+qa.ID, qa.Question, para.Context, distinct(texts)))
			}
		}
	}
	return out, 0, nil
}

// jsonErrorAt turns a JSON decoding error of a whole-file document into file:line.
func jsonErrorAt(p string, raw []byte, err error) error {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	offset := int64(0)
	switch {
	case errors.As(err, &syn):
		offset = syn.Offset
	case errors.As(err, &typ):
		offset = typ.Offset
	}
	line := 1 + strings.Count(string(raw[:min(int(offset), len(raw))]), "\n")
	return fmt.Errorf("%s:%d: invalid JSON: %v", p, line, err)
}

// lineOf is the line where a string first occurs in raw, for locating semantic errors.
func lineOf(raw []byte, s string) int {
	quoted, _ := json.Marshal(s)
	i := strings.Index(string(raw), string(quoted))
	if i < 0 {
		return 1
	}
	return 1 + strings.Count(string(raw[:i]), "\n")
}

// ReCoRD passages separate their highlights with "\n@highlight\n"; T5 turns them into
// sentences: after closing punctuation a space, otherwise ". ".
var (
	highlightAfterPunct = regexp.MustCompile(`([.?!"'])\n@highlight\n`)
	highlightPlain      = regexp.MustCompile(`\n@highlight\n`)
)

func cleanReCoRDPassage(s string) string {
	s = highlightAfterPunct.ReplaceAllString(s, "$1 ")
	return highlightPlain.ReplaceAllString(s, ". ")
}

// parseReCoRDLine yields one example per query: "question: <query with @placeholder>
// context: <passage>", target the first answer; IDs idPrefix/p<passage idx>/q<query idx>.
func parseReCoRDLine(raw []byte, idPrefix string, _ int) ([]data.Example, error) {
	var r struct {
		Idx     *int
		Passage *struct{ Text *string }
		QAs     []struct {
			Query   *string
			Idx     *int
			Answers []struct{ Text string }
		} `json:"qas"`
	}
	if err := decodeLine(raw, &r); err != nil {
		return nil, err
	}
	if r.Idx == nil {
		return nil, missingField("idx")
	}
	if r.Passage == nil || r.Passage.Text == nil {
		return nil, missingField("passage.text")
	}
	context := cleanReCoRDPassage(*r.Passage.Text)
	var out []data.Example
	for qi, qa := range r.QAs {
		if qa.Query == nil || qa.Idx == nil {
			return nil, fmt.Errorf("qas[%d]: missing required field \"query\" or \"idx\"", qi)
		}
		var texts []string
		for _, a := range qa.Answers {
			texts = append(texts, a.Text)
		}
		if len(texts) == 0 {
			return nil, fmt.Errorf("qas[%d]: no answers (labelled ReCoRD files have at least one)", qi)
		}
		out = append(out, qaExample(fmt.Sprintf("%s/p%d/q%d", idPrefix, *r.Idx, *qa.Idx), *qa.Query, context, distinct(texts)))
	}
	return out, nil
}

func qaTasks() []*fileTask {
	qaInfo := func(name, about string) info {
		return info{name: name, about: about, maxSourceLen: 256, metrics: []string{"em", "f1"}, scoring: scoreSpans}
	}
	record := superGLUETask(qaInfo("record", "ReCoRD cloze-style QA over news (source / few-shot task); exact match and F1"),
		"ReCoRD", parseReCoRDLine)
	record.benchmark = ""
	record.layout = holdOutTrain
	return []*fileTask{
		{
			info:   qaInfo("squad", "SQuAD v1.1 extractive QA (source / few-shot task); exact match and F1"),
			layout: holdOutTrain,
			files: map[string]string{
				fileTrain: path.Join("squad", "train-v1.1.json"),
				fileVal:   path.Join("squad", "dev-v1.1.json"),
			},
			parse: parseSQuAD,
			remote: []remoteFile{
				{mirror: mirrorSQuAD, name: "train-v1.1.json", saveAs: "squad/train-v1.1.json"},
				{mirror: mirrorSQuAD, name: "dev-v1.1.json", saveAs: "squad/dev-v1.1.json"},
			},
		},
		record,
	}
}
