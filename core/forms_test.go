package core

import "testing"

func TestPlainForms(t *testing.T) {
	for _, c := range []struct {
		env        string
		plain, bad bool
	}{{"", false, false}, {"fast", false, false}, {" Plain ", true, false}, {"plian", false, true}} {
		t.Setenv(FormsEnv, c.env)
		plain, err := PlainForms()
		if plain != c.plain || (err != nil) != c.bad {
			t.Errorf("%s=%q: plain %v, error %v; want %v, error %v", FormsEnv, c.env, plain, err, c.plain, c.bad)
		}
	}
}
