package set_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/mirrorchk/mirrorchk/check"
	"github.com/mirrorchk/mirrorchk/image"
	"github.com/mirrorchk/mirrorchk/internal/fixture"
	"github.com/mirrorchk/mirrorchk/repair"
	"github.com/mirrorchk/mirrorchk/set"
)

// metaBlock is the part of a 1.2 member the fuzzer mutates: the superblock
// at byte 4096 and the bitmap after it.
const (
	metaOff  = 4096
	metaLen  = 8192
	imgBytes = 8 << 20
)

// FuzzGroupDecide runs the whole judgement (grouping, claims, diff,
// decision, repair plan) on two members whose metadata blocks are fuzzed,
// seeded from the real kernel-written fixtures. The images are sparse 8 MiB
// files holding only the fuzzed blocks, so an iteration is cheap.
func FuzzGroupDecide(f *testing.F) {
	for _, dir := range []string{"a-clean", "b-stale-member", "c-stale-member-bitmap"} {
		m0 := fixture.ReadUnzstd(f, "md/md-1.2/"+dir+"/m0.img.zst")
		m1 := fixture.ReadUnzstd(f, "md/md-1.2/"+dir+"/m1.img.zst")
		f.Add(m0[metaOff:metaOff+metaLen], m1[metaOff:metaOff+metaLen], uint16(0))
	}
	// One directory for every input of this process: the files are
	// rewritten each time (a directory per input costs more than the check).
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, a, b []byte, flip uint16) { groupDecide(t, dir, a, b, flip) })
}

// groupDecide is one FuzzGroupDecide iteration, with the images in dir.
func groupDecide(t testing.TB, dir string, a, b []byte, flip uint16) {
	var ims []*image.Image
	for i, blk := range [][]byte{a, b} {
		p := filepath.Join(dir, []string{"m0.img", "m1.img"}[i])
		fh, err := os.Create(p)
		if err != nil {
			t.Fatal(err)
		}
		fh.Truncate(imgBytes)
		fh.WriteAt(blk[:min(len(blk), metaLen)], metaOff)
		// A data difference somewhere in the data area.
		if i == 1 && flip != 0 {
			fh.WriteAt([]byte{byte(flip)}, 1<<20+int64(flip)*64)
		}
		fh.Close()
		im, err := image.Open(p)
		if err != nil {
			t.Fatal(err)
		}
		defer im.Close()
		ims = append(ims, im)
	}
	sets, _, err := set.Group(ims)
	if err != nil {
		t.Fatalf("Group: %v", err) // only I/O errors are errors; these files read fine
	}
	for _, s := range sets {
		if s.DataSize < 0 || s.DataSize > imgBytes {
			t.Fatalf("data size %d", s.DataSize)
		}
		res, err := check.Check(context.Background(), s, check.Options{MaxRanges: 16, ChunkSize: 64 << 10})
		if err != nil {
			t.Fatalf("Check: %v", err)
		}
		switch res.Verdict {
		case check.Consistent, check.Diverged, check.SplitBrain, check.Degraded, check.Unknown:
		default:
			t.Fatalf("verdict %q", res.Verdict)
		}
		if res.Authority != nil && res.Verdict == check.SplitBrain {
			t.Fatalf("split brain with authority %s", res.Authority.Path())
		}
		// NewPlan touches no file: the directory need not be new.
		if p, err := repair.NewPlan(res, dir); err == nil && p.Needed && p.Source == nil {
			t.Fatalf("repair needed without a source")
		}
	}
}

// BenchmarkGroupDecide measures one FuzzGroupDecide iteration on the
// stale-member-with-bitmap seed: what the fuzzer pays per input.
func BenchmarkGroupDecide(b *testing.B) {
	m0 := fixture.ReadUnzstd(b, "md/md-1.2/c-stale-member-bitmap/m0.img.zst")
	m1 := fixture.ReadUnzstd(b, "md/md-1.2/c-stale-member-bitmap/m1.img.zst")
	for b.Loop() {
		groupDecide(b, b.TempDir(), m0[metaOff:metaOff+metaLen], m1[metaOff:metaOff+metaLen], 3)
	}
}
