package xfs

import (
	"fmt"
	"sort"
	"strings"

	"github.com/mirrorchk/mirrorchk/fs"
)

// Segment kinds besides the span kinds.
const (
	segBeyond = 100 + iota
	segLost
	segClaim
)

type seg struct {
	off, n int64
	kind   int
	agno   uint32
	sp     *span
	c      *claim
}

// segments calls f for the consecutive segments covering [off, off+n): AG
// structures, file claims, allocated blocks nobody claims, and what lies
// beyond the filesystem.
func (v *Volume) segments(off, n int64, f func(seg)) {
	if n <= 0 {
		return
	}
	end := off + n
	if end < off {
		end = 1<<63 - 1
	}
	size := v.Size()
	for pos := off; pos < end; {
		var s seg
		switch {
		case pos < 0:
			s = seg{off: pos, n: min(end, 0) - pos, kind: segBeyond}
		case pos >= size:
			s = seg{off: pos, n: end - pos, kind: segBeyond}
		default:
			lin := pos / v.bs
			a := uint32(lin / int64(v.sb.AGBlocks))
			bno := uint32(lin % int64(v.sb.AGBlocks))
			agEnd := min(v.agOff(a, v.agLen(a)), size)
			m := v.agMapOf(a)
			sp, next := m.find(bno)
			if sp != nil {
				s = seg{off: pos, n: min(end, v.agOff(a, sp.start+sp.n)) - pos, kind: int(sp.kind), agno: a, sp: sp}
				break
			}
			stop := min(end, agEnd)
			if next != ^uint32(0) {
				stop = min(stop, v.agOff(a, next))
			}
			if v.useRmap() {
				c, nx, ok := v.rmapClaim(a, m, bno)
				if ok && c != nil {
					s = seg{off: pos, n: min(stop, v.agOff(a, bno)+int64(c.fsb+uint64(c.n)-v.fsb(a, bno))*v.bs) - pos, kind: segClaim, agno: a, c: c}
					break
				}
				if ok {
					if nx != ^uint32(0) {
						stop = min(stop, v.agOff(a, nx))
					}
					s = seg{off: pos, n: stop - pos, kind: segLost, agno: a}
					break
				}
			}
			w := v.ensureWalk()
			fsb := v.fsb(a, bno)
			i := sort.Search(len(w.claims), func(i int) bool { return w.claims[i].fsb+uint64(w.claims[i].n) > fsb })
			if i < len(w.claims) && w.claims[i].fsb <= fsb {
				c := &w.claims[i]
				s = seg{off: pos, n: min(stop, v.agOff(a, bno)+int64(c.fsb+uint64(c.n)-fsb)*v.bs) - pos, kind: segClaim, agno: a, c: c}
				break
			}
			if i < len(w.claims) {
				if ca, cb := v.splitFSB(w.claims[i].fsb); ca == a {
					stop = min(stop, v.agOff(a, cb))
				}
			}
			s = seg{off: pos, n: stop - pos, kind: segLost, agno: a}
		}
		if s.n <= 0 { // cannot happen; never loop
			s.n = end - pos
			s.kind = segBeyond
		}
		f(s)
		pos += s.n
	}
}

// Owners covers [off, off+n) with extents in order, split wherever the
// owner changes: the superblock and AG headers by sector, the AG B+trees,
// inode chunk slots (Record = inode number, Path = its path), file data,
// directory, extent B+tree and attribute blocks of a path, the log, free
// space, allocated blocks nothing was found to own (fs.LostClusters), and
// fs.BeyondVolume. An in-use inode is "inode chunk slot N" (N its slot in
// its 64-inode chunk) with its path; free slots are "inode chunk, free
// slot" with the inode number in Record.
func (v *Volume) Owners(off, n int64) []fs.Extent {
	var out []fs.Extent
	add := func(off, n int64, o fs.Owner) {
		if k := len(out) - 1; k >= 0 && out[k].Off+out[k].Len == off {
			p := out[k].Owner
			if p.Structure == o.Structure && p.Path == o.Path && p.Record == o.Record && (p.Cluster < 0) == (o.Cluster < 0) {
				out[k].Len += n
				return
			}
		}
		out = append(out, fs.Extent{Off: off, Len: n, Owner: o})
	}
	ss := int64(v.sb.SectSize)
	isz := int64(v.sb.InodeSize)
	v.segments(off, n, func(s seg) {
		o := fs.Owner{FS: "xfs", Record: -1, Cluster: -1}
		if s.kind == segBeyond {
			o.Structure = fs.BeyondVolume
			add(s.off, s.n, o)
			return
		}
		cluster := func(pos int64) int64 {
			lin := pos / v.bs
			return int64(v.fsb(uint32(lin/int64(v.sb.AGBlocks)), uint32(lin%int64(v.sb.AGBlocks))))
		}
		base := v.agOff(s.agno, 0)
		switch s.kind {
		case kHeader:
			for pos, end := s.off, s.off+s.n; pos < end; {
				sec := (pos - base) / ss
				e := min(end, base+(sec+1)*ss)
				name := fmt.Sprintf("AG %d headers, unused", s.agno)
				switch sec {
				case 0:
					name = "superblock"
					if s.agno > 0 {
						name = fmt.Sprintf("superblock copy of AG %d", s.agno)
					}
				case 1:
					name = fmt.Sprintf("AGF of AG %d", s.agno)
				case 2:
					name = fmt.Sprintf("AGI of AG %d", s.agno)
				case 3:
					name = fmt.Sprintf("AGFL of AG %d", s.agno)
				default:
					e = end
				}
				add(pos, e-pos, fs.Owner{FS: "xfs", Structure: name, Record: -1, Cluster: cluster(pos)})
				pos = e
			}
			return
		case kChunk:
			sp := s.sp
			for pos, end := s.off, s.off+s.n; pos < end; {
				rel := pos - base
				agino := uint32(rel / isz)
				e := min(end, base+int64(agino+1)*isz)
				slot := agino - sp.ino
				ino := v.inoOf(s.agno, agino)
				o := fs.Owner{FS: "xfs", Record: int64(ino), Cluster: cluster(pos)}
				switch {
				case slot >= 64:
					o.Structure = "inode chunk"
				case sp.hole&(1<<(slot/4)) != 0:
					// Unnumbered, so that a report lists the free slots
					// once; Record holds the inode number.
					o.Structure = "inode chunk, sparse hole"
				case sp.free&(1<<slot) != 0:
					o.Structure = "inode chunk, free slot"
				default:
					o.Structure = fmt.Sprintf("inode chunk slot %d", slot)
					o.Path = v.path(ino)
				}
				add(pos, e-pos, o)
				pos = e
			}
			return
		case segClaim:
			o.Structure, o.Record = kindName[s.c.kind], int64(s.c.ino)
			o.Path = v.path(s.c.ino)
			if o.Path == "" {
				o.Path = v.metaName(s.c.ino)
			}
		case segLost:
			o.Structure = fs.LostClusters
		default:
			o.Structure = kindName[s.kind]
		}
		o.Cluster = cluster(s.off)
		add(s.off, s.n, o)
	})
	return out
}

func (v *Volume) metaName(ino uint64) string {
	switch ino {
	case v.sb.RbmIno:
		return "(realtime bitmap inode)"
	case v.sb.RsumIno:
		return "(realtime summary inode)"
	case v.sb.UQuotIno:
		return "(user quota inode)"
	case v.sb.GQuotIno:
		return "(group quota inode)"
	case v.sb.PQuotIno:
		return "(project quota inode)"
	}
	return ""
}

// judgement accumulates the checks of one Judge call.
type judgement struct {
	head    uint64 // the log's last record LSN; no structure may carry a later one
	intact  int
	lsn     uint64
	fails   []string
	nfail   int
	checked []string
	nok     int
}

func (j *judgement) ok(what string, lsn uint64) {
	if lsn == nullLSN {
		lsn = 0 // unlogged (remote attribute values): no order
	}
	if j.head > 0 && lsn > j.head {
		// Nothing is written back after the log's last record: a block
		// claiming so is damaged (the kernel refuses it at recovery).
		j.fail(fmt.Sprintf("%s: LSN %s lies ahead of the log head %s", what, lsnString(lsn), lsnString(j.head)))
		return
	}
	if j.intact == 0 {
		j.intact = 1
	}
	j.lsn = max(j.lsn, lsn)
	j.nok++
	if len(j.checked) < 3 {
		j.checked = append(j.checked, what)
	}
}

func (j *judgement) fail(why string) {
	j.intact = -1
	j.nfail++
	if len(j.fails) < 4 {
		j.fails = append(j.fails, why)
	}
}

func (j *judgement) result(v4 bool) fs.Judgement {
	r := fs.Judgement{Intact: j.intact, LSN: j.lsn}
	switch {
	case j.nfail > 0:
		r.Reason = strings.Join(j.fails, "; ")
		if j.nfail > len(j.fails) {
			r.Reason += fmt.Sprintf("; and %d more failures", j.nfail-len(j.fails))
		}
		if j.nok > 0 {
			r.Reason += fmt.Sprintf(" (%d structures verify)", j.nok)
		}
	case j.nok > 0:
		r.Reason = strings.Join(j.checked, ", ") + " verify"
		if j.nok > len(j.checked) {
			r.Reason = fmt.Sprintf("%s and %d more structures verify", strings.Join(j.checked, ", "), j.nok-len(j.checked))
		}
		if v4 {
			r.Reason += " (XFS v4: magic numbers only, no CRC)"
		}
	default:
		r.Reason = "no structure to check"
	}
	return r
}

// Judge checks this volume's copy of [off, off+n): on v5 the CRC, UUID,
// self address and owner of every metadata block, sector and inode in the
// range (superblock, AG headers, B+tree blocks, inodes, directory,
// attribute and symlink blocks), and the log record headers (LSN matching
// their place, UUID). LSN is the highest LSN among those that verify. On
// v4 only magic numbers are checked and no LSN exists but the log's.
func (v *Volume) Judge(off, n int64) fs.Judgement {
	v.judging = true
	defer func() { v.judging = false }()
	var j judgement
	if v.log.found && v.v5 {
		j.head = v.log.lastLSN
	}
	ss := int64(v.sb.SectSize)
	isz := int64(v.sb.InodeSize)
	v.segments(off, n, func(s seg) {
		if s.kind == segBeyond || s.off >= v.imgSize {
			return
		}
		s.n = min(s.n, v.imgSize-s.off)
		base := v.agOff(s.agno, 0)
		switch s.kind {
		case kHeader:
			b := make([]byte, ss)
			for sec := (s.off - base) / ss; base+sec*ss < s.off+s.n && sec < 4; sec++ {
				so := base + sec*ss
				if v.readAt(b, so) != nil {
					continue
				}
				v.judgeHeader(&j, b, s.agno, sec, so)
			}
		case kFreeBT, kInoBT, kRefcBT, kRmapBT:
			b := make([]byte, v.bs)
			for bo := s.off - (s.off-base)%v.bs; bo < s.off+s.n; bo += v.bs {
				if v.readAt(b, bo) != nil {
					continue
				}
				what := fmt.Sprintf("%s block at fsb %d", kindName[s.kind], v.fsb(s.agno, uint32((bo-base)/v.bs)))
				if why := v.checkShortBlock(b, s.sp.magic, s.agno, bo); why != "" {
					j.fail(what + ": " + why)
				} else {
					j.ok(what, v.lsnAt(b, 24))
				}
			}
		case kChunk:
			b := make([]byte, isz)
			for io := s.off - (s.off-base)%isz; io < s.off+s.n; io += isz {
				agino := uint32((io - base) / isz)
				slot := agino - s.sp.ino
				if slot < 64 && s.sp.hole&(1<<(slot/4)) != 0 {
					continue
				}
				if v.readAt(b, io) != nil {
					continue
				}
				ino := v.inoOf(s.agno, agino)
				if why := v.coreOK(b, ino); why != "" {
					j.fail(fmt.Sprintf("inode %d: %s", ino, why))
				} else {
					if slot < 64 && s.sp.free&(1<<slot) == 0 {
						v.seeTime(b, ino)
					}
					j.ok(fmt.Sprintf("inode %d", ino), v.lsnAt(b, 112))
				}
			}
		case kLog:
			v.judgeLog(&j, s.off, s.n)
		case segClaim:
			v.judgeClaim(&j, s)
		}
	})
	return j.result(!v.v5)
}

func (v *Volume) lsnAt(b []byte, at int) uint64 {
	if !v.v5 {
		return 0
	}
	return be.Uint64(b[at:])
}

func (v *Volume) judgeHeader(j *judgement, b []byte, a uint32, sec, off int64) {
	switch sec {
	case 0:
		what := "superblock"
		if a > 0 {
			what = fmt.Sprintf("superblock copy of AG %d", a)
		}
		if _, err := ParseSuperblock(b, off); err != nil {
			j.fail(what + ": " + err.Error())
		} else if v.v5 && !crcOK(b, 224) {
			j.fail(fmt.Sprintf("%s: CRC does not match its contents", what))
		} else {
			j.ok(what, v.lsnAt(b, 240))
		}
	case 1:
		if why := v.checkHeader(b, 0x58414746, 216, 64, 208, a, off); why != "" {
			j.fail(fmt.Sprintf("AGF of AG %d: %s", a, why))
		} else {
			j.ok(fmt.Sprintf("AGF of AG %d", a), v.lsnAt(b, 208))
		}
	case 2:
		if why := v.checkHeader(b, 0x58414749, 312, 296, 320, a, off); why != "" {
			j.fail(fmt.Sprintf("AGI of AG %d: %s", a, why))
		} else {
			j.ok(fmt.Sprintf("AGI of AG %d", a), v.lsnAt(b, 320))
		}
	case 3:
		if !v.v5 {
			return // a v4 AGFL has no header
		}
		if why := v.checkHeader(b, 0x5841464C, 32, 8, 24, a, off); why != "" {
			j.fail(fmt.Sprintf("AGFL of AG %d: %s", a, why))
		} else {
			j.ok(fmt.Sprintf("AGFL of AG %d", a), v.lsnAt(b, 24))
		}
	}
}

// judgeLog checks the log blocks in [off, off+n). Every 512-byte log
// block carries the cycle it was written in (a record header in h_cycle,
// every other block in its first word), so the copy of a block written in
// the later cycle is the later one: its LSN here is cycle<<32 | block.
// Record headers are also checked: the LSN they carry must name their own
// block and cycle, and their UUID this filesystem's. Blocks of cycle 0
// were never written by a mount (mkfs stamps the log with cycle 0).
func (v *Volume) judgeLog(j *judgement, off, n int64) {
	l := &v.log
	if l.nbb == 0 {
		return
	}
	start := max(off-(off-l.off)%512, l.off)
	end := min(off+n, l.off+l.nbb*512)
	buf := make([]byte, 64<<10)
	for pos := start; pos < end; pos += int64(len(buf)) {
		b := buf[:min(int64(len(buf)), (end-pos+511)/512*512)]
		if v.readAt(b, pos) != nil {
			continue
		}
		for k := 0; k+512 <= len(b); k += 512 {
			h := b[k:]
			bb := (pos + int64(k) - l.off) / 512
			if be.Uint32(h) != logMagic {
				if c := be.Uint32(h); c > 0 && c <= l.headCycle {
					j.lsn = max(j.lsn, uint64(c)<<32|uint64(bb))
				}
				continue
			}
			lsn := be.Uint64(h[16:])
			if lsn>>32 == 0 {
				continue
			}
			what := fmt.Sprintf("log record header at block %d (LSN %s)", bb, lsnString(lsn))
			switch {
			case uint32(lsn) != uint32(bb) || be.Uint32(h[4:]) != uint32(lsn>>32):
				j.fail(what + ": LSN does not name its own block and cycle")
			case string(h[304:320]) != string(v.sb.UUID[:]):
				j.fail(what + ": UUID is not this filesystem's (foreign record)")
			default:
				j.ok(what, lsn)
			}
		}
	}
}

// Directory, attribute and symlink block magics.
const (
	magDirF3    = 0x58444633 // XDF3
	magDirF2    = 0x58443246 // XD2F
	magAttrRmt  = 0x5841524D // XARM
	magSymlink  = 0x58534C4D // XSLM
	daLeaf1V5   = 0x3DF1
	daLeafNV5   = 0x3DFF
	daNodeV5    = 0x3EBE
	daAttrV5    = 0x3BEE
	daLeaf1V4   = 0xD2F1
	daLeafNV4   = 0xD2FF
	daNodeV4    = 0xFEBE
	daAttrLeaf4 = 0xFBEE
)

// judgeClaim checks the file-owned metadata blocks of a claim in range.
func (v *Volume) judgeClaim(j *judgement, s seg) {
	c := s.c
	switch c.kind {
	case kData:
		return
	case kDir:
		if v.sb.DirBlkLog != 0 {
			return // directory blocks span several filesystem blocks: checked by the walk
		}
	}
	base := v.agOff(s.agno, 0)
	b := make([]byte, v.bs)
	for bo := s.off - (s.off-base)%v.bs; bo < s.off+s.n; bo += v.bs {
		if v.readAt(b, bo) != nil {
			continue
		}
		fsb := v.fsb(s.agno, uint32((bo-base)/v.bs))
		what := fmt.Sprintf("%s block at fsb %d of inode %d", kindName[c.kind], fsb, c.ino)
		var why string
		var lsn uint64
		checked := true
		switch c.kind {
		case kBmbt, kAttrBmbt:
			mag := uint32(magBmbtV4)
			if v.v5 {
				mag = magBmbt
			}
			why, lsn = v.checkLongBlock(b, mag, c.ino, bo), v.lsnAt(b, 32)
		default:
			why, lsn, checked = v.checkFileBlock(b, c.kind, c.ino, bo)
			if checked && why == "" {
				v.seeLSN(lsn)
			}
		}
		switch {
		case !checked:
		case why != "":
			j.fail(what + ": " + why)
		default:
			j.ok(what, lsn)
		}
	}
}

// checkFileBlock checks a directory, attribute or symlink block by the
// header its magic announces; checked is false when no header applies
// (v4 remote values and symlinks, which have none).
func (v *Volume) checkFileBlock(b []byte, kind uint8, ino uint64, off int64) (why string, lsn uint64, checked bool) {
	m32, m16 := be.Uint32(b), be.Uint16(b[8:])
	if !v.v5 {
		switch {
		case kind == kDir && (m32 == magDirB2 || m32 == magDirD2 || m32 == magDirF2 || m16 == daLeaf1V4 || m16 == daLeafNV4 || m16 == daNodeV4):
			return "", 0, true
		case kind == kDir:
			return fmt.Sprintf("no directory block magic (%#x)", m32), 0, true
		case kind == kAttr && (m16 == daAttrLeaf4 || m16 == daNodeV4):
			return "", 0, true
		}
		return "", 0, false
	}
	switch {
	case kind == kDir && (m32 == magDirB3 || m32 == magDirD3 || m32 == magDirF3):
		return v.checkDir3(b, 4, 8, 24, 40, ino, off), be.Uint64(b[16:]), true
	case (kind == kDir && (m16 == daLeaf1V5 || m16 == daLeafNV5 || m16 == daNodeV5)) || (kind == kAttr && (m16 == daAttrV5 || m16 == daNodeV5)):
		return v.checkDir3(b, 12, 16, 32, 48, ino, off), be.Uint64(b[24:]), true
	case kind == kAttr && m32 == magAttrRmt, kind == kSymlink && m32 == magSymlink:
		return v.checkDir3(b, 12, 40, 16, 32, ino, off), be.Uint64(b[48:]), true
	case kind == kAttr:
		// Remote value blocks after the first carry their own header
		// only when they start a value; a block in the middle of a
		// multi-block remote value is raw data.
		return "", 0, false
	}
	return fmt.Sprintf("magic %#x is no %s block", m32, kindName[kind]), 0, true
}
