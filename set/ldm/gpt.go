package ldm

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
)

// metadataType is the GPT partition type GUID of the LDM metadata partition,
// 5808C8AA-7E8F-42E0-85D2-E1E90434CFB3, in its on-disk (mixed-endian) form.
var metadataType = []byte{0xaa, 0xc8, 0x08, 0x58, 0x8f, 0x7e, 0xe0, 0x42, 0x85, 0xd2, 0xe1, 0xe9, 0x04, 0x34, 0xcf, 0xb3}

// gptPart is the LDM metadata partition: first and last LBA, and whether it
// was found through the backup header.
type gptPart struct {
	first, last uint64
	backup      bool
}

// findMetadataPartition reads the GPT (the primary header, or the backup
// header in the last sector when the primary is not valid) and returns the
// LDM metadata partition. A disk whose headers both lack the "EFI PART"
// signature, or whose GPT has no LDM metadata partition, is not a dynamic
// disk (ErrNoLDM).
func findMetadataPartition(r io.ReaderAt, size int64) (*gptPart, error) {
	p, err := readGPT(r, size, SectorSize)
	var fe *FormatError
	if err == nil || !errors.As(err, &fe) {
		return p, err
	}
	p, berr := readGPT(r, size, size/SectorSize*SectorSize-SectorSize)
	if berr == nil {
		p.backup = true
		return p, nil
	}
	var bfe *FormatError
	switch {
	case errors.Is(berr, ErrNoLDM):
		return nil, ErrNoLDM // a valid backup GPT without LDM metadata
	case fe.Field == "GPT.signature" && errors.As(berr, &bfe) && bfe.Field == "GPT.signature":
		return nil, ErrNoLDM // a protective MBR without a GPT behind it
	}
	return nil, err // report the primary header's fault
}

// readGPT decodes the GPT header at byte off and its entry array and looks
// for the LDM metadata partition.
func readGPT(r io.ReaderAt, size, off int64) (*gptPart, error) {
	h, err := readSector(r, size, off, "GPT")
	if err != nil {
		return nil, err
	}
	le := binary.LittleEndian
	if string(h[:8]) != "EFI PART" {
		return nil, &FormatError{Off: off, Field: "GPT.signature", Value: fmt.Sprintf("%q", h[:8]), Msg: `is not "EFI PART"`}
	}
	hsize := le.Uint32(h[12:])
	if hsize < 92 || hsize > SectorSize {
		return nil, &FormatError{Off: off + 12, Field: "GPT.header_size", Value: hsize, Msg: "is not in 92..512"}
	}
	stored := le.Uint32(h[16:])
	c := bytes.Clone(h[:hsize])
	clear(c[16:20])
	if got := crc32.ChecksumIEEE(c); got != stored {
		return nil, &FormatError{Off: off + 16, Field: "GPT.header_crc32", Value: fmt.Sprintf("%#08x", stored), Msg: fmt.Sprintf("computed %#08x", got)}
	}
	sectors := uint64(size / SectorSize)
	lba, n, esize := le.Uint64(h[72:]), le.Uint32(h[80:]), le.Uint32(h[84:])
	if esize < 128 || esize%8 != 0 || esize > SectorSize {
		return nil, &FormatError{Off: off + 84, Field: "GPT.entry_size", Value: esize, Msg: "is not a multiple of 8 in 128..512"}
	}
	total := uint64(n) * uint64(esize)
	if total > maxGPTEntryBytes {
		return nil, &FormatError{Off: off + 80, Field: "GPT.num_entries", Value: n, Msg: fmt.Sprintf("entries of %d bytes exceed %d bytes", esize, maxGPTEntryBytes)}
	}
	if lba >= sectors || total > (sectors-lba)*SectorSize {
		return nil, &FormatError{Off: off + 72, Field: "GPT.entries_lba", Value: lba, Msg: fmt.Sprintf("+ %d bytes of entries do not fit in the %d-sector image", total, sectors)}
	}
	ents := make([]byte, total)
	if err := readFull(r, ents, int64(lba)*SectorSize); err != nil {
		return nil, err
	}
	if got, want := crc32.ChecksumIEEE(ents), le.Uint32(h[88:]); got != want {
		return nil, &FormatError{Off: off + 88, Field: "GPT.entries_crc32", Value: fmt.Sprintf("%#08x", want), Msg: fmt.Sprintf("computed %#08x", got)}
	}
	for i := uint64(0); i < uint64(n); i++ {
		e := ents[i*uint64(esize):]
		if !bytes.Equal(e[:16], metadataType) {
			continue
		}
		first, last := le.Uint64(e[32:]), le.Uint64(e[40:])
		at := int64(lba)*SectorSize + int64(i)*int64(esize)
		if first > last || last >= sectors {
			return nil, &FormatError{Off: at + 32, Field: "GPT.entry.first_lba", Value: first,
				Msg: fmt.Sprintf("to last LBA %d is not a range inside the %d-sector image", last, sectors)}
		}
		return &gptPart{first: first, last: last}, nil
	}
	return nil, ErrNoLDM
}
