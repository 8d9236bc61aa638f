package batch

import (
	"encoding/binary"
	"fmt"
	"io"
	"strings"

	"github.com/mirrorchk/mirrorchk/fs/fat"
	"github.com/mirrorchk/mirrorchk/fs/ntfs"
	"github.com/mirrorchk/mirrorchk/fs/part"
)

// Identity is what a disk image says about which disk it is a copy of:
// the partition table's identity and each filesystem's. Two images are
// copies of one disk only when they have the same size and the same
// identity, and the identity holds at least one strong token.
type Identity struct {
	// Tokens in the order found, e.g. "mbr-signature=5d0e9f11",
	// "fat16@0:volume-id=1234abcd:label=\"DATA\"", "ntfs@1048576:serial=…".
	Tokens []string
	// Strong is set when a token names one disk or volume (a non-zero MBR
	// disk signature, a GPT disk GUID, a FAT volume ID, an NTFS serial),
	// not just a layout any two disks may share.
	Strong bool
}

// String is the identity as one line, "" when nothing identifies the image.
func (id Identity) String() string { return strings.Join(id.Tokens, " ") }

// maxVolumes bounds the partitions whose boot sectors are read.
const maxVolumes = 64

// ReadIdentity reads the identity of the disk image r of size bytes: its
// partition table (MBR disk signature, GPT disk GUID, the entries' layout)
// and the boot sector of the filesystem at the start of the image or of
// each partition (FAT volume ID and label, NTFS volume serial). It reads a
// few sectors only.
func ReadIdentity(r io.ReaderAt, size int64) (Identity, error) {
	var id Identity
	add := func(strong bool, format string, args ...any) {
		id.Tokens = append(id.Tokens, fmt.Sprintf(format, args...))
		id.Strong = id.Strong || strong
	}
	t, err := part.Read(r, size, 512)
	if err != nil {
		// A table that cannot be read is not an identity; the boot
		// sector at 0 may still be one.
		t = &part.Table{Kind: part.None}
	}
	starts := []int64{0}
	switch t.Kind {
	case part.MBR:
		if t.DiskSignature != 0 {
			add(true, "mbr-signature=%08x", t.DiskSignature)
		}
	case part.GPT:
		if g, ok := gptDiskGUID(r, size); ok {
			add(true, "gpt-disk=%s", g)
		}
	}
	if t.Kind != part.None {
		starts = nil
		for _, p := range t.Partitions {
			add(false, "partition-%d=%s@%d+%d", p.Index, p.Type, p.Start, p.Size)
			if !p.Extended() && !p.LDM && len(starts) < maxVolumes {
				starts = append(starts, p.Start)
			}
		}
	}
	sec := make([]byte, 512)
	for _, off := range starts {
		if off < 0 || off+512 > size {
			continue
		}
		if _, err := r.ReadAt(sec, off); err != nil {
			return id, err
		}
		if b, err := ntfs.ParseBoot(sec, off); err == nil {
			add(b.Serial != 0, "ntfs@%d:serial=%016x", off, b.Serial)
			continue
		}
		if b, err := fat.DecodeBPB(sec, off); err == nil && b.Type != "" {
			if b.BootSig == 0x29 {
				add(b.VolID != 0, "%s@%d:volume-id=%08x:label=%q", strings.ToLower(b.Type), off, b.VolID, b.VolLab)
			} else {
				add(false, "%s@%d:no-volume-id", strings.ToLower(b.Type), off)
			}
		}
	}
	return id, nil
}

// gptDiskGUID reads the disk GUID of the GPT header at LBA 1.
func gptDiskGUID(r io.ReaderAt, size int64) (string, bool) {
	if size < 1024 {
		return "", false
	}
	h := make([]byte, 92)
	if _, err := r.ReadAt(h, 512); err != nil || string(h[:8]) != "EFI PART" {
		return "", false
	}
	g := h[56:72]
	zero := true
	for _, b := range g {
		zero = zero && b == 0
	}
	if zero {
		return "", false
	}
	le := binary.LittleEndian
	return fmt.Sprintf("%08X-%04X-%04X-%X-%X", le.Uint32(g[0:]), le.Uint16(g[4:]), le.Uint16(g[6:]), g[8:10], g[10:16]), true
}
