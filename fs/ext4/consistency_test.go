package ext4

import (
	"fmt"
	"strings"
	"testing"

	"github.com/mirrorchk/mirrorchk/fs"
)

func errorsOf(ps []fs.Problem) []fs.Problem {
	var out []fs.Problem
	for _, p := range ps {
		if p.Severity == fs.Error {
			out = append(out, p)
		}
	}
	return out
}

func hasCode(ps []fs.Problem, code string) bool {
	for _, p := range ps {
		if p.Code == code {
			return true
		}
	}
	return false
}

// ownBlocks asks the owners of the given blocks, as check does for the
// differing ranges.
func ownBlocks(v *Volume, blocks []uint64) {
	for _, b := range blocks {
		v.Owners(int64(b)*v.bs, v.bs)
	}
}

// TestCleanAsE2fsck: every fixture and its debugfs-diverged copy pass
// e2fsck -fn, and mirrorchk finds no error in them, neither over the
// differing blocks nor over the whole filesystem.
func TestCleanAsE2fsck(t *testing.T) {
	for _, name := range fxNames {
		base := fixturePath(t, name)
		v0 := openFile(t, base)
		m1 := diverge(t, base, v0.bs)
		blocks := diffBlocks(t, base, m1, v0.bs)
		for _, img := range []string{base, m1} {
			out, code := run(t, "e2fsck", "e2fsprogs", "-fn", img)
			if code != 0 {
				t.Fatalf("%s: e2fsck -fn %s: %d\n%s", name, img, code, out)
			}
			v := openFile(t, img)
			if want := strings.SplitN(name, "-", 2)[0]; v.Type() != want {
				t.Errorf("%s: type %s, want %s", name, v.Type(), want)
			}
			ownBlocks(v, blocks)
			if e := errorsOf(v.Problems()); len(e) > 0 {
				t.Errorf("%s %s (differing blocks): e2fsck is clean, mirrorchk says %+v", name, img, e)
			}
			v.Owners(0, v.Size())
			if e := errorsOf(v.Problems()); len(e) > 0 {
				t.Errorf("%s %s (whole): e2fsck is clean, mirrorchk says %+v", name, img, e)
			}
			if j := v.Judge(0, v.Size()); j.Intact != 1 {
				t.Errorf("%s %s: clean filesystem judged %+v", name, img, j)
			}
		}
	}
}

// TestCorruptionsAsE2fsck seeds corruptions with debugfs that e2fsck -fn
// finds, and mirrorchk must find them too: asked only about the blocks
// the corruption changed (as check asks), or over the whole filesystem
// where a check needs what those blocks do not lead to (whole: true).
func TestCorruptionsAsE2fsck(t *testing.T) {
	type corruption struct {
		name  string
		cmds  []string
		code  string
		csum  bool // needs metadata_csum
		whole bool
	}
	cases := []corruption{
		{name: "file links", cmds: []string{"set_inode_field /a/f4 links_count 5"}, code: "ext4-links"},
		{name: "dir links", cmds: []string{"set_inode_field /c links_count 9"}, code: "ext4-dir-links"},
		{name: "freeb", cmds: []string{"freeb BLOCK(/a/f6)"}, code: "ext4-block-bitmap"},
		{name: "clri", cmds: []string{"clri /a/f7"}, code: "ext4-inode-cleared"},
		{name: "set_bg free", cmds: []string{"set_bg 0 free_blocks_count 7"}, code: "ext4-free-count"},
		{name: "block map", cmds: []string{"set_inode_field /a/f9 block[0] 0x7ffffff0"}, code: "ext4-blockmap-bad"},
		{name: "inode csum", cmds: []string{"set_inode_field /a/f8 checksum 0x1234"}, code: "ext4-inode-csum", csum: true},
		{name: "gd csum", cmds: []string{"set_bg 0 checksum 0x1234"}, code: "ext4-gd-csum", csum: true},
		{name: "dir csum", cmds: []string{"POKE(/c/d)"}, code: "ext4-dir-csum", csum: true},
	}
	for _, name := range []string{"ext4", "ext3", "ext4-1k"} {
		base := fixturePath(t, name)
		v0 := openFile(t, base)
		csum := v0.sb.RoCompat&roMetaCsum != 0
		for _, c := range cases {
			if c.csum && !csum {
				continue
			}
			t.Run(name+"/"+c.name, func(t *testing.T) {
				img := copyImage(t, base, "c.img")
				var cmds []string
				for _, cmd := range c.cmds {
					switch {
					case strings.HasPrefix(cmd, "freeb BLOCK("):
						p := strings.TrimSuffix(strings.TrimPrefix(cmd, "freeb BLOCK("), ")")
						cmds = append(cmds, fmt.Sprintf("freeb %d", bmaps(t, img, p+" 0")[0]))
					case strings.HasPrefix(cmd, "POKE("):
						p := strings.TrimSuffix(strings.TrimPrefix(cmd, "POKE("), ")")
						b := bmaps(t, img, p+" 0")[0]
						pokeByte(t, img, int64(b)*v0.bs+20)
					default:
						cmds = append(cmds, cmd)
					}
				}
				if len(cmds) > 0 {
					debugfsW(t, img, 0, cmds...)
				}
				out, code := run(t, "e2fsck", "e2fsprogs", "-fn", img)
				// e2fsck -n exits 0 on some findings it ignores (a group
				// descriptor checksum: "IGNORED").
				if code == 0 && !strings.Contains(out, "IGNORED") && !strings.Contains(out, "? no") {
					t.Fatalf("e2fsck -fn finds nothing after %v:\n%s", c.cmds, out)
				}
				blocks := diffBlocks(t, base, img, v0.bs)
				v := openFile(t, img)
				ownBlocks(v, blocks)
				ps := v.Problems()
				if !hasCode(ps, c.code) && c.whole {
					v.Owners(0, v.Size())
					ps = v.Problems()
				}
				if !hasCode(ps, c.code) {
					t.Errorf("%v: e2fsck -fn (rc %d) finds\n%s\nmirrorchk (over the %d differing blocks) does not find %s: %+v", c.cmds, code, lastLines(out, 12), len(blocks), c.code, ps)
				}
			})
		}
	}
}

func lastLines(s string, n int) string {
	l := strings.Split(strings.TrimSpace(s), "\n")
	if len(l) > n {
		l = l[len(l)-n:]
	}
	return strings.Join(l, "\n")
}

// TestOrphanList: an inode on the orphan list (s_last_orphan) is a
// warning, as e2fsck -fn, which leaves orphans to the next mount or a
// repairing run, calls the filesystem clean.
func TestOrphanList(t *testing.T) {
	img := copyImage(t, fixturePath(t, "ext4"), "o.img")
	debugfsW(t, img, 0, "set_super_value last_orphan 20")
	if out, code := run(t, "e2fsck", "e2fsprogs", "-fn", img); code != 0 {
		t.Fatalf("e2fsck -fn: %d %s", code, out)
	}
	v := openFile(t, img)
	ps := v.Problems()
	if !hasCode(ps, "ext4-orphans") || len(errorsOf(ps)) > 0 {
		t.Errorf("problems %+v", ps)
	}
}
