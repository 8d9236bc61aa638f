package set

import (
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mirrorchk/mirrorchk/image"
	"github.com/mirrorchk/mirrorchk/internal/fixture"
	"github.com/mirrorchk/mirrorchk/internal/mdedit"
)

// Byte offsets in the fixture's 1.2 superblock (md_p.h mdp_superblock_1).
const (
	sb12    = 4096
	oEvents = 200
	oMaxDev = 220
	oRoles  = 256
	oCsum   = 216
)

// edit12 changes a 1.2 member image in place and re-signs its superblock.
func edit12(t *testing.T, path string, events uint64, roles map[int]uint16) {
	t.Helper()
	mdedit.Edit12(t, path, func(sb []byte) {
		le := binary.LittleEndian
		if events != 0 {
			le.PutUint64(sb[oEvents:], events)
		}
		for i, r := range roles {
			le.PutUint16(sb[oRoles+2*i:], r)
		}
	})
}

func group(t *testing.T, paths ...string) ([]*Set, []Problem) {
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
	sets, ps, err := Group(ims)
	if err != nil {
		t.Fatal(err)
	}
	return sets, ps
}

func pair(t *testing.T, dir string) (string, string) {
	t.Helper()
	tmp := t.TempDir()
	return fixture.UnzstdTo(t, "md/md-1.2/"+dir+"/m0.img.zst", tmp), fixture.UnzstdTo(t, "md/md-1.2/"+dir+"/m1.img.zst", tmp)
}

func codes(ps []Problem) string {
	var c []string
	for _, p := range ps {
		c = append(c, p.Code)
	}
	return strings.Join(c, ",")
}

// TestMDClaims covers the md freshness rules on re-signed edits of a real
// stale-member pair (fresh m0 at events 20 records m1 as 0xffff; m1 stopped
// at 15 and still records both active).
func TestMDClaims(t *testing.T) {
	tests := []struct {
		name       string
		events1    uint64
		roles0     map[int]uint16 // m0's dev_roles edits
		roles1     map[int]uint16 // m1's dev_roles edits
		wantFresh  string         // base names of Set.Fresh
		wantState1 string
		wantCodes  []string // must be among the set's problem codes
		conflict   bool
	}{
		{name: "as written: stale", wantFresh: "m0.img", wantState1: StateStale, wantCodes: []string{"stale-member", "metadata-disagrees"}},
		{name: "lag of 1 and in the freshest view: current", events1: 19, roles0: map[int]uint16{1: 1}, wantFresh: "m0.img", wantState1: StateActive},
		{name: "lag of 1 but removed in the freshest view: stale", events1: 19, wantFresh: "m0.img", wantState1: StateStale, wantCodes: []string{"stale-member"}},
		{name: "lag of 1 but faulty in the freshest view: faulty", events1: 19, roles0: map[int]uint16{1: 0xfffe}, wantFresh: "m0.img", wantState1: StateFaulty, wantCodes: []string{"faulty-member"}},
		{name: "equal events, removed by the other: not fresh", events1: 20, wantFresh: "m0.img", wantState1: StateStale, wantCodes: []string{"stale-member"}},
		{name: "equal events, each removed by the other: split brain", events1: 20, roles1: map[int]uint16{0: 0xffff}, wantFresh: "m0.img,m1.img", wantState1: StateActive, wantCodes: []string{"split-brain"}, conflict: true},
		{name: "equal events: both fresh", events1: 20, roles0: map[int]uint16{1: 1}, wantFresh: "m0.img,m1.img", wantState1: StateActive},
		{name: "each records the other as failed: split brain", events1: 18, roles1: map[int]uint16{0: 0xfffe}, wantFresh: "m0.img", wantState1: StateStale, wantCodes: []string{"split-brain"}, conflict: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m0, m1 := pair(t, "b-stale-member")
			if tc.roles0 != nil {
				edit12(t, m0, 0, tc.roles0)
			}
			if tc.events1 != 0 || tc.roles1 != nil {
				edit12(t, m1, tc.events1, tc.roles1)
			}
			sets, _ := group(t, m0, m1)
			if len(sets) != 1 {
				t.Fatalf("%d sets", len(sets))
			}
			s := sets[0]
			var fresh []string
			for _, m := range s.Fresh {
				fresh = append(fresh, filepath.Base(m.Path()))
			}
			if got := strings.Join(fresh, ","); got != tc.wantFresh {
				t.Errorf("fresh %q, want %q", got, tc.wantFresh)
			}
			if got := s.Members[1].State; got != tc.wantState1 {
				t.Errorf("m1 state %q, want %q; evidence %q", got, tc.wantState1, s.Members[1].Evidence)
			}
			got := codes(s.Problems)
			for _, c := range tc.wantCodes {
				if !strings.Contains(got, c) {
					t.Errorf("problems %q lack %q", got, c)
				}
			}
			if (s.Conflict != "") != tc.conflict {
				t.Errorf("conflict %q, want %v", s.Conflict, tc.conflict)
			}
		})
	}
}

// TestMDSingleMember: one member of a two-disk array is degraded, not
// an error, and says which slot is missing. The metadata then names no
// current member: the missing member's events cannot be compared.
func TestMDSingleMember(t *testing.T) {
	m0, _ := pair(t, "a-clean")
	sets, _ := group(t, m0)
	s := sets[0]
	if !strings.Contains(codes(s.Problems), "member-missing") || len(s.Fresh) != 0 ||
		len(s.Missing) != 1 || s.Missing[0] != "slot 1" {
		t.Errorf("problems %q fresh %d missing %q", codes(s.Problems), len(s.Fresh), s.Missing)
	}
	if r := strings.Join(s.Reasons, "\n"); !strings.Contains(r, "no authority: 1 of 2 members given (slot 1 not given)") {
		t.Errorf("reasons:\n%s", r)
	}
}

// TestMDNoTrustedMember: when every superblock fails its checksum the
// metadata names no current member.
func TestMDNoTrustedMember(t *testing.T) {
	m0, m1 := pair(t, "a-clean")
	for _, p := range []string{m0, m1} {
		f, err := os.OpenFile(p, os.O_WRONLY, 0)
		if err != nil {
			t.Fatal(err)
		}
		f.WriteAt([]byte{1, 2, 3, 4}, sb12+oCsum)
		f.Close()
	}
	sets, _ := group(t, m0, m1)
	s := sets[0]
	if len(s.Fresh) != 0 || strings.Count(codes(s.Problems), "bad-checksum") != 2 {
		t.Errorf("fresh %d problems %q", len(s.Fresh), codes(s.Problems))
	}
	for _, m := range s.Members {
		if m.Trusted || m.State != StateUnknown {
			t.Errorf("%s trusted %v state %q", m.Path(), m.Trusted, m.State)
		}
	}
}

// TestSyncPatches: the rewrites for a stale pair name every field changed.
func TestSyncPatches(t *testing.T) {
	m0, m1 := pair(t, "c-stale-member-bitmap")
	sets, _ := group(t, m0, m1)
	s := sets[0]
	ps, err := s.SyncPatches(s.Fresh[0])
	if err != nil {
		t.Fatal(err)
	}
	stale := strings.Join(ps[1][0].Changes, "; ")
	for _, want := range []string{"events 15 -> 20", "sb_csum"} {
		if !strings.Contains(stale, want) {
			t.Errorf("m1 changes %q lack %q", stale, want)
		}
	}
	fresh := strings.Join(ps[0][0].Changes, "; ")
	for _, want := range []string{"array state A. -> AA", "dev_roles[1] 0xffff -> 0x0001"} {
		if !strings.Contains(fresh, want) {
			t.Errorf("m0 changes %q lack %q", fresh, want)
		}
	}
	if len(ps[0]) != 2 || !strings.Contains(strings.Join(ps[0][1].Changes, ";"), "dirty chunks 6 -> 0") {
		t.Errorf("m0 bitmap patch %+v", ps[0])
	}
}

// copyFile copies src to a new file named name beside it.
func copyFile(t *testing.T, src, name string) string {
	t.Helper()
	b, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	dst := filepath.Join(filepath.Dir(src), name)
	if err := os.WriteFile(dst, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return dst
}

// TestMDDuplicateMember: a second copy of one disk is not a second member.
func TestMDDuplicateMember(t *testing.T) {
	m0, m1 := pair(t, "b-stale-member")
	dup := copyFile(t, m0, "m0-copy.img")
	sets, _ := group(t, m0, dup, m1)
	if got := codes(sets[0].Problems); !strings.Contains(got, "duplicate-member") {
		t.Errorf("problems %q lack duplicate-member", got)
	}
}

// TestMDSpare: a spare is reported for information and is never fresh.
func TestMDSpare(t *testing.T) {
	m0, m1 := pair(t, "a-clean")
	spare := copyFile(t, m1, "spare.img")
	mdedit.Edit12(t, spare, func(sb []byte) {
		le := binary.LittleEndian
		le.PutUint32(sb[160:], 2)           // dev_number 2
		le.PutUint16(sb[oRoles+4:], 0xffff) // its role: spare
		sb[168] ^= 0xff                     // a device uuid of its own
	})
	sets, _ := group(t, m0, m1, spare)
	s := sets[0]
	if st := s.Members[2].State; st != StateSpare || contains(s.Fresh, s.Members[2]) {
		t.Errorf("spare state %q fresh %v", st, contains(s.Fresh, s.Members[2]))
	}
	if got := codes(s.Problems); got != "spare-member" {
		t.Errorf("problems %q, want only spare-member", got)
	}
}

// TestMDUntrustedReference: a member whose checksum is bad never decides
// the array's level, size or slot count, even when given first.
func TestMDUntrustedReference(t *testing.T) {
	m0, m1 := pair(t, "b-stale-member")
	f, err := os.OpenFile(m1, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteAt([]byte{5}, sb12+72) // level 5, without re-signing
	f.Close()
	sets, _ := group(t, m1, m0)
	s := sets[0]
	if s.Level != "raid1" || s.DataSize != 7340032 || s.RaidDisks != 2 {
		t.Errorf("level %q size %d raid_disks %d, want raid1 7340032 2 from the trusted member", s.Level, s.DataSize, s.RaidDisks)
	}
	if got := codes(s.Problems); !strings.Contains(got, "bad-checksum") || strings.Contains(got, "not-a-mirror") {
		t.Errorf("problems %q", got)
	}
}

// TestMDArrayFieldsCompared: members of one array must agree on its size;
// a member claiming a smaller one does not shrink what is compared.
func TestMDArrayFieldsCompared(t *testing.T) {
	m0, m1 := pair(t, "a-clean")
	mdedit.Edit12(t, m1, func(sb []byte) { binary.LittleEndian.PutUint64(sb[80:], 12288) })
	sets, _ := group(t, m0, m1)
	s := sets[0]
	if s.DataSize != 7340032 {
		t.Errorf("data size %d, want the reference 7340032", s.DataSize)
	}
	if got := codes(s.Problems); !strings.Contains(got, "metadata-disagrees") {
		t.Errorf("problems %q lack metadata-disagrees", got)
	}
}

// TestLoneMemberNoFresh: one member of a real two-member array given alone,
// the current one or the stale one, in each metadata format: the metadata
// names no current member (the other may be newer), Missing names the slot
// not given, and the reasons say so and, for md, what the given member's
// own superblock records of the missing slot. Given together, the current
// member is Fresh and nothing is missing.
func TestLoneMemberNoFresh(t *testing.T) {
	for _, tc := range []struct {
		dir    string
		m0, m1 string // md: what each member's own superblock records of the other's slot
	}{
		{"md-1.2", "records slot 1 as out of the array (no dev_roles entry holds slot 1; array state A.)",
			"records slot 0 as in the array (dev_roles[0] = 0; array state AA)"},
		{"md-0.90", "records slot 1 as out of the array (disks[1].state 0x9: faulty removed; failed_disks 1; array state A.)",
			"records slot 0 as in the array (disks[0].state 0x6: active sync; array state AA)"},
		{"md-imsm", "", ""},
		{"md-ddf", "", ""},
	} {
		t.Run(tc.dir, func(t *testing.T) {
			tmp := t.TempDir()
			var p [2]string
			for i := range p {
				p[i] = fixture.UnzstdTo(t, fmt.Sprintf("md/%s/b-stale-member/m%d.img.zst", tc.dir, i), tmp)
			}
			sets, _ := group(t, p[0], p[1])
			if s := sets[0]; len(s.Missing) != 0 || len(s.Fresh) != 1 || s.Fresh[0].Path() != p[0] {
				t.Fatalf("pair: missing %q fresh %d", s.Missing, len(s.Fresh))
			}
			for i, view := range []string{tc.m0, tc.m1} {
				sets, _ := group(t, p[i])
				s := sets[0]
				reasons := strings.Join(s.Reasons, "\n")
				if len(s.Fresh) != 0 || len(s.Missing) != 1 || !strings.Contains(codes(s.Problems), "member-missing") ||
					!strings.Contains(reasons, "no authority: 1 of 2 members given ("+s.Missing[0]+" not given)") ||
					!strings.Contains(reasons, "so no member is called current") {
					t.Errorf("m%d alone: fresh %d missing %q problems %s reasons:\n%s", i, len(s.Fresh), s.Missing, codes(s.Problems), reasons)
				}
				if view != "" && !strings.Contains(reasons, view) {
					t.Errorf("m%d alone: reasons lack %q:\n%s", i, view, reasons)
				}
				if m := s.Members[0]; m.State == StateStale || !strings.Contains(strings.Join(m.Evidence, "\n"), "not current by the metadata: 1 of 2 members given") {
					t.Errorf("m%d alone: state %s evidence %q", i, m.State, m.Evidence)
				}
			}
		})
	}
}
