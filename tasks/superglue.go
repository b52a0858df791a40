package tasks

import (
	"fmt"
	"path"
	"regexp"
	"strings"

	"github.com/ptbench/ptbench/core/data"
)

// SuperGLUE files are JSON lines under superglue/<Task>/{train,val}.jsonl, as unpacked from
// the official v2 archives.

var standardSuperGLUEFiles = map[string]string{fileTrain: "train.jsonl", fileVal: "val.jsonl"}

// superGLUETask builds a small SuperGLUE task whose files live under superglue/<dir>/.
// parseLine turns one JSON line into examples (MultiRC yields one per answer option).
func superGLUETask(i info, dir string, parseLine func(raw []byte, idPrefix string, row int) ([]data.Example, error)) *fileTask {
	i.benchmark = "SuperGLUE"
	rel := map[string]string{}
	for role, name := range standardSuperGLUEFiles {
		rel[role] = path.Join("superglue", dir, name)
	}
	parse := func(p, idPrefix string) ([]data.Example, int, error) {
		var out []data.Example
		row := 0
		err := readJSONL(p, func(line int, raw []byte) error {
			exs, err := parseLine(raw, idPrefix, row)
			row++
			out = append(out, exs...)
			return err
		})
		return out, 0, err
	}
	return &fileTask{info: i, layout: halveValidation, files: rel, parse: parse,
		remote: []remoteFile{superGLUEZip(dir + ".zip")}}
}

func boolTarget(b bool) string {
	if b {
		return "1"
	}
	return "0"
}

func parseBoolQ(raw []byte, idPrefix string, row int) ([]data.Example, error) {
	var r struct {
		Question, Passage *string
		Label             *bool
	}
	if err := decodeLine(raw, &r); err != nil {
		return nil, err
	}
	switch {
	case r.Question == nil:
		return nil, missingField("question")
	case r.Passage == nil:
		return nil, missingField("passage")
	case r.Label == nil:
		return nil, missingField("label")
	}
	return []data.Example{{
		ID:     fmt.Sprintf("%s/%d", idPrefix, row),
		Source: fillTemplate(piece{"question", *r.Question}, piece{"passage", *r.Passage}),
		Target: boolTarget(*r.Label),
	}}, nil
}

// cbLabels is the SuperGLUE CB label order: entailment, contradiction, neutral.
var cbLabels = map[string]string{"entailment": "0", "contradiction": "1", "neutral": "2"}

func parseCB(raw []byte, idPrefix string, row int) ([]data.Example, error) {
	var r struct {
		Premise, Hypothesis, Label *string
	}
	if err := decodeLine(raw, &r); err != nil {
		return nil, err
	}
	switch {
	case r.Premise == nil:
		return nil, missingField("premise")
	case r.Hypothesis == nil:
		return nil, missingField("hypothesis")
	case r.Label == nil:
		return nil, missingField("label")
	}
	target, ok := cbLabels[*r.Label]
	if !ok {
		return nil, fmt.Errorf("label %q, expected one of %s", *r.Label, sortedKeys(cbLabels))
	}
	return []data.Example{{
		ID:     fmt.Sprintf("%s/%d", idPrefix, row),
		Source: fillTemplate(piece{"premise", *r.Premise}, piece{"hypothesis", *r.Hypothesis}),
		Target: target,
	}}, nil
}

func parseWiC(raw []byte, idPrefix string, row int) ([]data.Example, error) {
	var r struct {
		Word, Sentence1, Sentence2 *string
		Label                      *bool
	}
	if err := decodeLine(raw, &r); err != nil {
		return nil, err
	}
	switch {
	case r.Word == nil:
		return nil, missingField("word")
	case r.Sentence1 == nil:
		return nil, missingField("sentence1")
	case r.Sentence2 == nil:
		return nil, missingField("sentence2")
	case r.Label == nil:
		return nil, missingField("label")
	}
	return []data.Example{{
		ID:     fmt.Sprintf("%s/%d", idPrefix, row),
		Source: fillTemplate(piece{"sentence1", *r.Sentence1}, piece{"sentence2", *r.Sentence2}, piece{"word", *r.Word}),
		Target: boolTarget(*r.Label),
	}}, nil
}

func parseWSC(raw []byte, idPrefix string, row int) ([]data.Example, error) {
	var r struct {
		Text   *string
		Target *struct {
			Span1Index *int    `json:"span1_index"`
			Span1Text  *string `json:"span1_text"`
			Span2Index *int    `json:"span2_index"`
			Span2Text  *string `json:"span2_text"`
		}
		Label *bool
	}
	if err := decodeLine(raw, &r); err != nil {
		return nil, err
	}
	switch {
	case r.Text == nil:
		return nil, missingField("text")
	case r.Target == nil:
		return nil, missingField("target")
	case r.Target.Span1Index == nil || r.Target.Span1Text == nil:
		return nil, missingField("target.span1_index / target.span1_text")
	case r.Target.Span2Index == nil || r.Target.Span2Text == nil:
		return nil, missingField("target.span2_index / target.span2_text")
	case r.Label == nil:
		return nil, missingField("label")
	}
	text, err := markWSCSpans(*r.Text,
		wscSpan{*r.Target.Span1Index, *r.Target.Span1Text, "*"},
		wscSpan{*r.Target.Span2Index, *r.Target.Span2Text, "#"})
	if err != nil {
		return nil, err
	}
	return []data.Example{{
		ID:     fmt.Sprintf("%s/%d", idPrefix, row),
		Source: fillTemplate(piece{"text", text}),
		Target: boolTarget(*r.Label),
	}}, nil
}

// multircMarkup matches the HTML that MultiRC paragraphs carry: <br> line breaks and <b>
// sentence labels. T5 replaces <br> with a space and drops <b>, </b>.
var (
	multircBreak = regexp.MustCompile(`<br\s*/?>`)
	multircBold  = regexp.MustCompile(`</?b>`)
)

// cleanMultiRC removes the markup and collapses the white space it leaves behind.
func cleanMultiRC(s string) string {
	s = multircBreak.ReplaceAllString(s, " ")
	s = multircBold.ReplaceAllString(s, "")
	return strings.Join(strings.Fields(s), " ")
}

// parseMultiRC yields one example per answer option: "question: q answer: a paragraph: p",
// target the option's label, Group the question. IDs use the official indices:
// multirc/<file>/p<paragraph>/q<question>/a<answer>.
func parseMultiRC(raw []byte, idPrefix string, _ int) ([]data.Example, error) {
	type answer struct {
		Text  *string
		Idx   *int
		Label *int
	}
	type question struct {
		Question *string
		Idx      *int
		Answers  []answer
	}
	var r struct {
		Idx     *int
		Passage *struct {
			Text      *string
			Questions []question
		}
	}
	if err := decodeLine(raw, &r); err != nil {
		return nil, err
	}
	switch {
	case r.Idx == nil:
		return nil, missingField("idx")
	case r.Passage == nil || r.Passage.Text == nil:
		return nil, missingField("passage.text")
	}
	paragraph := cleanMultiRC(*r.Passage.Text)
	var out []data.Example
	for qi, q := range r.Passage.Questions {
		if q.Question == nil || q.Idx == nil {
			return nil, fmt.Errorf("passage.questions[%d]: missing required field \"question\" or \"idx\"", qi)
		}
		group := fmt.Sprintf("%s/p%d/q%d", idPrefix, *r.Idx, *q.Idx)
		for ai, a := range q.Answers {
			if a.Text == nil || a.Idx == nil || a.Label == nil {
				return nil, fmt.Errorf("passage.questions[%d].answers[%d]: missing required field \"text\", \"idx\" or \"label\"", qi, ai)
			}
			if *a.Label != 0 && *a.Label != 1 {
				return nil, fmt.Errorf("passage.questions[%d].answers[%d]: label %d, expected 0 or 1", qi, ai, *a.Label)
			}
			out = append(out, data.Example{
				ID:     fmt.Sprintf("%s/a%d", group, *a.Idx),
				Source: fillTemplate(piece{"question", cleanMultiRC(*q.Question)}, piece{"answer", cleanMultiRC(*a.Text)}, piece{"paragraph", paragraph}),
				Target: fmt.Sprint(*a.Label),
				Group:  group,
			})
		}
	}
	return out, nil
}

func superGLUETasks() []*fileTask {
	acc := []string{"accuracy"}
	two := []string{"0", "1"}
	return []*fileTask{
		superGLUETask(info{name: "multirc", about: "Multi-sentence reading comprehension (SuperGLUE), one example per answer option; F1a and exact match per question",
			maxSourceLen: 348, metrics: []string{"f1a", "em"}, labels: two, scoring: scoreMultiRC}, "MultiRC", parseMultiRC),
		superGLUETask(info{name: "boolq", about: "Yes/no questions about a passage (SuperGLUE)",
			maxSourceLen: 256, metrics: acc, labels: two}, "BoolQ", parseBoolQ),
		superGLUETask(info{name: "wic", about: "Word in context: same sense in both sentences? (SuperGLUE)",
			maxSourceLen: 256, metrics: acc, labels: two}, "WiC", parseWiC),
		superGLUETask(info{name: "wsc", about: "Winograd schema coreference, *noun* and #pronoun# marked (SuperGLUE)",
			maxSourceLen: 256, metrics: acc, labels: two}, "WSC", parseWSC),
		superGLUETask(info{name: "cb", about: "CommitmentBank 3-class entailment (SuperGLUE); accuracy (the tables' score) and macro-F1",
			maxSourceLen: 256, metrics: []string{"accuracy", "f1_macro"}, selectBy: "f1_macro", labels: []string{"0", "1", "2"}}, "CB", parseCB),
	}
}
