package storage

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"sort"
	"strings"

	"github.com/ptbench/ptbench/core"
)

// RunIdentity is everything that changes a run's numbers: two runs with the same identity
// compute the same thing, so a finished one is not run again (resume) and a leaderboard may
// average it with its seeds; anything that differs makes another run. Run keys (RunIdentity.Key)
// and source-artefact names (RunIdentity.ArtefactName) are both hashes of it.
//
// Compatibility: the hash is taken over a JSON form in which every option added after the
// first release (Numerics, Temperature) is left out while it has its default value, so a
// default run (float32, full precision, the checkpoint's dropout and tokenizer) keeps the key
// it had before; a bfloat16, NF4, dropout- or tokenizer-overridden run gets a key of its own.
type RunIdentity struct {
	Method   string            // registered method name
	Config   any               // the method's resolved config (incl. an --init-from fingerprint)
	Tasks    []string          // the task, or a multi-task run's tasks in order
	Seed     int64             // the run's seed
	Backbone string            // preset name or checkpoint path as given
	Numerics Numerics          // how the backbone computes (dtype, quantisation, dropout, tokenizer)
	Train    core.TrainOptions // schedule, batch shape, padding/grouping, eval/test limits
	KShot    int               // k-shot sampling (0: full training set)
	DataHash string            // fingerprint of the examples (DataHash)
	// Temperature is the multi-task sampler's temperature (counted only for multi-task runs).
	Temperature float64
}

// Numerics are the backbone options that change a run's numbers. The zero value is the
// default: float32 compute, full-precision weights, the checkpoint's dropout and tokenizer.
type Numerics struct {
	DType     string   `json:"dtype,omitempty"`     // "bfloat16"; "" = float32
	Quant     string   `json:"quant,omitempty"`     // "nf4"; "" = none
	Dropout   *float64 `json:"dropout,omitempty"`   // nil = the checkpoint's rate
	Tokenizer string   `json:"tokenizer,omitempty"` // override: "byte" or "<file name>@<sha256 prefix>"
	InitSeed  int64    `json:"init_seed,omitempty"` // a random-init preset's weight seed
	Device    string   `json:"device,omitempty"`    // "" = cpu
	// Forms is "plain" when core.FormsEnv asks for the plain forms of computation; "" is the
	// backbone's default (fast) forms, which keep the keys runs had before there were two:
	// they differ from the plain ones by float rounding only (README: T5 numerics).
	Forms string `json:"forms,omitempty"`
}

// IsDefault reports whether n is the default numerics (what runs before RunIdentity had).
func (n Numerics) IsDefault() bool {
	return n.DType == "" && n.Quant == "" && n.Dropout == nil && n.Tokenizer == "" && n.InitSeed == 0 && n.Device == "" && n.Forms == ""
}

// NumericsOf is the identity of backbone options: the typed dtype, quantisation and device
// (parsed once, ParseDType/ParseQuant/ParseDevice) by their canonical names, each left empty
// at its default so a default run keeps its key; a tokenizer file is named by its base name
// and content hash (so moving the file keeps the identity, editing it does not); the plain
// forms (core.FormsEnv) as Forms.
func NumericsOf(o core.BackboneOptions) Numerics {
	n := Numerics{Dropout: o.Dropout, InitSeed: o.Seed}
	if o.DType != core.Float32 {
		n.DType = o.DType.String()
	}
	if o.Quant != core.QuantNone {
		n.Quant = o.Quant.String()
	}
	if o.Device != core.CPU {
		n.Device = o.Device.String()
	}
	n.Tokenizer = tokenizerIdentity(o.Tokenizer)
	if plain, _ := core.PlainForms(); plain { // a misspelt value fails where the backbone opens
		n.Forms = "plain"
	}
	return n
}

// tokenizerIdentity names a tokenizer override: built-in names as they are, a file by its
// base name and the first 12 hex digits of its sha256 (the path itself if unreadable).
func tokenizerIdentity(spec string) string {
	if spec == "" || !strings.ContainsAny(spec, `/\.`) {
		return spec
	}
	b, err := os.ReadFile(spec)
	if err != nil {
		return spec
	}
	h := sha256.Sum256(b)
	base := spec[strings.LastIndexAny(spec, `/\`)+1:]
	return base + "@" + hex.EncodeToString(h[:])[:12]
}

// methodRevision is the registered method's Description.Revision (0 for an unknown name), or
// its config's core.RevisedConfig revision where that is larger: a method fixed so that some
// of its results change gets new keys, and its old rows stay old.
func methodRevision(method string, config any) int {
	d, _ := core.Describe(method)
	if c, ok := config.(core.RevisedConfig); ok {
		return max(d.Revision, c.ConfigRevision())
	}
	return d.Revision
}

// TrainingRevision counts changes to the training and evaluation every method shares that
// change every method's results; keys and artefact names hash it when it is not 0, so rows
// trained before such a change are never resumed as today's. 1: AdamW is transformers.AdamW's
// formula (ε added to √v before the bias correction, weight decay after the update), as every
// reference trains. 2: generations are decoded as the references decode them — at most 19 new
// tokens (Hugging Face's max_length 20 counts the decoder's start token) and without <unk>
// (skip_special_tokens; SentencePiece's decoder wrote it as " ⁇ ") — and NF4 is bitsandbytes'
// to the bit (the dynamic map's float32 products; under bf16, the bf16 weights quantised).
// A variable only so that tests can show revision 0 is the legacy encoding.
var TrainingRevision = 2

// Key is the run key: "<method>.<task>.s<seed>.<hash>" with the hash over the identity.
func (id RunIdentity) Key() (string, error) {
	var numerics *Numerics
	if !id.Numerics.IsDefault() {
		numerics = &id.Numerics
	}
	var temperature *float64
	if len(id.Tasks) > 1 && id.Temperature != 0 && id.Temperature != 1 {
		temperature = &id.Temperature
	}
	task := strings.Join(id.Tasks, "+")
	// The first eight fields, their names and order are the key's original encoding; keep them.
	b, err := json.Marshal(struct {
		M string
		C any
		T string
		S int64
		B string
		O core.TrainOptions
		K int
		D string
		N *Numerics `json:",omitempty"`
		P *float64  `json:",omitempty"`
		R int       `json:",omitempty"`
		E int       `json:",omitempty"`
	}{id.Method, id.Config, task, id.Seed, id.Backbone, id.Train, id.KShot, id.DataHash, numerics, temperature,
		methodRevision(id.Method, id.Config), TrainingRevision})
	if err != nil {
		return "", fmt.Errorf("run key for %s on %s: %w", id.Method, task, err)
	}
	h := sha256.Sum256(b)
	return fmt.Sprintf("%s.%s.s%d.%s", id.Method, task, id.Seed, hex.EncodeToString(h[:])[:10]), nil
}

// ArtefactName is the stable name of a source artefact trained with this identity:
// "<method>.<sorted tasks>.s<seed>.<hash>" (K-shot is never part of a source's identity: sources
// train on full training sets).
func (id RunIdentity) ArtefactName() (string, error) {
	var numerics *Numerics
	if !id.Numerics.IsDefault() {
		numerics = &id.Numerics
	}
	// The first seven fields are the artefact name's original encoding; keep them.
	b, err := json.Marshal(struct {
		Method   string            `json:"method"`
		Config   any               `json:"config"`
		Backbone string            `json:"backbone"`
		Tasks    []string          `json:"tasks"`
		DataHash string            `json:"data_hash"`
		Seed     int64             `json:"seed"`
		Train    core.TrainOptions `json:"train"`
		Numerics *Numerics         `json:"numerics,omitempty"`
		Revision int               `json:"revision,omitempty"`
		Training int               `json:"training,omitempty"`
	}{id.Method, id.Config, id.Backbone, id.Tasks, id.DataHash, id.Seed, id.Train, numerics, methodRevision(id.Method, id.Config), TrainingRevision})
	if err != nil {
		return "", fmt.Errorf("artefact %s: identity does not encode: %w", id.Method, err)
	}
	h := sha256.Sum256(b)
	tasks := append([]string(nil), id.Tasks...)
	sort.Strings(tasks)
	return fmt.Sprintf("%s.%s.s%d.%s", id.Method, strings.Join(tasks, "+"), id.Seed, hex.EncodeToString(h[:])[:10]), nil
}

// ArtefactIdentity is everything an artefact's name is derived from, as recorded in the
// artefact file's metadata (`ptbench artefacts list`). Its name is RunIdentity.ArtefactName.
type ArtefactIdentity struct {
	Method   string            `json:"method"`
	Config   any               `json:"config"` // the method's resolved config
	Backbone string            `json:"backbone"`
	Tasks    []string          `json:"tasks"`
	DataHash string            `json:"data_hash"` // hash of the training examples of Tasks
	Seed     int64             `json:"seed"`
	Train    core.TrainOptions `json:"train"`
	Numerics *Numerics         `json:"numerics,omitempty"` // nil: the default numerics
}

// ArtefactName is the stable name of an identity: "<method>.<tasks>.s<seed>.<hash>", the hash
// over the whole identity (so another config, backbone, numerics, data or schedule is another
// name). It is RunIdentity.ArtefactName, so run keys and artefact names count the same options.
func ArtefactName(id ArtefactIdentity) (string, error) {
	rid := RunIdentity{Method: id.Method, Config: id.Config, Backbone: id.Backbone, Tasks: id.Tasks,
		DataHash: id.DataHash, Seed: id.Seed, Train: id.Train}
	if id.Numerics != nil {
		rid.Numerics = *id.Numerics
	}
	return rid.ArtefactName()
}

// DataHash fingerprints training examples (sources and targets, in order) so that a result
// or an artefact names the data it was trained on, not just the task.
func DataHash(examples ...[]core.Example) string {
	h := sha256.New()
	for _, exs := range examples {
		for _, e := range exs {
			h.Write([]byte(e.Source))
			h.Write([]byte{0})
			h.Write([]byte(e.Target))
			h.Write([]byte{0})
		}
		h.Write([]byte{1})
	}
	return hex.EncodeToString(h.Sum(nil))[:16]
}
