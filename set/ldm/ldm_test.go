package ldm

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"
)

// ldmtool's JSON objects (libldm 0.2.5).
type (
	toolDiskGroup struct {
		Name    string   `json:"name"`
		GUID    string   `json:"guid"`
		Volumes []string `json:"volumes"`
		Disks   []string `json:"disks"`
	}
	toolVolume struct {
		Name       string   `json:"name"`
		GUID       string   `json:"guid"`
		Type       string   `json:"type"`
		Size       uint64   `json:"size"`
		ChunkSize  uint64   `json:"chunk-size"`
		Hint       string   `json:"hint"`
		Partitions []string `json:"partitions"`
	}
	toolPartition struct {
		Name  string `json:"name"`
		Start uint64 `json:"start"`
		Size  uint64 `json:"size"`
		Disk  string `json:"disk"`
	}
	toolDisk struct {
		Name          string `json:"name"`
		GUID          string `json:"guid"`
		Present       bool   `json:"present"`
		Device        string `json:"device"`
		DataStart     uint64 `json:"data-start"`
		DataSize      uint64 `json:"data-size"`
		MetadataStart uint64 `json:"metadata-start"`
		MetadataSize  uint64 `json:"metadata-size"`
	}
)

func check(t *testing.T, what string, got, want any) {
	t.Helper()
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("%s = %v; ldmtool says %v", what, got, want)
	}
}

// openImages reads every extracted image with Read through its file.
func openImages(t *testing.T, paths map[string]string) (map[string]*Database, map[string]*PrivHead) {
	t.Helper()
	dbs, phs := map[string]*Database{}, map[string]*PrivHead{}
	for _, name := range imageNames {
		f, err := os.Open(paths[name])
		if err != nil {
			t.Fatal(err)
		}
		st, err := f.Stat()
		if err != nil {
			t.Fatal(err)
		}
		db, ph, err := Read(f, st.Size())
		f.Close()
		if err != nil {
			t.Fatalf("%s: Read: %v", name, err)
		}
		dbs[name], phs[name] = db, ph
	}
	return dbs, phs
}

// TestLdmtool decodes all nine real 2008 R2 disks and compares the disk
// group, every volume, partition and disk with what ldmtool, run on the
// same files now, prints.
func TestLdmtool(t *testing.T) {
	dir := t.TempDir()
	paths := extract(t, dir)
	var devices []string
	for _, n := range imageNames {
		devices = append(devices, paths[n])
	}
	dbs, phs := openImages(t, paths)
	db := dbs[imageNames[0]]

	var groups []string
	ldmtool(t, devices, &groups, "scan")
	check(t, "disk groups", []string{db.DiskGroup.GUID}, groups)

	var dg toolDiskGroup
	ldmtool(t, devices, &dg, "show", "diskgroup", db.DiskGroup.GUID)
	check(t, "DiskGroup.Name", db.DiskGroup.Name, dg.Name)
	check(t, "DiskGroup.GUID", db.DiskGroup.GUID, dg.GUID)
	var vols, disks []string
	for _, v := range db.Volumes {
		vols = append(vols, v.Name)
	}
	for _, d := range db.Disks {
		disks = append(disks, d.Name)
	}
	check(t, "Volumes", vols, dg.Volumes)
	check(t, "Disks", disks, dg.Disks)

	// Every disk's copy of the database is the same, and its PRIVHEAD
	// names the same group.
	for _, name := range imageNames {
		o, ph := dbs[name], phs[name]
		check(t, name+" PRIVHEAD.DiskGroupGUID", ph.DiskGroupGUID, dg.GUID)
		check(t, name+" PRIVHEAD.DiskGroupName", ph.DiskGroupName, dg.Name)
		check(t, name+" VMDB.DiskGroup", o.VMDB.DiskGroup, dg.Name)
		if o.CommittedSeq != db.CommittedSeq || o.Lags(db) || db.Lags(o) {
			t.Errorf("%s: committed sequence %d; %s has %d", name, o.CommittedSeq, imageNames[0], db.CommittedSeq)
		}
		if len(o.Volumes) != len(db.Volumes) || len(o.Partitions) != len(db.Partitions) || len(o.Disks) != len(db.Disks) {
			t.Errorf("%s: %d volumes, %d partitions, %d disks; want the same as %s", name, len(o.Volumes), len(o.Partitions), len(o.Disks), imageNames[0])
		}
	}

	for _, v := range db.Volumes {
		t.Run("volume/"+v.Name, func(t *testing.T) {
			var tv toolVolume
			ldmtool(t, devices, &tv, "show", "volume", dg.GUID, v.Name)
			check(t, "Name", v.Name, tv.Name)
			check(t, "GUID", v.GUID, tv.GUID)
			check(t, "Kind", v.Kind, tv.Type)
			check(t, "Size", v.Size, tv.Size)
			check(t, "DriveHint", v.DriveHint, tv.Hint)
			// libldm keeps the stripe size of the volume's last component.
			check(t, "StripeSize", v.Plexes[len(v.Plexes)-1].Component.StripeSize, tv.ChunkSize)
			var parts []string
			for _, p := range v.Plexes {
				for _, e := range p.Extents {
					parts = append(parts, e.Partition.Name)
				}
			}
			check(t, "partitions", parts, tv.Partitions)
			if v.State != "ACTIVE" {
				t.Errorf("State = %q; want ACTIVE in a healthy group", v.State)
			}
		})
	}
	for _, p := range db.Partitions {
		t.Run("partition/"+p.Name, func(t *testing.T) {
			var tp toolPartition
			ldmtool(t, devices, &tp, "show", "partition", dg.GUID, p.Name)
			check(t, "Name", p.Name, tp.Name)
			check(t, "Start", p.Start, tp.Start)
			check(t, "Size", p.Size, tp.Size)
			d := db.Disks[slices.IndexFunc(db.Disks, func(d Disk) bool { return d.ID == p.DiskID })]
			check(t, "disk", d.Name, tp.Disk)
		})
	}
	for _, d := range db.Disks {
		t.Run("disk/"+d.Name, func(t *testing.T) {
			var td toolDisk
			ldmtool(t, devices, &td, "show", "disk", dg.GUID, d.Name)
			check(t, "Name", d.Name, td.Name)
			check(t, "GUID", d.GUID, td.GUID)
			if !td.Present {
				t.Fatalf("ldmtool says %s is not present", d.Name)
			}
			name := filepath.Base(td.Device)
			ph, o := phs[name], dbs[name]
			if ph == nil {
				t.Fatalf("ldmtool device %q is not one of the images", td.Device)
			}
			check(t, "PRIVHEAD.DiskGUID", ph.DiskGUID, td.GUID)
			check(t, "ThisDisk", o.ThisDisk.Name, td.Name)
			check(t, "LogicalDiskStart", ph.LogicalDiskStart, td.DataStart)
			check(t, "LogicalDiskSize", ph.LogicalDiskSize, td.DataSize)
			check(t, "ConfigStart", ph.ConfigStart, td.MetadataStart)
			check(t, "ConfigSize", ph.ConfigSize, td.MetadataSize)
		})
	}
}

// TestMirrorLayout maps the mirrored volume's two plexes onto the MBR disk
// and the GPT disk, where they sit at different offsets, and checks the
// offsets against ldmtool and the data: both halves hold the same NTFS
// volume.
func TestMirrorLayout(t *testing.T) {
	dir := t.TempDir()
	paths := extract(t, dir)
	pair := []string{paths[mirroredMBR], paths[mirroredGPT]}
	imgs := map[string][]byte{}
	heads := map[string]*PrivHead{}
	var dbs []*Database
	for _, name := range []string{mirroredMBR, mirroredGPT} {
		b, err := os.ReadFile(paths[name])
		if err != nil {
			t.Fatal(err)
		}
		db, ph := readImage(t, b)
		imgs[ph.DiskGUID], heads[ph.DiskGUID] = b, ph
		dbs = append(dbs, db)
	}
	if s := heads[dbs[0].ThisDisk.GUID].Scheme; s != SchemeMBR {
		t.Errorf("%s: Scheme %v; want mbr", mirroredMBR, s)
	}
	if s := heads[dbs[1].ThisDisk.GUID].Scheme; s != SchemeGPT {
		t.Errorf("%s: Scheme %v; want gpt", mirroredGPT, s)
	}

	// ldmtool run on the pair alone: the other seven disks are absent.
	var groups []string
	ldmtool(t, pair, &groups, "scan")
	var dg toolDiskGroup
	ldmtool(t, pair, &dg, "show", "diskgroup", groups[0])
	var mirrors []*Volume
	for i := range dbs[0].Volumes {
		if dbs[0].Volumes[i].Kind == KindMirror {
			mirrors = append(mirrors, &dbs[0].Volumes[i])
		}
	}
	if len(mirrors) != 1 {
		t.Fatalf("%d mirrored volumes; want 1", len(mirrors))
	}
	v := mirrors[0]
	var tv toolVolume
	ldmtool(t, pair, &tv, "show", "volume", dg.GUID, v.Name)
	check(t, "Kind", v.Kind, tv.Type)
	if len(v.Plexes) != 2 {
		t.Fatalf("%s has %d plexes; want 2", v.Name, len(v.Plexes))
	}
	var halves [][]byte
	var offsets []int64
	for i, p := range v.Plexes {
		if len(p.Extents) != 1 {
			t.Fatalf("plex %s has %d extents; want 1", p.Component.Name, len(p.Extents))
		}
		e := p.Extents[0]
		if p.Component.State != "ACTIVE" || p.Component.Type != CompSpanned {
			t.Errorf("plex %s: state %q, type %d; want ACTIVE, 2", p.Component.Name, p.Component.State, p.Component.Type)
		}
		var tp toolPartition
		ldmtool(t, pair, &tp, "show", "partition", dg.GUID, tv.Partitions[i])
		var td toolDisk
		ldmtool(t, pair, &td, "show", "disk", dg.GUID, tp.Disk)
		check(t, "extent partition", e.Partition.Name, tp.Name)
		check(t, "extent disk", e.Disk.Name, tp.Disk)
		check(t, "extent disk GUID", e.Disk.GUID, td.GUID)
		ph := heads[e.Disk.GUID]
		if ph == nil {
			t.Fatalf("plex %s is on disk %s, not one of the pair", p.Component.Name, e.Disk.Name)
		}
		off, err := e.ByteOffset(ph)
		if err != nil {
			t.Fatal(err)
		}
		want := int64(td.DataStart+tp.Start) * SectorSize
		if off != want || e.Length() != int64(tp.Size)*SectorSize || e.Length() != int64(v.Size)*SectorSize {
			t.Errorf("plex %s: %d bytes at byte %#x; ldmtool: %d sectors at sector %d+%d", p.Component.Name, e.Length(), off, tp.Size, td.DataStart, tp.Start)
		}
		img := imgs[e.Disk.GUID]
		half := img[off : off+e.Length()]
		if string(half[3:11]) != "NTFS    " {
			t.Errorf("plex %s: no NTFS boot sector at byte %#x", p.Component.Name, off)
		}
		halves = append(halves, half)
		offsets = append(offsets, off)
		// An extent belongs to one disk only.
		for g, o := range heads {
			if g != e.Disk.GUID {
				if _, err := e.ByteOffset(o); err == nil {
					t.Errorf("ByteOffset on the other disk's PRIVHEAD succeeded")
				}
			}
		}
	}
	if offsets[0] == offsets[1] {
		t.Errorf("both plexes at byte %#x; the fixture has them at different offsets", offsets[0])
	}
	if !bytes.Equal(halves[0], halves[1]) {
		t.Errorf("the two halves of the healthy mirror differ")
	}
	t.Logf("%s: plex %s at byte %#x of %s, plex %s at byte %#x of %s, %d bytes each", v.Name,
		v.Plexes[0].Component.Name, offsets[0], mirroredMBR, v.Plexes[1].Component.Name, offsets[1], mirroredGPT, len(halves[0]))
}

// TestHeaders checks the decoded header fields that ldmtool does not show
// against values read from the images by hand (xxd; the FILETIMEs
// converted with Python's datetime), and the relations between the copies.
func TestHeaders(t *testing.T) {
	for _, tt := range []struct {
		name                  string
		scheme                Scheme
		phOff                 int64
		seq                   uint32
		backups               []int64
		dataStart, dataSize   uint64
		configStart           uint64
		diskGUID, diskName    string
		diskSignature         uint32
		timestamp, lastAccess string
	}{
		{mirroredMBR, SchemeMBR, 6 * 512, 11996, []int64{(100352 + 1856) * 512, (100352 + 2047) * 512}, 63, 100289, 100352,
			"06495aa3-fbfd-11e1-8cf9-52540061f5db", "Disk5", 0x09d96102, "2012-09-11T12:59:58", "2012-09-11T13:02:45"},
		{mirroredGPT, SchemeGPT, 2081 * 512, 11972, []int64{(34 + 1856) * 512}, 65570, 36797, 34,
			"06495aa7-fbfd-11e1-8cf9-52540061f5db", "Disk6", 0x09d96102, "2012-09-11T13:00:01", "2012-09-11T13:02:45"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			db, ph := readImage(t, loadImage(t, tt.name))
			check := func(what string, got, want any) {
				t.Helper()
				if fmt.Sprint(got) != fmt.Sprint(want) {
					t.Errorf("%s = %v; want %v", what, got, want)
				}
			}
			check("Scheme", ph.Scheme, tt.scheme)
			check("Offset", ph.Offset, tt.phOff)
			check("Sequence", ph.Sequence, tt.seq)
			check("Version", fmt.Sprintf("%d.%d", ph.VersionMajor, ph.VersionMinor), "2.12")
			check("DiskGUID", ph.DiskGUID, tt.diskGUID)
			check("HostGUID", ph.HostGUID, "1b77da20-c717-11d0-a5be-00a0c91db73c")
			check("DiskGroupGUID", ph.DiskGroupGUID, "06495a84-fbfd-11e1-8cf9-52540061f5db")
			check("DiskGroupName", ph.DiskGroupName, "WIN-ERRDJSBDAVF-Dg0")
			check("LogicalDisk", [2]uint64{ph.LogicalDiskStart, ph.LogicalDiskSize}, [2]uint64{tt.dataStart, tt.dataSize})
			check("Config", [2]uint64{ph.ConfigStart, ph.ConfigSize}, [2]uint64{tt.configStart, 2048})
			check("TOCSectors", ph.TOCSectors, [2]uint64{2, 2045})
			check("BackupSectors", ph.BackupSectors, [2]uint64{2047, 1856})
			check("areas", [4]uint64{uint64(ph.NumConfigs), uint64(ph.NumLogs), ph.ConfigAreaSize, ph.LogAreaSize}, [4]uint64{1, 1, 1481, 224})
			check("DiskSignature", ph.DiskSignature, tt.diskSignature)
			check("Timestamp", ph.Timestamp.Truncate(time.Second).Format("2006-01-02T15:04:05"), tt.timestamp)
			check("Missing", ph.Missing, 0)
			check("GPTBackup", ph.GPTBackup, false)
			var offs []int64
			for _, c := range ph.Backups {
				offs = append(offs, c.Offset)
				if c.Err != nil {
					t.Errorf("backup PRIVHEAD at %#x: %v", c.Offset, c.Err)
					continue
				}
				if d := ph.Differences(c.Head); d != nil {
					t.Errorf("backup PRIVHEAD at %#x differs: %v", c.Offset, d)
				}
				if c.Head.Sequence != ph.Sequence {
					t.Errorf("backup PRIVHEAD at %#x: sequence %d; primary %d", c.Offset, c.Head.Sequence, ph.Sequence)
				}
			}
			check("backup offsets", offs, tt.backups)

			base := int64(ph.ConfigStart) * 512
			check("TOCBLOCK offsets", []int64{db.TOCBlocks[0].Offset, db.TOCBlocks[1].Offset}, []int64{base + 2*512, base + 2045*512})
			check("TOCErrors", len(db.TOCErrors), 0)
			toc := db.TOCBlocks[0]
			check("TOC seq", [2]uint32{toc.Seq1, toc.Seq2}, [2]uint32{0x8b6, 1})
			check("config area", toc.Config(), Bitmap{Name: "config", Start: 17, Size: 1481, Flags2: 0x0006000100000000})
			check("log area", toc.Log(), Bitmap{Name: "log", Start: 1498, Size: 224, Flags2: 0x0006000100000000})

			vm := db.VMDB
			check("VMDB.Offset", vm.Offset, base+17*512)
			check("VMDB slots", [3]uint32{vm.LastSeq, vm.VBLKSize, vm.FirstOffset}, [3]uint32{5924, 128, 512})
			check("VMDB.Slots", vm.Slots(), 5920)
			check("VMDB.Version", fmt.Sprintf("%d.%d", vm.VersionMajor, vm.VersionMinor), "4.10")
			check("VMDB.UpdateStatus", vm.UpdateStatus, 1)
			check("sequences", [2]uint64{db.CommittedSeq, db.PendingSeq}, [2]uint64{39, 39})
			check("Consistent", db.Consistent(), true)
			check("Committed", vm.Committed, Counts{5, 6, 12, 9})
			check("Pending", vm.Pending, Counts{5, 6, 12, 9})
			check("LastAccessed", vm.LastAccessed.Truncate(time.Second).Format("2006-01-02T15:04:05"), tt.lastAccess)
			check("records", len(db.Volumes)+len(db.Components)+len(db.Partitions)+len(db.Disks)+1+db.EmptySlots, vm.Slots())
			check("ThisDisk", db.ThisDisk.Name, tt.diskName)
			check("DiskGroup", [3]any{db.DiskGroup.ID, db.DiskGroup.Name, db.DiskGroup.Revision()}, [3]any{1, "WIN-ERRDJSBDAVF-Dg0", 3})
		})
	}
}
