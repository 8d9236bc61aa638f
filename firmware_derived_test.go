package main

// Derived IMSM and DDF cases: metadata states the kernel-written fixtures
// do not hold (a dirty volume, a rebuild in progress, a second virtual disk,
// a third physical disk, a Not Consistent virtual disk, bad checksums and
// CRCs), made in the test from the real fixtures by editing fields whose
// meaning ../shared/docs/md.md §6-7 and the set/imsm and set/ddf package
// docs give, and recomputing check_sum (imsm.Checksum) and the DDF CRCs
// (ddf.CRC). Every byte a case changes is listed in
// testdata/md/README-derived.md ("Derived cases"), and every case checks
// that its edits changed no byte outside the spans listed there
// (onlyChanged). Where host mdadm can read the result it must agree with
// the edit: IMSM through a read-only loop device (loopExamine), DDF from the
// image file.
//
// Offsets below are of the fixtures' layouts. IMSM: 16 MiB images, the MPB
// anchor sector at byte 0xfffc00 (size - 1024), struct offsets as in
// super-intel.c (imsm_super, imsm_disk 48 bytes from 0xd8, imsm_dev of
// volume 0 at 0x138, its imsm_vol at +0x50, map[0] at +0x20 of that).
// DDF: 48 MiB images, primary header at LBA 65536 (byte 0x2000000),
// secondary at LBA 32768 (0x1000000); sections relative to each header:
// phys +2 sectors, virt +130, config +162 (records of 7 sectors); struct
// offsets as in super-ddf.c.

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mirrorchk/mirrorchk/internal/fixture"
	"github.com/mirrorchk/mirrorchk/report"
	"github.com/mirrorchk/mirrorchk/set/ddf"
	"github.com/mirrorchk/mirrorchk/set/imsm"
)

// IMSM field offsets in the MPB (super-intel.c), and where the fixtures'
// MPB lies in the image.
const (
	mpbAnchor = 16<<20 - 1024 // anchor sector of the 16 MiB IMSM fixtures
	mpbExt    = mpbAnchor - 512

	mpbCheckSum   = 0x20 // imsm_super.check_sum
	mpbSize       = 0x24 // imsm_super.mpb_size
	mpbFamily     = 0x28 // imsm_super.family_num
	mpbGeneration = 0x2c // imsm_super.generation_num
	mpbDisk0      = 0xd8 // imsm_super.disk[0]
	mpbDisk1      = 0x108
	diskEntry     = 48                // sizeof(struct imsm_disk)
	diskStatusOff = 0x18              // imsm_disk.status
	mpbDev0       = 0x138             // imsm_dev of volume 0 (after 2 disks)
	mpbVol0       = mpbDev0 + 0x50    // imsm_dev.vol (0x188)
	volMigrUnitLo = mpbVol0 + 0x00    // imsm_vol.curr_migr_unit_lo (0x188)
	volMigrState  = mpbVol0 + 0x08    // imsm_vol.migr_state (0x190)
	volMigrType   = mpbVol0 + 0x09    // imsm_vol.migr_type (0x191)
	volDirty      = mpbVol0 + 0x0a    // imsm_vol.dirty (0x192)
	mpbMap0       = mpbVol0 + 0x20    // imsm_vol.map[0] (0x1a8)
	mapStateOff   = 0x0e              // imsm_map.map_state
	mapFailedOff  = 0x12              // imsm_map.failed_disk_num
	mapOrdOff     = 0x30              // imsm_map.disk_ord_tbl[]
	mapLen2       = mapOrdOff + 2*4   // sizeof_imsm_map with 2 members (56)
	mpbMap1       = mpbMap0 + mapLen2 // imsm_vol.map[1] while migrating (0x1e0)
	mpbSizeClean  = 0x1e0             // the fixtures' mpb_size: one map
	mpbSizeMigr   = mpbMap1 + mapLen2 // 0x218: the second map appended

	// rebuildUnits is the checkpoint of the derived rebuild: curr_migr_unit
	// 4. For a RAID-1 rebuild mdadm's blocks_per_migr_unit is
	// migr_strip_blocks_rebuild (128 KiB = 256 sectors, num_members %
	// num_domains == 0) times num_stripes_per_unit_rebuild (map[1]'s
	// num_domains, 2): 512 sectors per unit, so members are in sync below
	// 4 * 512 sectors = 1 MiB (update_recovery_start).
	rebuildUnits     = 4
	rebuildInSyncOff = rebuildUnits * 512 * 512
)

// imsmAt maps an MPB offset to its byte in a fixture image: the first 512
// bytes sit in the anchor sector, the rest (a 2-sector MPB) in the sector
// before it.
func imsmAt(off int64) int64 {
	if off < 512 {
		return mpbAnchor + off
	}
	return mpbExt + off - 512
}

// span is a run of bytes an edit may change, with the field it belongs to.
type span struct {
	off, n int64
	what   string
}

// mpbSpan is span for the MPB field at off (n bytes).
func mpbSpan(off, n int64, what string) span { return span{imsmAt(off), n, what} }

func readMPB(t *testing.T, path string) *imsm.MPB {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		t.Fatal(err)
	}
	m, err := imsm.Read(f, fi.Size())
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return m
}

// fixtureMPB reads the MPB of a fixture image and checks that its layout is
// the one the offset constants above (and the README) describe.
func fixtureMPB(t *testing.T, path string) *imsm.MPB {
	t.Helper()
	m := readMPB(t, path)
	if m.Offset != mpbAnchor || m.Size != mpbSizeClean || len(m.Disks) != 2 || m.Disks[0].Off != mpbDisk0 || m.Disks[1].Off != mpbDisk1 ||
		len(m.Volumes) != 1 || m.Volumes[0].Off != mpbDev0 || len(m.Volumes[0].Maps) != 1 || m.Volumes[0].Maps[0].Off != mpbMap0 {
		t.Fatalf("%s: MPB layout is not the one the derived cases edit: anchor %#x size %#x disks %+v volumes %+v", path, m.Offset, m.Size, m.Disks, m.Volumes)
	}
	return m
}

// writeMPB stores raw (mpb_size bytes) as mdadm's store_imsm_mpb does: the
// first sector at the anchor, the rest in the sectors just before it.
// Bytes of those sectors past mpb_size keep what the image holds.
func writeMPB(t *testing.T, path string, raw []byte) {
	t.Helper()
	if len(raw) > 1024 {
		t.Fatalf("MPB of %d bytes: the derived cases use at most 2 sectors", len(raw))
	}
	patchFile(t, path, mpbAnchor, raw[:min(512, len(raw))])
	if len(raw) > 512 {
		patchFile(t, path, mpbExt, raw[512:])
	}
}

// editMPB lets edit change (or extend) a copy of the image's MPB bytes,
// then recomputes check_sum with imsm.Checksum and stores the result.
// It returns the MPB as read back, checksum checked.
func editMPB(t *testing.T, path string, edit func(b []byte) []byte) *imsm.MPB {
	t.Helper()
	b := edit(bytes.Clone(fixtureMPB(t, path).Raw))
	// check_sum @0x20: the 32-bit sum of the mpb_size bytes' words less
	// the stored check_sum (imsm.Checksum subtracts whatever is stored).
	binary.LittleEndian.PutUint32(b[mpbCheckSum:], imsm.Checksum(b))
	writeMPB(t, path, b)
	m := readMPB(t, path)
	if !m.ChecksumOK() {
		t.Fatalf("%s: derived MPB checksum %#x, computed %#x", path, m.Checksum, m.ComputedChecksum)
	}
	return m
}

// onlyChanged fails unless every byte in which path differs from orig lies
// in one of the spans: the edits touched only the fields the README lists.
// It returns the number of bytes that differ.
func onlyChanged(t *testing.T, orig, path string, spans []span) int64 {
	t.Helper()
	a, err := os.Open(orig)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	b, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	const chunk = 1 << 20
	ba, bb := make([]byte, chunk), make([]byte, chunk)
	var changed int64
	var outside []string
	for off := int64(0); ; off += chunk {
		na, ea := io.ReadFull(a, ba)
		nb, eb := io.ReadFull(b, bb)
		if na != nb {
			t.Fatalf("%s and %s differ in size", orig, path)
		}
		for i := 0; i < na; i++ {
			if ba[i] == bb[i] {
				continue
			}
			changed++
			at := off + int64(i)
			in := false
			for _, s := range spans {
				if at >= s.off && at < s.off+s.n {
					in = true
					break
				}
			}
			if !in && len(outside) < 10 {
				outside = append(outside, fmt.Sprintf("%#x", at))
			}
		}
		if ea != nil || eb != nil {
			break
		}
	}
	if len(outside) > 0 {
		t.Errorf("%s: bytes changed outside the documented fields: %s", filepath.Base(path), strings.Join(outside, " "))
	}
	if changed == 0 {
		t.Errorf("%s: the derivation changed nothing", filepath.Base(path))
	}
	return changed
}

// pristine decompresses a fixture member once more, as the reference for
// onlyChanged.
func pristine(t *testing.T, dir, member string) string {
	t.Helper()
	return fixture.UnzstdTo(t, dir+"/"+member+".img.zst", t.TempDir())
}

// loopExamineErr is loopExamine for images host mdadm may refuse: it
// returns mdadm's output and exit error instead of failing the test.
func loopExamineErr(t *testing.T, path string) (string, error, bool) {
	t.Helper()
	mdadm := fixture.Tool(t, "mdadm", "mdadm")
	losetup := fixture.Tool(t, "losetup", "mount")
	if os.Geteuid() != 0 {
		t.Logf("not root: host mdadm check of %s through a loop device not run", filepath.Base(path))
		return "", nil, false
	}
	loopMu.Lock()
	defer loopMu.Unlock()
	b, err := exec.Command(losetup, "--find", "--show", "--read-only", path).CombinedOutput()
	if err != nil {
		t.Fatalf("losetup: %v: %s", err, b)
	}
	dev := strings.TrimSpace(string(b))
	defer exec.Command(losetup, "--detach", dev).Run()
	cmd := exec.Command(mdadm, "--examine", dev)
	cmd.Env = append(os.Environ(), "TZ=UTC", "IMSM_NO_PLATFORM=1", "IMSM_DEVNAME_AS_SERIAL=1")
	b, err = cmd.CombinedOutput()
	return string(b), err, true
}

// ddfExamine runs host mdadm --examine on a DDF image file.
func ddfExamine(t *testing.T, path string) (string, error) {
	t.Helper()
	cmd := exec.Command(fixture.Tool(t, "mdadm", "mdadm"), "--examine", path)
	cmd.Env = append(os.Environ(), "TZ=UTC")
	b, err := cmd.CombinedOutput()
	return string(b), err
}

// wantExamine checks that mdadm's output (columns squeezed) has every line
// fragment in want.
func wantExamine(t *testing.T, path, out string, want ...string) {
	t.Helper()
	sq := squeeze(out)
	for _, w := range want {
		if !strings.Contains(sq, w) {
			t.Errorf("%s: mdadm --examine lacks %q:\n%s", filepath.Base(path), w, out)
		}
	}
}

func problem(ps []report.Problem, code string) *report.Problem {
	for i := range ps {
		if ps[i].Code == code {
			return &ps[i]
		}
	}
	return nil
}

func memberState(s report.Set, path string) string {
	for _, m := range s.Members {
		if m.Path == path {
			return m.State
		}
	}
	return "(not a member)"
}

func authority(s report.Set) string {
	if s.Authority.Member == nil {
		return ""
	}
	return *s.Authority.Member
}

// TestDerivedIMSMDirty: case 1. The clean pair with the volume's dirty bit
// set in both MPBs, generation_num unchanged: the scan reports an unclean
// shutdown (info) and, the data being identical, a consistent set; host
// mdadm reads "Dirty State : dirty". A difference written into m1 is then
// excused (md would resync either way): authority, no split brain.
func TestDerivedIMSMDirty(t *testing.T) {
	dir := "md/md-imsm/a-clean"
	p := members(t, dir)
	ref := pristine(t, dir, "m0")
	for _, m := range p {
		got := editMPB(t, m, func(b []byte) []byte {
			// imsm_vol.dirty @0x192 (volume 0): 0 -> 1 (RAIDVOL_DIRTY), as
			// imsm_set_array_state writes it while the array is active.
			b[volDirty] |= imsm.VolDirty
			return b
		})
		if v := got.Volumes[0]; v.Dirty != imsm.VolDirty || got.Generation != 0x13 {
			t.Fatalf("%s: dirty %d generation %#x", m, v.Dirty, got.Generation)
		}
		onlyChanged(t, ref, m, []span{
			mpbSpan(mpbCheckSum, 4, "check_sum"),
			mpbSpan(volDirty, 1, "imsm_vol.dirty"),
		})
		if ex, ok := loopExamine(t, m); ok {
			wantExamine(t, m, ex, "Dirty State : dirty", "Generation : 00000013", "Map State : normal", "correct")
		}
	}

	code, rep := scanJSON(t, "--hash", "none", p[0], p[1])
	s := rep.Sets[0]
	pr := problem(s.Problems, "unclean-shutdown")
	if code != exitOK || s.Verdict != report.VerdictConsistent || pr == nil || pr.Severity != report.SeverityInfo {
		t.Fatalf("exit %d verdict %q problems %+v, want 0, consistent, unclean-shutdown (info)", code, s.Verdict, s.Problems)
	}
	if authority(s) == "" {
		t.Errorf("no authority for identical members")
	}

	// In flight at the crash: 3 MiB into the volume on m1 only.
	patchFile(t, p[1], 3<<20, []byte("written by one member before the crash"))
	code, rep = scanJSON(t, "--hash", "none", p[0], p[1])
	s = rep.Sets[0]
	if code != exitProblems || s.Verdict != report.VerdictDiverged || authority(s) == "" || hasCode(s.Problems, "split-brain") {
		t.Fatalf("dirty volume, one difference: exit %d verdict %q authority %q problems %+v", code, s.Verdict, authority(s), s.Problems)
	}
	if pr := problem(s.Problems, "data-differs"); pr == nil || pr.Severity != report.SeverityInfo {
		t.Errorf("data-differs on a dirty volume should be info: %+v", s.Problems)
	}
}

// deriveRebuild turns the fresh MPB of md-imsm/b-stale-member (generation
// 0x12: disk 0 "/dev/vdb:0" failed, map[0] degraded with slot 0 out of
// sync) into the MPB mdadm writes once it rebuilds slot 0 onto the re-added
// drive (serial "/dev/vdb"), checkpoint rebuildUnits. own is the stale
// member's MPB, whose disk entry 0 is that drive's own entry. The steps are
// those of mdadm's apply_update_activate_spare (super-intel.c): the
// re-added drive is a pristine spare (its serial no longer matches the
// renamed entry) and gets index num_disks = 2, CONFIGURED_DISK; migrate()
// copies map[0] to map[1] and sets migr_state 1, migr_type MIGR_REBUILD,
// curr_migr_unit 0 and map[0].map_state to the target state (NORMAL);
// map[0] slot 0 gets the new index, map[1] slot 0 the new index with
// IMSM_ORD_REBUILD; family_num += a random number; the victim (index 0, in
// no map[0] any more) is deleted by imsm_delete, which shifts the indexes
// above it down by one in the disk table and both maps.
func deriveRebuild(fresh, own []byte) []byte {
	le := binary.LittleEndian
	b := make([]byte, mpbSizeMigr)
	copy(b, fresh[:mpbSizeClean])
	// mpb_size @0x24: 0x1e0 -> 0x218, one imsm_map (0x30 + 2 ord entries
	// = 56 bytes) longer: the MPB now takes 2 sectors.
	le.PutUint32(b[mpbSize:], mpbSizeMigr)
	// family_num @0x28: += super->random (a random 32-bit number chosen by
	// mdmon; the derivation takes 1). orig_family_num @0x40 is unchanged,
	// and it is what ties members to the container.
	le.PutUint32(b[mpbFamily:], le.Uint32(b[mpbFamily:])+1)
	// generation_num @0x2c: 0x12 -> 0x14: the write that started the
	// rebuild (checkpoint 0) and the one that recorded checkpoint 4 (any
	// further checkpoint writes would only raise it).
	le.PutUint32(b[mpbGeneration:], 0x14)
	// disk[0] @0xd8 (48 bytes): the victim "/dev/vdb:0" is deleted, so
	// "/dev/vda" (index 1) moves down to index 0: entry 1's bytes.
	copy(b[mpbDisk0:mpbDisk0+diskEntry], fresh[mpbDisk1:mpbDisk1+diskEntry])
	// disk[1] @0x108 (48 bytes): the re-added drive, index 2 - 1 after the
	// shift: its own entry as it was written when the volume was created
	// (serial "/dev/vdb", total_blocks 0x8000, scsi_id 0), taken from the
	// stale member's disk[0], with status CONFIGURED_DISK (0x02, SPARE_DISK
	// cleared on activation).
	copy(b[mpbDisk1:mpbDisk1+diskEntry], own[mpbDisk0:mpbDisk0+diskEntry])
	le.PutUint32(b[mpbDisk1+diskStatusOff:], imsm.DiskConfigured)
	// imsm_vol: curr_migr_unit_lo @0x188 -> rebuildUnits, migr_state
	// @0x190 -> 1, migr_type @0x191 -> 1 (MIGR_REBUILD).
	le.PutUint32(b[volMigrUnitLo:], rebuildUnits)
	b[volMigrState] = 1
	b[volMigrType] = imsm.MigrRebuild
	// map[1] @0x1e0 (56 bytes): migrate()'s copy of map[0] as it was
	// (map_state DEGRADED, failed_disk_num 0, disk_ord_tbl {0|REBUILD, 1}),
	// disk_ord_tbl then {1|IMSM_ORD_REBUILD, 0}: slot 0 the new drive (2 -
	// 1) being rebuilt, slot 1 "/dev/vda" (1 - 1).
	copy(b[mpbMap1:mpbMap1+mapLen2], fresh[mpbMap0:mpbMap0+mapLen2])
	le.PutUint32(b[mpbMap1+mapOrdOff:], 1|imsm.IMSMOrdRebuild)
	le.PutUint32(b[mpbMap1+mapOrdOff+4:], 0)
	// map[0] @0x1a8: map_state @0x1b6 2 -> 0 (NORMAL, migrate's target
	// state: no other member failed); failed_disk_num @0x1ba stays 0 (it
	// is reset to 0xff only when the rebuild ends); disk_ord_tbl @0x1d8
	// {0|REBUILD, 1} -> {1, 0}, no IMSM_ORD_REBUILD in the target map.
	b[mpbMap0+mapStateOff] = imsm.MapNormal
	le.PutUint32(b[mpbMap0+mapOrdOff:], 1)
	le.PutUint32(b[mpbMap0+mapOrdOff+4:], 0)
	return b
}

// rebuildSpans are the bytes deriveRebuild may change.
var rebuildSpans = []span{
	mpbSpan(mpbCheckSum, 4, "check_sum"),
	mpbSpan(mpbSize, 4, "mpb_size"),
	mpbSpan(mpbFamily, 4, "family_num"),
	mpbSpan(mpbGeneration, 4, "generation_num"),
	mpbSpan(mpbDisk0, 2*diskEntry, "disk[0], disk[1]"),
	mpbSpan(volMigrUnitLo, 4, "curr_migr_unit_lo"),
	mpbSpan(volMigrState, 2, "migr_state, migr_type"),
	mpbSpan(mpbMap0+mapStateOff, 1, "map[0].map_state"),
	mpbSpan(mpbMap0+mapOrdOff, 8, "map[0].disk_ord_tbl"),
	mpbSpan(mpbMap1, 512-mpbMap1, "map[1], anchor part"),
	{mpbExt, mpbSizeMigr - 512, "map[1], extended sector part"},
}

// checkRebuildMPB checks the derived MPB as our reader and host mdadm read
// it.
func checkRebuildMPB(t *testing.T, path string) {
	t.Helper()
	m := readMPB(t, path)
	v := m.Volumes[0]
	if m.Size != mpbSizeMigr || m.Generation != 0x14 || !v.Migrating() || v.MigrationType() != imsm.MigrRebuild || v.CurrMigrUnit != rebuildUnits ||
		len(v.Maps) != 2 || v.Maps[0].MapState != imsm.MapNormal || v.Maps[1].MapState != imsm.MapDegraded ||
		v.Maps[0].Rebuilding(0) || !v.Maps[1].Rebuilding(0) || v.Maps[1].DiskIndex(0) != 1 || m.Disks[1].Serial != "/dev/vdb" || m.Disks[1].Failed() {
		t.Fatalf("%s: derived MPB reads back as size %#x gen %#x volume %+v disks %+v", path, m.Size, m.Generation, v, m.Disks)
	}
	if ex, ok := loopExamine(t, path); ok {
		wantExamine(t, path, ex,
			"Generation : 00000014", "MPB Sectors : 2", "correct",
			"Orig Family : 53dfe972", "Family : 53dfe973",
			"Slots : [UU] <-- [_U]", "Failed disk : 0",
			"Migrate State : rebuild", "Map State : normal <-- degraded",
			"Checkpoint : 4 (512)",
			"Disk00 Serial : /dev/vda", "Disk01 Serial : /dev/vdb")
		if strings.Contains(ex, "failed") {
			t.Errorf("%s: mdadm --examine shows a failed disk:\n%s", path, ex)
		}
	}
}

// TestDerivedIMSMRebuild: case 2, an interrupted migration: a rebuild of
// slot 0 in progress (checkpoint 4 units, 1 MiB), from b-stale-member.
//
// 2a: m0 imaged during the rebuild, m1 as it was before being re-added
// (its own generation-0x10 MPB, stale data): m1 is stale, m0 authoritative,
// the volume is reported rebuilding, and repair refuses (exit 4) because
// imsm.Synced does not rewrite a migrating volume.
//
// 2b: both images taken during the rebuild, as mdadm leaves them: both
// hold the same migrating MPB (write_super_imsm writes every member not
// failed, the rebuild target included), and m1 holds m0's data below the
// checkpoint. Identical MPBs do not say which image is the drive being
// rebuilt (that takes the drives' serials), so the scan must name no
// authority, in either input order, and report rebuilding-member.
func TestDerivedIMSMRebuild(t *testing.T) {
	dir := "md/md-imsm/b-stale-member"
	ref := pristine(t, dir, "m0")
	refStale := pristine(t, dir, "m1")
	stale := fixtureMPB(t, refStale).Raw

	t.Run("a-stale-member-during-rebuild", func(t *testing.T) {
		p := members(t, dir)
		editMPB(t, p[0], func(b []byte) []byte { return deriveRebuild(b, stale) })
		onlyChanged(t, ref, p[0], rebuildSpans)
		checkRebuildMPB(t, p[0])

		for _, order := range [][]string{{p[0], p[1]}, {p[1], p[0]}} {
			code, rep := scanJSON(t, append([]string{"--hash", "none"}, order...)...)
			s := rep.Sets[0]
			if code != exitProblems || s.Verdict != report.VerdictDiverged || authority(s) != p[0] {
				t.Fatalf("order %v: exit %d verdict %q authority %q, want 4, diverged, %s", order, code, s.Verdict, authority(s), p[0])
			}
			if st := memberState(s, p[1]); st != report.StateStale {
				t.Errorf("order %v: m1 state %q, want stale", order, st)
			}
			// The slot being rebuilt is marked in map[1] only (mdadm's
			// MAP_X); map[0] is the target state.
			if pr := problem(s.Problems, "rebuilding-member"); pr == nil || !strings.Contains(pr.Message, "rebuild") || !strings.Contains(pr.Message, `slot 0 (disk 1, "/dev/vdb")`) {
				t.Errorf("order %v: no rebuilding-member problem naming slot 0: %+v", order, s.Problems)
			}
		}
		// In input order m1 is bound (assumed) to entry 1, the drive being
		// rebuilt, and its evidence says so.
		_, rep := scanJSON(t, "--hash", "none", p[0], p[1])
		if ev := strings.Join(rep.Sets[0].Members[1].Evidence, "\n"); !strings.Contains(ev, "slot 0 out of sync (IMSM_ORD_REBUILD)") {
			t.Errorf("m1 evidence does not mention its out-of-sync slot:\n%s", ev)
		}

		// Issue 5 §5: a metadata update that cannot be proved exactly (the
		// MPB of a volume mid-migration) is not made: the data is repaired
		// and the report says so plainly, naming the migration.
		out := t.TempDir()
		code, stdout, stderr := mirrorchk(t, "repair", "--json", "--hash", "none", "--out", out, p[0], p[1])
		if code != exitRepaired {
			t.Fatalf("repair: exit %d stderr %q, want 1 (data repaired)", code, stderr)
		}
		rr, err := report.ReadJSON(strings.NewReader(stdout))
		if err != nil {
			t.Fatal(err)
		}
		for _, o := range rr.Sets[0].Repair.Outputs {
			note := strings.Join(o.MetadataChanges, ";")
			if !o.Verified || !strings.Contains(note, "only the data is repaired") || !strings.Contains(note, "migration") {
				t.Errorf("%s: verified %v, metadata note %q", o.Path, o.Verified, note)
			}
		}
	})

	t.Run("b-both-during-rebuild", func(t *testing.T) {
		p := members(t, dir)
		derived := deriveRebuild(fixtureMPB(t, p[0]).Raw, stale)
		binary.LittleEndian.PutUint32(derived[mpbCheckSum:], imsm.Checksum(derived))
		for _, m := range p {
			writeMPB(t, m, derived)
		}
		// Data: the rebuild has copied units 0..3 (sectors 0..2047 from
		// pba_of_lba0 0) from m0 to m1.
		f, err := os.Open(p[0])
		if err != nil {
			t.Fatal(err)
		}
		done := make([]byte, rebuildInSyncOff)
		_, err = f.ReadAt(done, 0)
		f.Close()
		if err != nil {
			t.Fatal(err)
		}
		patchFile(t, p[1], 0, done)
		onlyChanged(t, ref, p[0], rebuildSpans)
		// m1's own MPB differed from m0's also in imsm_vol.dirty (1: it
		// failed while the array was dirty) and map[0].failed_disk_num
		// (0xff); the derived MPB has m0's values there.
		onlyChanged(t, refStale, p[1], append([]span{
			{0, rebuildInSyncOff, "data below the checkpoint"},
			mpbSpan(volDirty, 1, "imsm_vol.dirty"),
			mpbSpan(mpbMap0+mapFailedOff, 1, "map[0].failed_disk_num"),
		}, rebuildSpans...))
		for _, m := range p {
			checkRebuildMPB(t, m)
		}

		for _, order := range [][]string{{p[0], p[1]}, {p[1], p[0]}} {
			code, rep := scanJSON(t, append([]string{"--hash", "none"}, order...)...)
			s := rep.Sets[0]
			if code != exitProblems || authority(s) != "" || s.Verdict == report.VerdictConsistent || s.Verdict == report.VerdictSplitBrain {
				t.Errorf("order %v: exit %d verdict %q authority %q: want 4, no authority, neither consistent nor split-brain", order, code, s.Verdict, authority(s))
			}
			if !hasCode(s.Problems, "rebuilding-member") || hasCode(s.Problems, "split-brain") {
				t.Errorf("order %v: problems %+v", order, s.Problems)
			}
			for _, m := range s.Members {
				if m.Authoritative || m.State == report.StateActive {
					t.Errorf("order %v: %s is %s (authoritative %v): the MPBs cannot say it is not the drive being rebuilt", order, m.Path, m.State, m.Authoritative)
				}
			}
			// Every difference lies above the checkpoint.
			for _, r := range s.Divergence.Ranges {
				if r.VolumeOffset < rebuildInSyncOff {
					t.Errorf("order %v: difference at %d, below the checkpoint", order, r.VolumeOffset)
				}
			}
		}
		code, _, stderr := mirrorchk(t, "repair", "--hash", "none", "--out", t.TempDir(), p[0], p[1])
		if code != exitProblems || !strings.Contains(stderr, "not repaired") {
			t.Errorf("repair: exit %d stderr %q, want 4", code, stderr)
		}
	})
}

// TestDerivedIMSMBadChecksum: case 5 (IMSM). One member's check_sum
// corrupted: that member is reported bad-checksum and not trusted, the other
// is authoritative, host mdadm refuses the MPB. Both corrupted: no current
// MPB, a clear problem, no authority. Never a panic.
func TestDerivedIMSMBadChecksum(t *testing.T) {
	dir := "md/md-imsm/a-clean"
	ref := pristine(t, dir, "m1")
	p := members(t, dir)
	// check_sum @0x20 of m1 (image byte 0xfffc20): 0xcb8d1fed -> 0xcb8d1fec.
	patchFile(t, p[1], imsmAt(mpbCheckSum), []byte{0xec})
	onlyChanged(t, ref, p[1], []span{mpbSpan(mpbCheckSum, 1, "check_sum")})
	if m := readMPB(t, p[1]); m.ChecksumOK() {
		t.Fatal("corrupted check_sum still matches")
	}
	if ex, err, ok := loopExamineErr(t, p[1]); ok && err == nil {
		t.Errorf("host mdadm accepted an MPB with a bad checksum:\n%s", ex)
	}

	code, rep := scanJSON(t, "--hash", "none", p[0], p[1])
	s := rep.Sets[0]
	pr := problem(s.Problems, "bad-checksum")
	if code != exitProblems || pr == nil || pr.Member != p[1] || authority(s) != p[0] {
		t.Fatalf("exit %d authority %q problems %+v, want 4, %s, bad-checksum on m1", code, authority(s), s.Problems, p[0])
	}
	if st := memberState(s, p[1]); st != report.StateUnknown {
		t.Errorf("m1 state %q, want unknown (not trusted)", st)
	}

	// Both MPBs bad: nothing is current.
	patchFile(t, p[0], imsmAt(mpbCheckSum), []byte{0xec})
	code, rep = scanJSON(t, "--hash", "none", p[0], p[1])
	if len(rep.Sets) != 1 {
		t.Fatalf("%d sets", len(rep.Sets))
	}
	s = rep.Sets[0]
	if code != exitProblems || authority(s) != "" || s.Verdict != report.VerdictUnknown || !hasCode(s.Problems, "bad-checksum") || !hasCode(s.Problems, "bad-metadata") {
		t.Errorf("both bad: exit %d verdict %q authority %q problems %+v", code, s.Verdict, authority(s), s.Problems)
	}
}

// DDF places in the fixtures (48 MiB images, both copies).
const (
	ddfPrimary   = 0x2000000 // primary header, LBA 65536
	ddfSecondary = 0x1000000 // secondary header, LBA 32768
	ddfPhys      = 2 * 512   // phys_section_offset 2 sectors
	ddfVirt      = 130 * 512 // virt_section_offset 130 sectors
	ddfConfig    = 162 * 512 // config_section_offset 162 sectors
	ddfRecLen    = 7 * 512   // config_record_len 7 sectors
	ddfCRC       = 4         // crc field of every structure
	ddfCount     = 8         // used_pdes (phys) / populated_vdes (virt)
	ddfEntries   = 64        // first phys_disk_entry / virtual_entry
	ddfEntry     = 64        // bytes per entry
	veState      = 32        // virtual_entry.state
)

// ddfSpans is the span at rel bytes past the start of each copy.
func ddfSpans(rel, n int64, what string) []span {
	return []span{{ddfPrimary + rel, n, "primary " + what}, {ddfSecondary + rel, n, "secondary " + what}}
}

func readDDF(t *testing.T, path string) *ddf.DDF {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		t.Fatal(err)
	}
	d, err := ddf.Read(f, fi.Size())
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return d
}

// ddfCopies returns the primary and secondary headers, checking that they
// sit where the README says.
func ddfCopies(t *testing.T, path string) []*ddf.Header {
	t.Helper()
	d := readDDF(t, path)
	if d.Primary == nil || d.Secondary == nil || d.Primary.Offset != ddfPrimary || d.Secondary.Offset != ddfSecondary {
		t.Fatalf("%s: DDF copies not at %#x and %#x", path, ddfPrimary, ddfSecondary)
	}
	for _, h := range []*ddf.Header{d.Primary, d.Secondary} {
		if int64(h.Sections[ddf.SecPhys].Offset)*512 != ddfPhys || int64(h.Sections[ddf.SecVirt].Offset)*512 != ddfVirt ||
			int64(h.Sections[ddf.SecConfig].Offset)*512 != ddfConfig || int64(h.ConfigRecordLen)*512 != ddfRecLen {
			t.Fatalf("%s: %s sections not where the README says: %+v", path, h.TypeString(), h.Sections)
		}
	}
	return []*ddf.Header{d.Primary, d.Secondary}
}

// editDDF lets edit change, in both copies of the image, the bytes from rel
// (relative to the copy's header) for n bytes, then recomputes that
// structure's CRC (field at byte 4) with ddf.CRC over those n bytes.
func editDDF(t *testing.T, path string, rel, n int64, edit func(b []byte)) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, h := range ddfCopies(t, path) {
		b := make([]byte, n)
		if _, err := f.ReadAt(b, h.Offset+rel); err != nil {
			t.Fatal(err)
		}
		edit(b)
		binary.BigEndian.PutUint32(b[ddfCRC:], ddf.CRC(b, ddfCRC))
		if _, err := f.WriteAt(b, h.Offset+rel); err != nil {
			t.Fatal(err)
		}
	}
}

func mustExamineDDF(t *testing.T, path string) string {
	t.Helper()
	out, err := ddfExamine(t, path)
	if err != nil {
		t.Fatalf("mdadm --examine %s: %v\n%s", path, err, out)
	}
	return out
}

// TestDerivedDDFSecondVD: case 3a. A second virtual disk, RAID-0 over the
// same two disks, added to a-clean: virtual_entry 1 and configuration
// record 1 (copied from the mirror's, with the fields that make it a
// RAID-0 changed), populated_vdes 2, CRCs. The mirror is still checked
// and consistent; the RAID-0 is listed as not-a-mirror with verdict
// unknown; mdadm reads both (it prints a record only when its CRC is good).
func TestDerivedDDFSecondVD(t *testing.T) {
	dir := "md/md-ddf/a-clean"
	p := members(t, dir)
	refs := []string{pristine(t, dir, "m0"), pristine(t, dir, "m1")}
	be := binary.BigEndian
	var vdGUID [24]byte
	for i, m := range p {
		ddfCopies(t, m)
		// virt section (32 sectors, CRC over all of it).
		editDDF(t, m, ddfVirt, 32*512, func(b []byte) {
			// populated_vdes @8: 1 -> 2 (a counter).
			be.PutUint16(b[ddfCount:], 2)
			// virtual_entry[1] @0x80 (64 bytes, was all 0xff): entry 0's
			// bytes, then:
			e0, e1 := b[ddfEntries:ddfEntries+ddfEntry], b[ddfEntries+ddfEntry:ddfEntries+2*ddfEntry]
			copy(e1, e0)
			// guid @0: entry 0's (Linux-MD, 0xdeadbeef, 0, time stamp) with
			// the random last word (bytes 20..23) 0xdd27b7bd -> 0xdd27b7be.
			be.PutUint32(e1[20:], be.Uint32(e1[20:])+1)
			copy(vdGUID[:], e1[:24])
			// unit @24: 126 -> 125 (the md minor it would be made as).
			be.PutUint16(e1[24:], 125)
			// pad0, guid_crc (mdadm derives it from the container GUID,
			// the same for every VD), type 0, state 0 (Optimal,
			// Consistent), init_state 2 (Fully Initialised, Read/Write),
			// pad1: as entry 0.
			// name @48 (16 bytes): "vol" -> "r0", NUL-padded.
			copy(e1[48:64], make([]byte, 16))
			copy(e1[48:], "r0")
		})
		// config record 1 (7 sectors after record 0, was all 0xff): record
		// 0's bytes, then:
		f, err := os.Open(m)
		if err != nil {
			t.Fatal(err)
		}
		rec0 := make([]byte, ddfRecLen)
		_, err = f.ReadAt(rec0, ddfPrimary+ddfConfig)
		f.Close()
		if err != nil {
			t.Fatal(err)
		}
		editDDF(t, m, ddfConfig+ddfRecLen, ddfRecLen, func(b []byte) {
			copy(b, rec0)
			// guid @8: the new VD's GUID.
			copy(b[8:32], vdGUID[:])
			// seqnum @36: 3 -> 1 (a new record's first).
			be.PutUint32(b[36:], 1)
			// chunk_shift @66: 0xff -> 7 (512 << 7 = 64 KiB chunks).
			b[66] = 7
			// prl @67: 0x01 (RAID1) -> 0x00 (RAID0); rlq @68 stays 0
			// (RAID0 simple), sec_elmnt_count 1, srl 0xff.
			b[67] = ddf.LevelRAID0
			// blocks @72 stays 0x2000 sectors per member; array_blocks
			// @80: 0x2000 -> 0x4000 (two members striped).
			be.PutUint64(b[80:], 0x4000)
			// phys_refnum[] @512 stays {1d880f16, 3e33c5c6}; lba_offset[]
			// @512+4*256: members 0 and 1: 0 -> 0x2000, the sectors after
			// the mirror's 0x2000 (inside config_size 0x8000).
			be.PutUint64(b[512+4*256:], 0x2000)
			be.PutUint64(b[512+4*256+8:], 0x2000)
		})
		spans := append(ddfSpans(ddfVirt+ddfCRC, 4, "virt crc"), ddfSpans(ddfVirt+ddfCount, 2, "populated_vdes")...)
		spans = append(spans, ddfSpans(ddfVirt+ddfEntries+ddfEntry, ddfEntry, "virtual_entry[1]")...)
		spans = append(spans, ddfSpans(ddfConfig+ddfRecLen, ddfRecLen, "config record 1")...)
		onlyChanged(t, refs[i], m, spans)

		ex := mustExamineDDF(t, m)
		wantExamine(t, m, ex, "Virtual Disks : 2", "Raid Level[0] : RAID1", "Name[0] : vol",
			"Name[1] : r0", "state[1] : Optimal, Consistent", "Raid Level[1] : RAID0",
			"Raid Devices[1] : 2 (1@4096K 0@4096K)", "Chunk Size[1] : 128 sectors",
			"Device Size[1] : 4096", "Array Size[1] : 8192")
	}

	code, rep := scanJSON(t, "--hash", "none", p[0], p[1])
	if code != exitProblems || len(rep.Sets) != 2 {
		t.Fatalf("exit %d, %d sets; want 4 and two sets", code, len(rep.Sets))
	}
	mirror, r0 := rep.Sets[0], rep.Sets[1]
	if mirror.Name != "vol" || mirror.Level != "raid1" || mirror.Verdict != report.VerdictConsistent || authority(mirror) == "" || len(mirror.Problems) != 0 {
		t.Errorf("mirror: name %q level %q verdict %q authority %q problems %+v", mirror.Name, mirror.Level, mirror.Verdict, authority(mirror), mirror.Problems)
	}
	if r0.Name != "r0" || r0.Verdict != report.VerdictUnknown || !hasCode(r0.Problems, "not-a-mirror") || authority(r0) != "" {
		t.Errorf("raid0: name %q level %q verdict %q authority %q problems %+v", r0.Name, r0.Level, r0.Verdict, authority(r0), r0.Problems)
	}
	if r0.ID == mirror.ID || r0.ID != ddf.GUID(vdGUID).String() {
		t.Errorf("raid0 id %q, mirror id %q", r0.ID, mirror.ID)
	}
}

// TestDerivedDDFThirdDisk: case 3b, a three-disk container. A third
// physical disk record, a global spare that failed and is missing, added
// to a-clean: phys_disk_entry 2, used_pdes 3, CRC. The mirror is checked
// as before (the spare is in no configuration record); mdadm lists three
// disks.
func TestDerivedDDFThirdDisk(t *testing.T) {
	dir := "md/md-ddf/a-clean"
	p := members(t, dir)
	refs := []string{pristine(t, dir, "m0"), pristine(t, dir, "m1")}
	be := binary.BigEndian
	for i, m := range p {
		ddfCopies(t, m)
		// phys section (128 sectors, CRC over all of it).
		editDDF(t, m, ddfPhys, 128*512, func(b []byte) {
			// used_pdes @8: 2 -> 3 (a counter).
			be.PutUint16(b[ddfCount:], 3)
			// phys_disk_entry[2] @0xc0 (64 bytes, was all 0xff): entry 1's
			// bytes, then:
			e1, e2 := b[ddfEntries+ddfEntry:ddfEntries+2*ddfEntry], b[ddfEntries+2*ddfEntry:ddfEntries+3*ddfEntry]
			copy(e2, e1)
			// guid @0: "Linux-MD20261128" kept, the 8 binary bytes
			// (16..23) -> "MDFXDSK3" (another disk's).
			copy(e2[16:24], "MDFXDSK3")
			// refnum @24: 0x1d880f16 -> 0x5eedd15c.
			be.PutUint32(e2[24:], 0x5eedd15c)
			// type @28: 0x0003 -> 0x0005 (Forced_PD_GUID | Global_Spare).
			be.PutUint16(e2[28:], ddf.PDForcedGUID|ddf.PDGlobalSpare)
			// state @30: 0x0001 -> 0x0042 (Failed | Missing).
			be.PutUint16(e2[30:], ddf.PDFailed|ddf.PDMissing)
			// config_size @32 (0x8000), path @40, pad: as entry 1.
		})
		spans := append(ddfSpans(ddfPhys+ddfCRC, 4, "phys crc"), ddfSpans(ddfPhys+ddfCount, 2, "used_pdes")...)
		spans = append(spans, ddfSpans(ddfPhys+ddfEntries+2*ddfEntry, ddfEntry, "phys_disk_entry[2]")...)
		onlyChanged(t, refs[i], m, spans)

		if d := readDDF(t, m); len(d.PhysDisks) != 3 || d.PhysUsed != 3 || !d.PhysDisks[2].Failed() || !d.PhysDisks[2].Missing() {
			t.Fatalf("%s: phys disks %+v", m, d.PhysDisks)
		}
		ex := mustExamineDDF(t, m)
		wantExamine(t, m, ex, "0 3e33c5c6 16384K active/Online", "1 1d880f16 16384K active/Online",
			"2 5eedd15c 16384K Global-Spare/Offline, Failed, Missing", "state[0] : Optimal, Consistent")
	}

	code, rep := scanJSON(t, "--hash", "none", p[0], p[1])
	s := rep.Sets[0]
	if code != exitOK || len(rep.Sets) != 1 || s.Verdict != report.VerdictConsistent || s.Level != "raid1" || authority(s) == "" || len(s.Problems) != 0 {
		t.Errorf("exit %d sets %d verdict %q authority %q problems %+v", code, len(rep.Sets), s.Verdict, authority(s), s.Problems)
	}
}

// TestDerivedDDFNotConsistent: case 4. The mirror's virtual_entry state
// gets the Not Consistent bit (0x10) on both disks: the scan reports an
// unclean shutdown (info) and a consistent set; mdadm shows "Not
// Consistent". A difference written into m1 is then excused.
func TestDerivedDDFNotConsistent(t *testing.T) {
	dir := "md/md-ddf/a-clean"
	p := members(t, dir)
	refs := []string{pristine(t, dir, "m0"), pristine(t, dir, "m1")}
	for i, m := range p {
		editDDF(t, m, ddfVirt, 32*512, func(b []byte) {
			// virtual_entry[0].state @0x40+32: 0x00 -> 0x10
			// (DDF_state_inconsistent), condition Optimal kept.
			b[ddfEntries+veState] |= ddf.VDInconsistent
		})
		spans := append(ddfSpans(ddfVirt+ddfCRC, 4, "virt crc"), ddfSpans(ddfVirt+ddfEntries+veState, 1, "virtual_entry[0].state")...)
		onlyChanged(t, refs[i], m, spans)
		ex := mustExamineDDF(t, m)
		wantExamine(t, m, ex, "state[0] : Optimal, Not Consistent", "Seq : 0000000a")
	}

	code, rep := scanJSON(t, "--hash", "none", p[0], p[1])
	s := rep.Sets[0]
	pr := problem(s.Problems, "unclean-shutdown")
	if code != exitOK || s.Verdict != report.VerdictConsistent || pr == nil || pr.Severity != report.SeverityInfo || authority(s) == "" {
		t.Fatalf("exit %d verdict %q authority %q problems %+v, want 0, consistent, unclean-shutdown (info)", code, s.Verdict, authority(s), s.Problems)
	}

	patchFile(t, p[1], 3<<20, []byte("written by one member before the crash"))
	code, rep = scanJSON(t, "--hash", "none", p[0], p[1])
	s = rep.Sets[0]
	if code != exitProblems || s.Verdict != report.VerdictDiverged || authority(s) == "" || hasCode(s.Problems, "split-brain") {
		t.Fatalf("not consistent, one difference: exit %d verdict %q authority %q problems %+v", code, s.Verdict, authority(s), s.Problems)
	}
	if pr := problem(s.Problems, "data-differs"); pr == nil || pr.Severity != report.SeverityInfo {
		t.Errorf("data-differs on a Not Consistent VD should be info: %+v", s.Problems)
	}
}

// TestDerivedDDFBadCRC: case 5 (DDF). m1's primary header CRC corrupted:
// both mdadm (load_ddf_header) and our reader fall back to the secondary
// copy; the scan must say so as a problem (bad-metadata, warning: the
// member is still used) and still check the mirror.
// Both of m1's header CRCs corrupted: m1 is not usable (bad-metadata), the
// set is degraded, mdadm refuses it. Never a panic.
func TestDerivedDDFBadCRC(t *testing.T) {
	dir := "md/md-ddf/a-clean"
	p := members(t, dir)
	ref := pristine(t, dir, "m1")
	ddfCopies(t, p[1])
	// Primary header crc @4 (image byte 0x2000004): its first byte
	// inverted, f7 -> 08, so the header no longer matches its CRC.
	flip := func(off int64) {
		f, err := os.OpenFile(p[1], os.O_RDWR, 0)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		b := make([]byte, 1)
		if _, err := f.ReadAt(b, off); err != nil {
			t.Fatal(err)
		}
		b[0] ^= 0xff
		if _, err := f.WriteAt(b, off); err != nil {
			t.Fatal(err)
		}
	}
	flip(ddfPrimary + ddfCRC)
	onlyChanged(t, ref, p[1], []span{{ddfPrimary + ddfCRC, 1, "primary header crc"}})
	d := readDDF(t, p[1])
	if d.PrimaryErr == nil || d.Active != d.Secondary {
		t.Fatalf("primary error %v, active %s", d.PrimaryErr, d.Active.TypeString())
	}
	ex := mustExamineDDF(t, p[1])
	wantExamine(t, p[1], ex, "Seq : 0000000a", "state[0] : Optimal, Consistent")

	code, rep := scanJSON(t, "--hash", "none", p[0], p[1])
	s := rep.Sets[0]
	if s.Verdict != report.VerdictConsistent || authority(s) == "" || memberState(s, p[1]) != report.StateActive {
		t.Errorf("one bad header: verdict %q authority %q members %+v", s.Verdict, authority(s), s.Members)
	}
	// The member is still used, so the problem is bad-metadata with
	// severity warning (as for an unreadable md bitmap), not bad-checksum
	// (which means the member is not trusted).
	pr := problem(s.Problems, "bad-metadata")
	if code != exitProblems || pr == nil || pr.Member != p[1] || pr.Severity != report.SeverityWarning ||
		!strings.Contains(pr.Message, "primary copy not usable") || !strings.Contains(pr.Message, "crc") || !strings.Contains(pr.Message, "secondary copy is used") {
		t.Errorf("one bad header: exit %d problems %+v, want 4 and a bad-metadata warning on m1 naming the bad crc and the secondary copy", code, s.Problems)
	}

	// Secondary header crc @4 (image byte 0x1000004: b0 -> 4f) too: no
	// usable copy.
	flip(ddfSecondary + ddfCRC)
	onlyChanged(t, ref, p[1], []span{{ddfPrimary + ddfCRC, 1, "primary header crc"}, {ddfSecondary + ddfCRC, 1, "secondary header crc"}})
	if out, err := ddfExamine(t, p[1]); err == nil {
		t.Errorf("mdadm read an image with both header CRCs bad:\n%s", out)
	}
	code, rep = scanJSON(t, "--hash", "none", p[0], p[1])
	// The member without usable metadata is its own, unpaired set (issue
	// 15: every input is hashed and reported), after the DDF set.
	if code != exitProblems || len(rep.Sets) != 2 || !hasCode(rep.Problems, "bad-metadata") || rep.Sets[1].Verdict != report.VerdictUnpaired {
		t.Fatalf("both bad: exit %d sets %d problems %+v", code, len(rep.Sets), rep.Problems)
	}
	if s := rep.Sets[0]; len(s.Members) != 1 || s.Verdict != report.VerdictDegraded || !hasCode(s.Problems, "member-missing") {
		t.Errorf("both bad: members %d verdict %q problems %+v", len(s.Members), s.Verdict, s.Problems)
	}
}
