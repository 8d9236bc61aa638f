package imsm

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"strings"
	"testing"

	"github.com/mirrorchk/mirrorchk/internal/fixture"
)

// TestExamineInGuest decodes every fixture image and compares every line
// that mdadm --examine printed for its block device inside the VM
// (examine-in-guest.txt; m0 was /dev/vda, m1 /dev/vdb there) with the
// decoded MPB. The guest's serials are the device names, so the device name
// is also the serial that binds the image to its disk entry ("This Slot"
// and the disk printed first).
func TestExamineInGuest(t *testing.T) {
	for _, dir := range fixtureDirs {
		b, err := os.ReadFile(fixture.Path(dir, "examine-in-guest.txt"))
		if err != nil {
			t.Fatal(err)
		}
		reps := parseExamine(string(b))
		devs := guestDevices(string(b))
		for _, member := range []string{"m0", "m1"} {
			t.Run(strings.TrimPrefix(dir, "md/md-imsm/")+"/"+member, func(t *testing.T) {
				dev := devs[member]
				rep := reps[dev]
				if dev == "" || rep == nil {
					t.Fatalf("examine-in-guest.txt has no section for %s (device %q)", member, dev)
				}
				img := fixture.Image(t, dir, member)
				m := readMPB(t, img)
				if m.Offset != anchor || !m.ChecksumOK() {
					t.Errorf("MPB at %#x, checksum ok %v", m.Offset, m.ChecksumOK())
				}
				this, slot, ok := m.Slot(dev)
				if !ok {
					t.Fatalf("Slot(%q): no entry", dev)
				}
				if rep.disks[0].index != this {
					t.Errorf("Slot(%q) = disk %d; mdadm printed Disk%02d as this disk", dev, this, rep.disks[0].index)
				}
				if len(rep.vols) > 0 && rep.vols[0].kv["This Slot"] != itoa(slot) {
					t.Errorf("Slot(%q) = slot %d; mdadm says This Slot %s", dev, slot, rep.vols[0].kv["This Slot"])
				}
				compareExamine(t, m, this, rep)
			})
		}
	}
}

func itoa(i int) string {
	if i < 0 {
		return "?"
	}
	return string(rune('0' + i))
}

// TestFreshness checks what the fixtures' MPBs say about which member is
// current, against truth.json.
func TestFreshness(t *testing.T) {
	a0, a1 := readMPB(t, fixture.Image(t, aClean, "m0")), readMPB(t, fixture.Image(t, aClean, "m1"))
	if !bytes.Equal(a0.Raw, a1.Raw) {
		t.Errorf("a-clean: the members' MPBs differ; mdadm writes one buffer to both")
	}
	for _, m := range []*MPB{a0, a1} {
		v := m.Volumes[0]
		if !v.Mirror() || v.Migrating() || v.Dirty != 0 || v.Maps[0].MapState != MapNormal || v.Maps[0].Failed() != -1 {
			t.Errorf("a-clean volume: %+v", v)
		}
	}

	tr := fixture.LoadTruth(t, bStale)
	if tr.StaleMember != "m1.img" {
		t.Fatalf("b-stale-member truth.json: stale member %q; the test expects m1.img", tr.StaleMember)
	}
	fresh, stale := readMPB(t, fixture.Image(t, bStale, "m0")), readMPB(t, fixture.Image(t, bStale, "m1"))
	if fresh.Generation <= stale.Generation {
		t.Errorf("generation: fresh %#x, stale %#x; want fresh higher", fresh.Generation, stale.Generation)
	}
	if fresh.FamilyID() != stale.FamilyID() {
		t.Errorf("families differ: %08x, %08x", fresh.FamilyID(), stale.FamilyID())
	}
	if a, err := Authority([]*MPB{stale, fresh}); err != nil || a != 1 {
		t.Errorf("Authority(stale, fresh) = %d, %v; want 1", a, err)
	}
	// The fresh MPB records the failure: disk 0 renamed and failed, its slot
	// out of sync, the map degraded with slot 0 failed.
	fv, fm := fresh.Volumes[0], fresh.Volumes[0].Maps[0]
	d0 := fresh.Disks[0]
	if !d0.Failed() || d0.Serial != FailedSerial("/dev/vdb") || fresh.Disks[1].Failed() {
		t.Errorf("fresh disks: %+v", fresh.Disks)
	}
	if fm.MapState != MapDegraded || fm.Failed() != 0 || !fm.Rebuilding(0) || fm.Rebuilding(1) || fm.DiskIndex(0) != 0 {
		t.Errorf("fresh map: %+v", fm)
	}
	if fv.Dirty != 0 {
		t.Errorf("fresh volume dirty %d; the array was stopped cleanly", fv.Dirty)
	}
	// The stale member's own MPB still shows a healthy, but dirty, mirror:
	// it was failed while the array was being written.
	sm := stale.Volumes[0].Maps[0]
	if sm.MapState != MapNormal || sm.Failed() != -1 || sm.Rebuilding(0) || sm.Rebuilding(1) || stale.Volumes[0].Dirty != VolDirty {
		t.Errorf("stale map: %+v, dirty %d", sm, stale.Volumes[0].Dirty)
	}
	for _, d := range stale.Disks {
		if d.Failed() || !d.Configured() {
			t.Errorf("stale disk %+v", d)
		}
	}
}

// TestDataRange checks the volume's data location against the data hashes
// in truth.json: the RAID-1 volume lies at pba_of_lba0 on each member and
// is Size bytes long.
func TestDataRange(t *testing.T) {
	for _, dir := range fixtureDirs {
		tr := fixture.LoadTruth(t, dir)
		for i, member := range []string{"m0", "m1"} {
			img := fixture.Image(t, dir, member)
			m := readMPB(t, img)
			off, n := m.Volumes[0].DataRange()
			if n != tr.ArrayBytes {
				t.Errorf("%s/%s: volume %d bytes; truth says %d", dir, member, n, tr.ArrayBytes)
			}
			sum := sha256.Sum256(img[off : off+n])
			if hex.EncodeToString(sum[:]) != tr.Members[i].DataSHA256 {
				t.Errorf("%s/%s: data at %#x+%d does not hash to truth's data_sha256", dir, member, off, n)
			}
		}
	}
}
