// Package fakefs is a filesystem small enough to reason about in tests of
// check and repair: every structure, judgement and piece of evidence is
// set by a byte of the image. Imported only by _test.go files.
//
// Layout (Size bytes): bytes 0-4095 the boot sector, starting "FAKE";
// then eight Record-byte "$MFT record N" (N = 0..7) whose first byte is
// 'G' (fixups hold) or 'T' (torn) and whose second byte is the record's
// LSN (kept for a torn record too, as fs/ntfs does); then "file data" of
// /f. Byte 4094 is the dirty flag (1 = dirty), byte 4095 the latest
// directory timestamp as a day of January 2026 (0 = none).
package fakefs

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/mirrorchk/mirrorchk/check"
	"github.com/mirrorchk/mirrorchk/fs"
	"github.com/mirrorchk/mirrorchk/image"
	"github.com/mirrorchk/mirrorchk/set"
)

// Sizes of the fake volume.
const (
	Size   = 64 << 10
	Record = 4096
)

// Volume is an opened fake volume.
type Volume struct{ r io.ReaderAt }

// Open opens r as a fake volume, failing unless it starts "FAKE".
func Open(r io.ReaderAt, size int64) (fs.Volume, error) {
	b := make([]byte, 4)
	if _, err := r.ReadAt(b, 0); err != nil || string(b) != "FAKE" {
		return nil, fmt.Errorf("not fake")
	}
	return Volume{r}, nil
}

// Image returns a fake volume image, every record intact with LSN 0, after
// edit (which may be nil).
func Image(edit func(b []byte)) []byte {
	b := make([]byte, Size)
	copy(b, "FAKE")
	for r := 1; r <= 8; r++ {
		b[r*Record] = 'G'
	}
	if edit != nil {
		edit(b)
	}
	return b
}

// Rec is the offset of "$MFT record n".
func Rec(n int) int { return (n + 1) * Record }

func (v Volume) Type() string { return "ntfs" }
func (v Volume) Size() int64  { return Size }

func (v Volume) owner(off int64) (fs.Owner, int64) {
	switch {
	case off < Record:
		return fs.Owner{FS: "ntfs", Structure: fs.BootSector, Record: -1, Cluster: 0}, Record
	case off < 9*Record:
		n := off/Record - 1
		return fs.Owner{FS: "ntfs", Structure: fmt.Sprintf("$MFT record %d", n), Record: n, Cluster: off / Record}, (n + 2) * Record
	default:
		return fs.Owner{FS: "ntfs", Structure: fs.FileData, Path: "/f", Record: 8, Cluster: off / Record}, Size
	}
}

// Owners implements fs.Volume.
func (v Volume) Owners(off, n int64) []fs.Extent {
	var out []fs.Extent
	for end := off + n; off < end; {
		o, stop := v.owner(off)
		stop = min(stop, end)
		out = append(out, fs.Extent{Off: off, Len: stop - off, Owner: o})
		off = stop
	}
	return out
}

// Judge implements fs.Volume: the boot sector validates, records by their
// first byte, file data carries no evidence.
func (v Volume) Judge(off, n int64) fs.Judgement {
	if off < Record {
		return fs.Judgement{Intact: 1, Reason: "boot sector validates"}
	}
	if off >= 9*Record {
		return fs.Judgement{}
	}
	j := fs.Judgement{Intact: 1}
	for r := off / Record; r*Record < off+n; r++ {
		b := make([]byte, 2)
		v.r.ReadAt(b, r*Record)
		j.LSN = max(j.LSN, uint64(b[1]))
		if b[0] == 'T' {
			j.Intact, j.Reason = -1, fmt.Sprintf("$MFT record %d: update sequence mismatch", r-1)
			continue
		}
		if j.Intact > 0 {
			j.Reason = fmt.Sprintf("$MFT record %d: fixups hold", r-1)
		}
	}
	return j
}

// Problems implements fs.Volume: none.
func (v Volume) Problems() []fs.Problem { return nil }

// Evidence implements fs.Volume from bytes 4094 and 4095.
func (v Volume) Evidence() fs.Evidence {
	b := make([]byte, 2)
	v.r.ReadAt(b, 4094)
	dirty := b[0] == 1
	e := fs.Evidence{Dirty: &dirty, FreeClusters: -1}
	if b[1] > 0 {
		e.Latest = time.Date(2026, 1, int(b[1]), 0, 0, 0, 0, time.UTC)
	}
	return e
}

// Write writes imgs as m0.img, m1.img, … into a new temporary directory,
// read-only, and returns their paths.
func Write(tb testing.TB, imgs ...[]byte) []string {
	tb.Helper()
	dir := tb.TempDir()
	var paths []string
	for i, b := range imgs {
		p := filepath.Join(dir, fmt.Sprintf("m%d.img", i))
		if err := os.WriteFile(p, b, 0o444); err != nil {
			tb.Fatal(err)
		}
		paths = append(paths, p)
	}
	return paths
}

// Group opens paths read-only (closed when the test ends) and groups them
// into the one set they must form.
func Group(tb testing.TB, paths ...string) *set.Set {
	tb.Helper()
	var ims []*image.Image
	for _, p := range paths {
		im, err := image.Open(p)
		if err != nil {
			tb.Fatal(err)
		}
		tb.Cleanup(func() { im.Close() })
		ims = append(ims, im)
	}
	sets, _, err := set.Group(ims)
	if err != nil || len(sets) != 1 {
		tb.Fatalf("group: %v, %d sets", err, len(sets))
	}
	return sets[0]
}

// Check writes imgs, groups them and checks the set with this package's
// Open as the only filesystem reader; prefer is the index of the member
// named by --prefer, or -1.
func Check(tb testing.TB, prefer int, imgs ...[]byte) *check.Result {
	tb.Helper()
	s := Group(tb, Write(tb, imgs...)...)
	opt := check.Options{Openers: []check.Opener{{Name: "fake", Open: Open}}}
	if prefer >= 0 {
		opt.Prefer = s.Members[prefer]
	}
	r, err := check.Check(context.Background(), s, opt)
	if err != nil {
		tb.Fatal(err)
	}
	return r
}
