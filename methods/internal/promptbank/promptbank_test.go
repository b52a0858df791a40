package promptbank

import (
	"testing"

	_ "github.com/ptbench/ptbench/backbones/t5"
	"github.com/ptbench/ptbench/core"
	"github.com/ptbench/ptbench/core/coretest"
)

// Text ids are the tokens tiled then cut to the length, with the source's special tokens
// (T5's </s>) only when asked — PEFT's tokenizer(init_text) has them, PT's text init not.
// Vocab ids are reproducible per seed and below the limit.
func TestIDs(t *testing.T) {
	coretest.LockThread(t)
	bb, err := core.OpenBackbone("t5-tiny", core.BackboneOptions{Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer bb.Close()
	plain, err := TextIDs(bb, "ab", 5, false)
	if err != nil {
		t.Fatal(err)
	}
	special, err := TextIDs(bb, "ab", 5, true)
	if err != nil {
		t.Fatal(err)
	}
	src := bb.EncodeSource("ab", 100)
	if len(src) < 2 {
		t.Fatalf("source ids %v", src)
	}
	for i := range special {
		if special[i] != src[i%len(src)] {
			t.Fatalf("special ids %v, source %v", special, src)
		}
	}
	if plain[2] == special[2] && len(src) != 2 {
		t.Errorf("plain %v and special %v tile the same cycle", plain, special)
	}
	a, b := VocabIDs(3, 50, 1000, 20), VocabIDs(3, 50, 1000, 20)
	for i := range a {
		if a[i] != b[i] || a[i] < 0 || a[i] >= 20 {
			t.Fatalf("vocab ids %v / %v", a, b)
		}
	}
	if _, err := IDs(bb, Spec{Length: 3, How: "text", Text: "  "}, 1); err == nil {
		t.Error("an empty init text was accepted")
	}
}
