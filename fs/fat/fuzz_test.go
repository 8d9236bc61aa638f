package fat

import (
	"bytes"
	"encoding/binary"
	"errors"
	"testing"

	"github.com/mirrorchk/mirrorchk/internal/fixture"
)

// fuzzSeeds are small images, since the fuzzer minimizes whole inputs:
// the start of the committed FAT12 image, and each built image compacted
// to a few KiB of FAT (see compact), plus those with a chain loop.
func fuzzSeeds(f *testing.F) [][]byte {
	small := fixture.ReadUnzstd(f, "fat/small-fat12.img.zst")
	seeds := [][]byte{small[:24<<10]}
	for _, k := range kinds {
		img := build(f, k)
		v := open(f, img)
		c := compact(img, v, 2, 1, 12)
		seeds = append(seeds, c)
		loop := bytes.Clone(c)
		cv := open(f, c)
		f1 := findFile(cv, "/dir/sub/c.bin")
		setFAT(loop, cv, -1, f1.Chain[2], f1.Chain[0])
		seeds = append(seeds, loop)
	}
	return seeds
}

// compact rebuilds img with FATs of fatSecs sectors, a FAT12/16 root
// directory of rootSecs sectors and the first n data clusters, keeping
// every cluster number: the BPB still claims the full volume, so the
// result is a truncated volume whose FAT is too small, but whose first
// files are whole.
func compact(img []byte, v *Volume, fatSecs, rootSecs, n int64) []byte {
	b := v.BPB
	bps := v.bps
	out := bytes.Clone(img[:int64(b.RsvdSecCnt)*bps])
	for k := range int(b.NumFATs) {
		st := b.FATStart(k) * bps
		out = append(out, img[st:st+fatSecs*bps]...)
	}
	le := binary.LittleEndian
	if b.Type == FAT32 {
		le.PutUint32(out[0x24:], uint32(fatSecs))
		le.PutUint32(out[int64(b.BkBootSec)*bps+0x24:], uint32(fatSecs))
	} else {
		le.PutUint16(out[0x16:], uint16(fatSecs))
		le.PutUint16(out[0x11:], uint16(rootSecs*bps/32))
		st := b.RootDirStart() * bps
		out = append(out, img[st:st+rootSecs*bps]...)
	}
	return append(out, img[v.dataOff:v.dataOff+n*v.cb]...)
}

func FuzzOpen(f *testing.F) {
	for _, s := range fuzzSeeds(f) {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, img []byte) {
		v, err := Open(bytes.NewReader(img), int64(len(img)))
		if err != nil {
			var fe *FormatError
			if !errors.As(err, &fe) && !errors.Is(err, ErrNotFAT) {
				t.Fatalf("Open = %v, want a *FormatError or ErrNotFAT", err)
			}
			_ = err.Error()
			return
		}
		if v.Size() <= 0 {
			t.Fatalf("Size() = %d", v.Size())
		}
		exercise(t, v, int64(len(img)))
		for _, p := range v.Problems() {
			if p.Code == "" || p.Severity == "" || p.Message == "" {
				t.Fatalf("incomplete problem %+v", p)
			}
		}
		if e := v.Evidence(); e.Dirty == nil || e.Files != len(v.Files()) {
			t.Fatalf("Evidence() = %+v with %d files", e, len(v.Files()))
		}
	})
}

// TestCompact checks that the compacted fuzz seeds still hold their files.
func TestCompact(t *testing.T) {
	for _, k := range kinds {
		img := build(t, k)
		c := compact(img, open(t, img), 2, 1, 24)
		v := open(t, c)
		if v.Type() != k.name || len(c) > 64<<10 || findFile(v, "/dir/sub/c.bin") == nil {
			t.Errorf("%s: compacted to %d bytes, type %s, files %d", k.name, len(c), v.Type(), len(v.Files()))
		}
	}
}
