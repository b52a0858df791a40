package tasks

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// torchPerms is testdata/torch_randperm.json, written by testdata/torch_randperm.py with
// PyTorch 1.13.
type torchPerms struct {
	TorchVersion string `json:"torch_version"`
	Seed         int64  `json:"seed"`
	Whole        []struct {
		Use  string `json:"use"`
		N    int    `json:"n"`
		Seed *int64 `json:"seed"`
		Perm []int  `json:"perm"`
	} `json:"whole"`
	Large []struct {
		Use    string `json:"use"`
		N      int    `json:"n"`
		Head   []int  `json:"head"`
		Tail   []int  `json:"tail"`
		SHA256 string `json:"sha256"`
	} `json:"large"`
}

func readTorchPerms(t *testing.T) torchPerms {
	t.Helper()
	raw, err := os.ReadFile("testdata/torch_randperm.json")
	if err != nil {
		t.Fatal(err)
	}
	var tp torchPerms
	if err := json.Unmarshal(raw, &tp); err != nil {
		t.Fatal(err)
	}
	if len(tp.Whole) == 0 || len(tp.Large) == 0 {
		t.Fatal("testdata/torch_randperm.json holds no permutations")
	}
	return tp
}

// TestTorchRandpermMatchesPyTorch compares TorchRandperm with torch.randperm for every size
// the protocol splits (whole permutations for the validation sets, head, tail and digest for
// the training sets).
func TestTorchRandpermMatchesPyTorch(t *testing.T) {
	tp := readTorchPerms(t)
	for _, c := range tp.Whole {
		seed := tp.Seed
		if c.Seed != nil {
			seed = *c.Seed
		}
		got := TorchRandperm(c.N, seed)
		if !slices.Equal(got, c.Perm) {
			t.Errorf("%s: TorchRandperm(%d, %d) differs from torch.randperm %s (first 10: %v, want %v)",
				c.Use, c.N, seed, tp.TorchVersion, got[:min(10, len(got))], c.Perm[:min(10, len(c.Perm))])
		}
	}
	for _, c := range tp.Large {
		got := TorchRandperm(c.N, tp.Seed)
		if !slices.Equal(got[:len(c.Head)], c.Head) || !slices.Equal(got[len(got)-len(c.Tail):], c.Tail) {
			t.Errorf("%s: TorchRandperm(%d, %d) head or tail differs from torch.randperm", c.Use, c.N, tp.Seed)
		}
		if d := permDigest(got); d != c.SHA256 {
			t.Errorf("%s: TorchRandperm(%d, %d) digest %s, torch.randperm's %s", c.Use, c.N, tp.Seed, d, c.SHA256)
		}
	}
}

// permDigest is the SHA-256 of the permutation written as "i0,i1,…", as the generator
// script writes it.
func permDigest(p []int) string {
	var b strings.Builder
	for i, v := range p {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(strconv.Itoa(v))
	}
	sum := sha256.Sum256([]byte(b.String()))
	return hex.EncodeToString(sum[:])
}

// TestMT19937KnownOutput pins the engine to the standard's published check value: the
// 10000th output of std::mt19937 seeded with the default 5489 is 4123659995 (C++11
// [rand.predef]).
func TestMT19937KnownOutput(t *testing.T) {
	m := newMT19937(5489)
	var v uint32
	for range 10000 {
		v = m.Uint32()
	}
	if v != 4123659995 {
		t.Errorf("10000th output of mt19937(5489) = %d, want 4123659995", v)
	}
}
