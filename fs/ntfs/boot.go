package ntfs

import (
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
)

// ErrNotNTFS is returned by Open when neither the boot sector nor its
// backup is an NTFS boot sector.
var ErrNotNTFS = errors.New("ntfs: not an NTFS volume")

// FormatError reports a field that cannot be valid.
type FormatError struct {
	Off   int64  // byte offset of the field in the volume
	Field string // field name ("bytes per sector", "signature", …)
	Value any    // the value found, or nil
	Msg   string // what is wrong with it
}

// Error formats the error as "ntfs: FIELD at byte 0xOFF: VALUE MSG".
func (e *FormatError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "ntfs: %s at byte %#x", e.Field, e.Off)
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

// Boot is the decoded NTFS boot sector.
type Boot struct {
	BytesPerSector    int64
	SectorsPerCluster int64
	ClusterSize       int64
	TotalSectors      int64 // the field: one less than the sectors of the volume
	MFTLCN            int64
	MFTMirrLCN        int64
	RecordSize        int64 // bytes per FILE record
	IndexSize         int64 // bytes per INDX block
	Serial            uint64
}

// Clusters is the number of clusters of the volume.
func (b *Boot) Clusters() int64 { return b.TotalSectors / b.SectorsPerCluster }

// ParseBoot decodes and validates a boot sector read at byte off (0 for the
// primary, for the error offsets).
func ParseBoot(s []byte, off int64) (*Boot, error) {
	le := binary.LittleEndian
	if len(s) < 512 {
		return nil, &FormatError{off, "boot sector", len(s), "bytes, want 512"}
	}
	if string(s[3:11]) != "NTFS    " {
		return nil, &FormatError{off + 3, "OEM ID", fmt.Sprintf("%q", s[3:11]), "is not \"NTFS    \""}
	}
	if le.Uint16(s[0x1FE:]) != 0xAA55 {
		return nil, &FormatError{off + 0x1FE, "signature", fmt.Sprintf("%#04x", le.Uint16(s[0x1FE:])), "is not 0xaa55"}
	}
	b := &Boot{BytesPerSector: int64(le.Uint16(s[0x0B:]))}
	if b.BytesPerSector < 256 || b.BytesPerSector > 4096 || b.BytesPerSector&(b.BytesPerSector-1) != 0 {
		return nil, &FormatError{off + 0x0B, "bytes per sector", b.BytesPerSector, "is not a power of 2 in 256..4096"}
	}
	spc := int64(s[0x0D])
	if spc > 0x80 {
		if 256-spc > 20 {
			return nil, &FormatError{off + 0x0D, "sectors per cluster", spc, "is too large"}
		}
		spc = 1 << (256 - spc)
	}
	if spc == 0 || spc&(spc-1) != 0 {
		return nil, &FormatError{off + 0x0D, "sectors per cluster", spc, "is not a power of 2"}
	}
	b.SectorsPerCluster = spc
	b.ClusterSize = spc * b.BytesPerSector
	if b.ClusterSize > 2<<20 {
		return nil, &FormatError{off + 0x0D, "sectors per cluster", spc, "makes clusters larger than 2 MiB"}
	}
	b.TotalSectors = int64(le.Uint64(s[0x28:]))
	if b.TotalSectors < spc || b.TotalSectors > 1<<48 {
		return nil, &FormatError{off + 0x28, "total sectors", b.TotalSectors, "is out of range"}
	}
	b.MFTLCN = int64(le.Uint64(s[0x30:]))
	if b.MFTLCN <= 0 || b.MFTLCN >= b.Clusters() {
		return nil, &FormatError{off + 0x30, "$MFT LCN", b.MFTLCN, fmt.Sprintf("is outside the %d clusters", b.Clusters())}
	}
	b.MFTMirrLCN = int64(le.Uint64(s[0x38:]))
	if b.MFTMirrLCN <= 0 || b.MFTMirrLCN >= b.Clusters() {
		return nil, &FormatError{off + 0x38, "$MFTMirr LCN", b.MFTMirrLCN, fmt.Sprintf("is outside the %d clusters", b.Clusters())}
	}
	var err error
	if b.RecordSize, err = perSize(s[0x40], b.ClusterSize); err != nil || b.RecordSize < 512 || b.RecordSize > 64<<10 {
		return nil, &FormatError{off + 0x40, "clusters per MFT record", int8(s[0x40]), "gives no record size in 512..65536"}
	}
	if b.IndexSize, err = perSize(s[0x44], b.ClusterSize); err != nil || b.IndexSize < 512 || b.IndexSize > 64<<10 {
		return nil, &FormatError{off + 0x44, "clusters per index record", int8(s[0x44]), "gives no index size in 512..65536"}
	}
	b.Serial = le.Uint64(s[0x48:])
	return b, nil
}

// perSize decodes the clusters-per-record bytes: positive = clusters,
// negative v = 2^-v bytes.
func perSize(v byte, cs int64) (int64, error) {
	c := int64(int8(v))
	switch {
	case c > 0:
		return c * cs, nil
	case c < 0 && c >= -31:
		return 1 << -c, nil
	}
	return 0, fmt.Errorf("size byte %#x", v)
}
