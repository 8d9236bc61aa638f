package imsm

import (
	"bytes"
	"errors"
	"reflect"
	"testing"

	"github.com/mirrorchk/mirrorchk/internal/fixture"
)

const seedTail = 64 << 10

// fuzzImages are whole images the seeds come from: every fixture member,
// the two-sector MPB and the synced pair.
func fuzzImages(tb testing.TB) [][]byte {
	var imgs [][]byte
	for _, dir := range fixtureDirs {
		for _, member := range []string{"m0", "m1"} {
			imgs = append(imgs, fixture.Image(tb, dir, member))
		}
	}
	ext, _ := extendedImage(tb, nil)
	synced, _ := syncedImages(tb)
	return append(append(imgs, ext), synced...)
}

// shrink returns the last tail bytes of img with its MPB made to fit
// there: every volume's blocks_per_member set to bpm sectors and its size
// to bpm/2 (the fixtures' own geometry lies past the start of a short
// image, so Read rejects their plain tails at blocks_per_member).
func shrink(tb testing.TB, img []byte, tail int, bpm uint32) []byte {
	tb.Helper()
	m := readMPB(tb, img)
	raw := bytes.Clone(m.Raw)
	for _, v := range m.Volumes {
		put32(raw, v.Off+devSizeLow, bpm/2)
		for _, mp := range v.Maps {
			put32(raw, mp.Off+mapBPMLo, bpm)
		}
	}
	put32(raw, offCheckSum, Checksum(raw))
	out := bytes.Clone(img[len(img)-tail:])
	a := tail - 2*SectorSize
	copy(out[a:a+SectorSize], raw)
	if len(raw) > SectorSize {
		copy(out[a-SectorSize*extSectors(uint32(len(raw))):], raw[SectorSize:])
	}
	return out
}

func FuzzRead(f *testing.F) {
	for _, img := range fuzzImages(f) {
		f.Add(img[len(img)-seedTail:])
		f.Add(shrink(f, img, seedTail, 64))
		f.Add(shrink(f, img, 8<<10, 4))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		size := int64(len(data))
		m, err := Read(bytes.NewReader(data), size)
		if err != nil {
			var fe *FormatError
			if m != nil || (!errors.Is(err, ErrNoMPB) && !errors.As(err, &fe)) {
				t.Fatalf("Read = %v, %v; want no MPB and ErrNoMPB or a *FormatError", m, err)
			}
			_ = err.Error()
			return
		}
		off, _ := AnchorOffset(size)
		if m.Offset != off {
			t.Fatalf("Offset %#x; the anchor is at %#x", m.Offset, off)
		}
		n := int64(len(m.Raw))
		first := min(n, SectorSize)
		if !bytes.Equal(m.Raw[:first], data[off:off+first]) {
			t.Fatalf("Raw's first sector is not the anchor's bytes")
		}
		if n > SectorSize {
			ext := off - int64(extSectors(m.Size))*SectorSize
			if !bytes.Equal(m.Raw[SectorSize:], data[ext:ext+n-SectorSize]) {
				t.Fatalf("Raw past the anchor is not the sectors before it")
			}
		}
		checkMPB(t, m)
	})
}

func FuzzDecode(f *testing.F) {
	for _, img := range fuzzImages(f) {
		m := readMPB(f, img)
		f.Add(m.Raw, m.Offset)
		f.Add(m.Raw, int64(seedTail-2*SectorSize))
		s := readMPB(f, shrink(f, img, 8<<10, 4))
		f.Add(s.Raw, s.Offset)
	}
	f.Fuzz(func(t *testing.T, raw []byte, off int64) {
		m, err := Decode(raw, off)
		if err != nil {
			var fe *FormatError
			if m != nil || (!errors.Is(err, ErrNoMPB) && !errors.As(err, &fe)) {
				t.Fatalf("Decode = %v, %v; want no MPB and ErrNoMPB or a *FormatError", m, err)
			}
			_ = err.Error()
			return
		}
		if m.Offset != off || !bytes.Equal(m.Raw, raw[:len(m.Raw)]) {
			t.Fatalf("Offset %#x (given %#x), Raw not a prefix of the input", m.Offset, off)
		}
		checkMPB(t, m)
	})
}

// checkMPB checks what must hold for any MPB that Read or Decode accepts.
func checkMPB(t *testing.T, m *MPB) {
	t.Helper()
	if len(m.Raw) != int(m.Size) || m.Size < headerSize || m.Size > MaxMPBSize || m.Sectors() > MaxMPBSectors {
		t.Fatalf("Size %d, Raw %d bytes", m.Size, len(m.Raw))
	}
	if int64(m.Sectors()-1)*SectorSize > m.Offset {
		t.Fatalf("%d sectors before the anchor at %#x", m.Sectors()-1, m.Offset)
	}
	if len(m.Disks) > 255 || len(m.Volumes) > 255 {
		t.Fatalf("%d disks, %d volumes", len(m.Disks), len(m.Volumes))
	}
	if m.ChecksumOK() != (Checksum(m.Raw) == m.Checksum) {
		t.Fatalf("ChecksumOK disagrees with Checksum(Raw)")
	}
	for i, v := range m.Volumes {
		if len(v.Maps) < 1 || len(v.Maps) > 2 || (len(v.Maps) == 2) != v.Migrating() {
			t.Fatalf("volume %d: %d maps, migr_state %d", i, len(v.Maps), v.MigrState)
		}
		for _, mp := range v.Maps {
			if len(mp.DiskOrd) != int(mp.NumMembers) || len(mp.DiskOrd) == 0 || mp.MapState > MapFailed {
				t.Fatalf("volume %d map: %+v", i, mp)
			}
			for s := range mp.DiskOrd {
				if k := mp.DiskIndex(s); k < 0 || k >= len(m.Disks) {
					t.Fatalf("volume %d slot %d names disk %d of %d", i, s, k, len(m.Disks))
				}
			}
			if mp.PBAOfLBA0+mp.BlocksPerMember > uint64(m.Offset/SectorSize) || mp.PBAOfLBA0+mp.BlocksPerMember < mp.PBAOfLBA0 {
				t.Fatalf("volume %d map %d+%d sectors past the anchor at %#x", i, mp.PBAOfLBA0, mp.BlocksPerMember, m.Offset)
			}
			_, _ = mp.StateString(), mp.Failed()
		}
		if v.Mirror() {
			off, n := v.DataRange()
			if off < 0 || n < 0 || off+n > m.Offset {
				t.Fatalf("volume %d data %#x+%d past the anchor at %#x", i, off, n, m.Offset)
			}
		}
		_ = m.VolumeUUID(i)
		_ = v.Slot(-1) + v.Slot(0)
		_ = v.MigrationType()
	}
	for i, d := range m.Disks {
		_ = d.StateString()
		_ = m.Reserved(i)
		_, _, _ = m.Slot(d.Serial)
		_, _, _ = m.Slot(FailedSerial(d.Serial))
	}
	_ = m.UUID()
	_ = m.Reserved(-1)

	again, err := Decode(m.Raw, m.Offset)
	if err != nil || !reflect.DeepEqual(again, m) {
		t.Fatalf("decoding Raw again = %+v, %v; want %+v", again, err, m)
	}
	sizes := []int64{m.Offset + 2*SectorSize, m.Offset + 2*SectorSize}
	if a, ms, err := Bind([]*MPB{m, m}, sizes, nil); err == nil {
		for _, b := range ms {
			if a != 0 || b.Disk < -1 || b.Disk >= len(m.Disks) {
				t.Fatalf("Bind = %d, %+v", a, ms)
			}
		}
	}
	// Making an MPB in sync with itself gives bytes that decode, with a
	// good checksum and the next generation, or a reason why not.
	if out, err := Synced(m, m); err == nil {
		s, err := Decode(out, m.Offset)
		if err != nil || !s.ChecksumOK() || s.Generation != m.Generation+1 || len(out) != len(m.Raw) {
			t.Fatalf("Synced(m, m) = %+v, %v", s, err)
		}
		for _, v := range s.Volumes {
			if v.Mirror() && (v.Maps[0].MapState != MapNormal || v.Maps[0].Failed() != -1 || v.Dirty != 0) {
				t.Fatalf("Synced(m, m) left a mirror %+v", v)
			}
		}
	}
}
