package set

import (
	"bytes"
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mirrorchk/mirrorchk/image"
	"github.com/mirrorchk/mirrorchk/internal/fixture"
	"github.com/mirrorchk/mirrorchk/set/ftdisk"
)

// The end-to-end cases, on disks made by sfdisk, mkfs.fat and mtools, are
// in ../ft_cli_test.go. These cover the rules on hand-laid MBRs and on the
// fixture hives with fields of DISK\Information changed in place (the
// value's bytes lie in the hive file as they are; the base-block checksum
// covers only the base block, so the hive stays clean).

const (
	tSig0 = 0x1C7A3B52
	tSig1 = 0x5D0E9F11
)

type tPart struct {
	typ        byte
	start, len uint32 // sectors
}

// ftTestDisk writes a 9 MiB sparse disk with an MBR: signature sig and the
// given primary entries.
func ftTestDisk(t *testing.T, name string, sig uint32, parts ...tPart) string {
	t.Helper()
	return ftTestDiskIn(t, t.TempDir(), name, sig, parts...)
}

// ftTestDiskIn is ftTestDisk in dir, replacing a file of that name.
func ftTestDiskIn(t testing.TB, dir, name string, sig uint32, parts ...tPart) string {
	t.Helper()
	p := filepath.Join(dir, name)
	mbr := make([]byte, 512)
	binary.LittleEndian.PutUint32(mbr[440:], sig)
	for i, pt := range parts {
		e := mbr[446+16*i:]
		e[4] = pt.typ
		binary.LittleEndian.PutUint32(e[8:], pt.start)
		binary.LittleEndian.PutUint32(e[12:], pt.len)
	}
	mbr[510], mbr[511] = 0x55, 0xAA
	if err := os.WriteFile(p, mbr, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(p, 9<<20); err != nil {
		t.Fatal(err)
	}
	return p
}

func writeAt(t *testing.T, path string, off int64, b []byte) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteAt(b, off); err != nil {
		t.Fatal(err)
	}
}

// testHive returns the fixture hive name with its DISK\Information value
// edited in place by edit (nil: unchanged).
func testHive(t *testing.T, name string, edit func(v []byte, di *ftdisk.DiskInformation)) HiveInput {
	t.Helper()
	path := fixture.Path("ftdisk", name+".hive")
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if edit != nil {
		h, err := ftdisk.OpenHive(b)
		if err != nil {
			t.Fatal(err)
		}
		raw, err := h.DiskInformation()
		if err != nil {
			t.Fatal(err)
		}
		v := append([]byte(nil), raw...)
		di, err := ftdisk.DecodeDiskInformation(v)
		if err != nil {
			t.Fatal(err)
		}
		at := bytes.Index(b, v)
		if at < 0 || bytes.Count(b, v) != 1 {
			t.Fatal("value bytes not found once in the hive")
		}
		edit(v, di)
		b = append([]byte(nil), b...)
		copy(b[at:], v)
	}
	return HiveInput{Path: name + ".hive", Data: b}
}

func ftGroup(t *testing.T, opt Options, paths ...string) ([]*Set, []Problem) {
	t.Helper()
	var ims []*image.Image
	for _, p := range paths {
		im, err := image.Open(p)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { im.Close() })
		ims = append(ims, im)
	}
	sets, ps, err := GroupWith(ims, opt)
	if err != nil {
		t.Fatal(err)
	}
	return sets, ps
}

func allProblems(sets []*Set, ps []Problem) []Problem {
	for _, s := range sets {
		ps = append(ps, s.Problems...)
	}
	return ps
}

func findProblem(ps []Problem, code string) *Problem {
	for i := range ps {
		if ps[i].Code == code {
			return &ps[i]
		}
	}
	return nil
}

func stdPair(t *testing.T, typ0, typ1 byte) (string, string) {
	return ftTestDisk(t, "disk0.img", tSig0, tPart{typ0, 63, 16002}), ftTestDisk(t, "disk1.img", tSig1, tPart{typ1, 63, 16002})
}

// setState sets DISK_PARTITION.FtState of group g member m, and the sets'
// FtVolumeState.
func setState(g, m uint16, st ftdisk.FtPartitionState, vs ftdisk.FtState) func([]byte, *ftdisk.DiskInformation) {
	return func(v []byte, di *ftdisk.DiskInformation) {
		for _, fs := range di.FtSets {
			for _, x := range fs.Members {
				if x.Partition.FtGroup == g && x.Partition.FtMember == m {
					binary.LittleEndian.PutUint32(v[x.Partition.Off+4:], uint32(st))
					binary.LittleEndian.PutUint32(v[fs.Off+8:], uint32(vs))
				}
			}
		}
	}
}

func TestFTOrphanedShadow(t *testing.T) {
	d0, d1 := stdPair(t, 0x87, 0xC7)
	sets, ps := ftGroup(t, Options{Hives: []HiveInput{testHive(t, "orphaned-shadow", nil)}}, d0, d1)
	if len(sets) != 1 || len(ps) != 0 {
		t.Fatalf("sets %d problems %s", len(sets), codes(ps))
	}
	s := sets[0]
	if s.Format != "ftdisk" || s.Level != "raid1" || s.ID != "ft-mirror-0" || s.Name != "D:" || s.DataSize != 8193024 || s.ResyncFrom != -1 {
		t.Errorf("set %+v", s)
	}
	if len(s.Fresh) != 1 || s.Fresh[0].Path() != d0 || s.Members[1].State != StateStale || s.Members[1].Role != "1" || s.Members[1].DataOffset != 32256 {
		t.Fatalf("fresh %v states %q %q", s.Fresh, s.Members[0].State, s.Members[1].State)
	}
	want := "DISK\\Information: FT member 1 (disk 0x5D0E9F11, partition at 32256) FtState=Orphaned"
	if r := strings.Join(s.Reasons, "\n"); !strings.Contains(r, want) || !strings.Contains(r, "FtVolumeState=FtHasOrphan") {
		t.Errorf("reasons:\n%s", r)
	}
	if p := findProblem(s.Problems, "stale-member"); p == nil || p.Member != d1 || !strings.Contains(p.Message, want) {
		t.Errorf("problems %+v", s.Problems)
	}
	// 0xC7 agrees with a set that has an orphan, but it sits on the
	// orphan, not on the remaining member ftdisk would have marked.
	if findProblem(s.Problems, "ft-mbr-broken-but-healthy") != nil {
		t.Errorf("problems %s", codes(s.Problems))
	}
	if p := findProblem(s.Problems, "ft-mbr-mark-on-orphan"); p == nil || p.Member != d1 {
		t.Errorf("problems %s", codes(s.Problems))
	}
	d0c, d1c := stdPair(t, 0xC7, 0x87)
	sets, _ = ftGroup(t, Options{Hives: []HiveInput{testHive(t, "orphaned-shadow", nil)}}, d0c, d1c)
	if ps := sets[0].Problems; findProblem(ps, "ft-mbr-mark-on-orphan") != nil || findProblem(ps, "ft-mbr-broken-but-healthy") != nil || !strings.Contains(strings.Join(sets[0].Members[0].Evidence, "\n"), "agrees with the registry") {
		t.Errorf("0xC7 on the remaining member: %s %q", codes(ps), sets[0].Members[0].Evidence)
	}
	if m := s.Members[1]; m.FT == nil || m.FT.MBRType != 0xC7 || m.FT.Binding != "mbr" || m.MD != nil {
		t.Errorf("FT %+v", m.FT)
	}
}

func TestFTHealthyNoAuthority(t *testing.T) {
	d0, d1 := stdPair(t, 0x87, 0x87)
	sets, _ := ftGroup(t, Options{Hives: []HiveInput{testHive(t, "healthy", nil)}}, d0, d1)
	s := sets[0]
	if len(s.Fresh) != 2 || !strings.Contains(strings.Join(s.Reasons, "\n"), "the registry shows every member Healthy: it records no authority; the data decides") {
		t.Errorf("fresh %d reasons %q", len(s.Fresh), s.Reasons)
	}
	if s.Members[0].Generation != nil || s.Members[1].Generation != nil {
		t.Errorf("the registry keeps no per-member generation")
	}
}

func TestFTOtherStates(t *testing.T) {
	d0, d1 := stdPair(t, 0x87, 0x87)
	for _, c := range []struct {
		st    ftdisk.FtPartitionState
		vs    ftdisk.FtState
		state string
		ev    string
	}{
		{ftdisk.Regenerating, ftdisk.FtRegenerating, StateStale, "FtState=Regenerating: the member was being rebuilt"},
		{ftdisk.Initializing, ftdisk.FtInitializing, StateStale, "FtState=Initializing"},
		{ftdisk.SyncRedundantCopy, ftdisk.FtStateOk, StateUnknown, ""},
	} {
		sets, _ := ftGroup(t, Options{Hives: []HiveInput{testHive(t, "healthy", setState(0, 1, c.st, c.vs))}}, d0, d1)
		s := sets[0]
		m := s.Members[1]
		if m.State != c.state || !strings.Contains(strings.Join(m.Evidence, "\n"), c.ev) {
			t.Errorf("%v: state %q evidence %q", c.st, m.State, m.Evidence)
		}
		if len(s.Fresh) != 1 || s.Fresh[0] != s.Members[0] {
			t.Errorf("%v: fresh %v", c.st, s.Fresh)
		}
	}
	// Both orphaned: the registry contradicts itself and names no copy.
	h := testHive(t, "healthy", func(v []byte, di *ftdisk.DiskInformation) {
		setState(0, 0, ftdisk.Orphaned, ftdisk.FtHasOrphan)(v, di)
		setState(0, 1, ftdisk.Orphaned, ftdisk.FtHasOrphan)(v, di)
	})
	sets, _ := ftGroup(t, Options{Hives: []HiveInput{h}}, d0, d1)
	s := sets[0]
	if len(s.Fresh) != 0 || findProblem(s.Problems, "ft-no-healthy-member") == nil || findProblem(s.Problems, "ft-state-inconsistent") == nil {
		t.Errorf("both orphaned: fresh %d problems %s", len(s.Fresh), codes(s.Problems))
	}
	// FtStateOk with an orphan.
	sets, _ = ftGroup(t, Options{Hives: []HiveInput{testHive(t, "healthy", setState(0, 1, ftdisk.Orphaned, ftdisk.FtStateOk))}}, d0, d1)
	if p := findProblem(sets[0].Problems, "ft-state-inconsistent"); p == nil || !strings.Contains(p.Message, "FtVolumeState=FtStateOk") {
		t.Errorf("problems %s", codes(sets[0].Problems))
	}
}

// TestFTHealthyMemberMissing: only the orphaned member is given: no
// authority, the missing Healthy member is named.
func TestFTHealthyMemberMissing(t *testing.T) {
	_, d1 := stdPair(t, 0x87, 0x87)
	sets, _ := ftGroup(t, Options{Hives: []HiveInput{testHive(t, "orphaned-shadow", nil)}}, d1)
	s := sets[0]
	if len(s.Members) != 1 || len(s.Fresh) != 0 || findProblem(s.Problems, "member-missing") == nil ||
		!strings.Contains(strings.Join(s.Reasons, "\n"), "Healthy member (FT member 0 (disk 0x1C7A3B52") {
		t.Errorf("fresh %d problems %s reasons %q", len(s.Fresh), codes(s.Problems), s.Reasons)
	}
}

// TestFTHealthyMemberOnly: only the Healthy member is given, the Orphaned
// one is missing: the registry says the given copy is what NT ran from, but
// the missing member's disk is not there to show it was not written since,
// so the set names no current member (the rule of every format).
func TestFTHealthyMemberOnly(t *testing.T) {
	d0, _ := stdPair(t, 0x87, 0x87)
	sets, _ := ftGroup(t, Options{Hives: []HiveInput{testHive(t, "orphaned-shadow", nil)}}, d0)
	s := sets[0]
	if len(s.Members) != 1 || s.Members[0].State != StateActive || len(s.Fresh) != 0 || len(s.Missing) != 1 ||
		!strings.Contains(s.Missing[0], "FtState=Orphaned") || findProblem(s.Problems, "member-missing") == nil ||
		!strings.Contains(strings.Join(s.Reasons, "\n"), "no authority: 1 of 2 members given") {
		t.Errorf("fresh %d missing %q problems %s reasons %q", len(s.Fresh), s.Missing, codes(s.Problems), s.Reasons)
	}
}

// TestFTLogicalPartition: a member in a logical partition is found through
// the extended partition's EBR chain.
func TestFTLogicalPartition(t *testing.T) {
	d0 := ftTestDisk(t, "disk0.img", tSig0, tPart{0x87, 63, 16002})
	d1 := ftTestDisk(t, "disk1.img", tSig1, tPart{0x05, 63, 16128})
	ebr := make([]byte, 512)
	ebr[446+4] = 0x87
	binary.LittleEndian.PutUint32(ebr[446+8:], 63) // relative to this EBR
	binary.LittleEndian.PutUint32(ebr[446+12:], 16002)
	ebr[510], ebr[511] = 0x55, 0xAA
	writeAt(t, d1, 63*512, ebr)
	h := testHive(t, "orphaned-shadow", func(v []byte, di *ftdisk.DiskInformation) {
		p := di.Disks[1].Partitions[0]
		binary.LittleEndian.PutUint64(v[p.Off+8:], 126*512)
	})
	sets, ps := ftGroup(t, Options{Hives: []HiveInput{h}}, d0, d1)
	s := sets[0]
	if len(s.Members) != 2 || s.Members[1].DataOffset != 126*512 || s.Members[1].FT.MBRType != 0x87 || findProblem(allProblems(sets, ps), "ft-mbr-no-partition") != nil {
		t.Fatalf("members %d problems %s", len(s.Members), codes(allProblems(sets, ps)))
	}
	if ev := strings.Join(s.Members[1].Evidence, "\n"); !strings.Contains(ev, "partition entry 5 at sector 126") {
		t.Errorf("evidence %s", ev)
	}
	// The registry's offset with no entry there: bound by signature, flagged.
	d1b := ftTestDisk(t, "disk1b.img", tSig1, tPart{0x87, 2048, 16002})
	sets, _ = ftGroup(t, Options{Hives: []HiveInput{testHive(t, "orphaned-shadow", nil)}}, d0, d1b)
	if p := findProblem(sets[0].Problems, "ft-mbr-no-partition"); p == nil || sets[0].Members[1].DataOffset != 32256 {
		t.Errorf("problems %s", codes(sets[0].Problems))
	}
}

// TestFTHiveChoice: SYSTEM and SYSTEM.ALT that disagree: the clean one is
// used and the disagreement is a problem.
func TestFTHiveChoice(t *testing.T) {
	clean := testHive(t, "healthy", nil)
	dirty := testHive(t, "orphaned-shadow", nil)
	dirty.Data = append([]byte(nil), dirty.Data...)
	dirty.Data[8]++ // secondary sequence number
	h, ps := readFTHives([]HiveInput{dirty, clean})
	if h == nil || h.in.Path != clean.Path || findProblem(ps, "hive-dirty") == nil {
		t.Fatalf("used %v problems %s", h, codes(ps))
	}
	if p := findProblem(ps, "hive-disagree"); p == nil || !strings.Contains(p.Message, "sequence numbers match (2 = 2)") || !strings.Contains(p.Message, "dirty (sequence 2 / 3)") ||
		!strings.Contains(p.Message, "disk 0x5D0E9F11, partition at 32256: Mirror group 0 member 1 FtState=Healthy, 8193024 bytes / Mirror group 0 member 1 FtState=Orphaned") {
		t.Errorf("hive-disagree %+v", p)
	}
	// Both clean and different: not the first given (the choice must not
	// follow the order of --hive) but, in either order, the one whose
	// value sorts first, said plainly; the states they disagree on are
	// taken from neither (TestFTHivesDisagree).
	for _, order := range [][]HiveInput{{testHive(t, "orphaned-shadow", nil), clean}, {clean, testHive(t, "orphaned-shadow", nil)}} {
		h, ps, doubt, rivals := readFTHivesDoubt(order)
		if p := findProblem(ps, "hive-disagree"); h.in.Path != "healthy.hive" || p == nil || !strings.Contains(p.Message, "healthy.hive is used for the layout") ||
			doubt == "" || len(rivals) != 1 || rivals[0].in.Path != "orphaned-shadow.hive" {
			t.Errorf("order %s, %s: used %s, doubt %q, problems %+v", order[0].Path, order[1].Path, h.in.Path, doubt, ps)
		}
	}
	// Same value: no problem.
	if _, ps = readFTHives([]HiveInput{clean, clean}); len(ps) != 0 {
		t.Errorf("problems %s", codes(ps))
	}
	// Damaged checksum, unreadable and empty hives.
	bad := testHive(t, "healthy", nil)
	bad.Data = append([]byte(nil), bad.Data...)
	bad.Data[0x1FC]++
	empty := testHive(t, "empty", nil)
	_, ps = readFTHives([]HiveInput{bad, {Path: "junk", Data: []byte("junk")}, empty})
	for _, c := range []string{"hive-checksum", "hive-unreadable", "hive-no-ft-config"} {
		if findProblem(ps, c) == nil {
			t.Errorf("no %s in %s", c, codes(ps))
		}
	}
}

// TestFTMBRTypes: the MBR type against the registry.
func TestFTMBRTypes(t *testing.T) {
	d0, d1 := stdPair(t, 0x07, 0xC7)
	sets, _ := ftGroup(t, Options{Hives: []HiveInput{testHive(t, "healthy", nil)}}, d0, d1)
	s := sets[0]
	if p := findProblem(s.Problems, "ft-mbr-not-ft"); p == nil || p.Member != d0 {
		t.Errorf("problems %+v", s.Problems)
	}
	if p := findProblem(s.Problems, "ft-mbr-broken-but-healthy"); p == nil || p.Member != d1 || !strings.Contains(p.Message, "FtVolumeState=FtStateOk") {
		t.Errorf("problems %+v", s.Problems)
	}
}

// TestFTSwappedRule: one orphan per set, on different disks of the same
// pair, is "swapped"; on the same disk it is not.
func TestFTSwappedRule(t *testing.T) {
	d0 := ftTestDisk(t, "disk0.img", tSig0, tPart{0x87, 63, 8001}, tPart{0x87, 8064, 8001})
	d1 := ftTestDisk(t, "disk1.img", tSig1, tPart{0x87, 63, 8001}, tPart{0x87, 8064, 8001})
	// two-sets: E: (group 1) orphans its member on disk 1.
	sets, _ := ftGroup(t, Options{Hives: []HiveInput{testHive(t, "two-sets", setState(0, 1, ftdisk.Orphaned, ftdisk.FtHasOrphan))}}, d0, d1)
	if len(sets) != 2 || findProblem(allProblems(sets, nil), "ft-states-swapped") != nil {
		t.Errorf("both on disk 1 (one disk failed): %s", codes(allProblems(sets, nil)))
	}
	h := testHive(t, "two-sets", func(v []byte, di *ftdisk.DiskInformation) {
		setState(1, 1, ftdisk.Healthy, ftdisk.FtHasOrphan)(v, di)
		setState(1, 0, ftdisk.Orphaned, ftdisk.FtHasOrphan)(v, di)
		setState(0, 1, ftdisk.Orphaned, ftdisk.FtHasOrphan)(v, di)
	})
	sets, _ = ftGroup(t, Options{Hives: []HiveInput{h}}, d0, d1)
	for _, s := range sets {
		if findProblem(s.Problems, "ft-states-swapped") == nil || !strings.Contains(strings.Join(s.Reasons, "\n"), "look swapped") {
			t.Errorf("%s: %s", s.Name, codes(s.Problems))
		}
	}
}

// TestFTPartitionImages: two partition images of one length cannot be told
// apart by size; --member binds them.
func TestFTPartitionImages(t *testing.T) {
	var ps []string
	for _, n := range []string{"p0.img", "p1.img"} {
		p := filepath.Join(t.TempDir(), n)
		bs := make([]byte, 512)
		bs[0], bs[1], bs[2] = 0xEB, 0x3C, 0x90
		copy(bs[3:], "MSDOS5.0")
		copy(bs[54:], "FAT16   ")
		bs[510], bs[511] = 0x55, 0xAA
		if err := os.WriteFile(p, bs, 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Truncate(p, 8193024); err != nil {
			t.Fatal(err)
		}
		ps = append(ps, p)
	}
	hive := []HiveInput{testHive(t, "orphaned-shadow", nil)}
	sets, probs := ftGroup(t, Options{Hives: hive}, ps...)
	if findProblem(probs, "ft-binding-ambiguous") == nil || len(sets) != 1 || sets[0].Format == "ftdisk" {
		t.Errorf("sets %d problems %s", len(sets), codes(probs))
	}
	sets, probs = ftGroup(t, Options{Hives: hive, FTMembers: map[int]FTBinding{0: {tSig0, 32256}, 1: {tSig1, 32256}}}, ps...)
	if len(sets) != 1 || len(sets[0].Members) != 2 || sets[0].Members[1].Path() != ps[1] || sets[0].Members[0].DataOffset != 0 || len(sets[0].Fresh) != 1 || sets[0].Fresh[0].Path() != ps[0] {
		t.Fatalf("sets %d problems %s", len(sets), codes(allProblems(sets, probs)))
	}
	// A --member that names no FT member.
	_, probs = ftGroup(t, Options{Hives: hive, FTMembers: map[int]FTBinding{0: {tSig0, 512}}}, ps[0])
	if findProblem(probs, "ft-binding-unmatched") == nil {
		t.Errorf("problems %s", codes(probs))
	}
}

// TestFTNotMirror: a stripe set is listed, not checked, and its disks do
// not form an ad-hoc set.
func TestFTNotMirror(t *testing.T) {
	d0, d1 := stdPair(t, 0x87, 0x87)
	h := testHive(t, "healthy", func(v []byte, di *ftdisk.DiskInformation) {
		fs := di.FtSets[0]
		binary.LittleEndian.PutUint16(v[fs.Off+2:], uint16(ftdisk.Stripe))
		for _, m := range fs.Members {
			binary.LittleEndian.PutUint32(v[m.Partition.Off:], uint32(ftdisk.Stripe))
		}
	})
	sets, ps := ftGroup(t, Options{Hives: []HiveInput{h}}, d0, d1)
	if len(sets) != 0 || findProblem(ps, "not-a-mirror") == nil {
		t.Errorf("sets %d problems %s", len(sets), codes(ps))
	}
}

func TestFTNoHive(t *testing.T) {
	d0, d1 := stdPair(t, 0x87, 0x87)
	sets, _ := ftGroup(t, Options{}, d0, d1)
	if len(sets) != 1 || !sets[0].Adhoc() {
		t.Errorf("without --hive the disks are an ad-hoc pair: %+v", sets)
	}
}

func TestFTSyncPatches(t *testing.T) {
	d0, d1 := stdPair(t, 0x87, 0x87)
	sets, _ := ftGroup(t, Options{Hives: []HiveInput{testHive(t, "orphaned-shadow", nil)}}, d0, d1)
	_, err := sets[0].SyncPatches(sets[0].Fresh[0])
	if !errors.Is(err, ErrNoMetadataRepair) || !strings.Contains(err.Error(), "SYSTEM hive") || !strings.Contains(err.Error(), "MBR partition types are left") {
		t.Errorf("err %v", err)
	}
}

// FuzzFTGroup: any DISK\Information value (placed in the healthy hive,
// truncated or zero-padded to the value's length) and any MBR give sets
// and problems, never a panic.
func FuzzFTGroup(f *testing.F) {
	for _, n := range []string{"healthy", "orphaned-shadow", "two-sets"} {
		b, err := os.ReadFile(fixture.Path("ftdisk", n+".hive"))
		if err != nil {
			f.Fatal(err)
		}
		h, err := ftdisk.OpenHive(b)
		if err != nil {
			f.Fatal(err)
		}
		v, err := h.DiskInformation()
		if err != nil {
			f.Fatal(err)
		}
		f.Add(append([]byte(nil), v...), byte(0x87), uint32(63))
	}
	base, err := os.ReadFile(fixture.Path("ftdisk", "two-sets.hive"))
	if err != nil {
		f.Fatal(err)
	}
	h, _ := ftdisk.OpenHive(base)
	raw, _ := h.DiskInformation()
	at := bytes.Index(base, raw)
	if at < 0 {
		f.Fatal("value not found")
	}
	// One directory for every input of this process: the disks are
	// rewritten each time (a directory per input costs more than the work).
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, v []byte, typ byte, start uint32) {
		hb := append([]byte(nil), base...)
		n := copy(hb[at:at+len(raw)], v)
		clear(hb[at+n : at+len(raw)])
		d0 := ftTestDiskIn(t, dir, "disk0.img", tSig0, tPart{typ, start, 8001}, tPart{0x05, 8064, 8001})
		d1 := ftTestDiskIn(t, dir, "disk1.img", tSig1, tPart{typ, 63, 8001}, tPart{typ, 8064, 8001})
		// An EBR chain that loops back on itself.
		ebr := make([]byte, 512)
		ebr[446+4], ebr[462+4] = typ, 0x05
		binary.LittleEndian.PutUint32(ebr[446+8:], start)
		binary.LittleEndian.PutUint32(ebr[446+12:], 100)
		ebr[510], ebr[511] = 0x55, 0xAA
		writeAt(t, d0, 8064*512, ebr)
		sets, _ := ftGroup(t, Options{Hives: []HiveInput{{Path: "SYSTEM", Data: hb}}, FTMembers: map[int]FTBinding{1: {tSig1, 4128768}}}, d0, d1)
		for _, s := range sets {
			if len(s.Members) == 0 {
				continue // every member missing or misplaced: nothing to patch
			}
			_, _ = s.SyncPatches(s.Members[0])
		}
	})
}
