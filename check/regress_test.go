package check_test

// Regression tests from a review of the per-range decision code: each one
// once demonstrated a defect (its comment says which) and now guards the fix.

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mirrorchk/mirrorchk/check"
	"github.com/mirrorchk/mirrorchk/fs"
	"github.com/mirrorchk/mirrorchk/image"
	"github.com/mirrorchk/mirrorchk/internal/fakefs"
	"github.com/mirrorchk/mirrorchk/internal/fsfixture"
	"github.com/mirrorchk/mirrorchk/set"
)

func rvSet(t *testing.T, imgs ...[]byte) *set.Set {
	return fakefs.Group(t, fakefs.Write(t, imgs...)...)
}

func regBase(m *set.Member) string {
	if m == nil {
		return ""
	}
	return strings.TrimSuffix(filepath.Base(m.Path()), ".img")
}

// TestRegressMaxRangesNegativeListsNone: cmd_scan.go turns --max-ranges 0
// ("list none") into MaxRanges -1. Diff reads a negative MaxRanges as
// "keep none", but Check passes it to newInterp as maxList, and
// interp.add reads maxList < 0 as "no limit": every piece is listed, the
// memory bound of --max-ranges is gone and the report lists what the user
// asked not to.
func TestRegressMaxRangesNegativeListsNone(t *testing.T) {
	var imgs [][]byte
	imgs = append(imgs, fakefs.Image(nil), fakefs.Image(func(b []byte) {
		for off := 40000; off < fakefs.Size; off += 1024 { // 24 separate differing sectors
			b[off] = 1
		}
	}))
	s := rvSet(t, imgs...)
	r, err := check.Check(context.Background(), s, check.Options{MaxRanges: -1, Openers: []check.Opener{{Name: "fake", Open: fakefs.Open}}})
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Diff.Ranges) != 0 {
		t.Fatalf("diff kept %d ranges with MaxRanges -1; expected none", len(r.Diff.Ranges))
	}
	if len(r.Pieces) != 0 {
		t.Errorf("MaxRanges -1 (what `scan --max-ranges 0` passes): Diff keeps no ranges but Check lists %d pieces (PiecesTotal %d)", len(r.Pieces), r.PiecesTotal)
	}
}

// TestRegressBothCopiesTornLSNPicks: both members' copies of $MFT record 2
// fail their fixups (damaged differently). pieceEvidence.torn is only set
// when some copy verifies, so the LSN comparison then runs over torn
// copies and resolve() takes one of them with basis "lsn": a source whose
// own structures reject it, decided with certainty the evidence lacks.
func TestRegressBothCopiesTornLSNPicks(t *testing.T) {
	rec := func(n int) int { return (n + 1) * fakefs.Record }
	m0 := fakefs.Image(func(b []byte) { b[rec(2)] = 'T'; b[rec(2)+1] = 9; b[rec(2)+600] = 1 })
	m1 := fakefs.Image(func(b []byte) { b[rec(2)] = 'T'; b[rec(2)+1] = 3; b[rec(2)+1600] = 1 })
	s := rvSet(t, m0, m1)
	r, err := check.Check(context.Background(), s, check.Options{Openers: []check.Opener{{Name: "fake", Open: fakefs.Open}}})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range r.Pieces {
		if p.Owners[0].Structure != "$MFT record 2" {
			continue
		}
		if p.Source >= 0 {
			t.Errorf("$MFT record 2 at %d: both copies fail their fixups, yet source is %s (basis %s: %s)",
				p.Offset, regBase(r.Set.Members[p.Source]), p.Basis, p.Reason)
		}
	}
	if r.Undecided == 0 {
		t.Errorf("no undecided bytes although no copy of record 2 verifies; authority %s (%s), overrides %d",
			regBase(r.Authority), r.Basis, len(r.Overrides))
	}
}

// TestRegressLSNWinnerCalledStale: the members differ only in $MFT record 4,
// which both hold intact; m1's copy carries the higher LSN. fsAuthority
// finds every range decided and takes cands[0] = m0 ("lowest slot") as the
// authority with basis "filesystem"; decide() then marks m1, the member
// the only evidence calls newer, as stale with an error-level
// stale-member problem. No evidence says m1 is behind.
func TestRegressLSNWinnerCalledStale(t *testing.T) {
	rec := func(n int) int { return (n + 1) * fakefs.Record }
	m0 := fakefs.Image(func(b []byte) { b[rec(4)+1] = 7 })
	m1 := fakefs.Image(func(b []byte) { b[rec(4)+1] = 9 })
	s := rvSet(t, m0, m1)
	r, err := check.Check(context.Background(), s, check.Options{Openers: []check.Opener{{Name: "fake", Open: fakefs.Open}}})
	if err != nil {
		t.Fatal(err)
	}
	m := r.Set.Members[1]
	if r.States[m.Input] == set.StateStale {
		t.Errorf("m1 (holder of the higher LSN) is marked stale; authority %s (%s); reasons %q", regBase(r.Authority), r.Basis, r.Reasons)
	}
	for _, p := range r.Problems {
		if p.Code == "stale-member" && p.Member == m.Path() {
			t.Errorf("problem %s: %s", p.Code, p.Message)
		}
	}
}

// TestRegressFATTwinOfStaleMember: bare-pair (FAT16, two FATs): m0 stale,
// m1 fresh. One byte of m1's FAT 2 rots inside a sector where the members
// differ anyway. judgeFAT compares each FAT copy only with its twin in the
// SAME member: m1's FAT 1 (correct, new) now differs from m1's FAT 2 and
// is judged torn, while stale m0's FAT 1 equals stale m0's FAT 2 and
// "verifies". Both FAT 1 and FAT 2 are then taken from the stale member
// by "structure", even with --prefer m1: the repaired image has m1's
// directories and data with m0's old allocation chains (lost clusters /
// cross-links). With two FAT copies, a twin mismatch cannot say which
// copy is torn; the chains must decide (issue 3 §6: "consistent with its
// twin and with the chains").
func TestRegressFATTwinOfStaleMember(t *testing.T) {
	_, paths, truth := fsfixture.Case(t, "bare-pair")
	if truth.StaleMember != "m0" || truth.FreshMember != "m1" {
		t.Fatalf("fixture roles changed: %+v", truth.Roles)
	}
	// FAT16, 4 reserved sectors, FAT size 32 sectors: FAT 2 starts at 18432;
	// bytes 18432-19455 already differ between the members.
	f, err := os.OpenFile(paths[1], os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	b := make([]byte, 1)
	if _, err := f.ReadAt(b, 18432+600); err != nil {
		t.Fatal(err)
	}
	b[0] ^= 0x10
	if _, err := f.WriteAt(b, 18432+600); err != nil {
		t.Fatal(err)
	}
	f.Close()
	sets := []*set.Set{fakefs.Group(t, paths...)}
	r, err := check.Check(context.Background(), sets[0], check.Options{Prefer: sets[0].Members[1]})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range r.Pieces {
		if p.Owners[1].Structure != "FAT 1" {
			continue
		}
		if p.Source == 0 {
			t.Errorf("FAT 1 at %d taken from the STALE member m0 (%s: %s)", p.Offset, p.Basis, p.Reason)
		}
	}
	for _, o := range r.Overrides {
		if regBase(o.From) == "m0" {
			t.Errorf("override at %d (+%d) copies stale m0 over the preferred fresh m1: %s", o.Offset, o.Length, o.Reason)
		}
	}
}

// TestRegressFATTimestampRot: two identical FAT16 members, except that one
// bit of a directory entry's date on m1 has flipped (2026 -> 2042, in the
// future). The "latest timestamp in the directory entries" criterion names
// m1 as written last, so m1 becomes the authority (basis filesystem) and
// the intact m0 is called stale; a repair would copy the rotted directory
// sector over the intact one. A timestamp after the scan itself cannot be
// evidence of the later writer.
func TestRegressFATTimestampRot(t *testing.T) {
	_, paths, _ := fsfixture.Case(t, "fat-torn-fat2-fat16")
	// Use m0 (intact) for both members.
	intact, err := os.ReadFile(paths[0])
	if err != nil {
		t.Fatal(err)
	}
	rot := append([]byte(nil), intact...)
	// FAT16, 1 reserved sector, 2 FATs of 127 sectors: root directory at
	// byte 130560; entry 2 (DOCUME~1) dated 2026; byte 25 bit 5 is year bit 4.
	const root = 130560
	if string(rot[root+64:root+72]) != "DOCUME~1" {
		t.Fatalf("fixture changed: %q", rot[root+64:root+75])
	}
	rot[root+64+25] ^= 0x20
	dir := t.TempDir()
	var ims []*image.Image
	for i, b := range [][]byte{intact, rot} {
		p := filepath.Join(dir, fmt.Sprintf("m%d.img", i))
		if err := os.WriteFile(p, b, 0o444); err != nil {
			t.Fatal(err)
		}
		im, err := image.Open(p)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { im.Close() })
		ims = append(ims, im)
	}
	sets, _, err := set.Group(ims)
	if err != nil || len(sets) != 1 {
		t.Fatalf("group: %v %d", err, len(sets))
	}
	r, err := check.Check(context.Background(), sets[0], check.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if regBase(r.Authority) == "m1" {
		t.Errorf("the member with a bit-rotted (future) directory timestamp is the authority (%s): %q", r.Basis, r.Reasons)
	}
	if r.States[r.Set.Members[0].Input] == set.StateStale {
		t.Errorf("the intact member m0 is called stale")
	}
}

// TestRegressContradictedCriterionStillMarksStale: m0's directory
// timestamps are newer (criterion "latest timestamp" names m1 older), but
// $MFT record 5 carries a higher LSN on m1. fsAuthority sees "the LSNs
// point both ways" and names no member, yet it has already filled
// v.older, and decide's ad-hoc branch turns that into an error-level
// stale-member problem and state "stale" for m1: the very evidence that
// was just found contradicted is reported as a finding.
func TestRegressContradictedCriterionStillMarksStale(t *testing.T) {
	rec := func(n int) int { return (n + 1) * fakefs.Record }
	m0 := fakefs.Image(func(b []byte) { b[rec(1)+1] = 9; b[rec(5)+1] = 1; b[4095] = 9 })
	m1 := fakefs.Image(func(b []byte) { b[rec(1)+1] = 1; b[rec(5)+1] = 9; b[4095] = 2 })
	s := rvSet(t, m0, m1)
	r, err := check.Check(context.Background(), s, check.Options{Openers: []check.Opener{{Name: "fake", Open: fakefs.Open}}})
	if err != nil {
		t.Fatal(err)
	}
	if r.Authority != nil {
		t.Fatalf("setup: authority %s", regBase(r.Authority))
	}
	m := r.Set.Members[1]
	if r.States[m.Input] == set.StateStale {
		t.Errorf("m1 is marked stale although the filesystem evidence contradicts itself; reasons %q", r.Reasons)
	}
	for _, p := range r.Problems {
		if p.Code == "stale-member" {
			t.Errorf("problem %s: %s", p.Code, p.Message)
		}
	}
}

// TestRegressUnreadMemberLosesOnLSN: m1's filesystem does not open (its
// first bytes are damaged), so Layout.Judge returns the zero Judgement for
// every m1 copy: LSN 0. A differing $MFT record whose m0 copy carries LSN
// 5 is then decided for m0 "by LSN, the others at most 0", although m1's
// copy was never read and may carry a higher LSN: certainty the evidence
// does not give. (Compare TestInterpretUnreadableMember, whose fake
// records all carry LSN 0 and so do not show this.)
func TestRegressUnreadMemberLosesOnLSN(t *testing.T) {
	rec := func(n int) int { return (n + 1) * fakefs.Record }
	m0 := fakefs.Image(func(b []byte) { b[rec(3)+1] = 5 })
	m1 := fakefs.Image(func(b []byte) { copy(b, "JUNK"); b[rec(3)+1] = 200 })
	s := rvSet(t, m0, m1)
	r, err := check.Check(context.Background(), s, check.Options{Openers: []check.Opener{{Name: "fake", Open: fakefs.Open}}})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range r.Pieces {
		if p.Offset >= int64(rec(3)) && p.Offset < int64(rec(4)) && p.Basis == check.SourceLSN {
			t.Errorf("$MFT record 3 decided by LSN for %s although m1's copy (LSN 200 on disk) was never judged: %s",
				regBase(r.Set.Members[p.Source]), p.Reason)
		}
	}
}

// TestRegressUnrecognisedPartitionIsNotUnpartitioned: mbr-pair (FAT16 in
// MBR partition 1 at byte 1048576). m1's partition boot sector is zeroed,
// so no filesystem opens in partition 1 on m1. Layout.Owners then labels
// every byte of that partition "unpartitioned space" (the gap default),
// although the MBR says it is partition 1: the report's owner for m1 is
// wrong for every differing range in the partition.
func TestRegressUnrecognisedPartitionIsNotUnpartitioned(t *testing.T) {
	_, paths, _ := fsfixture.Case(t, "mbr-pair")
	f, err := os.OpenFile(paths[1], os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteAt(make([]byte, 512), 1048576); err != nil {
		t.Fatal(err)
	}
	f.Close()
	sets := []*set.Set{fakefs.Group(t, paths...)}
	r, err := check.Check(context.Background(), sets[0], check.Options{})
	if err != nil {
		t.Fatal(err)
	}
	bad := 0
	for _, p := range r.Pieces {
		if p.Offset >= 1048576 && p.Owners[1].Structure == fs.Unpartitioned {
			bad++
		}
	}
	if bad > 0 {
		t.Errorf("%d of %d pieces inside MBR partition 1 are owned by %q on m1", bad, len(r.Pieces), fs.Unpartitioned)
	}
}
