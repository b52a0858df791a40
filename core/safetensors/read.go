package safetensors

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"slices"
	"sort"
	"unicode/utf8"
)

// FormatError is a malformed file or an invalid tensor. It always carries the file and, when
// one is to blame, the tensor, because "bad offsets" is useless without knowing which of a
// dozen shards and a thousand tensors to look at.
type FormatError struct {
	Path   string // the file read or written
	Tensor string // the tensor at fault; empty when the file as a whole is
	Reason string
}

func (e *FormatError) Error() string {
	if e.Tensor == "" {
		return fmt.Sprintf("safetensors: %s: %s", e.Path, e.Reason)
	}
	return fmt.Sprintf("safetensors: %s: tensor %q: %s", e.Path, e.Tensor, e.Reason)
}

func fileError(path, format string, args ...any) error {
	return &FormatError{Path: path, Reason: fmt.Sprintf(format, args...)}
}

func tensorError(path, tensor, format string, args ...any) error {
	return &FormatError{Path: path, Tensor: tensor, Reason: fmt.Sprintf(format, args...)}
}

// TensorInfo is one header entry: what a tensor is and where its bytes lie, without the bytes.
type TensorInfo struct {
	Name  string
	DType string
	Shape []int64
	Begin int64 // data_offsets[0], relative to the start of the data section
	End   int64 // data_offsets[1], exclusive
}

// Numel is the number of elements, 1 for a scalar.
func (ti TensorInfo) Numel() int64 {
	n, _ := numel(ti.Shape)
	return n
}

// Header is a validated safetensors header: every tensor's dtype, shape and byte range, plus
// the file's metadata. ReadHeader returns one without reading tensor data, which is what
// shape checks and index building on multi-gigabyte shards want.
type Header struct {
	Path       string
	Metadata   map[string]string // never nil
	HeaderSize int64             // N, the JSON header length including padding
	DataSize   int64             // length of the data section the offsets tile
	infos      map[string]TensorInfo
	names      []string // sorted
}

// Names returns the tensor names in sorted order (a copy the caller may keep).
func (h *Header) Names() []string { return slices.Clone(h.names) }

// Info returns a tensor's header entry.
func (h *Header) Info(name string) (TensorInfo, bool) {
	info, ok := h.infos[name]
	return info, ok
}

// DataStart is the file offset of the data section: 8 length bytes plus the header.
func (h *Header) DataStart() int64 { return 8 + h.HeaderSize }

// File is a fully read safetensors file.
type File struct {
	Header
	tensors map[string]*Tensor
}

// Get returns the named tensor. Its Data aliases the buffer holding the file: read-only.
func (f *File) Get(name string) (*Tensor, bool) {
	t, ok := f.tensors[name]
	return t, ok
}

// Tensors returns every tensor in name order.
func (f *File) Tensors() []*Tensor {
	out := make([]*Tensor, len(f.names))
	for i, name := range f.names {
		out[i] = f.tensors[name]
	}
	return out
}

// Read loads and validates a whole safetensors file. The file is read into memory in one
// piece (no mmap): fine for prompts and small models, and the tensors share that buffer.
func Read(path string) (*File, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("safetensors: %w", err)
	}
	return Parse(path, data)
}

// Parse validates and decodes a safetensors file held in memory. path only labels errors.
// The returned tensors alias data.
func Parse(path string, data []byte) (*File, error) {
	if len(data) < 8 {
		return nil, fileError(path, "file is %d bytes, too short for the 8-byte header length (truncated?)", len(data))
	}
	headerSize := binary.LittleEndian.Uint64(data[:8])
	if headerSize > maxHeaderSize {
		return nil, fileError(path, "header length %d exceeds the %d-byte limit (not a safetensors file, or corrupt)", headerSize, maxHeaderSize)
	}
	if headerSize > uint64(len(data)-8) {
		return nil, fileError(path, "header length %d runs past the end of the %d-byte file (truncated?)", headerSize, len(data))
	}
	header, err := parseHeader(path, data[8:8+headerSize])
	if err != nil {
		return nil, err
	}
	if err := header.checkFileSize(int64(len(data))); err != nil {
		return nil, err
	}
	body := data[header.DataStart():]
	file := &File{Header: *header, tensors: make(map[string]*Tensor, len(header.names))}
	for _, name := range header.names {
		info := header.infos[name]
		file.tensors[name] = &Tensor{
			Name:  name,
			DType: info.DType,
			Shape: info.Shape,
			Data:  body[info.Begin:info.End:info.End],
		}
	}
	return file, nil
}

// ReadHeader reads and validates only the header, and checks that the file is exactly as long
// as the header says, so truncation is caught without reading gigabytes of weights.
func ReadHeader(path string) (*Header, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("safetensors: %w", err)
	}
	defer f.Close()
	stat, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("safetensors: %w", err)
	}
	fileSize := stat.Size()
	var lengthBytes [8]byte
	if _, err := io.ReadFull(f, lengthBytes[:]); err != nil {
		return nil, fileError(path, "file is %d bytes, too short for the 8-byte header length (truncated?)", fileSize)
	}
	headerSize := binary.LittleEndian.Uint64(lengthBytes[:])
	if headerSize > maxHeaderSize {
		return nil, fileError(path, "header length %d exceeds the %d-byte limit (not a safetensors file, or corrupt)", headerSize, maxHeaderSize)
	}
	if headerSize > uint64(fileSize-8) {
		return nil, fileError(path, "header length %d runs past the end of the %d-byte file (truncated?)", headerSize, fileSize)
	}
	raw := make([]byte, headerSize)
	if _, err := io.ReadFull(f, raw); err != nil {
		return nil, fileError(path, "reading the %d-byte header: %v", headerSize, err)
	}
	header, err := parseHeader(path, raw)
	if err != nil {
		return nil, err
	}
	if err := header.checkFileSize(fileSize); err != nil {
		return nil, err
	}
	return header, nil
}

// checkFileSize insists the data section is exactly what the offsets tile: shorter means a
// truncated download, longer means a writer bug or concatenated garbage. The reference
// implementation rejects both.
func (h *Header) checkFileSize(fileSize int64) error {
	want := h.DataStart() + h.DataSize
	switch {
	case fileSize < want:
		return fileError(h.Path, "file is %d bytes but its header describes %d (truncated?)", fileSize, want)
	case fileSize > want:
		return fileError(h.Path, "file is %d bytes but its header describes only %d (%d trailing bytes)", fileSize, want, fileSize-want)
	}
	return nil
}

// headerEntry mirrors one tensor's JSON; pointers tell a missing field from a zero one.
type headerEntry struct {
	DType       *string  `json:"dtype"`
	Shape       *[]int64 `json:"shape"`
	DataOffsets *[]int64 `json:"data_offsets"`
}

// parseHeader decodes and validates the JSON header. It walks the top-level object token by
// token rather than unmarshalling into a map, because a map would silently keep the last of
// two entries with the same name.
func parseHeader(path string, raw []byte) (*Header, error) {
	if !utf8.Valid(raw) {
		return nil, fileError(path, "header is not valid UTF-8 (not a safetensors file, or corrupt)")
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return nil, fileError(path, "header is not a JSON object (not a safetensors file, or corrupt)")
	}
	header := &Header{Path: path, HeaderSize: int64(len(raw)), Metadata: map[string]string{}, infos: map[string]TensorInfo{}}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, fileError(path, "malformed header JSON: %v", err)
		}
		name := tok.(string) // object keys are always strings
		var value json.RawMessage
		if err := dec.Decode(&value); err != nil {
			return nil, tensorError(path, name, "malformed header JSON: %v", err)
		}
		if name == metadataKey {
			var metadata map[string]string
			if err := json.Unmarshal(value, &metadata); err != nil {
				return nil, fileError(path, "%s must map strings to strings: %v", metadataKey, err)
			}
			for k, v := range metadata {
				header.Metadata[k] = v
			}
			continue
		}
		if _, dup := header.infos[name]; dup {
			return nil, tensorError(path, name, "appears twice in the header")
		}
		info, err := parseEntry(path, name, value)
		if err != nil {
			return nil, err
		}
		header.infos[name] = info
		header.names = append(header.names, name)
	}
	if _, err := dec.Token(); err != nil { // the closing brace
		return nil, fileError(path, "malformed header JSON: %v", err)
	}
	if tok, err := dec.Token(); err != io.EOF {
		return nil, fileError(path, "unexpected data after the header JSON object (%v %v); only space padding is allowed", tok, err)
	}
	sort.Strings(header.names)
	dataSize, err := checkTiling(path, header.infos)
	if err != nil {
		return nil, err
	}
	header.DataSize = dataSize
	return header, nil
}

// parseEntry validates one tensor's header entry on its own: fields present, dtype known,
// offsets ordered and exactly as long as the shape and dtype require.
func parseEntry(path, name string, value json.RawMessage) (TensorInfo, error) {
	var entry headerEntry
	if err := json.Unmarshal(value, &entry); err != nil {
		return TensorInfo{}, tensorError(path, name, "malformed header entry %s: %v", value, err)
	}
	switch {
	case entry.DType == nil:
		return TensorInfo{}, tensorError(path, name, "header entry has no dtype")
	case entry.Shape == nil:
		return TensorInfo{}, tensorError(path, name, "header entry has no shape")
	case entry.DataOffsets == nil:
		return TensorInfo{}, tensorError(path, name, "header entry has no data_offsets")
	}
	dtype, shape, offsets := *entry.DType, cloneShape(*entry.Shape), *entry.DataOffsets
	if _, known := dtypeSizes[dtype]; !known {
		return TensorInfo{}, tensorError(path, name, "unknown dtype %q", dtype)
	}
	size, err := byteSize(dtype, shape)
	if err != nil {
		return TensorInfo{}, tensorError(path, name, "%v", err)
	}
	if len(offsets) != 2 {
		return TensorInfo{}, tensorError(path, name, "data_offsets must be [begin, end], got %v", offsets)
	}
	begin, end := offsets[0], offsets[1]
	if begin < 0 || end < begin {
		return TensorInfo{}, tensorError(path, name, "data_offsets %v are not an increasing pair of non-negative offsets", offsets)
	}
	if end-begin != size {
		return TensorInfo{}, tensorError(path, name, "data_offsets %v span %d bytes but %s %v needs %d", offsets, end-begin, dtype, shape, size)
	}
	return TensorInfo{Name: name, DType: dtype, Shape: shape, Begin: begin, End: end}, nil
}

// checkTiling verifies that the tensors' byte ranges cover the data section from 0 without gaps
// or overlaps, the reference implementation's rule, and returns the section's length. A gap
// or overlap means a corrupt header, and overlapping tensors would alias each other's data.
func checkTiling(path string, infos map[string]TensorInfo) (int64, error) {
	byOffset := make([]TensorInfo, 0, len(infos))
	for _, info := range infos {
		byOffset = append(byOffset, info)
	}
	sort.Slice(byOffset, func(i, j int) bool {
		a, b := byOffset[i], byOffset[j]
		if a.Begin != b.Begin {
			return a.Begin < b.Begin
		}
		if a.End != b.End {
			return a.End < b.End
		}
		return a.Name < b.Name
	})
	var covered int64
	previous := ""
	for _, info := range byOffset {
		switch {
		case info.Begin > covered && previous == "":
			return 0, tensorError(path, info.Name, "data_offsets [%d, %d] leave bytes [0, %d) of the data section unused", info.Begin, info.End, info.Begin)
		case info.Begin > covered:
			return 0, tensorError(path, info.Name, "data_offsets [%d, %d] leave a gap after tensor %q, which ends at %d", info.Begin, info.End, previous, covered)
		case info.Begin < covered:
			return 0, tensorError(path, info.Name, "data_offsets [%d, %d] overlap tensor %q, which ends at %d", info.Begin, info.End, previous, covered)
		}
		covered = info.End
		previous = info.Name
	}
	return covered, nil
}
