// Package ldm reads the Windows Logical Disk Manager (dynamic disk)
// database of one disk image: the PRIVHEAD, the TOCBLOCKs, the VMDB and the
// VBLK records describing the disk group, its disks, volumes, components
// (plexes) and partitions (subdisks).
//
// It works on an io.ReaderAt plus the image size, as debug/elf and
// archive/zip do: every size, count and offset read from the image is
// checked against the image and against a named cap before it is used, and
// no input makes it panic. All LDM integers are big-endian; sectors are 512
// bytes.
//
// Field names in errors follow the structure they come from, with the
// names the Linux kernel's and libldm's LDM readers use where they agree:
// "PRIVHEAD.config_start", "VMDB.vblk_size", "VBLK.entries_total",
// "partition.disk_id".
//
// Every disk of a disk group carries a complete copy of the group's
// database. Read decodes one image's copy; comparing the copies (which disk
// lags) and binding extents to images is the caller's job, with
// Database.Lags and Extent.ByteOffset as the helpers.
package ldm

import (
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"
)

// SectorSize is the sector size LDM offsets and sizes are counted in. Only
// 512-byte sectors are supported (the published images all use them).
const SectorSize = 512

// Caps on what the image may make this package read or allocate. Windows
// writes a 2048-sector database with 128-byte VBLKs; the caps leave room for
// other writers while bounding what a lying field can cost.
const (
	// maxDatabaseSectors caps PRIVHEAD.config_size (Windows: 2048).
	maxDatabaseSectors = 1 << 16
	// maxDiskSectors caps every sector number and count (128 PiB).
	maxDiskSectors = 1 << 48
	// maxOffset caps the byte offsets the decoders accept.
	maxOffset = maxDiskSectors * SectorSize
	// maxFragments caps VBLK.entries_total: the kernel and FreeBSD readers
	// both reject records spanning more than 4 slots.
	maxFragments = 4
	// maxGPTEntryBytes caps the GPT partition entry array (128 entries of
	// 128 bytes is 16 KiB).
	maxGPTEntryBytes = 1 << 20
)

// FormatError reports a field that cannot be valid.
type FormatError struct {
	Off   int64  // byte offset of the field in the image
	Field string // "PRIVHEAD.config_start", "VBLK.entries_total", "partition.disk_id", …
	Value any    // the value found, or nil
	Msg   string // what is wrong with it
}

// Error formats the error as "ldm: FIELD at byte 0xOFF: VALUE MSG".
func (e *FormatError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "ldm: %s at byte %#x", e.Field, e.Off)
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

// ErrNoLDM means the image has no dynamic-disk marker: no MBR partition of
// type 0x42, and no GPT with an LDM metadata partition.
var ErrNoLDM = errors.New("ldm: no LDM database")

// Read decodes the LDM database of one disk image of size bytes: its
// primary PRIVHEAD (with the backup copies) and the database the PRIVHEAD
// points to. It returns ErrNoLDM when the image is not a dynamic disk, a
// *FormatError when it is one whose metadata cannot be valid, and other
// errors for I/O failures. The error is non-nil only when the results are
// nil; ReadPrivHead and ReadDatabase give the two halves separately.
func Read(r io.ReaderAt, size int64) (*Database, *PrivHead, error) {
	ph, err := ReadPrivHead(r, size)
	if err != nil {
		return nil, nil, err
	}
	db, err := ReadDatabase(r, size, ph)
	if err != nil {
		return nil, nil, err
	}
	return db, ph, nil
}

// readFull reads len(p) bytes at off; a short read is an error, never zeros.
func readFull(r io.ReaderAt, p []byte, off int64) error {
	n, err := r.ReadAt(p, off)
	if n == len(p) {
		return nil
	}
	if err == nil || err == io.EOF {
		err = io.ErrUnexpectedEOF
	}
	return fmt.Errorf("ldm: read %d bytes at byte %#x: %w", len(p), off, err)
}

// readChunk is the most readChunked allocates ahead of the bytes it has read.
const readChunk = 1 << 20

// readChunked reads n bytes at off in chunks, so that a size the reader
// cannot back ends in a read error before it becomes a large allocation.
func readChunked(r io.ReaderAt, off, n int64) ([]byte, error) {
	var buf []byte
	for int64(len(buf)) < n {
		k := int(min(readChunk, n-int64(len(buf))))
		buf = slices.Grow(buf, k)[:len(buf)+k]
		if err := readFull(r, buf[len(buf)-k:], off+int64(len(buf)-k)); err != nil {
			return nil, err
		}
	}
	return buf, nil
}

// readSector reads the 512-byte sector at byte off, or reports that the
// image ends before it as a FormatError on field.
func readSector(r io.ReaderAt, size, off int64, field string) ([]byte, error) {
	if off < 0 || off > size-SectorSize {
		return nil, &FormatError{Off: off, Field: field, Msg: fmt.Sprintf("sector lies outside the %#x-byte image", size)}
	}
	b := make([]byte, SectorSize)
	if err := readFull(r, b, off); err != nil {
		return nil, err
	}
	return b, nil
}

// fileTimeEpoch is 1601-01-01 minus 1970-01-01 in 100 ns units.
const fileTimeEpoch = 116444736000000000

// fileTime converts a Windows FILETIME (100 ns ticks since 1601) to UTC;
// zero stays the zero Time.
func fileTime(v uint64) time.Time {
	if v == 0 {
		return time.Time{}
	}
	t := int64(v/10_000_000) - fileTimeEpoch/10_000_000
	return time.Unix(t, int64(v%10_000_000)*100).UTC()
}

// cString returns b up to its first NUL byte.
func cString(b []byte) string {
	if i := slices.Index(b, 0); i >= 0 {
		b = b[:i]
	}
	return string(b)
}

// validGUID reports whether s is a GUID in the 36-character text form.
func validGUID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch i {
		case 8, 13, 18, 23:
			if c != '-' {
				return false
			}
		default:
			if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
				return false
			}
		}
	}
	return true
}

// guidText formats 16 bytes in stored order as a GUID, as libldm prints the
// binary GUIDs of volumes and revision-4 disk records.
func guidText(b []byte) string {
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}
