package ftdisk

import (
	"bytes"
	"errors"
	"reflect"
	"testing"
)

// hiveSeeds are the committed hives, the empty hive and the big-data hive.
func hiveSeeds(f *testing.F) [][]byte {
	seeds := [][]byte{emptyHive()}
	for _, fx := range fixtures {
		seeds = append(seeds, loadHive(f, fx.name))
	}
	big, _ := bigDataHive(f)
	seeds = append(seeds, big)
	// Mangled: subkey-list loop, truncated bins, dirty sequence.
	h := loadHive(f, "healthy")
	loop := bytes.Clone(h)
	copy(loop[rootLH:], "ri")
	put32(loop, rootLH+4, 0x1078)
	dirty := bytes.Clone(h)
	put32(dirty, 8, 1)
	reseal(dirty)
	return append(seeds, loop, h[:0x2000], dirty)
}

func FuzzHive(f *testing.F) {
	for _, s := range hiveSeeds(f) {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		h, err := OpenHive(b)
		if err != nil {
			var fe *FormatError
			if !errors.Is(err, ErrNotHive) && !errors.As(err, &fe) {
				t.Fatalf("OpenHive error %T %v", err, err)
			}
			return
		}
		if h.Base.Dirty() != (len(h.Findings) > 0 && (h.Base.Seq1 != h.Base.Seq2 || h.Base.Checksum != h.Base.ComputedChecksum)) {
			t.Fatalf("Dirty() %v with findings %v", h.Base.Dirty(), h.Findings)
		}
		v, err := h.DiskInformation()
		if err != nil {
			var fe *FormatError
			if !errors.Is(err, ErrKeyNotFound) && !errors.Is(err, ErrValueNotFound) && !errors.As(err, &fe) {
				t.Fatalf("DiskInformation error %T %v", err, err)
			}
			return
		}
		if len(v) > len(b) {
			t.Fatalf("value of %d bytes from a %d-byte hive", len(v), len(b))
		}
		checkDecode(t, v)
	})
}

func FuzzDiskInformation(f *testing.F) {
	for _, fx := range fixtures {
		f.Add(fx.value.encode())
	}
	_, big := bigDataHive(f)
	f.Add(big)
	f.Fuzz(func(t *testing.T, b []byte) {
		checkDecode(t, b)
	})
}

// checkDecode decodes b and checks what any result must satisfy.
func checkDecode(t *testing.T, b []byte) {
	d, err := DecodeDiskInformation(b)
	if err != nil {
		var fe *FormatError
		if !errors.As(err, &fe) {
			t.Fatalf("error %T %v", err, err)
		}
		if fe.Off < 0 || fe.Off > int64(len(b)) {
			t.Fatalf("error offset %#x outside the %d-byte value", fe.Off, len(b))
		}
		return
	}
	for i, dk := range d.Disks {
		for _, p := range dk.Partitions {
			if p.Off < headerSize || p.Off+partitionSize > int64(len(b)) || p.Disk != i || p.Signature != dk.Signature {
				t.Fatalf("partition %+v of disk %d", p, i)
			}
		}
	}
	for _, s := range d.FtSets {
		for _, m := range s.Members {
			if m.Off+ftMemberSize > int64(len(b)) {
				t.Fatalf("member at %#x past the value", m.Off)
			}
			if m.Partition != nil && m.Partition.Off != int64(m.OffsetToPartitionInfo) {
				t.Fatalf("member resolved to the partition at %#x, not %#x", m.Partition.Off, m.OffsetToPartitionInfo)
			}
		}
	}
	again, _ := DecodeDiskInformation(b)
	if !reflect.DeepEqual(d, again) {
		t.Fatal("decode is not deterministic")
	}
}
