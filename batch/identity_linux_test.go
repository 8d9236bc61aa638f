package batch

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestIdentityLinuxFS: ext4 and XFS volumes made by mkfs are identified by
// their UUID and label (what blkid shows), so that two copies of one such
// disk pair up and two different disks of one size do not.
func TestIdentityLinuxFS(t *testing.T) {
	dir := t.TempDir()
	mk := func(name string, size int64, tool, pkg string, args ...string) string {
		t.Helper()
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, nil, 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Truncate(p, size); err != nil {
			t.Fatal(err)
		}
		bin, err := exec.LookPath(tool)
		if err != nil {
			t.Fatalf("%s is not installed (apt-get install -y %s)", tool, pkg)
		}
		if out, err := exec.Command(bin, append(args, p)...).CombinedOutput(); err != nil {
			t.Fatalf("%s: %v\n%s", tool, err, out)
		}
		return p
	}
	tests := []struct {
		path, want string
	}{
		{mk("a.ext4", 16<<20, "mkfs.ext4", "e2fsprogs", "-q", "-F", "-L", "DATA", "-U", "0a0b0c0d-1111-2222-3333-444455556666"),
			`ext@0:uuid=0a0b0c0d111122223333444455556666:label="DATA"`},
		{mk("b.xfs", 300<<20, "mkfs.xfs", "xfsprogs", "-q", "-L", "LOGS", "-m", "uuid=99999999-8888-7777-6666-555555555555"),
			`xfs@0:uuid=99999999888877776666555555555555:label="LOGS"`},
	}
	for _, tt := range tests {
		f, err := os.Open(tt.path)
		if err != nil {
			t.Fatal(err)
		}
		fi, _ := f.Stat()
		id, err := ReadIdentity(f, fi.Size())
		f.Close()
		if err != nil {
			t.Fatal(err)
		}
		if !id.Strong || !strings.Contains(id.String(), tt.want) {
			t.Errorf("%s: identity %q (strong %v); want %s", filepath.Base(tt.path), id, id.Strong, tt.want)
		}
	}
}
