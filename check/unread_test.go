package check_test

import (
	"bytes"
	"context"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/mirrorchk/mirrorchk/check"
	"github.com/mirrorchk/mirrorchk/image"
	"github.com/mirrorchk/mirrorchk/internal/fixture"
	"github.com/mirrorchk/mirrorchk/set"
)

// mdHoles opens the real md pair of dir with the given data-area ranges of
// each member zeroed (as ddrescue leaves them) and declared unreadable,
// checks it, and returns the result and the untouched images.
func mdHoles(t *testing.T, dir string, holes [2][]check.Extent) (*check.Result, [2][]byte) {
	t.Helper()
	tmp := t.TempDir()
	var orig [2][]byte
	var ims []*image.Image
	opt := check.Options{Unreadable: map[int][]check.Extent{}, UnreadableFrom: map[int]string{}}
	for i, n := range []string{"m0", "m1"} {
		path := fixture.UnzstdTo(t, dir+"/"+n+".img.zst", tmp)
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		orig[i] = bytes.Clone(b)
		const dataOff = 2048 * 512 // every md-1.2 fixture member
		var img []check.Extent
		for _, h := range holes[i] {
			clear(b[dataOff+h.Off : dataOff+h.End()])
			img = append(img, check.Extent{Off: dataOff + h.Off, Len: h.Len})
		}
		if err := os.WriteFile(path, b, 0o644); err != nil {
			t.Fatal(err)
		}
		im, err := image.Open(path)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { im.Close() })
		ims = append(ims, im)
		opt.Unreadable[i], opt.UnreadableFrom[i] = img, n+".img.map"
	}
	sets, _, err := set.Group(ims)
	if err != nil || len(sets) != 1 {
		t.Fatalf("group: %v (%d sets)", err, len(sets))
	}
	res, err := check.Check(context.Background(), sets[0], opt)
	if err != nil {
		t.Fatal(err)
	}
	return res, orig
}

type salv struct {
	off, n int64
	from   int // -1 lost
	basis  string
}

func salvages(r *check.Result) []salv {
	var out []salv
	for _, s := range r.Salvages {
		out = append(out, salv{s.Offset, s.Length, s.From, s.Basis})
	}
	return out
}

func hasCode(ps []set.Problem, code string) bool {
	return slices.ContainsFunc(ps, func(p set.Problem) bool { return p.Code == code })
}

// The current member m0 of a real md pair with a write-intent bitmap came
// off a failing disk; the stale m1 is readable. Holes outside the bitmap's
// dirty chunks are recovered from m1 (its copy is current there); holes
// in dirty chunks are lost, even past the bytes actually written (the
// bitmap cannot tell); bytes neither member read are lost; holes of m1
// alone are taken from the authority m0.
func TestUnreadMDBitmap(t *testing.T) {
	const chunk = 64 << 10
	holes := [2][]check.Extent{
		{{Off: 2 * chunk, Len: 4096}, {Off: 3 * chunk, Len: 4096}, {Off: 16*chunk + 0x1000, Len: 1024}, {Off: 63*chunk + 8192, Len: 512}},
		{{Off: 3*chunk + 2048, Len: 4096}},
	}
	r, orig := mdHoles(t, "md/md-1.2/c-stale-member-bitmap", holes)
	want := []salv{
		{2 * chunk, 4096, 1, check.SalvageBitmap},
		{3 * chunk, 2048, 1, check.SalvageBitmap},
		{3*chunk + 2048, 2048, -1, check.SalvageLost},
		{3*chunk + 4096, 2048, 0, check.SalvageAuthority},
		{16*chunk + 0x1000, 1024, -1, check.SalvageLost},
		{63*chunk + 8192, 512, -1, check.SalvageLost},
	}
	if got := salvages(r); !slices.Equal(got, want) {
		t.Fatalf("salvages\n%v\nwant\n%v", got, want)
	}
	if r.RecoveredBytes != 8192 || r.LostBytes != 2048+1024+512 || r.RecoveredTotal != 3 || r.LostTotal != 3 {
		t.Errorf("recovered %d in %d, lost %d in %d", r.RecoveredBytes, r.RecoveredTotal, r.LostBytes, r.LostTotal)
	}
	// What the bitmap vouches for is true: m1's copy equals m0's truth.
	const dataOff = 1 << 20
	for _, s := range r.Salvages {
		if s.Basis != check.SalvageBitmap {
			continue
		}
		a := orig[0][dataOff+s.Offset : dataOff+s.Offset+s.Length]
		b := orig[1][dataOff+s.Offset : dataOff+s.Offset+s.Length]
		if !bytes.Equal(a, b) {
			t.Errorf("range %#x: m1's copy vouched by the bitmap differs from m0's truth", s.Offset)
		}
		if !strings.Contains(s.Reason, "outside every dirty chunk") {
			t.Errorf("reason %q", s.Reason)
		}
	}
	// The lost range in chunk 16 really was written after the split: m1's
	// copy there is not m0's.
	lo := dataOff + 16*chunk + 0x1000
	if bytes.Equal(orig[0][lo:lo+1024], orig[1][lo:lo+1024]) {
		t.Error("fixture: chunk 16 not rewritten after the split")
	}
	// The holes are neither equal nor different: the divergence is the
	// fixture's own, minus the bytes m0 could not read.
	if r.Diff.Bytes != 274432-1024-0 {
		t.Errorf("differing bytes %d", r.Diff.Bytes)
	}
	if r.Authority == nil || !strings.HasSuffix(r.Authority.Path(), "m0.img") || r.Verdict != check.Diverged {
		t.Errorf("authority %v verdict %s", r.Authority, r.Verdict)
	}
	if !hasCode(r.Problems, "data-lost") || !hasCode(r.Problems, "unreadable") {
		t.Errorf("problems %v", r.Problems)
	}
	if u := r.Unread[0]; u.Bytes != 4096*2+1024+512 || u.DeclaredBytes != u.Bytes || u.Ranges != 4 || u.List[0].Volume != 2*chunk || u.List[0].Cause != check.CauseDeclared {
		t.Errorf("m0 unreadable %+v", u)
	}
}

// Without a bitmap nothing vouches for the stale member's copy: every
// hole of the current member is lost; holes of the stale member are
// recovered from the authority.
func TestUnreadMDNoBitmap(t *testing.T) {
	holes := [2][]check.Extent{
		{{Off: 0x20000, Len: 4096}},
		{{Off: 0x40000, Len: 512}},
	}
	r, _ := mdHoles(t, "md/md-1.2/b-stale-member", holes)
	want := []salv{{0x20000, 4096, -1, check.SalvageLost}, {0x40000, 512, 0, check.SalvageAuthority}}
	if got := salvages(r); !slices.Equal(got, want) {
		t.Fatalf("salvages %v, want %v", got, want)
	}
	if !strings.Contains(r.Lost[0].Reason, "no evidence shows that copy current") {
		t.Errorf("reason %q", r.Lost[0].Reason)
	}
}

// A clean pair: the metadata says the members are in sync, so either copy
// serves; the set is degraded, not consistent.
func TestUnreadMDClean(t *testing.T) {
	holes := [2][]check.Extent{{{Off: 0x1000, Len: 1024}}, {{Off: 0x9000, Len: 512}}}
	r, _ := mdHoles(t, "md/md-1.2/a-clean", holes)
	want := []salv{{0x1000, 1024, 1, check.SalvageInSync}, {0x9000, 512, 0, check.SalvageAuthority}}
	if got := salvages(r); !slices.Equal(got, want) {
		t.Fatalf("salvages %v, want %v", got, want)
	}
	if r.Verdict != check.Degraded || r.LostBytes != 0 {
		t.Errorf("verdict %s lost %d", r.Verdict, r.LostBytes)
	}
}

// Regression (fuzz, FuzzFTGroup): an NT FT set none of whose members is
// among the inputs has no members; checking it is no error (Diff of no
// sources was one, so the whole scan stopped with exit 8).
func TestCheckSetWithoutMembers(t *testing.T) {
	r, err := check.Check(context.Background(), &set.Set{ID: "ft-mirror-0", Format: "ftdisk", Level: "raid1"}, check.Options{})
	if err != nil || r.Verdict != check.Unknown || r.Diff == nil || len(r.Unread) != 0 {
		t.Fatalf("Check = %+v, %v", r, err)
	}
}
