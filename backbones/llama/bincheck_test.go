package llama

import (
	"encoding/binary"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ptbench/ptbench/core"
)

// writeBin writes a llama2.c header followed by extra zero bytes.
func writeBin(t *testing.T, h BinHeader, extra int) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "lying.bin")
	f, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	if err := binary.Write(f, binary.LittleEndian, h); err != nil {
		t.Fatal(err)
	}
	if _, err := f.Write(make([]byte, extra)); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	return p
}

// A lying llama2.c header is an error that says why, on every path that opens a .bin (run and
// params through core.OpenBackbone, verify through Open, LoadBin directly), never a panic.
// The first case is the reproduction: sizes whose byte count wraps around int64 to
// exactly 28, so that the unchecked size check passed and make() panicked.
func TestLyingBinHeaderIsAnErrorThatSaysWhy(t *testing.T) {
	overflow := BinHeader{Dim: 1 << 30, Hidden: 1 << 30, Layers: 1, Heads: 1, KVHeads: 1, Vocab: 1 << 29, SeqLen: 1<<29 - 3}
	cases := []struct {
		name  string
		path  string
		wants string
	}{
		{"size arithmetic overflows to 28 bytes", writeBin(t, overflow, 0), "overflows"},
		{"negative dim", writeBin(t, BinHeader{Dim: -8, Hidden: 4, Layers: 1, Heads: 1, KVHeads: 1, Vocab: 4, SeqLen: 4}, 64), "must be positive"},
		{"zero seq_len", writeBin(t, BinHeader{Dim: 8, Hidden: 4, Layers: 1, Heads: 1, KVHeads: 1, Vocab: 4, SeqLen: 0}, 64), "seq_len"},
		{"file shorter than announced", writeBin(t, BinHeader{Dim: 8, Hidden: 4, Layers: 1, Heads: 2, KVHeads: 2, Vocab: 4, SeqLen: 4}, 12), "announces"},
		{"odd head size", writeBin(t, BinHeader{Dim: 9, Hidden: 4, Layers: 1, Heads: 3, KVHeads: 3, Vocab: 4, SeqLen: 4}, 12), "odd"},
	}
	short := filepath.Join(t.TempDir(), "short.bin")
	if err := os.WriteFile(short, []byte{1, 2, 3}, 0o644); err != nil {
		t.Fatal(err)
	}
	cases = append(cases, struct {
		name  string
		path  string
		wants string
	}{"shorter than the header", short, "28 bytes"})
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if probeBin(c.path) {
				t.Fatal("the llama loader accepted a lying header")
			}
			if _, _, err := LoadBin(c.path); err == nil || !strings.Contains(err.Error(), c.wants) {
				t.Fatalf("LoadBin: %v, want an error containing %q", err, c.wants)
			}
			if _, err := Open(c.path, LoadOptions{}); err == nil || !strings.Contains(err.Error(), c.wants) {
				t.Fatalf("Open (verify backbone): %v, want the reason (%q)", err, c.wants)
			}
			_, err := core.OpenBackbone(c.path, core.BackboneOptions{})
			if err == nil || !strings.Contains(err.Error(), c.wants) || strings.Contains(err.Error(), "no loader recognises") {
				t.Fatalf("OpenBackbone: %v, want the reason (%q), not 'no loader recognises'", err, c.wants)
			}
		})
	}
}

// The checked helpers refuse exactly the products and sums that leave int64.
func TestCheckedInt64Arithmetic(t *testing.T) {
	cases := []struct {
		a, b    int64
		mul, ok bool
	}{
		{1 << 31, 1 << 31, true, true},
		{1 << 32, 1 << 31, true, false}, // 2^63
		{math.MaxInt64, 1, true, true},
		{math.MaxInt64, 0, true, true},
		{-1, 2, true, false},
		{math.MaxInt64 - 1, 1, false, true},
		{math.MaxInt64, 1, false, false},
		{-1, 1, false, false},
	}
	for _, c := range cases {
		var ok bool
		if c.mul {
			_, ok = mulInt64(c.a, c.b)
		} else {
			_, ok = addInt64(c.a, c.b)
		}
		if ok != c.ok {
			t.Errorf("mul %v of %d and %d: ok %v, want %v", c.mul, c.a, c.b, ok, c.ok)
		}
	}
}
