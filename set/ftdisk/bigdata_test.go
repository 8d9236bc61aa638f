package ftdisk

import (
	"bytes"
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"testing"
)

const bigLen = 20000 // > 16344: stored as a "db" big-data value

// bigDataHive is healthy.hive with a 20000-byte Information value moved into
// big-data cells in a new 0x6000-byte hbin at file offset 0x3000 (hivexsh
// cannot write such a value: its setval line reader rejects it). Cells,
// relative to 0x1000:
//
//	0x2020 db: "db", 2 segments, segment list at 0x2030
//	0x2030 segment list: 0x2040, 0x6020
//	0x2040 segment 0: 16344 bytes (cell 16352)
//	0x6020 segment 1: 3656 bytes (cell 3664)
//	0x6E70 free to the end of the bin (0x8000)
//
// The vk gets data size 20000 and data offset 0x2020; the minor version is
// raised to 5 (big data exists from 1.4 on); the base block is resealed.
func bigDataHive(tb testing.TB) ([]byte, []byte) {
	tb.Helper()
	b := append(bytes.Clone(loadHive(tb, "healthy")), make([]byte, 0x6000)...)
	value := make([]byte, bigLen)
	copy(value, fixtures[0].value.encode())
	for i := 216; i < bigLen; i++ {
		value[i] = byte(i*7 + 3)
	}
	le := binary.LittleEndian
	bin := b[0x3000:]
	copy(bin, "hbin")
	le.PutUint32(bin[4:], 0x2000)
	le.PutUint32(bin[8:], 0x6000)
	cell := func(rel, size int) []byte {
		c := b[0x1000+rel:]
		le.PutUint32(c, uint32(-int32(size)))
		return c[4:size]
	}
	db := cell(0x2020, 16)
	copy(db, "db")
	le.PutUint16(db[2:], 2)
	le.PutUint32(db[4:], 0x2030)
	l := cell(0x2030, 16)
	le.PutUint32(l, 0x2040)
	le.PutUint32(l[4:], 0x6020)
	copy(cell(0x2040, 16352), value[:16344])
	copy(cell(0x6020, 3664), value[16344:])
	le.PutUint32(b[0x1000+0x6E70:], 0x8000-0x6E70)
	le.PutUint32(b[infoVK+4:], bigLen)
	le.PutUint32(b[infoVK+8:], 0x2020)
	le.PutUint32(b[0x18:], 5)
	le.PutUint32(b[0x28:], 0x8000)
	reseal(b)
	return b, value
}

func TestBigData(t *testing.T) {
	b, want := bigDataHive(t)
	h, err := OpenHive(b)
	if err != nil {
		t.Fatal(err)
	}
	got, err := h.DiskInformation()
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("big data value differs (%d bytes read)", len(got))
	}
	p := filepath.Join(t.TempDir(), "big.hive")
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	if peer := hivexget(t, p); !bytes.Equal(peer, want) {
		t.Errorf("hivexget read %d bytes, not the value written", len(peer))
	}
	// Sizes are upper bounds: the trailing bytes do not disturb the decode.
	d, err := DecodeDiskInformation(got)
	if err != nil || len(d.FtSets) != 1 || len(d.Findings) != 0 {
		t.Errorf("decode: %v %v", err, d)
	}

	for _, tt := range []struct {
		name  string
		mess  func(b []byte)
		off   int64
		field string
		value any
	}{
		// Before 1.4 a "db" cell is not big data: the 12-byte cell is the data.
		{"version 1.3", func(b []byte) { put32(b, 0x18, 3); reseal(b) }, infoVK + 4, "vk data size", uint32(bigLen)},
		// Found while fuzzing: a db value claiming ~1 GiB made the reader
		// allocate it up front (seed testdata/fuzz/FuzzHive/db-size-1gib is
		// healthy.hive with such a db in place of the data cell).
		{"db size past hive", func(b []byte) { put32(b, infoVK+4, 0x3F000000) }, infoVK + 4, "vk data size", uint32(0x3F000000)},
		{"segment count too small", func(b []byte) { put16(b, 0x3024+2, 1) }, 0x3024 + 2, "db segment count", 1},
		{"segment count past list", func(b []byte) { put16(b, 0x3024+2, 4) }, 0x3024 + 2, "db segment count", 4},
		{"segment listed twice", func(b []byte) { put32(b, 0x3034+4, 0x2040) }, 0x3034 + 4, "db segment", "0x2040"},
		{"segment too short", func(b []byte) { put32(b, 0x7020, uint32(0xFFFFFFFF-1000+1)) }, 0x7020, "db segment", 996},
		{"segment list outside", func(b []byte) { put32(b, 0x3024+4, 0x7FFFFFF0) }, 0x3024 + 4, "db segment list", "0x7ffffff0"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			m := bytes.Clone(b)
			tt.mess(m)
			h, err := OpenHive(m)
			if err == nil {
				_, err = h.DiskInformation()
			}
			var fe *FormatError
			if !errors.As(err, &fe) {
				t.Fatalf("err = %v, want *FormatError", err)
			}
			if fe.Off != tt.off || fe.Field != tt.field || fe.Value != tt.value {
				t.Errorf("got {Off %#x Field %q Value %#v} (%v), want {Off %#x Field %q Value %#v}", fe.Off, fe.Field, fe.Value, err, tt.off, tt.field, tt.value)
			}
		})
	}
}
