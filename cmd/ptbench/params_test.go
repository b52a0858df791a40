package main

import (
	"bytes"
	"encoding/json"
	"testing"

	"github.com/ptbench/ptbench/core/coretest"
)

// `ptbench params -o json` prints one row per method with method and trainable_params; a
// method that edits weights leaves the backbone as it found it for the next one.
func TestParamsJSON(t *testing.T) {
	coretest.LockThread(t)
	root := newRoot()
	var out, errOut bytes.Buffer
	root.SetOut(&out)
	root.SetErr(&errOut)
	root.SetArgs([]string{"params", "--methods", "pt,ft,lora,adapter,adapterdrop,bitfit", "--backbone", "t5-tiny",
		"--set", "lora.rank=2", "--set", "adapterdrop.k=1", "-o", "json", "--threads", "1"})
	if err := root.Execute(); err != nil {
		t.Fatalf("%v\n%s", err, errOut.String())
	}
	var rows []map[string]any
	if err := json.Unmarshal(out.Bytes(), &rows); err != nil {
		t.Fatalf("%v: %s", err, out.String())
	}
	// t5-tiny: d 64, d_ff 256, 2+2 blocks, vocab 259, 246,976 parameters.
	want := map[string]float64{
		"pt":          100 * 64,
		"ft":          246_976,
		"lora":        12 * 2 * (64 + 64),
		"adapter":     8*(2*64*24+24+64) + 12*64,
		"adapterdrop": 4*(2*64*24+24+64) + 12*64,
		"bitfit":      6*4*64 + 4*(256+64) + 10*64 + 259, // block norms only: not the two final ones
	}
	if len(rows) != len(want) {
		t.Fatalf("rows %v", rows)
	}
	for _, r := range rows {
		name, _ := r["method"].(string)
		if got := r["trainable_params"]; got != want[name] {
			t.Errorf("%s: trainable_params %v, want %v", name, got, want[name])
		}
	}
	for _, bad := range [][]string{{"params"}, {"params", "--methods", "nope", "--backbone", "t5-tiny"},
		{"params", "--methods", "lora", "--set", "lora.rank=0", "--backbone", "t5-tiny"}} {
		root := newRoot()
		root.SetOut(&out)
		root.SetErr(&errOut)
		root.SetArgs(bad)
		if err := root.Execute(); err == nil {
			t.Errorf("%v accepted", bad)
		}
	}
}
