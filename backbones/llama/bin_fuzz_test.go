package llama

import (
	"encoding/binary"
	"os"
	"path/filepath"
	"testing"
)

// FuzzBinHeader: any 28-byte llama2.c header followed by any (small) body is either refused
// with an error by every reader, or accepted by all of them and loaded; never a panic (a
// header whose size arithmetic overflowed made LoadBin panic in makeslice).
func FuzzBinHeader(f *testing.F) {
	f.Add(int32(8), int32(4), int32(1), int32(2), int32(2), int32(4), int32(4), uint16(0))
	f.Add(int32(1<<30), int32(1<<30), int32(1), int32(1), int32(1), int32(1<<29), int32(1<<29-3), uint16(0))
	f.Add(int32(8), int32(16), int32(2), int32(2), int32(1), int32(-10), int32(4), uint16(200))
	f.Add(int32(-1), int32(0), int32(0), int32(0), int32(0), int32(0), int32(0), uint16(3))
	f.Fuzz(func(t *testing.T, dim, hidden, layers, heads, kvHeads, vocab, seqLen int32, body uint16) {
		body %= 8192 // the file stays small; the header may announce anything
		h := BinHeader{Dim: dim, Hidden: hidden, Layers: layers, Heads: heads, KVHeads: kvHeads, Vocab: vocab, SeqLen: seqLen}
		p := filepath.Join(t.TempDir(), "x.bin")
		raw := make([]byte, 28+int(body))
		for i, v := range []int32{dim, hidden, layers, heads, kvHeads, vocab, seqLen} {
			binary.LittleEndian.PutUint32(raw[4*i:], uint32(v))
		}
		if err := os.WriteFile(p, raw, 0o644); err != nil {
			t.Fatal(err)
		}
		checkErr := checkBin(p)
		cfg, w, loadErr := LoadBin(p)
		if (checkErr == nil) != (loadErr == nil) {
			t.Fatalf("header %+v: checkBin %v but LoadBin %v", h, checkErr, loadErr)
		}
		if loadErr != nil {
			if probeBin(p) {
				t.Fatalf("header %+v: probeBin accepted a file LoadBin refuses", h)
			}
			return
		}
		n, err := checkedNumParams(cfg)
		if err != nil {
			t.Fatal(err)
		}
		var got int64
		for _, v := range w {
			got += int64(len(v))
		}
		if got != n {
			t.Fatalf("header %+v: loaded %d weights, the config counts %d", h, got, n)
		}
	})
}
