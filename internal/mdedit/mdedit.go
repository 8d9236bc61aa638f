// Package mdedit edits md superblocks of test images the way a kernel
// would have written them (re-signed), for tests above set/md. Imported
// only by _test.go files.
package mdedit

import (
	"encoding/binary"
	"os"
	"testing"

	"github.com/mirrorchk/mirrorchk/set/md"
)

// Edit12 edits the md 1.2 superblock (at byte 4096) of the image at path
// in place and re-signs it. edit gets the 4096-byte superblock block;
// offsets in it are md_p.h's mdp_superblock_1 offsets.
func Edit12(tb testing.TB, path string, edit func(sb []byte)) {
	tb.Helper()
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	sb := make([]byte, 4096)
	if _, err := f.ReadAt(sb, 4096); err != nil {
		tb.Fatal(err)
	}
	edit(sb)
	le := binary.LittleEndian
	n := 256 + 2*int(le.Uint32(sb[220:]))
	if n > len(sb) {
		tb.Fatalf("max_dev %d too large", le.Uint32(sb[220:]))
	}
	le.PutUint32(sb[216:], md.Checksum1(sb[:n]))
	if _, err := f.WriteAt(sb, 4096); err != nil {
		tb.Fatal(err)
	}
}
