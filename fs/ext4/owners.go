package ext4

import (
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/mirrorchk/mirrorchk/fs"
)

// scanGroup reads the in-use inodes of group g once: their block maps go
// into the reverse map, directories are remembered with their blocks.
// scanGroup reads the in-use inodes of group g once: their block maps go
// into the reverse map, directories are remembered with their blocks.
func (v *Volume) scanGroup(g int64) {
	if g < 0 || g >= v.groups || v.scanned[g] {
		return
	}
	v.scanned[g] = true
	v.nscanned++
	if v.scanGroupInodes(g) {
		v.complete[g] = true
		v.ncomplete++
	}
}

func (v *Volume) scanGroupInodes(g int64) bool {
	if !v.gdOK[g] || v.revFull {
		return false
	}
	gd := v.gds[g]
	bm := v.bitmap(g, true)
	if bm == nil {
		// No inode in use when the table is uninitialised.
		return gd.Flags&bgInodeUninit != 0 && v.sb.has(0, 0, roGdtCsum|roMetaCsum)
	}
	ipg := int64(v.sb.InodesPerGroup)
	n := ipg
	if v.sb.has(0, 0, roGdtCsum|roMetaCsum) && int64(gd.ItableUnused) <= ipg {
		n = ipg - int64(gd.ItableUnused)
	}
	isz := int64(v.sb.InodeSize)
	chunk := max(maxTableRead/isz, 1)
	if need := min(n, chunk) * isz; int64(len(v.tbuf)) < need {
		v.tbuf = make([]byte, need)
	}
	buf := v.tbuf
	for base := int64(0); base < n; base += chunk {
		k := min(chunk, n-base)
		b := buf[:k*isz]
		if err := v.readAt(b, int64(gd.InodeTable)*v.bs+base*isz); err != nil {
			v.problem("ext4-itable-unreadable", fs.Error, int64(gd.InodeTable)*v.bs+base*isz, "inode table of group %d: %v", g, err)
			return false
		}
		for i := range k {
			idx := base + i
			if bm[idx/8]&(1<<(idx%8)) == 0 {
				continue
			}
			ino := uint32(g*ipg + idx + 1)
			if ino == v.sb.JournalInum && v.sb.Compat&compatHasJournal != 0 {
				continue
			}
			in := parseInode(ino, b[i*isz:(i+1)*isz])
			if in.Mode == 0 && in.Links == 0 {
				if ino >= v.sb.FirstIno {
					v.cleared = append(v.cleared, ino)
				}
				continue
			}
			if len(v.tracked) >= maxTracked {
				v.revFull = true
				return false
			}
			info := &inodeInfo{mode: in.Mode, links: in.Links, flags: in.Flags, gen: in.Generation, group: g, dtime: in.Dtime, size: in.Size,
				latest: int64(in.Ctime), crtime: in.Crtime, crtimeNsec: in.CrtimeNsec, ctimeNsec: in.CtimeNsec}
			v.tracked[ino] = info
			if info.isDir() {
				v.dirsOf[g] = append(v.dirsOf[g], ino)
			}
			if ino == 7 && ino < v.sb.FirstIno {
				// The resize inode's blocks are the reserved GDT blocks
				// (in the layout) and its double indirect block.
				if c := uint64(le.Uint32(in.Block[13*4:])); c != 0 && c < v.sb.BlocksCount {
					v.addRun(revRun{start: c, n: 1, ino: ino, kind: rIndirect})
				}
				continue
			}
			why, off := v.blockMap(in, func(r revRun) {
				v.addRun(r)
				if info.isDir() && r.kind == rDir && len(info.runs) < maxDirBlocks {
					info.runs = append(info.runs, r)
				}
			})
			v.reportMap(ino, why, off)
		}
	}
	return true
}

func (v *Volume) addRun(r revRun) {
	if len(v.rev)+len(v.pending) >= maxRuns {
		v.revFull = true
		return
	}
	v.pending = append(v.pending, r)
}

func (v *Volume) sortRev() {
	if len(v.pending) == 0 {
		return
	}
	less := func(a, b revRun) int {
		switch {
		case a.start < b.start:
			return -1
		case a.start > b.start:
			return 1
		}
		return 0
	}
	slices.SortStableFunc(v.pending, less)
	// Merge the sorted new runs into the sorted map.
	merged := make([]revRun, 0, len(v.rev)+len(v.pending))
	i, j := 0, 0
	for i < len(v.rev) || j < len(v.pending) {
		if j == len(v.pending) || i < len(v.rev) && v.rev[i].start <= v.pending[j].start {
			merged = append(merged, v.rev[i])
			i++
		} else {
			merged = append(merged, v.pending[j])
			j++
		}
	}
	v.pending = v.pending[:0]
	// Two claims on one block: report; a tree, directory or attribute
	// block wins over file data (a damaged extent can run over it), else
	// the first claim stays.
	for pass := 0; pass < 4; pass++ {
		out := merged[:0]
		split := false
		var rest []revRun
		for _, r := range merged {
			if l := len(out); l > 0 && r.start < out[l-1].start+out[l-1].n {
				p := out[l-1]
				pend := p.start + p.n
				if pass == 0 && (p.ino != r.ino || p.start != r.start || p.n != r.n) && len(v.dups) < maxProblemsPerCode+1 {
					v.dups = append(v.dups, [3]uint64{r.start, uint64(p.ino), uint64(r.ino)})
				}
				if p.kind == rData && r.kind != rData && p.start < r.start {
					out[l-1].n = r.start - p.start
					out = append(out, r)
					if pend > r.start+r.n {
						x := p
						x.logical += r.start + r.n - p.start
						x.n = pend - (r.start + r.n)
						x.start = r.start + r.n
						rest = append(rest, x)
						split = true
					}
					continue
				}
				if r.start+r.n <= pend {
					continue
				}
				r.logical += pend - r.start
				r.n -= pend - r.start
				r.start = pend
			}
			out = append(out, r)
		}
		merged = append(out, rest...)
		if !split {
			break
		}
		slices.SortStableFunc(merged, less)
	}
	v.rev = merged
}

// findRev returns the reverse-map run holding block b, or nil and the
// start of the next run.
func (v *Volume) findRev(b uint64) (*revRun, uint64) {
	v.sortRev()
	i := sort.Search(len(v.rev), func(i int) bool { return v.rev[i].start+v.rev[i].n > b })
	if i < len(v.rev) && v.rev[i].start <= b {
		return &v.rev[i], 0
	}
	if i < len(v.rev) {
		return nil, v.rev[i].start
	}
	return nil, 1<<64 - 1
}

// proximity returns the groups in the order they are searched for the
// owner of a block of group g: g's flex group first, then outwards.
func (v *Volume) proximity(g int64, f func(int64) bool) {
	flex := int64(1)
	if v.sb.Incompat&incompatFlexBG != 0 && v.sb.LogGroupsPerFlx < 31 {
		flex = int64(1) << v.sb.LogGroupsPerFlx
	}
	nflex := (v.groups + flex - 1) / flex
	home := g / flex
	for d := int64(0); d <= nflex; d++ {
		for _, fg := range []int64{home - d, home + d} {
			if fg < 0 || fg >= nflex || (d == 0 && fg != home) || (d > 0 && fg == home) {
				continue
			}
			if d > 0 && fg == home-d && home-d == home+d {
				continue
			}
			lo, hi := fg*flex, min((fg+1)*flex, v.groups)
			if d == 0 {
				// The home flex group from g outwards.
				for k := int64(0); k < flex; k++ {
					for _, x := range []int64{g + k, g - k - 1} {
						if x >= lo && x < hi && !f(x) {
							return
						}
					}
				}
				break
			}
			for x := lo; x < hi; x++ {
				if !f(x) {
					return
				}
			}
		}
	}
}

// ownerRun finds the reverse-map run of an in-use block, reading inode
// tables group by group until it is found or all are read.
func (v *Volume) ownerRun(b uint64) *revRun {
	if r, _ := v.findRev(b); r != nil {
		return r
	}
	if v.nscanned == v.groups || v.revFull {
		return nil
	}
	hit := false
	v.proximity(v.groupOf(b), func(g int64) bool {
		if v.scanned[g] {
			return true
		}
		from := len(v.pending)
		v.scanGroup(g)
		for _, r := range v.pending[from:] {
			if r.start <= b && b < r.start+r.n {
				hit = true
				return false
			}
		}
		return !v.revFull
	})
	if !hit {
		return nil
	}
	r, _ := v.findRev(b)
	return r
}

// scanDir reads directory ino's entries once into the name map.
func (v *Volume) scanDir(ino uint32) {
	if v.dirDone[ino] {
		return
	}
	v.dirDone[ino] = true
	info := v.tracked[ino]
	if info == nil {
		v.scanGroup(v.inodeGroup(ino))
		if info = v.tracked[ino]; info == nil || !info.isDir() {
			return
		}
	}
	for _, r := range info.runs {
		for k := range r.n {
			b, err := v.block(r.start + k)
			if err != nil {
				v.dirsPartial = true
				return
			}
			if why := v.dirBlockBad(ino, info, r.logical+k, b); why != "" {
				code := "ext4-dir-bad"
				if strings.Contains(why, "checksum") {
					code = "ext4-dir-csum"
				}
				v.problem(code, fs.Error, int64(r.start+k)*v.bs, "directory inode %d, block %d: %s", ino, r.start+k, why)
			}
			v.dirEntries(ino, info, r.start+k, b, func(child uint32, name string, ftype uint8) {
				v.nameCount[child]++
				if _, ok := v.names[child]; !ok && len(v.names) < maxNames {
					v.names[child] = dirent{ino, name}
				}
				if v.sb.Incompat&incompatFiletype != 0 && ftype == 2 {
					info.subdirs++
				} else if ci := v.tracked[child]; v.sb.Incompat&incompatFiletype == 0 && ci != nil && ci.isDir() {
					info.subdirs++
				}
				v.checkEntry(ino, child, name, int64(r.start+k)*v.bs)
			})
		}
	}
	info.scannedDir = true
}

// dirEntries parses one directory block, calling f for each named entry
// other than "." and "..". Damage is reported once per block.
func (v *Volume) dirEntries(dir uint32, info *inodeInfo, blk uint64, b []byte, f func(uint32, string, uint8)) {
	ftype := v.sb.Incompat&incompatFiletype != 0
	for o := 0; o+8 <= len(b); {
		child := le.Uint32(b[o:])
		rl := int(le.Uint16(b[o+4:]))
		if v.bs >= 65536 && rl == 0 || rl == 65535 {
			rl = 65536
		}
		nl := int(b[o+6])
		if !ftype {
			nl |= int(b[o+7]) << 8
		}
		if rl < 8 || rl%4 != 0 || o+rl > len(b) || 8+nl > rl {
			return // reported by dirBlockBad
		}
		if child != 0 && nl > 0 {
			name := string(b[o+8 : o+8+nl])
			if name != "." && name != ".." {
				f(child, name, b[o+7])
			}
		}
		o += rl
	}
}

// checkEntry checks a directory entry against the inodes read.
func (v *Volume) checkEntry(dir, child uint32, name string, off int64) {
	if child > v.sb.InodesCount {
		v.problem("ext4-dirent-bad", fs.Error, off, "directory %d: entry %q names inode %d beyond the %d inodes", dir, name, child, v.sb.InodesCount)
		return
	}
	g := v.inodeGroup(child)
	if !v.complete[g] {
		return
	}
	if v.tracked[child] == nil && child != v.sb.JournalInum {
		v.problem("ext4-dirent-unused", fs.Error, off, "directory %d: entry %q names inode %d, which is unused or deleted", dir, name, child)
	}
}

func (v *Volume) inodeGroup(ino uint32) int64 {
	if ino == 0 {
		return 0
	}
	return int64((ino - 1) / v.sb.InodesPerGroup)
}

// findName looks for a directory entry naming ino: in its parent when it
// is a directory (by ".."), else in the directories of its own group,
// then of the groups around it.
func (v *Volume) findName(ino uint32) (dirent, bool) {
	if d, ok := v.names[ino]; ok {
		return d, true
	}
	g := v.inodeGroup(ino)
	v.scanGroup(g)
	if info := v.tracked[ino]; info != nil && info.isDir() && len(info.runs) > 0 {
		if b, err := v.block(info.runs[0].start); err == nil && info.runs[0].logical == 0 {
			if p, ok := dotdot(b); ok && p != ino {
				v.scanDir(p)
				if d, ok := v.names[ino]; ok {
					return d, true
				}
			}
		}
	}
	var out dirent
	found := false
	v.proximity(g, func(x int64) bool {
		if v.dirScan[x] {
			return true
		}
		v.scanGroup(x)
		for _, d := range v.dirsOf[x] {
			v.scanDir(d)
		}
		v.dirScan[x] = true
		v.dirsAll++
		out, found = v.names[ino]
		return !found
	})
	return out, found
}

// scanAllDirs reads every directory, so that link counts can be checked.
func (v *Volume) scanAllDirs() {
	for g := range v.groups {
		if v.dirScan[g] {
			continue
		}
		v.scanGroup(g)
		for _, d := range v.dirsOf[g] {
			v.scanDir(d)
		}
		v.dirScan[g] = true
		v.dirsAll++
	}
}

// dotdot returns the inode of ".." from a directory's first block.
func dotdot(b []byte) (uint32, bool) {
	rl := int(le.Uint16(b[4:]))
	if rl < 12 || rl+12 > len(b) || b[6] != 1 || b[8] != '.' {
		return 0, false
	}
	e := b[rl:]
	if e[6] != 2 || e[8] != '.' || e[9] != '.' {
		return 0, false
	}
	return le.Uint32(e[0:]), true
}

// pathOf returns the path of ino, "" when no name is found.
func (v *Volume) pathOf(ino uint32) string {
	if ino == 2 {
		return "/"
	}
	if p, ok := v.paths[ino]; ok {
		return p
	}
	var parts []string
	seen := map[uint32]bool{}
	cur := ino
	path := ""
	for range maxPathDepth {
		if cur == 2 {
			path = "/" + strings.Join(reverse(parts), "/")
			break
		}
		if seen[cur] {
			v.problem("ext4-dir-loop", fs.Error, -1, "the directories above inode %d form a loop at inode %d", ino, cur)
			break
		}
		seen[cur] = true
		d, ok := v.findName(cur)
		if !ok {
			break
		}
		parts = append(parts, d.name)
		cur = d.parent
	}
	if len(v.paths) < maxNames {
		v.paths[ino] = path
	}
	return path
}

func reverse(s []string) []string {
	for i, j := 0, len(s)-1; i < j; i, j = i+1, j-1 {
		s[i], s[j] = s[j], s[i]
	}
	return s
}

// Owners covers [off, off+n) with extents in order, split wherever the
// owner changes.
func (v *Volume) Owners(off, n int64) []fs.Extent {
	var out []fs.Extent
	if n <= 0 {
		return nil
	}
	end := off + n
	if end < off {
		end = 1<<63 - 1
	}
	size := v.Size()
	emit := func(a, b int64, o fs.Owner) {
		if l := len(out); l > 0 && out[l-1].Owner == o && out[l-1].Off+out[l-1].Len == a {
			out[l-1].Len += b - a
			return
		}
		out = append(out, fs.Extent{Off: a, Len: b - a, Owner: o})
	}
	for pos := off; pos < end; {
		if pos < 0 || pos >= size {
			stop := end
			if pos < 0 {
				stop = min(end, 0)
			}
			emit(pos, stop, fs.Owner{FS: v.typ, Structure: fs.BeyondVolume, Record: -1, Cluster: -1})
			pos = stop
			continue
		}
		stop, o := v.ownerAt(pos, min(end, size))
		emit(pos, stop, o)
		pos = stop
	}
	return out
}

// ownerAt returns the owner of byte pos and where that owner ends (at most
// limit).
func (v *Volume) ownerAt(pos, limit int64) (int64, fs.Owner) {
	bs := v.bs
	blk := uint64(pos / bs)
	o := fs.Owner{FS: v.typ, Record: -1, Cluster: int64(blk)}
	blockEnd := func(b uint64) int64 { return min(limit, int64(b)*bs) }
	// The superblock inside block 0 of filesystems with blocks over 1 KiB.
	if blk == 0 && v.sb.FirstDataBlock == 0 {
		switch {
		case pos < 1024:
			o.Structure = BootBlock
			return min(limit, 1024), o
		case pos < 2048:
			o.Structure = Superblock0
			return min(limit, 2048), o
		}
		o.Structure = Superblock0 + " (rest of block 0)"
		return blockEnd(1), o
	}
	if m, next := v.findMeta(blk); m != nil {
		mend := blockEnd(m.start + m.n)
		switch m.kind {
		case mBoot:
			o.Structure = BootBlock
		case mSuper:
			o.Structure = Superblock0
			if m.group > 0 {
				o.Structure = fmt.Sprintf("backup superblock (group %d)", m.group)
			}
		case mGDT:
			o.Structure = GroupDescs
			if v.groupOf(m.start) > 0 || m.start != uint64(v.sb.FirstDataBlock)+1 {
				o.Structure = fmt.Sprintf("backup group descriptors (group %d)", v.groupOf(m.start))
				if v.sb.Incompat&incompatMetaBG != 0 && m.group > 0 {
					o.Structure = fmt.Sprintf("group descriptors of groups %d… (copy in group %d)", m.group, v.groupOf(m.start))
				}
			}
		case mResGDT:
			o.Structure, o.Record = ReservedGDT, 7
		case mBlockBitmap:
			o.Structure = fmt.Sprintf("block bitmap of group %d", m.group)
			v.bmTouched[m.group] = true
		case mInodeBitmap:
			o.Structure = fmt.Sprintf("inode bitmap of group %d", m.group)
		case mInodeTable:
			return v.inodeSlot(pos, limit, m, o)
		case mJournal:
			o.Record = int64(v.sb.JournalInum)
			logical := m.logical + blk - m.start
			switch {
			case logical == 0:
				o.Structure = JournalSuper
				mend = min(mend, int64(blk+1)*bs)
			default:
				if seq, tend, ok := v.journalTx(logical); ok {
					o.Structure = fmt.Sprintf("%s (transaction %d)", Journal, seq)
					mend = min(mend, int64(m.start+(tend-m.logical))*v.bs)
				} else {
					o.Structure = Journal
					// split where a transaction or the superblock starts
					mend = v.journalSplit(m, blk, mend)
				}
			}
		case mJournalTree:
			o.Structure, o.Record = JournalMap, int64(v.sb.JournalInum)
		}
		return mend, o
	} else {
		limit = min(limit, int64(next)*bs)
	}
	r, rnext := v.findRev(blk)
	if r == nil && rnext < v.sb.BlocksCount {
		limit = min(limit, int64(rnext)*bs)
	}
	used, known := v.blockInUse(blk)
	if r == nil && known && !used {
		// A free run: to the next in-use bit or metadata.
		e := blk + 1
		g := v.groupOf(blk)
		ge := min(v.groupStart(g+1), v.sb.BlocksCount)
		bm := v.bitmap(g, false)
		for e < ge && int64(e)*bs < limit {
			if bm != nil {
				i := e - v.groupStart(g)
				if bm[i/8]&(1<<(i%8)) != 0 {
					break
				}
			}
			e++
		}
		o.Structure = fs.FreeSpace
		return blockEnd(e), o
	}
	if r == nil {
		r = v.ownerRun(blk)
	}
	if r == nil {
		if !known {
			o.Structure = "block (bitmap unreadable, no owner found)"
		} else if v.revFull {
			o.Structure = AllocatedNoOwn
		} else {
			o.Structure = fs.LostClusters
		}
		if o.Structure == fs.LostClusters && v.ncomplete < v.groups {
			o.Structure = "allocated blocks (owner not found: some inode tables unreadable)"
		}
		if o.Structure == fs.LostClusters && len(v.lost) < maxProblemsPerCode+1 {
			v.lost = append(v.lost, blk)
		}
		return min(blockEnd(blk+1), limit), o
	}
	v.touch(r.ino)
	o.Record = int64(r.ino)
	o.Path = v.pathOf(r.ino)
	switch r.kind {
	case rData:
		o.Structure = fs.FileData
	case rDir:
		o.Structure = fs.Directory
	case rExtent:
		o.Structure = ExtentTree
	case rIndirect:
		o.Structure = IndirectBlock
		if r.ino == 7 {
			o.Structure = ReservedGDT + " (resize inode's indirect block)"
		}
	case rXattr:
		o.Structure = XattrBlock
	}
	return blockEnd(r.start + r.n), o
}

// journalSplit ends a plain journal run where a transaction starts.
func (v *Volume) journalSplit(m *metaRun, blk uint64, mend int64) int64 {
	logical := m.logical + blk - m.start
	for _, t := range v.journal.txs {
		if t.logical > logical && t.logical < m.logical+m.n {
			mend = min(mend, int64(m.start+(t.logical-m.logical))*v.bs)
		}
	}
	return mend
}

// inodeSlot names the inode at pos of an inode table.
func (v *Volume) inodeSlot(pos, limit int64, m *metaRun, o fs.Owner) (int64, fs.Owner) {
	isz := int64(v.sb.InodeSize)
	base := int64(m.start) * v.bs
	idx := (pos - base) / isz
	o.Structure = fmt.Sprintf("%s of group %d (unused inodes)", InodeTable, m.group)
	tabEnd := base + int64(v.sb.InodesPerGroup)*isz
	if idx >= int64(v.sb.InodesPerGroup) {
		o.Structure = fmt.Sprintf("%s of group %d (after the last inode)", InodeTable, m.group)
		return min(limit, int64(m.start+m.n)*v.bs), o
	}
	ino := uint32(m.group*int64(v.sb.InodesPerGroup) + idx + 1)
	v.scanGroup(m.group)
	used := func(i uint32) bool {
		if i == v.sb.JournalInum || v.tracked[i] != nil {
			return true
		}
		if i < v.sb.FirstIno {
			bm := v.bitmap(m.group, true)
			k := int64(i-1) % int64(v.sb.InodesPerGroup)
			return bm != nil && bm[k/8]&(1<<(k%8)) != 0
		}
		return false
	}
	if used(ino) {
		o.Structure, o.Record = fmt.Sprintf("%s of group %d", InodeTable, m.group), int64(ino)
		if v.tracked[ino] != nil {
			v.touch(ino)
			o.Path = v.pathOf(ino)
		}
		return min(limit, base+(idx+1)*isz), o
	}
	// A run of unused slots.
	e := idx + 1
	for e < int64(v.sb.InodesPerGroup) && base+e*isz < limit && !used(uint32(m.group*int64(v.sb.InodesPerGroup)+e+1)) {
		e++
	}
	return min(limit, base+e*isz, tabEnd), o
}

// touch records that ino owns a differing range: its times count as
// evidence and its consistency is checked.
func (v *Volume) touch(ino uint32) {
	if v.touched[ino] || len(v.touched) >= maxNames {
		return
	}
	v.touched[ino] = true
	if i := v.tracked[ino]; i != nil && i.latest > v.latest {
		v.latest = i.latest
	}
}
