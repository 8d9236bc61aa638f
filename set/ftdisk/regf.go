// Package ftdisk reads the Windows NT 4.0 / 2000 fault-tolerant disk (FT set)
// configuration: the REG_BINARY value SYSTEM\DISK\Information, found through a
// minimal read-only registry hive (regf) reader.
//
// Sources for the layouts are cited where they are used; the research notes are
// in docs/windows-metadata.md of the shared docs (section 1).
package ftdisk

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"strings"
	"unicode/utf16"
)

// FormatError reports a field that cannot be valid. For hive errors Off is
// the byte offset in the hive file; for DecodeDiskInformation errors it is
// the byte offset in the value.
type FormatError struct {
	Off   int64  // byte offset of the field
	Field string // field name as in the DDK headers / regf notes ("NumberOfDisks", "nk")
	Value any    // the value found, or nil
	Msg   string // what is wrong with it
}

// Error formats the error as "ftdisk: FIELD at byte 0xOFF: VALUE MSG".
func (e *FormatError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "ftdisk: %s at byte %#x", e.Field, e.Off)
	sep := ": "
	if e.Value != nil {
		fmt.Fprintf(&b, ": %v", e.Value)
		sep = " "
	}
	if e.Msg != "" {
		b.WriteString(sep)
		b.WriteString(e.Msg)
	}
	return b.String()
}

// Finding is something worth reporting that does not stop decoding: a dirty
// hive, a bad base-block checksum, a registry entry that contradicts another.
type Finding struct {
	Off   int64  // byte offset (hive file or value, like FormatError)
	Field string // field name
	Msg   string
}

func (f Finding) String() string {
	return fmt.Sprintf("%s at byte %#x: %s", f.Field, f.Off, f.Msg)
}

var (
	// ErrNotHive means the file does not start with "regf".
	ErrNotHive = errors.New("ftdisk: not a registry hive (no regf signature)")
	// ErrKeyNotFound means a key of the path is absent.
	ErrKeyNotFound = errors.New("ftdisk: registry key not found")
	// ErrValueNotFound means the key has no value of that name.
	ErrValueNotFound = errors.New("ftdisk: registry value not found")
)

// Registry value types used here.
const (
	RegBinary = 3 // REG_BINARY
)

const (
	baseBlockSize = 0x1000 // base block; cell offsets are relative to its end
	maxHiveSize   = 1 << 30
	bigDataChunk  = 16344 // payload per "db" segment
	maxListDepth  = 8     // ri -> li/lf/lh nesting allowed
)

// BaseBlock is the regf header (4096 bytes at offset 0). Field offsets:
// hivex's and regparser's _HBASE_BLOCK (windows-metadata.md section 1.10).
type BaseBlock struct {
	Seq1, Seq2       uint32 // primary and secondary sequence numbers (0x04, 0x08)
	LastWritten      uint64 // FILETIME (0x0C)
	Major, Minor     uint32 // format version (0x14, 0x18): 1.3 NT 4.0, 1.5 XP+
	FileType         uint32 // 0 = primary file (0x1C)
	Format           uint32 // 1 = direct memory load (0x20)
	RootCell         uint32 // root nk, relative to 0x1000 (0x24)
	HbinsSize        uint32 // bytes of hive bins (0x28)
	Clustering       uint32 // 0x2C
	FileName         string // UTF-16LE at 0x30, up to 32 chars
	Checksum         uint32 // stored at 0x1FC
	ComputedChecksum uint32 // XOR of the 127 dwords before it
}

// Dirty reports whether the hive was not cleanly written: the sequence
// numbers differ (a write was interrupted) or the checksum does not match.
func (bb *BaseBlock) Dirty() bool {
	return bb.Seq1 != bb.Seq2 || bb.Checksum != bb.ComputedChecksum
}

// Hive is an opened registry hive held in memory.
type Hive struct {
	Base     BaseBlock
	Findings []Finding // dirty hive, bad checksum, truncated bins
	b        []byte
	end      int64 // end of the usable hive bins in b
}

// ReadHive reads a whole hive file (at most 1 GiB) and opens it.
func ReadHive(r io.ReaderAt, size int64) (*Hive, error) {
	if size < 0 || size > maxHiveSize {
		return nil, &FormatError{Off: 0, Field: "hive", Value: size, Msg: "size out of range"}
	}
	b := make([]byte, size)
	if _, err := r.ReadAt(b, 0); err != nil && !(errors.Is(err, io.EOF)) {
		return nil, err
	}
	return OpenHive(b)
}

// baseChecksum is the regf base-block checksum: the XOR of the 127
// little-endian dwords at 0x000..0x1FB, with 0 stored as 1 and
// 0xFFFFFFFF as 0xFFFFFFFE.
func baseChecksum(b []byte) uint32 {
	var x uint32
	for i := 0; i < 0x1FC; i += 4 {
		x ^= binary.LittleEndian.Uint32(b[i:])
	}
	switch x {
	case 0:
		x = 1
	case 0xFFFFFFFF:
		x = 0xFFFFFFFE
	}
	return x
}

// OpenHive parses the base block of b (which it keeps; do not modify b
// afterwards). A dirty or badly checksummed hive opens with Findings; only
// a missing signature, a truncated base block or a root cell outside the
// bins is an error.
func OpenHive(b []byte) (*Hive, error) {
	if len(b) < 4 || string(b[:4]) != "regf" {
		return nil, ErrNotHive
	}
	if len(b) < 0x200 {
		return nil, &FormatError{Off: 0, Field: "base block", Value: len(b), Msg: "hive shorter than the 512-byte checksummed header"}
	}
	le := binary.LittleEndian
	h := &Hive{b: b}
	bb := &h.Base
	bb.Seq1 = le.Uint32(b[0x04:])
	bb.Seq2 = le.Uint32(b[0x08:])
	bb.LastWritten = le.Uint64(b[0x0C:])
	bb.Major = le.Uint32(b[0x14:])
	bb.Minor = le.Uint32(b[0x18:])
	bb.FileType = le.Uint32(b[0x1C:])
	bb.Format = le.Uint32(b[0x20:])
	bb.RootCell = le.Uint32(b[0x24:])
	bb.HbinsSize = le.Uint32(b[0x28:])
	bb.Clustering = le.Uint32(b[0x2C:])
	bb.FileName = utf16z(b[0x30:0x70])
	bb.Checksum = le.Uint32(b[0x1FC:])
	bb.ComputedChecksum = baseChecksum(b)
	if bb.Seq1 != bb.Seq2 {
		h.Findings = append(h.Findings, Finding{Off: 0x04, Field: "sequence",
			Msg: fmt.Sprintf("primary sequence %d != secondary %d: dirty hive (a write did not complete)", bb.Seq1, bb.Seq2)})
	}
	if bb.Checksum != bb.ComputedChecksum {
		h.Findings = append(h.Findings, Finding{Off: 0x1FC, Field: "checksum",
			Msg: fmt.Sprintf("stored 0x%08x, computed 0x%08x: dirty or damaged hive", bb.Checksum, bb.ComputedChecksum)})
	}
	if bb.Major != 1 {
		return nil, &FormatError{Off: 0x14, Field: "major version", Value: bb.Major, Msg: "want 1"}
	}
	h.end = baseBlockSize + int64(bb.HbinsSize)
	if h.end > int64(len(b)) {
		h.Findings = append(h.Findings, Finding{Off: 0x28, Field: "hive bins size",
			Msg: fmt.Sprintf("%#x bytes of bins claimed, file holds %#x: truncated hive", bb.HbinsSize, max(0, len(b)-baseBlockSize))})
		h.end = int64(len(b))
	}
	if h.end < baseBlockSize+32 || string(b[baseBlockSize:baseBlockSize+4]) != "hbin" {
		return nil, &FormatError{Off: baseBlockSize, Field: "hbin", Msg: "no hive bin after the base block"}
	}
	if _, err := h.key(bb.RootCell, 0x24); err != nil {
		return nil, err
	}
	return h, nil
}

func utf16z(b []byte) string {
	u := make([]uint16, 0, len(b)/2)
	for i := 0; i+1 < len(b); i += 2 {
		c := binary.LittleEndian.Uint16(b[i:])
		if c == 0 {
			break
		}
		u = append(u, c)
	}
	return string(utf16.Decode(u))
}

// cell returns the payload of the allocated cell at hive offset off (relative
// to 0x1000). ref is the file offset of the field that pointed at it, used
// in errors.
func (h *Hive) cell(off uint32, what string, ref int64) ([]byte, int64, error) {
	pos := baseBlockSize + int64(off)
	if off == 0xFFFFFFFF || pos+4 > h.end || pos < baseBlockSize+32 {
		return nil, pos, &FormatError{Off: ref, Field: what, Value: fmt.Sprintf("%#x", off), Msg: "cell offset outside the hive bins"}
	}
	sz := int32(binary.LittleEndian.Uint32(h.b[pos:]))
	if sz >= 0 {
		return nil, pos, &FormatError{Off: pos, Field: what, Value: sz, Msg: "cell is not allocated"}
	}
	n := -int64(sz)
	if n < 8 || pos+n > h.end {
		return nil, pos, &FormatError{Off: pos, Field: what, Value: n, Msg: "cell size runs past the hive bins"}
	}
	return h.b[pos+4 : pos+n], pos + 4, nil
}

// nk is a decoded key node (windows-metadata.md 1.10).
type nk struct {
	pos          int64 // file offset of the payload
	name         string
	subkeyCount  uint32
	subkeyList   uint32
	valueCount   uint32
	valueList    uint32
	subkeysField int64
}

func (h *Hive) key(off uint32, ref int64) (*nk, error) {
	p, pos, err := h.cell(off, "nk", ref)
	if err != nil {
		return nil, err
	}
	if len(p) < 0x4C || string(p[:2]) != "nk" {
		return nil, &FormatError{Off: pos, Field: "nk", Value: fmt.Sprintf("%q", p[:min(2, len(p))]), Msg: "not a key node"}
	}
	le := binary.LittleEndian
	k := &nk{pos: pos,
		subkeyCount: le.Uint32(p[0x14:]), subkeyList: le.Uint32(p[0x1C:]),
		valueCount: le.Uint32(p[0x24:]), valueList: le.Uint32(p[0x28:]),
		subkeysField: pos + 0x1C}
	nl := int(le.Uint16(p[0x48:]))
	if 0x4C+nl > len(p) {
		return nil, &FormatError{Off: pos + 0x48, Field: "nk name length", Value: nl, Msg: "past the end of the cell"}
	}
	k.name = cellName(p[0x4C:0x4C+nl], le.Uint16(p[0x02:])&0x20 != 0)
	return k, nil
}

// cellName decodes a key or value name: Latin-1 when compressed, else UTF-16LE.
func cellName(b []byte, ascii bool) string {
	if ascii {
		r := make([]rune, len(b))
		for i, c := range b {
			r[i] = rune(c)
		}
		return string(r)
	}
	u := make([]uint16, len(b)/2)
	for i := range u {
		u[i] = binary.LittleEndian.Uint16(b[2*i:])
	}
	return string(utf16.Decode(u))
}

// subkey finds the child of k named name (case-insensitive) by walking its
// subkey list (lf, lh, li or ri of those). Every list cell is visited once.
func (h *Hive) subkey(k *nk, name string) (*nk, error) {
	if k.subkeyCount == 0 {
		return nil, ErrKeyNotFound
	}
	seen := map[uint32]bool{}
	var walk func(off uint32, ref int64, depth int) (*nk, error)
	walk = func(off uint32, ref int64, depth int) (*nk, error) {
		if seen[off] {
			return nil, &FormatError{Off: ref, Field: "subkey list", Value: fmt.Sprintf("%#x", off), Msg: "list visited twice (loop)"}
		}
		seen[off] = true
		p, pos, err := h.cell(off, "subkey list", ref)
		if err != nil {
			return nil, err
		}
		if len(p) < 4 {
			return nil, &FormatError{Off: pos, Field: "subkey list", Msg: "cell too small"}
		}
		sig := string(p[:2])
		n := int(binary.LittleEndian.Uint16(p[2:]))
		stride := 4
		switch sig {
		case "lf", "lh":
			stride = 8
		case "li":
		case "ri":
			if depth >= maxListDepth {
				return nil, &FormatError{Off: pos, Field: "ri", Msg: "index lists nested too deep"}
			}
		default:
			return nil, &FormatError{Off: pos, Field: "subkey list", Value: fmt.Sprintf("%q", sig), Msg: "not lf, lh, li or ri"}
		}
		if 4+n*stride > len(p) {
			return nil, &FormatError{Off: pos + 2, Field: sig + " count", Value: n, Msg: "entries run past the end of the cell"}
		}
		for i := range n {
			e := 4 + i*stride
			eoff := binary.LittleEndian.Uint32(p[e:])
			if sig == "ri" {
				c, err := walk(eoff, pos+int64(e), depth+1)
				if err == nil || !errors.Is(err, ErrKeyNotFound) {
					return c, err
				}
				continue
			}
			c, err := h.key(eoff, pos+int64(e))
			if err != nil {
				return nil, err
			}
			if strings.EqualFold(c.name, name) {
				return c, nil
			}
		}
		return nil, ErrKeyNotFound
	}
	return walk(k.subkeyList, k.subkeysField, 0)
}

// Value is a registry value.
type Value struct {
	Name string
	Type uint32
	Data []byte
	Off  int64 // file offset of the vk payload
}

// Value opens the key path (relative to the hive root, "\"-separated,
// case-insensitive, e.g. `\DISK`) and returns its value called name
// (case-insensitive; "" for the default value).
func (h *Hive) Value(path, name string) (*Value, error) {
	k, err := h.key(h.Base.RootCell, 0x24)
	if err != nil {
		return nil, err
	}
	for _, part := range strings.Split(path, `\`) {
		if part == "" {
			continue
		}
		if k, err = h.subkey(k, part); err != nil {
			if errors.Is(err, ErrKeyNotFound) {
				return nil, fmt.Errorf("%w: %s (at %q)", ErrKeyNotFound, path, part)
			}
			return nil, err
		}
	}
	if k.valueCount == 0 {
		return nil, fmt.Errorf("%w: %s\\%s", ErrValueNotFound, path, name)
	}
	p, pos, err := h.cell(k.valueList, "value list", k.pos+0x28)
	if err != nil {
		return nil, err
	}
	if int64(k.valueCount) > int64(len(p)/4) {
		return nil, &FormatError{Off: k.pos + 0x24, Field: "value count", Value: k.valueCount, Msg: fmt.Sprintf("value list cell holds only %d entries", len(p)/4)}
	}
	for i := range int(k.valueCount) {
		v, err := h.vk(binary.LittleEndian.Uint32(p[4*i:]), pos+int64(4*i))
		if err != nil {
			return nil, err
		}
		if strings.EqualFold(v.Name, name) {
			if err := h.vkData(v); err != nil {
				return nil, err
			}
			return v, nil
		}
	}
	return nil, fmt.Errorf("%w: %s\\%s", ErrValueNotFound, path, name)
}

func (h *Hive) vk(off uint32, ref int64) (*Value, error) {
	p, pos, err := h.cell(off, "vk", ref)
	if err != nil {
		return nil, err
	}
	if len(p) < 0x14 || string(p[:2]) != "vk" {
		return nil, &FormatError{Off: pos, Field: "vk", Value: fmt.Sprintf("%q", p[:min(2, len(p))]), Msg: "not a value cell"}
	}
	nl := int(binary.LittleEndian.Uint16(p[2:]))
	if 0x14+nl > len(p) {
		return nil, &FormatError{Off: pos + 2, Field: "vk name length", Value: nl, Msg: "past the end of the cell"}
	}
	return &Value{
		Name: cellName(p[0x14:0x14+nl], binary.LittleEndian.Uint16(p[0x10:])&1 != 0),
		Type: binary.LittleEndian.Uint32(p[0x0C:]),
		Off:  pos,
	}, nil
}

// vkData fills v.Data: inline (size bit 31), one data cell, or big data
// ("db": segment count u16 @2, segment list @4, each segment up to 16344
// bytes; hive version 1.4 and later).
func (h *Hive) vkData(v *Value) error {
	le := binary.LittleEndian
	raw := le.Uint32(h.b[v.Off+4:])
	doff := le.Uint32(h.b[v.Off+8:])
	if raw&0x80000000 != 0 {
		n := raw &^ 0x80000000
		if n > 4 {
			return &FormatError{Off: v.Off + 4, Field: "vk data size", Value: n, Msg: "inline data longer than 4 bytes"}
		}
		v.Data = append([]byte(nil), h.b[v.Off+8:v.Off+8+int64(n)]...)
		return nil
	}
	if int64(raw) > h.end {
		return &FormatError{Off: v.Off + 4, Field: "vk data size", Value: raw, Msg: fmt.Sprintf("larger than the %d-byte hive", h.end)}
	}
	p, pos, err := h.cell(doff, "value data", v.Off+8)
	if err != nil {
		return err
	}
	if raw > bigDataChunk && len(p) >= 8 && string(p[:2]) == "db" && h.Base.Minor >= 4 {
		segs := int(le.Uint16(p[2:]))
		if int64(segs)*bigDataChunk < int64(raw) {
			return &FormatError{Off: pos + 2, Field: "db segment count", Value: segs, Msg: fmt.Sprintf("too few for %d bytes", raw)}
		}
		lp, lpos, err := h.cell(le.Uint32(p[4:]), "db segment list", pos+4)
		if err != nil {
			return err
		}
		if segs > len(lp)/4 {
			return &FormatError{Off: pos + 2, Field: "db segment count", Value: segs, Msg: fmt.Sprintf("segment list cell holds only %d entries", len(lp)/4)}
		}
		data := make([]byte, 0, raw)
		seen := map[uint32]bool{}
		for i := 0; i < segs && len(data) < int(raw); i++ {
			so := le.Uint32(lp[4*i:])
			if seen[so] {
				return &FormatError{Off: lpos + int64(4*i), Field: "db segment", Value: fmt.Sprintf("%#x", so), Msg: "segment listed twice"}
			}
			seen[so] = true
			sp, spos, err := h.cell(so, "db segment", lpos+int64(4*i))
			if err != nil {
				return err
			}
			want := min(bigDataChunk, int(raw)-len(data))
			if len(sp) < want {
				return &FormatError{Off: spos - 4, Field: "db segment", Value: len(sp), Msg: fmt.Sprintf("cell shorter than the %d bytes it must hold", want)}
			}
			data = append(data, sp[:want]...)
		}
		v.Data = data
		return nil
	}
	if int64(raw) > int64(len(p)) {
		return &FormatError{Off: v.Off + 4, Field: "vk data size", Value: raw, Msg: fmt.Sprintf("data cell holds only %d bytes", len(p))}
	}
	v.Data = append([]byte(nil), p[:raw]...)
	return nil
}

// DiskInformation is the raw REG_BINARY value \DISK\Information (the hive
// root of an offline SYSTEM hive is HKLM\SYSTEM; ntddft.h DISK_REGISTRY_KEY,
// DISK_REGISTRY_VALUE).
func (h *Hive) DiskInformation() ([]byte, error) {
	v, err := h.Value(`\DISK`, "Information")
	if err != nil {
		return nil, err
	}
	if v.Type != RegBinary {
		return nil, &FormatError{Off: v.Off + 0x0C, Field: "vk type", Value: v.Type, Msg: "DISK\\Information is not REG_BINARY"}
	}
	return v.Data, nil
}
