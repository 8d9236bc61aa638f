package ldm

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Byte offsets in the two mirrored fixture images (see TestHeaders).
const (
	mbrPH   = 6 * 512                    // primary PRIVHEAD of mirrored-1 (MBR)
	mbrDB   = 100352 * 512               // its database
	mbrTOC1 = mbrDB + 2*512              // TOCBLOCK copies
	mbrTOC2 = mbrDB + 2045*512           //
	mbrVMDB = mbrDB + 17*512             // VMDB
	gptPH   = 2081 * 512                 // primary PRIVHEAD of mirrored-2 (GPT): last sector of the metadata partition
	gptHdr  = 512                        // primary GPT header
	gptEnts = 1024                       // GPT entry array; entry 0 is the LDM metadata partition
	gptBak  = (102400 - 1) * 512         // backup GPT header
	gptVMDB = (34+17)*512 + 0            // VMDB of mirrored-2
	recData = 0x18                       // record data starts this far into its first slot
	vol3    = 20                         // slot of the Volume3 (mirrored) volume record
	vol3c1  = 16                         // slot of its component Volume3-01
	d5p1    = 17                         // slot of partition Disk5-01 (plex 1, on this MBR disk)
	d6p1    = 19                         // slot of partition Disk6-01 (plex 2)
	free    = 40                         // an empty slot
	vol3ID  = 35                         // Volume3's record id
	nameLen = len("WIN-ERRDJSBDAVF-Dg0") // disk group name
)

// slot returns the byte offset of VBLK slot n (n = 0 is the first slot,
// 512 bytes after the VMDB) of the database whose VMDB is at vm.
func slot(vm int64, n int) int64 { return vm + 512 + int64(n)*128 }

func crc(b []byte) uint32 { return crc32.ChecksumIEEE(b) }

func put16(b []byte, off int64, v uint16) { binary.BigEndian.PutUint16(b[off:], v) }
func put32(b []byte, off int64, v uint32) { binary.BigEndian.PutUint32(b[off:], v) }
func put64(b []byte, off int64, v uint64) { binary.BigEndian.PutUint64(b[off:], v) }

// messWith returns a copy of a fixture image changed by fn.
func messWith(tb testing.TB, name string, fn func(b []byte)) []byte {
	tb.Helper()
	b := bytes.Clone(loadImage(tb, name))
	if fn != nil {
		fn(b)
	}
	return b
}

// splitVolume3 gives Volume3's record an ID1 string of n bytes (record
// flag 0x08), which makes it too long for one slot, and writes it as a
// two-slot record: entry 0 in Volume3's slot, entry 1 in the empty slot
// free. It returns the ID1 string.
func splitVolume3(b []byte, n int) string {
	s0, s1 := slot(mbrVMDB, vol3), slot(mbrVMDB, free)
	size := binary.BigEndian.Uint32(b[s0+0x14:])
	data := bytes.Clone(b[s0+recData : s0+recData+int64(size)])
	hint := data[len(data)-3:] // drive hint "G:", the last optional field
	id1 := strings.Repeat("x", n)
	data = append(append(append(data[:len(data)-3:len(data)-3], byte(n)), id1...), hint...)
	body := make([]byte, 2*112)
	copy(body, b[s0+16:s0+recData])
	body[2] |= 0x08
	binary.BigEndian.PutUint32(body[4:], uint32(len(data)))
	copy(body[8:], data)
	copy(b[s0+16:s0+128], body[:112])
	put16(b, s0+12, 0)
	put16(b, s0+14, 2)
	copy(b[s1+16:s1+128], body[112:])
	put32(b, s1+8, vol3ID)
	put16(b, s1+12, 1)
	put16(b, s1+14, 2)
	return id1
}

// TestMangle changes one named field of a real image and expects Read to
// blame exactly that field, at its byte offset.
func TestMangle(t *testing.T) {
	vm := int64(mbrVMDB)
	tests := []struct {
		name  string
		img   string
		mess  func(b []byte)
		cut   int64 // image size to claim; 0: the whole image
		field string
		off   int64
	}{
		// PRIVHEAD
		{name: "MBR PRIVHEAD signature", img: mirroredMBR, mess: func(b []byte) { b[mbrPH+3] = 'X' }, field: "PRIVHEAD.magic", off: mbrPH},
		{name: "GPT PRIVHEAD signature", img: mirroredGPT, mess: func(b []byte) { b[gptPH] = 0 }, field: "PRIVHEAD.magic", off: gptPH},
		{name: "PRIVHEAD version 2.13", img: mirroredMBR, mess: func(b []byte) { put16(b, mbrPH+0x0e, 13) }, field: "PRIVHEAD.version", off: mbrPH + 0x0c},
		{name: "PRIVHEAD disk GUID", img: mirroredMBR, mess: func(b []byte) { b[mbrPH+0x30+8] = 'g' }, field: "PRIVHEAD.disk_guid", off: mbrPH + 0x30},
		{name: "PRIVHEAD disk group GUID", img: mirroredGPT, mess: func(b []byte) { b[gptPH+0xb0] = ' ' }, field: "PRIVHEAD.disk_group_guid", off: gptPH + 0xb0},
		{name: "database past the image", img: mirroredMBR, mess: func(b []byte) { put64(b, mbrPH+0x12b, 102353) }, field: "PRIVHEAD.config_start", off: mbrPH + 0x12b},
		{name: "database size over the cap", img: mirroredMBR, mess: func(b []byte) { put64(b, mbrPH+0x133, 1<<40) }, field: "PRIVHEAD.config_size", off: mbrPH + 0x133},
		{name: "database size 0", img: mirroredMBR, mess: func(b []byte) { put64(b, mbrPH+0x133, 0) }, field: "PRIVHEAD.config_size", off: mbrPH + 0x133},
		{name: "data area overlaps database", img: mirroredMBR, mess: func(b []byte) { put64(b, mbrPH+0x123, 100290) }, field: "PRIVHEAD.logical_disk_start", off: mbrPH + 0x11b},
		{name: "data area size 2^63", img: mirroredMBR, mess: func(b []byte) { put64(b, mbrPH+0x123, 1<<63) }, field: "PRIVHEAD.logical_disk_size", off: mbrPH + 0x123},
		{name: "TOCBLOCK sector outside database", img: mirroredMBR, mess: func(b []byte) { put64(b, mbrPH+0x143, 2048) }, field: "PRIVHEAD.toc_sector[1]", off: mbrPH + 0x143},
		{name: "GPT metadata partition not the database", img: mirroredGPT, mess: func(b []byte) { put64(b, gptPH+0x12b, 35) }, field: "PRIVHEAD.config_start", off: gptPH + 0x12b},
		{name: "PRIVHEAD disk not in database", img: mirroredMBR, mess: func(b []byte) { b[mbrPH+0x30] = 'f' }, field: "PRIVHEAD.disk_guid", off: mbrPH + 0x30},

		// GPT
		{name: "GPT header CRC, backup unusable", img: mirroredGPT, mess: func(b []byte) { b[gptHdr+0x30]++; b[gptBak] = 0 }, field: "GPT.header_crc32", off: gptHdr + 16},
		{name: "GPT entries CRC, backup unusable", img: mirroredGPT, mess: func(b []byte) { b[gptEnts+32]++; b[gptBak] = 0 }, field: "GPT.entries_crc32", off: gptHdr + 88},
		{name: "image ends inside the database", img: mirroredGPT, cut: 100 * 512, field: "GPT.entry.first_lba", off: gptEnts + 32},

		// TOCBLOCK
		{name: "both TOCBLOCK signatures", img: mirroredMBR, mess: func(b []byte) { b[mbrTOC1] = 0; b[mbrTOC2] = 0 }, field: "TOCBLOCK.magic", off: mbrTOC1},
		{name: "TOCBLOCK config name", img: mirroredMBR, mess: func(b []byte) { b[mbrTOC1+0x24] = 'C'; b[mbrTOC2] = 0 }, field: "TOCBLOCK.bitmap[0].name", off: mbrTOC1 + 0x24},
		{name: "TOCBLOCK config area past database", img: mirroredMBR, mess: func(b []byte) { put64(b, mbrTOC1+0x36, 2032); b[mbrTOC2] = 0 }, field: "TOCBLOCK.bitmap[0].size", off: mbrTOC1 + 0x36},
		{name: "TOCBLOCK log area at sector 2048", img: mirroredMBR, mess: func(b []byte) { put64(b, mbrTOC1+0x50, 2048); b[mbrTOC2] = 0 }, field: "TOCBLOCK.bitmap[1].start", off: mbrTOC1 + 0x50},
		{name: "TOCBLOCK copies disagree", img: mirroredMBR, mess: func(b []byte) { put64(b, mbrTOC2+0x36, 1480) }, field: "TOCBLOCK.bitmap[0]", off: mbrTOC2 + 0x24},

		// VMDB
		{name: "VMDB signature", img: mirroredMBR, mess: func(b []byte) { b[vm] = 'v' }, field: "VMDB.magic", off: vm},
		{name: "VMDB signature (GPT)", img: mirroredGPT, mess: func(b []byte) { b[gptVMDB+3] = 0 }, field: "VMDB.magic", off: gptVMDB},
		{name: "VMDB version", img: mirroredMBR, mess: func(b []byte) { put16(b, vm+0x14, 11) }, field: "VMDB.version", off: vm + 0x12},
		{name: "VBLK size 100", img: mirroredMBR, mess: func(b []byte) { put32(b, vm+0x08, 100) }, field: "VMDB.vblk_size", off: vm + 0x08},
		{name: "first VBLK inside the header", img: mirroredMBR, mess: func(b []byte) { put32(b, vm+0x0c, 128) }, field: "VMDB.vblk_first_offset", off: vm + 0x0c},
		{name: "VBLK slots past the config area", img: mirroredMBR, mess: func(b []byte) { put32(b, vm+0x04, 5925) }, field: "VMDB.vblk_last", off: vm + 0x04},
		{name: "VBLK slots end before they start", img: mirroredMBR, mess: func(b []byte) { put32(b, vm+0x04, 3) }, field: "VMDB.vblk_last", off: vm + 0x04},
		// Cutting the slots: first below the committed counts, then just
		// above them, so that Volume5 (slot 33) is lost but its component
		// (slot 28) is not.
		{name: "VMDB truncated below its counts", img: mirroredMBR, mess: func(b []byte) { put32(b, vm+0x04, 4+20) }, field: "VMDB.n_committed_vblks_part", off: vm + 0x8d},
		{name: "VMDB truncated inside the records", img: mirroredMBR, mess: func(b []byte) { put32(b, vm+0x04, 4+32) }, field: "component.parent_id", off: slot(vm, 28) + recData + 43},
		{name: "VMDB of another disk group", img: mirroredMBR, mess: func(b []byte) { b[vm+0x35] = '1' }, field: "VMDB.disk_group_guid", off: vm + 0x35},
		{name: "committed volume count past the slots", img: mirroredMBR, mess: func(b []byte) { put32(b, vm+0x85, 0xffffffff) }, field: "VMDB.n_committed_vblks_vol", off: vm + 0x85},
		{name: "pending disk count past the slots", img: mirroredMBR, mess: func(b []byte) { put32(b, vm+0xad, 5920) }, field: "VMDB.n_pending_vblks_disk", off: vm + 0xad},
		{name: "committed partition count 13", img: mirroredMBR, mess: func(b []byte) { put32(b, vm+0x8d, 13); put32(b, vm+0xa9, 13) }, field: "VMDB.n_committed_vblks_part", off: vm + 0x8d},

		// VBLK headers and sizes
		{name: "VBLK signature", img: mirroredMBR, mess: func(b []byte) { b[slot(vm, 100)] = 0 }, field: "VBLK.magic", off: slot(vm, 100)},
		{name: "entries_total 9", img: mirroredMBR, mess: func(b []byte) { put16(b, slot(vm, vol3)+14, 9) }, field: "VBLK.entries_total", off: slot(vm, vol3) + 14},
		{name: "entry 1 of 1", img: mirroredMBR, mess: func(b []byte) { put16(b, slot(vm, vol3)+12, 1) }, field: "VBLK.entry", off: slot(vm, vol3) + 12},
		{name: "record size past its slot", img: mirroredMBR, mess: func(b []byte) { put32(b, slot(vm, vol3)+0x14, 113) }, field: "VBLK.size", off: slot(vm, vol3) + 0x14},
		{name: "record size cuts the fields", img: mirroredMBR, mess: func(b []byte) { put32(b, slot(vm, vol3)+0x14, 10) }, field: "volume.type", off: slot(vm, vol3) + recData + 10},
		{name: "number longer than 8 bytes", img: mirroredMBR, mess: func(b []byte) { b[slot(vm, vol3)+recData+36] = 9 }, field: "volume.n_children", off: slot(vm, vol3) + recData + 36},
		{name: "unknown record type", img: mirroredMBR, mess: func(b []byte) { b[slot(vm, vol3)+0x13] = 0x52 }, field: "VBLK.type", off: slot(vm, vol3) + 0x13},
		{name: "two records with one record id", img: mirroredMBR, mess: func(b []byte) { put32(b, slot(vm, d5p1)+8, 29) }, field: "VBLK.record_id", off: slot(vm, d5p1) + 8},
		{name: "volume internal type 5", img: mirroredMBR, mess: func(b []byte) { b[slot(vm, vol3)+recData+29] = 5 }, field: "volume.internal_type", off: slot(vm, vol3) + recData + 29},
		{name: "component type 4", img: mirroredMBR, mess: func(b []byte) { b[slot(vm, vol3c1)+recData+20] = 4 }, field: "component.type", off: slot(vm, vol3c1) + recData + 20},

		// Counts and references between records
		{name: "volume claims 3 plexes", img: mirroredMBR, mess: func(b []byte) { b[slot(vm, vol3)+recData+37] = 3 }, field: "volume.n_children", off: slot(vm, vol3) + recData + 36},
		{name: "component claims 2 partitions", img: mirroredMBR, mess: func(b []byte) { b[slot(vm, vol3c1)+recData+26] = 2 }, field: "component.n_children", off: slot(vm, vol3c1) + recData + 25},
		{name: "partition on a missing disk", img: mirroredMBR, mess: func(b []byte) { b[slot(vm, d5p1)+recData+45] = 0x7f }, field: "partition.disk_id", off: slot(vm, d5p1) + recData + 44},
		{name: "partition of a missing component", img: mirroredMBR, mess: func(b []byte) { b[slot(vm, d5p1)+recData+43] = 0x7f }, field: "partition.parent_id", off: slot(vm, d5p1) + recData + 42},
		{name: "component of a missing volume", img: mirroredMBR, mess: func(b []byte) { b[slot(vm, vol3c1)+recData+44] = 0x7f }, field: "component.parent_id", off: slot(vm, vol3c1) + recData + 43},
		{name: "component is its own parent", img: mirroredMBR, mess: func(b []byte) { b[slot(vm, vol3c1)+recData+44] = 0x11 }, field: "component.parent_id", off: slot(vm, vol3c1) + recData + 43},
		{name: "duplicate object id", img: mirroredMBR, mess: func(b []byte) { b[slot(vm, d6p1)+recData+1] = 0x12 }, field: "partition.id", off: slot(vm, d6p1) + recData},
		{name: "plex past the end of its disk", img: mirroredMBR, mess: func(b []byte) { put64(b, slot(vm, d5p1)+recData+23, 100289-32767) }, field: "partition.start", off: slot(vm, d5p1) + recData + 23},
		{name: "plex past the end of the volume", img: mirroredMBR, mess: func(b []byte) { put64(b, slot(vm, d6p1)+recData+31, 1) }, field: "partition.volume_offset", off: slot(vm, d6p1) + recData + 31},
		{name: "no disk group record", img: mirroredMBR, mess: func(b []byte) { put16(b, slot(vm, 0)+14, 0) }, field: "VMDB", off: vm},
		{name: "two disk group records", img: mirroredMBR, mess: func(b []byte) {
			copy(b[slot(vm, free):slot(vm, free)+128], b[slot(vm, 0):slot(vm, 0)+128])
			put32(b, slot(vm, free)+8, 1000)
		}, field: "VBLK.type", off: slot(vm, free)},

		// Records spanning two slots
		{name: "fragment repeated", img: mirroredMBR, mess: func(b []byte) {
			splitVolume3(b, 60)
			copy(b[slot(vm, free+1):slot(vm, free+2)], b[slot(vm, free):slot(vm, free+1)])
		}, field: "VBLK.entry", off: slot(vm, free+1) + 12},
		{name: "fragment refers to itself as entry 0", img: mirroredMBR, mess: func(b []byte) {
			splitVolume3(b, 60)
			put16(b, slot(vm, free)+12, 0)
		}, field: "VBLK.entry", off: slot(vm, free) + 12},
		{name: "fragment missing", img: mirroredMBR, mess: func(b []byte) {
			splitVolume3(b, 60)
			put16(b, slot(vm, free)+14, 0)
		}, field: "VBLK.entries_total", off: slot(vm, vol3) + 14},
		{name: "fragments disagree on their count", img: mirroredMBR, mess: func(b []byte) {
			splitVolume3(b, 60)
			put16(b, slot(vm, free)+14, 3)
		}, field: "VBLK.entries_total", off: slot(vm, free) + 14},
		{name: "fragment past the count", img: mirroredMBR, mess: func(b []byte) {
			splitVolume3(b, 60)
			put16(b, slot(vm, free)+12, 2)
		}, field: "VBLK.entry", off: slot(vm, free) + 12},
		{name: "one-slot record reuses a fragment's id", img: mirroredMBR, mess: func(b []byte) {
			splitVolume3(b, 60)
			put16(b, slot(vm, free)+12, 0)
			put16(b, slot(vm, free)+14, 1)
		}, field: "VBLK.record_id", off: slot(vm, free) + 8},
		{name: "fragmented record size past its slots", img: mirroredMBR, mess: func(b []byte) {
			splitVolume3(b, 60)
			put32(b, slot(vm, vol3)+0x14, 2*112-8+1)
		}, field: "VBLK.size", off: slot(vm, vol3) + 0x14},
		{name: "field straddling the slots cut short", img: mirroredMBR, mess: func(b []byte) {
			splitVolume3(b, 60)
			// Volume3's data is 81+61 bytes; the ID1 string starts at data
			// byte 78, which is body byte 86, in slot 0. Cut the record
			// inside the string, in the second slot.
			put32(b, slot(vm, vol3)+0x14, 120)
		}, field: "volume.id1", off: slot(vm, vol3) + recData + 78},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			img := messWith(t, tt.img, tt.mess)
			size := int64(len(img))
			if tt.cut != 0 {
				img, size = img[:tt.cut], tt.cut
			}
			db, ph, err := Read(bytes.NewReader(img), size)
			if db != nil || ph != nil {
				t.Fatalf("Read returned results and %v", err)
			}
			fe := wantFormatError(t, err, tt.field, tt.off)
			if !strings.Contains(err.Error(), fmt.Sprintf("%s at byte %#x", tt.field, tt.off)) {
				t.Errorf("error %q does not name the field and offset", err)
			}
			t.Logf("%v", fe)
		})
	}
}

// TestNotLDM: images without a dynamic-disk marker are ErrNoLDM, not
// format errors.
func TestNotLDM(t *testing.T) {
	for _, tt := range []struct {
		name string
		img  string
		mess func(b []byte)
		cut  int64
	}{
		{"no MBR signature", mirroredMBR, func(b []byte) { b[511] = 0 }, 0},
		{"MBR type 0x07", mirroredMBR, func(b []byte) { b[446+4] = 0x07 }, 0},
		{"protective MBR without GPT", mirroredGPT, func(b []byte) { b[gptHdr] = 0; b[gptBak] = 0 }, 0},
		{"GPT without LDM metadata partition", mirroredGPT, func(b []byte) {
			for _, h := range []int64{gptHdr, gptBak} {
				ents := int64(binary.LittleEndian.Uint64(b[h+72:])) * 512
				b[ents]++ // entry 0's type GUID
				binary.LittleEndian.PutUint32(b[h+88:], crc(b[ents:ents+128*128]))
				binary.LittleEndian.PutUint32(b[h+16:], 0)
				binary.LittleEndian.PutUint32(b[h+16:], crc(b[h:h+92]))
			}
		}, 0},
		{"empty image", mirroredMBR, nil, 1},
	} {
		t.Run(tt.name, func(t *testing.T) {
			img := messWith(t, tt.img, tt.mess)
			if tt.cut != 0 {
				img = img[:tt.cut]
			}
			if _, _, err := Read(bytes.NewReader(img), int64(len(img))); !errors.Is(err, ErrNoLDM) {
				t.Fatalf("Read = %v; want ErrNoLDM", err)
			}
		})
	}
}

// TestRecovered: damage that leaves a good copy is reported, not fatal.
func TestRecovered(t *testing.T) {
	t.Run("primary GPT header", func(t *testing.T) {
		img := messWith(t, mirroredGPT, func(b []byte) { b[gptHdr] = 'X' })
		db, ph := readImage(t, img)
		if !ph.GPTBackup || db.ThisDisk.Name != "Disk6" {
			t.Fatalf("GPTBackup %v, disk %s; want the backup GPT used, Disk6", ph.GPTBackup, db.ThisDisk.Name)
		}
	})
	t.Run("one TOCBLOCK", func(t *testing.T) {
		img := messWith(t, mirroredMBR, func(b []byte) { b[mbrTOC1] = 'X' })
		db, _ := readImage(t, img)
		if len(db.TOCBlocks) != 1 || db.TOCBlocks[0].Offset != mbrTOC2 || len(db.TOCErrors) != 1 {
			t.Fatalf("%d TOCBLOCKs (first at %#x), errors %v; want the copy at %#x", len(db.TOCBlocks), db.TOCBlocks[0].Offset, db.TOCErrors, mbrTOC2)
		}
		wantFormatError(t, db.TOCErrors[0], "TOCBLOCK.magic", mbrTOC1)
	})
	t.Run("backup PRIVHEADs", func(t *testing.T) {
		b1, b2 := int64(mbrDB+1856*512), int64(mbrDB+2047*512)
		img := messWith(t, mirroredMBR, func(b []byte) {
			b[b1] = 0
			put64(b, b2+0x123, 100288) // logical disk one sector shorter
		})
		_, ph := readImage(t, img)
		if len(ph.Backups) != 2 {
			t.Fatalf("%d backups; want 2", len(ph.Backups))
		}
		wantFormatError(t, ph.Backups[0].Err, "PRIVHEAD.magic", b1)
		if d := ph.Differences(ph.Backups[1].Head); len(d) != 1 || !strings.HasPrefix(d[0], "logical_disk_size 100289 / 100288") {
			t.Errorf("Differences = %q; want the logical disk size", d)
		}
	})
	t.Run("truncated data area", func(t *testing.T) {
		img := loadImage(t, mirroredGPT)[:101000*512]
		_, ph := readImage(t, img)
		if want := int64(65570+36797-101000) * 512; ph.Missing != want {
			t.Errorf("Missing = %d; want %d", ph.Missing, want)
		}
	})
}

// TestFragmentedRecord writes the mirrored volume's record across two
// slots, with the second slot first in the database, and checks that Read
// and ldmtool both reassemble it.
func TestFragmentedRecord(t *testing.T) {
	var id1 string
	img := messWith(t, mirroredMBR, func(b []byte) {
		id1 = splitVolume3(b, 60)
		// Swap the slots' contents so entry 1 comes before entry 0.
		s0, s1 := slot(mbrVMDB, vol3), slot(mbrVMDB, 3)
		a, c := bytes.Clone(b[s0:s0+128]), bytes.Clone(b[slot(mbrVMDB, free):slot(mbrVMDB, free)+128])
		copy(b[slot(mbrVMDB, free):], b[s1:s1+128]) // Disk2 moves to the free slot
		copy(b[s1:], c)                             // entry 1 into slot 3
		copy(b[s0:], a)                             // entry 0 stays in slot 20
	})
	db, _ := readImage(t, img)
	v := db.VolumeByName("Volume3")
	if v == nil {
		t.Fatal("no Volume3")
	}
	if v.Entries != 2 || v.Offset != slot(mbrVMDB, vol3) || v.ID1 != id1 || v.DriveHint != "G:" || v.Kind != KindMirror || v.Size != 32768 {
		t.Fatalf("Volume3 = entries %d at %#x, ID1 %q, hint %q, %v, %d sectors; want 2 slots at %#x, the ID1 written, G:, mirrored, 32768",
			v.Entries, v.Offset, v.ID1, v.DriveHint, v.Kind, v.Size, slot(mbrVMDB, vol3))
	}
	p := filepath.Join(t.TempDir(), mirroredMBR)
	if err := os.WriteFile(p, img, 0o644); err != nil {
		t.Fatal(err)
	}
	var tv toolVolume
	ldmtool(t, []string{p}, &tv, "show", "volume", db.DiskGroup.GUID, "Volume3")
	check(t, "Volume3 hint", v.DriveHint, tv.Hint)
	check(t, "Volume3 size", v.Size, tv.Size)
	check(t, "Volume3 type", v.Kind, tv.Type)
}

// TestSequenceLag lowers one disk's committed and pending sequence
// numbers: Read still decodes it and Lags says it is the older copy.
// ldmtool drops that disk: "scan" reports the group's members as
// inconsistent, and "show disk" calls the disk not present. This is a
// mechanical edit to test the exposure of the numbers; it is not how
// Windows leaves a disk that missed updates (that disk would also carry the
// older VBLKs).
func TestSequenceLag(t *testing.T) {
	fresh, _ := readImage(t, loadImage(t, mirroredMBR))
	img := messWith(t, mirroredGPT, func(b []byte) {
		put64(b, gptVMDB+0x75, 38)
		put64(b, gptVMDB+0x7d, 38)
	})
	old, _ := readImage(t, img)
	if old.CommittedSeq != 38 || !old.Lags(fresh) || fresh.Lags(old) || !old.Consistent() {
		t.Fatalf("committed %d, old lags %v, fresh lags %v; want 38, true, false", old.CommittedSeq, old.Lags(fresh), fresh.Lags(old))
	}
	dir := t.TempDir()
	p1, p2 := filepath.Join(dir, mirroredMBR), filepath.Join(dir, mirroredGPT)
	if err := os.WriteFile(p1, loadImage(t, mirroredMBR), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p2, img, 0o644); err != nil {
		t.Fatal(err)
	}
	_, stderr, err := runLdmtool(t, nil, "scan", p1, p2)
	if err != nil {
		t.Fatal(err)
	}
	if want := fmt.Sprintf("disk %s has committed sequence 38, group has committed sequence 39", p2); !strings.Contains(stderr, want) {
		t.Errorf("ldmtool scan stderr = %q; want %q", stderr, want)
	}
	var td toolDisk
	ldmtool(t, []string{p1, p2}, &td, "show", "disk", fresh.DiskGroup.GUID, old.ThisDisk.Name)
	if td.Present {
		t.Errorf("ldmtool shows %s present; want it dropped as inconsistent", old.ThisDisk.Name)
	}
}
