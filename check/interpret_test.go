package check_test

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mirrorchk/mirrorchk/check"
	"github.com/mirrorchk/mirrorchk/fs"
	"github.com/mirrorchk/mirrorchk/image"
	"github.com/mirrorchk/mirrorchk/set"
)

// The fake filesystem used here: 64 KiB; bytes 0-4095 "boot sector",
// then eight 4 KiB "$MFT record N" (N = 0..7) whose first byte is 'G'
// (fixups hold) or 'T' (torn) and whose second byte is the record's LSN,
// then "file data" of /f. Byte 4095 of the boot sector is the volume's
// latest timestamp in days, byte 4094 its dirty flag.
const (
	fakeSize   = 64 << 10
	fakeRecord = 4096
)

type fakeVol struct{ r io.ReaderAt }

func fakeOpen(r io.ReaderAt, size int64) (fs.Volume, error) {
	b := make([]byte, 4)
	if _, err := r.ReadAt(b, 0); err != nil || string(b) != "FAKE" {
		return nil, fmt.Errorf("not fake")
	}
	return fakeVol{r}, nil
}

func (v fakeVol) Type() string { return "ntfs" }
func (v fakeVol) Size() int64  { return fakeSize }

func (v fakeVol) owner(off int64) (fs.Owner, int64) {
	switch {
	case off < fakeRecord:
		return fs.Owner{FS: "ntfs", Structure: fs.BootSector, Record: -1, Cluster: 0}, fakeRecord
	case off < 9*fakeRecord:
		n := off/fakeRecord - 1
		return fs.Owner{FS: "ntfs", Structure: fmt.Sprintf("$MFT record %d", n), Record: n, Cluster: off / fakeRecord}, (n + 2) * fakeRecord
	default:
		return fs.Owner{FS: "ntfs", Structure: fs.FileData, Path: "/f", Record: 8, Cluster: off / fakeRecord}, fakeSize
	}
}

func (v fakeVol) Owners(off, n int64) []fs.Extent {
	var out []fs.Extent
	for end := off + n; off < end; {
		o, stop := v.owner(off)
		stop = min(stop, end)
		out = append(out, fs.Extent{Off: off, Len: stop - off, Owner: o})
		off = stop
	}
	return out
}

func (v fakeVol) Judge(off, n int64) fs.Judgement {
	if off < fakeRecord {
		return fs.Judgement{Intact: 1, Reason: "boot sector validates"}
	}
	if off >= 9*fakeRecord {
		return fs.Judgement{}
	}
	j := fs.Judgement{Intact: 1}
	for r := off / fakeRecord; r*fakeRecord < off+n; r++ {
		b := make([]byte, 2)
		v.r.ReadAt(b, r*fakeRecord)
		if b[0] == 'T' {
			return fs.Judgement{Intact: -1, Reason: fmt.Sprintf("$MFT record %d: update sequence mismatch", r-1)}
		}
		j.LSN = max(j.LSN, uint64(b[1]))
		j.Reason = fmt.Sprintf("$MFT record %d: fixups hold", r-1)
	}
	return j
}

func (v fakeVol) Problems() []fs.Problem { return nil }

func (v fakeVol) Evidence() fs.Evidence {
	b := make([]byte, 2)
	v.r.ReadAt(b, 4094)
	dirty := b[0] == 1
	e := fs.Evidence{Dirty: &dirty, FreeClusters: -1}
	if b[1] > 0 {
		e.Latest = time.Date(2026, 1, int(b[1]), 0, 0, 0, 0, time.UTC)
	}
	return e
}

// fakeImage returns a fake volume image: every record intact with LSN 0,
// file data zero, then edit applied.
func fakeImage(edit func(b []byte)) []byte {
	b := make([]byte, fakeSize)
	copy(b, "FAKE")
	for r := 1; r <= 8; r++ {
		b[r*fakeRecord] = 'G'
	}
	if edit != nil {
		edit(b)
	}
	return b
}

func checkFake(t *testing.T, imgs ...[]byte) (*check.Result, []*os.File) {
	return checkFakePrefer(t, -1, imgs...)
}

func checkFakePrefer(t *testing.T, prefer int, imgs ...[]byte) (*check.Result, []*os.File) {
	t.Helper()
	dir := t.TempDir()
	var ims []*image.Image
	for i, b := range imgs {
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
	opt := check.Options{Openers: []check.Opener{{Name: "fake", Open: fakeOpen}}}
	if prefer >= 0 {
		opt.Prefer = sets[0].Members[prefer]
	}
	r, err := check.Check(context.Background(), sets[0], opt)
	if err != nil {
		t.Fatal(err)
	}
	return r, nil
}

func base(m *set.Member) string {
	if m == nil {
		return ""
	}
	return strings.TrimSuffix(filepath.Base(m.Path()), ".img")
}

func TestInterpretBare(t *testing.T) {
	rec := func(n int) int { return (n + 1) * fakeRecord }
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
			imgs:      [][]byte{fakeImage(nil), fakeImage(func(b []byte) { b[rec(3)] = 'T'; b[rec(3)+100] = 9 })},
			authority: "m0", basis: check.BasisFilesystem,
			sources: map[string]string{"$MFT record 3": "m0 structure"},
		},
		{
			name: "torn copy on the member the evidence calls newer",
			imgs: [][]byte{fakeImage(func(b []byte) { b[4095] = 5 }), fakeImage(func(b []byte) { b[4095] = 9; b[rec(2)] = 'T'; b[50000] = 1 })},
			// m0's intact copy is older: it does not replace the authority's,
			// which is kept and said (authority-copy-fails).
			authority: "m1", basis: check.BasisFilesystem,
			sources: map[string]string{"$MFT record 2": "m1 set-authority", "file data": "m1 set-authority", "boot sector": "m1 set-authority"},
		},
		{
			name:      "newer timestamps make the authority",
			imgs:      [][]byte{fakeImage(func(b []byte) { b[4095] = 3 }), fakeImage(func(b []byte) { b[4095] = 7; b[40000] = 1 })},
			authority: "m1", basis: check.BasisFilesystem,
			sources: map[string]string{"file data": "m1 set-authority"},
		},
		{
			name:      "no evidence: undecided",
			imgs:      [][]byte{fakeImage(nil), fakeImage(func(b []byte) { b[40000] = 1 })},
			sources:   map[string]string{"file data": "none"},
			undecided: true,
		},
		{
			name:      "higher LSN decides a record both copies hold intact",
			imgs:      [][]byte{fakeImage(func(b []byte) { b[rec(4)+1] = 7 }), fakeImage(func(b []byte) { b[rec(4)+1] = 9 })},
			authority: "m1", basis: check.BasisFilesystem, // every range decided: the member those decisions favour
			sources: map[string]string{"$MFT record 4": "m1 lsn"},
		},
		{
			name:      "majority of three",
			imgs:      [][]byte{fakeImage(nil), fakeImage(func(b []byte) { b[45000] = 1 }), fakeImage(nil)},
			authority: "m0", basis: check.BasisFilesystem,
			sources: map[string]string{"file data": "m0 majority"},
		},
		{
			name:      "dirty flag is the weakest evidence",
			imgs:      [][]byte{fakeImage(func(b []byte) { b[4094] = 1; b[40000] = 2 }), fakeImage(nil)},
			authority: "m0", basis: check.BasisFilesystem,
		},
		{
			name:      "LSNs point both ways: no authority",
			imgs:      [][]byte{fakeImage(func(b []byte) { b[rec(1)+1] = 9; b[rec(5)+1] = 1; b[4095] = 9 }), fakeImage(func(b []byte) { b[rec(1)+1] = 1; b[rec(5)+1] = 9; b[4095] = 2 })},
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
	rec := func(n int) int { return (n + 1) * fakeRecord }
	r, _ := checkFakePrefer(t, 1, fakeImage(func(b []byte) { b[40000] = 1 }), fakeImage(func(b []byte) { b[rec(6)] = 'T' }))
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
	bad := fakeImage(func(b []byte) { copy(b, "JUNK"); b[40000] = 1 })
	r, _ := checkFake(t, bad, fakeImage(func(b []byte) { b[4095] = 9 }))
	if r.Authority != nil {
		t.Errorf("authority %s (%s) from the only readable member; reasons %q", base(r.Authority), r.Basis, r.Reasons)
	}
	for _, p := range r.Pieces {
		want := "none"
		if p.Offset < fakeRecord { // the fake's boot sector
			want = check.SourceStructure
		}
		if p.Basis != want {
			t.Errorf("piece at %d: basis %s, want %s (%s)", p.Offset, p.Basis, want, p.Reason)
		}
	}
}
