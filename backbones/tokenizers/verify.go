package tokenizers

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
)

// maxReportedMismatches bounds how many failing lines a Report keeps: enough
// to see a pattern, few enough to print.
const maxReportedMismatches = 5

// ExpectedDecoder is implemented by tokenizers that know what decoding a
// text's ids should give back (its normalised form). VerifyCases uses it to
// check the decode round trip; tokenizers without it skip that check.
type ExpectedDecoder interface {
	ExpectedDecode(text string) string
}

// EncoderDecoder is the subset of Tokenizer that verification needs, so any
// core.Tokenizer can be verified.
type EncoderDecoder interface {
	Encode(text string) []int
	Decode(ids []int) string
}

// Mismatch is one failing line of a cases file.
type Mismatch struct {
	Line int    `json:"line"` // 1-based line number in the cases file
	Kind string `json:"kind"` // "encode" or "decode"
	Text string `json:"text"` // the case's input text
	// For "encode": the reference ids and ours.
	WantIDs []int `json:"want_ids,omitempty"`
	GotIDs  []int `json:"got_ids,omitempty"`
	// For "decode": the normalised text and what decoding the reference ids gave.
	WantText string `json:"want_text,omitempty"`
	GotText  string `json:"got_text,omitempty"`
}

func (m Mismatch) String() string {
	if m.Kind == "decode" {
		return fmt.Sprintf("line %d: decode of %q\n  want %q\n  got  %q", m.Line, m.Text, m.WantText, m.GotText)
	}
	return fmt.Sprintf("line %d: encode of %q\n  want %v\n  got  %v", m.Line, m.Text, m.WantIDs, m.GotIDs)
}

// Report summarises a VerifyCases run.
type Report struct {
	CasesPath string `json:"cases_path"`
	Field     string `json:"field"`
	Cases     int    `json:"cases"` // lines checked

	EncodeMismatches int `json:"encode_mismatches"`

	DecodeChecked    int `json:"decode_checked"` // lines whose round trip was checked
	DecodeMismatches int `json:"decode_mismatches"`
	// DecodeSkipped counts lines whose round trip cannot be checked: the
	// reference ids contain <unk> (the original characters are lost), or
	// the tokenizer does not implement ExpectedDecoder.
	DecodeSkipped int `json:"decode_skipped"`

	// Mismatches holds the first few failures of each kind, in file order.
	Mismatches []Mismatch `json:"mismatches"`
}

// Passed reports whether at least one case ran and none failed.
func (r Report) Passed() bool {
	return r.Cases > 0 && r.EncodeMismatches == 0 && r.DecodeMismatches == 0
}

// String is a human-readable summary followed by the recorded mismatches.
func (r Report) String() string {
	var b strings.Builder
	verdict := "FAIL"
	if r.Passed() {
		verdict = "PASS"
	}
	fmt.Fprintf(&b, "%s %s [%s]: encode %d/%d match; decode round trip %d/%d match (%d skipped)\n",
		verdict, r.CasesPath, r.Field,
		r.Cases-r.EncodeMismatches, r.Cases,
		r.DecodeChecked-r.DecodeMismatches, r.DecodeChecked, r.DecodeSkipped)
	for _, m := range r.Mismatches {
		b.WriteString(m.String())
		b.WriteByte('\n')
	}
	return b.String()
}

// VerifyCases runs a JSON-lines cases file through tok. Each line is an
// object with "text" and, under field, the reference ids. Every line's
// encoding is compared with the reference; where tok can say what the
// normalised text is (ExpectedDecoder), decoding the reference ids must give
// it back. A missing field or malformed line is an error naming the line,
// since it means the file or field name is wrong rather than the tokenizer.
func VerifyCases(tok EncoderDecoder, casesPath, field string) (Report, error) {
	report := Report{CasesPath: casesPath, Field: field}
	file, err := os.Open(casesPath)
	if err != nil {
		return report, fmt.Errorf("cases file: %w", err)
	}
	defer file.Close()

	expectDecoder, canCheckDecode := tok.(ExpectedDecoder)
	unkID := -1
	if u, ok := tok.(interface{ UNK() int }); ok {
		unkID = u.UNK()
	}
	var encodeReported, decodeReported int

	reader := bufio.NewReader(file)
	for lineNo := 1; ; lineNo++ {
		line, readErr := reader.ReadBytes('\n')
		if readErr != nil && !errors.Is(readErr, io.EOF) {
			return report, fmt.Errorf("%s:%d: %w", casesPath, lineNo, readErr)
		}
		if trimmed := strings.TrimSpace(string(line)); trimmed != "" {
			text, want, err := parseCase([]byte(trimmed), field)
			if err != nil {
				return report, fmt.Errorf("%s:%d: %w", casesPath, lineNo, err)
			}
			report.Cases++
			got := tok.Encode(text)
			if !slices.Equal(got, want) {
				report.EncodeMismatches++
				if encodeReported < maxReportedMismatches {
					encodeReported++
					report.Mismatches = append(report.Mismatches, Mismatch{
						Line: lineNo, Kind: "encode", Text: text, WantIDs: want, GotIDs: got,
					})
				}
			}
			if !canCheckDecode || containsID(want, unkID) {
				report.DecodeSkipped++
			} else {
				report.DecodeChecked++
				wantText := expectDecoder.ExpectedDecode(text)
				if gotText := tok.Decode(want); gotText != wantText {
					report.DecodeMismatches++
					if decodeReported < maxReportedMismatches {
						decodeReported++
						report.Mismatches = append(report.Mismatches, Mismatch{
							Line: lineNo, Kind: "decode", Text: text, WantText: wantText, GotText: gotText,
						})
					}
				}
			}
		}
		if readErr != nil { // io.EOF after the last line
			break
		}
	}
	if report.Cases == 0 {
		return report, fmt.Errorf("cases file %s has no cases", casesPath)
	}
	return report, nil
}

func parseCase(line []byte, field string) (string, []int, error) {
	var record map[string]json.RawMessage
	if err := json.Unmarshal(line, &record); err != nil {
		return "", nil, fmt.Errorf("not a JSON object: %w", err)
	}
	var text string
	rawText, ok := record["text"]
	if !ok {
		return "", nil, errors.New(`no "text" field`)
	}
	if err := json.Unmarshal(rawText, &text); err != nil {
		return "", nil, fmt.Errorf(`"text" is not a string: %w`, err)
	}
	rawIDs, ok := record[field]
	if !ok {
		return "", nil, fmt.Errorf("no %q field", field)
	}
	var ids []int
	if err := json.Unmarshal(rawIDs, &ids); err != nil {
		return "", nil, fmt.Errorf("%q is not a list of ids: %w", field, err)
	}
	return text, ids, nil
}

func containsID(ids []int, id int) bool {
	if id < 0 {
		return false
	}
	for _, x := range ids {
		if x == id {
			return true
		}
	}
	return false
}
