package xfs

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"strings"
	"testing"

	"github.com/mirrorchk/mirrorchk/fs"
	"github.com/mirrorchk/mirrorchk/internal/xfsfixture"
)

// peerTypes maps our structure names to the xfs_db blockuse types that
// agree with them.
func peerAgrees(o fs.Owner, u xfsfixture.Use) bool {
	s := o.Structure
	has := func(types ...string) bool {
		for _, t := range types {
			if u.Type == t {
				return true
			}
		}
		return false
	}
	file := func(types ...string) bool {
		return has(types...) && uint64(o.Record) == u.Ino && strings.TrimPrefix(o.Path, "/") == u.Path
	}
	switch {
	// Where the AG headers share block 0 (512-byte sectors) xfs_db calls
	// the block "sb"; with sectors as large as blocks each has its own.
	case s == "superblock", strings.HasPrefix(s, "superblock copy"), strings.HasSuffix(s, "headers, unused"):
		return has("sb")
	case strings.HasPrefix(s, "AGF of"):
		return has("sb", "agf")
	case strings.HasPrefix(s, "AGI of"):
		return has("sb", "agi")
	case strings.HasPrefix(s, "AGFL of"):
		return has("sb", "agfl")
	case s == "free-space B+tree":
		return has("btbno", "btcnt")
	case s == "inode B+tree":
		return has("btino", "btfino")
	case s == "refcount B+tree":
		return has("btrefcnt", "btrefc")
	case s == "reverse-mapping B+tree":
		return has("btrmap")
	case s == "AG free list":
		return has("freelist")
	case s == fs.FreeSpace:
		return has("free1", "free2")
	case strings.HasPrefix(s, "inode chunk"):
		return has("inode")
	case s == "log":
		return has("log")
	case s == fs.FileData:
		return file("data")
	case s == fs.Directory:
		return file("dir")
	case s == "symlink target":
		return file("symlink")
	case s == "extent B+tree":
		return file("btbmapd")
	case s == "attribute extent B+tree":
		return file("btbmapa")
	case s == "attribute fork":
		return file("attr")
	}
	return false
}

// compareOwners asks our reader and xfs_db blockuse for the owner of each
// given block and returns the agreement and the disagreements.
func compareOwners(t *testing.T, img string, blocks []int64) (agree int, bad []string, why []string) {
	t.Helper()
	v := openImg(t, img)
	sb := v.Superblock()
	peer, err := xfsfixture.BlockUse(img, uint64(sb.AGCount), uint64(sb.AGBlocks), uint64(sb.AGBlkLog), sb.DBlocks)
	if err != nil {
		t.Fatal(err)
	}
	for _, lin := range blocks {
		ex := v.Owners(lin*v.bs, v.bs)
		checkCover(t, ex, lin*v.bs, v.bs)
		o := ex[0].Owner
		fsb := uint64(o.Cluster)
		u, ok := peer[fsb]
		if !ok {
			bad = append(bad, fmt.Sprintf("block %d (fsb %d): xfs_db gives nothing, we %q", lin, fsb, o.Structure))
			continue
		}
		if peerAgrees(o, u) {
			agree++
			continue
		}
		if w := explained(img, lin, v.bs, o, u); w != "" {
			why = append(why, fmt.Sprintf("block %d: %s", lin, w))
			continue
		}
		bad = append(bad, fmt.Sprintf("block %d (fsb %d): xfs_db %s inode %d %q, we %q inode %d %q", lin, fsb, u.Type, u.Ino, u.Path, o.Structure, o.Record, o.Path))
	}
	return agree, bad, why
}

// explained says why a disagreement with xfs_db is expected, or "".
func explained(img string, lin, bs int64, o fs.Owner, u xfsfixture.Use) string {
	// xfs_db blockuse files the blocks of an inode's extent B+tree under
	// the fork's own type (its check.c scans them with the data fork's
	// "data"/"dir" type): the block must then carry the bmbt magic.
	if o.Structure == "extent B+tree" && (u.Type == "data" || u.Type == "dir") && uint64(o.Record) == u.Ino {
		f, err := os.Open(img)
		if err != nil {
			return ""
		}
		defer f.Close()
		b := make([]byte, 4)
		f.ReadAt(b, lin*bs)
		if m := string(b); m == "BMA3" || m == "BMAP" {
			return "xfs_db names bmbt blocks by their fork's type; the block's magic is " + m
		}
	}
	return ""
}

func allBlocks(v *Volume) []int64 {
	var out []int64
	for b := int64(0); b < int64(v.sb.DBlocks); b++ {
		out = append(out, b)
	}
	return out
}

// TestOwnersMatchXfsDB compares the owner of every block of the v5 and v4
// images with xfs_db blockget/blockuse.
func TestOwnersMatchXfsDB(t *testing.T) {
	s := fixture(t)
	for _, img := range []string{s.V5, s.V4, s.V5B, s.V4B, s.V5R, s.V5G} {
		t.Run(img[len(s.Dir)+1:], func(t *testing.T) {
			v := openImg(t, img)
			agree, bad, why := compareOwners(t, img, allBlocks(v))
			total := agree + len(bad) + len(why)
			for _, b := range bad {
				t.Errorf("unexplained disagreement: %s", b)
			}
			for _, w := range why {
				t.Logf("explained disagreement: %s", w)
			}
			if agree*100 < total*95 {
				t.Errorf("%d of %d blocks agree with xfs_db (< 95%%)", agree, total)
			}
			t.Logf("%d of %d blocks agree with xfs_db, %d disagree with a reason", agree, total, len(why))
		})
	}
}

// diffBlocks returns the linear block numbers where two images differ.
func diffBlocks(t *testing.T, a, b string, bs int64) []int64 {
	t.Helper()
	fa, err := os.Open(a)
	if err != nil {
		t.Fatal(err)
	}
	defer fa.Close()
	fb, err := os.Open(b)
	if err != nil {
		t.Fatal(err)
	}
	defer fb.Close()
	ba, bb := make([]byte, bs), make([]byte, bs)
	var out []int64
	for blk := int64(0); ; blk++ {
		na, ea := fa.ReadAt(ba, blk*bs)
		nb, _ := fb.ReadAt(bb, blk*bs)
		if na == 0 && nb == 0 {
			break
		}
		if !bytes.Equal(ba[:na], bb[:nb]) {
			out = append(out, blk)
		}
		if ea == io.EOF {
			break
		}
	}
	return out
}

// TestOwnersOfDifferingBlocks: every block where the diverged members
// differ gets an owner in each member that xfs_db agrees with.
func TestOwnersOfDifferingBlocks(t *testing.T) {
	s := fixture(t)
	pairs := [][2]string{{s.V4, s.V4B}}
	if s.Mounted {
		pairs = append(pairs, [2]string{s.V5, s.V5B})
	} else {
		t.Log("v5 pair not diverged:", s.MountWhy)
	}
	for _, p := range pairs {
		d := diffBlocks(t, p[0], p[1], 4096)
		if len(d) == 0 {
			t.Fatalf("%s and %s do not differ", p[0], p[1])
		}
		for _, img := range p {
			agree, bad, why := compareOwners(t, img, d)
			for _, b := range bad {
				t.Errorf("%s: %s", img, b)
			}
			for _, w := range why {
				t.Logf("%s: explained disagreement: %s", img, w)
			}
			if agree*100 < len(d)*95 {
				t.Errorf("%s: %d of %d differing blocks agree with xfs_db (< 95%%)", img, agree, len(d))
			}
			t.Logf("%s: %d of %d differing blocks agree with xfs_db", img, agree, len(d))
		}
	}
}
