package md

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"runtime"
	"testing"

	"github.com/mirrorchk/mirrorchk/internal/fixture"
)

// small12 returns a 64 KiB image holding dir's m0 1.2 superblock (and
// bitmap) with the geometry shrunk to fit: superblock at 4 KiB, bitmap at
// 8 KiB with 4 KiB chunks, bad-block log at 12 KiB, data from 16 KiB.
func small12(tb testing.TB, dir string) []byte {
	tb.Helper()
	src := fixture.Image(tb, dir, "m0")
	img := make([]byte, 64<<10)
	maxDev := binary.LittleEndian.Uint32(src[sb12+220:])
	raw := bytes.Clone(src[sb12 : sb12+256+2*int(maxDev)])
	put64(raw, 128, 32) // data_offset
	put64(raw, 136, 96) // data_size
	put64(raw, 80, 96)  // size
	put32(raw, 216, Checksum1(raw))
	copy(img[sb12:], raw)
	if binary.LittleEndian.Uint32(raw[8:])&FeatureBitmap != 0 {
		bm := bytes.Clone(src[bm12 : bm12+256+2])
		put64(bm, 40, 96)   // sync_size
		put32(bm, 52, 4096) // chunksize: 12 bits
		copy(img[bm12:], bm)
	}
	return img
}

// small090 returns a 128 KiB image holding dir's m0 0.90 superblock (and
// bitmap) over 64 KiB of data, with 4 KiB bitmap chunks.
func small090(tb testing.TB, dir string) []byte {
	tb.Helper()
	src := fixture.Image(tb, dir, "m0")
	img := make([]byte, 128<<10)
	const off = 64 << 10
	copy(img[off:], src[sb090:sb090+64<<10])
	put32(img, off+32, 64) // size KiB
	put32(img, off+152, Checksum090(img[off:off+4096], binary.LittleEndian))
	if binary.LittleEndian.Uint32(img[off+132:])&StateBitmapPresent != 0 {
		put64(img, off+4096+40, 128)  // sync_size
		put32(img, off+4096+52, 4096) // chunksize: 16 bits
	}
	return img
}

// lockless rewrites the version-4 bitmap at bm in img as a version-6
// (lockless) one: chunksize in sectors and a state byte per chunk at 1 KiB.
// Dirty chunks get the states in dirtyStates in turn, clean ones alternate
// between unwritten and clean.
func lockless(img []byte, bm int, dirtyStates []byte) {
	nbits := int(binary.LittleEndian.Uint64(img[bm+40:]) * 512 / uint64(binary.LittleEndian.Uint32(img[bm+52:])))
	old := bytes.Clone(img[bm+256 : bm+256+(nbits+7)/8])
	put32(img, bm+4, 6)
	put32(img, bm+52, binary.LittleEndian.Uint32(img[bm+52:])/512)
	clear(img[bm+256 : bm+1024])
	d := 0
	for k := range nbits {
		s := byte(k % 2) // unwritten, clean
		if old[k/8]&(1<<(k%8)) != 0 {
			s = dirtyStates[d%len(dirtyStates)]
			d++
		}
		img[bm+1024+k] = s
	}
}

// TestLocklessBitmap: version 6 keeps a state byte per chunk (md-llbitmap.c);
// no kernel-written fixture exists, so this converts the real version-4
// bitmap and checks the same chunks come out dirty.
func TestLocklessBitmap(t *testing.T) {
	src := fixture.Image(t, c12, "m0")
	want, err := ReadBitmap(bytes.NewReader(src), int64(len(src)), scanOne(t, src, V12))
	if err != nil {
		t.Fatal(err)
	}
	// Dirty, NeedSync, Syncing, and a state the kernel does not know
	// (which it resyncs).
	img := messWith(t, c12, "m0", func(b []byte) { lockless(b, bm12, []byte{2, 3, 4, 9}) })
	sb := scanOne(t, img, V12)
	b, err := ReadBitmap(bytes.NewReader(img), int64(len(img)), sb)
	if err != nil {
		t.Fatal(err)
	}
	if b.Version != 6 || b.ChunkSize != want.ChunkSize || b.NBits != want.NBits || len(b.Raw) != 1024+int(b.NBits) {
		t.Fatalf("v6: version %d chunk %d nbits %d raw %d; want 6 %d %d %d", b.Version, b.ChunkSize, b.NBits, len(b.Raw), want.ChunkSize, want.NBits, 1024+want.NBits)
	}
	for k := range b.NBits {
		if b.Dirty(k) != want.Dirty(k) {
			t.Errorf("Dirty(%d) = %v; the version-4 original says %v", k, b.Dirty(k), want.Dirty(k))
		}
	}
	clean := b.Clean(99)
	copy(img[b.Offset:], clean)
	after, err := ReadBitmap(bytes.NewReader(img), int64(len(img)), sb)
	if err != nil {
		t.Fatal(err)
	}
	if after.DirtyCount() != 0 || after.Events != 99 || after.EventsCleared != 99 {
		t.Errorf("after Clean: %d dirty, events %d/%d", after.DirtyCount(), after.Events, after.EventsCleared)
	}
	for k := range after.NBits {
		if s, was := after.Raw[1024+k], b.Raw[1024+k]; (was == 0) != (s == 0) || (s != 0 && s != 1) {
			t.Errorf("chunk %d: state %d became %d; want unwritten kept, everything else clean", k, was, s)
		}
	}
}

// TestBitmapVersion3: version 3 bits read as little-endian (x86) ones.
func TestBitmapVersion3(t *testing.T) {
	img := messWith(t, c12, "m0", func(b []byte) { put32(b, bm12+4, 3) })
	b, err := ReadBitmap(bytes.NewReader(img), int64(len(img)), scanOne(t, img, V12))
	if err != nil {
		t.Fatal(err)
	}
	if b.Version != 3 || b.DirtyCount() != 6 || !b.Dirty(0) || !b.Dirty(63) || b.Dirty(1) {
		t.Errorf("version 3: version %d, %d dirty", b.Version, b.DirtyCount())
	}
}

// TestSmallImages: the shrunk images the fuzzers start from are valid.
func TestSmallImages(t *testing.T) {
	for _, img := range [][]byte{small12(t, a12), small12(t, c12), small090(t, a090), small090(t, c090)} {
		sbs, err := Scan(bytes.NewReader(img), int64(len(img)))
		if err != nil || len(sbs) != 1 || !sbs[0].ChecksumOK() {
			t.Fatalf("Scan = %v, %v", sbs, err)
		}
		if sbs[0].HasBitmap {
			b, err := ReadBitmap(bytes.NewReader(img), int64(len(img)), sbs[0])
			if err != nil || b.NBits < 12 {
				t.Fatalf("ReadBitmap = %+v, %v", b, err)
			}
		}
	}
}

// TestBitmapAllocationBounded: an image that claims to be far larger than
// the reader behind it, with a bitmap sized to match the claim, fails with a
// read error after allocating about what the reader could serve, not what
// the bitmap header asked for.
func TestBitmapAllocationBounded(t *testing.T) {
	const claimed = 1 << 40
	img := messWith(t, c12, "m0", func(b []byte) {
		put64(b, sb12+128, 1<<30) // data_offset: 512 GiB in, so the bitmap space is huge
		put64(b, sb12+136, 1<<34) // data_size and size: 8 TiB, as the bitmap claims
		put64(b, sb12+80, 1<<34)
		put16(b, sb12+186, 0)    // no bad-block log to end the bitmap space
		put64(b, bm12+40, 1<<34) // sync_size: 8 TiB
		put32(b, bm12+52, 65536) // chunksize: 2^27 bits = 16 MiB of bitmap
	})
	sb, err := ReadAt(bytes.NewReader(img), claimed, V12, sb12)
	if err != nil {
		t.Fatal(err)
	}
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	_, err = ReadBitmap(bytes.NewReader(img), claimed, sb)
	runtime.ReadMemStats(&after)
	if !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatalf("ReadBitmap = %v; want a short read from the 8 MiB reader", err)
	}
	if got := after.TotalAlloc - before.TotalAlloc; got > 64<<20 {
		t.Errorf("ReadBitmap allocated %d MiB for an 8 MiB reader", got>>20)
	}

	// One chunk size smaller and the bit table would exceed the cap: refused
	// before anything is read.
	img = messWith(t, c12, "m0", func(b []byte) {
		put64(b, sb12+128, 1<<30)
		put64(b, sb12+136, 1<<34)
		put64(b, sb12+80, 1<<34)
		put16(b, sb12+186, 0)
		put64(b, bm12+40, 1<<34)
		put32(b, bm12+52, 32768)
	})
	if sb, err = ReadAt(bytes.NewReader(img), claimed, V12, sb12); err != nil {
		t.Fatal(err)
	}
	_, err = ReadBitmap(bytes.NewReader(img), claimed, sb)
	wantFormatError(t, err, "chunksize", bm12+52)
}

// TestTiny090: in a 64..128 KiB image the 0.90 superblock sits at byte 0,
// where 1.1's does; a 0.90 superblock there must still be found.
func TestTiny090(t *testing.T) {
	img := make([]byte, 64<<10)
	copy(img, fixture.Image(t, a090, "m0")[sb090:sb090+4096])
	put32(img, 32, 0) // size: no room for data below the superblock
	put32(img, 152, Checksum090(img[:4096], binary.LittleEndian))
	sb := scanOne(t, img, V090)
	if sb.Offset != 0 || !sb.ChecksumOK() {
		t.Fatalf("Offset %#x, ChecksumOK %v", sb.Offset, sb.ChecksumOK())
	}
	compare090(t, sb, runMdadm(t, "--examine", writeTemp(t, "tiny.img", img)))
}
