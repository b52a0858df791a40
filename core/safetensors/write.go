package safetensors

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"github.com/ptbench/ptbench/core/atomicfile"
	"io"
	"sort"
	"strconv"
	"unicode/utf8"
)

// Write saves tensors and metadata to path atomically: the bytes go to a temporary file in the
// same directory, which is fsynced and then renamed over path, so a crash or a full disk
// leaves either the old file or the complete new one, never a torn checkpoint.
//
// Header keys are sorted by name. Data is laid out like the reference Python writer: largest
// element size first, then by name, so with the 8-byte header padding every tensor starts at a
// multiple of its element size (readers that map the file can use it in place).
func Write(path string, tensors []*Tensor, metadata map[string]string) error {
	if err := validateForWrite(path, tensors, metadata); err != nil {
		return err
	}
	return atomicWrite(path, func(w io.Writer) error {
		return encode(w, tensors, metadata)
	})
}

// Encode writes tensors and metadata in safetensors format to w, with the same layout and
// checks as Write but no atomicity (w may be a network stream or a buffer).
func Encode(w io.Writer, tensors []*Tensor, metadata map[string]string) error {
	if err := validateForWrite("<stream>", tensors, metadata); err != nil {
		return err
	}
	return encode(w, tensors, metadata)
}

// validateForWrite refuses anything Read would later reject, so that a file we write is
// always one we (and the reference implementation) can read back.
func validateForWrite(path string, tensors []*Tensor, metadata map[string]string) error {
	seen := make(map[string]bool, len(tensors))
	for i, t := range tensors {
		if t == nil {
			return fileError(path, "tensor %d of %d is nil", i, len(tensors))
		}
		switch {
		case t.Name == "":
			return fileError(path, "tensor %d of %d has an empty name", i, len(tensors))
		case t.Name == metadataKey:
			return tensorError(path, t.Name, "name is reserved for the metadata entry")
		case !utf8.ValidString(t.Name):
			return tensorError(path, t.Name, "name is not valid UTF-8")
		case seen[t.Name]:
			return tensorError(path, t.Name, "given twice")
		}
		seen[t.Name] = true
		size, err := byteSize(t.DType, t.Shape)
		if err != nil {
			return tensorError(path, t.Name, "%v", err)
		}
		if int64(len(t.Data)) != size {
			return tensorError(path, t.Name, "%s %v needs %d bytes of data, has %d", t.DType, t.Shape, size, len(t.Data))
		}
	}
	return nil
}

func encode(w io.Writer, tensors []*Tensor, metadata map[string]string) error {
	layout := make([]*Tensor, len(tensors))
	copy(layout, tensors)
	sort.Slice(layout, func(i, j int) bool {
		si, sj := dtypeSizes[layout[i].DType], dtypeSizes[layout[j].DType]
		if si != sj {
			return si > sj
		}
		return layout[i].Name < layout[j].Name
	})
	offsets := make(map[string][2]int64, len(layout))
	var offset int64
	for _, t := range layout {
		offsets[t.Name] = [2]int64{offset, offset + int64(len(t.Data))}
		offset += int64(len(t.Data))
	}

	byName := make([]*Tensor, len(tensors))
	copy(byName, tensors)
	sort.Slice(byName, func(i, j int) bool { return byName[i].Name < byName[j].Name })

	var header bytes.Buffer
	header.WriteByte('{')
	if len(metadata) > 0 {
		header.WriteString(jsonString(metadataKey))
		header.WriteString(":{")
		keys := make([]string, 0, len(metadata))
		for k := range metadata {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for i, k := range keys {
			if i > 0 {
				header.WriteByte(',')
			}
			header.WriteString(jsonString(k) + ":" + jsonString(metadata[k]))
		}
		header.WriteByte('}')
	}
	for i, t := range byName {
		if i > 0 || len(metadata) > 0 {
			header.WriteByte(',')
		}
		header.WriteString(jsonString(t.Name))
		header.WriteString(`:{"dtype":` + jsonString(t.DType) + `,"shape":[`)
		for d, dim := range t.Shape {
			if d > 0 {
				header.WriteByte(',')
			}
			header.WriteString(strconv.FormatInt(dim, 10))
		}
		span := offsets[t.Name]
		fmt.Fprintf(&header, `],"data_offsets":[%d,%d]}`, span[0], span[1])
	}
	header.WriteByte('}')
	for header.Len()%8 != 0 {
		header.WriteByte(' ')
	}

	var lengthBytes [8]byte
	binary.LittleEndian.PutUint64(lengthBytes[:], uint64(header.Len()))
	if _, err := w.Write(lengthBytes[:]); err != nil {
		return err
	}
	if _, err := w.Write(header.Bytes()); err != nil {
		return err
	}
	for _, t := range layout {
		if _, err := w.Write(t.Data); err != nil {
			return err
		}
	}
	return nil
}

// jsonString quotes s as a JSON string without HTML escaping, so names like "a<b" stay
// readable to other tools that print headers.
func jsonString(s string) string {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(s) // encoding a string cannot fail
	return string(bytes.TrimRight(buf.Bytes(), "\n"))
}

// atomicWrite wraps atomicfile.Write so errors name the file.
func atomicWrite(path string, write func(io.Writer) error) error {
	if err := atomicfile.Write(path, write); err != nil {
		return fmt.Errorf("safetensors: writing %s: %w", path, err)
	}
	return nil
}
