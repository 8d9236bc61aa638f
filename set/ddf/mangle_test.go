package ddf

import (
	"bytes"
	"encoding/binary"
	"errors"
	"os"
	"runtime"
	"strings"
	"testing"

	"github.com/mirrorchk/mirrorchk/internal/fixture"
)

func put16(b []byte, off int, v uint16) { binary.BigEndian.PutUint16(b[off:], v) }
func put32(b []byte, off int, v uint32) { binary.BigEndian.PutUint32(b[off:], v) }

// messWith returns a copy of a fixture image changed by fn.
func messWith(tb testing.TB, dir, member string, fn func(b []byte)) []byte {
	tb.Helper()
	b := bytes.Clone(fixture.Image(tb, dir, member))
	fn(b)
	return b
}

// copies are the byte offsets of the primary and secondary headers.
var copies = []int{fxPrimary, fxSecondary}

// both applies fn to the primary and the secondary copy (base = header offset).
func both(fn func(b []byte, base int)) func([]byte) {
	return func(b []byte) {
		for _, base := range copies {
			fn(b, base)
		}
	}
}

// headers applies fn to the anchor, primary and secondary headers.
func headers(fn func(b []byte, h int)) func([]byte) {
	return func(b []byte) {
		for _, h := range []int{fxAnchor, fxPrimary, fxSecondary} {
			fn(b, h)
		}
	}
}

// setCRC stores the DDF CRC of b[off:off+n] in its crc field.
func setCRC(b []byte, off, n int) { put32(b, off+4, CRC(b[off:off+n], 4)) }

// recrc recomputes every CRC of a fixture image's metadata with the
// fixture's layout (so that a mangled count is what Read sees, not a CRC).
func recrc(b []byte) {
	setCRC(b, fxAnchor, 512)
	for _, base := range copies {
		setCRC(b, base, 512)
		setCRC(b, base+fxCtrl*512, 512)
		setCRC(b, base+fxPhys*512, 128*512)
		setCRC(b, base+fxVirt*512, 32*512)
		setCRC(b, base+fxConf*512, 7*512) // record 0: the fixtures' only VD
		setCRC(b, base+fxData*512, 512)
	}
}

// withCRC applies fn and then recomputes every CRC.
func withCRC(fn func([]byte)) func([]byte) {
	return func(b []byte) {
		fn(b)
		recrc(b)
	}
}

// TestOneCopyBad damages one copy: Read must use the other, say which and
// why, and (where mdadm checks the same thing) agree with mdadm.
func TestOneCopyBad(t *testing.T) {
	tests := []struct {
		name       string
		mess       func([]byte)
		wantActive uint8 // TypePrimary or TypeSecondary
		field      string
		off        int64
		mdadmSame  bool // mdadm rejects the same copy, so its --examine must match
	}{
		{"primary header CRC", func(b []byte) { b[fxPrimary+44] ^= 1 }, TypeSecondary, "crc", fxPrimary + 4, true},
		{"secondary header CRC", func(b []byte) { b[fxSecondary+44] ^= 1 }, TypePrimary, "crc", fxSecondary + 4, true},
		{"primary magic", func(b []byte) { b[fxPrimary] = 0 }, TypeSecondary, "magic", fxPrimary, true},
		{"primary type", withCRC(func(b []byte) { b[fxPrimary+112] = 2 }), TypeSecondary, "type", fxPrimary + 112, true},
		{"secondary max_pd_entries differs from anchor", withCRC(func(b []byte) { put16(b, fxSecondary+128, 63) }), TypePrimary, "max_pd_entries", fxSecondary + 128, true},
		{"primary guid differs from anchor", withCRC(func(b []byte) { b[fxPrimary+30] ^= 1 }), TypeSecondary, "guid", fxPrimary + 30, true},
		// mdadm checks no section CRC: it would read the damaged primary.
		{"primary phys CRC", func(b []byte) { b[fxPrimary+fxPhys*512+64+64+31] ^= 0x40 }, TypeSecondary, "phys.crc", fxPrimary + fxPhys*512 + 4, false},
		{"primary controller CRC", func(b []byte) { b[fxPrimary+fxCtrl*512+100] ^= 1 }, TypeSecondary, "controller.crc", fxPrimary + fxCtrl*512 + 4, false},
		{"primary virt CRC", func(b []byte) { b[fxPrimary+fxVirt*512+64+32] ^= 0x10 }, TypeSecondary, "virt.crc", fxPrimary + fxVirt*512 + 4, false},
		{"secondary vd_config CRC", func(b []byte) { b[fxSecondary+fxConf*512+36] ^= 1 }, TypePrimary, "vd_config.crc", fxSecondary + fxConf*512 + 4, false},
		{"secondary disk_data CRC", func(b []byte) { b[fxSecondary+fxData*512+40] ^= 1 }, TypePrimary, "disk_data.crc", fxSecondary + fxData*512 + 4, false},
		{"primary phys magic", func(b []byte) { b[fxPrimary+fxPhys*512] = 0 }, TypeSecondary, "phys.magic", fxPrimary + fxPhys*512, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			img := messWith(t, bStale, "m0", tt.mess)
			d := readImage(t, img)
			if d.Active == nil || d.Active.Type != tt.wantActive {
				t.Fatalf("Active = %+v; want the %s (%s)", d.Active, headerTypeName(tt.wantActive), d.ActiveReason)
			}
			bad := d.PrimaryErr
			if tt.wantActive == TypePrimary {
				bad = d.SecondaryErr
			}
			wantFormatError(t, bad, tt.field, tt.off)
			if !strings.Contains(d.ActiveReason, "not usable") || !strings.Contains(d.ActiveReason, tt.field) {
				t.Errorf("ActiveReason %q does not say why the other copy was not used", d.ActiveReason)
			}
			// The copy used is undamaged: everything decodes as in the
			// fixture.
			want := readImage(t, fixture.Image(t, bStale, "m0"))
			if !equalContent(d, want) {
				t.Errorf("decoded content differs from the undamaged image's")
			}
			if tt.mdadmSame {
				compareExamine(t, d, runExamine(t, writeTemp(t, "m0.img", img)))
			}
		})
	}
}

// equalContent compares what two reads decoded from their active copies.
func equalContent(a, b *DDF) bool {
	return bytes.Equal(a.Active.Raw[8:], b.Active.Raw[8:]) == (a.Active.Type == b.Active.Type) &&
		a.Active.Seq == b.Active.Seq &&
		bytes.Equal(a.Controller.Raw, b.Controller.Raw) &&
		equalSlices(a.PhysDisks, b.PhysDisks) && equalSlices(a.VirtualDisks, b.VirtualDisks) &&
		len(a.Configs) == len(b.Configs) && (len(a.Configs) == 0 || bytes.Equal(a.Configs[0].Raw, b.Configs[0].Raw)) &&
		bytes.Equal(a.ThisDisk.Raw, b.ThisDisk.Raw)
}

func equalSlices[T comparable](a, b []T) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// TestCopyChoice: with both copies usable, the choice follows seq and the
// open flag exactly as mdadm's load_ddf_headers, checked against mdadm.
func TestCopyChoice(t *testing.T) {
	tests := []struct {
		name string
		mess func([]byte)
		want uint8
	}{
		{"secondary newer", withCRC(func(b []byte) { put32(b, fxSecondary+40, 13) }), TypeSecondary},
		{"secondary newer but open", withCRC(func(b []byte) { put32(b, fxSecondary+40, 13); b[fxSecondary+48] = 1 }), TypePrimary},
		{"primary newer", withCRC(func(b []byte) { put32(b, fxPrimary+40, 13) }), TypePrimary},
		{"same seq, primary open", withCRC(func(b []byte) { b[fxPrimary+48] = 1 }), TypeSecondary},
		{"same seq, both open", withCRC(func(b []byte) { b[fxPrimary+48] = 1; b[fxSecondary+48] = 1 }), TypePrimary},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			img := messWith(t, bStale, "m0", tt.mess)
			d := readImage(t, img)
			if d.Active.Type != tt.want || d.PrimaryErr != nil || d.SecondaryErr != nil {
				t.Fatalf("Active %s (%s), errors %v, %v; want %s", d.Active.TypeString(), d.ActiveReason, d.PrimaryErr, d.SecondaryErr, headerTypeName(tt.want))
			}
			// mdadm prints the active copy's seq.
			compareExamine(t, d, runExamine(t, writeTemp(t, "m0.img", img)))
		})
	}
}

// TestBothCopiesBad: no usable copy is a *FormatError for the primary's
// problem (the secondary's is joined to it); mdadm rejects the image too.
func TestBothCopiesBad(t *testing.T) {
	tests := []struct {
		name  string
		dir   string
		mess  func([]byte)
		field string
		off   int64
		// mdadm rejects it as well (it checks header CRCs and geometry
		// caps, not section CRCs or counts).
		mdadmRejects bool
	}{
		{"both header CRCs", bStale, both(func(b []byte, h int) { b[h+44] ^= 1 }), "crc", fxPrimary + 4, true},
		{"both phys CRCs", aClean, both(func(b []byte, h int) { b[h+fxPhys*512+64+31] ^= 2 }), "phys.crc", fxPrimary + fxPhys*512 + 4, false},
		{"primary header CRC, secondary config CRC", aClean, func(b []byte) {
			b[fxPrimary+44] ^= 1
			b[fxSecondary+fxConf*512+40] ^= 1
		}, "crc", fxPrimary + 4, false},
		// Huge counts and lengths, with every CRC good: refused before
		// anything is allocated from them.
		{"phys max_pdes 65535", aClean, withCRC(both(func(b []byte, h int) { put16(b, h+fxPhys*512+10, 0xffff) })), "phys.max_pdes", fxPrimary + fxPhys*512 + 10, false},
		{"virt max_vdes 65535", aClean, withCRC(both(func(b []byte, h int) { put16(b, h+fxVirt*512+10, 0xffff) })), "virt.max_vdes", fxPrimary + fxVirt*512 + 10, false},
		{"phys_section_length 4 GiB sectors", aClean, withCRC(headers(func(b []byte, h int) { put32(b, h+192+12, 0xffffffff) })), "phys_section_length", fxPrimary + 192 + 12, true},
		{"phys_section_length 64", aClean, withCRC(headers(func(b []byte, h int) { put32(b, h+192+12, 64) })), "phys_section_length", fxPrimary + 192 + 12, true},
		{"config_section_length 2048", aClean, withCRC(headers(func(b []byte, h int) { put32(b, h+192+28, 2048) })), "config_section_length", fxPrimary + 192 + 28, false},
		{"config_section past the anchor", aClean, withCRC(headers(func(b []byte, h int) { put32(b, h+192+24, 0x7fffffff) })), "config_section_offset", fxPrimary + 192 + 24, false},
		{"max_primary_element_entries 65535", aClean, withCRC(headers(func(b []byte, h int) { put16(b, h+136, 0xffff) })), "max_primary_element_entries", fxPrimary + 136, false},
		{"config_record_len 1", aClean, withCRC(headers(func(b []byte, h int) { put16(b, h+134, 1) })), "config_record_len", fxPrimary + 134, false},
		{"prim_elmnt_count 300", aClean, withCRC(both(func(b []byte, h int) { put16(b, h+fxConf*512+64, 300) })), "vd_config.prim_elmnt_count", fxPrimary + fxConf*512 + 64, false},
		{"blocks 2^63", aClean, withCRC(both(func(b []byte, h int) { b[h+fxConf*512+72] = 0x80 })), "vd_config.blocks", fxPrimary + fxConf*512 + 72, false},
		{"primary_lba past the end, secondary CRC", aClean, func(b []byte) {
			withCRC(headers(func(b []byte, h int) { put32(b, h+96+4, 0x7fffffff) }))(b)
			b[fxSecondary+44] ^= 1
		}, "primary_lba", fxAnchor + 96, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			img := messWith(t, tt.dir, "m0", tt.mess)
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			d, err := Read(bytes.NewReader(img), int64(len(img)))
			runtime.ReadMemStats(&after)
			if d != nil {
				t.Fatalf("Read returned metadata (active %s); want an error", d.Active.TypeString())
			}
			wantFormatError(t, err, tt.field, tt.off)
			if strings.Count(err.Error(), "\n") != 1 {
				t.Errorf("error %q does not give both copies' problems", err)
			}
			if grew := after.TotalAlloc - before.TotalAlloc; grew > 8<<20 {
				t.Errorf("Read allocated %d bytes on a bad image", grew)
			}
			if tt.mdadmRejects {
				mdadmRejects(t, writeTemp(t, "m0.img", img))
			}
		})
	}
}

// TestAnchor: an unusable anchor sector makes Read search the last 32 MiB
// for the headers and say so; mdadm 4.2 does not search and rejects the
// image.
func TestAnchor(t *testing.T) {
	tests := []struct {
		name  string
		mess  func([]byte)
		field string
	}{
		{"zeroed", func(b []byte) { clear(b[fxAnchor:]) }, "anchor.magic"},
		{"CRC", func(b []byte) { b[fxAnchor+44] ^= 1 }, "anchor.crc"},
		{"revision", withCRC(func(b []byte) { b[fxAnchor+32+4] = '3' }), "anchor.revision"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			img := messWith(t, bStale, "m1", tt.mess)
			d := readImage(t, img)
			if d.Anchor != nil {
				t.Fatalf("Anchor decoded from a damaged sector")
			}
			off := int64(fxAnchor)
			switch tt.field {
			case "anchor.crc":
				off += 4
			case "anchor.revision":
				off += 32
			}
			wantFormatError(t, d.AnchorErr, tt.field, off)
			if d.Active != d.Primary || d.PrimaryErr != nil || d.SecondaryErr != nil || d.Primary.Offset != fxPrimary || d.Secondary.Offset != fxSecondary {
				t.Errorf("after the search: active %s, errors %v / %v", d.ActiveReason, d.PrimaryErr, d.SecondaryErr)
			}
			if !equalContent(d, readImage(t, fixture.Image(t, bStale, "m1"))) {
				t.Errorf("content differs from the undamaged image's")
			}
			mdadmRejects(t, writeTemp(t, "m1.img", img))
		})
	}
}

// TestTruncated: images cut short (an interrupted acquisition).
func TestTruncated(t *testing.T) {
	img := fixture.Image(t, aClean, "m0")
	t.Run("anchor cut off", func(t *testing.T) {
		d := readImage(t, img[:len(img)-512])
		if d.Anchor != nil || d.Active != d.Primary || d.PrimaryErr != nil || d.SecondaryErr != nil {
			t.Errorf("anchor %v (%v), active %s", d.Anchor, d.AnchorErr, d.ActiveReason)
		}
		mdadmRejects(t, writeTemp(t, "m0.img", img[:len(img)-512]))
	})
	t.Run("inside the primary's config section", func(t *testing.T) {
		n := fxPrimary + 300*512
		d := readImage(t, img[:n])
		if d.Active != d.Secondary {
			t.Fatalf("active %s; want the secondary", d.ActiveReason)
		}
		wantFormatError(t, d.PrimaryErr, "config_section_offset", fxPrimary+192+24)
	})
	t.Run("inside the secondary's sections", func(t *testing.T) {
		n := fxSecondary + 100*512
		_, err := Read(bytes.NewReader(img[:n]), int64(n))
		// The search finds the secondary header only; it places the
		// primary past the end.
		wantFormatError(t, err, "primary_lba", fxSecondary+96)
		if !strings.Contains(err.Error(), "phys_section_offset") {
			t.Errorf("error %q does not give the secondary's problem", err)
		}
	})
	t.Run("before the secondary", func(t *testing.T) {
		n := fxSecondary
		if _, err := Read(bytes.NewReader(img[:n]), int64(n)); !errors.Is(err, ErrNoDDF) {
			t.Errorf("Read = %v; want ErrNoDDF", err)
		}
	})
}

// TestNoDDF: images without a DDF header anywhere.
func TestNoDDF(t *testing.T) {
	tests := []struct {
		name string
		img  []byte
	}{
		{"empty", nil},
		{"one sector", make([]byte, 512)},
		{"odd size", make([]byte, 1000)},
		{"zero 48 MiB", make([]byte, fxSectors*512)},
		{"all magics cleared", messWith(t, aClean, "m0", headers(func(b []byte, h int) { b[h] = 0 }))},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, err := Read(bytes.NewReader(tt.img), int64(len(tt.img)))
			if d != nil || !errors.Is(err, ErrNoDDF) {
				t.Fatalf("Read = %v, %v; want ErrNoDDF", d, err)
			}
		})
	}
}

// shortReader serves only the first n bytes of an image that claims more.
type shortReader struct {
	r *bytes.Reader
	n int64
}

func (s shortReader) ReadAt(p []byte, off int64) (int, error) {
	if off >= s.n {
		return 0, os.ErrClosed
	}
	if max := s.n - off; int64(len(p)) > max {
		n, _ := s.r.ReadAt(p[:max], off)
		return n, os.ErrClosed
	}
	return s.r.ReadAt(p, off)
}

// TestReadErrorIsNotZeros: a reader that fails inside the metadata gives an
// error that wraps the reader's, never metadata decoded from zeros.
func TestReadErrorIsNotZeros(t *testing.T) {
	img := fixture.Image(t, aClean, "m0")
	for _, n := range []int64{fxAnchor + 100, fxPrimary + fxConf*512 + 1000, fxSecondary + 5*512} {
		_, err := Read(shortReader{bytes.NewReader(img), n}, int64(len(img)))
		var fe *FormatError
		if !errors.Is(err, os.ErrClosed) || errors.As(err, &fe) {
			t.Errorf("reader failing at %#x: Read = %v; want the reader's error, not a FormatError", n, err)
		}
	}
}
