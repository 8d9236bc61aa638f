package check_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/mirrorchk/mirrorchk/check"
	"github.com/mirrorchk/mirrorchk/internal/fakefs"
	"github.com/mirrorchk/mirrorchk/internal/fixture"
)

// FuzzCheckFilesystems runs the whole check, with the real FAT and NTFS
// readers, over a real image and a copy damaged by the fuzz input (pairs
// of a 32-bit offset and a byte). It must not panic, and the pieces must
// account for every differing byte, each with a reason.
//
// The images are small (256 KiB each: the whole FAT12 fixture, and the
// Windows NTFS volume cut to 256 KiB with the start of its $MFT moved
// inside), written once per input into one directory per process, and
// diffed in 64 KiB chunks, so that an input costs about a millisecond.
func FuzzCheckFilesystems(f *testing.F) {
	seeds := [][]byte{
		fixture.ReadUnzstd(f, "fat/small-fat12.img.zst"),
		shrinkNTFS(fixture.ReadUnzstd(f, "ntfs/win2008r2-mirror.img.zst"), 256<<10, 8),
	}
	dir := f.TempDir()
	var bases []string // each seed written once, as the intact member
	for i, b := range seeds {
		p := filepath.Join(dir, fmt.Sprintf("base%d.img", i))
		if err := os.WriteFile(p, b, 0o644); err != nil {
			f.Fatal(err)
		}
		bases = append(bases, p)
	}
	for i := range seeds {
		f.Add(uint8(i), []byte{0x0b, 0, 0, 0, 0xff})                // bytes per sector
		f.Add(uint8(i), []byte{0x00, 0x42, 0, 0, 0x00, 0x10, 0x42}) // somewhere in the metadata
	}
	f.Fuzz(func(t *testing.T, which uint8, edits []byte) {
		base := seeds[int(which)%len(seeds)]
		damaged := append([]byte(nil), base...)
		for len(edits) >= 5 {
			off := int(binary.LittleEndian.Uint32(edits) % uint32(len(damaged)))
			damaged[off] = edits[4]
			edits = edits[5:]
		}
		paths := []string{bases[int(which)%len(seeds)], filepath.Join(dir, "m1.img")}
		if err := os.WriteFile(paths[1], damaged, 0o644); err != nil {
			t.Fatal(err)
		}
		s := fakefs.Group(t, paths...)
		r, err := check.Check(context.Background(), s, check.Options{ChunkSize: 64 << 10})
		if err != nil {
			t.Fatal(err)
		}
		var sum int64
		for _, p := range r.Pieces {
			sum += p.Length
			if p.Reason == "" || len(p.Owners) != 2 {
				t.Fatalf("piece %+v", p)
			}
		}
		if r.PiecesTotal == int64(len(r.Pieces)) && sum != r.Diff.Bytes {
			t.Fatalf("pieces hold %d bytes, the diff %d", sum, r.Diff.Bytes)
		}
	})
}

// shrinkNTFS cuts an NTFS image to its first n bytes as a volume of its
// own: total sectors patched, the first 64 KiB of $MFT moved to cluster
// mftTo, the boot sector copied to the last sector as the backup. The
// records' runs still point where they did, most now past the volume.
func shrinkNTFS(img []byte, n, mftTo int64) []byte {
	b := make([]byte, n)
	copy(b, img[:n])
	le := binary.LittleEndian
	bps := int64(le.Uint16(b[0x0B:]))
	cs := int64(b[0x0D]) * bps
	le.PutUint64(b[0x28:], uint64(n/bps-1))
	from := int64(le.Uint64(b[0x30:])) * cs
	copy(b[mftTo*cs:], img[from:from+64<<10])
	le.PutUint64(b[0x30:], uint64(mftTo))
	copy(b[n-bps:], b[:512])
	return b
}

// TestFuzzSeedsOpen: the cut-down seeds of FuzzCheckFilesystems still
// open as their filesystems, so the fuzzer starts from real structures.
func TestFuzzSeedsOpen(t *testing.T) {
	for want, img := range map[string][]byte{
		"fat12": fixture.ReadUnzstd(t, "fat/small-fat12.img.zst"),
		"ntfs":  shrinkNTFS(fixture.ReadUnzstd(t, "ntfs/win2008r2-mirror.img.zst"), 256<<10, 8),
	} {
		l, err := check.ReadLayout(bytes.NewReader(img), int64(len(img)), 512, check.DefaultOpeners)
		if err != nil || len(l.Volumes) != 1 || l.Volumes[0].Vol.Type() != want {
			t.Errorf("%s seed: layout %+v, %v", want, l, err)
		}
	}
}
