package xfs

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"sort"

	"github.com/mirrorchk/mirrorchk/fs"
)

var be = binary.BigEndian

// agInfo is what the AG headers of one allocation group say.
type agInfo struct {
	agno                   uint32
	agfOK, agiOK, agflOK   bool
	agfLen, agiLen         uint32
	roots, levels          [3]uint32 // bno, cnt, rmap
	flfirst, fllast, flcnt uint32
	freeblks, longest      uint32
	btreeblks              uint32
	refcRoot, refcLevel    uint32
	icount, ifree          uint32
	inoRoot, inoLevel      uint32
	finoRoot, finoLevel    uint32
	unlinked               int // non-empty unlinked buckets
	agfl                   []uint32
	agfLSN, agiLSN, aflLSN uint64
	sbOK                   bool
	sbLSN                  uint64
	sbDiffers              bool
}

// readAGHeaders reads and checks the superblock copy, AGF, AGI and AGFL of
// AG a.
func (v *Volume) readAGHeaders(a uint32) *agInfo {
	ss := int64(v.sb.SectSize)
	base := v.agOff(a, 0)
	b := make([]byte, 4*ss)
	ag := &agInfo{agno: a}
	if err := v.readAt(b, base); err != nil {
		v.problem("xfs-ag-unreadable", fs.Error, base, "AG %d headers: %v", a, err)
		return ag
	}
	sec := func(i int64) []byte { return b[i*ss : (i+1)*ss] }
	// Superblock copy.
	if a > 0 {
		s := sec(0)
		if _, err := ParseSuperblock(s, base); err != nil {
			v.problem("xfs-sb-secondary", fs.Warning, base, "AG %d superblock: %v", a, err)
		} else if v.v5 && !crcOK(s, 224) {
			v.problem("xfs-sb-secondary", fs.Warning, base, "AG %d superblock: CRC does not match", a)
		} else {
			ag.sbOK = true
			ag.sbLSN = be.Uint64(s[240:])
			if !bytes.Equal(s[32:48], v.sb.UUID[:]) {
				v.problem("xfs-sb-secondary", fs.Warning, base, "AG %d superblock: UUID differs from the primary", a)
			}
		}
	} else {
		ag.sbOK = true
	}
	// AGF.
	f := sec(1)
	if why := v.checkHeader(f, 0x58414746, 216, 64, 208, a, base+ss); why != "" {
		v.problem("xfs-agf-bad", fs.Error, base+ss, "AG %d AGF: %s", a, why)
	} else {
		ag.agfOK = true
		ag.agfLen = be.Uint32(f[12:])
		for i := range 3 {
			ag.roots[i], ag.levels[i] = be.Uint32(f[16+4*i:]), be.Uint32(f[28+4*i:])
		}
		ag.flfirst, ag.fllast, ag.flcnt = be.Uint32(f[40:]), be.Uint32(f[44:]), be.Uint32(f[48:])
		ag.freeblks, ag.longest, ag.btreeblks = be.Uint32(f[52:]), be.Uint32(f[56:]), be.Uint32(f[60:])
		ag.refcRoot, ag.refcLevel = be.Uint32(f[88:]), be.Uint32(f[92:])
		if v.v5 {
			ag.agfLSN = be.Uint64(f[208:])
			v.seeLSN(ag.agfLSN)
		}
		if ag.agfLen != v.agLen(a) {
			v.problem("xfs-agf-bad", fs.Error, base+ss, "AG %d AGF: length %d, the superblock gives %d", a, ag.agfLen, v.agLen(a))
		}
	}
	// AGI.
	i := sec(2)
	if why := v.checkHeader(i, 0x58414749, 312, 296, 320, a, base+2*ss); why != "" {
		v.problem("xfs-agi-bad", fs.Error, base+2*ss, "AG %d AGI: %s", a, why)
	} else {
		ag.agiOK = true
		ag.agiLen = be.Uint32(i[12:])
		ag.icount, ag.inoRoot, ag.inoLevel, ag.ifree = be.Uint32(i[16:]), be.Uint32(i[20:]), be.Uint32(i[24:]), be.Uint32(i[28:])
		for k := range 64 {
			if be.Uint32(i[40+4*k:]) != 0xFFFFFFFF {
				ag.unlinked++
			}
		}
		if v.v5 {
			ag.agiLSN = be.Uint64(i[320:])
			v.seeLSN(ag.agiLSN)
			ag.finoRoot, ag.finoLevel = be.Uint32(i[328:]), be.Uint32(i[332:])
		}
	}
	// AGFL.
	l := sec(3)
	first := 0
	if v.v5 {
		if why := v.checkHeader(l, 0x5841464C, 32, 8, 24, a, base+3*ss); why != "" {
			v.problem("xfs-agfl-bad", fs.Error, base+3*ss, "AG %d AGFL: %s", a, why)
			return ag
		}
		ag.aflLSN = be.Uint64(l[24:])
		v.seeLSN(ag.aflLSN)
		first = 36
	}
	ag.agflOK = true
	if ag.agfOK {
		size := uint32((len(l) - first) / 4)
		switch {
		case ag.flcnt > size || ag.flfirst >= size || ag.fllast >= size:
			v.problem("xfs-agf-freelist", fs.Error, base+ss, "AG %d AGF: free list first %d last %d count %d do not fit the %d AGFL slots", a, ag.flfirst, ag.fllast, ag.flcnt, size)
		case ag.flcnt > 0:
			if (ag.fllast+size-ag.flfirst)%size+1 != ag.flcnt {
				v.problem("xfs-agf-freelist", fs.Error, base+ss, "AG %d AGF: free list first %d last %d do not hold count %d", a, ag.flfirst, ag.fllast, ag.flcnt)
			}
			for k := range ag.flcnt {
				bno := be.Uint32(l[first+4*int((ag.flfirst+k)%size):])
				if bno >= v.agLen(a) {
					v.problem("xfs-agfl-bad", fs.Error, base+3*ss, "AG %d AGFL: block %d past the AG", a, bno)
					continue
				}
				ag.agfl = append(ag.agfl, bno)
			}
		}
	}
	return ag
}

// checkHeader verifies an AG header sector: magic, seqno, and on v5 the
// UUID at uuidAt and the CRC at crcAt.
func (v *Volume) checkHeader(b []byte, magic uint32, crcAt, uuidAt, lsnAt int, a uint32, off int64) string {
	if m := be.Uint32(b); m != magic {
		return fmt.Sprintf("magic %#x, want %#x", m, magic)
	}
	seq := 8
	if magic == 0x5841464C {
		seq = 4
	} else if vn := be.Uint32(b[4:]); vn != 1 {
		return fmt.Sprintf("version %d", vn)
	}
	if s := be.Uint32(b[seq:]); s != a {
		return fmt.Sprintf("sequence number %d in AG %d", s, a)
	}
	if !v.v5 {
		return ""
	}
	if !bytes.Equal(b[uuidAt:uuidAt+16], v.sb.MetaUUID[:]) {
		return "UUID is not this filesystem's (foreign block)"
	}
	if !crcOK(b, crcAt) {
		return fmt.Sprintf("CRC %#08x does not match its contents (%#08x)", binary.LittleEndian.Uint32(b[crcAt:]), crcOf(b, crcAt))
	}
	return ""
}

// Span kinds of an AG map and of file claims.
const (
	kNone = iota
	kHeader
	kFreeBT
	kInoBT
	kRefcBT
	kRmapBT
	kAGFL
	kFree
	kChunk
	kLog
	// File claims.
	kData
	kDir
	kBmbt
	kAttr
	kSymlink
	kAttrBmbt
)

var kindName = [...]string{
	kNone: "", kHeader: "AG headers", kFreeBT: "free-space B+tree", kInoBT: "inode B+tree", kRefcBT: "refcount B+tree",
	kRmapBT: "reverse-mapping B+tree", kAGFL: "AG free list", kFree: fs.FreeSpace, kChunk: "inode chunk", kLog: "log",
	kData: fs.FileData, kDir: fs.Directory, kBmbt: "extent B+tree", kAttr: "attribute fork", kSymlink: "symlink target",
	kAttrBmbt: "attribute extent B+tree",
}

// span is a run of blocks of one AG with one kind of owner.
type span struct {
	start, n uint32
	kind     uint8
	magic    uint32 // B+tree blocks: the magic the walk expected
	ino      uint32 // chunks: first agino
	free     uint64 // chunks: inobt free mask
	hole     uint16 // chunks: sparse hole mask
}

// agMap is the owner map of one AG's own structures.
type agMap struct {
	rmap     []rmapRec // inode-owned extents by the rmap B+tree, by start
	rmapOK   bool      // the rmap B+tree was read whole
	spans    []span
	chunks   []span // inode chunks, by agino
	complete bool   // no B+tree was damaged and no cap was hit
}

func (v *Volume) hdrBlocks() uint32 {
	return uint32((4*int64(v.sb.SectSize) + v.bs - 1) / v.bs)
}

// agMapOf returns the owner map of AG a, building it on first use.
func (v *Volume) agMapOf(a uint32) *agMap {
	if int(a) >= len(v.maps) {
		return &agMap{}
	}
	if m := v.maps[a]; m != nil {
		return m
	}
	m := v.buildAG(a)
	v.maps[a] = m
	return m
}

// Short-form B+tree magics (v5, v4).
const (
	magBno   = 0x41423342 // AB3B
	magBnoV4 = 0x41425442 // ABTB
	magCnt   = 0x41423343 // AB3C
	magCntV4 = 0x41425443 // ABTC
	magIno   = 0x49414233 // IAB3
	magInoV4 = 0x49414254 // IABT
	magFino  = 0x46494233 // FIB3
	magFinV4 = 0x46494254 // FIBT
	magRmap  = 0x524D4233 // RMB3
	magRefc  = 0x52334643 // R3FC
)

func (v *Volume) sbHdr() int {
	if v.v5 {
		return 56
	}
	return 16
}

// btree describes one short-form B+tree kind.
type btree struct {
	name          string
	magic         uint32
	recSize, keys int // key bytes per node entry (rmap: low+high key)
}

// walkShort walks a short-form (AG) B+tree from root down, calling blk for
// every block and rec for every leaf record. It stops at damage (a
// problem) and never visits a block twice.
func (v *Volume) walkShort(a uint32, bt btree, root, levels uint32, blk func(bno uint32), rec func(r []byte)) bool {
	if root == 0 && levels == 0 {
		return true
	}
	alen := v.agLen(a)
	if levels == 0 || levels > maxBtreeLevels || root == 0 || root >= alen {
		v.problem("xfs-btree-bad", fs.Error, v.agOff(a, 0), "AG %d %s: root %d at %d levels is impossible", a, bt.name, root, levels)
		return false
	}
	hdr := v.sbHdr()
	b := make([]byte, v.bs)
	seen := map[uint32]bool{}
	ok := true
	var visit func(bno uint32, level int) bool
	visit = func(bno uint32, level int) bool {
		off := v.agOff(a, bno)
		if bno >= alen || bno == 0 {
			v.problem("xfs-btree-bad", fs.Error, off, "AG %d %s: pointer to block %d outside the AG", a, bt.name, bno)
			return false
		}
		if seen[bno] {
			v.problem("xfs-btree-bad", fs.Error, off, "AG %d %s: block %d reached twice (loop or cross-link)", a, bt.name, bno)
			return false
		}
		seen[bno] = true
		blk(bno)
		if err := v.readAt(b, off); err != nil {
			v.problem("xfs-btree-bad", fs.Error, off, "AG %d %s block %d: %v", a, bt.name, bno, err)
			return false
		}
		if why := v.checkShortBlock(b, bt.magic, a, off); why != "" {
			v.problem("xfs-btree-bad", fs.Error, off, "AG %d %s block %d: %s", a, bt.name, bno, why)
			return false
		}
		lv, n := int(be.Uint16(b[4:])), int(be.Uint16(b[6:]))
		if lv != level {
			v.problem("xfs-btree-bad", fs.Error, off, "AG %d %s block %d: level %d, expected %d", a, bt.name, bno, lv, level)
			return false
		}
		if level == 0 {
			max := (len(b) - hdr) / bt.recSize
			if n > max {
				v.problem("xfs-btree-bad", fs.Error, off, "AG %d %s block %d: %d records, at most %d fit", a, bt.name, bno, n, max)
				return false
			}
			for k := range n {
				rec(b[hdr+k*bt.recSize : hdr+(k+1)*bt.recSize])
			}
			return true
		}
		max := (len(b) - hdr) / (bt.keys + 4)
		if n > max || n == 0 {
			v.problem("xfs-btree-bad", fs.Error, off, "AG %d %s block %d: %d pointers, 1 to %d fit", a, bt.name, bno, n, max)
			return false
		}
		ptrs := make([]uint32, n)
		for k := range n {
			ptrs[k] = be.Uint32(b[hdr+max*bt.keys+4*k:])
		}
		for _, p := range ptrs {
			if !visit(p, level-1) {
				return false
			}
		}
		return true
	}
	ok = visit(root, int(levels)-1)
	return ok
}

// checkShortBlock verifies a short-form B+tree block header; "" if it
// verifies. It records the block's LSN.
func (v *Volume) checkShortBlock(b []byte, magic uint32, a uint32, off int64) string {
	if m := be.Uint32(b); m != magic {
		return fmt.Sprintf("magic %#x, want %#x", m, magic)
	}
	if !v.v5 {
		return ""
	}
	if !bytes.Equal(b[32:48], v.sb.MetaUUID[:]) {
		return "UUID is not this filesystem's (foreign block)"
	}
	if !crcOK(b, 52) {
		return fmt.Sprintf("CRC %#08x does not match its contents (%#08x)", binary.LittleEndian.Uint32(b[52:]), crcOf(b, 52))
	}
	if d := be.Uint64(b[16:]); d != uint64(off/512) {
		return fmt.Sprintf("records its address as sector %d, lies at %d (misplaced)", d, off/512)
	}
	if o := be.Uint32(b[48:]); o != a {
		return fmt.Sprintf("owner AG %d", o)
	}
	v.seeLSN(be.Uint64(b[24:]))
	return ""
}

func (v *Volume) trees() (bno, cnt, ino, fino, rmap, refc btree) {
	if v.v5 {
		return btree{"bnobt", magBno, 8, 8}, btree{"cntbt", magCnt, 8, 8}, btree{"inobt", magIno, 16, 4},
			btree{"finobt", magFino, 16, 4}, btree{"rmapbt", magRmap, 24, 40}, btree{"refcountbt", magRefc, 12, 4}
	}
	return btree{"bnobt", magBnoV4, 8, 8}, btree{"cntbt", magCntV4, 8, 8}, btree{"inobt", magInoV4, 16, 4},
		btree{"finobt", magFinV4, 16, 4}, btree{}, btree{}
}

// buildAG reads AG a's B+trees into its owner map and checks them against
// the AGF and AGI.
func (v *Volume) buildAG(a uint32) *agMap {
	m := &agMap{complete: true}
	ag := v.ags[a]
	if ag == nil {
		m.complete = false
		return m
	}
	alen := v.agLen(a)
	add := func(start, n uint32, kind uint8, magic uint32) {
		if len(m.spans) >= maxSpansPerAG {
			if m.complete {
				v.problem("xfs-too-large", fs.Warning, v.agOff(a, 0), "AG %d: more than %d extents; the rest are not mapped", a, maxSpansPerAG)
			}
			m.complete = false
			return
		}
		if start >= alen || n == 0 {
			return
		}
		n = min(n, alen-start)
		m.spans = append(m.spans, span{start: start, n: n, kind: kind, magic: magic})
	}
	add(0, v.hdrBlocks(), kHeader, 0)
	if v.sb.LogStart != 0 {
		if la, lb := v.splitFSB(v.sb.LogStart); la == a {
			add(lb, v.sb.LogBlocks, kLog, 0)
		}
	}
	for _, b := range ag.agfl {
		add(b, 1, kAGFL, 0)
	}
	bno, cnt, ino, fino, rmap, refc := v.trees()
	var nbt [3]uint32
	if ag.agfOK {
		var free, longest, nrec uint64
		if !v.walkShort(a, bno, ag.roots[0], ag.levels[0], func(b uint32) { nbt[0]++; add(b, 1, kFreeBT, bno.magic) }, func(r []byte) {
			s, n := be.Uint32(r), be.Uint32(r[4:])
			if uint64(s)+uint64(n) > uint64(alen) || n == 0 {
				v.problem("xfs-btree-bad", fs.Error, v.agOff(a, 0), "AG %d bnobt: free extent %d+%d outside the AG", a, s, n)
				m.complete = false
				return
			}
			free += uint64(n)
			longest = max(longest, uint64(n))
			nrec++
			add(s, n, kFree, 0)
		}) {
			m.complete = false
		} else {
			if free != uint64(ag.freeblks) {
				v.problem("xfs-agf-freeblks", fs.Error, v.agOff(a, 0)+int64(v.sb.SectSize), "AG %d AGF: freeblks %d, the free-space B+tree holds %d", a, ag.freeblks, free)
			}
			if longest != uint64(ag.longest) {
				v.problem("xfs-agf-longest", fs.Error, v.agOff(a, 0)+int64(v.sb.SectSize), "AG %d AGF: longest %d, the longest free extent is %d", a, ag.longest, longest)
			}
		}
		var cfree uint64
		if !v.walkShort(a, cnt, ag.roots[1], ag.levels[1], func(b uint32) { nbt[1]++; add(b, 1, kFreeBT, cnt.magic) }, func(r []byte) { cfree += uint64(be.Uint32(r[4:])) }) {
			m.complete = false
		} else if m.complete && cfree != free {
			v.problem("xfs-cntbt-mismatch", fs.Error, v.agOff(a, 0)+int64(v.sb.SectSize), "AG %d: the by-size free-space B+tree holds %d free blocks, the by-block one %d", a, cfree, free)
		}
		if v.sb.RoCompat&roRmapbt != 0 && v.v5 {
			if !v.walkShort(a, rmap, ag.roots[2], ag.levels[2], func(b uint32) { nbt[2]++; add(b, 1, kRmapBT, rmap.magic) }, func(r []byte) {
				owner := be.Uint64(r[8:])
				if int64(owner) < 0 || len(m.rmap) >= maxSpansPerAG {
					return // OWN_FS, OWN_LOG, OWN_AG, …: the AG structures mapped here
				}
				m.rmap = append(m.rmap, rmapRec{start: be.Uint32(r), n: be.Uint32(r[4:]), ino: owner, flags: uint8(be.Uint64(r[16:]) >> 61)})
			}) {
				m.complete = false
			} else {
				m.rmapOK = true
			}
		}
		if v.sb.RoCompat&roReflink != 0 && v.v5 {
			if !v.walkShort(a, refc, ag.refcRoot, ag.refcLevel, func(b uint32) { add(b, 1, kRefcBT, refc.magic) }, func([]byte) {}) {
				m.complete = false
			}
		}
		if m.complete {
			used := nbt[0] + nbt[1] + nbt[2]
			roots := uint32(2)
			if nbt[2] > 0 {
				roots = 3
			}
			// Lazy superblock counters (always on v5) keep agf_btreeblks.
			if (v.v5 || v.sb.Features2&0x2 != 0) && used-roots != ag.btreeblks {
				v.problem("xfs-agf-btreeblks", fs.Error, v.agOff(a, 0)+int64(v.sb.SectSize), "AG %d AGF: btreeblks %d, the free-space B+trees hold %d blocks besides their roots", a, ag.btreeblks, used-roots)
			}
		}
	} else {
		m.complete = false
	}
	if ag.agiOK {
		var count, free uint64
		if !v.walkShort(a, ino, ag.inoRoot, ag.inoLevel, func(b uint32) { add(b, 1, kInoBT, ino.magic) }, func(r []byte) {
			start := be.Uint32(r)
			var hole uint16
			var cnt, fc uint32
			if v.sb.Incompat&incSpinodes != 0 && v.v5 {
				hole, cnt, fc = be.Uint16(r[4:]), uint32(r[6]), uint32(r[7])
			} else {
				cnt, fc = 64, be.Uint32(r[4:])
			}
			fmask := be.Uint64(r[8:])
			if start&(uint32(v.sb.InoPBlock)-1) != 0 || uint64(start)>>v.sb.InoPBLog >= uint64(alen) || cnt > 64 || fc > cnt {
				v.problem("xfs-btree-bad", fs.Error, v.agOff(a, 0), "AG %d inobt: chunk record at agino %d (count %d, free %d) is impossible", a, start, cnt, fc)
				m.complete = false
				return
			}
			count += uint64(cnt)
			free += uint64(fc)
			c := span{start: start >> v.sb.InoPBLog, kind: kChunk, ino: start, free: fmask, hole: hole}
			nb := max(1, 64>>v.sb.InoPBLog)
			for k := uint32(0); k < uint32(nb); k++ {
				// A block is part of the chunk unless all its inodes are holes.
				if !v.blockAllHoles(hole, k) {
					add(c.start+k, 1, kChunk, 0)
					s := &m.spans[len(m.spans)-1]
					if s.start == c.start+k && s.kind == kChunk {
						s.ino, s.free, s.hole = start, fmask, hole
					}
				}
			}
			if len(m.chunks) < maxSpansPerAG {
				m.chunks = append(m.chunks, c)
			}
		}) {
			m.complete = false
		} else {
			if count != uint64(ag.icount) || free != uint64(ag.ifree) {
				v.problem("xfs-agi-count", fs.Error, v.agOff(a, 0)+2*int64(v.sb.SectSize), "AG %d AGI: count %d free %d, the inode B+tree holds %d inodes, %d free", a, ag.icount, ag.ifree, count, free)
			}
		}
		if v.sb.RoCompat&roFinobt != 0 && v.v5 {
			if !v.walkShort(a, fino, ag.finoRoot, ag.finoLevel, func(b uint32) { add(b, 1, kInoBT, fino.magic) }, func([]byte) {}) {
				m.complete = false
			}
		}
	} else {
		m.complete = false
	}
	sort.SliceStable(m.spans, func(i, j int) bool { return m.spans[i].start < m.spans[j].start })
	// Overlaps: two structures claiming one block.
	out := m.spans[:0]
	for _, s := range m.spans {
		if k := len(out) - 1; k >= 0 && out[k].start+out[k].n > s.start {
			p := out[k]
			v.problem("xfs-ag-crosslink", fs.Error, v.agOff(a, s.start), "AG %d blocks %d+%d: claimed both as %s and as %s", a, s.start, min(s.n, p.start+p.n-s.start), kindName[p.kind], kindName[s.kind])
			m.complete = false
			if p.start+p.n >= s.start+s.n {
				continue
			}
			cut := p.start + p.n - s.start
			s.start += cut
			s.n -= cut
		}
		out = append(out, s)
	}
	m.spans = out
	// Inode-owned extents by the rmap B+tree must not lie in free space.
	for _, r := range m.rmap {
		if sp, _ := m.find(r.start); sp != nil && (sp.kind == kFree || sp.kind == kAGFL) {
			v.problem("xfs-extent-in-free", fs.Error, v.agOff(a, r.start), "AG %d: the rmap B+tree gives blocks %d+%d to inode %d, but they are free", a, r.start, r.n, r.ino)
		}
	}
	sort.Slice(m.chunks, func(i, j int) bool { return m.chunks[i].ino < m.chunks[j].ino })
	sort.SliceStable(m.rmap, func(i, j int) bool { return m.rmap[i].start < m.rmap[j].start })
	return m
}

// blockAllHoles says whether block k of a sparse chunk holds only holes.
// Each holemask bit covers 4 inodes.
func (v *Volume) blockAllHoles(hole uint16, k uint32) bool {
	if hole == 0 {
		return false
	}
	per := uint32(v.sb.InoPBlock)
	for i := k * per; i < (k+1)*per && i < 64; i++ {
		if hole&(1<<(i/4)) == 0 {
			return false
		}
	}
	return true
}

// find returns the span holding AG block bno, or nil, and the start of the
// next span after bno (or ^0).
func (m *agMap) find(bno uint32) (*span, uint32) {
	i := sort.Search(len(m.spans), func(i int) bool { return m.spans[i].start+m.spans[i].n > bno })
	if i < len(m.spans) && m.spans[i].start <= bno {
		return &m.spans[i], m.spans[i].start
	}
	if i < len(m.spans) {
		return nil, m.spans[i].start
	}
	return nil, ^uint32(0)
}

// chunkOf returns the inobt record of the chunk holding agino, or nil.
func (m *agMap) chunkOf(agino uint32) *span {
	i := sort.Search(len(m.chunks), func(i int) bool { return m.chunks[i].ino+64 > agino })
	if i < len(m.chunks) && m.chunks[i].ino <= agino {
		return &m.chunks[i]
	}
	return nil
}

// checkCounts compares the superblock's counters with the AG headers'. The
// counters are lazy (written at unmount), so only a clean log makes a
// difference a problem.
func (v *Volume) checkCounts() {
	var icount, ifree, fd uint64
	if len(v.ags) < int(v.sb.AGCount) {
		return
	}
	for _, ag := range v.ags {
		if ag == nil || !ag.agfOK || !ag.agiOK {
			return
		}
		icount += uint64(ag.icount)
		ifree += uint64(ag.ifree)
		fd += uint64(ag.freeblks) + uint64(ag.flcnt) + uint64(ag.btreeblks)
	}
	if !v.log.found || !v.log.clean {
		return
	}
	if icount != v.sb.ICount || ifree != v.sb.IFree || fd != v.sb.FDBlocks {
		v.problem("xfs-sb-counts", fs.Error, 0, "superblock counts %d inodes, %d free, %d free blocks; the AG headers %d, %d, %d", v.sb.ICount, v.sb.IFree, v.sb.FDBlocks, icount, ifree, fd)
	}
}

// mapAll builds the owner map of every AG (for the checks).
func (v *Volume) mapAll() {
	for a := range v.maps {
		v.agMapOf(uint32(a))
	}
}
