package fat

// Regression tests from a review of the owners and judgements against
// Sleuth Kit: each once demonstrated a defect and now guards its fix.

import (
	"bytes"
	"encoding/binary"
	"os"
	"path/filepath"
	"testing"

	"github.com/mirrorchk/mirrorchk/internal/fixture"
)

// mkfs.fat -F 32 -s 8 on 64 MiB makes a FAT32 volume of 16348 clusters (BPB
// FATSz16 = 0, RootEntCnt = 0). Linux mounts it and fsck.fat -n checks it
// ("177 files…" / exit 0, with a warning only); Open types it by cluster
// count as FAT16 and refuses it ("BPB_RootEntCnt … is zero on FAT16").
func TestRegressSmallFAT32Opens(t *testing.T) {
	mkfs := fixture.Tool(t, "mkfs.fat", "dosfstools")
	fsckT := fixture.Tool(t, "fsck.fat", "dosfstools")
	dir := t.TempDir()
	img := filepath.Join(dir, "v.img")
	run(t, dir, mkfs, "--invariant", "-i", "12345678", "-F", "32", "-s", "8", "-C", img, "65536")
	run(t, dir, fsckT, "-n", img) // fails the test if fsck.fat rejects it
	b, err := os.ReadFile(img)
	if err != nil {
		t.Fatal(err)
	}
	v, err := Open(bytes.NewReader(b), int64(len(b)))
	if err != nil {
		t.Fatalf("Open of a FAT32 volume fsck.fat accepts: %v", err)
	}
	if v.Type() != FAT32 {
		t.Errorf("Type = %q, want fat32 (FATSz16 = 0)", v.Type())
	}
}

// With FAT mirroring disabled (BPB_ExtFlags bit 7, active FAT 1), FAT 2 is
// not kept in step by design; compareCopies says so with severity info, but
// Judge condemns FAT 2 as torn (Intact -1).
func TestRegressFAT32MirroringDisabledNotTorn(t *testing.T) {
	img := append([]byte(nil), build(t, kinds[2])...)
	v := open(t, img)
	b := v.BPB
	binary.LittleEndian.PutUint16(img[0x28:], 0x80) // mirroring off, active FAT 1
	if b.BkBootSec != 0 {
		binary.LittleEndian.PutUint16(img[int64(b.BkBootSec)*int64(b.BytsPerSec)+0x28:], 0x80)
	}
	// FAT 2 lags: entry 3 differs (FAT 1 keeps the real chain).
	f2 := b.FATStart(1) * int64(b.BytsPerSec)
	binary.LittleEndian.PutUint32(img[f2+3*4:], 0)
	w := open(t, img)
	for _, p := range w.Problems() {
		if p.Code == "fat-copies-differ" && p.Severity != "info" {
			t.Fatalf("setup: %+v", p)
		}
	}
	if j := w.Judge(f2, int64(b.BytsPerSec)); j.Intact == -1 {
		t.Errorf("FAT 2 with mirroring disabled judged torn: %+v", j)
	}
}
