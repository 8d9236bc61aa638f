package vhdx

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"unicode/utf16"

	"github.com/mirrorchk/mirrorchk/internal/diskfixture"
)

// qemuZeros reports whether the bytes [off, off+n) of the raw file are zero.
func rawZero(t *testing.T, raw *os.File, off, n int64) bool {
	buf := make([]byte, 1<<20)
	for n > 0 {
		m := min(n, int64(len(buf)))
		if _, err := raw.ReadAt(buf[:m], off); err != nil {
			t.Fatal(err)
		}
		if slices.ContainsFunc(buf[:m], func(c byte) bool { return c != 0 }) {
			return false
		}
		off, n = off+m, n-m
	}
	return true
}

// checkExtents walks Extent over the disk. qemu-img map says "data" for
// every VHDX byte (qemu's vhdx driver has no block status), so it cannot
// be the reference: instead every unallocated run must read as zeros in
// qemu-img's own raw conversion, every run must stay inside one block, and
// the allocated bytes must fit in the file. It returns the unallocated bytes.
func checkExtents(t *testing.T, d *Disk, peerRawPath string, fileSize int64) int64 {
	t.Helper()
	raw, err := os.Open(peerRawPath)
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	var unalloc int64
	for off := int64(0); off < d.Size(); {
		a, n, err := d.Extent(off)
		if err != nil || n <= 0 || n > d.Size()-off {
			t.Fatalf("Extent(%d) = %v, %d, %v", off, a, n, err)
		}
		if !a {
			unalloc += n
			if !rawZero(t, raw, off, n) {
				t.Errorf("Extent(%d) unallocated for %d bytes, but qemu-img convert -O raw has data there", off, n)
			}
		}
		off += n
	}
	if alloc := d.Size() - unalloc; alloc > fileSize {
		t.Errorf("%d bytes allocated in a %d-byte file", alloc, fileSize)
	}
	return unalloc
}

func TestQemu(t *testing.T) {
	variants := []struct {
		name, opts, format string
		sparse             bool
	}{
		// qemu-img's default 8 MiB blocks: the NTFS image has data in every
		// block. Its "fixed" VHDX marks zero blocks ZERO (block_state_zero),
		// so it has unallocated runs too, but no sparseness is promised.
		{"dynamic", "subformat=dynamic", "VHDX dynamic", false},
		{"fixed", "subformat=fixed", "VHDX fixed", false},
		{"block1m", "subformat=dynamic,block_size=1M", "VHDX dynamic", true},
	}
	for _, fsType := range []string{"fat", "ntfs"} {
		raw := diskfixture.RawFS(t, fsType)
		for _, v := range variants {
			t.Run(fsType+"-"+v.name, func(t *testing.T) {
				path := diskfixture.Convert(t, "vhdx", raw, filepath.Join(diskfixture.Dir(), fsType+"-"+v.name+".vhdx"), v.opts)
				before := diskfixture.FileSHA(t, path)
				f, size := diskfixture.OpenFile(t, path)
				d, err := Open(f, size, path, nil)
				if err != nil {
					t.Fatal(err)
				}
				if got := d.Format(); got != v.format {
					t.Errorf("Format() = %q, want %q", got, v.format)
				}
				if want := diskfixture.QemuVirtualSize(t, path, "vhdx"); d.Size() != want {
					t.Errorf("Size() = %d, qemu-img info virtual-size %d", d.Size(), want)
				}
				peer := path + ".peer.raw"
				diskfixture.Run(t, "", "qemu-img", "convert", "-f", "vhdx", "-O", "raw", path, peer)
				defer os.Remove(peer)
				if got, want := diskfixture.DiskSHA(t, d, d.Size()), diskfixture.FileSHA(t, peer); got != want {
					t.Errorf("sha256 of the disk %s, qemu-img convert -O raw %s", got, want)
				}
				// qemu-img map: data everywhere; our allocated runs are a subset.
				for _, e := range diskfixture.QemuMap(t, path, "vhdx") {
					if !e.Data {
						for off := e.Start; off < e.Start+e.Length; {
							a, n, _ := d.Extent(off)
							if a {
								t.Errorf("Extent(%d) allocated, qemu-img map says no data", off)
							}
							off += n
						}
					}
				}
				unalloc := checkExtents(t, d, peer, size)
				if v.sparse && unalloc == 0 {
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

func TestConcurrent(t *testing.T) {
	path := diskfixture.Convert(t, "vhdx", diskfixture.RawFS(t, "ntfs"), filepath.Join(diskfixture.Dir(), "ntfs-block1m.vhdx"), "subformat=dynamic,block_size=1M")
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

// currentHeader returns the offset of the header with the higher sequence.
func currentHeader(b []byte) int {
	le := binary.LittleEndian
	if le.Uint64(b[headerOff2+8:]) > le.Uint64(b[headerOff1+8:]) {
		return headerOff2
	}
	return headerOff1
}

func fixCRC(b []byte) {
	clear(b[4:8])
	binary.LittleEndian.PutUint32(b[4:], crc32.Checksum(b, castagnoli))
}

// TestDirtyLog: qemu-io writes through the VHDX log (data and BAT updates
// are logged, then applied) and clears the header's log GUID when it closes
// cleanly. Setting the log GUID of the current header back to the GUID of
// the real entries qemu left in the log (a 16-byte edit plus the header
// CRC) gives a file with a log that needs replay: qemu-img itself refuses
// to open it read-only. The reader must warn, and read the data as the BAT
// says, which here equals qemu's result after replaying the log on a copy.
func TestDirtyLog(t *testing.T) {
	dir := t.TempDir()
	clean := filepath.Join(dir, "clean.vhdx")
	diskfixture.Run(t, "", "qemu-img", "convert", "-f", "raw", "-O", "vhdx", diskfixture.RawFS(t, "fat"), clean)
	diskfixture.Run(t, "", "qemu-io", "-f", "vhdx", "-c", "write -P 0xab 20M 64k", clean)
	b, err := os.ReadFile(clean)
	if err != nil {
		t.Fatal(err)
	}
	ho := currentHeader(b)
	le := binary.LittleEndian
	logOff := int(le.Uint64(b[ho+72:]))
	if string(b[logOff:logOff+4]) != "loge" {
		t.Fatalf("qemu-io left no log entry at %#x", logOff)
	}
	if !bytes.Equal(b[ho+48:ho+64], make([]byte, 16)) {
		t.Fatal("qemu-io left the log GUID set; the test assumes a clean close")
	}
	copy(b[ho+48:ho+64], b[logOff+32:logOff+48])
	fixCRC(b[ho : ho+headerSize])
	dirty := filepath.Join(dir, "dirty.vhdx")
	os.WriteFile(dirty, b, 0o644)

	// The peer agrees the log needs replay.
	out, err := exec.Command("qemu-img", "info", "-f", "vhdx", dirty).CombinedOutput()
	if err == nil || !strings.Contains(string(out), "log that needs to be replayed") {
		t.Fatalf("qemu-img info on the dirty file: %v %s; want a refusal naming the log", err, out)
	}
	replayed := filepath.Join(dir, "replayed.vhdx")
	os.WriteFile(replayed, b, 0o644)
	diskfixture.Run(t, "", "qemu-img", "check", "-q", "-r", "all", "-f", "vhdx", replayed)
	peer := filepath.Join(dir, "replayed.raw")
	diskfixture.Run(t, "", "qemu-img", "convert", "-f", "vhdx", "-O", "raw", replayed, peer)

	f, size := diskfixture.OpenFile(t, dirty)
	d, err := Open(f, size, "dirty.vhdx", nil)
	if err != nil {
		t.Fatal(err)
	}
	w := d.Warnings()
	if len(w) != 1 || !strings.HasPrefix(w[0], "VHDX log is not empty") || !strings.Contains(w[0], "1 valid log entries") {
		t.Errorf("Warnings() = %q; want one naming the log and its entry", w)
	}
	if got, want := diskfixture.DiskSHA(t, d, d.Size()), diskfixture.FileSHA(t, peer); got != want {
		t.Errorf("sha256 %s; qemu after replaying the log on a copy %s", got, want)
	}
	// A log GUID that no entry in the log carries: still reported.
	b2 := append([]byte(nil), b...)
	copy(b2[ho+48:ho+64], "no such log GUID")
	fixCRC(b2[ho : ho+headerSize])
	if d, err := Open(bytes.NewReader(b2), int64(len(b2)), "dirty2.vhdx", nil); err != nil {
		t.Error(err)
	} else if w := d.Warnings(); len(w) != 1 || !strings.Contains(w[0], "no valid log entry") {
		t.Errorf("Warnings() = %q; want one saying no valid entry was found", w)
	}
	// A hostile log: every sector claims an entry to the end of the log
	// with a bad checksum. The scan is bounded and says it stopped.
	b3 := append([]byte(nil), b...)
	logLen := int(le.Uint32(b3[ho+68:]))
	for s := 0; s < logLen; s += 4096 {
		e := b3[logOff+s:]
		copy(e[:4], "loge")
		le.PutUint32(e[4:], 1)
		le.PutUint32(e[8:], uint32(logLen-s))
		copy(e[32:48], b3[ho+48:ho+64])
	}
	if d, err := Open(bytes.NewReader(b3), int64(len(b3)), "hostile.vhdx", nil); err != nil {
		t.Error(err)
	} else if w := d.Warnings(); len(w) != 2 || !strings.Contains(w[0], "scan stopped early") {
		t.Errorf("Warnings() = %q; want the scan stopped and the log reported", w)
	}
	// The clean file has no warning.
	f2, size2 := diskfixture.OpenFile(t, clean)
	if d, err := Open(f2, size2, "clean.vhdx", nil); err != nil || len(d.Warnings()) != 0 {
		t.Errorf("clean file: %v, %q", err, d.Warnings())
	}
}

func utf16LE(s string) []byte {
	var b []byte
	for _, c := range utf16.Encode([]rune(s)) {
		b = binary.LittleEndian.AppendUint16(b, c)
	}
	return b
}

// locatorItem builds a VHDX parent locator metadata item (MS-VHDX 2.6.2.6).
func locatorItem(kv [][2]string) []byte {
	le := binary.LittleEndian
	b := append([]byte(nil), guidVHDXParent[:]...)
	b = le.AppendUint16(b, 0)
	b = le.AppendUint16(b, uint16(len(kv)))
	data := 20 + 12*len(kv)
	var strs []byte
	for _, e := range kv {
		k, v := utf16LE(e[0]), utf16LE(e[1])
		b = le.AppendUint32(b, uint32(data+len(strs)))
		b = le.AppendUint32(b, uint32(data+len(strs)+len(k)))
		b = le.AppendUint16(b, uint16(len(k)))
		b = le.AppendUint16(b, uint16(len(v)))
		strs = append(strs, k...)
		strs = append(strs, v...)
	}
	return append(b, strs...)
}

// makeDifferencing turns the dynamic VHDX b (made by qemu-img create and
// written by qemu-io) into a differencing disk of the parent whose data
// write GUID is link: HasParent set, a parent locator item added, every
// written block made partially present with a sector bitmap (appended at
// the end of the file) holding exactly the written sectors, and the other
// blocks not present (qemu-img marks them ZERO, which in a differencing
// disk would hide the parent). qemu-img cannot create a differencing VHDX
// (no backing file support for vhdx), so this is derived.
func makeDifferencing(t *testing.T, b []byte, link GUID, rel, abs string, written [][2]int64) []byte {
	le := binary.LittleEndian
	d, err := Open(bytes.NewReader(b), int64(len(b)), "child", nil)
	if err != nil {
		t.Fatal(err)
	}
	bat, meta, err := d.readRegions()
	if err != nil {
		t.Fatal(err)
	}
	// Metadata: HasParent, and the locator item after the existing items.
	tbl := b[meta.off:]
	n := int(le.Uint16(tbl[10:]))
	end := int64(64 << 10)
	for i := range n {
		e := tbl[32+32*i:]
		var g GUID
		copy(g[:], e)
		end = max(end, int64(le.Uint32(e[16:])+le.Uint32(e[20:])))
		if g == guidFileParams {
			fp := tbl[le.Uint32(e[16:]):]
			le.PutUint32(fp[4:], le.Uint32(fp[4:])|2)
		}
	}
	item := locatorItem([][2]string{
		{"parent_linkage", "{" + link.String() + "}"},
		{"relative_path", rel},
		{"absolute_win32_path", abs},
	})
	itemOff := (end + 4095) / 4096 * 4096
	copy(tbl[itemOff:], item)
	e := tbl[32+32*n:]
	copy(e, guidParentLoc[:])
	le.PutUint32(e[16:], uint32(itemOff))
	le.PutUint32(e[20:], uint32(len(item)))
	le.PutUint32(e[24:], 4) // IsRequired
	le.PutUint16(tbl[10:], uint16(n+1))
	// BAT: the differencing layout has a sector bitmap entry after each chunk.
	cr := d.chunkRatio
	blocks := (d.size + d.blockSize - 1) / d.blockSize
	sbOff := int64(len(b))
	b = append(b, make([]byte, 1<<20)...)
	batb := b[bat.off:]
	for p := range blocks {
		i := p + p/cr
		ent := le.Uint64(batb[8*i:])
		if ent&7 != stateFull {
			le.PutUint64(batb[8*i:], stateNotPresent)
			continue
		}
		le.PutUint64(batb[8*i:], ent&^7|statePartial)
		sbi := p/cr*(cr+1) + cr
		le.PutUint64(batb[8*sbi:], uint64(sbOff)|sbPresent)
		for _, w := range written {
			for s := w[0] / d.lss; s < (w[0]+w[1])/d.lss; s++ {
				if s*d.lss/d.blockSize == p {
					k := s % (1 << 23)
					b[sbOff+k/8] |= 1 << (k % 8)
				}
			}
		}
	}
	return b
}

// diffFixture builds parent p.vhdx (qemu-img convert of the FAT image) and
// child c.vhdx in dir, and the expected raw content (the parent's raw
// conversion written at the same places with qemu-io).
func diffFixture(t *testing.T, dir, fsType string) (parent, child, want string, written [][2]int64) {
	t.Helper()
	os.MkdirAll(dir, 0o755)
	parent = filepath.Join(dir, "p.vhdx")
	diskfixture.Run(t, "", "qemu-img", "convert", "-f", "raw", "-O", "vhdx", diskfixture.RawFS(t, fsType), parent)
	child = filepath.Join(dir, "c.vhdx")
	written = [][2]int64{{1<<20 + 4096, 8192}, {5 << 20, 512 << 10}, {(8 << 20) - 1024, 2048}, {20 << 20, 4096}}
	diskfixture.Run(t, "", "qemu-img", "create", "-q", "-f", "vhdx", child+".tmp", "32M")
	exp := filepath.Join(dir, "want.raw")
	diskfixture.Run(t, "", "qemu-img", "convert", "-f", "vhdx", "-O", "raw", parent, exp)
	for _, w := range written {
		c := fmt.Sprintf("write -P 0xab %d %d", w[0], w[1])
		diskfixture.Run(t, "", "qemu-io", "-f", "vhdx", "-c", c, child+".tmp")
		diskfixture.Run(t, "", "qemu-io", "-f", "raw", "-c", c, exp)
	}
	b, err := os.ReadFile(child + ".tmp")
	if err != nil {
		t.Fatal(err)
	}
	pb, err := os.ReadFile(parent)
	if err != nil {
		t.Fatal(err)
	}
	var link GUID
	ho := currentHeader(pb)
	copy(link[:], pb[ho+32:ho+48])
	abs, _ := filepath.Abs(parent)
	b = makeDifferencing(t, b, link, `.\p.vhdx`, strings.ReplaceAll(abs, "/", `\`), written)
	if err := os.WriteFile(child, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return parent, child, diskfixture.FileSHA(t, exp), written
}

func TestDifferencing(t *testing.T) {
	dir := filepath.Join(diskfixture.Dir(), "diff")
	parent, child, want, written := diffFixture(t, dir, "fat")
	if got, _ := diskfixture.PyvhdiSHA(t, child, parent); got != want {
		t.Fatalf("libvhdi reads the derived child as %s, want %s", got, want)
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
	if d.Format() != "VHDX differencing" {
		t.Errorf("Format() = %q", d.Format())
	}
	if p, name := d.Parent(); p == nil || name != "./p.vhdx" {
		t.Errorf("Parent() = %v, %q; want the relative locator ./p.vhdx", p, name)
	}
	if got := diskfixture.DiskSHA(t, d, d.Size()); got != want {
		t.Errorf("sha256 %s, want %s", got, want)
	}
	wantBytes, err := os.ReadFile(filepath.Join(dir, "want.raw"))
	if err != nil {
		t.Fatal(err)
	}
	diskfixture.ReadConcurrently(t, d, wantBytes[:min(int64(len(wantBytes)), d.Size())])
	// Unallocated only where both child and parent are.
	p, _ := d.Parent()
	for off := int64(0); off < d.Size(); {
		a, n, err := d.Extent(off)
		if err != nil || n <= 0 {
			t.Fatalf("Extent(%d) = %v, %d, %v", off, a, n, err)
		}
		pa, _, _ := p.Extent(off)
		if !a && pa {
			t.Errorf("Extent(%d) unallocated where the parent is allocated", off)
		}
		off += n
	}
	// The sectors written into the child are allocated.
	for _, w := range written {
		for off := w[0]; off < w[0]+w[1]; {
			a, n, err := d.Extent(off)
			if err != nil || !a {
				t.Errorf("Extent(%d) = %v, %d, %v inside the written range [%d, +%d)", off, a, n, err, w[0], w[1])
				break
			}
			off += n
		}
	}
	t.Run("missing parent", func(t *testing.T) {
		other := t.TempDir()
		b, _ := os.ReadFile(child)
		os.WriteFile(filepath.Join(other, "c.vhdx"), b, 0o644)
		os.Rename(parent, parent+".away")
		defer os.Rename(parent+".away", parent)
		f, size := diskfixture.OpenFile(t, filepath.Join(other, "c.vhdx"))
		_, err := Open(f, size, "c.vhdx", diskfixture.Opener(t, other))
		var ue *UnsupportedError
		if !errors.As(err, &ue) || !errors.Is(err, fs.ErrNotExist) || !strings.Contains(err.Error(), "p.vhdx") {
			t.Fatalf("Open = %v; want an UnsupportedError wrapping fs.ErrNotExist naming p.vhdx", err)
		}
	})
	t.Run("wrong parent", func(t *testing.T) {
		other := t.TempDir()
		b, _ := os.ReadFile(child)
		os.WriteFile(filepath.Join(other, "c.vhdx"), b, 0o644)
		diskfixture.Run(t, "", "qemu-img", "convert", "-f", "raw", "-O", "vhdx", diskfixture.RawFS(t, "fat"), filepath.Join(other, "p.vhdx"))
		f, size := diskfixture.OpenFile(t, filepath.Join(other, "c.vhdx"))
		_, err := Open(f, size, "c.vhdx", diskfixture.Opener(t, other))
		var fe *FormatError
		if !errors.As(err, &fe) || !strings.Contains(fe.Msg, "wrong or modified parent") {
			t.Fatalf("Open = %v; want a FormatError on the parent linkage", err)
		}
	})
	t.Run("loop", func(t *testing.T) {
		other := t.TempDir()
		b, _ := os.ReadFile(child + ".tmp")
		var self GUID
		copy(self[:], b[currentHeader(b)+32:])
		b = makeDifferencing(t, b, self, `.\loop.vhdx`, `C:\nowhere\loop.vhdx`, nil)
		p := filepath.Join(other, "loop.vhdx")
		os.WriteFile(p, b, 0o644)
		f, size := diskfixture.OpenFile(t, p)
		_, err := Open(f, size, "loop.vhdx", diskfixture.Opener(t, other))
		var fe *FormatError
		if !errors.As(err, &fe) || !strings.Contains(fe.Msg, "loop") {
			t.Fatalf("Open = %v; want a FormatError naming the loop", err)
		}
	})
}

// TestDamaged derives broken files from a real dynamic VHDX.
func TestDamaged(t *testing.T) {
	good, err := os.ReadFile(diskfixture.Convert(t, "vhdx", diskfixture.RawFS(t, "fat"), filepath.Join(diskfixture.Dir(), "fat-block1m.vhdx"), "subformat=dynamic,block_size=1M"))
	if err != nil {
		t.Fatal(err)
	}
	le := binary.LittleEndian
	d, err := Open(bytes.NewReader(good), int64(len(good)), "good", nil)
	if err != nil {
		t.Fatal(err)
	}
	bat, meta, _ := d.readRegions()
	ho := currentHeader(good)
	var sizeItem int64
	for i := range int64(le.Uint16(good[meta.off+10:])) {
		e := good[meta.off+32+32*i:]
		var g GUID
		copy(g[:], e)
		if g == guidDiskSize {
			sizeItem = meta.off + int64(le.Uint32(e[16:]))
		}
	}
	last := int64(0) // the BAT entry of the last block in the file
	lastOff := uint64(0)
	for i := range int64(len(d.bat)) {
		if e := d.bat[i]; e&7 == stateFull && e>>20 > lastOff {
			last, lastOff = i, e>>20
		}
	}
	tests := []struct {
		name  string
		mess  func(b []byte) []byte
		field string
		off   int64
	}{
		{"truncated", func(b []byte) []byte { return b[:len(b)-512<<10] }, fmt.Sprintf("BAT entry %d", last), bat.off + 8*last},
		{"truncated in the headers", func(b []byte) []byte { return b[:100<<10] }, "header", headerOff2},
		{"BAT entry outside the file", func(b []byte) []byte { le.PutUint64(b[bat.off:], 1<<40|stateFull); return b }, "BAT entry 0", bat.off},
		{"BAT entry into the metadata", func(b []byte) []byte {
			le.PutUint64(b[bat.off:], uint64(meta.off)|stateFull)
			return b
		}, "BAT entry 0", bat.off},
		{"two entries share a block", func(b []byte) []byte {
			copy(b[bat.off+8*(last-1):], b[bat.off+8*last:][:8])
			return b
		}, fmt.Sprintf("BAT entry %d", last), bat.off + 8*last},
		{"reserved BAT state", func(b []byte) []byte { b[bat.off] = b[bat.off]&^7 | 4; return b }, "BAT entry 0", bat.off},
		{"absurd disk size", func(b []byte) []byte { le.PutUint64(b[sizeItem:], 1<<60); return b }, "metadata virtual disk size", sizeItem},
		{"disk size beyond the BAT", func(b []byte) []byte { le.PutUint64(b[sizeItem:], 1<<45); return b }, "region table BAT length", bat.tableOff + 24},
		{"both headers bad", func(b []byte) []byte { b[headerOff1+100]++; b[headerOff2+100]++; return b }, "header", headerOff1},
		{"both region tables bad", func(b []byte) []byte { b[regionOff1+100]++; b[regionOff2+100]++; return b }, "region table", regionOff1},
		{"region outside the file", func(b []byte) []byte {
			for _, o := range []int64{bat.tableOff, bat.tableOff + regionSize} {
				le.PutUint64(b[o+16:], 1<<40)
			}
			fixCRC(b[regionOff1 : regionOff1+regionSize])
			fixCRC(b[regionOff2 : regionOff2+regionSize])
			return b
		}, "region table entry 0", bat.tableOff + 16},
		{"log outside the file", func(b []byte) []byte {
			b[ho+48] = 1 // a log GUID, so the log matters
			le.PutUint64(b[ho+72:], 1<<40)
			fixCRC(b[ho : ho+headerSize])
			return b
		}, "header log length/offset", int64(ho + 68)},
		{"not a VHDX", func(b []byte) []byte { return make([]byte, 4096) }, "file type identifier", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := tt.mess(append([]byte(nil), good...))
			_, err := Open(bytes.NewReader(b), int64(len(b)), "bad.vhdx", nil)
			var fe *FormatError
			if !errors.As(err, &fe) {
				t.Fatalf("Open = %v; want a FormatError", err)
			}
			if fe.File != "bad.vhdx" || fe.Field != tt.field || fe.Off != tt.off {
				t.Errorf("FormatError{%q, %#x, %q}; want {bad.vhdx, %#x, %q}: %v", fe.File, fe.Off, fe.Field, tt.off, tt.field, err)
			}
			if !strings.HasPrefix(err.Error(), "bad.vhdx: VHDX "+tt.field+" at byte 0x") {
				t.Errorf("Error() = %q", err)
			}
		})
	}
	t.Run("first region table bad", func(t *testing.T) {
		b := append([]byte(nil), good...)
		b[regionOff1+100]++
		d, err := Open(bytes.NewReader(b), int64(len(b)), "bad.vhdx", nil)
		if err != nil {
			t.Fatal(err)
		}
		if w := d.Warnings(); len(w) != 1 || !strings.Contains(w[0], "region table at 0x30000") {
			t.Errorf("Warnings() = %q", w)
		}
	})
	t.Run("unknown required region", func(t *testing.T) {
		b := append([]byte(nil), good...)
		for _, rt := range []int{regionOff1, regionOff2} {
			n := le.Uint32(b[rt+8:])
			e := b[rt+16+32*int(n):]
			copy(e, "an unknown GUID!")
			le.PutUint64(e[16:], 8<<20)
			le.PutUint32(e[24:], 1<<20)
			le.PutUint32(e[28:], 1) // required
			le.PutUint32(b[rt+8:], n+1)
			fixCRC(b[rt : rt+regionSize])
		}
		_, err := Open(bytes.NewReader(b), int64(len(b)), "bad.vhdx", nil)
		var ue *UnsupportedError
		if !errors.As(err, &ue) || !strings.Contains(err.Error(), "required") {
			t.Errorf("Open = %v; want an UnsupportedError naming the required region", err)
		}
	})
	t.Run("unknown required metadata item", func(t *testing.T) {
		b := append([]byte(nil), good...)
		n := int64(le.Uint16(b[meta.off+10:]))
		e := b[meta.off+32+32*n:]
		copy(e, "an unknown item!")
		le.PutUint32(e[16:], 128<<10)
		le.PutUint32(e[20:], 8)
		le.PutUint32(e[24:], 4) // IsRequired
		le.PutUint16(b[meta.off+10:], uint16(n+1))
		_, err := Open(bytes.NewReader(b), int64(len(b)), "bad.vhdx", nil)
		var ue *UnsupportedError
		if !errors.As(err, &ue) || !strings.Contains(err.Error(), "metadata item") {
			t.Errorf("Open = %v; want an UnsupportedError naming the metadata item", err)
		}
		le.PutUint32(e[24:], 0) // not required: ignored
		if _, err := Open(bytes.NewReader(b), int64(len(b)), "ok.vhdx", nil); err != nil {
			t.Errorf("an unknown optional item: %v", err)
		}
	})
	t.Run("one header bad", func(t *testing.T) {
		b := append([]byte(nil), good...)
		b[ho+100]++
		d, err := Open(bytes.NewReader(b), int64(len(b)), "bad.vhdx", nil)
		if err != nil {
			t.Fatal(err)
		}
		if w := d.Warnings(); len(w) != 1 || !strings.Contains(w[0], "only one VHDX header is valid") {
			t.Errorf("Warnings() = %q", w)
		}
	})
}

func TestDetect(t *testing.T) {
	b, err := os.ReadFile(diskfixture.Convert(t, "vhdx", diskfixture.RawFS(t, "fat"), filepath.Join(diskfixture.Dir(), "fat-dynamic.vhdx"), "subformat=dynamic"))
	if err != nil {
		t.Fatal(err)
	}
	if !Detect(b[:4096], b[len(b)-512:]) {
		t.Error("Detect = false on a qemu-img VHDX")
	}
	raw, err := os.ReadFile(diskfixture.RawFS(t, "ntfs"))
	if err != nil {
		t.Fatal(err)
	}
	if Detect(raw[:4096], raw[len(raw)-512:]) || Detect(nil, nil) {
		t.Error("Detect accepts a raw NTFS image or nothing")
	}
}

// TestLazyBAT reads through the bounded BAT page cache that a BAT larger
// than batEagerMax uses.
func TestLazyBAT(t *testing.T) {
	defer func(v int64) { batEagerMax = v }(batEagerMax)
	batEagerMax = 0
	path := diskfixture.Convert(t, "vhdx", diskfixture.RawFS(t, "ntfs"), filepath.Join(diskfixture.Dir(), "ntfs-block1m.vhdx"), "subformat=dynamic,block_size=1M")
	f, size := diskfixture.OpenFile(t, path)
	d, err := Open(f, size, path, nil)
	if err != nil {
		t.Fatal(err)
	}
	if d.bat != nil || d.batPages == nil {
		t.Fatal("the BAT was read whole")
	}
	peer := path + ".lazy.raw"
	diskfixture.Run(t, "", "qemu-img", "convert", "-f", "vhdx", "-O", "raw", path, peer)
	defer os.Remove(peer)
	if got, want := diskfixture.DiskSHA(t, d, d.Size()), diskfixture.FileSHA(t, peer); got != want {
		t.Errorf("sha256 %s, qemu-img %s", got, want)
	}
	if checkExtents(t, d, peer, size) == 0 {
		t.Error("no unallocated run")
	}
}

// TestChain reads a grandchild: a differencing disk whose parent is the
// differencing disk of TestDifferencing, checked against libvhdi and qemu-io.
func TestChain(t *testing.T) {
	dir := filepath.Join(diskfixture.Dir(), "chain")
	parent, child, _, _ := diffFixture(t, dir, "fat")
	grand := filepath.Join(dir, "g.vhdx")
	written := [][2]int64{{1 << 20, 4096}, {12 << 20, 3 << 20}}
	diskfixture.Run(t, "", "qemu-img", "create", "-q", "-f", "vhdx", grand+".tmp", "32M")
	exp := filepath.Join(dir, "want.raw") // the child's content, from diffFixture
	for _, w := range written {
		c := fmt.Sprintf("write -P 0xcd %d %d", w[0], w[1])
		diskfixture.Run(t, "", "qemu-io", "-f", "vhdx", "-c", c, grand+".tmp")
		diskfixture.Run(t, "", "qemu-io", "-f", "raw", "-c", c, exp)
	}
	want := diskfixture.FileSHA(t, exp)
	b, err := os.ReadFile(grand + ".tmp")
	if err != nil {
		t.Fatal(err)
	}
	cb, err := os.ReadFile(child)
	if err != nil {
		t.Fatal(err)
	}
	var link GUID
	copy(link[:], cb[currentHeader(cb)+32:])
	b = makeDifferencing(t, b, link, `.\c.vhdx`, `C:\nowhere\c.vhdx`, written)
	if err := os.WriteFile(grand, b, 0o644); err != nil {
		t.Fatal(err)
	}
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
	if got := d.Files(); len(got) != 3 || got[0] != grand || got[1] != "./c.vhdx" || got[2] != "./p.vhdx" {
		t.Errorf("Files() = %q", got)
	}
	c, _ := d.Parent()
	if c == nil {
		t.Fatal("no parent")
	}
	if p, name := c.Parent(); p == nil || name != "./p.vhdx" {
		t.Errorf("grandparent %v %q", p, name)
	}
	for _, w := range written {
		if a, _, err := d.Extent(w[0]); err != nil || !a {
			t.Errorf("Extent(%d) = %v, %v inside a written range", w[0], a, err)
		}
	}
}

// TestInterleave: with 1 MiB blocks and 512-byte sectors a chunk is 4096
// blocks (4 GiB), so beyond 4 GiB the BAT interleaves a sector bitmap entry
// after every 4096 payload entries. qemu-io writes past it; the reader must
// find the data where qemu put it, and nothing anywhere else.
func TestInterleave(t *testing.T) {
	path := filepath.Join(t.TempDir(), "big.vhdx")
	diskfixture.Run(t, "", "qemu-img", "create", "-q", "-f", "vhdx", "-o", "block_size=1M", path, "9G")
	writes := []struct {
		off, n int64
		pat    byte
	}{{4<<30 + 1<<20 + 4096, 64 << 10, 0x11}, {8<<30 + 3<<20, 1 << 20, 0x22}, {1 << 20, 512, 0x33}}
	for _, w := range writes {
		diskfixture.Run(t, "", "qemu-io", "-f", "vhdx", "-c", fmt.Sprintf("write -P %#x %d %d", w.pat, w.off, w.n), path)
		diskfixture.Run(t, "", "qemu-io", "-f", "vhdx", "-c", fmt.Sprintf("read -P %#x %d %d", w.pat, w.off, w.n), path)
	}
	f, size := diskfixture.OpenFile(t, path)
	d, err := Open(f, size, path, nil)
	if err != nil {
		t.Fatal(err)
	}
	if d.Size() != 9<<30 || d.chunkRatio != 4096 {
		t.Fatalf("size %d, chunk ratio %d", d.Size(), d.chunkRatio)
	}
	for _, w := range writes {
		buf := make([]byte, 3<<20)
		start := w.off &^ (1<<20 - 1)
		if _, err := d.ReadAt(buf, start); err != nil {
			t.Fatal(err)
		}
		for i, c := range buf {
			at := start + int64(i)
			want := byte(0)
			if at >= w.off && at < w.off+w.n {
				want = w.pat
			}
			if c != want {
				t.Fatalf("byte %d = %#x, want %#x", at, c, want)
			}
		}
	}
	// Exactly the written blocks are allocated.
	var alloc []int64
	for off := int64(0); off < d.Size(); {
		a, n, err := d.Extent(off)
		if err != nil || n <= 0 {
			t.Fatalf("Extent(%d) = %v, %d, %v", off, a, n, err)
		}
		if a {
			alloc = append(alloc, off)
		}
		off += n
	}
	want := []int64{1 << 20, 4<<30 + 1<<20, 8<<30 + 3<<20}
	if !slices.Equal(alloc, want) {
		t.Errorf("allocated runs start at %d, want %d", alloc, want)
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
