package check_test

import (
	"context"
	"encoding/binary"
	"testing"

	"github.com/mirrorchk/mirrorchk/check"
	"github.com/mirrorchk/mirrorchk/internal/fakefs"
	"github.com/mirrorchk/mirrorchk/internal/fixture"
)

// FuzzCheckFilesystems runs the whole check, with the real FAT and NTFS
// readers, over a real image and a copy damaged by the fuzz input (pairs
// of a 32-bit offset and a byte). It must not panic, and the pieces must
// account for every differing byte, each with a reason.
func FuzzCheckFilesystems(f *testing.F) {
	seeds := [][]byte{
		fixture.ReadUnzstd(f, "fat/small-fat12.img.zst"),
		fixture.ReadUnzstd(f, "ntfs/win2008r2-mirror.img.zst")[:2<<20], // boot, $MFT and more; cut short
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
		s := fakefs.Group(t, fakefs.Write(t, base, damaged)...)
		r, err := check.Check(context.Background(), s, check.Options{})
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
