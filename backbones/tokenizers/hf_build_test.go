package tokenizers

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
)

// TestBuildStepSequences: one builder serves the three component kinds, so nested
// Sequences, null items and the per-kind list key must behave the same for each.
func TestBuildStepSequences(t *testing.T) {
	normalizers := func(c *hfComponent) []json.RawMessage { return c.Normalizers }
	decoders := func(c *hfComponent) []json.RawMessage { return c.Decoders }
	preTokenizers := func(c *hfComponent) []json.RawMessage { return c.PreTokenizers }
	for _, tc := range []struct {
		name, raw string
		run       func(raw string) (any, error)
		want      any    // the built step's output on the case's input
		wantErr   string // when set, the error must contain it
	}{
		{name: "nested normalizers, null items left out",
			raw: `{"type":"Sequence","normalizers":[null,{"type":"Sequence","normalizers":[{"type":"Prepend","prepend":"_"},null]},{"type":"Lowercase"}]}`,
			run: func(raw string) (any, error) {
				n, err := buildStep(json.RawMessage(raw), "normalizer", normalizers, newHFNormalizer)
				if err != nil {
					return nil, err
				}
				return n.apply("AB"), nil
			},
			want: "_ab"},
		{name: "a Sequence names its list per kind (decoders is not a normalizer's)",
			raw: `{"type":"Sequence","decoders":[{"type":"Lowercase"}]}`,
			run: func(raw string) (any, error) {
				n, err := buildStep(json.RawMessage(raw), "normalizer", normalizers, newHFNormalizer)
				if err != nil {
					return nil, err
				}
				return n.apply("AB"), nil
			},
			want: "AB"},
		{name: "decoders in order",
			raw: `{"type":"Sequence","decoders":[{"type":"Replace","pattern":{"String":"_"},"content":" "},{"type":"Sequence","decoders":[{"type":"Fuse"}]}]}`,
			run: func(raw string) (any, error) {
				d, err := buildStep(json.RawMessage(raw), "decoder", decoders, newHFDecoder)
				if err != nil {
					return nil, err
				}
				return d.apply([]string{"_a", "b"}), nil
			},
			want: []string{" ab"}},
		{name: "absent section",
			raw: `null`,
			run: func(raw string) (any, error) {
				p, err := buildStep(json.RawMessage(raw), "pre_tokenizer", preTokenizers, newHFPreTokenizer)
				return p == nil, err
			},
			want: true},
		{name: "nested error names its place",
			raw: `{"type":"Sequence","pretokenizers":[{"type":"Sequence","pretokenizers":[{"type":"WhitespaceSplit"},{"type":"Bad"}]}]}`,
			run: func(raw string) (any, error) {
				return buildStep(json.RawMessage(raw), "pre_tokenizer", preTokenizers, newHFPreTokenizer)
			},
			wantErr: `pre_tokenizer[0][1] type "Bad"`},
	} {
		got, err := tc.run(tc.raw)
		switch {
		case tc.wantErr != "":
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("%s: error %v, want one containing %q", tc.name, err, tc.wantErr)
			}
		case err != nil:
			t.Errorf("%s: %v", tc.name, err)
		case !reflect.DeepEqual(got, tc.want):
			t.Errorf("%s: got %#v, want %#v", tc.name, got, tc.want)
		}
	}
}
