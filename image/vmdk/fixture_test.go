package vmdk

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/mirrorchk/mirrorchk/internal/diskfixture"
)

// The fixtures are built by internal/diskfixture, once per test process, in
// a temporary directory, with the real tools: a raw disk with a FAT16
// volume (mkfs.fat + mcopy) and an NTFS volume (mkntfs + ntfscp) holding
// random and compressible files (diskfixture.Raw), then converted with
// qemu-img; qemu-img is the peer the reader is compared with.

func TestMain(m *testing.M) { os.Exit(diskfixture.Main(m, "vmdktest")) }

// openFile opens the image p with the files it refers to resolved beside it.
func openFile(tb testing.TB, p string) (*Disk, error) {
	tb.Helper()
	r, size, err := diskfixture.OSOpen(filepath.Dir(p))(filepath.Base(p))
	if err != nil {
		tb.Fatal(err)
	}
	return Open(r, size, filepath.Base(p), diskfixture.OSOpen(filepath.Dir(p)))
}
