package vhd

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf16"

	"github.com/mirrorchk/mirrorchk/internal/diskfixture"
)

// checkExtents compares Extent over the whole disk with qemu-img map: each
// of our runs must be allocated exactly where qemu says data, unallocated
// where it says no data. It returns the unallocated byte count.
func checkExtents(t *testing.T, d interface {
	Extent(int64) (bool, int64, error)
	Size() int64
}, m []diskfixture.MapEntry) int64 {
	t.Helper()
	var unalloc int64
	for off := int64(0); off < d.Size(); {
		a, n, err := d.Extent(off)
		if err != nil || n <= 0 || n > d.Size()-off {
			t.Fatalf("Extent(%d) = %v, %d, %v", off, a, n, err)
		}
		if !a {
			unalloc += n
		}
		for _, e := range m {
			if e.Start < off+n && off < e.Start+e.Length && e.Data != a {
				t.Errorf("Extent(%d) = %v for %d bytes; qemu-img map says data=%v for [%d, +%d)", off, a, n, e.Data, e.Start, e.Length)
			}
		}
		off += n
	}
	return unalloc
}

// TestQemu reads every VHD variant qemu-img makes from FAT and NTFS images
// and compares bytes, size and allocation with qemu-img.
func TestQemu(t *testing.T) {
	variants := []struct {
		name, opts, format string
		sparse             bool
	}{
		{"dynamic", "subformat=dynamic", "VHD dynamic", true},
		{"fixed", "subformat=fixed", "VHD fixed", false},
		{"forcesize", "subformat=dynamic,force_size=on", "VHD dynamic", true},
	}
	for _, fsType := range []string{"fat", "ntfs"} {
		raw := diskfixture.RawFS(t, fsType)
		for _, v := range variants {
			t.Run(fsType+"-"+v.name, func(t *testing.T) {
				path := diskfixture.Convert(t, "vpc", raw, filepath.Join(diskfixture.Dir(), fsType+"-"+v.name+".vhd"), v.opts)
				before := diskfixture.FileSHA(t, path)
				f, size := diskfixture.OpenFile(t, path)
				d, err := Open(f, size, path, nil)
				if err != nil {
					t.Fatal(err)
				}
				if got := d.Format(); got != v.format {
					t.Errorf("Format() = %q, want %q", got, v.format)
				}
				if want := diskfixture.QemuVirtualSize(t, path, "vpc"); d.Size() != want {
					t.Errorf("Size() = %d, qemu-img info virtual-size %d", d.Size(), want)
				}
				if v.name == "fixed" && d.Size() != size-512 {
					t.Errorf("fixed: Size() = %d, want file size %d - 512 (the footer is not data)", d.Size(), size)
				}
				if got, want := diskfixture.DiskSHA(t, d, d.Size()), diskfixture.QemuRawSHA(t, path, "vpc"); got != want {
					t.Errorf("sha256 of the disk %s, qemu-img convert -O raw %s", got, want)
				}
				unalloc := checkExtents(t, d, diskfixture.QemuMap(t, path, "vpc"))
				if v.sparse != (unalloc > 0) {
					t.Errorf("unallocated bytes %d; sparse variant %v", unalloc, v.sparse)
				}
				if len(d.Warnings()) != 0 {
					t.Errorf("Warnings() = %q", d.Warnings())
				}
				if after := diskfixture.FileSHA(t, path); after != before {
					t.Errorf("input changed: sha256 %s -> %s", before, after)
				}
			})
		}
	}
}

// TestConcurrent reads one disk from several goroutines at once.
func TestConcurrent(t *testing.T) {
	path := diskfixture.Convert(t, "vpc", diskfixture.RawFS(t, "ntfs"), filepath.Join(diskfixture.Dir(), "ntfs-dynamic.vhd"), "subformat=dynamic")
	f, size := diskfixture.OpenFile(t, path)
	d, err := Open(f, size, path, nil)
	if err != nil {
		t.Fatal(err)
	}
	want := make([]byte, d.Size())
	if _, err := d.ReadAt(want, 0); err != nil && err != io.EOF {
		t.Fatal(err)
	}
	diskfixture.ReadConcurrently(t, d, want)
}

// footerOf returns the offset of the footer copy at 0 and the footer at
// the end, and the dynamic header offset, of a dynamic VHD held in b.
func fixSums(b []byte) {
	be := binary.BigEndian
	end := b[len(b)-512:]
	be.PutUint32(end[64:], 0)
	be.PutUint32(end[64:], checksum(end, 64))
	if be.Uint32(end[60:]) != typeFixed {
		copy(b[:512], end)
		if hoff := be.Uint64(end[16:]); hoff+1024 <= uint64(len(b)) {
			h := b[hoff : hoff+1024]
			be.PutUint32(h[36:], checksum(h, 36))
		}
	}
}

func utf16Bytes(s string, bigEndian bool) []byte {
	var b []byte
	for _, c := range utf16.Encode([]rune(s)) {
		if bigEndian {
			b = binary.BigEndian.AppendUint16(b, c)
		} else {
			b = binary.LittleEndian.AppendUint16(b, c)
		}
	}
	return b
}

// makeDifferencing turns the dynamic VHD b (made by qemu-img create and
// written by qemu-io) into a differencing disk of the parent with unique id
// puid and time stamp pts, with a relative (W2ru) and an absolute (W2ku)
// locator, and sets in each block's sector bitmap exactly the sectors of
// written: what Virtual PC and Hyper-V write. qemu-img cannot create a
// differencing VHD (no backing file support for vpc), so this is derived.
func makeDifferencing(b []byte, puid [16]byte, pts uint32, rel, abs string, written [][2]int64) []byte {
	be := binary.BigEndian
	foot := slices512(b[len(b)-512:])
	body := slices512(b[:len(b)-512])
	be.PutUint32(foot[60:], typeDiff)
	hoff := be.Uint64(foot[16:])
	h := body[hoff : hoff+1024]
	copy(h[40:56], puid[:])
	be.PutUint32(h[56:], pts)
	clear(h[64:576])
	copy(h[64:576], utf16Bytes(filepath.Base(rel), true))
	for i, loc := range []struct {
		code, path string
	}{{"W2ru", rel}, {"W2ku", abs}} {
		data := utf16Bytes(loc.path, false)
		space := (len(data) + 511) / 512 * 512
		e := h[576+24*i:]
		copy(e, loc.code)
		be.PutUint32(e[4:], uint32(space))
		be.PutUint32(e[8:], uint32(len(data)))
		be.PutUint64(e[16:], uint64(len(body)))
		body = append(body, make([]byte, space)...)
		copy(body[len(body)-space:], data)
	}
	bat := be.Uint64(h[16:])
	bs := int64(be.Uint32(h[32:]))
	for i := int64(0); i < int64(be.Uint32(h[28:])); i++ {
		e := be.Uint32(body[bat+uint64(i)*4:])
		if e == 0xFFFFFFFF {
			continue
		}
		bm := body[int64(e)*512:][:512]
		clear(bm)
		for _, w := range written {
			for s := w[0] / 512; s < (w[0]+w[1])/512; s++ {
				if s >= i*bs/512 && s < (i+1)*bs/512 {
					k := s - i*bs/512
					bm[k/8] |= 0x80 >> (k % 8)
				}
			}
		}
	}
	out := append(body, foot...)
	fixSums(out)
	return out
}

func slices512(b []byte) []byte { return append([]byte(nil), b...) }

func uniqueID(t *testing.T, path string) ([16]byte, uint32) {
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	f, ok := parseFooter(b[len(b)-512:])
	if !ok {
		t.Fatalf("%s: no footer", path)
	}
	return f.UniqueID, f.Timestamp
}

// diffFixture builds parent p.vhd (qemu-img convert of the FAT image) and
// child c.vhd in dir, with writes, and the expected raw content (the parent's
// raw conversion written at the same places with qemu-io).
func diffFixture(t *testing.T, dir, fsType string) (parent, child, want string, written [][2]int64) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	raw := diskfixture.RawFS(t, fsType)
	parent = diskfixture.Convert(t, "vpc", raw, filepath.Join(dir, "p.vhd"))
	child = filepath.Join(dir, "c.vhd")
	written = [][2]int64{{1<<20 + 4096, 8192}, {5 << 20, 512 << 10}, {(8 << 20) - 1024, 2048}, {20 << 20, 4096}}
	diskfixture.Run(t, "", "qemu-img", "create", "-q", "-f", "vpc", child+".tmp", "32M")
	exp := filepath.Join(dir, "want.raw")
	diskfixture.Run(t, "", "qemu-img", "convert", "-f", "vpc", "-O", "raw", parent, exp)
	for _, w := range written {
		c := fmt.Sprintf("write -P 0xab %d %d", w[0], w[1])
		diskfixture.Run(t, "", "qemu-io", "-f", "vpc", "-c", c, child+".tmp")
		diskfixture.Run(t, "", "qemu-io", "-f", "raw", "-c", c, exp)
	}
	b, err := os.ReadFile(child + ".tmp")
	if err != nil {
		t.Fatal(err)
	}
	puid, pts := uniqueID(t, parent)
	abs, _ := filepath.Abs(parent)
	b = makeDifferencing(b, puid, pts, `.\p.vhd`, strings.ReplaceAll(abs, "/", `\`), written)
	if err := os.WriteFile(child, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return parent, child, diskfixture.FileSHA(t, exp), written
}

func TestDifferencing(t *testing.T) {
	dir := filepath.Join(diskfixture.Dir(), "diff")
	parent, child, want, written := diffFixture(t, dir, "fat")
	// The derived child is a valid differencing VHD for libvhdi too.
	if got, size := diskfixture.PyvhdiSHA(t, child, parent); got != want {
		t.Fatalf("libvhdi reads the derived child as %s (%d bytes), want %s", got, size, want)
	}
	hashes := []string{diskfixture.FileSHA(t, child), diskfixture.FileSHA(t, parent)}
	defer func() {
		if diskfixture.FileSHA(t, child) != hashes[0] || diskfixture.FileSHA(t, parent) != hashes[1] {
			t.Error("reading changed the child or the parent")
		}
	}()
	f, size := diskfixture.OpenFile(t, child)
	d, err := Open(f, size, child, diskfixture.Opener(t, dir))
	if err != nil {
		t.Fatal(err)
	}
	if d.Format() != "VHD differencing" {
		t.Errorf("Format() = %q", d.Format())
	}
	if p, name := d.Parent(); p == nil || name != "./p.vhd" {
		t.Errorf("Parent() = %v, %q; want the relative locator ./p.vhd", p, name)
	}
	if got := diskfixture.DiskSHA(t, d, d.Size()); got != want {
		t.Errorf("sha256 %s, want %s (parent's raw conversion written by qemu-io)", got, want)
	}
	wantBytes, err := os.ReadFile(filepath.Join(dir, "want.raw"))
	if err != nil {
		t.Fatal(err)
	}
	diskfixture.ReadConcurrently(t, d, wantBytes[:min(int64(len(wantBytes)), d.Size())])
	// Extent: allocated where the child holds sectors or the parent has
	// data; the parent's map comes from qemu-img.
	pm := diskfixture.QemuMap(t, parent, "vpc")
	for off := int64(0); off < d.Size(); {
		a, n, err := d.Extent(off)
		if err != nil || n <= 0 {
			t.Fatalf("Extent(%d) = %v, %d, %v", off, a, n, err)
		}
		for _, probe := range []int64{off, off + n - 1} {
			inChild := false
			for _, w := range written {
				inChild = inChild || (probe >= w[0] && probe < w[0]+w[1])
			}
			inParent := false
			for _, e := range pm {
				inParent = inParent || (e.Data && probe >= e.Start && probe < e.Start+e.Length)
			}
			if a != (inChild || inParent) {
				t.Errorf("Extent(%d) = %v for %d bytes; at %d child holds %v, parent has data %v", off, a, n, probe, inChild, inParent)
			}
		}
		off += n
	}

	t.Run("absolute locator", func(t *testing.T) {
		// Child moved elsewhere: the relative locator fails, the absolute one works.
		other := t.TempDir()
		moved := filepath.Join(other, "c.vhd")
		b, _ := os.ReadFile(child)
		os.WriteFile(moved, b, 0o644)
		f, size := diskfixture.OpenFile(t, moved)
		d, err := Open(f, size, moved, diskfixture.Opener(t, other))
		if err != nil {
			t.Fatal(err)
		}
		if _, name := d.Parent(); !filepath.IsAbs(name) {
			t.Errorf("parent opened as %q, want the absolute locator", name)
		}
	})
	t.Run("missing parent", func(t *testing.T) {
		other := t.TempDir()
		moved := filepath.Join(other, "c.vhd")
		b, _ := os.ReadFile(child)
		dir := strings.ReplaceAll(filepath.Dir(parent), "/", `\`)
		b = bytes.ReplaceAll(b, utf16Bytes(dir, false), utf16Bytes(strings.Repeat("x", len(dir)), false))
		os.WriteFile(moved, b, 0o644)
		f, size := diskfixture.OpenFile(t, moved)
		_, err := Open(f, size, moved, diskfixture.Opener(t, other))
		var ue *UnsupportedError
		if !errors.As(err, &ue) || !errors.Is(err, fs.ErrNotExist) || !strings.Contains(err.Error(), "p.vhd") {
			t.Fatalf("Open = %v; want an UnsupportedError wrapping fs.ErrNotExist naming p.vhd", err)
		}
		if _, err := Open(f, size, moved, nil); !errors.As(err, &ue) {
			t.Fatalf("Open with nil OpenFunc = %v; want an UnsupportedError", err)
		}
	})
	t.Run("wrong parent", func(t *testing.T) {
		other := t.TempDir()
		b, _ := os.ReadFile(child)
		os.WriteFile(filepath.Join(other, "c.vhd"), b, 0o644)
		// Another dynamic VHD under the parent's name: a different unique id.
		diskfixture.Run(t, "", "qemu-img", "convert", "-f", "raw", "-O", "vpc", diskfixture.RawFS(t, "fat"), filepath.Join(other, "p.vhd"))
		f, size := diskfixture.OpenFile(t, filepath.Join(other, "c.vhd"))
		_, err := Open(f, size, "c.vhd", diskfixture.Opener(t, other))
		var fe *FormatError
		if !errors.As(err, &fe) || fe.Field != "dynamic header parent unique id" || fe.File != "c.vhd" {
			t.Fatalf("Open = %v; want a FormatError on the parent unique id", err)
		}
	})
	t.Run("loop", func(t *testing.T) {
		// A child that names itself as its parent.
		other := t.TempDir()
		b, _ := os.ReadFile(child)
		self, _ := parseFooter(b[len(b)-512:])
		b, _ = os.ReadFile(child + ".tmp")
		b = makeDifferencing(b, self.UniqueID, self.Timestamp, `.\loop.vhd`, `C:\nowhere\loop.vhd`, written)
		// makeDifferencing keeps the child's unique id: point it at itself.
		f2, _ := parseFooter(b[len(b)-512:])
		hoff := f2.DataOffset
		copy(b[hoff+40:hoff+56], f2.UniqueID[:])
		fixSums(b)
		p := filepath.Join(other, "loop.vhd")
		os.WriteFile(p, b, 0o644)
		f, size := diskfixture.OpenFile(t, p)
		_, err := Open(f, size, "loop.vhd", diskfixture.Opener(t, other))
		var fe *FormatError
		if !errors.As(err, &fe) || !strings.Contains(fe.Msg, "loop") {
			t.Fatalf("Open = %v; want a FormatError naming the loop", err)
		}
	})
}

// TestDamaged derives broken files from a real dynamic VHD: each must be a
// FormatError naming the file, the offset and the field, never a panic.
func TestDamaged(t *testing.T) {
	good, err := os.ReadFile(diskfixture.Convert(t, "vpc", diskfixture.RawFS(t, "fat"), filepath.Join(diskfixture.Dir(), "fat-dynamic.vhd"), "subformat=dynamic"))
	if err != nil {
		t.Fatal(err)
	}
	fixed, err := os.ReadFile(diskfixture.Convert(t, "vpc", diskfixture.RawFS(t, "fat"), filepath.Join(diskfixture.Dir(), "fat-fixed.vhd"), "subformat=fixed"))
	if err != nil {
		t.Fatal(err)
	}
	be := binary.BigEndian
	foot, _ := parseFooter(good[len(good)-512:])
	hoff := int(foot.DataOffset)
	bat := int(be.Uint64(good[hoff+16:]))
	end := len(good) - 512
	last, lastE := 0, uint32(0) // the BAT entry of the last block in the file
	for i := 0; i < int(be.Uint32(good[hoff+28:])); i++ {
		if e := be.Uint32(good[bat+4*i:]); e != 0xFFFFFFFF && e > lastE {
			last, lastE = i, e
		}
	}
	tests := []struct {
		name  string
		src   []byte
		mess  func(b []byte) []byte
		field string
		off   int64
	}{
		{"truncated", good, func(b []byte) []byte { return b[:len(b)/2] }, "BAT entry *", 0},
		{"truncated before footer kept", good, func(b []byte) []byte {
			// Drop the last block but keep the footer: its BAT entry points past the data.
			return append(b[:len(b)-512-1<<20:len(b)-512-1<<20], b[len(b)-512:]...)
		}, fmt.Sprintf("BAT entry %d", last), int64(bat + 4*last)},
		{"BAT entry outside the file", good, func(b []byte) []byte { be.PutUint32(b[bat:], 0x7FFFFFF0); return b }, "BAT entry 0", int64(bat)},
		{"BAT entry into the header", good, func(b []byte) []byte { be.PutUint32(b[bat:], 1); return b }, "BAT entry 0", int64(bat)},
		{"two entries share a block", good, func(b []byte) []byte { copy(b[bat+4:bat+8], b[bat:bat+4]); return b }, "BAT entry 1", int64(bat + 4)},
		{"absurd current size", good, func(b []byte) []byte { be.PutUint64(b[end+48:], 1<<62); fixSums(b); return b }, "footer current size", int64(end + 48)},
		{"absurd BAT", good, func(b []byte) []byte {
			be.PutUint64(b[end+48:], 1<<42)
			be.PutUint32(b[hoff+28:], 1<<23)
			fixSums(b)
			return b
		}, "dynamic header BAT offset", int64(hoff + 16)},
		{"BAT beyond the bound", good, func(b []byte) []byte {
			be.PutUint64(b[end+48:], 1<<41)
			be.PutUint32(b[hoff+28:], 1<<30)
			be.PutUint32(b[hoff+32:], 4096)
			fixSums(b)
			return b
		}, "footer current size", int64(end + 48)},
		{"block size not a power of two", good, func(b []byte) []byte { be.PutUint32(b[hoff+32:], 3<<20); fixSums(b); return b }, "dynamic header block size", int64(hoff + 32)},
		{"footer checksum, both copies", good, func(b []byte) []byte { b[end+40]++; b[40]++; return b }, "footer checksum", int64(end + 64)},
		{"header checksum", good, func(b []byte) []byte { b[hoff+30]++; return b }, "dynamic header checksum", int64(hoff + 36)},
		{"header offset outside", good, func(b []byte) []byte { be.PutUint64(b[end+16:], 1<<50); fixSums(b); return b }, "footer data offset", int64(end + 16)},
		{"disk type", good, func(b []byte) []byte { be.PutUint32(b[end+60:], 7); fixSums(b); return b }, "footer disk type", int64(end + 60)},
		{"fixed truncated", fixed, func(b []byte) []byte {
			return append(b[:len(b)/2:len(b)/2], b[len(b)-512:]...)
		}, "footer current size", int64(len(fixed)/2 + 48)},
		{"not a VHD", good, func(b []byte) []byte { return make([]byte, 4096) }, "footer cookie", 4096 - 512},
	}
	t.Run("footer at the end damaged", func(t *testing.T) {
		// The copy at byte 0 is used, with a warning, and reads as before.
		b := append([]byte(nil), good...)
		b[end+40]++
		d, err := Open(bytes.NewReader(b), int64(len(b)), "bad.vhd", nil)
		if err != nil {
			t.Fatal(err)
		}
		if w := d.Warnings(); len(w) != 1 || !strings.Contains(w[0], "footer copy at byte 0 is used") {
			t.Errorf("Warnings() = %q", w)
		}
		g, _ := Open(bytes.NewReader(good), int64(len(good)), "good.vhd", nil)
		if diskfixture.DiskSHA(t, d, d.Size()) != diskfixture.DiskSHA(t, g, g.Size()) {
			t.Error("reads differently from the undamaged file")
		}
	})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := tt.mess(append([]byte(nil), tt.src...))
			_, err := Open(bytes.NewReader(b), int64(len(b)), "bad.vhd", nil)
			var fe *FormatError
			if !errors.As(err, &fe) {
				t.Fatalf("Open = %v; want a FormatError", err)
			}
			if prefix, ok := strings.CutSuffix(tt.field, "*"); ok {
				if fe.File != "bad.vhd" || !strings.HasPrefix(fe.Field, prefix) {
					t.Errorf("FormatError{%q, %#x, %q}; want {bad.vhd, %q...}", fe.File, fe.Off, fe.Field, prefix)
				}
				return
			}
			if fe.File != "bad.vhd" || fe.Field != tt.field || fe.Off != tt.off {
				t.Errorf("FormatError{%q, %#x, %q}; want {bad.vhd, %#x, %q}: %v", fe.File, fe.Off, fe.Field, tt.off, tt.field, err)
			}
			if !strings.HasPrefix(err.Error(), "bad.vhd: VHD "+tt.field+" at byte 0x") {
				t.Errorf("Error() = %q", err)
			}
		})
	}
}

// TestDetect checks Detect on real heads and tails, and on raw images.
func TestDetect(t *testing.T) {
	for _, name := range []string{"fat-dynamic.vhd", "fat-fixed.vhd"} {
		b, err := os.ReadFile(diskfixture.Convert(t, "vpc", diskfixture.RawFS(t, "fat"), filepath.Join(diskfixture.Dir(), name), "subformat="+strings.TrimSuffix(strings.TrimPrefix(name, "fat-"), ".vhd")))
		if err != nil {
			t.Fatal(err)
		}
		if !Detect(b[:4096], b[len(b)-512:]) {
			t.Errorf("%s: Detect = false", name)
		}
		// A raw image whose last sector starts with the cookie but whose checksum is wrong.
		tail := append([]byte(nil), b[len(b)-512:]...)
		tail[100]++
		if Detect(make([]byte, 4096), tail) {
			t.Errorf("%s: Detect accepts a footer with a bad checksum", name)
		}
	}
	raw, err := os.ReadFile(diskfixture.RawFS(t, "ntfs"))
	if err != nil {
		t.Fatal(err)
	}
	if Detect(raw[:4096], raw[len(raw)-512:]) {
		t.Error("Detect accepts a raw NTFS image")
	}
	if Detect(nil, nil) {
		t.Error("Detect accepts nothing")
	}
}

// TestChain reads a grandchild: a differencing disk whose parent is the
// differencing disk of TestDifferencing, checked against libvhdi and qemu-io.
func TestChain(t *testing.T) {
	dir := filepath.Join(diskfixture.Dir(), "chain")
	parent, child, _, _ := diffFixture(t, dir, "fat")
	grand := filepath.Join(dir, "g.vhd")
	written := [][2]int64{{1 << 20, 4096}, {12 << 20, 3 << 20}}
	diskfixture.Run(t, "", "qemu-img", "create", "-q", "-f", "vpc", grand+".tmp", "32M")
	exp := filepath.Join(dir, "want.raw") // the child's content, from diffFixture
	for _, w := range written {
		c := fmt.Sprintf("write -P 0xcd %d %d", w[0], w[1])
		diskfixture.Run(t, "", "qemu-io", "-f", "vpc", "-c", c, grand+".tmp")
		diskfixture.Run(t, "", "qemu-io", "-f", "raw", "-c", c, exp)
	}
	want := diskfixture.FileSHA(t, exp)
	b, err := os.ReadFile(grand + ".tmp")
	if err != nil {
		t.Fatal(err)
	}
	cuid, cts := uniqueID(t, child)
	b = makeDifferencing(b, cuid, cts, `.\c.vhd`, `C:\nowhere\c.vhd`, written)
	if err := os.WriteFile(grand, b, 0o644); err != nil {
		t.Fatal(err)
	}
	// libvhdi: the grandchild with the child (itself with the parent) set.
	if got, _ := diskfixture.PyvhdiSHA(t, grand, child, parent); got != want {
		t.Fatalf("libvhdi reads the chain as %s, want %s", got, want)
	}
	f, size := diskfixture.OpenFile(t, grand)
	d, err := Open(f, size, grand, diskfixture.Opener(t, dir))
	if err != nil {
		t.Fatal(err)
	}
	if got := diskfixture.DiskSHA(t, d, d.Size()); got != want {
		t.Errorf("sha256 %s, want %s", got, want)
	}
	if got := d.Files(); len(got) != 3 || got[0] != grand || got[1] != "./c.vhd" || got[2] != "./p.vhd" {
		t.Errorf("Files() = %q", got)
	}
	c, _ := d.Parent()
	if c == nil {
		t.Fatal("no parent")
	}
	if p, name := c.Parent(); p == nil || name != "./p.vhd" {
		t.Errorf("grandparent %v %q", p, name)
	}
	for _, w := range written {
		if a, _, err := d.Extent(w[0]); err != nil || !a {
			t.Errorf("Extent(%d) = %v, %v inside a written range", w[0], a, err)
		}
	}
}

// TestGeometry: a footer whose current size disagrees with its geometry
// (creator "qemu"): the current size is used and the difference reported,
// where qemu-img reports the geometry's size.
func TestGeometry(t *testing.T) {
	src := diskfixture.Convert(t, "vpc", diskfixture.RawFS(t, "fat"), filepath.Join(diskfixture.Dir(), "fat-dynamic.vhd"), "subformat=dynamic")
	b, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	end := len(b) - 512
	cur := binary.BigEndian.Uint64(b[end+48:])
	binary.BigEndian.PutUint64(b[end+48:], cur-1<<20)
	fixSums(b)
	path := filepath.Join(t.TempDir(), "geom.vhd")
	os.WriteFile(path, b, 0o644)
	f, size := diskfixture.OpenFile(t, path)
	d, err := Open(f, size, path, nil)
	if err != nil {
		t.Fatal(err)
	}
	if d.Size() != int64(cur-1<<20) {
		t.Errorf("Size() = %d, want the current size %d", d.Size(), cur-1<<20)
	}
	if w := d.Warnings(); len(w) != 1 || !strings.Contains(w[0], "the current size is used") {
		t.Errorf("Warnings() = %q", w)
	}
	b[end+84] = 1 // saved state
	fixSums(b)
	if d, err := Open(bytes.NewReader(b), int64(len(b)), "saved.vhd", nil); err != nil || len(d.Warnings()) != 2 || !strings.Contains(d.Warnings()[0], "saved state") {
		t.Errorf("saved state: %v, %q", err, d.Warnings())
	}
	if q := diskfixture.QemuVirtualSize(t, path, "vpc"); q != int64(cur) {
		t.Errorf("qemu-img info says %d; this test assumes qemu uses the geometry (%d)", q, cur)
	}
}

// TestFooter511 reads disks whose footer is 511 bytes long, as Virtual PC
// wrote them before 2004 (derived from qemu-img files by dropping the last,
// reserved, byte of the footer).
func TestFooter511(t *testing.T) {
	for _, v := range []string{"dynamic", "fixed"} {
		src := diskfixture.Convert(t, "vpc", diskfixture.RawFS(t, "fat"), filepath.Join(diskfixture.Dir(), "fat-"+v+".vhd"), "subformat="+v)
		b, err := os.ReadFile(src)
		if err != nil {
			t.Fatal(err)
		}
		if b[len(b)-1] != 0 {
			t.Fatal("the footer's last byte is not zero")
		}
		short := b[:len(b)-1]
		if !Detect(short[:4096], short[len(short)-512:]) {
			t.Errorf("%s: Detect = false", v)
		}
		d, err := Open(bytes.NewReader(short), int64(len(short)), "short.vhd", nil)
		if err != nil {
			t.Fatalf("%s: %v", v, err)
		}
		g, _ := Open(bytes.NewReader(b), int64(len(b)), "full.vhd", nil)
		if d.Size() != g.Size() || diskfixture.DiskSHA(t, d, d.Size()) != diskfixture.DiskSHA(t, g, g.Size()) {
			t.Errorf("%s: reads differently from the 512-byte footer file", v)
		}
	}
}

// TestUnusedSectors: a dynamic disk whose block 0 sector bitmap is cleared
// (derived from a qemu-img file; Virtual PC writes bits only for written
// sectors) while the block holds data. The peers disagree: qemu-img reads
// the data, libvhdi reads zeros. The reader returns the data, as qemu-img
// does, and says so in a warning.
func TestUnusedSectors(t *testing.T) {
	src := diskfixture.Convert(t, "vpc", diskfixture.RawFS(t, "fat"), filepath.Join(diskfixture.Dir(), "fat-dynamic.vhd"), "subformat=dynamic")
	b, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	be := binary.BigEndian
	hoff := be.Uint64(b[16:])
	e := be.Uint32(b[be.Uint64(b[hoff+16:]):])
	clear(b[int64(e)*512 : int64(e)*512+512])
	path := filepath.Join(t.TempDir(), "unused.vhd")
	os.WriteFile(path, b, 0o644)
	f, size := diskfixture.OpenFile(t, path)
	d, err := Open(f, size, path, nil)
	if err != nil {
		t.Fatal(err)
	}
	if w := d.Warnings(); len(w) != 0 {
		t.Fatalf("warnings before reading: %q", w)
	}
	if got, want := diskfixture.DiskSHA(t, d, d.Size()), diskfixture.QemuRawSHA(t, path, "vpc"); got != want {
		t.Errorf("sha256 %s, qemu-img %s", got, want)
	}
	w := d.Warnings()
	if len(w) != 1 || !strings.HasPrefix(w[0], "block 0 ") || !strings.Contains(w[0], "libvhdi") {
		t.Errorf("Warnings() = %q; want one naming block 0", w)
	}
	// The other peer reads zeros there: the disagreement the warning reports.
	diskfixture.RequirePyvhdi(t)
	out := diskfixture.Run(t, "", "/usr/bin/python3", "-c", `
import sys, pyvhdi
f = pyvhdi.file(); f.open(sys.argv[1])
print(any(f.read_buffer_at_offset(512, 0)))`, path)
	if strings.TrimSpace(string(out)) != "False" {
		t.Errorf("libvhdi reads data in sector 0: %s (the warning's claim is wrong)", out)
	}
}

// TestDifferencingNTFS: the same derivation over the NTFS image.
func TestDifferencingNTFS(t *testing.T) {
	dir := filepath.Join(diskfixture.Dir(), "diff-ntfs")
	parent, child, want, _ := diffFixture(t, dir, "ntfs")
	if got, _ := diskfixture.PyvhdiSHA(t, child, parent); got != want {
		t.Fatalf("libvhdi reads the derived child as %s, want %s", got, want)
	}
	f, size := diskfixture.OpenFile(t, child)
	d, err := Open(f, size, child, diskfixture.Opener(t, dir))
	if err != nil {
		t.Fatal(err)
	}
	if got := diskfixture.DiskSHA(t, d, d.Size()); got != want {
		t.Errorf("sha256 %s, want %s", got, want)
	}
}
