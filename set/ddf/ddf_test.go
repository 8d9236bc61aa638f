package ddf

import (
	"fmt"
	"strconv"
	"strings"
	"testing"

	"github.com/mirrorchk/mirrorchk/internal/fixture"
)

// TestExamine decodes every fixture image and compares the result with what
// mdadm --examine, run on the same image file now, prints.
func TestExamine(t *testing.T) {
	for _, dir := range fixtureDirs {
		for _, m := range []string{"m0", "m1"} {
			t.Run(strings.TrimPrefix(dir, "md/md-ddf/")+"/"+m, func(t *testing.T) {
				t.Parallel()
				img := fixture.Image(t, dir, m)
				d := readImage(t, img)
				compareExamine(t, d, runExamine(t, writeTemp(t, m+".img", img)))
				checkHealthy(t, d)
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

// stampLabel is mdadm's print_guid label for a GUID with a time stamp, in
// UTC ("Linux-MD 11/28/26 05:16:52").
func stampLabel(g GUID) string { return g.Text() + g.Stamp().Format(" 01/02/06 15:04:05") }

// compareExamine compares d with mdadm's --examine of the same image: every
// line mdadm prints for a container member.
func compareExamine(t *testing.T, d *DDF, e examine) {
	t.Helper()
	if d.Anchor == nil {
		t.Fatalf("no anchor (%v); mdadm read one", d.AnchorErr)
	}
	check(t, "Magic", fmt.Sprintf("%08x", d.Anchor.Magic), e.get(t, "Magic"))
	check(t, "Version", d.Anchor.Revision, e.get(t, "Version"))
	check(t, "Controller GUID", d.Controller.GUID, e.get(t, "Controller GUID"))
	check(t, "Controller GUID label", d.Controller.GUID.Text(), e.label["Controller GUID"])
	check(t, "Container GUID", d.Anchor.GUID, e.get(t, "Container GUID"))
	check(t, "Container GUID label", stampLabel(d.Anchor.GUID), e.label["Container GUID"])
	check(t, "Seq", fmt.Sprintf("%08x", d.Seq()), e.get(t, "Seq"))
	check(t, "Redundant hdr", map[bool]string{true: "yes", false: "no"}[d.Secondary != nil], e.get(t, "Redundant hdr"))
	check(t, "Virtual Disks", d.VirtPopulated, e.get(t, "Virtual Disks"))

	// Virtual disks, by entry number.
	vdKeys := 0
	for k := range e.kv {
		if strings.HasPrefix(k, "VD GUID[") {
			vdKeys++
		}
	}
	if vdKeys != len(d.VirtualDisks) {
		t.Errorf("%d virtual disks decoded; mdadm prints %d", len(d.VirtualDisks), vdKeys)
	}
	for _, v := range d.Volumes() {
		n := fmt.Sprintf("[%d]", v.VD.Index)
		check(t, "VD GUID"+n, v.VD.GUID, e.get(t, "VD GUID"+n))
		check(t, "VD GUID label"+n, stampLabel(v.VD.GUID), e.label["VD GUID"+n])
		check(t, "unit"+n, v.VD.Number, e.get(t, "unit"+n))
		check(t, "state"+n, v.VD.StateString(), e.get(t, "state"+n))
		check(t, "init state"+n, v.VD.InitString(), e.get(t, "init state"+n))
		check(t, "access"+n, v.VD.AccessString(), e.get(t, "access"+n))
		check(t, "Name"+n, v.VD.Name, e.get(t, "Name"+n))
		c := v.Config
		if c == nil {
			if _, ok := e.kv["Raid Devices"+n]; ok {
				t.Errorf("no config record decoded for VD %s; mdadm prints one", n)
			}
			continue
		}
		var devs []string
		for i, ref := range c.PhysRefs {
			if c.Slots[i] != i {
				t.Fatalf("slot table not dense: member %d at slot %d", i, c.Slots[i])
			}
			num := "--"
			if p := d.PhysDiskByRef(ref); p != nil {
				num = strconv.Itoa(p.Index)
			}
			devs = append(devs, fmt.Sprintf("%s@%dK", num, c.LBAOffsets[i]/2))
		}
		check(t, "Raid Devices"+n, fmt.Sprintf("%d (%s)", c.PrimaryElementCount, strings.Join(devs, " ")), e.get(t, "Raid Devices"+n))
		if cs, ok := e.kv["Chunk Size"+n]; ok != (c.StripeSize != 255) {
			t.Errorf("Chunk Size printed = %v; StripeSize %d", ok, c.StripeSize)
		} else if ok {
			check(t, "Chunk Size"+n, fmt.Sprintf("%d sectors", 1<<c.StripeSize), cs)
		}
		check(t, "Raid Level"+n, c.Level(), e.get(t, "Raid Level"+n))
		check(t, "Device Size"+n, c.Blocks/2, e.get(t, "Device Size"+n))
		check(t, "Array Size"+n, c.ArraySize/2, e.get(t, "Array Size"+n))
	}

	// Physical disks.
	check(t, "Physical Disks", d.PhysMax, e.get(t, "Physical Disks"))
	if len(e.pds) != len(d.PhysDisks) {
		t.Fatalf("%d physical disks decoded; mdadm lists %d:\n%s", len(d.PhysDisks), len(e.pds), e.text)
	}
	for i, p := range d.PhysDisks {
		row := e.pds[i]
		got := pdRow{strconv.Itoa(p.Index), fmt.Sprintf("%08x", p.RefNo), fmt.Sprintf("%dK", p.ConfigSize>>1), p.TypeString() + "/" + p.StateString()}
		check(t, "physical disk row "+row.number, got, row)
	}
	// An image file has no device number, so mdadm lists this disk (the
	// one the disk data record names) as "not in metadata".
	check(t, "this disk (not in metadata)", []string{fmt.Sprintf("%08x", d.ThisDisk.RefNo)}, e.unlisted)
}

// checkHealthy checks what holds for every kernel-written fixture: both
// copies usable, every CRC good, the primary in use.
func checkHealthy(t *testing.T, d *DDF) {
	t.Helper()
	if d.PrimaryErr != nil || d.SecondaryErr != nil || d.AnchorErr != nil {
		t.Errorf("copy problems in a kernel-written image: anchor %v, primary %v, secondary %v", d.AnchorErr, d.PrimaryErr, d.SecondaryErr)
	}
	if d.Active != d.Primary || d.Primary == nil || d.Secondary == nil {
		t.Errorf("Active %p, Primary %p, Secondary %p: want the primary in use (%s)", d.Active, d.Primary, d.Secondary, d.ActiveReason)
	}
	for _, h := range []*Header{d.Anchor, d.Primary, d.Secondary} {
		if h != nil && !h.CRCOK() {
			t.Errorf("%s header CRC %#x, computed %#x", h.TypeString(), h.CRC, h.ComputedCRC)
		}
	}
	if d.Anchor.Offset != fxAnchor || d.Primary.Offset != fxPrimary || d.Secondary.Offset != fxSecondary {
		t.Errorf("headers at %#x, %#x, %#x; want %#x, %#x, %#x", d.Anchor.Offset, d.Primary.Offset, d.Secondary.Offset, fxAnchor, fxPrimary, fxSecondary)
	}
	if d.Anchor.Seq != 0xffffffff || d.Anchor.OpenFlag != 0xff || d.Primary.OpenFlag != 0 || d.Secondary.OpenFlag != 0 || d.Primary.Seq != d.Secondary.Seq {
		t.Errorf("anchor seq %#x open %#x; primary seq %#x open %#x; secondary seq %#x open %#x", d.Anchor.Seq, d.Anchor.OpenFlag, d.Primary.Seq, d.Primary.OpenFlag, d.Secondary.Seq, d.Secondary.OpenFlag)
	}
	if d.Primary.Type != TypePrimary || d.Secondary.Type != TypeSecondary || d.Anchor.Type != TypeAnchor {
		t.Errorf("header types %d %d %d", d.Anchor.Type, d.Primary.Type, d.Secondary.Type)
	}
	if d.This() == nil {
		t.Errorf("this disk %08x has no physical disk entry", d.ThisDisk.RefNo)
	}
}

// TestTruth checks the fixtures' recorded truth: which member is stale, and
// that the metadata says so the way the issue expects (the fresh copy has
// the higher seq, its VD degraded and the stale disk failed or missing).
func TestTruth(t *testing.T) {
	for _, dir := range fixtureDirs {
		t.Run(strings.TrimPrefix(dir, "md/md-ddf/"), func(t *testing.T) {
			tr := fixture.LoadTruth(t, dir)
			var ds [2]*DDF
			for i, m := range []string{"m0", "m1"} {
				img := fixture.Image(t, dir, m)
				ds[i] = readImage(t, img)
				if int64(len(img)) != tr.MemberBytes || ds[i].Size != tr.MemberBytes {
					t.Errorf("%s: %d bytes; truth says %d", m, len(img), tr.MemberBytes)
				}
				if tr.Members[i].File != m+".img" {
					t.Fatalf("truth member %d is %s", i, tr.Members[i].File)
				}
			}
			if !SameContainer(ds[0], ds[1]) {
				t.Fatal("the two members carry different container GUIDs")
			}
			refs := []uint32{ds[0].ThisDisk.RefNo, ds[1].ThisDisk.RefNo}
			if refs[0] == refs[1] {
				t.Fatalf("both images claim refno %08x", refs[0])
			}
			// Each image describes one RAID-1 volume with both disks in it.
			for i, d := range ds {
				ms := d.Mirrors()
				if len(ms) != 1 || len(d.Volumes()) != 1 {
					t.Fatalf("m%d: %d mirrors of %d volumes; want 1 of 1", i, len(ms), len(d.Volumes()))
				}
				v := ms[0]
				if tr.Level != 1 || len(v.Members) != tr.RaidDisks {
					t.Errorf("m%d: %d members; truth: level %d, %d disks", i, len(v.Members), tr.Level, tr.RaidDisks)
				}
				if got := int64(v.Config.ArraySize) * 512; got != tr.ArrayBytes {
					t.Errorf("m%d: array %d bytes; truth %d", i, got, tr.ArrayBytes)
				}
				for _, mb := range v.Members {
					if int64(mb.Start) != tr.Members[0].DataOffsetSectors || int64(mb.Blocks)*512 != tr.ArrayBytes {
						t.Errorf("m%d: member %08x at sector %d, %d sectors; truth: data at %d, %d bytes", i, mb.RefNo, mb.Start, mb.Blocks, tr.Members[0].DataOffsetSectors, tr.ArrayBytes)
					}
					if mb.This != (mb.RefNo == refs[i]) || (mb.RefNo != refs[0] && mb.RefNo != refs[1]) {
						t.Errorf("m%d: member %08x (This %v) is not one of the images %08x", i, mb.RefNo, mb.This, refs)
					}
				}
			}

			stale := -1
			for i, m := range tr.Members {
				if m.Stale {
					stale = i
				}
			}
			if stale < 0 {
				if Fresher(ds[0], ds[1]) != 0 {
					t.Errorf("clean set: Fresher = %d; want equal seqs (%#x, %#x)", Fresher(ds[0], ds[1]), ds[0].Seq(), ds[1].Seq())
				}
				for i, d := range ds {
					v := d.Mirrors()[0]
					if v.VD.Condition() != VDOptimal || v.VD.Inconsistent() {
						t.Errorf("m%d: clean VD state %#x", i, v.VD.State)
					}
					for _, mb := range v.Members {
						if !mb.InSync() {
							t.Errorf("m%d: member %08x not in sync: %s", i, mb.RefNo, mb.Disk.StateString())
						}
					}
				}
				return
			}
			if tr.StaleMember != tr.Members[stale].File {
				t.Fatalf("truth: stale_member %q, member %d stale", tr.StaleMember, stale)
			}
			fresh := 1 - stale
			f, s := ds[fresh], ds[stale]
			if Fresher(f, s) != 1 || f.Seq() <= s.Seq() {
				t.Errorf("fresh m%d seq %#x, stale m%d seq %#x: Fresher = %d", fresh, f.Seq(), stale, s.Seq(), Fresher(f, s))
			}
			v := f.Mirrors()[0]
			if v.VD.Condition() != VDDegraded {
				t.Errorf("fresh copy's VD condition %d; want degraded", v.VD.Condition())
			}
			for _, mb := range v.Members {
				switch mb.RefNo {
				case refs[stale]:
					if mb.InSync() || !(mb.Disk.Failed() || mb.Disk.Missing()) {
						t.Errorf("fresh copy shows the stale disk %08x as %s", mb.RefNo, mb.Disk.StateString())
					}
				case refs[fresh]:
					if !mb.InSync() || !mb.This {
						t.Errorf("fresh copy shows itself as %s", mb.Disk.StateString())
					}
				}
			}
		})
	}
}
