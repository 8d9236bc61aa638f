package ldm

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the committed real-* fuzz seeds from the fixture images")

// seed is one committed seed corpus file.
type seed struct {
	target, name string
	values       []any // []byte, int64, uint64, in the target's argument order
}

// vblkSlots is how many slots of the real databases the FuzzVBLK seeds
// keep: every record (slots 0..33) and some empty slots.
const vblkSlots = 42

// vblkArea returns the VMDB sector and the first vblkSlots slots of img's
// database, with vblk_last cut to match, and the VMDB's offset.
func vblkArea(tb testing.TB, img []byte) ([]byte, int64) {
	db, _ := readImage(tb, img)
	vm := db.VMDB
	area := bytes.Clone(img[vm.Offset : vm.Offset+int64(vm.FirstOffset)+vblkSlots*int64(vm.VBLKSize)])
	put32(area, 0x04, uint32(len(area))/vm.VBLKSize)
	return area, vm.Offset
}

// realSeeds derives the fuzz seeds from the two mirrored images: every
// PRIVHEAD copy, both TOCBLOCKs, the VMDB, and the start of the VBLK area
// (also with Volume3's record written across two slots).
func realSeeds(tb testing.TB) []seed {
	var seeds []seed
	for _, d := range []struct{ img, tag string }{{mirroredMBR, "mbr"}, {mirroredGPT, "gpt"}} {
		img := loadImage(tb, d.img)
		size := int64(len(img))
		db, ph := readImage(tb, img)
		seeds = append(seeds, seed{"FuzzPrivHead", fmt.Sprintf("real-%s-privhead-%#x", d.tag, ph.Offset), []any{ph.Raw, ph.Offset, size}})
		for _, c := range ph.Backups {
			seeds = append(seeds, seed{"FuzzPrivHead", fmt.Sprintf("real-%s-privhead-%#x", d.tag, c.Offset), []any{c.Head.Raw, c.Offset, size}})
		}
		for _, t := range db.TOCBlocks {
			seeds = append(seeds, seed{"FuzzTOC", fmt.Sprintf("real-%s-tocblock-%#x", d.tag, t.Offset), []any{t.Raw, t.Offset, ph.ConfigSize}})
		}
		vm := db.VMDB
		seeds = append(seeds, seed{"FuzzVMDB", fmt.Sprintf("real-%s-vmdb-%#x", d.tag, vm.Offset), []any{vm.Raw, vm.Offset, int64(db.TOCBlocks[0].Config().Size) * SectorSize}})
		area, off := vblkArea(tb, img)
		seeds = append(seeds, seed{"FuzzVBLK", fmt.Sprintf("real-%s-vblks-%#x", d.tag, off), []any{area, off}})
	}
	split := messWith(tb, mirroredMBR, func(b []byte) { splitVolume3(b, 60) })
	area, off := vblkArea(tb, split)
	seeds = append(seeds, seed{"FuzzVBLK", fmt.Sprintf("real-mbr-vblks-%#x-volume3-in-2-slots", off), []any{area, off}})
	return seeds
}

// encode writes a seed in the "go test fuzz v1" corpus file format.
func (s seed) encode() []byte {
	var b strings.Builder
	b.WriteString("go test fuzz v1\n")
	for _, v := range s.values {
		switch v := v.(type) {
		case []byte:
			fmt.Fprintf(&b, "[]byte(%q)\n", v)
		default:
			fmt.Fprintf(&b, "%T(%v)\n", v, v)
		}
	}
	return []byte(b.String())
}

// TestFuzzSeeds checks that the committed real-* seeds are the bytes of the
// fixture images (with -update, rewrites them), and that each decodes, so
// the fuzzers start from inputs that pass every check.
func TestFuzzSeeds(t *testing.T) {
	for _, s := range realSeeds(t) {
		var err error
		v := s.values
		switch s.target {
		case "FuzzPrivHead":
			_, err = DecodePrivHead(v[0].([]byte), v[1].(int64), v[2].(int64))
		case "FuzzTOC":
			_, err = DecodeTOCBlock(v[0].([]byte), v[1].(int64), v[2].(uint64))
		case "FuzzVMDB":
			_, err = DecodeVMDB(v[0].([]byte), v[1].(int64), v[2].(int64))
		case "FuzzVBLK":
			area := v[0].([]byte)
			var vm *VMDB
			if vm, err = DecodeVMDB(area, v[1].(int64), int64(len(area))); err == nil {
				var db *Database
				if db, err = DecodeVBLKs(vm, area); err == nil && db.VolumeByName("Volume3").Kind != KindMirror {
					err = fmt.Errorf("Volume3 is %v", db.VolumeByName("Volume3").Kind)
				}
			}
		}
		if err != nil {
			t.Errorf("seed %s/%s does not decode: %v", s.target, s.name, err)
		}
		p := filepath.Join("testdata", "fuzz", s.target, s.name)
		want := s.encode()
		if *update {
			if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(p, want, 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		got, err := os.ReadFile(p)
		if err != nil {
			t.Errorf("%v (go test -run TestFuzzSeeds -update writes it)", err)
			continue
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s is not what the fixture gives (go test -run TestFuzzSeeds -update rewrites it)", p)
		}
	}
}
