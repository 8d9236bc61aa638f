package vhdx

// Fixtures built by the real tools in a temporary directory, by
// internal/diskfixture: raw images with FAT (mkfs.fat + mcopy) or NTFS
// (mkntfs + ntfscp) content (diskfixture.RawFS), converted to VHDX by
// qemu-img (-O vhdx), which is also the peer the reader is compared with.
// Nothing under /work/shared is read.

import (
	"os"
	"testing"

	"github.com/mirrorchk/mirrorchk/internal/diskfixture"
)

func TestMain(m *testing.M) { os.Exit(diskfixture.Main(m, "vhdxtest")) }
