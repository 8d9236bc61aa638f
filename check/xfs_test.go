package check_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mirrorchk/mirrorchk/check"
	"github.com/mirrorchk/mirrorchk/internal/fakefs"
	"github.com/mirrorchk/mirrorchk/internal/xfsfixture"
)

// TestXFS checks diverged pairs of bare XFS images built by mkfs.xfs (a
// protofile), a loop mount (v5) and xfs_db -x plus dd (v4).
func TestXFS(t *testing.T) {
	dir := t.TempDir()
	fx, err := xfsfixture.Build(dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Run("v5-mounted", func(t *testing.T) { xfsDivergedV5(t, dir, fx) })
	t.Run("v4-no-evidence", func(t *testing.T) { xfsDivergedV4(t, dir, fx) })
}

// xfsDivergedV4: the v4 members differ in an inode field and file data,
// written by xfs_db and dd, which leave no log record and no time: XFS v4
// has no block LSNs, so nothing says which copy is newer and no member is
// taken; the owners are still named.
func xfsDivergedV4(t *testing.T, dir string, fx *xfsfixture.Set) {
	s := fakefs.Group(t, fx.V4, fx.V4B)
	r, err := check.Check(context.Background(), s, check.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("authority %v (%s): %s", r.Authority, r.Basis, strings.Join(r.Reasons, "; "))
	if r.Authority != nil {
		t.Errorf("authority %s (%s) from evidence that cannot tell: %q", r.Authority.Path(), r.Basis, r.Reasons)
	}
	seen := map[string]bool{}
	for _, p := range r.Pieces {
		for _, o := range p.Owners {
			seen[o.Structure+" "+o.Path] = true
		}
	}
	for _, want := range []string{"file data /big"} {
		if !seen[want] {
			t.Errorf("no piece owned by %q: %v", want, keys(seen))
		}
	}
	if !seenPrefix(seen, "inode chunk slot") {
		t.Errorf("no inode chunk slot among %v", keys(seen))
	}
}

// xfsDivergedV5 checks two bare XFS v5 images, one a copy of the other
// that was mounted and changed afterwards: the owners of the differing
// ranges are named (files by path, log, AG structures, inodes), and the
// changed member is the authority by the log's LSN.
func xfsDivergedV5(t *testing.T, dir string, fx *xfsfixture.Set) {
	if !fx.Mounted {
		t.Skip(fx.MountWhy)
	}
	// Bare members named so that the newer one sorts second.
	m0, m1 := filepath.Join(dir, "m0.img"), filepath.Join(dir, "m1.img")
	if err := os.Rename(fx.V5, m0); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(fx.V5B, m1); err != nil {
		t.Fatal(err)
	}
	s := fakefs.Group(t, m0, m1)
	r, err := check.Check(context.Background(), s, check.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if r.Authority == nil || filepath.Base(r.Authority.Path()) != "m1.img" || r.Basis != check.BasisFilesystem {
		t.Fatalf("authority %v basis %s, want m1.img by filesystem evidence; reasons %q", r.Authority, r.Basis, r.Reasons)
	}
	why := strings.Join(r.Reasons, "; ")
	t.Logf("authority %s (%s): %s", r.Authority.Path(), r.Basis, why)
	if !strings.Contains(why, "LSN") {
		t.Errorf("the reasons do not cite an LSN: %s", why)
	}
	seen := map[string]bool{}
	for _, p := range r.Pieces {
		for _, o := range p.Owners {
			if o.FS != "xfs" {
				t.Errorf("piece at %d: owner %+v is not an XFS owner", p.Offset, o)
			}
			seen[o.Structure] = true
			if o.Path != "" {
				seen[o.Path] = true
			}
		}
	}
	for _, want := range []string{"log", "superblock", "/newfile", "/big", "/blockdir"} {
		if !seen[want] {
			t.Errorf("no differing range owned by %q; owners seen: %v", want, keys(seen))
		}
	}
	if !seenPrefix(seen, "inode chunk slot") {
		t.Errorf("no inode chunk slot among the owners: %v", keys(seen))
	}
	for _, p := range r.Pieces {
		if p.Source >= 0 && filepath.Base(r.Set.Members[p.Source].Path()) == "m0.img" && p.Basis == "lsn" {
			t.Errorf("piece at %d (%+v) taken from the older member by LSN: %s", p.Offset, p.Owners[0], p.Reason)
		}
	}
}

func keys(m map[string]bool) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

func seenPrefix(m map[string]bool, p string) bool {
	for k := range m {
		if strings.HasPrefix(k, p) {
			return true
		}
	}
	return false
}
