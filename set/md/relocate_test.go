package md

import (
	"bytes"
	"encoding/binary"
	"reflect"
	"strconv"
	"testing"

	"github.com/mirrorchk/mirrorchk/internal/fixture"
)

// There are no kernel-written 1.0, 1.1 or big-endian 0.90 fixtures (mdadm
// --create needs block devices). These tests move a real superblock to the
// other locations, rewrite the fields that say where things are, recompute
// the checksum with this package, and then require both Scan and mdadm
// --examine to find it there, with a correct checksum: mdadm is the
// independent check of the location rules and of Checksum1/Checksum090.

// relocate1 returns a zero image of the same size as src (a 1.2 fixture)
// holding src's superblock, and its bitmap if any, laid out as mdadm lays
// out version v: 1.1 at sector 0 with the bitmap 8 sectors on; 1.0 at the
// end with data from sector 0, then a 4 KiB bitmap, then an 8-sector
// bad-block log, then the superblock.
func relocate1(tb testing.TB, src []byte, v Version) (img []byte, off int64) {
	tb.Helper()
	size := int64(len(src))
	maxDev := binary.LittleEndian.Uint32(src[sb12+220:])
	raw := bytes.Clone(src[sb12 : sb12+256+2*int(maxDev)])
	hasBitmap := binary.LittleEndian.Uint32(raw[8:])&FeatureBitmap != 0
	img = make([]byte, size)
	off, ok := Location(v, size)
	if !ok {
		tb.Fatalf("no %v location in a %d-byte image", v, size)
	}
	var bitmapAt int64
	switch v {
	case V11:
		bitmapAt = off + 8*512 // bitmap_offset stays 8
	case V10:
		sbSector := uint64(off / 512)
		put64(raw, 128, 0)            // data_offset
		put64(raw, 136, sbSector-8-8) // data_size: up to the bitmap
		put32(raw, 96, 0xfffffff0)    // bitmap_offset -16
		put32(raw, 188, 0xfffffff8)   // bblog_offset -8
		put16(raw, 186, 8)            // bblog_size
		bitmapAt = off - 16*512
	default:
		tb.Fatalf("relocate1 to %v", v)
	}
	put64(raw, 144, uint64(off/512)) // super_offset
	put32(raw, 216, Checksum1(raw))
	copy(img[off:], raw)
	if hasBitmap {
		copy(img[bitmapAt:], src[bm12:bm12+4096])
	}
	return img, off
}

func TestRelocated1(t *testing.T) {
	for _, dir := range []string{a12, c12} {
		for _, v := range []Version{V11, V10} {
			t.Run(dir+"/"+v.String(), func(t *testing.T) {
				t.Parallel()
				src := fixture.Image(t, dir, "m0")
				orig := scanOne(t, src, V12)
				img, off := relocate1(t, src, v)
				sb := scanOne(t, img, v)
				if sb.Offset != off || !sb.ChecksumOK() {
					t.Fatalf("Offset %#x, ChecksumOK %v; want %#x, true", sb.Offset, sb.ChecksumOK(), off)
				}
				rep := runMdadm(t, "--examine", writeTemp(t, "m0.img", img))
				compare1(t, sb, rep)

				// Only the fields that say where things are may differ.
				want := *orig
				want.Version, want.Offset, want.Raw = sb.Version, sb.Offset, sb.Raw
				want.DataOffset, want.DataSize, want.BitmapOffset = sb.DataOffset, sb.DataSize, sb.BitmapOffset
				want.Checksum, want.ComputedChecksum = sb.Checksum, sb.ComputedChecksum
				if !reflect.DeepEqual(*sb, want) {
					t.Errorf("relocated superblock differs beyond its location fields:\n got %+v\nwant %+v", *sb, want)
				}
				if v == V10 && (sb.DataOffset != 0 || sb.BitmapOffset != -16) {
					t.Errorf("1.0: DataOffset %d, BitmapOffset %d; want 0, -16", sb.DataOffset, sb.BitmapOffset)
				}

				if !orig.HasBitmap {
					return
				}
				// mdadm prints "Internal Bitmap" only if it found the
				// bitmap's magic and uuid where bitmap_offset points.
				if _, ok := rep.kv["Internal Bitmap"]; !ok {
					t.Fatal("mdadm found no bitmap at the relocated bitmap_offset")
				}
				ob, err := ReadBitmap(bytes.NewReader(src), int64(len(src)), orig)
				if err != nil {
					t.Fatal(err)
				}
				b, err := ReadBitmap(bytes.NewReader(img), int64(len(img)), sb)
				if err != nil {
					t.Fatalf("ReadBitmap of relocated bitmap: %v", err)
				}
				ob.Offset = b.Offset
				if !reflect.DeepEqual(b, ob) {
					t.Errorf("relocated bitmap differs:\n got %+v\nwant %+v", b, ob)
				}
			})
		}
	}
}

// swap090 turns a little-endian 0.90 superblock into the one a big-endian
// host would have written: every word byte-swapped, the 64-bit event
// counters' halves in the other order, the checksum recomputed.
func swap090(le []byte) []byte {
	be := bytes.Clone(le[:4096])
	for i := 0; i < len(be); i += 4 {
		be[i], be[i+1], be[i+2], be[i+3] = be[i+3], be[i+2], be[i+1], be[i]
	}
	for _, o := range []int{156, 164} { // events, cp_events
		var t [4]byte
		copy(t[:], be[o:o+4])
		copy(be[o:o+4], be[o+4:o+8])
		copy(be[o+4:o+8], t[:])
	}
	binary.BigEndian.PutUint32(be[152:], Checksum090(be, binary.BigEndian))
	return be
}

func TestBigEndian090(t *testing.T) {
	for _, dir := range []string{a090, "md/md-0.90/b-stale-member"} {
		for _, m := range []string{"m0", "m1"} {
			t.Run(dir+"/"+m, func(t *testing.T) {
				src := fixture.Image(t, dir, m)
				orig := scanOne(t, src, V090)
				img := make([]byte, len(src))
				copy(img[sb090:], swap090(src[sb090:]))
				sb := scanOne(t, img, V090)
				if sb.ByteOrder != binary.ByteOrder(binary.BigEndian) || !sb.ChecksumOK() {
					t.Fatalf("ByteOrder %v, ChecksumOK %v; want big endian, true", sb.ByteOrder, sb.ChecksumOK())
				}
				if sb.UUIDString() != orig.UUIDString() {
					t.Errorf("UUIDString = %s; little-endian original %s", sb.UUIDString(), orig.UUIDString())
				}
				want := *orig
				want.ByteOrder, want.Raw, want.SetUUID = sb.ByteOrder, sb.Raw, sb.SetUUID
				want.Checksum, want.ComputedChecksum = sb.Checksum, sb.ComputedChecksum
				if !reflect.DeepEqual(*sb, want) {
					t.Errorf("big-endian superblock decodes differently:\n got %+v\nwant %+v", *sb, want)
				}
				// mdadm reads a foreign-endian 0.90 superblock when told
				// to swap it.
				rep := runMdadm(t, "--examine", "--metadata=0.swap", writeTemp(t, m+".img", img))
				compare090(t, sb, rep)
			})
		}
	}
}

// TestChecksum1Lengths: max_dev decides how many bytes the checksum covers,
// including an odd number of roles (a trailing 16-bit word) and the largest
// superblock that fits in 4 KiB; mdadm must agree with every one.
func TestChecksum1Lengths(t *testing.T) {
	for _, maxDev := range []uint32{1, 127, 128, 1919, 1920} {
		t.Run(strconv.Itoa(int(maxDev)), func(t *testing.T) {
			t.Parallel()
			img := messWith(t, a12, "m0", func(b []byte) {
				put32(b, sb12+220, maxDev)
				if maxDev == 1 {
					put32(b, sb12+160, 0) // dev_number must stay below max_dev
					put32(b, sb12+92, 1)  // and raid_disks may not exceed it
				}
				n := 256 + 2*int(maxDev)
				put32(b, sb12+216, Checksum1(b[sb12:sb12+n]))
			})
			sb := scanOne(t, img, V12)
			if !sb.ChecksumOK() || len(sb.Raw) != 256+2*int(maxDev) || len(sb.DevRoles) != int(maxDev) {
				t.Fatalf("ChecksumOK %v, len(Raw) %d, len(DevRoles) %d", sb.ChecksumOK(), len(sb.Raw), len(sb.DevRoles))
			}
			rep := runMdadm(t, "--examine", writeTemp(t, "m0.img", img))
			check(t, "Checksum", checksumLine(sb), rep.get(t, "Checksum"))
		})
	}
}
