package xfs

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/mirrorchk/mirrorchk/internal/xfsfixture"
)

// TestDamaged: structures damaged with xfs_db -x give problems, never a
// panic, and the owners still cover every byte; an absurd superblock is
// refused with an error.
func TestDamaged(t *testing.T) {
	s := fixture(t)
	sfdir, err := xfsfixture.Inode(s.V5, "/sfdir")
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		cmds []string
		code string
	}{
		{"bnobt-level", []string{"agf 0", "write -d bnolevel 5"}, "xfs-btree-bad"},
		{"inobt-root-is-agfl", []string{"agi 1", "write -d root 6"}, "xfs-btree-bad"},
		{"bnobt-is-cntbt", []string{"agf 2", "write -d cntroot 1"}, "xfs-btree-bad"},
		// sfdir's entry "sub" made to name sfdir itself: a cycle.
		{"dir-cycle", []string{fmt.Sprintf("inode %d", sfdir), "write u3.sfdir3.list[1].inumber.i4 " + fmt.Sprint(sfdir)}, "xfs-nlink"},
		{"inode-count-absurd", []string{"agi 3", "write -d count 4000000000"}, "xfs-agi-count"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			img := filepath.Join(t.TempDir(), "x.img")
			if err := xfsfixture.Copy(s.V5, img); err != nil {
				t.Fatal(err)
			}
			if out, err := xfsfixture.DB(img, true, c.cmds...); err != nil {
				t.Fatalf("%v\n%s", err, out)
			}
			v := openImg(t, img)
			checkCover(t, v.Owners(0, v.Size()), 0, v.Size())
			v.Judge(0, v.Size())
			ps := v.Problems()
			if !hasCode(ps, c.code) {
				t.Errorf("want %s among %+v", c.code, ps)
			}
			if rc, _ := xfsfixture.Repair(img); rc == 0 {
				t.Errorf("xfs_repair -n finds nothing wrong")
			}
		})
	}
	t.Run("absurd-agcount", func(t *testing.T) {
		img := filepath.Join(t.TempDir(), "x.img")
		if err := xfsfixture.Copy(s.V5, img); err != nil {
			t.Fatal(err)
		}
		if out, err := xfsfixture.DB(img, true, "sb 0", "write -d agcount 4000000000"); err != nil {
			t.Fatalf("%v\n%s", err, out)
		}
		f, err := os.Open(img)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		st, _ := f.Stat()
		if _, err := Open(f, st.Size()); err == nil {
			t.Error("a superblock with 4e9 AGs opens")
		} else {
			t.Log(err)
		}
	})
}
