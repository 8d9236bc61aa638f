package xfs

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/mirrorchk/mirrorchk/fs"
)

// claim is a run of filesystem blocks owned by one inode.
type claim struct {
	fsb  uint64
	n    uint32
	kind uint8
	ino  uint64
}

type inodeInfo struct {
	mode  uint16
	nlink uint32
	// stamp identifies the inode's last state (generation, creation and
	// change time), for CommonBefore.
	stamp inodeStamp
}

type inodeStamp struct {
	gen           uint32
	crtime, ctime int64 // nanoseconds since 1970; crtime 0 on v4
}

// stampOf reads an inode core's identity and change time.
func (v *Volume) stampOf(b []byte) inodeStamp {
	s := inodeStamp{gen: be.Uint32(b[92:]), ctime: v.xfsTime(b, 48).UnixNano()}
	if v.v5 {
		s.crtime = v.xfsTime(b, 144).UnixNano()
	}
	return s
}

type dent struct {
	parent uint64
	name   string
}

type dirInfo struct {
	ino   uint64
	local []byte   // short-form directory
	exts  []extent // data-fork extents below the leaf offset
}

type extent struct {
	off, fsb uint64
	n        uint32
	unwrit   bool
}

// walkState is what the walk of every inode and directory found.
type walkState struct {
	claims   []claim
	inodes   map[uint64]inodeInfo
	parent   map[uint64]dent
	refs     map[uint64]uint32
	dirs     []dirInfo
	entries  int
	complete bool // every inode and directory read without damage or cap
	// budget bounds the directory and extent B+tree blocks the walk
	// reads: no more than the image holds, however the trees point.
	budget int64
}

// spend takes one block read from the walk's budget.
func (v *Volume) spend(w *walkState) bool {
	if w == nil {
		return true
	}
	if w.budget <= 0 {
		if w.budget == 0 {
			v.problem("xfs-too-large", fs.Error, -1, "the directories and extent B+trees point to more blocks than the image holds (loops or cross-links): the walk stops")
			w.budget--
		}
		w.complete = false
		return false
	}
	w.budget--
	return true
}

const (
	sIFMT  = 0170000
	sIFDIR = 0040000
	sIFREG = 0100000
	sIFLNK = 0120000
)

// Inode fork formats.
const (
	fmtDev = iota
	fmtLocal
	fmtExtents
	fmtBtree
)

const (
	magBmbt   = 0x424D4133 // BMA3
	magBmbtV4 = 0x424D4150 // BMAP
	magDirB3  = 0x58444233 // XDB3
	magDirD3  = 0x58444433 // XDD3
	magDirB2  = 0x58443242 // XD2B
	magDirD2  = 0x58443244 // XD2D
)

func (v *Volume) coreSize() int {
	if v.v5 {
		return 176
	}
	return 100
}

// coreOK checks an inode's magic, and on v5 its CRC, number and UUID; ""
// if it verifies. It records the inode's LSN.
func (v *Volume) coreOK(b []byte, ino uint64) string {
	if be.Uint16(b) != 0x494E {
		return fmt.Sprintf("magic %#x, not IN", be.Uint16(b))
	}
	if !v.v5 {
		if b[4] != 1 && b[4] != 2 {
			return fmt.Sprintf("version %d", b[4])
		}
		return ""
	}
	if b[4] != 3 {
		return fmt.Sprintf("version %d on a v5 filesystem", b[4])
	}
	if !crcOK(b, 100) {
		return fmt.Sprintf("CRC %#08x does not match its contents (%#08x)", binary.LittleEndian.Uint32(b[100:]), crcOf(b, 100))
	}
	if n := be.Uint64(b[152:]); n != ino {
		return fmt.Sprintf("records inode number %d (misplaced)", n)
	}
	if !bytes.Equal(b[160:176], v.sb.MetaUUID[:]) {
		return "UUID is not this filesystem's (foreign inode)"
	}
	v.seeLSN(be.Uint64(b[112:]))
	return ""
}

// inodeTime returns the later of an inode's mtime and ctime.
func (v *Volume) inodeTime(b []byte) time.Time {
	var t time.Time
	for _, at := range []int{40, 48} {
		var x time.Time
		if v.v5 && be.Uint64(b[120:])&(1<<3) != 0 {
			ns := be.Uint64(b[at:])
			x = time.Unix(int64(ns/1e9)-(1<<31), int64(ns%1e9))
		} else {
			x = time.Unix(int64(int32(be.Uint32(b[at:]))), int64(be.Uint32(b[at+4:])%1e9))
		}
		if x.After(t) {
			t = x
		}
	}
	return t
}

func (v *Volume) seeTime(b []byte, ino uint64) {
	if v.judging {
		return
	}
	if t := v.inodeTime(b); t.After(v.latest) {
		v.latest, v.latestI = t, ino
	}
}

// forks returns an inode's data and attribute fork bytes.
func (v *Volume) forks(b []byte) (data, attr []byte) {
	cs := v.coreSize()
	lit := b[cs:]
	if fo := int(b[82]) * 8; fo > 0 && fo < len(lit) {
		return lit[:fo], lit[fo:]
	}
	return lit, nil
}

func decodeExtent(r []byte) extent {
	l0, l1 := be.Uint64(r), be.Uint64(r[8:])
	return extent{
		unwrit: l0>>63 != 0,
		off:    (l0 & (1<<63 - 1)) >> 9,
		fsb:    (l0&0x1FF)<<43 | l1>>21,
		n:      uint32(l1 & 0x1FFFFF),
	}
}

// nextents returns the data and attribute extent counts of an inode core.
func (v *Volume) nextents(b []byte) (uint64, uint64) {
	if v.sb.Incompat&incNrext64 != 0 && be.Uint64(b[120:])&(1<<4) != 0 {
		return be.Uint64(b[24:]), uint64(be.Uint32(b[76:]))
	}
	return uint64(be.Uint32(b[76:])), uint64(be.Uint16(b[80:]))
}

// forkExtents reads the extents of one fork, walking its B+tree; bmbt
// blocks are reported through blk.
func (v *Volume) forkExtents(ino uint64, fork []byte, format uint8, n uint64, what string, blk func(fsb uint64)) ([]extent, string) {
	switch format {
	case fmtExtents:
		if n > uint64(len(fork)/16) {
			return nil, fmt.Sprintf("%s: %d extents do not fit the %d-byte fork", what, n, len(fork))
		}
		out := make([]extent, 0, n)
		for k := range int(n) {
			out = append(out, decodeExtent(fork[16*k:]))
		}
		return out, ""
	case fmtBtree:
		if len(fork) < 4 {
			return nil, what + ": B+tree root does not fit"
		}
		level, nr := int(be.Uint16(fork)), int(be.Uint16(fork[2:]))
		maxr := (len(fork) - 4) / 16
		if level == 0 || level > maxBtreeLevels || nr == 0 || nr > maxr {
			return nil, fmt.Sprintf("%s: B+tree root level %d with %d records (at most %d)", what, level, nr, maxr)
		}
		var out []extent
		seen := map[uint64]bool{}
		hdr := 24
		mag := uint32(magBmbtV4)
		if v.v5 {
			hdr, mag = 72, magBmbt
		}
		b := make([]byte, v.bs)
		var visit func(fsb uint64, level int) string
		visit = func(fsb uint64, level int) string {
			off, err := v.fsbOff(fsb)
			if err != nil {
				return fmt.Sprintf("%s: B+tree block %d outside the filesystem", what, fsb)
			}
			if seen[fsb] || len(seen) > 1<<20 {
				return fmt.Sprintf("%s: B+tree block %d reached twice (loop)", what, fsb)
			}
			seen[fsb] = true
			if !v.spend(v.walk) {
				return what + ": read budget spent"
			}
			blk(fsb)
			if err := v.readAt(b, off); err != nil {
				return fmt.Sprintf("%s: B+tree block %d: %v", what, fsb, err)
			}
			if why := v.checkLongBlock(b, mag, ino, off); why != "" {
				return fmt.Sprintf("%s: B+tree block %d: %s", what, fsb, why)
			}
			lv, nr := int(be.Uint16(b[4:])), int(be.Uint16(b[6:]))
			maxr := (len(b) - hdr) / 16
			if lv != level || nr > maxr || (lv > 0 && nr == 0) {
				return fmt.Sprintf("%s: B+tree block %d: level %d (expected %d), %d records (at most %d)", what, fsb, lv, level, nr, maxr)
			}
			if lv == 0 {
				for k := range nr {
					if len(out) >= maxClaims {
						return what + ": too many extents"
					}
					out = append(out, decodeExtent(b[hdr+16*k:]))
				}
				return ""
			}
			ptrs := make([]uint64, nr)
			for k := range nr {
				ptrs[k] = be.Uint64(b[hdr+maxr*8+8*k:])
			}
			for _, p := range ptrs {
				if why := visit(p, lv-1); why != "" {
					return why
				}
			}
			return ""
		}
		for k := range nr {
			if why := visit(be.Uint64(fork[4+maxr*8+8*k:]), level-1); why != "" {
				return out, why
			}
		}
		return out, ""
	}
	return nil, ""
}

// checkLongBlock verifies a long-form (inode fork) B+tree block header.
func (v *Volume) checkLongBlock(b []byte, magic uint32, ino uint64, off int64) string {
	if m := be.Uint32(b); m != magic {
		return fmt.Sprintf("magic %#x, want %#x", m, magic)
	}
	if !v.v5 {
		return ""
	}
	if !bytes.Equal(b[40:56], v.sb.MetaUUID[:]) {
		return "UUID is not this filesystem's (foreign block)"
	}
	if !crcOK(b, 64) {
		return fmt.Sprintf("CRC %#08x does not match its contents (%#08x)", binary.LittleEndian.Uint32(b[64:]), crcOf(b, 64))
	}
	if d := be.Uint64(b[24:]); d != uint64(off/512) {
		return fmt.Sprintf("records its address as sector %d, lies at %d (misplaced)", d, off/512)
	}
	if ino != 0 {
		if o := be.Uint64(b[56:]); o != ino {
			return fmt.Sprintf("owner inode %d, expected %d", o, ino)
		}
	}
	v.seeLSN(be.Uint64(b[32:]))
	return ""
}

// ensureWalk reads every in-use inode's forks and every directory once.
func (v *Volume) ensureWalk() *walkState {
	if v.walk != nil {
		return v.walk
	}
	w := &walkState{inodes: map[uint64]inodeInfo{}, parent: map[uint64]dent{}, refs: map[uint64]uint32{}, complete: true,
		budget: v.imgSize/v.bs + 1024}
	v.walk = w
	defer v.notJudging()()
	v.mapAll()
	isz := int64(v.sb.InodeSize)
	buf := make([]byte, 64*isz)
	for a := range v.maps {
		m := v.maps[a]
		if !m.complete {
			w.complete = false
		}
		for _, c := range m.chunks {
			off := v.agOff(uint32(a), c.start)
			if !v.spend(w) {
				break
			}
			n := min(int64(len(buf)), int64(v.agLen(uint32(a))-c.start)*v.bs)
			chunk := buf[:max(n, 0)]
			if err := v.readAt(chunk, off); err != nil {
				v.problem("xfs-inode-unreadable", fs.Error, off, "inode chunk at agino %d of AG %d: %v", c.ino, a, err)
				w.complete = false
				continue
			}
			for k := range 64 {
				if c.hole&(1<<(k/4)) != 0 || c.free&(1<<k) != 0 || int64(k+1)*isz > int64(len(chunk)) {
					continue
				}
				ino := v.inoOf(uint32(a), c.ino+uint32(k))
				v.walkInode(w, chunk[int64(k)*isz:int64(k+1)*isz], ino, off+int64(k)*isz)
			}
		}
	}
	v.walkDirs(w)
	sort.Slice(w.claims, func(i, j int) bool { return w.claims[i].fsb < w.claims[j].fsb })
	// Keep claims apart (shared reflink blocks: the first owner is named).
	out := w.claims[:0]
	for _, c := range w.claims {
		if k := len(out) - 1; k >= 0 && out[k].fsb+uint64(out[k].n) > c.fsb {
			p := out[k]
			if v.sb.RoCompat&roReflink == 0 {
				v.problem("xfs-extent-crosslink", fs.Error, v.fsbOffOr(c.fsb), "block %d claimed by inode %d and inode %d", c.fsb, p.ino, c.ino)
			}
			if p.fsb+uint64(p.n) >= c.fsb+uint64(c.n) {
				continue
			}
			cut := uint32(p.fsb + uint64(p.n) - c.fsb)
			c.fsb += uint64(cut)
			c.n -= cut
		}
		out = append(out, c)
	}
	w.claims = out
	v.checkClaims(w)
	v.checkLinks(w)
	return w
}

func (v *Volume) fsbOffOr(fsb uint64) int64 {
	if o, err := v.fsbOff(fsb); err == nil {
		return o
	}
	return -1
}

func (v *Volume) addClaim(w *walkState, fsb uint64, n uint32, kind uint8, ino uint64) {
	if len(w.claims) >= maxClaims {
		if w.complete {
			v.problem("xfs-too-large", fs.Warning, -1, "more than %d file extents; the rest are not mapped", maxClaims)
		}
		w.complete = false
		return
	}
	a, b := v.splitFSB(fsb)
	if a >= v.sb.AGCount || uint64(b)+uint64(n) > uint64(v.agLen(a)) || n == 0 {
		v.problem("xfs-extent-bad", fs.Error, -1, "inode %d: extent of %d blocks at fsb %d lies outside the filesystem", ino, n, fsb)
		return
	}
	w.claims = append(w.claims, claim{fsb: fsb, n: n, kind: kind, ino: ino})
}

// walkInode reads one in-use inode: its core, forks and claims.
func (v *Volume) walkInode(w *walkState, b []byte, ino uint64, off int64) {
	if why := v.coreOK(b, ino); why != "" {
		v.problem("xfs-inode-bad", fs.Error, off, "inode %d: %s", ino, why)
		w.complete = false
		return
	}
	v.seeTime(b, ino)
	mode := be.Uint16(b[2:])
	w.inodes[ino] = inodeInfo{mode: mode, nlink: be.Uint32(b[16:]), stamp: v.stampOf(b)}
	if b[4] == 1 {
		w.inodes[ino] = inodeInfo{mode: mode, nlink: uint32(be.Uint16(b[6:])), stamp: v.stampOf(b)}
	}
	data, attr := v.forks(b)
	dn, an := v.nextents(b)
	kind := uint8(kData)
	switch mode & sIFMT {
	case sIFDIR:
		kind = kDir
	case sIFLNK:
		kind = kSymlink
	}
	format := b[5]
	if be.Uint16(b[90:])&1 != 0 && kind == kData {
		// XFS_DIFLAG_REALTIME: the data fork maps the realtime device,
		// not this one.
		format = fmtDev
	}
	switch {
	case mode&sIFMT == sIFDIR && format == fmtLocal:
		size := be.Uint64(b[56:])
		if size > uint64(len(data)) {
			v.problem("xfs-dir-bad", fs.Error, off, "inode %d: short-form directory of %d bytes in a %d-byte fork", ino, size, len(data))
			w.complete = false
			return
		}
		w.dirs = append(w.dirs, dirInfo{ino: ino, local: append([]byte(nil), data[:size]...)})
	case format == fmtExtents || format == fmtBtree:
		exts, why := v.forkExtents(ino, data, format, dn, fmt.Sprintf("inode %d data fork", ino), func(fsb uint64) { v.addClaim(w, fsb, 1, kBmbt, ino) })
		if why != "" {
			v.problem("xfs-bmap-bad", fs.Error, off, "%s", why)
			w.complete = false
		}
		var dexts []extent
		leaf := uint64(32<<30) >> v.sb.BlockLog
		for _, e := range exts {
			v.addClaim(w, e.fsb, e.n, kind, ino)
			if kind == kDir && e.off < leaf {
				dexts = append(dexts, e)
			}
		}
		if kind == kDir {
			w.dirs = append(w.dirs, dirInfo{ino: ino, exts: dexts})
		}
	}
	if attr != nil && (b[83] == fmtExtents || b[83] == fmtBtree) {
		exts, why := v.forkExtents(ino, attr, b[83], an, fmt.Sprintf("inode %d attribute fork", ino), func(fsb uint64) { v.addClaim(w, fsb, 1, kAttrBmbt, ino) })
		if why != "" {
			v.problem("xfs-bmap-bad", fs.Error, off, "%s", why)
			w.complete = false
		}
		for _, e := range exts {
			v.addClaim(w, e.fsb, e.n, kAttr, ino)
		}
	}
}

// walkDirs reads every directory's entries: names for paths and
// references for link counts.
func (v *Volume) walkDirs(w *walkState) {
	ft := 0
	if v.sb.ftype() {
		ft = 1
	}
	add := func(dir, child uint64, name []byte) {
		if string(name) == "." || string(name) == ".." {
			return
		}
		if w.entries >= maxDirEntries {
			w.complete = false
			return
		}
		w.entries++
		w.refs[child]++
		if _, ok := w.parent[child]; !ok {
			w.parent[child] = dent{dir, string(name)}
		}
		if info, ok := w.inodes[child]; ok {
			if info.mode&sIFMT == sIFDIR {
				w.refs[dir]++ // the child's ".."
			}
		} else {
			v.problem("xfs-dir-entry-bad", fs.Error, -1, "directory inode %d: entry %q names inode %d, which is not an in-use inode", dir, name, child)
		}
	}
	dbs := v.bs << v.sb.DirBlkLog
	per := uint64(1) << v.sb.DirBlkLog
	buf := make([]byte, dbs)
	for _, d := range w.dirs {
		if d.local != nil {
			if why := parseShortDir(d.local, ft, func(child uint64, name []byte, _ byte) { add(d.ino, child, name) }); why != "" {
				v.problem("xfs-dir-bad", fs.Error, -1, "directory inode %d (short form): %s", d.ino, why)
				w.complete = false
			}
			continue
		}
		for _, e := range d.exts {
			if e.off%per != 0 || uint64(e.n)%per != 0 {
				// A directory block split over extents is not read: the
				// entries in it are missing, so link counts are not judged.
				w.complete = false
			}
			for k := (per - e.off%per) % per; k+per <= uint64(e.n); k += per {
				off, err := v.fsbOff(e.fsb + k)
				if err != nil || !v.spend(w) {
					break
				}
				if err := v.readAt(buf, off); err != nil {
					v.problem("xfs-dir-bad", fs.Error, off, "directory inode %d block %d: %v", d.ino, e.off+k, err)
					w.complete = false
					break
				}
				if why := v.parseDataBlock(buf, d.ino, off, ft, func(child uint64, name []byte, _ byte) { add(d.ino, child, name) }); why != "" {
					v.problem("xfs-dir-bad", fs.Error, off, "directory inode %d block %d: %s", d.ino, e.off+k, why)
					w.complete = false
				}
			}
		}
	}
	// Every directory must reach the root.
	for _, d := range w.dirs {
		if _, ok := v.pathOf(w, d.ino); !ok {
			v.problem("xfs-dir-cycle", fs.Error, -1, "directory inode %d does not lead back to the root (cycle or orphan)", d.ino)
		}
	}
}

// parseShortDir decodes a short-form directory.
func parseShortDir(b []byte, ft int, f func(ino uint64, name []byte, ftype byte)) string {
	if len(b) < 6 {
		return "header does not fit"
	}
	count, i8 := int(b[0]), b[1]
	isz := 4
	if i8 > 0 {
		isz = 8
	}
	pos := 2 + isz
	for k := range count {
		if pos+3 > len(b) {
			return fmt.Sprintf("entry %d runs past the fork", k)
		}
		nl := int(b[pos])
		end := pos + 3 + nl + ft + isz
		if nl == 0 || end > len(b) {
			return fmt.Sprintf("entry %d (name length %d) runs past the fork", k, nl)
		}
		name := b[pos+3 : pos+3+nl]
		var ftype byte
		if ft == 1 {
			ftype = b[pos+3+nl]
		}
		ib := b[pos+3+nl+ft : end]
		var ino uint64
		if isz == 8 {
			ino = be.Uint64(ib)
		} else {
			ino = uint64(be.Uint32(ib))
		}
		f(ino, name, ftype)
		pos = end
	}
	return ""
}

// parseDataBlock decodes one directory data block (block or data form).
func (v *Volume) parseDataBlock(b []byte, ino uint64, off int64, ft int, f func(ino uint64, name []byte, ftype byte)) string {
	mag := be.Uint32(b)
	hdr, end := 16, len(b)
	switch mag {
	case magDirB3, magDirD3:
		if !v.v5 {
			return fmt.Sprintf("v5 magic %#x on a v4 filesystem", mag)
		}
		if why := v.checkDir3(b, 4, 8, 24, 40, ino, off); why != "" {
			return why
		}
		v.seeLSN(be.Uint64(b[16:]))
		hdr = 64
	case magDirB2, magDirD2:
		if v.v5 {
			return fmt.Sprintf("v4 magic %#x on a v5 filesystem", mag)
		}
	default:
		return fmt.Sprintf("magic %#x is no directory data block", mag)
	}
	if mag == magDirB3 || mag == magDirB2 {
		cnt := int64(be.Uint32(b[len(b)-8:]))
		if cnt*8+8 > int64(len(b)-hdr) {
			return fmt.Sprintf("block tail counts %d leaf entries", cnt)
		}
		end = len(b) - 8 - int(cnt)*8
	}
	for pos := hdr; pos < end; {
		if pos+8 > end {
			return fmt.Sprintf("entry at %d runs past the data", pos)
		}
		if be.Uint16(b[pos:]) == 0xFFFF {
			n := int(be.Uint16(b[pos+2:]))
			if n < 8 || n%8 != 0 || pos+n > end {
				return fmt.Sprintf("free entry at %d has length %d", pos, n)
			}
			pos += n
			continue
		}
		if pos+11 > end {
			return fmt.Sprintf("entry at %d runs past the data", pos)
		}
		nl := int(b[pos+8])
		size := (8 + 1 + nl + ft + 2 + 7) &^ 7
		if nl == 0 || pos+size > end {
			return fmt.Sprintf("entry at %d (name length %d) runs past the data", pos, nl)
		}
		var ftype byte
		if ft == 1 {
			ftype = b[pos+9+nl]
		}
		f(be.Uint64(b[pos:]), b[pos+9:pos+9+nl], ftype)
		pos += size
	}
	return ""
}

// checkDir3 verifies a v5 directory/attribute block header: CRC at crcAt,
// self address at blknoAt, UUID at uuidAt, owner inode at ownerAt.
func (v *Volume) checkDir3(b []byte, crcAt, blknoAt, uuidAt, ownerAt int, ino uint64, off int64) string {
	if !crcOK(b, crcAt) {
		return fmt.Sprintf("CRC %#08x does not match its contents (%#08x)", binary.LittleEndian.Uint32(b[crcAt:]), crcOf(b, crcAt))
	}
	if !bytes.Equal(b[uuidAt:uuidAt+16], v.sb.MetaUUID[:]) {
		return "UUID is not this filesystem's (foreign block)"
	}
	if d := be.Uint64(b[blknoAt:]); d != uint64(off/512) {
		return fmt.Sprintf("records its address as sector %d, lies at %d (misplaced)", d, off/512)
	}
	if ino != 0 {
		if o := be.Uint64(b[ownerAt:]); o != ino {
			return fmt.Sprintf("owner inode %d, expected %d", o, ino)
		}
	}
	return ""
}

// pathOf returns the path of ino by its first directory entry, loop-safe.
func (v *Volume) pathOf(w *walkState, ino uint64) (string, bool) {
	if ino == v.sb.RootIno {
		return "/", true
	}
	var parts []string
	seen := map[uint64]bool{}
	for cur := ino; cur != v.sb.RootIno; {
		d, ok := w.parent[cur]
		if !ok || seen[cur] || len(parts) > maxPathDepth {
			return "", false
		}
		seen[cur] = true
		parts = append(parts, d.name)
		cur = d.parent
	}
	for i, j := 0, len(parts)-1; i < j; i, j = i+1, j-1 {
		parts[i], parts[j] = parts[j], parts[i]
	}
	return "/" + strings.Join(parts, "/"), true
}

// path names an inode: its path, or a description of a metadata inode.
func (v *Volume) path(ino uint64) string {
	var w *walkState
	if v.useRmap() {
		w = v.ensureNames()
	} else {
		w = v.ensureWalk()
	}
	if p, ok := v.pathOf(w, ino); ok {
		return p
	}
	return ""
}

func (v *Volume) metaInode(ino uint64) bool {
	s := v.sb
	return ino != 0 && (ino == s.RbmIno || ino == s.RsumIno || ino == s.UQuotIno || ino == s.GQuotIno || ino == s.PQuotIno) && ino != 0xFFFFFFFFFFFFFFFF
}

// checkClaims compares file extents with the AGs' free space.
func (v *Volume) checkClaims(w *walkState) {
	for _, c := range w.claims {
		a, b := v.splitFSB(c.fsb)
		m := v.agMapOf(a)
		for bno := b; bno < b+c.n; {
			s, next := m.find(bno)
			if s == nil {
				if next == ^uint32(0) || next >= b+c.n {
					break
				}
				bno = next
				continue
			}
			what := "free space"
			if s.kind != kFree {
				what = kindName[s.kind]
			}
			code := "xfs-extent-crosslink"
			if s.kind == kFree || s.kind == kAGFL {
				code = "xfs-extent-in-free"
			}
			v.problem(code, fs.Error, v.agOff(a, bno), "inode %d: %s blocks at fsb %d+%d lie in %s of AG %d", c.ino, kindName[c.kind], c.fsb, c.n, what, a)
			break
		}
	}
}

// checkLinks compares every in-use inode's link count with the directory
// entries naming it, when every directory was read.
func (v *Volume) checkLinks(w *walkState) {
	if !w.complete {
		v.notes = append(v.notes, "link counts not checked: the inode walk was incomplete")
		return
	}
	inos := make([]uint64, 0, len(w.inodes))
	for ino := range w.inodes {
		inos = append(inos, ino)
	}
	sort.Slice(inos, func(i, j int) bool { return inos[i] < inos[j] })
	for _, ino := range inos {
		info := w.inodes[ino]
		if v.metaInode(ino) {
			continue
		}
		want := w.refs[ino]
		if info.mode&sIFMT == sIFDIR {
			want++ // "."
			if ino == v.sb.RootIno {
				want++ // the root's ".." names itself
			}
		}
		if info.nlink == 0 && want == 0 {
			continue // unlinked while open: on the unlinked list
		}
		if info.nlink != want {
			off, _ := v.inoOff(ino)
			v.problem("xfs-nlink", fs.Error, off, "inode %d: link count %d, %d directory entries name it", ino, info.nlink, want)
		}
	}
}

// xfsTime decodes the inode timestamp at byte at of inode core b (bigtime
// when the inode's flags2 say so).
func (v *Volume) xfsTime(b []byte, at int) time.Time {
	if v.v5 && be.Uint64(b[120:])&(1<<3) != 0 {
		ns := be.Uint64(b[at:])
		return time.Unix(int64(ns/1e9)-(1<<31), int64(ns%1e9)).UTC()
	}
	return time.Unix(int64(int32(be.Uint32(b[at:]))), int64(be.Uint32(b[at+4:])%1e9)).UTC()
}

// inUse reads inode record's core when it is an inode of this filesystem
// that verifies (magic, and on v5 its CRC and number) and holds a file.
// It counts for no evidence.
func (v *Volume) inUse(record int64) []byte {
	if record <= 0 {
		return nil
	}
	off, err := v.inoOff(uint64(record))
	if err != nil {
		return nil
	}
	b := make([]byte, v.sb.InodeSize)
	if v.readAt(b, off) != nil || len(b) < v.coreSize() || be.Uint16(b) != 0x494E || be.Uint16(b[2:]) == 0 {
		return nil
	}
	if v.v5 && (!crcOK(b, 100) || be.Uint64(b[152:]) != uint64(record)) {
		return nil
	}
	return b
}

// Identity names which file inode record holds, beyond its number: its
// generation (di_gen, random per new inode under Linux) and on v5 its
// creation time (di_crtime). Two members whose inode N differs in identity
// hold two different files in it, whatever their names. false when the
// inode is not in use or does not verify.
func (v *Volume) Identity(record int64) (string, bool) {
	b := v.inUse(record)
	if b == nil {
		return "", false
	}
	id := fmt.Sprintf("generation %d", be.Uint32(b[92:]))
	if v.v5 {
		id += ", created " + v.xfsTime(b, 144).Format(time.RFC3339Nano)
	}
	return id, true
}

// Changed returns the change time (di_ctime) of inode record: the kernel
// sets it on every change, and no program can set it to another time.
func (v *Volume) Changed(record int64) (time.Time, bool) {
	b := v.inUse(record)
	if b == nil {
		return time.Time{}, false
	}
	return v.xfsTime(b, 48), true
}

// CommonBefore returns the latest change time among the inodes this
// volume and other (another member of a mirror) both hold in the same
// state: the same number, generation, creation time and change time to
// the nanosecond, among the inodes both have read. Both members shared
// their history up to the moment they diverged, so such an inode was last
// changed before that moment: the members diverged at or after the time
// returned. false when other is not XFS or no inode is shared.
func (v *Volume) CommonBefore(other fs.Volume) (time.Time, bool) {
	o, ok := other.(*Volume)
	if !ok || o == v {
		return time.Time{}, false
	}
	var best int64
	look := func(a, b map[uint64]inodeInfo) {
		for ino, x := range a {
			y, ok := b[ino]
			if ok && x.stamp == y.stamp && x.stamp.ctime%1e9 != 0 && x.stamp.ctime > best {
				best = x.stamp.ctime
			}
		}
	}
	if v.walk != nil && o.walk != nil {
		look(v.walk.inodes, o.walk.inodes)
	}
	look(v.touched, o.touched)
	if best == 0 {
		return time.Time{}, false
	}
	return time.Unix(0, best).UTC(), true
}
