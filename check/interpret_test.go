package check_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mirrorchk/mirrorchk/check"
	"github.com/mirrorchk/mirrorchk/internal/fakefs"
	"github.com/mirrorchk/mirrorchk/set"
)

func checkFake(t *testing.T, imgs ...[]byte) (*check.Result, []*os.File) {
	return checkFakePrefer(t, -1, imgs...)
}

func checkFakePrefer(t *testing.T, prefer int, imgs ...[]byte) (*check.Result, []*os.File) {
	return fakefs.Check(t, prefer, imgs...), nil
}

func base(m *set.Member) string {
	if m == nil {
		return ""
	}
	return strings.TrimSuffix(filepath.Base(m.Path()), ".img")
}

func TestInterpretBare(t *testing.T) {
	rec := func(n int) int { return (n + 1) * fakefs.Record }
	tests := []struct {
		name      string
		imgs      [][]byte
		authority string // "" none
		basis     string
		sources   map[string]string // structure -> "m0 structure" (member, basis)
		undecided bool
	}{
		{
			name:      "torn record decided by structure, set by every range decided",
			imgs:      [][]byte{fakefs.Image(nil), fakefs.Image(func(b []byte) { b[rec(3)] = 'T'; b[rec(3)+100] = 9 })},
			authority: "m0", basis: check.BasisFilesystem,
			sources: map[string]string{"$MFT record 3": "m0 structure"},
		},
		{
			name: "torn copy on the member the evidence calls newer",
			imgs: [][]byte{fakefs.Image(func(b []byte) { b[4095] = 5 }), fakefs.Image(func(b []byte) { b[4095] = 9; b[rec(2)] = 'T'; b[50000] = 1 })},
			// m0's intact copy is older: it does not replace the authority's,
			// which is kept and said (authority-copy-fails).
			authority: "m1", basis: check.BasisFilesystem,
			sources: map[string]string{"$MFT record 2": "m1 set-authority", "file data": "m1 set-authority", "boot sector": "m1 set-authority"},
		},
		{
			name:      "newer timestamps make the authority",
			imgs:      [][]byte{fakefs.Image(func(b []byte) { b[4095] = 3 }), fakefs.Image(func(b []byte) { b[4095] = 7; b[40000] = 1 })},
			authority: "m1", basis: check.BasisFilesystem,
			sources: map[string]string{"file data": "m1 set-authority"},
		},
		{
			name:      "no evidence: undecided",
			imgs:      [][]byte{fakefs.Image(nil), fakefs.Image(func(b []byte) { b[40000] = 1 })},
			sources:   map[string]string{"file data": "none"},
			undecided: true,
		},
		{
			name:      "higher LSN decides a record both copies hold intact",
			imgs:      [][]byte{fakefs.Image(func(b []byte) { b[rec(4)+1] = 7 }), fakefs.Image(func(b []byte) { b[rec(4)+1] = 9 })},
			authority: "m1", basis: check.BasisFilesystem, // every range decided: the member those decisions favour
			sources: map[string]string{"$MFT record 4": "m1 lsn"},
		},
		{
			name:      "majority of three",
			imgs:      [][]byte{fakefs.Image(nil), fakefs.Image(func(b []byte) { b[45000] = 1 }), fakefs.Image(nil)},
			authority: "m0", basis: check.BasisFilesystem,
			sources: map[string]string{"file data": "m0 majority"},
		},
		{
			name:      "dirty flag is the weakest evidence",
			imgs:      [][]byte{fakefs.Image(func(b []byte) { b[4094] = 1; b[40000] = 2 }), fakefs.Image(nil)},
			authority: "m0", basis: check.BasisFilesystem,
		},
		{
			name:      "LSNs point both ways: no authority",
			imgs:      [][]byte{fakefs.Image(func(b []byte) { b[rec(1)+1] = 9; b[rec(5)+1] = 1; b[4095] = 9 }), fakefs.Image(func(b []byte) { b[rec(1)+1] = 1; b[rec(5)+1] = 9; b[4095] = 2 })},
			sources:   map[string]string{"$MFT record 1": "m0 lsn", "$MFT record 5": "m1 lsn", "boot sector": "none"},
			undecided: true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, _ := checkFake(t, tt.imgs...)
			if base(r.Authority) != tt.authority || (tt.authority != "" && r.Basis != tt.basis) {
				t.Errorf("authority %q (%s), want %q (%s); reasons %q", base(r.Authority), r.Basis, tt.authority, tt.basis, r.Reasons)
			}
			if (r.Undecided > 0) != tt.undecided {
				t.Errorf("undecided %d bytes, want some: %v", r.Undecided, tt.undecided)
			}
			got := map[string]string{}
			for _, p := range r.Pieces {
				st := p.Owners[0].Structure
				src := "none"
				if p.Source >= 0 {
					src = base(r.Set.Members[p.Source]) + " " + p.Basis
				}
				if p.Reason == "" {
					t.Errorf("%s at %d: no reason", st, p.Offset)
				}
				got[st] = src
			}
			for st, want := range tt.sources {
				if got[st] != want {
					t.Errorf("%s: source %q, want %q (all: %v)", st, got[st], want, got)
				}
			}
		})
	}
}

// TestInterpretOverride: the authority's own copy of a record is torn, so
// that range is taken from the other member and listed as an override.
func TestInterpretOverride(t *testing.T) {
	rec := func(n int) int { return (n + 1) * fakefs.Record }
	r, _ := checkFakePrefer(t, 1, fakefs.Image(func(b []byte) { b[40000] = 1 }), fakefs.Image(func(b []byte) { b[rec(6)] = 'T' }))
	if base(r.Authority) != "m1" || r.Basis != check.BasisUser {
		t.Fatalf("authority %s (%s)", base(r.Authority), r.Basis)
	}
	if len(r.Overrides) != 1 || base(r.Overrides[0].From) != "m0" || r.Overrides[0].Offset != int64(rec(6)) || r.Overrides[0].Basis != check.SourceStructure {
		t.Fatalf("overrides %+v", r.Overrides)
	}
	if !strings.Contains(r.Overrides[0].Reason, "update sequence mismatch") {
		t.Errorf("reason %q does not cite the failed check", r.Overrides[0].Reason)
	}
	if r.Undecided != 0 {
		t.Errorf("undecided %d", r.Undecided)
	}
}

// TestInterpretUnreadableMember: a member whose filesystem does not open
// is not "older" than one whose does; its boot sector range is taken from
// the member that opens, and nothing else is decided.
func TestInterpretUnreadableMember(t *testing.T) {
	bad := fakefs.Image(func(b []byte) { copy(b, "JUNK"); b[40000] = 1 })
	r, _ := checkFake(t, bad, fakefs.Image(func(b []byte) { b[4095] = 9 }))
	if r.Authority != nil {
		t.Errorf("authority %s (%s) from the only readable member; reasons %q", base(r.Authority), r.Basis, r.Reasons)
	}
	for _, p := range r.Pieces {
		want := "none"
		if p.Offset < fakefs.Record { // the fake's boot sector
			want = check.SourceStructure
		}
		if p.Basis != want {
			t.Errorf("piece at %d: basis %s, want %s (%s)", p.Offset, p.Basis, want, p.Reason)
		}
	}
}
