package md

import (
	"bytes"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/mirrorchk/mirrorchk/internal/fixture"
)

// ctimeLayout is C's ctime() without the newline, as mdadm prints times.
const ctimeLayout = "Mon Jan _2 15:04:05 2006"

var levelNames = map[int32]string{-4: "multipath", -1: "linear", 0: "raid0", 1: "raid1", 4: "raid4", 5: "raid5", 6: "raid6", 10: "raid10"}

// TestExamine decodes every fixture image and compares the result with what
// mdadm --examine, run on the same image now, says about it, and with the
// fixture's truth.json.
func TestExamine(t *testing.T) {
	for _, fx := range fixtureDirs {
		tr := fixture.LoadTruth(t, fx.dir)
		for i, m := range []string{"m0", "m1"} {
			t.Run(strings.TrimPrefix(fx.dir, "md/")+"/"+m, func(t *testing.T) {
				t.Parallel()
				img := fixture.Image(t, fx.dir, m)
				sb := scanOne(t, img, fx.v)
				rep := runMdadm(t, "--examine", writeTemp(t, m+".img", img))
				if fx.v == V090 {
					compare090(t, sb, rep)
				} else {
					compare1(t, sb, rep)
				}
				compareTruth(t, sb, tr, i, int64(len(img)))
			})
		}
	}
}

func check(t *testing.T, what string, got, want any) {
	t.Helper()
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("%s = %v; mdadm says %v", what, got, want)
	}
}

// firstField returns the first space-separated word of s.
func firstField(s string) string {
	if f := strings.Fields(s); len(f) > 0 {
		return f[0]
	}
	return ""
}

// checksumLine is how mdadm prints a checksum it agrees with.
func checksumLine(sb *Superblock) string {
	if sb.ChecksumOK() {
		return fmt.Sprintf("%x - correct", sb.Checksum)
	}
	return fmt.Sprintf("%x - expected %x", sb.Checksum, sb.ComputedChecksum)
}

func compareCommon(t *testing.T, sb *Superblock, rep report) {
	t.Helper()
	check(t, "Magic", fmt.Sprintf("%08x", uint32(Magic)), rep.get(t, "Magic"))
	check(t, "CTime", sb.CTime.Format(ctimeLayout), rep.get(t, "Creation Time"))
	check(t, "UTime", sb.UTime.Format(ctimeLayout), rep.get(t, "Update Time"))
	check(t, "Level", levelNames[sb.Level], rep.get(t, "Raid Level"))
	check(t, "RaidDisks", sb.RaidDisks, rep.get(t, "Raid Devices"))
	check(t, "Events", sb.Events, rep.get(t, "Events"))
	check(t, "Checksum", checksumLine(sb), rep.get(t, "Checksum"))
	if !sb.ChecksumOK() {
		t.Errorf("ChecksumOK() = false for a kernel-written superblock (stored %#x, computed %#x)", sb.Checksum, sb.ComputedChecksum)
	}
	state := "active"
	if sb.Clean {
		state = "clean"
	}
	check(t, "Clean", state, rep.get(t, "State"))
	if sb.Level == 1 {
		check(t, "Size (Array Size KiB)", sb.Size/1024, firstField(rep.get(t, "Array Size")))
	}
}

func compare1(t *testing.T, sb *Superblock, rep report) {
	t.Helper()
	compareCommon(t, sb, rep)
	check(t, "Version", sb.Version, rep.get(t, "Version"))
	check(t, "FeatureMap", fmt.Sprintf("%#x", sb.FeatureMap), rep.get(t, "Feature Map"))
	check(t, "UUIDString", sb.UUIDString(), rep.get(t, "Array UUID"))
	check(t, "Name", sb.Name, rep.get(t, "Name"))
	check(t, "DataSize (Avail Dev Size sectors)", sb.DataSize/512, firstField(rep.get(t, "Avail Dev Size")))
	if used, ok := rep.kv["Used Dev Size"]; ok != (sb.Size != sb.DataSize) {
		t.Errorf("Used Dev Size printed = %v; Size %d, DataSize %d", ok, sb.Size, sb.DataSize)
	} else if ok {
		check(t, "Size (Used Dev Size sectors)", sb.Size/512, firstField(used))
	}
	if do, ok := rep.kv["Data Offset"]; ok != (sb.DataOffset != 0) {
		t.Errorf("Data Offset printed = %v; DataOffset %d", ok, sb.DataOffset)
	} else if ok {
		check(t, "DataOffset (sectors)", sb.DataOffset/512, firstField(do))
	}
	check(t, "Offset (Super Offset sectors)", sb.Offset/512, firstField(rep.get(t, "Super Offset")))
	check(t, "DeviceUUID", uuidBytes(sb.DeviceUUID), rep.get(t, "Device UUID"))
	if bm, ok := rep.kv["Internal Bitmap"]; ok != sb.HasBitmap {
		t.Errorf("Internal Bitmap printed = %v; HasBitmap %v", ok, sb.HasBitmap)
	} else if ok {
		check(t, "BitmapOffset", fmt.Sprintf("%d sectors from superblock", sb.BitmapOffset), bm)
	}
	if ro, ok := rep.kv["Recovery Offset"]; ok != sb.Recovering {
		t.Errorf("Recovery Offset printed = %v; Recovering %v", ok, sb.Recovering)
	} else if ok {
		check(t, "RecoveryOffset (sectors)", sb.RecoveryOffset/512, firstField(ro))
	}
	check(t, "Role", roleString(sb), rep.get(t, "Device Role"))
	check(t, "DevRoles (Array State)", arrayState(sb), firstField(rep.get(t, "Array State")))
}

// roleString is mdadm's Device Role line for sb.
func roleString(sb *Superblock) string {
	switch {
	case sb.Role >= RoleFaulty:
		return "spare"
	case sb.Role == RoleJournal:
		return "Journal"
	case sb.FeatureMap&FeatureReplacement != 0:
		return fmt.Sprintf("Replacement device %d", sb.Role)
	}
	return fmt.Sprintf("Active device %d", sb.Role)
}

// arrayState is mdadm's Array State string built from DevRoles.
func arrayState(sb *Superblock) string {
	var b strings.Builder
	for d := range sb.RaidDisks {
		n := 0
		for _, r := range sb.DevRoles {
			if int(r) == d {
				n++
			}
		}
		switch {
		case n == 2 && sb.Level > 0:
			b.WriteByte('R')
		case n == 1:
			b.WriteByte('A')
		case n == 0:
			b.WriteByte('.')
		default:
			b.WriteByte('?')
		}
	}
	return b.String()
}

func compare090(t *testing.T, sb *Superblock, rep report) {
	t.Helper()
	compareCommon(t, sb, rep)
	if v := rep.get(t, "Version"); !strings.HasPrefix(v, "0.90.") {
		t.Errorf("mdadm Version %q; decoded 0.90", v)
	}
	check(t, "UUIDString", sb.UUIDString(), rep.get(t, "UUID"))
	check(t, "Size (Used Dev Size KiB)", sb.Size/1024, firstField(rep.get(t, "Used Dev Size")))
	check(t, "NrDisks", sb.NrDisks, rep.get(t, "Total Devices"))
	check(t, "MDMinor", sb.MDMinor, rep.get(t, "Preferred Minor"))
	check(t, "ActiveDisks", sb.ActiveDisks, rep.get(t, "Active Devices"))
	check(t, "WorkingDisks", sb.WorkingDisks, rep.get(t, "Working Devices"))
	check(t, "FailedDisks", sb.FailedDisks, rep.get(t, "Failed Devices"))
	check(t, "SpareDisks", sb.SpareDisks, rep.get(t, "Spare Devices"))
	if bm, ok := rep.kv["Internal Bitmap"]; ok != sb.HasBitmap {
		t.Errorf("Internal Bitmap printed = %v; HasBitmap %v", ok, sb.HasBitmap)
	} else if ok {
		check(t, "Internal Bitmap", "present", bm)
	}
	if sb.DataOffset != 0 || sb.DataSize != sb.Size {
		t.Errorf("DataOffset, DataSize = %d, %d; want 0, Size %d", sb.DataOffset, sb.DataSize, sb.Size)
	}
	if sb.Disks == nil || len(sb.Disks) != 27 {
		t.Fatalf("len(Disks) = %d; want 27", len(sb.Disks))
	}
	// mdadm prints this_disk, then disks[0 .. raid_disks+spare_disks).
	want := sb.RaidDisks + sb.SpareDisks + 1
	if len(rep.rows) != want {
		t.Fatalf("mdadm printed %d disk rows; want %d:\n%s", len(rep.rows), want, rep.text)
	}
	for i, row := range rep.rows {
		d, label := sb.ThisDisk, "this"
		if i > 0 {
			d, label = sb.Disks[i-1], strconv.Itoa(i-1)
		}
		check(t, "disk row label", label, row[0])
		got := fmt.Sprintf("%d %d %d %d %s", d.Number, d.Major, d.Minor, d.RaidDisk, diskStateWords(d.State))
		var words []string
		for _, w := range row[5:] {
			if strings.HasPrefix(w, "/") { // device name, if mdadm could map it
				break
			}
			words = append(words, w)
		}
		check(t, "disk "+label, got, strings.Join(append(row[1:5:5], words...), " "))
	}
	// DevRoles and Role are synthesized from the same table.
	if sb.Role != role090(sb.ThisDisk, uint32(sb.RaidDisks)) || sb.DevNumber != int(sb.ThisDisk.Number) {
		t.Errorf("Role %#x / DevNumber %d do not follow this_disk %+v", sb.Role, sb.DevNumber, sb.ThisDisk)
	}
}

// diskStateWords renders a 0.90 disk state as mdadm's table does.
func diskStateWords(s uint32) string {
	var w []string
	wonly, ff := s&DiskWriteMostly != 0, s&DiskFailFast != 0
	s &^= DiskWriteMostly | DiskFailFast
	for _, b := range []struct {
		bit  uint32
		word string
	}{{DiskFaulty, "faulty"}, {DiskActive, "active"}, {DiskSync, "sync"}, {DiskRemoved, "removed"}} {
		if s&b.bit != 0 {
			w = append(w, b.word)
		}
	}
	if wonly {
		w = append(w, "write-mostly")
	}
	if ff {
		w = append(w, "failfast")
	}
	if s == 0 {
		w = append(w, "spare")
	}
	return strings.Join(w, " ")
}

func compareTruth(t *testing.T, sb *Superblock, tr fixture.Truth, i int, size int64) {
	t.Helper()
	m := tr.Members[i]
	if tr.MemberBytes != size {
		t.Errorf("image is %d bytes; truth.json says %d", size, tr.MemberBytes)
	}
	if got := strconv.FormatUint(sb.Events, 10); got != m.Events {
		t.Errorf("Events = %s; truth.json says %s", got, m.Events)
	}
	if sb.DataOffset != m.DataOffsetSectors*512 {
		t.Errorf("DataOffset = %d; truth.json says %d sectors", sb.DataOffset, m.DataOffsetSectors)
	}
	if m.DeviceRole != "" && roleString(sb) != m.DeviceRole {
		t.Errorf("role = %q; truth.json says %q", roleString(sb), m.DeviceRole)
	}
	if sb.Level != tr.Level || sb.RaidDisks != tr.RaidDisks {
		t.Errorf("Level, RaidDisks = %d, %d; truth.json says %d, %d", sb.Level, sb.RaidDisks, tr.Level, tr.RaidDisks)
	}
	if sb.Size != tr.ArrayBytes {
		t.Errorf("Size = %d; truth.json array_bytes %d (RAID-1: the per-device size)", sb.Size, tr.ArrayBytes)
	}
	if !sb.IsSlot() || int(sb.Role) != i {
		t.Errorf("Role = %#x; want slot %d (each member's own view)", sb.Role, i)
	}
}

// TestBitmap reads the c fixtures' bitmaps and compares them with the
// mdadm --examine-bitmap readings taken in the guest on the block devices,
// with mdadm --examine-bitmap run now on the extracted bitmap bytes, and with
// truth.json's list of chunks written after the split.
func TestBitmap(t *testing.T) {
	for _, fx := range fixtureDirs {
		if !strings.Contains(fx.dir, "bitmap") {
			continue
		}
		tr := fixture.LoadTruth(t, fx.dir)
		for i, m := range []string{"m0", "m1"} {
			t.Run(strings.TrimPrefix(fx.dir, "md/")+"/"+m, func(t *testing.T) {
				t.Parallel()
				img := fixture.Image(t, fx.dir, m)
				sb := scanOne(t, img, fx.v)
				b, err := ReadBitmap(bytes.NewReader(img), int64(len(img)), sb)
				if err != nil {
					t.Fatalf("ReadBitmap: %v", err)
				}
				// The guest read the bitmap through the superblock, so it
				// prints the uuid the way the superblock's format does.
				guest := parseReport(string(readFixtureFile(t, fx.dir, "bitmap-guest-"+m+".txt")))
				compareBitmap(t, b, guest, sb.UUIDString())
				// As an external bitmap file mdadm prints the raw bytes.
				file := runMdadm(t, "--examine-bitmap", writeTemp(t, "bitmap", b.Raw))
				compareBitmap(t, b, file, uuidBytes(b.UUID))

				if tr.Bitmap.ChunkBytes != b.ChunkSize {
					t.Errorf("ChunkSize = %d; truth.json says %d", b.ChunkSize, tr.Bitmap.ChunkBytes)
				}
				var dirty []int64
				for k := range b.NBits {
					if b.Dirty(k) {
						dirty = append(dirty, k)
					}
				}
				if tr.Members[i].Stale {
					// The stale member failed before lazy clearing ran:
					// everything is dirty, and it says nothing about the split.
					if int64(len(dirty)) != b.NBits {
						t.Errorf("stale member: %d of %d bits dirty; want all", len(dirty), b.NBits)
					}
					return
				}
				if !slices.Equal(dirty, tr.Bitmap.Chunks) {
					t.Errorf("dirty chunks = %v; truth.json chunks_written_after_split %v", dirty, tr.Bitmap.Chunks)
				}
				for _, w := range tr.WrittenAfterSplit {
					if !b.Covers(w.Offset, w.Length) {
						t.Errorf("Covers(%#x, %#x) = false for a range written after the split", w.Offset, w.Length)
					}
				}
				if b.Covers(b.ChunkSize, 1) || b.Covers(0, b.ChunkSize+1) {
					t.Error("Covers is true for a range that includes clean chunk 1")
				}
				if b.Covers(b.NBits*b.ChunkSize-1, 2) {
					t.Error("Covers is true for a range past the last chunk")
				}
			})
		}
	}
}

func compareBitmap(t *testing.T, b *Bitmap, rep report, uuid string) {
	t.Helper()
	check(t, "Magic", fmt.Sprintf("%08x", uint32(BitmapMagic)), rep.get(t, "Magic"))
	check(t, "Version", b.Version, rep.get(t, "Version"))
	check(t, "UUID", uuid, rep.get(t, "UUID"))
	check(t, "Events", b.Events, rep.get(t, "Events"))
	check(t, "EventsCleared", b.EventsCleared, rep.get(t, "Events Cleared"))
	state := "OK"
	if b.State&BitmapStale != 0 {
		state = "Out of date"
	}
	check(t, "State", state, rep.get(t, "State"))
	var n int64
	var unit string
	if _, err := fmt.Sscanf(rep.get(t, "Chunksize"), "%d %s", &n, &unit); err != nil {
		t.Fatalf("Chunksize line: %v", err)
	}
	mult := map[string]int64{"B": 1, "KB": 1 << 10, "MB": 1 << 20, "GB": 1 << 30}[unit]
	check(t, "ChunkSize", b.ChunkSize, n*mult)
	check(t, "DaemonSleep", fmt.Sprintf("%ds flush period", b.DaemonSleep), rep.get(t, "Daemon"))
	if b.WriteBehind == 0 {
		check(t, "WriteBehind", "Normal", rep.get(t, "Write Mode"))
	}
	check(t, "SyncSize (KiB)", b.SyncSize/1024, firstField(rep.get(t, "Sync Size")))
	var bits, dirty int64
	if _, err := fmt.Sscanf(rep.get(t, "Bitmap"), "%d bits (chunks), %d dirty", &bits, &dirty); err != nil {
		t.Fatalf("Bitmap line: %v", err)
	}
	check(t, "NBits", b.NBits, bits)
	check(t, "DirtyCount", b.DirtyCount(), dirty)
}
