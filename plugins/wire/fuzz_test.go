package wire

import (
	"bytes"
	"testing"

	"google.golang.org/protobuf/proto"

	methodpb "github.com/ptbench/ptbench/plugins/proto"
)

// FuzzDecode feeds arbitrary protobuf bytes (what a plugin or the host could send) through
// unmarshalling and Decode: no panic, and a tensor Decode accepts has exactly as many values
// as its shape says, which re-encode to the same bytes (float32) or the same count (bfloat16).
func FuzzDecode(f *testing.F) {
	seed := func(t *methodpb.Tensor) {
		b, err := proto.Marshal(t)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	seed(Encode([]int64{2, 3}, []float32{1, -2, 3.5, 0, 1e-3, 7}, methodpb.DType_DTYPE_F32))
	seed(Encode([]int64{2, 2}, []float32{1, -2, 3.5, 0}, methodpb.DType_DTYPE_BF16))
	seed(Encode(nil, []float32{42}, methodpb.DType_DTYPE_F32))
	seed(&methodpb.Tensor{Shape: []int64{1 << 62, 4}})
	seed(&methodpb.Tensor{Shape: []int64{-1, 4}, Data: make([]byte, 16)})
	seed(&methodpb.Tensor{Shape: []int64{0, 1 << 40}})
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		var w methodpb.Tensor
		if proto.Unmarshal(b, &w) != nil {
			return
		}
		shape, vals, err := Decode(&w)
		if err != nil {
			return
		}
		n := 1
		for _, s := range shape {
			if s < 0 {
				t.Fatalf("accepted negative dimension %v", shape)
			}
			n *= int(s)
		}
		if len(vals) != n {
			t.Fatalf("shape %v: %d values", shape, len(vals))
		}
		switch w.Dtype {
		case methodpb.DType_DTYPE_F32:
			if !bytes.Equal(F32Bytes(vals), w.Data) && len(w.Data) > 0 {
				t.Fatalf("float32 values do not re-encode to their bytes")
			}
		case methodpb.DType_DTYPE_BF16:
			if len(w.Data) != 2*n {
				t.Fatalf("bfloat16 shape %v with %d bytes", shape, len(w.Data))
			}
		default:
			t.Fatalf("accepted dtype %v", w.Dtype)
		}
	})
}
