package ddf

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/mirrorchk/mirrorchk/internal/fixture"
)

// A compact container: the fixture's metadata re-laid out with the
// smallest counts the format allows (15 physical and virtual disk
// entries, 16 slots per configuration record, one partition), so that a
// whole DDF image is 24 sectors: sector 0 unused, the secondary copy at
// sector 1, the primary at 12, the anchor at 23. Each copy: header,
// controller, phys (2 sectors), virt (2), config (2 records of 2), data.
const (
	cpSectors = 24
	cpSecond  = 1
	cpPrimary = 12
	cpMPPE    = 16
	cpRecLen  = 2 // sectors: 512 + 12*16 bytes
)

var cpSections = [5]Section{{1, 1}, {2, 2}, {4, 2}, {6, 2 * cpRecLen}, {10, 1}}

// compact re-lays out the metadata of a fixture image (mdadm's layout, as
// in the fixtures) into the last 24 sectors of an image of sectors
// sectors, and returns those 24 sectors.
func compact(tb testing.TB, img []byte, sectors uint64) []byte {
	tb.Helper()
	d := readImage(tb, img)
	base := sectors - cpSectors
	out := make([]byte, cpSectors*512)

	hdr := bytes.Clone(d.Active.Raw)
	be.PutUint64(hdr[hPrimaryLBA:], base+cpPrimary)
	be.PutUint64(hdr[hSecondaryLBA:], base+cpSecond)
	be.PutUint64(hdr[hWorkspaceLBA:], base+cpSecond)
	be.PutUint16(hdr[hMaxPD:], 15)
	be.PutUint16(hdr[hMaxVD:], 15)
	be.PutUint16(hdr[hMaxPartitions:], 1)
	be.PutUint16(hdr[hConfigRecLen:], cpRecLen)
	be.PutUint16(hdr[hMaxPrimElem:], cpMPPE)
	for k, s := range cpSections {
		be.PutUint32(hdr[hSections+8*k:], s.Offset)
		be.PutUint32(hdr[hSections+8*k+4:], s.Length)
	}

	ac := activeCopy(d)
	phys := bytes.Clone(ac.physRaw[:1024])
	be.PutUint16(phys[10:], 15)
	setCRCs(phys)
	virt := bytes.Clone(ac.virtRaw[:1024])
	be.PutUint16(virt[10:], 15)
	setCRCs(virt)
	conf := bytes.Repeat([]byte{0xff}, 2*cpRecLen*512)
	mppe := int(d.Active.MaxPrimaryElementEntries)
	for i, c := range d.Configs {
		if i == 1 {
			tb.Fatal("compact: more than one configuration record")
		}
		rec := conf[:cpRecLen*512]
		copy(rec, c.Raw[:512])
		copy(rec[512:], c.Raw[512:512+4*cpMPPE])
		copy(rec[512+4*cpMPPE:], c.Raw[512+4*mppe:][:8*cpMPPE])
		setCRCs(rec)
	}
	for _, c := range []struct {
		lba uint64
		typ uint8
	}{{cpSecond, TypeSecondary}, {cpPrimary, TypePrimary}} {
		o := int(c.lba) * 512
		h := bytes.Clone(hdr)
		h[hType] = c.typ
		setCRCs(h)
		copy(out[o:], h)
		copy(out[o+512*int(cpSections[SecController].Offset):], d.Controller.Raw)
		copy(out[o+512*int(cpSections[SecPhys].Offset):], phys)
		copy(out[o+512*int(cpSections[SecVirt].Offset):], virt)
		copy(out[o+512*int(cpSections[SecConfig].Offset):], conf)
		copy(out[o+512*int(cpSections[SecDiskData].Offset):], d.ThisDisk.Raw)
	}
	a := bytes.Clone(hdr)
	a[hType], a[hOpenFlag] = TypeAnchor, 0xff
	be.PutUint32(a[hSeq:], 0xffffffff)
	setCRCs(a)
	copy(out[(cpSectors-1)*512:], a)
	return out
}

// TestCompactSeeds checks the fuzz seeds' generator: its containers, put at
// the end of a 34 MiB image file (mdadm wants more than 32 MiB), read the
// same with mdadm and with Read, and hold what the fixture holds.
func TestCompactSeeds(t *testing.T) {
	const sectors = 34 << 11
	for _, dir := range fixtureDirs {
		for _, m := range []string{"m0", "m1"} {
			t.Run(dir[len("md/md-ddf/"):]+"/"+m, func(t *testing.T) {
				img := fixture.Image(t, dir, m)
				tail := compact(t, img, sectors)
				p := filepath.Join(t.TempDir(), m+".img")
				f, err := os.Create(p)
				if err != nil {
					t.Fatal(err)
				}
				if _, err := f.WriteAt(tail, (sectors-cpSectors)*512); err != nil {
					t.Fatal(err)
				}
				if err := f.Close(); err != nil {
					t.Fatal(err)
				}
				full, err := os.ReadFile(p)
				if err != nil {
					t.Fatal(err)
				}
				d := readImage(t, full)
				compareExamine(t, d, runExamine(t, p))
				want := readImage(t, img)
				if d.Seq() != want.Seq() || !reflect.DeepEqual(d.PhysDisks, want.PhysDisks) || !reflect.DeepEqual(d.VirtualDisks, want.VirtualDisks) || !reflect.DeepEqual(d.Mirrors()[0].Members, want.Mirrors()[0].Members) {
					t.Errorf("compact container reads differently from the fixture")
				}
			})
		}
	}
}

// padReader is an image of pad zero bytes followed by data.
type padReader struct {
	pad  int64
	data []byte
}

func (r padReader) ReadAt(p []byte, off int64) (int, error) {
	n := 0
	for n < len(p) {
		o := off + int64(n)
		switch {
		case o < r.pad:
			k := min(int64(len(p)-n), r.pad-o)
			clear(p[n : n+int(k)])
			n += int(k)
		case o-r.pad < int64(len(r.data)):
			n += copy(p[n:], r.data[o-r.pad:])
		default:
			return n, io.EOF
		}
	}
	return n, nil
}

// readSeeds are compact containers of every fixture member, plus variants
// that take Read's other paths (a damaged primary, a missing anchor, an
// open primary).
func readSeeds(f *testing.F) [][]byte {
	var seeds [][]byte
	for _, dir := range fixtureDirs {
		for _, m := range []string{"m0", "m1"} {
			c := compact(f, fixture.Image(f, dir, m), cpSectors)
			seeds = append(seeds, c)
			if m != "m0" {
				continue
			}
			bad := bytes.Clone(c)
			bad[cpPrimary*512+44] ^= 1
			seeds = append(seeds, bad)
			noAnchor := bytes.Clone(c)
			clear(noAnchor[(cpSectors-1)*512:])
			seeds = append(seeds, noAnchor)
			open := bytes.Clone(c)
			open[cpPrimary*512+hOpenFlag] = 1
			setCRCs(open[cpPrimary*512:][:512])
			seeds = append(seeds, open)
		}
	}
	return seeds
}

// maxPad bounds the zeros FuzzRead puts before its input.
const maxPad = 1 << 20

func FuzzRead(f *testing.F) {
	for _, s := range readSeeds(f) {
		f.Add(s, uint32(0))
	}
	f.Fuzz(func(t *testing.T, data []byte, pad uint32) {
		r := padReader{int64(pad % maxPad / 512 * 512), data}
		size := r.pad + int64(len(data))
		d, err := Read(r, size)
		if err != nil {
			var fe *FormatError
			if d != nil || (!errors.Is(err, ErrNoDDF) && !errors.As(err, &fe)) {
				t.Fatalf("Read = %v, %v; want a *FormatError or ErrNoDDF alone", d, err)
			}
			_ = err.Error()
			return
		}
		img := make([]byte, size)
		copy(img[r.pad:], data)
		checkDDF(t, d, img)

		// Making the image in sync with itself gives metadata that reads
		// back with the same container and seq, and is then in sync.
		ps, err := Synced(d, d)
		if err != nil {
			_ = err.Error()
			return
		}
		img2 := apply(t, img, ps)
		d2, err := Read(bytes.NewReader(img2), size)
		if err != nil {
			t.Fatalf("Read after Synced(d, d) (%q): %v", whats(ps), err)
		}
		checkDDF(t, d2, img2)
		if d2.Anchor == nil || d2.PrimaryErr != nil && d2.Primary != nil || d2.Active.GUID != d.Active.GUID || d2.Seq() < d.Seq() {
			t.Fatalf("after Synced(d, d): anchor %v, primary %v, seq %#x (was %#x)", d2.AnchorErr, d2.PrimaryErr, d2.Seq(), d.Seq())
		}
		if again, err := Synced(d2, d2); again != nil || err != nil {
			t.Fatalf("Synced(d, d) not idempotent: %q, %v", whats(again), err)
		}
	})
}

// checkDDF checks what must hold for any metadata Read accepts from img.
func checkDDF(t *testing.T, d *DDF, img []byte) {
	t.Helper()
	if d.Active == nil || (d.Active != d.Primary && d.Active != d.Secondary) || activeCopy(d) == nil {
		t.Fatalf("Active %p is neither copy (%p, %p)", d.Active, d.Primary, d.Secondary)
	}
	for _, h := range []*Header{d.Anchor, d.Primary, d.Secondary} {
		if h == nil {
			continue
		}
		if h.Offset < 0 || h.Offset > int64(len(img))-512 || !bytes.Equal(h.Raw, img[h.Offset:h.Offset+512]) {
			t.Fatalf("%s header Raw is not the image's bytes at %#x", h.TypeString(), h.Offset)
		}
		again, err := decodeHeader(h.Raw, h.Offset)
		if err != nil || !reflect.DeepEqual(again, h) {
			t.Fatalf("decoding Raw again = %+v, %v; want %+v", again, err, h)
		}
	}
	if !d.Active.CRCOK() || (d.Anchor != nil && !d.Anchor.CRCOK()) || d.ThisDisk.CRC != d.ThisDisk.ComputedCRC || d.Controller.CRC != d.Controller.ComputedCRC {
		t.Fatal("a structure in use has a bad CRC")
	}
	if len(d.PhysDisks) > int(d.PhysMax) || len(d.VirtualDisks) > int(d.VirtMax) {
		t.Fatalf("%d of %d physical, %d of %d virtual disks", len(d.PhysDisks), d.PhysMax, len(d.VirtualDisks), d.VirtMax)
	}
	for _, c := range d.Configs {
		if !c.CRCOK() || len(c.PhysRefs) > int(c.PrimaryElementCount) || len(c.PhysRefs) != len(c.LBAOffsets) || len(c.Slots) != len(c.PhysRefs) || c.Offset < 0 || c.Offset > int64(len(img)-len(c.Raw)) || !bytes.Equal(c.Raw, img[c.Offset:c.Offset+int64(len(c.Raw))]) {
			t.Fatalf("config record %d at %#x: %d refs of %d", c.Index, c.Offset, len(c.PhysRefs), c.PrimaryElementCount)
		}
	}
	for _, v := range d.Volumes() {
		_ = v.VD.StateString() + v.VD.InitString() + v.VD.AccessString() + v.VD.GUID.String() + v.VD.GUID.Text()
		for _, m := range v.Members {
			if m.Disk != nil && m.Disk.RefNo != m.RefNo {
				t.Fatalf("member %08x bound to disk %08x", m.RefNo, m.Disk.RefNo)
			}
			_ = m.InSync()
		}
	}
	for _, p := range d.PhysDisks {
		_ = p.TypeString() + p.StateString()
	}
	_ = d.This()
	_ = Fresher(d, d)
	_ = d.ActiveReason
}

// structKinds are the structures FuzzDecode decodes.
const (
	kHeader = iota
	kController
	kPhys
	kVirt
	kConfig
	kDiskData
	numKinds
)

func FuzzDecode(f *testing.F) {
	for _, dir := range fixtureDirs {
		for _, m := range []string{"m0", "m1"} {
			img := fixture.Image(f, dir, m)
			d := readImage(f, img)
			ac := activeCopy(d)
			f.Add(uint8(kHeader), d.Anchor.Raw, uint16(0))
			f.Add(uint8(kHeader), d.Primary.Raw, uint16(0))
			f.Add(uint8(kController), d.Controller.Raw, uint16(0))
			f.Add(uint8(kPhys), ac.physRaw[:2048], uint16(0))
			f.Add(uint8(kVirt), ac.virtRaw[:2048], uint16(0))
			f.Add(uint8(kConfig), d.Configs[0].Raw, d.Active.MaxPrimaryElementEntries)
			f.Add(uint8(kDiskData), d.ThisDisk.Raw, uint16(0))
			c := compact(f, img, cpSectors)
			f.Add(uint8(kConfig), c[(cpPrimary+6)*512:][:cpRecLen*512], uint16(cpMPPE))
			f.Add(uint8(kPhys), c[(cpPrimary+2)*512:][:1024], uint16(0))
		}
	}
	f.Fuzz(func(t *testing.T, kind uint8, raw []byte, param uint16) {
		const off = 0x1000
		switch kind % numKinds {
		case kHeader:
			h, err := decodeHeader(raw, off)
			if err != nil {
				return
			}
			if !bytes.Equal(h.Raw, raw[:512]) || h.Magic != HeaderMagic {
				t.Fatal("header Raw is not the input")
			}
			_ = headerField(int(param) % 600)
			_ = h.TypeString() + h.GUID.String() + h.Time().String()
		case kController:
			c, err := decodeController(raw, off)
			if err != nil {
				return
			}
			if !bytes.Equal(c.Raw, raw[:512]) {
				t.Fatal("controller Raw is not the input")
			}
		case kPhys:
			p, err := decodePhys(raw, off)
			if err != nil {
				return
			}
			if len(p.disks) > int(p.max) || listHeader+entryBytes*int(p.max) > len(raw) {
				t.Fatalf("%d disks, max %d, from %d bytes", len(p.disks), p.max, len(raw))
			}
		case kVirt:
			v, err := decodeVirt(raw, off)
			if err != nil {
				return
			}
			if len(v.disks) > int(v.max) || listHeader+entryBytes*int(v.max) > len(raw) {
				t.Fatalf("%d disks, max %d, from %d bytes", len(v.disks), v.max, len(raw))
			}
		case kConfig:
			mppe := int(param % (maxPrimaryElements + 1))
			c, err := decodeConfig(raw, off, 0, mppe)
			if err != nil {
				return
			}
			if len(c.PhysRefs) > int(c.PrimaryElementCount) || int(c.PrimaryElementCount) > mppe || !bytes.Equal(c.Raw, raw) {
				t.Fatalf("%d refs of %d, mppe %d", len(c.PhysRefs), c.PrimaryElementCount, mppe)
			}
			for i, s := range c.Slots {
				if s < 0 || s >= mppe || c.LBAOffsets[i] > maxSectors || c.PhysRefs[i] == Unused {
					t.Fatalf("member %d: slot %d, lba %d, ref %08x", i, s, c.LBAOffsets[i], c.PhysRefs[i])
				}
			}
			again, err := decodeConfig(c.Raw, off, 0, mppe)
			if err != nil || !reflect.DeepEqual(again, c) {
				t.Fatalf("decoding Raw again = %+v, %v", again, err)
			}
			_ = c.Level()
			_ = c.IsMirror()
		case kDiskData:
			dd, err := decodeDiskData(raw, off)
			if err != nil {
				return
			}
			if !bytes.Equal(dd.Raw, raw[:512]) {
				t.Fatal("disk data Raw is not the input")
			}
		}
	})
}
