package xfs

import (
	"fmt"
	"sort"

	"github.com/mirrorchk/mirrorchk/fs"
)

// rmapRec is one inode-owned record of the reverse-mapping B+tree.
type rmapRec struct {
	start, n uint32
	ino      uint64
	flags    uint8 // bit 2: attribute fork, bit 1: extent B+tree block, bit 0: unwritten
}

// rmapClaim finds the owner of AG block bno by the AG's rmap B+tree: a
// claim and true, or false when the tree is absent or incomplete (then the
// inode walk decides). With reflink, shared blocks name the first owner.
func (v *Volume) rmapClaim(a uint32, m *agMap, bno uint32) (*claim, uint32, bool) {
	if !m.rmapOK || !m.complete {
		return nil, 0, false
	}
	i := sort.Search(len(m.rmap), func(i int) bool { return m.rmap[i].start > bno })
	// Records are sorted by start; the one holding bno starts at or before
	// it (with reflink several may: take the first that covers it).
	for j := i - 1; j >= 0 && j >= i-64; j-- {
		r := m.rmap[j]
		if r.start <= bno && bno < r.start+r.n {
			c := &claim{fsb: v.fsb(a, r.start), n: r.n, ino: r.ino}
			switch {
			case r.flags&2 != 0 && r.flags&4 != 0:
				c.kind = kAttrBmbt
			case r.flags&2 != 0:
				c.kind = kBmbt
			case r.flags&4 != 0:
				c.kind = kAttr
			default:
				c.kind = v.dataKind(r.ino)
			}
			return c, 0, true
		}
	}
	next := ^uint32(0)
	if i < len(m.rmap) {
		next = m.rmap[i].start
	}
	return nil, next, true
}

// useRmap says whether owners of file blocks come from the rmap B+tree
// and paths from the directory tree alone (v5 with rmapbt and ftype).
func (v *Volume) useRmap() bool {
	return v.v5 && v.sb.RoCompat&roRmapbt != 0 && v.sb.ftype()
}

// dataKind reads one inode's mode to name its data fork blocks.
func (v *Volume) dataKind(ino uint64) uint8 {
	if k, ok := v.kinds[ino]; ok {
		return k
	}
	defer v.notJudging()()
	k := uint8(kData)
	b := make([]byte, v.sb.InodeSize)
	if off, err := v.inoOff(ino); err == nil && v.readAt(b, off) == nil && v.coreOK(b, ino) == "" {
		v.seeTime(b, ino)
		if len(v.touched) < maxDirEntries {
			v.touched[ino] = inodeInfo{mode: be.Uint16(b[2:]), nlink: be.Uint32(b[16:]), stamp: v.stampOf(b)}
		}
		switch be.Uint16(b[2:]) & sIFMT {
		case sIFDIR:
			k = kDir
		case sIFLNK:
			k = kSymlink
		}
	}
	if len(v.kinds) < maxDirEntries {
		v.kinds[ino] = k
	}
	return k
}

// ensureNames walks the directory tree from the root, reading directory
// inodes and blocks only (a directory entry's file type says which
// children are directories): the paths, without reading every inode.
// Used with the rmap B+tree, which names the owner of a block without the
// inode walk.
func (v *Volume) ensureNames() *walkState {
	if v.walk != nil {
		return v.walk
	}
	if v.names != nil {
		return v.names
	}
	w := &walkState{inodes: map[uint64]inodeInfo{}, parent: map[uint64]dent{}, refs: map[uint64]uint32{}, complete: true,
		budget: v.imgSize/v.bs + 1024}
	v.names = w
	defer v.notJudging()()
	ft := 1
	queue := []uint64{v.sb.RootIno}
	seen := map[uint64]bool{v.sb.RootIno: true}
	b := make([]byte, v.sb.InodeSize)
	dbs := v.bs << v.sb.DirBlkLog
	per := uint64(1) << v.sb.DirBlkLog
	buf := make([]byte, dbs)
	for len(queue) > 0 {
		dir := queue[0]
		queue = queue[1:]
		off, err := v.inoOff(dir)
		if err != nil || !v.spend(w) || v.readAt(b, off) != nil {
			w.complete = false
			continue
		}
		if why := v.coreOK(b, dir); why != "" {
			v.problem("xfs-inode-bad", fs.Error, off, "inode %d: %s", dir, why)
			w.complete = false
			continue
		}
		v.seeTime(b, dir)
		w.inodes[dir] = inodeInfo{mode: be.Uint16(b[2:]), nlink: be.Uint32(b[16:])}
		if be.Uint16(b[2:])&sIFMT != sIFDIR {
			v.problem("xfs-dir-entry-bad", fs.Error, off, "inode %d is named as a directory but is not one", dir)
			continue
		}
		add := func(child uint64, name []byte, ftype byte) {
			if string(name) == "." || string(name) == ".." {
				return
			}
			if w.entries >= maxDirEntries {
				w.complete = false
				return
			}
			w.entries++
			w.refs[child]++
			if ftype == 2 {
				w.refs[dir]++ // the child's ".."
			}
			if _, ok := w.parent[child]; !ok {
				w.parent[child] = dent{dir, string(name)}
			}
			if ftype == 2 && !seen[child] {
				seen[child] = true
				queue = append(queue, child)
			}
		}
		data, _ := v.forks(b)
		dn, _ := v.nextents(b)
		switch b[5] {
		case fmtLocal:
			size := be.Uint64(b[56:])
			if size > uint64(len(data)) {
				v.problem("xfs-dir-bad", fs.Error, off, "inode %d: short-form directory of %d bytes in a %d-byte fork", dir, size, len(data))
				continue
			}
			if why := parseShortDir(data[:size], ft, add); why != "" {
				v.problem("xfs-dir-bad", fs.Error, off, "directory inode %d (short form): %s", dir, why)
			}
		case fmtExtents, fmtBtree:
			exts, why := v.forkExtents(dir, data, b[5], dn, fmt.Sprintf("inode %d data fork", dir), func(uint64) {})
			if why != "" {
				v.problem("xfs-bmap-bad", fs.Error, off, "%s", why)
			}
			leaf := uint64(32<<30) >> v.sb.BlockLog
			for _, e := range exts {
				if e.off >= leaf {
					continue
				}
				for k := (per - e.off%per) % per; k+per <= uint64(e.n); k += per {
					boff, err := v.fsbOff(e.fsb + k)
					if err != nil || !v.spend(w) || v.readAt(buf, boff) != nil {
						break
					}
					if why := v.parseDataBlock(buf, dir, boff, ft, add); why != "" {
						v.problem("xfs-dir-bad", fs.Error, boff, "directory inode %d block %d: %s", dir, e.off+k, why)
					}
				}
			}
		}
	}
	return w
}

// checkTouched compares the link counts of the inodes read in rmap mode
// (the owners of the ranges asked about, and the directories) with the
// entries the directory tree holds for them.
func (v *Volume) checkTouched() {
	w := v.names
	if w == nil || v.walk != nil || v.checkedTouched {
		return
	}
	v.checkedTouched = true
	if !w.complete {
		v.notes = append(v.notes, "link counts not checked: the directory tree walk was incomplete")
		return
	}
	all := map[uint64]inodeInfo{}
	for ino, i := range v.touched {
		all[ino] = i
	}
	for ino, i := range w.inodes {
		all[ino] = i
	}
	inos := make([]uint64, 0, len(all))
	for ino := range all {
		inos = append(inos, ino)
	}
	sort.Slice(inos, func(i, j int) bool { return inos[i] < inos[j] })
	for _, ino := range inos {
		info := all[ino]
		if v.metaInode(ino) {
			continue
		}
		want := w.refs[ino]
		if info.mode&sIFMT == sIFDIR {
			want++
			if ino == v.sb.RootIno {
				want++
			}
		}
		if info.nlink == 0 && want == 0 {
			continue
		}
		if info.nlink != want {
			off, _ := v.inoOff(ino)
			v.problem("xfs-nlink", fs.Error, off, "inode %d: link count %d, %d directory entries name it", ino, info.nlink, want)
		}
	}
}

// notJudging lets a walk started from inside Judge count for Evidence
// (every member runs it); it returns the function that restores the flag.
func (v *Volume) notJudging() func() {
	saved := v.judging
	v.judging = false
	return func() { v.judging = saved }
}
