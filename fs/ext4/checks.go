package ext4

import (
	"math/bits"
	"slices"
	"sort"

	"github.com/mirrorchk/mirrorchk/fs"
)

// checkSuper runs the checks of Open: state, backup superblock, orphan
// list, free counts of the superblock against the descriptors.
func (v *Volume) checkSuper() {
	sb := v.sb
	if sb.State&1 == 0 {
		v.problem("ext4-not-clean", fs.Warning, 1024+0x3A, "s_state %#x: not cleanly unmounted", sb.State)
	}
	if sb.State&2 != 0 {
		v.problem("ext4-fs-errors", fs.Warning, 1024+0x3A, "s_state %#x: the kernel recorded errors on this filesystem", sb.State)
	}
	// The first backup superblock.
	for g := int64(1); g < v.groups; g++ {
		if !sb.hasSuper(g) {
			if sb.Compat&compatSparseSuper2 != 0 && g > int64(max(sb.BackupBGs[0], sb.BackupBGs[1])) {
				break
			}
			continue
		}
		at := int64(v.groupStart(g)) * v.bs
		b := make([]byte, 1024)
		if err := v.readAt(b, at); err != nil {
			v.problem("ext4-backup-superblock", fs.Warning, at, "backup superblock of group %d: %v", g, err)
			break
		}
		s, err := ParseSuperblock(b, at)
		switch {
		case err != nil:
			v.problem("ext4-backup-superblock", fs.Warning, at, "backup superblock of group %d: %v", g, err)
		case s.UUID != sb.UUID || s.LogBlockSize != sb.LogBlockSize || s.BlocksPerGroup != sb.BlocksPerGroup || s.InodesPerGroup != sb.InodesPerGroup || s.InodesCount != sb.InodesCount:
			v.problem("ext4-backup-superblock", fs.Warning, at, "backup superblock of group %d describes another geometry or filesystem", g)
		}
		break
	}
	// Orphan list, chained through i_dtime.
	seen := map[uint32]bool{}
	n := 0
	for ino := sb.LastOrphan; ino != 0; {
		if seen[ino] || len(seen) > int(sb.InodesCount) || len(seen) > 1<<20 {
			v.problem("ext4-orphan-bad", fs.Error, 1024+0xE8, "the orphan list loops at inode %d", ino)
			break
		}
		seen[ino] = true
		in, err := v.readInode(ino)
		if err != nil {
			v.problem("ext4-orphan-bad", fs.Error, 1024+0xE8, "orphan list: inode %d: %v", ino, err)
			break
		}
		n++
		ino = in.Dtime
	}
	if n > 0 {
		v.problem("ext4-orphans", fs.Warning, 1024+0xE8, "%d inodes on the orphan list (deleted or truncated while open; the next mount or e2fsck finishes them)", n)
	}
	// Free counts.
	var fb, fi uint64
	for g := range v.groups {
		fb += uint64(v.gds[g].FreeBlocks)
		fi += uint64(v.gds[g].FreeInodes)
	}
	if fb != sb.FreeBlocks || fi != uint64(sb.FreeInodes) {
		v.problem("ext4-free-count-super", fs.Info, 1024+0xC, "superblock counts %d free blocks and %d free inodes, the group descriptors %d and %d (the kernel updates the superblock's counts lazily)", sb.FreeBlocks, sb.FreeInodes, fb, fi)
	}
}

// lateChecks check what Owners has read: the groups whose bitmaps were
// read (every group when their bitmaps total at most maxBitmapCheck
// bytes), the inodes that own differing ranges, the directories read.
func (v *Volume) lateChecks() {
	all := v.groups*2*v.bs <= maxBitmapCheck
	for g := range v.groups {
		if all || v.blockBM[g] != nil || v.scanned[g] {
			v.checkGroup(g)
		}
	}
	v.sortRev()
	for _, d := range v.dups {
		v.late("ext4-dup-block", fs.Error, int64(d[0])*v.bs, "block %d is claimed by inode %d and inode %d", d[0], d[1], d[2])
	}
	for _, b := range v.lost {
		v.late("ext4-lost-block", fs.Error, int64(b)*v.bs, "block %d is marked in use but no inode claims it (every inode table read)", b)
	}
	for i, ino := range v.cleared {
		if i >= maxProblemsPerCode {
			break
		}
		off, _ := v.inodeOff(ino)
		v.late("ext4-inode-cleared", fs.Error, off, "inode %d is marked in use in the inode bitmap but is empty (cleared)", ino)
	}
	// A block bitmap that owns a differing range: its group's blocks
	// against the inodes of its flex group (read now), and against all
	// inodes when every inode table has been read.
	extra := map[uint32]bool{}
	var bmGroups []int64
	for g := range v.bmTouched {
		bmGroups = append(bmGroups, g)
	}
	slices.Sort(bmGroups)
	for _, g := range bmGroups {
		flex := int64(1)
		if v.sb.Incompat&incompatFlexBG != 0 {
			flex = int64(1) << v.sb.LogGroupsPerFlx
		}
		for x := g / flex * flex; x < min(g/flex*flex+flex, v.groups); x++ {
			v.scanGroup(x)
		}
		v.sortRev()
		gs, ge := v.groupStart(g), min(v.groupStart(g+1), v.sb.BlocksCount)
		i := sort.Search(len(v.rev), func(i int) bool { return v.rev[i].start+v.rev[i].n > gs })
		for ; i < len(v.rev) && v.rev[i].start < ge; i++ {
			extra[v.rev[i].ino] = true
		}
	}
	if v.ncomplete == v.groups && !v.revFull {
		for _, g := range bmGroups {
			v.checkUnclaimed(g)
		}
	}
	// Files whose links differ from the names found so far: read every
	// directory (at most maxFullDirs inodes in the filesystem) to count.
	if v.dirsAll < v.groups && int64(v.sb.InodesCount)-int64(v.sb.FreeInodes) <= maxFullDirs {
		for ino := range v.touched {
			if i := v.tracked[ino]; i != nil && !i.isDir() && ino >= v.sb.FirstIno && int(i.links) != v.nameCount[ino] {
				v.scanAllDirs()
				break
			}
		}
	}
	touched := make([]uint32, 0, len(v.touched))
	for ino := range v.touched {
		touched = append(touched, ino)
	}
	slices.Sort(touched)
	csum := v.sb.RoCompat&roMetaCsum != 0
	for _, ino := range touched {
		info := v.tracked[ino]
		if info == nil {
			continue
		}
		if csum {
			if off, ok := v.inodeOff(ino); ok {
				b := make([]byte, v.sb.InodeSize)
				if v.readAt(b, off) == nil {
					if good, got, want := v.inodeCsumOK(ino, b); !good {
						v.late("ext4-inode-csum", fs.Error, off, "inode %d (%s): checksum %#08x, computed %#08x", ino, v.paths[ino], got, want)
					}
				}
			}
		}
		if info.isDir() && ino >= v.sb.FirstIno || ino == 2 {
			v.scanDir(ino)
			want := 2 + info.subdirs
			if info.scannedDir && int(info.links) != want && !(v.sb.RoCompat&roDirNlink != 0 && info.links == 1 && want >= 65000) {
				v.late("ext4-dir-links", fs.Error, -1, "directory inode %d (%s) has %d links, its entries need %d", ino, v.paths[ino], info.links, want)
			}
		} else if v.dirsAll == v.groups && v.ncomplete == v.groups && !v.dirsPartial && ino >= v.sb.FirstIno && int(info.links) != v.nameCount[ino] && !(v.sb.LastOrphan != 0 && info.links == 0) {
			v.late("ext4-links", fs.Error, -1, "inode %d (%s) has %d links, %d directory entries name it", ino, v.paths[ino], info.links, v.nameCount[ino])
		}
	}
	// Blocks of the touched inodes marked free in the block bitmap.
	checked := 0
	v.sortRev()
	for _, r := range v.rev {
		if !v.touched[r.ino] && !extra[r.ino] {
			continue
		}
		for k := uint64(0); k < r.n && checked < 1<<20; k++ {
			checked++
			if used, known := v.blockInUse(r.start + k); known && !used {
				v.late("ext4-block-bitmap", fs.Error, int64(r.start+k)*v.bs, "block %d of inode %d (%s) is marked free in the block bitmap", r.start+k, r.ino, v.paths[r.ino])
			}
		}
	}
}

// checkGroup checks a group's bitmaps against its descriptor: checksums
// (metadata_csum) and free counts.
func (v *Volume) checkGroup(g int64) {
	if !v.gdOK[g] {
		return
	}
	gd := v.gds[g]
	uninit := v.sb.has(0, 0, roGdtCsum|roMetaCsum)
	if !(uninit && gd.Flags&bgBlockUninit != 0) {
		if bm := v.bitmap(g, false); bm != nil {
			nb := min(uint64(v.sb.BlocksPerGroup), v.sb.BlocksCount-v.groupStart(g))
			free := uint32(nb) - popcount(bm, nb)
			if free != gd.FreeBlocks {
				v.late("ext4-free-count", fs.Error, int64(gd.BlockBitmap)*v.bs, "group %d: descriptor counts %d free blocks, the block bitmap %d", g, gd.FreeBlocks, free)
			}
			v.bitmapCsum(g, bm, int64(v.sb.BlocksPerGroup)/8, gd.BlockBitmapCsum, "block", gd.BlockBitmap)
		}
	}
	if !(uninit && gd.Flags&bgInodeUninit != 0) {
		if bm := v.bitmap(g, true); bm != nil {
			free := v.sb.InodesPerGroup - popcount(bm, uint64(v.sb.InodesPerGroup))
			if free != gd.FreeInodes {
				v.late("ext4-free-count", fs.Error, int64(gd.InodeBitmap)*v.bs, "group %d: descriptor counts %d free inodes, the inode bitmap %d", g, gd.FreeInodes, free)
			}
			v.bitmapCsum(g, bm, int64(v.sb.InodesPerGroup)/8, gd.InodeBitmapCsum, "inode", gd.InodeBitmap)
		}
	}
}

func (v *Volume) bitmapCsum(g int64, bm []byte, n int64, want uint32, what string, at uint64) {
	if v.sb.RoCompat&roMetaCsum == 0 {
		return
	}
	got := crc32c(v.seed, bm[:n])
	if v.sb.DescriptorSize() < 64 {
		got &= 0xFFFF
	}
	if got != want {
		v.late("ext4-bitmap-csum", fs.Error, int64(at)*v.bs, "group %d: %s bitmap checksum %#08x, descriptor says %#08x", g, what, got, want)
	}
}

// checkUnclaimed reports blocks of group g marked in use that no inode
// and no metadata claims (all inode tables read).
func (v *Volume) checkUnclaimed(g int64) {
	bm := v.bitmap(g, false)
	if bm == nil {
		return
	}
	gs, ge := v.groupStart(g), min(v.groupStart(g+1), v.sb.BlocksCount)
	for b := gs; b < ge; b++ {
		i := b - gs
		if bm[i/8]&(1<<(i%8)) == 0 {
			continue
		}
		if m, _ := v.findMeta(b); m != nil {
			continue
		}
		if r, _ := v.findRev(b); r != nil {
			continue
		}
		v.late("ext4-lost-block", fs.Error, int64(b)*v.bs, "block %d is marked in use but no inode claims it (every inode table read)", b)
	}
}

func popcount(bm []byte, n uint64) uint32 {
	var c int
	for i := uint64(0); i < n/8; i++ {
		c += bits.OnesCount8(bm[i])
	}
	if r := n % 8; r != 0 {
		c += bits.OnesCount8(bm[n/8] & (1<<r - 1))
	}
	return uint32(c)
}
