package md

import (
	"bytes"
	"errors"
	"reflect"
	"testing"

	"github.com/mirrorchk/mirrorchk/internal/fixture"
)

// fuzzImages are the whole images the seeds come from: every fixture
// member, the relocated 1.0/1.1 and big-endian 0.90 variants, and the
// shrunk images.
func fuzzImages(f *testing.F) [][]byte {
	var imgs [][]byte
	for _, fx := range fixtureDirs {
		for _, m := range []string{"m0", "m1"} {
			imgs = append(imgs, fixture.Image(f, fx.dir, m))
		}
	}
	for _, dir := range []string{a12, c12} {
		for _, v := range []Version{V11, V10} {
			img, _ := relocate1(f, fixture.Image(f, dir, "m0"), v)
			imgs = append(imgs, img)
		}
	}
	be := make([]byte, 8<<20)
	copy(be[sb090:], swap090(fixture.Image(f, a090, "m0")[sb090:]))
	return append(imgs, be)
}

// smallSeeds are whole small images: the first and last 64 KiB of every
// fixture member (mostly rejected: their geometry is the 8 MiB one), and the
// shrunk valid images, with version-6 bitmap variants.
func smallSeeds(f *testing.F) [][]byte {
	var seeds [][]byte
	for _, fx := range fixtureDirs {
		for _, m := range []string{"m0", "m1"} {
			img := fixture.Image(f, fx.dir, m)
			seeds = append(seeds, img[:64<<10], img[len(img)-64<<10:])
		}
	}
	for _, dir := range []string{a12, c12} {
		seeds = append(seeds, small12(f, dir))
	}
	for _, dir := range []string{a090, c090} {
		seeds = append(seeds, small090(f, dir))
	}
	ll := small12(f, c12)
	lockless(ll, bm12, []byte{2, 3})
	ll090 := small090(f, c090)
	lockless(ll090, 64<<10+4096, []byte{4})
	return append(seeds, ll, ll090)
}

func FuzzDecode(f *testing.F) {
	for _, img := range fuzzImages(f) {
		sbs, err := Scan(bytes.NewReader(img), int64(len(img)))
		if err != nil {
			f.Fatal(err)
		}
		for _, sb := range sbs {
			f.Add(sb.Raw, uint8(sb.Version), sb.Offset, int64(len(img)))
		}
	}
	f.Fuzz(func(t *testing.T, raw []byte, v uint8, off, size int64) {
		sb, err := Decode(raw, Version(v), off, size)
		if err != nil {
			if sb != nil {
				t.Fatalf("Decode returned a superblock and %v", err)
			}
			_ = err.Error()
			return
		}
		checkSuperblock(t, sb, len(raw), size)
		if sb.Offset != off || sb.Version != Version(v) {
			t.Fatalf("Offset %d, Version %v; decoded as %d, %v", sb.Offset, sb.Version, off, Version(v))
		}
		again, err := Decode(sb.Raw, sb.Version, off, size)
		if err != nil || !reflect.DeepEqual(again, sb) {
			t.Fatalf("decoding Raw again = %+v, %v; want %+v", again, err, sb)
		}
		// Making a superblock in sync with itself must give bytes that
		// decode, with a good checksum, or a reason why not.
		if out, err := Synced(sb, sb, nil); err == nil {
			s2, err := Decode(out, sb.Version, off, size)
			if err != nil || !s2.ChecksumOK() || !s2.Clean || s2.Events != sb.Events || len(out) != len(sb.Raw) {
				t.Fatalf("Synced(sb, sb) = %+v, %v; want a clean superblock with a good checksum", s2, err)
			}
		}
	})
}

// checkSuperblock checks what must hold for any superblock Decode accepts.
func checkSuperblock(t *testing.T, sb *Superblock, inputLen int, size int64) {
	t.Helper()
	if len(sb.Raw) > inputLen || len(sb.Raw) > 4096 || len(sb.DevRoles) > maxDev1 || len(sb.Disks) > 27 {
		t.Fatalf("Raw %d bytes, %d roles, %d disks from %d bytes of input", len(sb.Raw), len(sb.DevRoles), len(sb.Disks), inputLen)
	}
	if sb.Offset < 0 || sb.Offset > size-int64(len(sb.Raw)) {
		t.Fatalf("superblock [%d, +%d) outside the %d-byte image", sb.Offset, len(sb.Raw), size)
	}
	if sb.DataOffset < 0 || sb.DataSize < 0 || sb.Missing < 0 || sb.DataOffset > size+sb.Missing-sb.DataSize || sb.Size < 0 || sb.Size > size+sb.Missing {
		t.Fatalf("data area %d+%d, used %d in a %d-byte image", sb.DataOffset, sb.DataSize, sb.Size, size)
	}
	if sb.RecoveryOffset < 0 || sb.RecoveryOffset > sb.DataSize {
		t.Fatalf("RecoveryOffset %d outside the %d-byte data area", sb.RecoveryOffset, sb.DataSize)
	}
	if sb.DevNumber < 0 || sb.DevNumber >= len(sb.DevRoles) || (sb.Version != V090 && sb.Role != sb.DevRoles[sb.DevNumber]) {
		t.Fatalf("DevNumber %d, Role %#x, %d roles", sb.DevNumber, sb.Role, len(sb.DevRoles))
	}
	_ = sb.UUIDString()
	_ = sb.Version.String()
}

func FuzzScan(f *testing.F) {
	for _, s := range smallSeeds(f) {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		size := int64(len(data))
		sbs, err := Scan(bytes.NewReader(data), size)
		if err != nil {
			var fe *FormatError
			if len(sbs) != 0 || (!errors.Is(err, ErrNoSuperblock) && !errors.As(err, &fe)) {
				t.Fatalf("Scan = %d superblocks, %v", len(sbs), err)
			}
			return
		}
		if len(sbs) == 0 {
			t.Fatal("Scan found nothing and returned no error")
		}
		for _, sb := range sbs {
			checkSuperblock(t, sb, len(data), size)
			if !bytes.Equal(sb.Raw, data[sb.Offset:sb.Offset+int64(len(sb.Raw))]) {
				t.Fatalf("Raw is not the image's bytes at %#x", sb.Offset)
			}
			again, err := Decode(sb.Raw, sb.Version, sb.Offset, size)
			if err != nil || !reflect.DeepEqual(again, sb) {
				t.Fatalf("decoding Raw again = %+v, %v; want %+v", again, err, sb)
			}
			if sb.HasBitmap {
				checkBitmap(t, data, sb)
			}
		}
	})
}

func FuzzReadBitmap(f *testing.F) {
	for _, s := range smallSeeds(f) {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		sbs, _ := Scan(bytes.NewReader(data), int64(len(data)))
		for _, sb := range sbs {
			if sb.HasBitmap {
				checkBitmap(t, data, sb)
			}
		}
	})
}

// checkBitmap reads sb's bitmap from data and checks what must hold for any
// bitmap ReadBitmap accepts, including that Clean gives a bitmap that reads
// back clean.
func checkBitmap(t *testing.T, data []byte, sb *Superblock) {
	t.Helper()
	size := int64(len(data))
	b, err := ReadBitmap(bytes.NewReader(data), size, sb)
	if err != nil {
		var fe *FormatError
		if b != nil || !errors.As(err, &fe) {
			t.Fatalf("ReadBitmap = %v, %v; want a *FormatError alone", b, err)
		}
		return
	}
	if b.Offset < 0 || int64(len(b.Raw)) > size-b.Offset || !bytes.Equal(b.Raw, data[b.Offset:b.Offset+int64(len(b.Raw))]) {
		t.Fatalf("bitmap Raw (%d bytes at %#x) is not the image's bytes", len(b.Raw), b.Offset)
	}
	if b.NBits < 0 || int64(len(b.Bits)) != (b.NBits+7)/8 || b.DirtyCount() > b.NBits || b.ChunkSize < 512 {
		t.Fatalf("NBits %d, %d bit bytes, %d dirty, chunk %d", b.NBits, len(b.Bits), b.DirtyCount(), b.ChunkSize)
	}
	if b.SyncSize > 0 && b.Covers(0, b.SyncSize) != (b.DirtyCount() == b.NBits) {
		t.Fatalf("Covers(whole) = %v with %d of %d dirty", b.Covers(0, b.SyncSize), b.DirtyCount(), b.NBits)
	}
	_ = b.Dirty(-1) || b.Dirty(b.NBits) || b.Covers(-1, 1) || b.Covers(b.SyncSize, 1<<62)
	clean := b.Clean(b.Events + 1)
	if len(clean) != len(b.Raw) {
		t.Fatalf("Clean returned %d bytes; want %d", len(clean), len(b.Raw))
	}
	img := bytes.Clone(data)
	copy(img[b.Offset:], clean)
	after, err := ReadBitmap(bytes.NewReader(img), size, sb)
	if err != nil || after.DirtyCount() != 0 || after.Events != b.Events+1 || after.EventsCleared != b.Events+1 || after.State&BitmapStale != 0 {
		t.Fatalf("bitmap after Clean = %+v, %v; want it clean", after, err)
	}
}
