package safetensors

import (
	"bytes"
	"cmp"
	"encoding/binary"
	"slices"
	"testing"

	"github.com/ptbench/ptbench/internal/testfix"
)

// FuzzParse: any bytes given as a safetensors file either fail with an error or give tensors
// whose data is exactly as long as dtype and shape say, that decode without panicking and that
// re-encode to a file which parses to the same tensors.
func FuzzParse(f *testing.F) {
	// Seeds from the reference fixtures, kept small: the fuzzer minimises every new input it
	// finds interesting, which takes minutes for a 100 KB file. A fixture contributes a file
	// of its smallest tensors (real names, dtypes and metadata) and the head of its header.
	for _, rel := range []string{"fixtures/t5/t5-tiny-v10/model.bf16.safetensors", "fixtures/t5/t5-tiny-v11/expected.safetensors"} {
		b := testfix.Read(f, rel)
		if b == nil {
			continue
		}
		fix, err := Parse(rel, b)
		if err != nil {
			f.Fatal(err)
		}
		all := fix.Tensors()
		slices.SortFunc(all, func(a, b *Tensor) int { return cmp.Compare(len(a.Data), len(b.Data)) })
		var buf bytes.Buffer
		if err := Encode(&buf, all[:min(4, len(all))], fix.Metadata); err != nil {
			f.Fatal(err)
		}
		f.Add(buf.Bytes())
		f.Add(b[:min(len(b), 512)])
	}
	var buf bytes.Buffer
	small := []*Tensor{FromFloat32("a", []int64{2, 2}, []float32{1, 2, 3, 4}), FromFloat32AsBF16("b", []int64{3}, []float32{1, -1, 0.5}),
		FromInt64("c", nil, []int64{7}), FromFloat64("d", []int64{0, 5}, nil)}
	if err := Encode(&buf, small, map[string]string{"k": "v"}); err != nil {
		f.Fatal(err)
	}
	f.Add(buf.Bytes())
	hdr := func(s string) []byte {
		b := binary.LittleEndian.AppendUint64(nil, uint64(len(s)))
		return append(b, s...)
	}
	f.Add(hdr(`{"x":{"dtype":"F32","shape":[4611686018427387904,4],"data_offsets":[0,0]}}`))
	f.Add(hdr(`{"x":{"dtype":"U8","shape":[1],"data_offsets":[0,1]},"x":{"dtype":"U8","shape":[1],"data_offsets":[1,2]}}`))
	f.Add(hdr(`{"__metadata__":{"a":1}}`))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		file, err := Parse("fuzz.safetensors", data)
		if err != nil {
			return
		}
		tensors := file.Tensors()
		for _, ts := range tensors {
			want, err := byteSize(ts.DType, ts.Shape)
			if err != nil || int64(len(ts.Data)) != want {
				t.Fatalf("tensor %q: %s %v with %d bytes (%v)", ts.Name, ts.DType, ts.Shape, len(ts.Data), err)
			}
			switch ts.DType {
			case "F32", "BF16", "F16", "F64":
				if _, err := ts.Float32s(); err != nil {
					t.Fatalf("tensor %q: %v", ts.Name, err)
				}
			}
		}
		var out bytes.Buffer
		if err := Encode(&out, tensors, file.Metadata); err != nil {
			return // e.g. a dtype the writer does not produce
		}
		again, err := Parse("again.safetensors", out.Bytes())
		if err != nil {
			t.Fatalf("re-encoded file does not parse: %v", err)
		}
		if len(again.Tensors()) != len(tensors) {
			t.Fatalf("%d tensors, %d after a round trip", len(tensors), len(again.Tensors()))
		}
		for _, ts := range tensors {
			b, ok := again.Get(ts.Name)
			if !ok || b.DType != ts.DType || !bytes.Equal(b.Data, ts.Data) || len(b.Shape) != len(ts.Shape) {
				t.Fatalf("tensor %q changed in a round trip", ts.Name)
			}
		}
	})
}
