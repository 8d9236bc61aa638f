package ext4

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/mirrorchk/mirrorchk/fs"
)

// metaClasses parses dumpe2fs's group layout into block → class:
// "sb", "gdt", "inode:7" (reserved GDT blocks, which icheck gives to the
// resize inode), "bbitmap:G", "ibitmap:G", "itable:G".
func metaClasses(tb testing.TB, img string) map[uint64]string {
	tb.Helper()
	out, code := run(tb, "dumpe2fs", "e2fsprogs", img)
	if code != 0 {
		tb.Fatalf("dumpe2fs: %d %s", code, out)
	}
	m := map[uint64]string{}
	span := func(a, b string, class string) {
		x, _ := strconv.ParseUint(a, 10, 64)
		y := x
		if b != "" {
			y, _ = strconv.ParseUint(b, 10, 64)
		}
		for i := x; i <= y; i++ {
			m[i] = class
		}
	}
	group := -1
	reGroup := regexp.MustCompile(`^Group (\d+):`)
	reSB := regexp.MustCompile(`superblock at (\d+)`)
	reGDT := regexp.MustCompile(`Group descriptors? at (\d+)(?:-(\d+))?`)
	reRes := regexp.MustCompile(`Reserved GDT blocks at (\d+)-(\d+)`)
	reBB := regexp.MustCompile(`Block bitmap at (\d+)`)
	reIB := regexp.MustCompile(`Inode bitmap at (\d+)`)
	reIT := regexp.MustCompile(`Inode table at (\d+)-(\d+)`)
	for _, l := range strings.Split(out, "\n") {
		if g := reGroup.FindStringSubmatch(l); g != nil {
			group, _ = strconv.Atoi(g[1])
			continue
		}
		if group < 0 {
			continue
		}
		if x := reSB.FindStringSubmatch(l); x != nil {
			span(x[1], "", "sb")
		}
		if x := reGDT.FindStringSubmatch(l); x != nil {
			span(x[1], x[2], "gdt")
		}
		if x := reRes.FindStringSubmatch(l); x != nil {
			span(x[1], x[2], "inode:7")
		}
		if x := reBB.FindStringSubmatch(l); x != nil {
			span(x[1], "", fmt.Sprintf("bbitmap:%d", group))
		}
		if x := reIB.FindStringSubmatch(l); x != nil {
			span(x[1], "", fmt.Sprintf("ibitmap:%d", group))
		}
		if x := reIT.FindStringSubmatch(l); x != nil {
			span(x[1], x[2], fmt.Sprintf("itable:%d", group))
		}
	}
	if len(m) == 0 {
		tb.Fatalf("dumpe2fs gave no group layout:\n%s", out)
	}
	return m
}

// debugfsOwners asks debugfs icheck, ncheck and testb about blocks:
// class per block ("inode:N", "free", "used") and the names of each inode.
func debugfsOwners(tb testing.TB, img string, blocks []uint64) (map[uint64]string, map[int64][]string) {
	tb.Helper()
	var bs []string
	for _, b := range blocks {
		bs = append(bs, strconv.FormatUint(b, 10))
	}
	cls := map[uint64]string{}
	names := map[int64][]string{}
	var inos []string
	var testb []string
	out := debugfsR(tb, img, "icheck "+strings.Join(bs, " "))
	re := regexp.MustCompile(`(?m)^(\d+)\t(\d+|<block not found>)$`)
	for _, x := range re.FindAllStringSubmatch(out, -1) {
		b, _ := strconv.ParseUint(x[1], 10, 64)
		if x[2] == "<block not found>" {
			testb = append(testb, "testb "+x[1])
			continue
		}
		cls[b] = "inode:" + x[2]
		inos = append(inos, x[2])
	}
	if len(inos) > 0 {
		names = ncheck(tb, img, inos)
	}
	if len(testb) > 0 {
		out = debugfsR(tb, img, testb...)
		for _, x := range regexp.MustCompile(`(?m)^Block (\d+) (marked in use|not in use)$`).FindAllStringSubmatch(out, -1) {
			b, _ := strconv.ParseUint(x[1], 10, 64)
			cls[b] = map[string]string{"marked in use": "used", "not in use": "free"}[x[2]]
		}
	}
	return cls, names
}

// ncheck returns the names debugfs ncheck gives the inodes, asked 400 at
// a time (debugfs reads lines of at most about 4 KiB).
func ncheck(tb testing.TB, img string, inos []string) map[int64][]string {
	tb.Helper()
	names := map[int64][]string{}
	var cmds []string
	for i := 0; i < len(inos); i += 400 {
		cmds = append(cmds, "ncheck "+strings.Join(inos[i:min(i+400, len(inos))], " "))
	}
	out := debugfsR(tb, img, cmds...)
	for _, x := range regexp.MustCompile(`(?m)^(\d+)\t(.*)$`).FindAllStringSubmatch(out, -1) {
		i, _ := strconv.ParseInt(x[1], 10, 64)
		names[i] = append(names[i], regexp.MustCompile(`/+`).ReplaceAllString(x[2], "/"))
	}
	return names
}

// ourClass turns an owner into the peers' classes.
func ourClass(o fs.Owner, ipg uint32) string {
	s := o.Structure
	switch {
	case strings.Contains(s, "superblock") && !strings.HasPrefix(s, "journal"):
		return "sb"
	case strings.Contains(s, "group descriptors"):
		return "gdt"
	case strings.HasPrefix(s, "block bitmap of group "):
		return "bbitmap:" + strings.TrimPrefix(s, "block bitmap of group ")
	case strings.HasPrefix(s, "inode bitmap of group "):
		return "ibitmap:" + strings.TrimPrefix(s, "inode bitmap of group ")
	case strings.HasPrefix(s, "inode table of group "):
		return "itable:" + strings.Fields(strings.TrimPrefix(s, "inode table of group "))[0]
	case s == fs.FreeSpace:
		return "free"
	case o.Record > 0:
		return fmt.Sprintf("inode:%d", o.Record)
	}
	return s
}

// ownerOfBlock returns the owner of a block as the peers see it: the
// first extent, or the superblock's for block 0.
func ownerOfBlock(v *Volume, b uint64) fs.Owner {
	ext := v.Owners(int64(b)*v.bs, v.bs)
	if b == 0 && v.sb.FirstDataBlock == 0 && len(ext) > 1 {
		return ext[1].Owner
	}
	return ext[0].Owner
}

type tally struct {
	agree, explained int
	unexplained      []string
	why              map[string]int
}

func (t *tally) explain(why string) {
	if t.why == nil {
		t.why = map[string]int{}
	}
	t.explained++
	t.why[why]++
}

// TestOwnersPeers diverges each fixture with debugfs (writes, removals,
// mkdir, inode fields, data blocks overwritten in place) and compares the
// owner of every differing block, in both copies, with debugfs
// icheck/ncheck/testb plus dumpe2fs's layout, and with Sleuth Kit ifind -d
// and ffind on up to 15 blocks of each copy.
func TestOwnersPeers(t *testing.T) {
	var dbg, tsk tally
	for _, name := range fxNames {
		base := fixturePath(t, name)
		v0 := openFile(t, base)
		m0 := copyImage(t, base, "m0.img")
		m1 := diverge(t, m0, v0.bs)
		blocks := diffBlocks(t, m0, m1, v0.bs)
		if len(blocks) < 15 {
			t.Fatalf("%s: only %d differing blocks", name, len(blocks))
		}
		for _, img := range []string{m0, m1} {
			v := openFile(t, img)
			meta := metaClasses(t, img)
			cls, names := debugfsOwners(t, img, blocks)
			for i, b := range blocks {
				o := ownerOfBlock(v, b)
				ours := ourClass(o, v.sb.InodesPerGroup)
				peer, ok := meta[b]
				if !ok {
					peer = cls[b]
				}
				where := fmt.Sprintf("%s %s block %d", name, img[len(img)-6:], b)
				switch {
				case peer == ours:
					if strings.HasPrefix(peer, "inode:") && o.Record >= int64(v.sb.FirstIno) {
						if !contains(names[o.Record], o.Path) {
							dbg.unexplained = append(dbg.unexplained, fmt.Sprintf("%s: path %q, ncheck %q", where, o.Path, names[o.Record]))
							break
						}
					}
					dbg.agree++
				case b == 0 && ours == BootBlock:
					dbg.explain("block 0 of a 1 KiB-block filesystem: the boot block, which dumpe2fs does not list and testb calls illegal")
				default:
					dbg.unexplained = append(dbg.unexplained, fmt.Sprintf("%s: ours %q (%+v), debugfs/dumpe2fs %q", where, ours, o, peer))
				}
				if i < 15 {
					tskCompare(t, &tsk, img, where, b, o, ours)
				}
			}
		}
	}
	for _, x := range []struct {
		name string
		t    tally
	}{{"debugfs+dumpe2fs", dbg}, {"Sleuth Kit", tsk}} {
		total := x.t.agree + x.t.explained + len(x.t.unexplained)
		t.Logf("%s: %d blocks, %d agree, %d explained %v", x.name, total, x.t.agree, x.t.explained, x.t.why)
		for _, u := range x.t.unexplained {
			t.Errorf("%s: unexplained disagreement: %s", x.name, u)
		}
		if total == 0 || float64(x.t.agree) < 0.95*float64(total) {
			t.Errorf("%s: %d of %d blocks agree, want 95%%", x.name, x.t.agree, total)
		}
	}
}

func contains(s []string, x string) bool {
	for _, y := range s {
		if y == x {
			return true
		}
	}
	return false
}

var tskInode = regexp.MustCompile(`^(\d+)`)

func tskCompare(t *testing.T, tl *tally, img, where string, b uint64, o fs.Owner, ours string) {
	out, _ := run(t, "ifind", "sleuthkit", "-d", strconv.FormatUint(b, 10), img)
	out = strings.TrimSpace(out)
	switch {
	case out == "Meta Data":
		if strings.HasPrefix(ours, "sb") || strings.HasPrefix(ours, "gdt") || strings.Contains(ours, "bitmap:") || strings.HasPrefix(ours, "itable:") || ours == BootBlock {
			tl.agree++
		} else if ours == "inode:7" {
			tl.explain("reserved GDT blocks: Sleuth Kit says Meta Data, debugfs icheck and mirrorchk name the resize inode 7 that holds them")
		} else {
			tl.unexplained = append(tl.unexplained, fmt.Sprintf("%s: ours %q, ifind Meta Data", where, ours))
		}
	case out == "Inode not found":
		switch {
		case ours == "free":
			tl.agree++
		case b == 0 && ours == "sb":
			tl.explain("block 0 with 4 KiB blocks holds the primary superblock (dumpe2fs: Primary superblock at 0); Sleuth Kit ifind -d 0 reports no owner")
		case o.Record == 7:
			tl.explain("the resize inode's double indirect block: Sleuth Kit does not walk inode 7, debugfs icheck names it as mirrorchk does")
		default:
			tl.unexplained = append(tl.unexplained, fmt.Sprintf("%s: ours %q, ifind: not found", where, ours))
		}
	case tskInode.MatchString(out):
		n, _ := strconv.ParseInt(tskInode.FindString(out), 10, 64)
		if fmt.Sprintf("inode:%d", n) != ours {
			if ours == "free" {
				tl.explain("a block freed by debugfs rm: Sleuth Kit ifind still finds the deleted inode's old extent")
				return
			}
			tl.unexplained = append(tl.unexplained, fmt.Sprintf("%s: ours %q, ifind %s", where, ours, out))
			return
		}
		if n < 11 {
			tl.agree++
			return
		}
		p, _ := run(t, "ffind", "sleuthkit", "-a", img, strconv.FormatInt(n, 10))
		var paths []string
		for _, l := range strings.Split(strings.TrimSpace(p), "\n") {
			if !strings.HasPrefix(l, "* ") {
				paths = append(paths, strings.TrimSpace(l))
			}
		}
		if contains(paths, o.Path) {
			tl.agree++
		} else {
			tl.unexplained = append(tl.unexplained, fmt.Sprintf("%s: ours %q, ffind %q", where, o.Path, paths))
		}
	default:
		tl.unexplained = append(tl.unexplained, fmt.Sprintf("%s: ifind said %q", where, out))
	}
}

// freeBlocks parses dumpe2fs's "Free blocks:" lists.
func freeBlocks(tb testing.TB, img string) map[uint64]bool {
	tb.Helper()
	out, code := run(tb, "dumpe2fs", "e2fsprogs", img)
	if code != 0 {
		tb.Fatalf("dumpe2fs: %d", code)
	}
	free := map[uint64]bool{}
	re := regexp.MustCompile(`(\d+)(?:-(\d+))?`)
	for _, l := range strings.Split(out, "\n") {
		l = strings.TrimSpace(l)
		if !strings.HasPrefix(l, "Free blocks: ") {
			continue
		}
		for _, x := range re.FindAllStringSubmatch(strings.TrimPrefix(l, "Free blocks: "), -1) {
			a, _ := strconv.ParseUint(x[1], 10, 64)
			b := a
			if x[2] != "" {
				b, _ = strconv.ParseUint(x[2], 10, 64)
			}
			for i := a; i <= b; i++ {
				free[i] = true
			}
		}
	}
	return free
}

// TestOwnersWholePeers names the owner of every block of each fixture
// (every in-use block, and free ones up to 1,000 past the last in-use
// block) and compares with debugfs icheck/ncheck, dumpe2fs's layout and
// its free block lists: data, directories (htree), extent tree and
// indirect blocks (single, double), long symlinks, the journal, the
// resize inode and every metadata structure.
func TestOwnersWholePeers(t *testing.T) {
	for _, name := range fxNames {
		wholePeers(t, name, fixturePath(t, name))
	}
}

// TestOwnersKernelWritten is TestOwnersWholePeers on a filesystem the
// kernel wrote through a loop mount (its htree, unwritten and fragmented
// extents), which e2fsck -fn passes and mirrorchk finds no error in.
func TestOwnersKernelWritten(t *testing.T) {
	img := kernelFS(t)
	if out, code := run(t, "e2fsck", "e2fsprogs", "-fn", img); code != 0 {
		t.Fatalf("e2fsck -fn: %d %s", code, out)
	}
	wholePeers(t, "kernel", img)
	v := openFile(t, img)
	v.Owners(0, v.Size())
	if e := errorsOf(v.Problems()); len(e) > 0 {
		t.Errorf("e2fsck is clean, mirrorchk says %+v", e)
	}
	if j := v.Judge(0, v.Size()); j.Intact != 1 {
		t.Errorf("judged %+v", j)
	}
	found := false
	for _, r := range v.rev {
		found = found || r.kind == rExtent
	}
	info := v.tracked[uint32(ownerOfPath(t, v, "/k"))]
	if !found || info == nil || info.flags&flIndex == 0 {
		t.Errorf("no extent tree block (%v) or /k not an htree (%+v)", found, info)
	}
}

func ownerOfPath(t *testing.T, v *Volume, path string) int64 {
	for _, e := range v.Owners(0, v.Size()) {
		if e.Owner.Path == path {
			return e.Owner.Record
		}
	}
	t.Fatalf("no range owned by %s", path)
	return 0
}

func wholePeers(t *testing.T, name, img string) {
	t.Helper()
	{
		v := openFile(t, img)
		meta := metaClasses(t, img)
		free := freeBlocks(t, img)
		var last uint64
		for b := uint64(0); b < v.sb.BlocksCount; b++ {
			if !free[b] {
				last = b
			}
		}
		var blocks []uint64
		for b := uint64(0); b <= min(last+1000, v.sb.BlocksCount-1); b++ {
			blocks = append(blocks, b)
		}
		// icheck in commands of 400 blocks (debugfs reads lines of at most
		// about 4 KiB).
		var cmds []string
		for i := 0; i < len(blocks); i += 400 {
			var s []string
			for _, b := range blocks[i:min(i+400, len(blocks))] {
				if !free[b] && meta[b] == "" {
					s = append(s, strconv.FormatUint(b, 10))
				}
			}
			if len(s) > 0 {
				cmds = append(cmds, "icheck "+strings.Join(s, " "))
			}
		}
		out := debugfsR(t, img, cmds...)
		owner := map[uint64]string{}
		inos := map[string]bool{}
		for _, x := range regexp.MustCompile(`(?m)^(\d+)\t(\d+)$`).FindAllStringSubmatch(out, -1) {
			b, _ := strconv.ParseUint(x[1], 10, 64)
			owner[b] = "inode:" + x[2]
			inos[x[2]] = true
		}
		var list []string
		for i := range inos {
			list = append(list, i)
		}
		names := ncheck(t, img, list)
		agree, bad := 0, 0
		kinds := map[string]int{}
		for _, b := range blocks {
			o := ownerOfBlock(v, b)
			ours := ourClass(o, v.sb.InodesPerGroup)
			peer := meta[b]
			switch {
			case peer != "":
			case free[b]:
				peer = "free"
			default:
				peer = owner[b]
			}
			if peer == ours && (!strings.HasPrefix(peer, "inode:") || o.Record < int64(v.sb.FirstIno) || contains(names[o.Record], o.Path)) {
				agree++
				kinds[o.Structure]++
				continue
			}
			if b == 0 && ours == BootBlock && peer == "" {
				continue // 1 KiB blocks: the boot block, named by no peer
			}
			bad++
			if bad <= 10 {
				t.Errorf("%s block %d: ours %q %q, peers %q %q", name, b, ours, o.Path, peer, names[o.Record])
			}
		}
		for _, k := range []string{fs.FileData, fs.Directory, fs.FreeSpace} {
			if kinds[k] == 0 {
				t.Errorf("%s: no %s block compared", name, k)
			}
		}
		t.Logf("%s: %d blocks, %d agree, %d disagree; structures %v", name, len(blocks), agree, bad, kinds)
	}
}
