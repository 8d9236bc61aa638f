package batch

import (
	"bytes"
	"testing"

	"github.com/mirrorchk/mirrorchk/internal/fixture"
)

// FuzzReadIdentity: any first sectors give an identity or an error, never
// a panic, and never read past the image. Seeded with the first 64 KiB of
// real images (mkfs.fat FAT16, an sfdisk MBR disk, mkntfs NTFS).
func FuzzReadIdentity(f *testing.F) {
	for _, rel := range []string{"fsmirror/bare-pair/m0.img.zst", "fsmirror/mbr-pair/m0.img.zst", "ntfs/small.img.zst", "fat/small-fat12.img.zst"} {
		b := fixture.MustReadUnzstd(rel)
		f.Add(b[:min(len(b), 2048)])
		if len(b) > 1<<20+1024 {
			f.Add(b[1<<20 : 1<<20+1024]) // an MBR disk's partition boot sector
		}
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		r := &bounded{b: b}
		id, err := ReadIdentity(r, int64(len(b)))
		if err == nil && id.Strong && len(id.Tokens) == 0 {
			t.Fatal("strong identity without tokens")
		}
	})
}

type bounded struct{ b []byte }

func (r *bounded) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 || off+int64(len(p)) > int64(len(r.b)) {
		return 0, bytes.ErrTooLarge
	}
	return copy(p, r.b[off:]), nil
}

// FuzzManifest: any manifest gives rows or a ManifestError, never a panic.
func FuzzManifest(f *testing.F) {
	f.Add([]byte("image,case,set,hive,member,serial,prefer\na.img,c,s,H,1:2,SN,true\n"))
	f.Add([]byte("{\"image\": \"a.img\", \"prefer\": true}\n"))
	f.Add([]byte("\ufeffimage\n\"a,b\".img\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		rows, err := parseManifest("/cases/m.csv", b)
		if err == nil {
			for _, r := range rows {
				if r.Path == "" {
					t.Fatal("a row without image")
				}
			}
		}
	})
}
