package safetensors

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func writeBytes(t *testing.T, name string, data []byte) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// rawFile assembles a file from a literal JSON header and dataLen zero bytes, for headers
// Write would refuse to produce.
func rawFile(header string, dataLen int) []byte {
	var buf bytes.Buffer
	binary.Write(&buf, binary.LittleEndian, uint64(len(header)))
	buf.WriteString(header)
	buf.Write(make([]byte, dataLen))
	return buf.Bytes()
}

func bf16Tensor(name string, shape []int64, bits ...uint16) *Tensor {
	data := make([]byte, 2*len(bits))
	for i, b := range bits {
		binary.LittleEndian.PutUint16(data[2*i:], b)
	}
	return &Tensor{Name: name, DType: "BF16", Shape: shape, Data: data}
}

func TestWriteReadRoundTrip(t *testing.T) {
	tensors := []*Tensor{
		FromFloat32("prompt.weight", []int64{2, 3}, []float32{1, -2.5, 3.25, float32(math.Inf(1)), 0, -0}),
		FromInt64("ids", []int64{4}, []int64{0, 1, -1, math.MaxInt64}),
		FromFloat64("loss", nil, []float64{0.125}),
		bf16Tensor("half", []int64{3}, 0x3F80, 0xC000, 0x0001),
		{Name: "mask", DType: "BOOL", Shape: []int64{3}, Data: []byte{1, 0, 1}},
		{Name: "empty", DType: "F32", Shape: []int64{0, 7}, Data: []byte{}},
		{Name: "a<b&c", DType: "U8", Shape: []int64{1}, Data: []byte{200}},
	}
	metadata := map[string]string{"format": "pt", "step": "12"}
	path := filepath.Join(t.TempDir(), "out.safetensors")
	if err := Write(path, tensors, metadata); err != nil {
		t.Fatalf("Write: %v", err)
	}

	file, err := Read(path)
	if err != nil {
		t.Fatalf("Read: %v", err)
	}
	wantNames := []string{"a<b&c", "empty", "half", "ids", "loss", "mask", "prompt.weight"}
	if got := file.Names(); !slices.Equal(got, wantNames) {
		t.Errorf("Names() = %v, want %v", got, wantNames)
	}
	if !mapsEqual(file.Metadata, metadata) {
		t.Errorf("Metadata = %v, want %v", file.Metadata, metadata)
	}
	for _, want := range tensors {
		got, ok := file.Get(want.Name)
		if !ok {
			t.Errorf("Get(%q) missing", want.Name)
			continue
		}
		if got.DType != want.DType || !slices.Equal(got.Shape, want.Shape) || !bytes.Equal(got.Data, want.Data) {
			t.Errorf("%q read back as %s %v %x, want %s %v %x", want.Name, got.DType, got.Shape, got.Data, want.DType, want.Shape, want.Data)
		}
	}
	if _, ok := file.Get("missing"); ok {
		t.Error(`Get("missing") reported a tensor`)
	}
	prompt, _ := file.Get("prompt.weight")
	if values, err := prompt.Float32s(); err != nil || !slices.Equal(values, []float32{1, -2.5, 3.25, float32(math.Inf(1)), 0, 0}) {
		t.Errorf("prompt Float32s = %v, %v", values, err)
	}
	ids, _ := file.Get("ids")
	if values, err := ids.Int64s(); err != nil || !slices.Equal(values, []int64{0, 1, -1, math.MaxInt64}) {
		t.Errorf("ids Int64s = %v, %v", values, err)
	}
	loss, _ := file.Get("loss")
	if loss.Numel() != 1 || len(loss.Shape) != 0 {
		t.Errorf("scalar loss has shape %v, numel %d; want [] and 1", loss.Shape, loss.Numel())
	}

	// Layout: header padded to 8 bytes, every tensor aligned to its element size.
	header, err := ReadHeader(path)
	if err != nil {
		t.Fatalf("ReadHeader: %v", err)
	}
	if header.DataStart()%8 != 0 {
		t.Errorf("data section starts at %d, want a multiple of 8", header.DataStart())
	}
	raw, _ := os.ReadFile(path)
	if padding := raw[8:header.DataStart()]; !bytes.HasSuffix(bytes.TrimRight(padding, " "), []byte("}")) {
		t.Errorf("header is not JSON padded with spaces: %q", padding)
	}
	for _, name := range header.Names() {
		info, _ := header.Info(name)
		size, _ := DTypeSize(info.DType)
		if (header.DataStart()+info.Begin)%int64(size) != 0 {
			t.Errorf("%q (%s) starts at file offset %d, not aligned to %d", name, info.DType, header.DataStart()+info.Begin, size)
		}
	}
	assertNoTempFiles(t, filepath.Dir(path))
}

func mapsEqual(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

func assertNoTempFiles(t *testing.T, dir string) {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if strings.Contains(e.Name(), ".tmp-") {
			t.Errorf("temporary file %s left behind in %s", e.Name(), dir)
		}
	}
}

func TestWriteWithoutMetadataOmitsMetadataKey(t *testing.T) {
	var buf bytes.Buffer
	if err := Encode(&buf, []*Tensor{FromFloat32("x", []int64{1}, []float32{1})}, nil); err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(buf.Bytes(), []byte(metadataKey)) {
		t.Errorf("header without metadata mentions %s: %q", metadataKey, buf.Bytes())
	}
	file, err := Parse("mem", buf.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	if file.Metadata == nil || len(file.Metadata) != 0 {
		t.Errorf("Metadata = %#v, want an empty non-nil map", file.Metadata)
	}
}

func TestWriteReplacesExistingFileAndKeepsItOnFailure(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "prompt.safetensors")
	first := []*Tensor{FromFloat32("p", []int64{1}, []float32{1})}
	second := []*Tensor{FromFloat32("p", []int64{2}, []float32{2, 3})}
	if err := Write(path, first, nil); err != nil {
		t.Fatal(err)
	}
	if err := Write(path, second, nil); err != nil {
		t.Fatal(err)
	}
	file, err := Read(path)
	if err != nil {
		t.Fatal(err)
	}
	if p, _ := file.Get("p"); p.Numel() != 2 {
		t.Errorf("after overwrite p has %d elements, want 2", p.Numel())
	}
	before, _ := os.ReadFile(path)

	// A writer that fails half-way must leave the previous file untouched and no temp file.
	failing := errors.New("disk full")
	err = atomicWrite(path, func(w io.Writer) error {
		w.Write([]byte("partial garbage"))
		return failing
	})
	if !errors.Is(err, failing) {
		t.Errorf("atomicWrite error = %v, want it to wrap %v", err, failing)
	}
	after, _ := os.ReadFile(path)
	if !bytes.Equal(before, after) {
		t.Error("a failed write changed the existing file")
	}
	assertNoTempFiles(t, dir)
}

func TestWriteRejectsInvalidTensors(t *testing.T) {
	good := FromFloat32("good", []int64{1}, []float32{1})
	cases := []struct {
		name    string
		tensors []*Tensor
		want    []string // substrings of the error besides the path
	}{
		{"duplicate name", []*Tensor{good, FromFloat32("good", []int64{1}, []float32{2})}, []string{`"good"`, "twice"}},
		{"data too short", []*Tensor{{Name: "w", DType: "F32", Shape: []int64{2, 2}, Data: make([]byte, 12)}}, []string{`"w"`, "needs 16 bytes", "has 12"}},
		{"unknown dtype", []*Tensor{{Name: "w", DType: "F128", Shape: []int64{1}, Data: make([]byte, 16)}}, []string{`"w"`, `unknown dtype "F128"`}},
		{"reserved name", []*Tensor{{Name: metadataKey, DType: "U8", Shape: []int64{1}, Data: []byte{0}}}, []string{metadataKey, "reserved"}},
		{"empty name", []*Tensor{{Name: "", DType: "U8", Shape: []int64{1}, Data: []byte{0}}}, []string{"empty name"}},
		{"negative dim", []*Tensor{{Name: "w", DType: "U8", Shape: []int64{-1}, Data: nil}}, []string{`"w"`, "negative"}},
		{"nil tensor", []*Tensor{good, nil}, []string{"nil"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "bad.safetensors")
			err := Write(path, tc.tensors, nil)
			if err == nil {
				t.Fatal("Write succeeded, want an error")
			}
			for _, want := range append([]string{path}, tc.want...) {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q does not mention %q", err, want)
				}
			}
			if _, statErr := os.Stat(path); !os.IsNotExist(statErr) {
				t.Errorf("a rejected Write created %s", path)
			}
			assertNoTempFiles(t, dir)
		})
	}
}

func TestReadRejectsMalformedFiles(t *testing.T) {
	valid := func() []byte {
		var buf bytes.Buffer
		tensors := []*Tensor{
			FromFloat32("encoder.weight", []int64{2, 2}, []float32{1, 2, 3, 4}),
			FromFloat32("decoder.weight", []int64{2}, []float32{5, 6}),
		}
		if err := Encode(&buf, tensors, nil); err != nil {
			t.Fatal(err)
		}
		return buf.Bytes()
	}()
	headerLength := func(n uint64) []byte {
		var b [8]byte
		binary.LittleEndian.PutUint64(b[:], n)
		return b[:]
	}
	cases := []struct {
		name       string
		data       []byte
		wantTensor string   // tensor the error must name; "" for whole-file errors
		want       []string // further substrings
	}{
		{"truncated data", valid[:len(valid)-1], "", []string{"truncated"}},
		{"trailing bytes", append(slices.Clone(valid), 0), "", []string{"1 trailing bytes"}},
		{"shorter than length field", valid[:5], "", []string{"too short"}},
		{"header length past end", append(headerLength(1000), []byte(`{}`)...), "", []string{"runs past the end"}},
		{"header length absurd", append(headerLength(1<<40), make([]byte, 16)...), "", []string{"exceeds"}},
		{"not json", rawFile("not json", 0), "", []string{"not a JSON object"}},
		{"trailing junk after json", rawFile(`{}x`, 0), "", []string{"after the header"}},
		{"invalid utf-8", rawFile("{\"\xff\":1}", 0), "", []string{"UTF-8"}},
		{"unknown dtype", rawFile(`{"w":{"dtype":"Q7","shape":[1],"data_offsets":[0,1]}}`, 1), "w", []string{`unknown dtype "Q7"`}},
		{"missing dtype", rawFile(`{"w":{"shape":[1],"data_offsets":[0,4]}}`, 4), "w", []string{"no dtype"}},
		{"missing shape", rawFile(`{"w":{"dtype":"F32","data_offsets":[0,4]}}`, 4), "w", []string{"no shape"}},
		{"missing offsets", rawFile(`{"w":{"dtype":"F32","shape":[1]}}`, 4), "w", []string{"no data_offsets"}},
		{"three offsets", rawFile(`{"w":{"dtype":"F32","shape":[1],"data_offsets":[0,4,8]}}`, 4), "w", []string{"[begin, end]"}},
		{"reversed offsets", rawFile(`{"w":{"dtype":"F32","shape":[1],"data_offsets":[4,0]}}`, 4), "w", []string{"increasing"}},
		{"size mismatch", rawFile(`{"w":{"dtype":"F32","shape":[2,3],"data_offsets":[0,20]}}`, 20), "w", []string{"span 20 bytes", "needs 24"}},
		{"negative dim", rawFile(`{"w":{"dtype":"F32","shape":[-1],"data_offsets":[0,0]}}`, 0), "w", []string{"negative"}},
		{"fractional dim", rawFile(`{"w":{"dtype":"F32","shape":[1.5],"data_offsets":[0,4]}}`, 4), "w", []string{"malformed"}},
		{"overlap", rawFile(`{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}`, 8), "b", []string{"overlap", `"a"`}},
		{"gap", rawFile(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"b":{"dtype":"F32","shape":[1],"data_offsets":[8,12]}}`, 12), "b", []string{"gap", `"a"`}},
		{"unused prefix", rawFile(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}`, 8), "a", []string{"unused"}},
		{"offsets past the data", rawFile(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}`, 2), "", []string{"truncated"}},
		{"duplicate tensor", rawFile(`{"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1]},"a":{"dtype":"U8","shape":[1],"data_offsets":[1,2]}}`, 2), "a", []string{"twice"}},
		{"metadata not strings", rawFile(`{"__metadata__":{"step":12}}`, 0), "", []string{"__metadata__", "strings"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			path := writeBytes(t, "model-00001-of-00002.safetensors", tc.data)
			readers := map[string]func(string) error{
				"Read":       func(p string) error { _, err := Read(p); return err },
				"ReadHeader": func(p string) error { _, err := ReadHeader(p); return err },
			}
			for readerName, read := range readers {
				err := read(path)
				if err == nil {
					t.Fatalf("%s accepted the file", readerName)
				}
				var formatError *FormatError
				if !errors.As(err, &formatError) {
					t.Errorf("%s error %v is not a *FormatError", readerName, err)
				} else if formatError.Tensor != tc.wantTensor {
					t.Errorf("%s error names tensor %q, want %q (%v)", readerName, formatError.Tensor, tc.wantTensor, err)
				}
				wants := append([]string{path}, tc.want...)
				if tc.wantTensor != "" {
					wants = append(wants, `tensor "`+tc.wantTensor+`"`)
				}
				for _, want := range wants {
					if !strings.Contains(err.Error(), want) {
						t.Errorf("%s error %q does not mention %q", readerName, err, want)
					}
				}
			}
		})
	}
}

func TestReadAcceptsEdgeCases(t *testing.T) {
	cases := []struct {
		name      string
		data      []byte
		wantNames []string
	}{
		{"empty file", rawFile(`{}`, 0), nil},
		{"space padding", rawFile(`{"a":{"dtype":"U8","shape":[2],"data_offsets":[0,2]}}      `, 2), []string{"a"}},
		{"zero-size tensors share an offset", rawFile(`{"z1":{"dtype":"F32","shape":[0],"data_offsets":[0,0]},"z2":{"dtype":"F32","shape":[3,0],"data_offsets":[0,0]},"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1]}}`, 1), []string{"a", "z1", "z2"}},
		{"unknown entry fields ignored", rawFile(`{"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1],"extra":true}}`, 1), []string{"a"}},
		{"null metadata", rawFile(`{"__metadata__":null}`, 0), nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			file, err := Parse(tc.name, tc.data)
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if got := file.Names(); !slices.Equal(got, tc.wantNames) {
				t.Errorf("Names() = %v, want %v", got, tc.wantNames)
			}
		})
	}
}

func TestBFloat16ToFloat32IsExact(t *testing.T) {
	cases := []struct {
		bits uint16
		want float32
	}{
		{0x3F80, 1},
		{0xC000, -2},
		{0x3E80, 0.25},
		{0x4049, 3.140625},
		{0x0001, math.Float32frombits(0x00010000)}, // smallest bf16 subnormal
		{0x8000, float32(math.Copysign(0, -1))},
		{0x7F80, float32(math.Inf(1))},
		{0xFF80, float32(math.Inf(-1))},
		{0x7F7F, math.Float32frombits(0x7F7F0000)}, // largest finite bf16
	}
	for _, tc := range cases {
		got := BFloat16ToFloat32(tc.bits)
		if math.Float32bits(got) != math.Float32bits(tc.want) {
			t.Errorf("BFloat16ToFloat32(%#04x) = %v (%#08x), want %v", tc.bits, got, math.Float32bits(got), tc.want)
		}
	}
	if got := BFloat16ToFloat32(0x7FC1); got == got {
		t.Errorf("BFloat16ToFloat32(0x7FC1) = %v, want NaN", got)
	}
	// Every one of the 65536 patterns must be the shift, bit for bit.
	for bits := 0; bits <= 0xFFFF; bits++ {
		if got := math.Float32bits(BFloat16ToFloat32(uint16(bits))); got != uint32(bits)<<16 {
			t.Fatalf("BFloat16ToFloat32(%#04x) has bits %#08x, want %#08x", bits, got, uint32(bits)<<16)
		}
	}
}

func TestFloat32ToBFloat16RoundsToNearestEven(t *testing.T) {
	cases := []struct {
		name string
		in   uint32 // float32 bits
		want uint16
	}{
		{"exact", 0x3F800000, 0x3F80},
		{"below half rounds down", 0x3F807FFF, 0x3F80},
		{"tie to even stays", 0x3F808000, 0x3F80},
		{"tie to even rounds up", 0x3F818000, 0x3F82},
		{"above half rounds up", 0x3F808001, 0x3F81},
		{"negative tie", 0xBF818000, 0xBF82},
		{"overflow to infinity", 0x7F7FFFFF, 0x7F80},
		{"infinity", 0x7F800000, 0x7F80},
	}
	for _, tc := range cases {
		if got := Float32ToBFloat16(math.Float32frombits(tc.in)); got != tc.want {
			t.Errorf("%s: Float32ToBFloat16(%#08x) = %#04x, want %#04x", tc.name, tc.in, got, tc.want)
		}
	}
	// A NaN whose payload is only in the low half must stay NaN, not become infinity.
	if got := Float32ToBFloat16(math.Float32frombits(0x7F800001)); BFloat16ToFloat32(got) == BFloat16ToFloat32(got) {
		t.Errorf("NaN converted to %#04x, which is not NaN", got)
	}
}

func TestFloat16ToFloat32(t *testing.T) {
	cases := []struct {
		bits uint16
		want float32
	}{
		{0x3C00, 1},
		{0xC000, -2},
		{0x3555, 0.333251953125},
		{0x7BFF, 65504},                         // largest finite half
		{0x0400, 1.0 / (1 << 14)},               // smallest normal
		{0x0001, 1.0 / (1 << 24)},               // smallest subnormal
		{0x03FF, 1023.0 / (1 << 24)},            // largest subnormal
		{0x8001, -1.0 / (1 << 24)},              // negative subnormal
		{0x8000, float32(math.Copysign(0, -1))}, // negative zero
		{0x7C00, float32(math.Inf(1))},          // +inf
		{0xFC00, float32(math.Inf(-1))},         // -inf
	}
	for _, tc := range cases {
		got := Float16ToFloat32(tc.bits)
		if math.Float32bits(got) != math.Float32bits(tc.want) {
			t.Errorf("Float16ToFloat32(%#04x) = %v, want %v", tc.bits, got, tc.want)
		}
	}
	if got := Float16ToFloat32(0x7E00); got == got {
		t.Errorf("Float16ToFloat32(0x7E00) = %v, want NaN", got)
	}
	f16 := &Tensor{Name: "h", DType: "F16", Shape: []int64{2}, Data: []byte{0x00, 0x3C, 0x00, 0xC0}}
	if values, err := f16.Float32s(); err != nil || !slices.Equal(values, []float32{1, -2}) {
		t.Errorf("F16 tensor Float32s = %v, %v; want [1 -2]", values, err)
	}
}

func TestTensorConversions(t *testing.T) {
	le := func(values ...any) []byte {
		var buf bytes.Buffer
		for _, v := range values {
			binary.Write(&buf, binary.LittleEndian, v)
		}
		return buf.Bytes()
	}
	intCases := []struct {
		dtype string
		data  []byte
		want  []int64
	}{
		{"I64", le(int64(-5), int64(math.MaxInt64)), []int64{-5, math.MaxInt64}},
		{"I32", le(int32(-7), int32(math.MaxInt32)), []int64{-7, math.MaxInt32}},
		{"U32", le(uint32(math.MaxUint32), uint32(1)), []int64{math.MaxUint32, 1}},
		{"I16", le(int16(-300), int16(2)), []int64{-300, 2}},
		{"U16", le(uint16(65535), uint16(0)), []int64{65535, 0}},
		{"I8", []byte{0xFF, 0x7F}, []int64{-1, 127}},
		{"U8", []byte{0xFF, 0x7F}, []int64{255, 127}},
		{"BOOL", []byte{1, 0}, []int64{1, 0}},
		{"U64", le(uint64(math.MaxInt64), uint64(3)), []int64{math.MaxInt64, 3}},
	}
	for _, tc := range intCases {
		tensor := &Tensor{Name: "x", DType: tc.dtype, Shape: []int64{2}, Data: tc.data}
		if got, err := tensor.Int64s(); err != nil || !slices.Equal(got, tc.want) {
			t.Errorf("%s Int64s = %v, %v; want %v", tc.dtype, got, err, tc.want)
		}
	}

	f64 := FromFloat64("loss", []int64{2}, []float64{0.1, -3})
	if got, err := f64.Float64s(); err != nil || !slices.Equal(got, []float64{0.1, -3}) {
		t.Errorf("F64 Float64s = %v, %v", got, err)
	}
	if got, err := f64.Float32s(); err != nil || !slices.Equal(got, []float32{0.1, -3}) {
		t.Errorf("F64 Float32s = %v, %v; want rounded [0.1 -3]", got, err)
	}
	bf := bf16Tensor("b", []int64{2}, 0x3F80, 0x4049)
	if got, err := bf.Float64s(); err != nil || !slices.Equal(got, []float64{1, 3.140625}) {
		t.Errorf("BF16 Float64s = %v, %v", got, err)
	}

	errorCases := []struct {
		name    string
		convert func() error
		want    string
	}{
		{"I64 as float", func() error { _, err := FromInt64("ids", []int64{1}, []int64{1}).Float32s(); return err }, `"ids": cannot read I64 as float32`},
		{"I64 as float64", func() error { _, err := FromInt64("ids", []int64{1}, []int64{1}).Float64s(); return err }, `"ids": cannot read I64 as float64`},
		{"F32 as int", func() error { _, err := FromFloat32("w", []int64{1}, []float32{1}).Int64s(); return err }, `"w": cannot read F32 as int64`},
		{"U64 overflow", func() error {
			_, err := (&Tensor{Name: "big", DType: "U64", Shape: []int64{1}, Data: le(uint64(math.MaxUint64))}).Int64s()
			return err
		}, `"big": U64 element 0`},
		{"short data", func() error {
			_, err := (&Tensor{Name: "w", DType: "F32", Shape: []int64{3}, Data: make([]byte, 8)}).Float32s()
			return err
		}, `"w": F32 [3] needs 12 bytes, has 8`},
	}
	for _, tc := range errorCases {
		err := tc.convert()
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error = %v, want it to contain %q", tc.name, err, tc.want)
		}
	}
}

func TestConstructorsPanicOnShapeMismatch(t *testing.T) {
	constructors := map[string]func(){
		"FromFloat32":       func() { FromFloat32("w", []int64{2, 2}, []float32{1, 2, 3}) },
		"FromFloat32AsBF16": func() { FromFloat32AsBF16("w", []int64{2}, []float32{1}) },
		"FromFloat64":       func() { FromFloat64("w", []int64{}, nil) },
		"FromInt64":         func() { FromInt64("w", []int64{-1}, nil) },
	}
	for name, construct := range constructors {
		func() {
			defer func() {
				if r := recover(); r == nil || !strings.Contains(r.(string), "safetensors."+name+`("w")`) {
					t.Errorf("%s: recovered %v, want a panic naming the constructor and the tensor", name, r)
				}
			}()
			construct()
		}()
	}
	shape := []int64{2}
	tensor := FromFloat32("w", shape, []float32{1, 2})
	shape[0] = 99
	if tensor.Shape[0] != 2 {
		t.Error("FromFloat32 kept a reference to the caller's shape slice")
	}
}
