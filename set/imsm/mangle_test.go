package imsm

import (
	"bytes"
	"encoding/binary"
	"errors"
	"testing"

	"github.com/mirrorchk/mirrorchk/internal/fixture"
)

// Offsets in the fixtures' MPB (one volume, two disks, mpb_size 480).
const (
	mpbDev   = 0x138           // imsm_dev
	mpbVol   = mpbDev + devVol // imsm_vol
	mpbMap   = mpbVol + volMap // imsm_map
	mpbOrd   = mpbMap + mapOrd // disk_ord_tbl
	mpbBytes = 480
)

// TestMangle changes one named field of a good fixture's MPB, fixes the
// checksum (so that only the field is wrong), and expects Read to blame
// exactly that field at its byte offset.
func TestMangle(t *testing.T) {
	tests := []struct {
		name  string
		mess  func(b []byte) // b is the MPB, from the anchor on
		field string
		off   int // in the MPB
	}{
		{"mpb_size below the header", func(b []byte) { put32(b, offMPBSize, 100) }, "mpb_size", offMPBSize},
		{"mpb_size above the cap", func(b []byte) { put32(b, offMPBSize, MaxMPBSize+1) }, "mpb_size", offMPBSize},
		{"num_disks past mpb_size", func(b []byte) { b[offNumDisks] = 200 }, "num_disks", offNumDisks},
		{"num_raid_devs past mpb_size", func(b []byte) { b[offNumRaidDevs] = 2 }, "num_raid_devs", offNumRaidDevs},
		{"num_members zero", func(b []byte) { b[mpbMap+mapNumMembers] = 0 }, "num_members", mpbMap + mapNumMembers},
		{"num_members past mpb_size", func(b []byte) { b[mpbMap+mapNumMembers] = 50 }, "num_members", mpbMap + mapNumMembers},
		{"map_state 7", func(b []byte) { b[mpbMap+mapState] = 7 }, "map_state", mpbMap + mapState},
		{"disk_ord_tbl names disk 5 of 2", func(b []byte) { put32(b, mpbOrd+4, 5) }, "disk_ord_tbl", mpbOrd + 4},
		{"disk_ord_tbl names disk 2 with the rebuild bit", func(b []byte) { put32(b, mpbOrd, 2|IMSMOrdRebuild) }, "disk_ord_tbl", mpbOrd},
		{"pba_of_lba0 past the anchor", func(b []byte) { put32(b, mpbMap+mapPBALo, 40000) }, "pba_of_lba0", mpbMap + mapPBALo},
		{"blocks_per_member past the anchor", func(b []byte) { put32(b, mpbMap+mapBPMLo, 40000) }, "blocks_per_member", mpbMap + mapBPMLo},
		{"RAID-1 size past blocks_per_member", func(b []byte) { put32(b, mpbDev+devSizeLow, 10241) }, "size_low", mpbDev + devSizeLow},
		{"migr_state asks for a map past mpb_size", func(b []byte) { b[mpbVol+volMigrState] = 1 }, "migr_state", mpbVol + volMigrState},
		{"bbm_log_size past the volumes", func(b []byte) { put32(b, offBBMLogSize, 100) }, "bbm_log_size", offBBMLogSize},
		{"bbm_log_size below the log header", func(b []byte) {
			put32(b, offMPBSize, mpbBytes+4)
			put32(b, offBBMLogSize, 4)
		}, "bbm_log_size", offBBMLogSize},
		{"bbm_log signature", func(b []byte) {
			put32(b, offMPBSize, mpbBytes+8)
			put32(b, offBBMLogSize, 8)
		}, "bbm_log.signature", mpbBytes},
		{"bbm_log entry_count", func(b []byte) {
			put32(b, offMPBSize, mpbBytes+8)
			put32(b, offBBMLogSize, 8)
			put32(b, mpbBytes, bbmLogSignature)
			put32(b, mpbBytes+4, 255)
		}, "bbm_log.entry_count", mpbBytes + 4},
		{"bbm_log_size against entry_count", func(b []byte) {
			put32(b, offMPBSize, mpbBytes+8)
			put32(b, offBBMLogSize, 8)
			put32(b, mpbBytes, bbmLogSignature)
			put32(b, mpbBytes+4, 1)
		}, "bbm_log_size", offBBMLogSize},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			img := messWith(t, bStale, "m0", func(b []byte) {
				tt.mess(b[anchor:])
				if n := binary.LittleEndian.Uint32(b[anchor+offMPBSize:]); n >= headerSize && n <= SectorSize {
					fixChecksum(b, anchor)
				}
			})
			m, err := Read(bytes.NewReader(img), int64(len(img)))
			if m != nil {
				t.Fatalf("Read returned an MPB and %v", err)
			}
			wantFormatError(t, err, tt.field, int64(anchor+tt.off))
			// Decode of the same bytes blames the same field.
			_, err = Decode(img[anchor:anchor+SectorSize], anchor)
			wantFormatError(t, err, tt.field, int64(anchor+tt.off))
		})
	}
}

// TestMangleChecksum changes covered bytes without fixing the checksum: Read
// still returns the MPB, flagged, with the checksum mdadm would compute.
func TestMangleChecksum(t *testing.T) {
	good := readMPB(t, fixture.Image(t, bStale, "m0"))
	tests := []struct {
		name  string
		off   int
		delta uint32 // what the change adds to the word sum
	}{
		{"generation_num +1", offGeneration, 1},
		{"serial byte +1", headerSize + 3, 1 << 24},
		{"check_sum itself +1", offCheckSum, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			img := messWith(t, bStale, "m0", func(b []byte) { b[anchor+tt.off]++ })
			m := readMPB(t, img)
			if m.ChecksumOK() {
				t.Fatalf("ChecksumOK() = true after a change at MPB byte %#x", tt.off)
			}
			if m.ComputedChecksum != good.ComputedChecksum+tt.delta {
				t.Errorf("ComputedChecksum %#x; want %#x", m.ComputedChecksum, good.ComputedChecksum+tt.delta)
			}
			if len(m.Volumes) != 1 || len(m.Disks) != 2 {
				t.Errorf("decoded %d volumes, %d disks", len(m.Volumes), len(m.Disks))
			}
		})
	}
}

// TestExtendedMPB builds a two-sector MPB (eight more disk entries and a
// 10-entry bad-block log push mpb_size to 952): its second sector goes in
// the sector before the anchor, as mdadm's store_imsm_mpb writes it.
func TestExtendedMPB(t *testing.T) {
	img, raw := extendedImage(t, nil)
	m := readMPB(t, img)
	if m.Size != uint32(len(raw)) || m.Sectors() != 2 || !bytes.Equal(m.Raw, raw) || !m.ChecksumOK() {
		t.Fatalf("Size %d, %d sectors, Raw equal %v, checksum ok %v", m.Size, m.Sectors(), bytes.Equal(m.Raw, raw), m.ChecksumOK())
	}
	if len(m.Disks) != 10 || m.Disks[9].Serial != "/dev/vdj" || m.BBMLogSize != 8+8*10 || m.Volumes[0].Off != mpbDev+8*diskSize {
		t.Errorf("%d disks, last %q, BBMLogSize %d, volume at %#x", len(m.Disks), m.Disks[len(m.Disks)-1].Serial, m.BBMLogSize, m.Volumes[0].Off)
	}
	// A bad field in the second sector is reported at its place in the
	// image: in the sector before the anchor.
	mapStateAt := mpbMap + 8*diskSize + mapState
	img, _ = extendedImage(t, func(raw []byte) { raw[mapStateAt] = 9 })
	_, err := Read(bytes.NewReader(img), int64(len(img)))
	wantFormatError(t, err, "map_state", int64(anchor-SectorSize+mapStateAt-SectorSize))
	// A change in the second sector is covered by the checksum.
	img, _ = extendedImage(t, nil)
	img[anchor-SectorSize+100] ^= 0xff
	if m := readMPB(t, img); m.ChecksumOK() {
		t.Errorf("a change in the extended sector left the checksum good")
	}
	// mpb_size calling for more sectors than the image has before the anchor.
	small := bytes.Clone(img[len(img)-4*SectorSize:])
	put32(small, 2*SectorSize+offMPBSize, 4*SectorSize)
	_, err = Read(bytes.NewReader(small), int64(len(small)))
	wantFormatError(t, err, "mpb_size", 2*SectorSize+offMPBSize)
}

// extendedImage returns b-stale-member/m0 with eight more disk entries
// (/dev/vdc../dev/vdj, configured, like the others) and a 10-entry bad-block
// log in its MPB (attributes gain MPB_ATTRIB_BBM, as write_super_imsm sets
// it), changed by mess before the checksum is computed, and the MPB bytes.
func extendedImage(tb testing.TB, mess func(raw []byte)) (img, raw []byte) {
	tb.Helper()
	base := fixture.Image(tb, bStale, "m0")
	mpb := base[anchor : anchor+mpbBytes]
	raw = bytes.Clone(mpb[:mpbDev])
	for i := 0; i < 8; i++ {
		d := bytes.Clone(mpb[headerSize+diskSize : headerSize+2*diskSize])
		copy(d, "/dev/vd"+string(rune('c'+i)))
		raw = append(raw, d...)
	}
	raw = append(raw, mpb[mpbDev:]...)
	raw[offNumDisks] = 10
	log := make([]byte, bbmLogHeaderSize+bbmLogEntrySize*10)
	put32(log, 0, bbmLogSignature)
	put32(log, 4, 10)
	for i := 0; i < 10; i++ {
		e := log[bbmLogHeaderSize+bbmLogEntrySize*i:]
		e[0] = 7                      // marked_count: 8 sectors
		e[1] = 1                      // disk_ordinal
		put32(e, 4, 1000*uint32(i+1)) // defective_block_start: w1 at 2 is 0, dw1 = start>>16
	}
	raw = append(raw, log...)
	put32(raw, offMPBSize, uint32(len(raw)))
	put32(raw, offBBMLogSize, uint32(len(log)))
	put32(raw, offAttributes, binary.LittleEndian.Uint32(raw[offAttributes:])|0x08000000)
	if mess != nil {
		mess(raw)
	}
	put32(raw, offCheckSum, Checksum(raw))
	img = bytes.Clone(base)
	copy(img[anchor:anchor+SectorSize], raw[:SectorSize])
	copy(img[anchor-SectorSize:], raw[SectorSize:])
	return img, raw
}

// TestNoMPB: images without an anchor signature, and images too small for
// one, give ErrNoMPB; an anchor where a 4096-byte-sector disk keeps it is
// named as unsupported.
func TestNoMPB(t *testing.T) {
	img := fixture.Image(t, bStale, "m0")
	for _, tt := range []struct {
		name string
		data []byte
	}{
		{"empty", nil},
		{"one sector", make([]byte, 512)},
		{"1023 bytes", make([]byte, 1023)},
		{"zeros", make([]byte, 1<<20)},
		{"last sector cut off", img[:len(img)-SectorSize]},
		{"md superblock image", fixture.Image(t, "md/md-1.2/a-clean", "m0")},
	} {
		m, err := Read(bytes.NewReader(tt.data), int64(len(tt.data)))
		if m != nil || !errors.Is(err, ErrNoMPB) {
			t.Errorf("%s: Read = %v, %v; want ErrNoMPB", tt.name, m, err)
		}
	}
	if _, err := Decode(make([]byte, 512), anchor); !errors.Is(err, ErrNoMPB) {
		t.Errorf("Decode(zeros) = %v; want ErrNoMPB", err)
	}

	// The MPB of a disk with 4096-byte sectors sits 8 KiB before the end.
	k4 := make([]byte, len(img))
	copy(k4[len(k4)-8192:], img[anchor:anchor+SectorSize])
	_, err := Read(bytes.NewReader(k4), int64(len(k4)))
	wantFormatError(t, err, "sig", int64(len(k4)-8192))
}

// TestShortReader: a reader shorter than the size it is said to have is a
// read error, not a missing MPB and not zeros.
func TestShortReader(t *testing.T) {
	img := fixture.Image(t, bStale, "m0")
	_, err := Read(bytes.NewReader(img[:len(img)-600]), int64(len(img)))
	var fe *FormatError
	if err == nil || errors.Is(err, ErrNoMPB) || errors.As(err, &fe) {
		t.Fatalf("Read of a short reader = %v; want a read error", err)
	}
}

// TestDecodeOffset: Decode needs a sector-aligned anchor offset.
func TestDecodeOffset(t *testing.T) {
	raw := fixture.Image(t, bStale, "m0")[anchor : anchor+mpbBytes]
	for _, off := range []int64{-512, 100} {
		_, err := Decode(raw, off)
		wantFormatError(t, err, "anchor", off)
	}
	_, err := Decode(raw[:400], anchor)
	wantFormatError(t, err, "mpb_size", anchor+offMPBSize)
	m, err := Decode(append(bytes.Clone(raw), 1, 2, 3), anchor)
	if err != nil || len(m.Raw) != mpbBytes {
		t.Fatalf("Decode with trailing bytes = %v; Raw %d bytes", err, len(m.Raw))
	}
}

// TestTruncatedHead: an image holding only the end of a member (its first
// 16320 KiB missing) still has its MPB, but the volume it describes starts
// before the image does: a clear error at blocks_per_member, not a volume
// that reads past the image.
func TestTruncatedHead(t *testing.T) {
	img := fixture.Image(t, bStale, "m0")
	tail := img[len(img)-seedTail:]
	_, err := Read(bytes.NewReader(tail), int64(len(tail)))
	wantFormatError(t, err, "blocks_per_member", seedTail-2*SectorSize+mpbMap+mapBPMLo)
}
