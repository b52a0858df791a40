package storage

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ptbench/ptbench/core"
)

// atRevision runs f with TrainingRevision set to r.
func atRevision(t *testing.T, r int, f func()) {
	t.Helper()
	saved := TrainingRevision
	TrainingRevision = r
	defer func() { TrainingRevision = saved }()
	f()
}

// legacyKey is the run key as every release before RunIdentity computed it: default runs kept
// it until the first training revision, so finished rows of old results folders counted as done.
func legacyKey(id RunIdentity) string {
	task := strings.Join(id.Tasks, "+")
	b, _ := json.Marshal(struct {
		M string
		C any
		T string
		S int64
		B string
		O core.TrainOptions
		K int
		D string
	}{id.Method, id.Config, task, id.Seed, id.Backbone, id.Train, id.KShot, id.DataHash})
	h := sha256.Sum256(b)
	return fmt.Sprintf("%s.%s.s%d.%s", id.Method, task, id.Seed, hex.EncodeToString(h[:])[:10])
}

func TestRunIdentityKey(t *testing.T) {
	half := 0.0
	base := RunIdentity{Method: "pt", Config: map[string]any{"length": 100}, Tasks: []string{"rte"}, Seed: 1,
		Backbone: "t5-small", Train: core.TrainOptions{Steps: 5, BatchSize: 16}, DataHash: "abc"}
	with := func(f func(*RunIdentity)) RunIdentity { id := base; f(&id); return id }
	atRevision(t, 0, func() { // before the first training revision: the legacy encoding
		if k, _ := base.Key(); k != legacyKey(base) {
			t.Fatalf("default run's key %s at training revision 0, want the legacy key %s", k, legacyKey(base))
		}
	})
	baseKey, err := base.Key()
	if err != nil {
		t.Fatal(err)
	}
	if baseKey == legacyKey(base) {
		t.Fatalf("training revision %d keeps the legacy key %s: rows trained before it would resume", TrainingRevision, baseKey)
	}
	cases := []struct {
		name    string
		id      RunIdentity
		samekey bool
	}{
		{"float32 spelled out", with(func(id *RunIdentity) {
			id.Numerics = NumericsOf(core.BackboneOptions{DType: core.Float32, Quant: core.QuantNone, Device: core.CPU})
		}), true},
		{"bfloat16", with(func(id *RunIdentity) { id.Numerics = NumericsOf(core.BackboneOptions{DType: core.BFloat16}) }), false},
		{"cuda", with(func(id *RunIdentity) { id.Numerics = NumericsOf(core.BackboneOptions{Device: core.Device{CUDA: true}}) }), false},
		{"nf4", with(func(id *RunIdentity) { id.Numerics = NumericsOf(core.BackboneOptions{Quant: core.QuantNF4}) }), false},
		{"dropout 0", with(func(id *RunIdentity) { id.Numerics = NumericsOf(core.BackboneOptions{Dropout: &half}) }), false},
		{"byte tokenizer", with(func(id *RunIdentity) { id.Numerics = NumericsOf(core.BackboneOptions{Tokenizer: "byte"}) }), false},
		{"init seed", with(func(id *RunIdentity) { id.Numerics = NumericsOf(core.BackboneOptions{Seed: 3}) }), false},
		{"eval limit", with(func(id *RunIdentity) { id.Train.EvalLimit = 8 }), false},
		{"test limit", with(func(id *RunIdentity) { id.Train.TestLimit = 8 }), false},
		{"pad to max", with(func(id *RunIdentity) { id.Train.PadToMax = true }), false},
		{"group by length", with(func(id *RunIdentity) { id.Train.GroupByLength = true }), false},
		{"temperature, one task", with(func(id *RunIdentity) { id.Temperature = 2 }), true},
		{"k-shot", with(func(id *RunIdentity) { id.KShot = 16 }), false},
	}
	for _, c := range cases {
		k, err := c.id.Key()
		if err != nil {
			t.Fatal(err)
		}
		if (k == baseKey) != c.samekey {
			t.Errorf("%s: key %s vs default %s: same = %v, want %v", c.name, k, baseKey, k == baseKey, c.samekey)
		}
	}
	// bf16 and its alias are one identity; multi-task temperature counts.
	alias, _ := core.ParseDType("bf16")
	a, _ := with(func(id *RunIdentity) { id.Numerics = NumericsOf(core.BackboneOptions{DType: alias}) }).Key()
	b, _ := with(func(id *RunIdentity) { id.Numerics = NumericsOf(core.BackboneOptions{DType: core.BFloat16}) }).Key()
	if a != b {
		t.Errorf("bf16 %s and bfloat16 %s differ", a, b)
	}
	// The plain forms (PTBENCH_FORMS=plain) are a run of their own; the default forms, spelled
	// out or not, keep the key.
	for _, c := range []struct {
		env  string
		same bool
	}{{"", true}, {"fast", true}, {"plain", false}} {
		t.Setenv(core.FormsEnv, c.env)
		k, _ := with(func(id *RunIdentity) { id.Numerics = NumericsOf(core.BackboneOptions{}) }).Key()
		if (k == baseKey) != c.same {
			t.Errorf("%s=%q: key %s vs default %s: same = %v, want %v", core.FormsEnv, c.env, k, baseKey, k == baseKey, c.same)
		}
	}
	mt := with(func(id *RunIdentity) { id.Tasks = []string{"rte", "mrpc"} })
	k1, _ := mt.Key()
	mt.Temperature = 2
	k2, _ := mt.Key()
	if k1 == k2 {
		t.Error("a multi-task run's temperature is not part of its key")
	}
}

// Artefact names keep their legacy encoding for default numerics and change otherwise.
func TestArtefactNameCountsNumerics(t *testing.T) {
	id := ArtefactIdentity{Method: "pt", Config: map[string]any{"length": 4}, Backbone: "t5-tiny", Tasks: []string{"mnli"},
		DataHash: "d", Seed: 1, Train: core.TrainOptions{Steps: 3}}
	var name string
	atRevision(t, 0, func() {
		name, _ = ArtefactName(id)
	})
	b, _ := json.Marshal(id) // the legacy name hashed exactly this encoding
	h := sha256.Sum256(b)
	if want := "pt.mnli.s1." + hex.EncodeToString(h[:])[:10]; name != want {
		t.Errorf("default artefact name %s at training revision 0, want legacy %s", name, want)
	}
	if now, _ := ArtefactName(id); now == name {
		t.Errorf("training revision %d keeps the artefact name %s", TrainingRevision, now)
	}
	n := NumericsOf(core.BackboneOptions{DType: core.BFloat16})
	id.Numerics = &n
	if bf, _ := ArtefactName(id); bf == name {
		t.Errorf("a bfloat16 artefact has the float32 one's name %s", name)
	}
}

// A tokenizer file is named by content: moving it keeps the identity, editing it does not.
func TestTokenizerIdentityIsContent(t *testing.T) {
	dir := t.TempDir()
	p1, p2 := filepath.Join(dir, "a", "tok.model"), filepath.Join(dir, "b", "tok.model")
	for _, p := range []string{p1, p2} {
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte("same"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if a, b := tokenizerIdentity(p1), tokenizerIdentity(p2); a != b || !strings.HasPrefix(a, "tok.model@") {
		t.Errorf("same content, two identities: %q %q", a, b)
	}
	if err := os.WriteFile(p2, []byte("edited"), 0o644); err != nil {
		t.Fatal(err)
	}
	if a, b := tokenizerIdentity(p1), tokenizerIdentity(p2); a == b {
		t.Errorf("edited tokenizer keeps identity %q", a)
	}
}

// A method whose Description carries a revision (a fix that changed some results) gets run
// keys and artefact names of its own; revision 0 keeps the encoding it always had.
func TestMethodRevisionIsPartOfTheIdentity(t *testing.T) {
	factory := func(map[string]any) (core.Method, error) { return nil, fmt.Errorf("not built in this test") }
	core.RegisterDescribed(core.Description{Name: "revision-zero-test"}, factory)
	core.RegisterDescribed(core.Description{Name: "revision-one-test", Revision: 1}, factory)
	id := func(method string) RunIdentity {
		return RunIdentity{Method: method, Config: map[string]any{"lr": 0.1}, Tasks: []string{"rte"}, Seed: 1,
			Backbone: "t5-small", Train: core.TrainOptions{Steps: 5, BatchSize: 16}, DataHash: "abc"}
	}
	for _, c := range []struct {
		method string
		legacy bool
	}{{"revision-zero-test", true}, {"revision-one-test", false}} {
		saved := TrainingRevision
		TrainingRevision = 0 // the method's revision alone
		k, err := id(c.method).Key()
		if err != nil {
			t.Fatal(err)
		}
		if (k == legacyKey(id(c.method))) != c.legacy {
			t.Errorf("%s: key %s, legacy %s: same = %v, want %v", c.method, k, legacyKey(id(c.method)), !c.legacy, c.legacy)
		}
		art := ArtefactIdentity{Method: c.method, Config: map[string]any{"lr": 0.1}, Backbone: "t5-small",
			Tasks: []string{"rte"}, DataHash: "abc", Seed: 1}
		name, err := ArtefactName(art)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := json.Marshal(art) // the legacy encoding
		h := sha256.Sum256(b)
		if legacy := c.method + ".rte.s1." + hex.EncodeToString(h[:])[:10]; (name == legacy) != c.legacy {
			t.Errorf("%s: artefact name %s, legacy %s: same = %v, want %v", c.method, name, legacy, name == legacy, c.legacy)
		}
		TrainingRevision = saved
	}
}

// revisedTestConfig is fixed at some values only: weight decay above 0.
type revisedTestConfig struct {
	LR          float64 `json:"lr"`
	WeightDecay float64 `json:"weight_decay"`
}

func (c revisedTestConfig) ConfigRevision() int {
	if c.WeightDecay > 0 {
		return 1
	}
	return 0
}

// A config's own revision (core.RevisedConfig) changes the keys of the runs at the values the
// fix changed, and only theirs.
func TestConfigRevisionChangesOnlyTheAffectedKeys(t *testing.T) {
	type plain struct {
		LR          float64 `json:"lr"`
		WeightDecay float64 `json:"weight_decay"`
	}
	key := func(cfg any) string {
		k, err := RunIdentity{Method: "revision-zero-test", Config: cfg, Tasks: []string{"rte"}, Seed: 1, Backbone: "t5-small",
			Train: core.TrainOptions{Steps: 5, BatchSize: 16}, DataHash: "abc"}.Key()
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
	if key(revisedTestConfig{LR: 0.1}) != key(plain{LR: 0.1}) {
		t.Error("a config the fix did not change got a new key")
	}
	if key(revisedTestConfig{LR: 0.1, WeightDecay: 0.01}) == key(plain{LR: 0.1, WeightDecay: 0.01}) {
		t.Error("a config the fix changed kept its old key")
	}
}
