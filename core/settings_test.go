package core

import (
	"math"
	"strings"
	"testing"
)

// ruled exercises every rule of the `check` grammar on the field kinds it applies to.
type ruled struct {
	Length  int      `json:"length" check:">0"`
	Steps   int64    `json:"steps" check:">=0"`
	Top     int      `json:"top" check:"<=8 >-3"`
	LR      float64  `json:"lr" check:"finite>0"`
	Weight  float64  `json:"weight" check:"finite>=0"`
	Temp    float64  `json:"temp" check:"finite"`
	Scale   float32  `json:"scale" check:"<2"`
	Dropout float64  `json:"dropout" check:"in[0,1)"`
	Mix     float64  `json:"mix" check:"in(0,1]"`
	Init    string   `json:"init" check:"oneof=vocab|text"`
	Gate    string   `json:"gate" check:"oneof=ab|b|prompt_ab"`
	Source  string   `json:"source" check:"nonempty"`
	Sources []string `json:"sources" check:"nonempty each=nonempty distinct"`
	Roles   []string `json:"roles,omitempty" check:"each=oneof=q|v"`
	Ratio   *float64 `json:"ratio" check:">0"`
	Free    float64  `json:"free"` // no rules
}

// crossRuled adds a rule between two settings (Validate) to an embedded ruled config.
type crossRuled struct {
	ruled
	Rank int `json:"rank" check:">0"`
}

func (c crossRuled) Validate() error {
	if c.Rank > c.Length {
		return errString("rank exceeds length")
	}
	return nil
}

type errString string

func (e errString) Error() string { return string(e) }

func validRuled() ruled {
	return ruled{Length: 1, Top: 8, LR: 0.3, Dropout: 0, Mix: 1, Init: "vocab", Gate: "prompt_ab", Source: "mnli",
		Sources: []string{"a", "b"}, Roles: []string{"q"}, Free: math.Inf(1)}
}

func TestCheckTagsAcceptAndRejectWithTheSettingsName(t *testing.T) {
	half, zero := 0.5, 0.0
	for _, c := range []struct {
		name string
		edit func(*ruled)
		want string // "" = accepted
	}{
		{"valid", func(*ruled) {}, ""},
		{">0 int", func(r *ruled) { r.Length = 0 }, "length must be > 0, got 0"},
		{">=0 int64", func(r *ruled) { r.Steps = -1 }, "steps must be ≥ 0, got -1"},
		{">=0 at the bound", func(r *ruled) { r.Steps = 0 }, ""},
		{"two rules, the first fails", func(r *ruled) { r.Top = 9 }, "top must be ≤ 8, got 9"},
		{"two rules, the second fails", func(r *ruled) { r.Top = -3 }, "top must be > -3, got -3"},
		{"finite>0 rejects 0", func(r *ruled) { r.LR = 0 }, "lr must be a finite number > 0, got 0"},
		{"finite>0 rejects +Inf", func(r *ruled) { r.LR = math.Inf(1) }, "lr must be a finite number > 0, got +Inf"},
		{"finite>0 rejects NaN", func(r *ruled) { r.LR = math.NaN() }, "lr must be a finite number > 0, got NaN"},
		{"finite>=0 rejects a negative", func(r *ruled) { r.Weight = -0.5 }, "weight must be a finite number ≥ 0, got -0.5"},
		{"finite alone", func(r *ruled) { r.Temp = math.Inf(-1) }, "temp must be a finite number, got -Inf"},
		{"a plain comparison rejects NaN", func(r *ruled) { r.Scale = float32(math.NaN()) }, "scale must be < 2, got NaN"},
		{"in[0,1) open end", func(r *ruled) { r.Dropout = 1 }, "dropout must be in [0, 1), got 1"},
		{"in[0,1) closed end", func(r *ruled) { r.Dropout = -0.1 }, "dropout must be in [0, 1), got -0.1"},
		{"in(0,1] open start", func(r *ruled) { r.Mix = 0 }, "mix must be in (0, 1], got 0"},
		{"oneof two words", func(r *ruled) { r.Init = "random" }, `init must be "vocab" or "text", got "random"`},
		{"oneof three words", func(r *ruled) { r.Gate = "" }, `gate must be "ab", "b" or "prompt_ab", got ""`},
		{"nonempty string", func(r *ruled) { r.Source = "" }, "source must not be empty"},
		{"nonempty slice", func(r *ruled) { r.Sources = nil }, "sources must not be empty"},
		{"each=nonempty", func(r *ruled) { r.Sources = []string{"a", ""} }, "sources[1] must not be empty"},
		{"distinct", func(r *ruled) { r.Sources = []string{"a", "b", "a"} }, `sources: "a" listed twice`},
		{"each=oneof", func(r *ruled) { r.Roles = []string{"q", "k"} }, `roles[1] must be "q" or "v", got "k"`},
		{"a nil pointer is unset", func(r *ruled) { r.Ratio = nil }, ""},
		{"a pointer is checked through", func(r *ruled) { r.Ratio = &zero }, "ratio must be > 0, got 0"},
		{"a set pointer passes", func(r *ruled) { r.Ratio = &half }, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := validRuled()
			c.edit(&r)
			err := CheckConfig(r)
			if c.want == "" {
				if err != nil {
					t.Fatalf("rejected: %v", err)
				}
				return
			}
			if err == nil || err.Error() != c.want {
				t.Fatalf("error %v, want %q", err, c.want)
			}
		})
	}
}

func TestCheckConfigRunsEmbeddedTagsThenValidate(t *testing.T) {
	for _, c := range []struct {
		cfg  crossRuled
		want string
	}{
		{crossRuled{ruled: validRuled(), Rank: 1}, ""},
		{crossRuled{ruled: validRuled(), Rank: 0}, "rank must be > 0, got 0"},
		{crossRuled{ruled: validRuled(), Rank: 2}, "rank exceeds length"},
		{func() crossRuled { c := crossRuled{ruled: validRuled(), Rank: 2}; c.Length = 0; return c }(), "length must be > 0, got 0"},
	} {
		err := CheckConfig(&c.cfg) // through a pointer, as a decoder's target
		if got := ""; err != nil {
			got = err.Error()
			if got != c.want {
				t.Errorf("rank %d length %d: error %q, want %q", c.cfg.Rank, c.cfg.Length, got, c.want)
			}
		} else if c.want != "" {
			t.Errorf("rank %d length %d: accepted, want %q", c.cfg.Rank, c.cfg.Length, c.want)
		}
	}
}

func TestMalformedCheckTagsAreRefused(t *testing.T) {
	for _, c := range []struct {
		name string
		cfg  any
		want string
	}{
		{"unknown word", struct {
			A int `json:"a" check:"positive"`
		}{}, `unknown rule "positive"`},
		{"unknown operator", struct {
			A int `json:"a" check:"=1"`
		}{}, `unknown rule "=1"`},
		{"bad bound", struct {
			A int `json:"a" check:">x"`
		}{}, "is not a number"},
		{"finite on an int", struct {
			A int `json:"a" check:"finite>0"`
		}{}, "finite applies to floats"},
		{"number rule on a string", struct {
			A string `json:"a" check:">0"`
		}{}, "applies to numbers"},
		{"oneof on an int", struct {
			A int `json:"a" check:"oneof=1|2"`
		}{}, "oneof applies to strings"},
		{"oneof with an empty word", struct {
			A string `json:"a" check:"oneof=a||b"`
		}{}, "empty word"},
		{"nonempty on a float", struct {
			A float64 `json:"a" check:"nonempty"`
		}{}, "nonempty applies to"},
		{"each on a string", struct {
			A string `json:"a" check:"each=nonempty"`
		}{}, "each applies to slices"},
		{"interval without brackets", struct {
			A float64 `json:"a" check:"in0,1"`
		}{}, "want in[A,B]"},
		{"interval backwards", struct {
			A float64 `json:"a" check:"in[1,0]"`
		}{}, "A ≤ B"},
		{"empty tag", struct {
			A int `json:"a" check:" "`
		}{}, "no rule"},
		{"a rule on a field that is no setting", struct {
			A int `json:"-" check:">0"`
		}{}, "is not a setting"},
	} {
		err := CheckConfig(c.cfg)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want it to contain %q", c.name, err, c.want)
		}
	}
}

func TestConfiguredMethodsApplyTheirCheckTags(t *testing.T) {
	RegisterConfigured(Description{Name: "test-settings-checked", Family: FamilyInput},
		func() crossRuled { return crossRuled{ruled: validRuled(), Rank: 1} },
		func(c crossRuled) Method { return &fakeInput{} })
	for _, c := range []struct {
		raw  map[string]any
		want string
	}{
		{nil, ""},
		{map[string]any{"length": 0}, "length must be > 0, got 0"},
		{map[string]any{"dropout": 1}, "dropout must be in [0, 1), got 1"},
		{map[string]any{"rank": 5}, "rank exceeds length"},
	} {
		m, err := NewMethod("test-settings-checked", c.raw)
		switch {
		case c.want == "" && err != nil:
			t.Errorf("%v: %v", c.raw, err)
		case c.want != "" && (err == nil || err.Error() != "method test-settings-checked: "+c.want):
			t.Errorf("%v: error %v, want %q", c.raw, err, c.want)
		}
		if m != nil {
			m.Close()
		}
	}
	defer func() {
		if recover() == nil {
			t.Error("a malformed check tag registered")
		}
	}()
	RegisterConfigured(Description{Name: "test-settings-malformed", Family: FamilyInput},
		func() struct {
			A int `json:"a" check:"positive"`
		} {
			return struct {
				A int `json:"a" check:"positive"`
			}{}
		}, nil)
}
