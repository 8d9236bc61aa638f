package ftdisk

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"testing"
)

func put16(b []byte, off int, v uint16) { binary.LittleEndian.PutUint16(b[off:], v) }
func put32(b []byte, off int, v uint32) { binary.LittleEndian.PutUint32(b[off:], v) }

// Offsets in healthy.hive, as hivex laid it out (see testdata/ftdisk/README).
const (
	rootNK   = 0x1024 // root nk payload
	diskNK   = 0x2024 // DISK nk payload
	rootLH   = 0x207C // root's lh subkey list payload
	diskVals = 0x208C // DISK's value list payload
	infoVK   = 0x2094 // Information vk payload
	infoData = 0x20BC // its data cell payload
)

// healthy value offsets: header 0..44, DISK_REGISTRY 44, disk 0 at 48
// (partition at 56), disk 1 at 108 (partition at 116), FT_REGISTRY at 168,
// FT_DESCRIPTION at 172, members at 184 and 200; 216 bytes.
func TestMangleValue(t *testing.T) {
	good := fixtures[0].value.encode()
	if len(good) != 216 {
		t.Fatalf("healthy value is %d bytes", len(good))
	}
	tests := []struct {
		name  string
		mess  func(b []byte) []byte
		off   int64
		field string
		value any
	}{
		{"value shorter than header", func(b []byte) []byte { return b[:40] }, 0, "DISK_CONFIG_HEADER", 40},
		{"NumberOfDisks lies", func(b []byte) []byte { put16(b, 44, 3); return b }, 44, "NumberOfDisks", 3},
		{"NumberOfPartitions lies", func(b []byte) []byte { put16(b, 48, 5); return b }, 48, "NumberOfPartitions", 5},
		{"disk 1 NumberOfPartitions lies", func(b []byte) []byte { put16(b, 108, 2); return b }, 108, "NumberOfPartitions", 2},
		{"NumberOfComponents lies", func(b []byte) []byte { put16(b, 168, 2); return b }, 168, "NumberOfComponents", 2},
		{"NumberOfMembers lies", func(b []byte) []byte { put16(b, 172, 3); return b }, 172, "NumberOfMembers", 3},
		{"DiskInformationSize past value", func(b []byte) []byte { put32(b, 0x10, 1000); return b }, 0x10, "DiskInformationSize", uint32(1000)},
		{"DiskInformationSize below header", func(b []byte) []byte { put32(b, 0x10, 2); return b }, 0x10, "DiskInformationSize", uint32(2)},
		{"DiskInformationOffset inside header", func(b []byte) []byte { put32(b, 0x0C, 8); return b }, 0x0C, "DiskInformationOffset", uint32(8)},
		{"FtInformationOffset past value", func(b []byte) []byte { put32(b, 0x14, 5000); return b }, 0x14, "FtInformationOffset", uint32(5000)},
		{"FtInformationSize past value", func(b []byte) []byte { put32(b, 0x18, 49); return b }, 0x18, "FtInformationSize", uint32(49)},
		{"value cut inside FT section", func(b []byte) []byte { return b[:200] }, 0x18, "FtInformationSize", uint32(48)},
		{"DiskInformationSize understated", func(b []byte) []byte { put32(b, 0x10, 100); return b }, 48 + 60, "NumberOfPartitions", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := DecodeDiskInformation(tt.mess(bytes.Clone(good)))
			var fe *FormatError
			if !errors.As(err, &fe) {
				t.Fatalf("err = %v, want *FormatError", err)
			}
			if fe.Off != tt.off || fe.Field != tt.field || (tt.value != nil && fe.Value != tt.value) {
				t.Errorf("got {Off %#x Field %q Value %#v} (%v), want {Off %#x Field %q Value %#v}", fe.Off, fe.Field, fe.Value, err, tt.off, tt.field, tt.value)
			}
		})
	}
}

// TestMangleValueFindings: inconsistencies that decode, with a Finding.
func TestMangleValueFindings(t *testing.T) {
	good := fixtures[0].value.encode()
	tests := []struct {
		name  string
		mess  func(b []byte)
		want  []Finding
		check func(t *testing.T, d *DiskInformation)
	}{
		{"Version 2", func(b []byte) { put32(b, 0, 2) },
			[]Finding{{Off: 0, Field: "Version", Msg: "2, want 3 (DISK_INFORMATION_VERSION)"}}, nil},
		{"member points between partitions", func(b []byte) { put32(b, 200+8, 57) },
			[]Finding{
				{Off: 208, Field: "OffsetToPartitionInfo", Msg: "0x39 is not the start of any DISK_PARTITION"},
				{Off: 116, Field: "FtType", Msg: "Mirror partition (group 0 member 1) is listed in no FT_DESCRIPTION"},
			},
			func(t *testing.T, d *DiskInformation) {
				if d.FtSets[0].Members[1].Partition != nil {
					t.Error("member 1 resolved")
				}
			}},
		{"member signature differs", func(b []byte) { put32(b, 200+4, 0xDEADBEEF) },
			[]Finding{{Off: 204, Field: "Signature", Msg: "member signature 0xdeadbeef, its partition is on disk 0x5d0e9f11"}}, nil},
		{"partition FtMember swapped", func(b []byte) { put16(b, 116+0x2E, 0) },
			[]Finding{{Off: 116 + 0x2E, Field: "FtMember", Msg: "partition says member 0, listed as member 1"}}, nil},
		{"partition FtGroup differs", func(b []byte) { put16(b, 116+0x2C, 7) },
			[]Finding{{Off: 116 + 0x2C, Field: "FtGroup", Msg: "partition says group 7, member 0 of its set says 0"}}, nil},
		{"set type stripe", func(b []byte) { put16(b, 172+2, 1) },
			[]Finding{
				{Off: 56, Field: "FtType", Msg: "partition says Mirror, its set says Stripe"},
				{Off: 116, Field: "FtType", Msg: "partition says Mirror, its set says Stripe"},
			}, nil},
		{"LogicalNumber differs", func(b []byte) { put32(b, 184+12, 9) },
			[]Finding{{Off: 196, Field: "LogicalNumber", Msg: "member says 9, its partition says 1"}}, nil},
		{"no FT section", func(b []byte) { put32(b, 0x18, 0) },
			[]Finding{
				{Off: 56, Field: "FtType", Msg: "Mirror partition (group 0 member 0) is listed in no FT_DESCRIPTION"},
				{Off: 116, Field: "FtType", Msg: "Mirror partition (group 0 member 1) is listed in no FT_DESCRIPTION"},
			}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := bytes.Clone(good)
			tt.mess(b)
			d, err := DecodeDiskInformation(b)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(d.Findings, tt.want) {
				t.Errorf("findings %#v\nwant %#v", d.Findings, tt.want)
			}
			if tt.check != nil {
				tt.check(t, d)
			}
		})
	}
}

// reseal recomputes the base-block checksum after a change.
func reseal(b []byte) { put32(b, 0x1FC, baseChecksum(b)) }

func TestMangleHive(t *testing.T) {
	good := loadHive(t, "healthy")
	// The offsets above must still describe the fixture.
	for off, sig := range map[int]string{rootNK: "nk", diskNK: "nk", rootLH: "lh", infoVK: "vk"} {
		if string(good[off:off+2]) != sig {
			t.Fatalf("healthy.hive: no %s at %#x", sig, off)
		}
	}
	tests := []struct {
		name     string
		mess     func(b []byte) []byte
		findings []Finding
		err      error // sentinel, or nil
		fe       *FormatError
		dirty    bool
	}{
		{name: "bad checksum", mess: func(b []byte) []byte { b[0x40] ^= 0xFF; return b }, dirty: true,
			findings: []Finding{{Off: 0x1FC, Field: "checksum", Msg: "stored 0x" + hex32(binary.LittleEndian.Uint32(good[0x1FC:])) + ", computed 0x" + hex32(binary.LittleEndian.Uint32(good[0x1FC:])^0xFF) + ": dirty or damaged hive"}}},
		{name: "sequence mismatch", mess: func(b []byte) []byte { put32(b, 8, 1); reseal(b); return b }, dirty: true,
			findings: []Finding{{Off: 0x04, Field: "sequence", Msg: "primary sequence 2 != secondary 1: dirty hive (a write did not complete)"}}},
		{name: "not regf", mess: func(b []byte) []byte { b[0] = 'R'; return b }, err: ErrNotHive},
		{name: "truncated base block", mess: func(b []byte) []byte { return b[:0x100] },
			fe: &FormatError{Off: 0, Field: "base block", Value: 0x100}},
		{name: "major version", mess: func(b []byte) []byte { put32(b, 0x14, 2); reseal(b); return b },
			fe: &FormatError{Off: 0x14, Field: "major version", Value: uint32(2)}},
		{name: "truncated hive", mess: func(b []byte) []byte { return b[:0x2000] },
			findings: []Finding{{Off: 0x28, Field: "hive bins size", Msg: "0x2000 bytes of bins claimed, file holds 0x1000: truncated hive"}},
			fe:       &FormatError{Off: rootNK + 0x1C, Field: "subkey list", Value: "0x1078"}},
		{name: "no hbin", mess: func(b []byte) []byte { copy(b[0x1000:], "xbin"); return b },
			fe: &FormatError{Off: 0x1000, Field: "hbin"}},
		{name: "root cell outside", mess: func(b []byte) []byte { put32(b, 0x24, 0x7FFF0000); reseal(b); return b },
			fe: &FormatError{Off: 0x24, Field: "nk", Value: "0x7fff0000"}},
		{name: "lh count lies", mess: func(b []byte) []byte { put16(b, rootLH+2, 100); return b },
			fe: &FormatError{Off: rootLH + 2, Field: "lh count", Value: 100}},
		{name: "subkey list loop", mess: func(b []byte) []byte { copy(b[rootLH:], "ri"); put32(b, rootLH+4, 0x1078); return b },
			fe: &FormatError{Off: rootLH + 4, Field: "subkey list", Value: "0x1078"}},
		{name: "subkey list unknown", mess: func(b []byte) []byte { copy(b[rootLH:], "zz"); return b },
			fe: &FormatError{Off: rootLH, Field: "subkey list", Value: `"zz"`}},
		{name: "subkey not nk", mess: func(b []byte) []byte { copy(b[diskNK:], "vk"); return b },
			fe: &FormatError{Off: diskNK, Field: "nk", Value: `"vk"`}},
		{name: "nk name length lies", mess: func(b []byte) []byte { put16(b, diskNK+0x48, 500); return b },
			fe: &FormatError{Off: diskNK + 0x48, Field: "nk name length", Value: 500}},
		{name: "value count lies", mess: func(b []byte) []byte { put32(b, diskNK+0x24, 3); return b },
			fe: &FormatError{Off: diskNK + 0x24, Field: "value count", Value: uint32(3)}},
		{name: "vk data size lies", mess: func(b []byte) []byte { put32(b, infoVK+4, 5000); return b },
			fe: &FormatError{Off: infoVK + 4, Field: "vk data size", Value: uint32(5000)}},
		{name: "vk inline too long", mess: func(b []byte) []byte { put32(b, infoVK+4, 0x80000009); return b },
			fe: &FormatError{Off: infoVK + 4, Field: "vk data size", Value: uint32(9)}},
		{name: "data cell freed", mess: func(b []byte) []byte { put32(b, infoData-4, 0xE0); return b },
			fe: &FormatError{Off: infoData - 4, Field: "value data", Value: int32(0xE0)}},
		{name: "vk type", mess: func(b []byte) []byte { put32(b, infoVK+0x0C, 1); return b },
			fe: &FormatError{Off: infoVK + 0x0C, Field: "vk type", Value: uint32(1)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := tt.mess(bytes.Clone(good))
			h, err := OpenHive(b)
			if err == nil {
				if !reflect.DeepEqual(h.Findings, tt.findings) {
					t.Errorf("findings %#v\nwant %#v", h.Findings, tt.findings)
				}
				if h.Base.Dirty() != tt.dirty {
					t.Errorf("Dirty() = %v", h.Base.Dirty())
				}
				_, err = h.DiskInformation()
			}
			switch {
			case tt.err != nil:
				if !errors.Is(err, tt.err) {
					t.Errorf("err = %v, want %v", err, tt.err)
				}
			case tt.fe != nil:
				var fe *FormatError
				if !errors.As(err, &fe) {
					t.Fatalf("err = %v, want *FormatError", err)
				}
				if fe.Off != tt.fe.Off || fe.Field != tt.fe.Field || fe.Value != tt.fe.Value {
					t.Errorf("got {Off %#x Field %q Value %#v} (%v), want {Off %#x Field %q Value %#v}", fe.Off, fe.Field, fe.Value, err, tt.fe.Off, tt.fe.Field, tt.fe.Value)
				}
			default:
				if err != nil {
					t.Fatal(err)
				}
			}
			// hivex as the peer for the dirty cases: it refuses a bad
			// checksum outright (this package reports it and reads on) and
			// ignores unequal sequence numbers (this package reports them).
			if tt.dirty {
				p := filepath.Join(t.TempDir(), "h.hive")
				if err := os.WriteFile(p, b, 0o644); err != nil {
					t.Fatal(err)
				}
				out, perr := exec.Command(needTool(t, "hivexget"), p, `\DISK`, "Information").Output()
				v, _ := h.DiskInformation()
				switch tt.name {
				case "bad checksum":
					if perr == nil {
						t.Errorf("hivexget accepted a bad checksum")
					}
				default:
					if perr != nil || !bytes.Equal(out, v) {
						t.Errorf("hivexget: %v, %x; we read %x", perr, out, v)
					}
				}
			}
		})
	}
}

func hex32(v uint32) string { return fmt.Sprintf("%08x", v) }
