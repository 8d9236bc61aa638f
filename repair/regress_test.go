package repair

// Regression tests from a review: each once demonstrated a defect (its
// comment says which) and now guards the fix.

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mirrorchk/mirrorchk/check"
	"github.com/mirrorchk/mirrorchk/internal/fakefs"
	"github.com/mirrorchk/mirrorchk/internal/fixture"
	"github.com/mirrorchk/mirrorchk/set"
)

func rvCheck(t *testing.T, prefer int, imgs ...[]byte) *check.Result {
	return fakefs.Check(t, prefer, imgs...)
}

// TestRegressRangesTotalWithOverrides: Output.RangesTotal starts from
// PairRanges (diff ranges) but NewPlan adjusts it by one per Override,
// and overrides are pieces (diff ranges split at owner boundaries). One
// diff range spanning the end of $MFT record 3 and the start of record 4,
// both torn on the preferred m1, is one range but two overrides: m0's
// output gets RangesTotal = 2 - 3 = -1. Output.Ranges lists pieces, so
// RangesTotal (ranges) and Ranges (pieces) count different things even
// without overrides.
func TestRegressRangesTotalWithOverrides(t *testing.T) {
	rec := func(n int) int { return (n + 1) * fakefs.Record }
	m0 := fakefs.Image(nil)
	m1 := fakefs.Image(func(b []byte) {
		b[rec(3)] = 'T' // first sector of record 3: its own diff range
		b[rec(4)-1] = 1 // last sector of record 3 ...
		b[rec(4)] = 'T' // ... and first of record 4: one diff range, two pieces
	})
	r := rvCheck(t, 1, m0, m1)
	if len(r.Overrides) != 3 {
		t.Fatalf("setup: %d overrides, want 3 (%+v)", len(r.Overrides), r.Overrides)
	}
	p, err := NewPlan(r, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range p.Outputs {
		if o.RangesTotal < 0 || o.RangesTotal < int64(len(o.Ranges)) {
			t.Errorf("%s: RangesTotal %d, %d ranges listed, %d bytes copied", filepath.Base(o.Member.Path()), o.RangesTotal, len(o.Ranges), o.BytesCopied)
		}
	}
}

// TestRegressRangesTotalPieces: without any override, a diff range that
// crosses an owner boundary is listed as two pieces in Output.Ranges
// while RangesTotal counts it once: the report says "1 range" and lists 2.
func TestRegressRangesTotalPieces(t *testing.T) {
	m0 := fakefs.Image(nil)
	m1 := fakefs.Image(func(b []byte) { b[fakefs.Record-1] = 1; b[fakefs.Record+1] = 5 }) // boot sector end + record 0 start
	r := rvCheck(t, 0, m0, m1)
	p, err := NewPlan(r, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range p.Outputs {
		if o.RangesTotal < int64(len(o.Ranges)) {
			t.Errorf("%s: RangesTotal %d < %d ranges listed", filepath.Base(o.Member.Path()), o.RangesTotal, len(o.Ranges))
		}
	}
}

// TestRegressFATTwinRepairVerifiedButBroken: the bare-pair FAT16 case (m0
// stale, m1 fresh) with one rotted byte in m1's FAT 2, repaired with
// --prefer m1. Nothing may come from the stale m0 (it once took both FAT
// copies' sectors from it, and fsck.fat found m1's directories over m0's
// old chains). m1's rotted FAT 2 has no current intact copy, so it is kept
// and said (authority-copy-fails): fsck.fat -n then finds only that the
// FAT copies differ, and uses the first, which is right.
func TestRegressFATTwinRepairVerifiedButBroken(t *testing.T) {
	fsck := fixture.Tool(t, "fsck.fat", "dosfstools")
	dir := t.TempDir()
	var paths []string
	for _, n := range []string{"m0", "m1"} {
		paths = append(paths, fixture.UnzstdTo(t, "fsmirror/bare-pair/"+n+".img.zst", dir))
	}
	f, err := os.OpenFile(paths[1], os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	b := make([]byte, 1)
	f.ReadAt(b, 18432+600) // FAT 2 (FAT16, 4 reserved sectors, 32-sector FATs)
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
	out := t.TempDir()
	p, err := NewPlan(r, out)
	if err != nil {
		t.Fatal(err)
	}
	if err := Write(context.Background(), p, Options{}); err != nil {
		t.Fatal(err)
	}
	for _, o := range r.Overrides {
		t.Errorf("override at %d from %s: %s", o.Offset, o.From.Path(), o.Reason)
	}
	kept := false
	for _, pr := range r.Problems {
		kept = kept || pr.Code == "authority-copy-fails"
	}
	if !kept {
		t.Errorf("no authority-copy-fails problem: %+v", r.Problems)
	}
	for _, o := range p.Outputs {
		if !o.Verified {
			t.Fatalf("%s not verified", o.Path)
		}
		if !strings.Contains(strings.Join(o.FSProblems, "\n"), "fat-copies-differ") {
			t.Errorf("%s: the written image's own check does not report the differing FAT copies: %q", o.Path, o.FSProblems)
		}
		outb, _ := exec.Command(fsck, "-n", o.Path).CombinedOutput()
		for _, line := range strings.Split(string(outb), "\n") {
			line = strings.TrimSpace(line)
			switch {
			case line == "", strings.HasPrefix(line, "fsck.fat "), line == "FATs differ but appear to be intact.", line == "Using first FAT.",
				line == "Leaving filesystem unchanged.", strings.HasPrefix(line, o.Path+":"):
			default:
				t.Errorf("%s: fsck.fat -n says %q:\n%s", filepath.Base(o.Path), line, outb)
			}
		}
	}
}
