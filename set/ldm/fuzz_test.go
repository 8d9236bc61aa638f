package ldm

import (
	"bytes"
	"errors"
	"reflect"
	"testing"
)

// The fuzz targets are seeded with the real structures of the two mirrored
// fixture disks (the MBR one and the GPT one), at their real offsets: the
// files named real-* under testdata/fuzz/<target>/, which TestFuzzSeeds
// derives from the images and keeps current (go test -run TestFuzzSeeds
// -update rewrites them). They are committed rather than added with f.Add
// so that fuzz workers start without decompressing 450 MiB of images.

// wantOwnError requires err to be a *FormatError pointing inside the n
// bytes decoded from byte off, and the result to be nil.
func wantOwnError(t *testing.T, result any, err error, off int64, n int) {
	t.Helper()
	var fe *FormatError
	if !errors.As(err, &fe) || !reflect.ValueOf(result).IsNil() {
		t.Fatalf("result %v, error %v (%T); want a *FormatError alone", result, err, err)
	}
	if fe.Off < off || fe.Off >= off+int64(n) {
		t.Fatalf("%v: offset outside the %d bytes at %#x", fe, n, off)
	}
	_ = fe.Error()
}

func FuzzPrivHead(f *testing.F) {
	f.Fuzz(func(t *testing.T, raw []byte, off, size int64) {
		ph, err := DecodePrivHead(raw, off, size)
		if err != nil {
			wantOwnError(t, ph, err, off, max(len(raw), 1))
			return
		}
		if !bytes.Equal(ph.Raw, raw[:SectorSize]) || ph.Offset != off {
			t.Fatalf("Raw/Offset are not the input")
		}
		sectors := uint64(size / SectorSize)
		if ph.ConfigSize == 0 || ph.ConfigSize > maxDatabaseSectors || ph.ConfigStart+ph.ConfigSize > sectors {
			t.Fatalf("database %d+%d in a %d-sector image", ph.ConfigStart, ph.ConfigSize, sectors)
		}
		if ph.LogicalDiskSize == 0 || ph.LogicalDiskStart+ph.LogicalDiskSize > 2*maxDiskSectors ||
			ph.LogicalDiskStart < ph.ConfigStart+ph.ConfigSize && ph.ConfigStart < ph.LogicalDiskStart+ph.LogicalDiskSize {
			t.Fatalf("logical disk %d+%d, database %d+%d", ph.LogicalDiskStart, ph.LogicalDiskSize, ph.ConfigStart, ph.ConfigSize)
		}
		if ph.TOCSectors[0] >= ph.ConfigSize || ph.TOCSectors[1] >= ph.ConfigSize || ph.Missing < 0 {
			t.Fatalf("TOC sectors %v in %d sectors, Missing %d", ph.TOCSectors, ph.ConfigSize, ph.Missing)
		}
		if !validGUID(ph.DiskGUID) || !validGUID(ph.DiskGroupGUID) {
			t.Fatalf("GUIDs %q %q", ph.DiskGUID, ph.DiskGroupGUID)
		}
		if d := ph.Differences(ph); d != nil {
			t.Fatalf("a PRIVHEAD differs from itself: %v", d)
		}
		again, err := DecodePrivHead(ph.Raw, off, size)
		if err != nil || !reflect.DeepEqual(again, ph) {
			t.Fatalf("decoding Raw again = %+v, %v; want %+v", again, err, ph)
		}
		_ = ph.Scheme.String()
		_ = ph.DataOffset()
	})
}

func FuzzTOC(f *testing.F) {
	f.Fuzz(func(t *testing.T, raw []byte, off int64, dbSectors uint64) {
		toc, err := DecodeTOCBlock(raw, off, dbSectors)
		if err != nil {
			wantOwnError(t, toc, err, off, max(len(raw), 1))
			return
		}
		for i, b := range toc.Bitmaps {
			if b.Start == 0 || b.Size == 0 || b.Start >= dbSectors || b.Size > dbSectors-b.Start {
				t.Fatalf("bitmap %d: %d+%d in a %d-sector database", i, b.Start, b.Size, dbSectors)
			}
		}
		if toc.Config().Name != "config" || toc.Log().Name != "log" || !toc.SameAreas(toc) {
			t.Fatalf("bitmaps %+v", toc.Bitmaps)
		}
		again, err := DecodeTOCBlock(toc.Raw, off, dbSectors)
		if err != nil || !reflect.DeepEqual(again, toc) {
			t.Fatalf("decoding Raw again = %+v, %v; want %+v", again, err, toc)
		}
	})
}

func FuzzVMDB(f *testing.F) {
	f.Fuzz(func(t *testing.T, raw []byte, off, areaBytes int64) {
		vm, err := DecodeVMDB(raw, off, areaBytes)
		if err != nil {
			wantOwnError(t, vm, err, off, max(len(raw), 1))
			return
		}
		slots := vm.Slots()
		if vm.AreaBytes() > areaBytes || slots < 0 || int64(vm.FirstOffset)+int64(slots)*int64(vm.VBLKSize) != vm.AreaBytes() {
			t.Fatalf("%d slots of %d bytes from %d, area %d of %d bytes", slots, vm.VBLKSize, vm.FirstOffset, vm.AreaBytes(), areaBytes)
		}
		for _, c := range []Counts{vm.Committed, vm.Pending} {
			if uint64(c.Volumes)+uint64(c.Components)+uint64(c.Partitions)+uint64(c.Disks) > uint64(slots) {
				t.Fatalf("counts %+v in %d slots", c, slots)
			}
		}
		again, err := DecodeVMDB(vm.Raw, off, areaBytes)
		if err != nil || !reflect.DeepEqual(again, vm) {
			t.Fatalf("decoding Raw again = %+v, %v; want %+v", again, err, vm)
		}
		_ = vm.Consistent()
	})
}

func FuzzVBLK(f *testing.F) {
	f.Fuzz(func(t *testing.T, area []byte, off int64) {
		vm, err := DecodeVMDB(area, off, int64(len(area)))
		if err != nil {
			return // FuzzVMDB's business
		}
		db, err := DecodeVBLKs(vm, area)
		if err != nil {
			wantOwnError(t, db, err, off, len(area))
			return
		}
		checkDatabase(t, db)
		again, err := DecodeVBLKs(vm, area)
		if err != nil || !reflect.DeepEqual(again, db) {
			t.Fatalf("decoding again = %v; not the same database", err)
		}
	})
}

// checkDatabase checks what must hold for any database DecodeVBLKs accepts.
func checkDatabase(t *testing.T, db *Database) {
	t.Helper()
	vm := db.VMDB
	n := len(db.Volumes) + len(db.Components) + len(db.Partitions) + len(db.Disks) + 1
	if n+db.EmptySlots > vm.Slots() {
		t.Fatalf("%d records and %d empty slots from %d slots", n, db.EmptySlots, vm.Slots())
	}
	if db.Consistent() && (vm.Committed != Counts{uint32(len(db.Volumes)), uint32(len(db.Components)), uint32(len(db.Partitions)), uint32(len(db.Disks))}) {
		t.Fatalf("committed counts %+v; found %d %d %d %d", vm.Committed, len(db.Volumes), len(db.Components), len(db.Partitions), len(db.Disks))
	}
	if db.DiskGroup.Type == 0 || db.Lags(db) {
		t.Fatalf("disk group %+v", db.DiskGroup)
	}
	parts := 0
	for _, v := range db.Volumes {
		if v.Kind < KindSimple || v.Kind > KindRAID5 || uint64(len(v.Plexes)) != v.Children || len(v.Plexes) == 0 {
			t.Fatalf("volume %s: kind %v, %d plexes of %d", v.Name, v.Kind, len(v.Plexes), v.Children)
		}
		if (v.Kind == KindMirror) != (len(v.Plexes) > 1) {
			t.Fatalf("volume %s: kind %v with %d plexes", v.Name, v.Kind, len(v.Plexes))
		}
		if db.VolumeByName(v.Name) == nil {
			t.Fatalf("VolumeByName(%q) = nil", v.Name)
		}
		for _, p := range v.Plexes {
			if p.Component.ParentID != v.ID || uint64(len(p.Extents)) != p.Component.Children {
				t.Fatalf("plex %s of %s: parent %d, %d extents of %d", p.Component.Name, v.Name, p.Component.ParentID, len(p.Extents), p.Component.Children)
			}
			for _, e := range p.Extents {
				parts++
				if e.Partition.ParentID != p.Component.ID || e.Disk.ID != e.Partition.DiskID || db.DiskByGUID(e.Disk.GUID) == nil {
					t.Fatalf("extent %s: parent %d, disk %d/%d", e.Partition.Name, e.Partition.ParentID, e.Disk.ID, e.Partition.DiskID)
				}
				if v.Kind != KindStriped && v.Kind != KindRAID5 && e.Partition.VolumeOffset+e.Partition.Size > v.Size {
					t.Fatalf("extent %s ends past volume %s", e.Partition.Name, v.Name)
				}
				ph := &PrivHead{DiskGUID: e.Disk.GUID, LogicalDiskSize: maxDiskSectors * 2}
				if o, err := e.ByteOffset(ph); err != nil || o < 0 || e.Length() < 0 {
					t.Fatalf("extent %s: ByteOffset %d, %v; Length %d", e.Partition.Name, o, err, e.Length())
				}
			}
		}
		_ = v.Kind.String()
	}
	if parts != len(db.Partitions) {
		t.Fatalf("%d partitions, %d in plexes", len(db.Partitions), parts)
	}
}
