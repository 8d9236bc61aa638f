package set

// Regression tests from a review of the NT FT wiring: each comment says
// the defect the test once demonstrated; each now guards its fix.

import (
	"bytes"
	"encoding/binary"
	"strings"
	"testing"

	"github.com/mirrorchk/mirrorchk/set/ftdisk"
)

// Regression (from review): the registry shows every member Healthy, only FtVolumeState says
// FtHasOrphan (the registry contradicts itself); the MBR of disk 1 marks the
// set broken (0xC7). The member's own registry state is Healthy, so this is
// the "MBR marks broken while the registry says Healthy" disagreement; the
// evidence must not claim the registry has a member that is not Healthy.
func TestFTRegressBrokenMarkVolumeStateOnly(t *testing.T) {
	d0, d1 := stdPair(t, 0x87, 0xC7)
	h := testHive(t, "healthy", func(v []byte, di *ftdisk.DiskInformation) {
		binary.LittleEndian.PutUint32(v[di.FtSets[0].Off+8:], uint32(ftdisk.FtHasOrphan))
	})
	sets, _ := ftGroup(t, Options{Hives: []HiveInput{h}}, d0, d1)
	s := sets[0]
	if findProblem(s.Problems, "ft-mbr-broken-but-healthy") == nil {
		t.Errorf("0xC7 on a member whose FtState is Healthy (both members Healthy) is not reported: %s", codes(s.Problems))
	}
	if ev := strings.Join(s.Members[1].Evidence, "\n"); strings.Contains(ev, "agrees with the registry: the set has a member that is not Healthy") {
		t.Errorf("evidence claims a non-Healthy member where every FtState is Healthy: %s", ev)
	}
}

// Regression (from review): a whole-disk image bound with --member (its MBR signature
// matches) is read at the partition offset, but its MBR type is never held
// against the registry, and its evidence calls it a partition image.
func TestFTRegressFlaggedWholeDiskMBRIgnored(t *testing.T) {
	d0, d1 := stdPair(t, 0x87, 0xC7)
	sets, _ := ftGroup(t, Options{Hives: []HiveInput{testHive(t, "healthy", nil)}, FTMembers: map[int]FTBinding{1: {tSig1, 32256}}}, d0, d1)
	s := sets[0]
	m := s.Members[1]
	if m.DataOffset != 32256 {
		t.Fatalf("offset %d", m.DataOffset)
	}
	if findProblem(s.Problems, "ft-mbr-broken-but-healthy") == nil {
		t.Errorf("0xC7 on the --member-bound whole disk under a Healthy registry is not reported: %s", codes(s.Problems))
	}
	if ev := strings.Join(m.Evidence, "\n"); strings.Contains(ev, "partition image: no MBR partition type") {
		t.Errorf("a whole disk is described as a partition image: %s", ev)
	}
}

// Regression (from review): --member binds a whole-disk image whose MBR carries another
// signature (a re-signatured or replaced disk, the reason one binds by hand).
// The binding silently reads the member at byte 0 - the MBR - instead of
// the offset the user gave, with no problem naming the mismatch.
func TestFTRegressFlaggedWholeDiskOtherSignature(t *testing.T) {
	d0 := ftTestDisk(t, "disk0.img", tSig0, tPart{0x87, 63, 16002})
	d1 := ftTestDisk(t, "disk1.img", 0xDEADBEEF, tPart{0x87, 63, 16002})
	sets, ps := ftGroup(t, Options{Hives: []HiveInput{testHive(t, "orphaned-shadow", nil)}, FTMembers: map[int]FTBinding{1: {tSig1, 32256}}}, d0, d1)
	s := sets[0]
	if len(s.Members) != 2 {
		t.Fatalf("members %d", len(s.Members))
	}
	m := s.Members[1]
	mentioned := false
	for _, p := range allProblems(sets, ps) {
		if strings.Contains(p.Message, "DEADBEEF") {
			mentioned = true
		}
	}
	if m.DataOffset == 0 && !mentioned {
		t.Errorf("whole disk with MBR signature 0xDEADBEEF read as a partition image at byte 0 (its MBR taken as the volume), no problem: %s", codes(allProblems(sets, ps)))
	}
}

// Regression (from review): member 1 has an FtState the code does not use (SyncRedundantCopy);
// member 0 is Healthy. Both are inputs, yet the reason says member 0 "is the
// only member given".
func TestFTRegressUnknownStateReason(t *testing.T) {
	d0, d1 := stdPair(t, 0x87, 0x87)
	sets, _ := ftGroup(t, Options{Hives: []HiveInput{testHive(t, "healthy", setState(0, 1, ftdisk.SyncRedundantCopy, ftdisk.FtStateOk))}}, d0, d1)
	s := sets[0]
	if len(s.Members) == 2 && strings.Contains(strings.Join(s.Reasons, "\n"), "is the only member given") {
		t.Errorf("two members given, reason says one: %q", s.Reasons)
	}
}

// Regression (from review): SYSTEM and SYSTEM.ALT, both clean, disagree on which member is
// orphaned. The registry's authority then depends on the order of --hive,
// and the set's reasons do not say the hives disagree.
func TestFTRegressCleanHivesDisagree(t *testing.T) {
	d0, d1 := stdPair(t, 0x87, 0x87)
	a, b := testHive(t, "orphaned-shadow", nil), testHive(t, "orphaned-primary", nil)
	s1, _ := ftGroup(t, Options{Hives: []HiveInput{a, b}}, d0, d1)
	s2, _ := ftGroup(t, Options{Hives: []HiveInput{b, a}}, d0, d1)
	// Which hive's states are read still depends on the order, so the
	// choice must be marked in doubt (check then takes no authority from it).
	if s1[0].Doubt == "" || s2[0].Doubt == "" {
		t.Errorf("clean hives that disagree leave the registry's choice undoubted: %q / %q", s1[0].Doubt, s2[0].Doubt)
	}
	if !strings.Contains(strings.Join(s1[0].Reasons, "\n"), "disagree") {
		t.Errorf("the set's reasons do not mention the hive disagreement: %q", s1[0].Reasons)
	}
}

// Regression (from review): a hive cut short inside the DISK\Information data cell (a
// truncated copy) is reported as "has no \DISK\Information value", a
// warning, as if the hive described no FT sets; the images are then
// compared as an ad-hoc pair.
func TestFTRegressTruncatedHive(t *testing.T) {
	h := testHive(t, "orphaned-shadow", nil)
	hv, err := ftdisk.OpenHive(h.Data)
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := hv.DiskInformation()
	at := bytes.Index(h.Data, raw)
	h.Data = h.Data[:at+16]
	_, ps := readFTHives([]HiveInput{h})
	for _, p := range ps {
		t.Logf("%s %s: %s", p.Code, p.Severity, p.Message)
		if p.Code == "hive-no-ft-config" {
			t.Errorf("a truncated hive whose DISK key holds an Information value cut short is reported as having no FT configuration (%s): %s", p.Severity, p.Message)
		}
	}
}

// Regression (from review): the shadow's partition is a little larger than the primary's
// (Disk Administrator rounds the shadow up to a cylinder on a disk of
// other geometry; FtLength keeps the original member length). The whole
// volume is compared, yet this is an Error "size-mismatch", which makes
// repair refuse (ErrShortMember).
func TestFTRegressLargerShadow(t *testing.T) {
	d0 := ftTestDisk(t, "disk0.img", tSig0, tPart{0x87, 63, 16002})
	d1 := ftTestDisk(t, "disk1.img", tSig1, tPart{0xC7, 63, 16065})
	h := testHive(t, "orphaned-shadow", func(v []byte, di *ftdisk.DiskInformation) {
		p := di.Disks[1].Partitions[0]
		binary.LittleEndian.PutUint64(v[p.Off+0x10:], 16065*512)
	})
	sets, _ := ftGroup(t, Options{Hives: []HiveInput{h}}, d0, d1)
	s := sets[0]
	if s.DataSize != 16002*512 {
		t.Errorf("data size %d", s.DataSize)
	}
	if p := findProblem(s.Problems, "size-mismatch"); p != nil && p.Severity == Error {
		t.Errorf("a shadow larger than the primary (the whole primary is compared) is an Error that blocks repair: %s", p.Message)
	}
}
