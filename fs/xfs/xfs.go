// Package xfs reads the structures of an XFS filesystem image (v5 with
// CRCs, and v4 without) and checks their consistency, for mirrorchk: which
// file or structure owns a byte range, whether this copy of the range
// verifies on its own (CRC, UUID, self-address and LSN of every v5
// metadata block), and what the filesystem records about its last writer
// (the log head, the highest metadata LSN, inode times).
//
// Open is cheap: it reads the primary superblock, the AG headers and the
// log head. The block-to-owner map is built lazily: AG metadata (AG
// headers, free-space, inode, refcount and rmap B+trees, inode chunks,
// free extents) per allocation group on the first question about it; file
// blocks (data, directory, extent B+tree, attribute blocks) by the AG's
// rmap records when the filesystem has them (paths then come from a walk
// of the directory tree alone), else by one walk of every inode's forks
// and every directory the first time a range falls on a block no AG
// structure owns. Neither walk reads file data; both are bounded by a
// read budget and caps.
//
// It reads through an io.ReaderAt only and never writes. Damage is reported
// as fs.Problem values with stable codes prefixed "xfs-"; Open fails only
// when the primary superblock is not an XFS superblock.
package xfs

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"math/bits"
	"sort"
	"time"

	"github.com/mirrorchk/mirrorchk/fs"
)

// Limits that bound work and memory on damaged or huge filesystems.
const (
	maxProblemsPerCode = 20
	maxBtreeLevels     = 9
	maxClaims          = 4 << 20 // file extents kept from the inode walk
	maxSpansPerAG      = 1 << 20 // free extents and chunks kept per AG
	maxDirEntries      = 8 << 20 // directory entries kept for paths
	maxPathDepth       = 4096
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// FormatError is a structure that does not decode.
type FormatError struct {
	Off   int64 // byte offset in the filesystem
	Field string
	Msg   string
}

func (e *FormatError) Error() string {
	return fmt.Sprintf("xfs: %s at byte %#x: %s", e.Field, e.Off, e.Msg)
}

// Superblock is the decoded primary superblock (the fields mirrorchk uses).
type Superblock struct {
	BlockSize     uint32
	DBlocks       uint64
	UUID          [16]byte
	MetaUUID      [16]byte // the UUID stamped in metadata (sb_meta_uuid when INCOMPAT_META_UUID)
	LogStart      uint64   // fsb; 0 = external log
	RootIno       uint64
	RbmIno        uint64
	RsumIno       uint64
	AGBlocks      uint32
	AGCount       uint32
	LogBlocks     uint32
	VersionNum    uint16
	SectSize      uint16
	InodeSize     uint16
	InoPBlock     uint16
	BlockLog      uint8
	SectLog       uint8
	InodeLog      uint8
	InoPBLog      uint8
	AGBlkLog      uint8
	ICount        uint64
	IFree         uint64
	FDBlocks      uint64
	UQuotIno      uint64
	GQuotIno      uint64
	PQuotIno      uint64
	DirBlkLog     uint8
	LogSectSize   uint16
	Features2     uint32
	Compat        uint32
	RoCompat      uint32
	Incompat      uint32
	LogIncompat   uint32
	CRC           uint32
	LSN           uint64
	InoAlignMT    uint32
	SpinoAlign    uint32
	rawInprogress uint8
}

// Feature bits.
const (
	roFinobt     = 0x1
	roRmapbt     = 0x2
	roReflink    = 0x4
	incFtype     = 0x1
	incSpinodes  = 0x2
	incMetaUUID  = 0x4
	incBigtime   = 0x8
	incNrext64   = 0x20
	v2Ftype      = 0x200 // features2, v4
	versionNumLo = 0xF
)

// V5 reports a version 5 (CRC) superblock.
func (s *Superblock) V5() bool { return s.VersionNum&versionNumLo == 5 }

func (s *Superblock) ftype() bool {
	if s.V5() {
		return s.Incompat&incFtype != 0
	}
	return s.Features2&v2Ftype != 0
}

// ParseSuperblock decodes and validates an XFS superblock at byte off.
func ParseSuperblock(b []byte, off int64) (*Superblock, error) {
	if len(b) < 512 {
		return nil, &FormatError{off, "superblock", "short"}
	}
	be := binary.BigEndian
	if be.Uint32(b) != 0x58465342 {
		return nil, &FormatError{off, "sb_magicnum", fmt.Sprintf("%#x, not XFSB", be.Uint32(b))}
	}
	s := &Superblock{
		BlockSize: be.Uint32(b[4:]), DBlocks: be.Uint64(b[8:]),
		LogStart: be.Uint64(b[48:]), RootIno: be.Uint64(b[56:]), RbmIno: be.Uint64(b[64:]), RsumIno: be.Uint64(b[72:]),
		AGBlocks: be.Uint32(b[84:]), AGCount: be.Uint32(b[88:]), LogBlocks: be.Uint32(b[96:]),
		VersionNum: be.Uint16(b[100:]), SectSize: be.Uint16(b[102:]), InodeSize: be.Uint16(b[104:]), InoPBlock: be.Uint16(b[106:]),
		BlockLog: b[120], SectLog: b[121], InodeLog: b[122], InoPBLog: b[123], AGBlkLog: b[124], rawInprogress: b[126],
		ICount: be.Uint64(b[128:]), IFree: be.Uint64(b[136:]), FDBlocks: be.Uint64(b[144:]),
		UQuotIno: be.Uint64(b[160:]), GQuotIno: be.Uint64(b[168:]), InoAlignMT: be.Uint32(b[180:]),
		DirBlkLog: b[192], LogSectSize: be.Uint16(b[194:]), Features2: be.Uint32(b[200:]),
	}
	copy(s.UUID[:], b[32:48])
	s.MetaUUID = s.UUID
	if s.V5() {
		s.Compat, s.RoCompat, s.Incompat, s.LogIncompat = be.Uint32(b[208:]), be.Uint32(b[212:]), be.Uint32(b[216:]), be.Uint32(b[220:])
		s.CRC = binary.LittleEndian.Uint32(b[224:])
		s.SpinoAlign = be.Uint32(b[228:])
		s.PQuotIno = be.Uint64(b[232:])
		s.LSN = be.Uint64(b[240:])
		if s.Incompat&incMetaUUID != 0 {
			copy(s.MetaUUID[:], b[248:264])
		}
	}
	bad := func(field, msg string, a ...any) error {
		return &FormatError{off, field, fmt.Sprintf(msg, a...)}
	}
	switch v := s.VersionNum & versionNumLo; {
	case v != 4 && v != 5:
		return nil, bad("sb_versionnum", "version %d, not 4 or 5", v)
	case s.BlockLog < 9 || s.BlockLog > 16 || s.BlockSize != 1<<s.BlockLog:
		return nil, bad("sb_blocksize", "%d with blocklog %d", s.BlockSize, s.BlockLog)
	case s.SectLog < 9 || s.SectLog > 15 || uint32(s.SectSize) != 1<<s.SectLog || uint32(s.SectSize) > s.BlockSize:
		return nil, bad("sb_sectsize", "%d with sectlog %d", s.SectSize, s.SectLog)
	case s.InodeLog < 8 || s.InodeLog > 11 || uint32(s.InodeSize) != 1<<s.InodeLog || uint32(s.InodeSize) > s.BlockSize:
		return nil, bad("sb_inodesize", "%d with inodelog %d", s.InodeSize, s.InodeLog)
	case s.InoPBLog != s.BlockLog-s.InodeLog || uint32(s.InoPBlock) != 1<<s.InoPBLog:
		return nil, bad("sb_inopblock", "%d with inopblog %d", s.InoPBlock, s.InoPBLog)
	case s.AGBlocks < 16 || s.AGBlkLog > 31 || s.AGBlkLog != uint8(bits.Len32(s.AGBlocks-1)):
		return nil, bad("sb_agblocks", "%d with agblklog %d", s.AGBlocks, s.AGBlkLog)
	case s.AGCount == 0 || s.DBlocks == 0 || s.DBlocks > uint64(s.AGCount)*uint64(s.AGBlocks) || s.DBlocks <= uint64(s.AGCount-1)*uint64(s.AGBlocks):
		return nil, bad("sb_agcount", "%d AGs of %d blocks do not hold %d blocks", s.AGCount, s.AGBlocks, s.DBlocks)
	case s.DBlocks > 1<<52 || s.DBlocks<<s.BlockLog>>s.BlockLog != s.DBlocks:
		return nil, bad("sb_dblocks", "%d blocks", s.DBlocks)
	case s.DirBlkLog > 6 || s.BlockLog+s.DirBlkLog > 16:
		return nil, bad("sb_dirblklog", "%d", s.DirBlkLog)
	case s.LogStart != 0 && (s.LogBlocks == 0 || s.LogStart>>s.AGBlkLog >= uint64(s.AGCount) || uint64(s.LogStart&(1<<s.AGBlkLog-1))+uint64(s.LogBlocks) > uint64(s.AGBlocks)):
		return nil, bad("sb_logstart", "log at fsb %d for %d blocks lies outside its AG", s.LogStart, s.LogBlocks)
	}
	return s, nil
}

// crcOK verifies the little-endian CRC32c at b[at:at+4] over b with the
// field zeroed.
func crcOK(b []byte, at int) bool {
	if at+4 > len(b) {
		return false
	}
	return crcOf(b, at) == binary.LittleEndian.Uint32(b[at:])
}

func crcOf(b []byte, at int) uint32 {
	var zero [4]byte
	c := crc32.Update(0, castagnoli, b[:at])
	c = crc32.Update(c, castagnoli, zero[:])
	return crc32.Update(c, castagnoli, b[at+4:])
}

// Volume is an XFS filesystem as read. It implements fs.Volume.
type Volume struct {
	r       io.ReaderAt
	imgSize int64
	sb      *Superblock
	bs      int64 // block size
	v5      bool

	ags            []*agInfo // headers of every AG, read at Open
	maps           []*agMap  // per-AG owner maps, built on first use
	log            logInfo
	walk           *walkState // the inode walk, once run
	names          *walkState // the directory-tree walk (rmap mode), once run
	kinds          map[uint64]uint8
	touched        map[uint64]inodeInfo // inodes read in rmap mode
	checkedTouched bool
	// judging is set during Judge: the blocks it reads do not count for
	// Evidence, since check judges only one member of each group of
	// identical copies, and every member's evidence must come from the
	// same reads (Open and the walks Owners starts on every member).
	judging bool
	maxLSN  uint64
	latest  time.Time
	latestI uint64

	problems []fs.Problem
	pcount   map[string]int
	notes    []string
}

var _ fs.Volume = (*Volume)(nil)

// Open reads an XFS filesystem of size bytes through r: the primary
// superblock, every AG's AGF/AGI/AGFL and the log head.
func Open(r io.ReaderAt, size int64) (*Volume, error) {
	b := make([]byte, 512)
	if n, err := r.ReadAt(b, 0); n < len(b) {
		return nil, fmt.Errorf("xfs: reading the superblock: %w", errOr(err))
	}
	sb, err := ParseSuperblock(b, 0)
	if err != nil {
		return nil, err
	}
	v := &Volume{r: r, imgSize: size, sb: sb, bs: int64(sb.BlockSize), v5: sb.V5(), pcount: map[string]int{}, kinds: map[uint64]uint8{}, touched: map[uint64]inodeInfo{}}
	full := make([]byte, sb.SectSize)
	if err := v.readAt(full, 0); err == nil && v.v5 {
		if !crcOK(full, 224) {
			v.problem("xfs-sb-crc", fs.Error, 0, "primary superblock CRC %#08x does not match its contents (%#08x)", sb.CRC, crcOf(full, 224))
		}
		v.seeLSN(sb.LSN)
	}
	if !v.v5 {
		v.notes = append(v.notes, "XFS v4: no CRCs and no block LSNs, so copies are judged by magic numbers only and the log is the only ordering evidence (weaker)")
		v.problem("xfs-v4", fs.Info, -1, "XFS v4 filesystem (no metadata CRCs): structural evidence is weaker")
	}
	if sb.rawInprogress != 0 {
		v.problem("xfs-sb-inprogress", fs.Error, 0, "sb_inprogress is %d: mkfs did not finish", sb.rawInprogress)
	}
	if need := int64(sb.DBlocks) * v.bs; need > size {
		v.problem("xfs-truncated", fs.Error, -1, "the superblock counts %d bytes, the volume holds %d", need, size)
	}
	// Only the AGs that start inside the image are read; the count from
	// disk bounds nothing by itself.
	agBytes := int64(sb.AGBlocks) * v.bs
	nag := int(min(int64(sb.AGCount), (size+agBytes-1)/agBytes))
	v.maps = make([]*agMap, nag)
	v.ags = make([]*agInfo, nag)
	for a := range nag {
		v.ags[a] = v.readAGHeaders(uint32(a))
	}
	if nag < int(sb.AGCount) {
		v.problem("xfs-ag-missing", fs.Error, v.agOff(uint32(nag), 0), "AGs %d to %d lie past the end of the volume", nag, sb.AGCount-1)
	}
	v.readLog()
	v.checkCounts()
	return v, nil
}

func errOr(err error) error {
	if err == nil {
		return io.ErrUnexpectedEOF
	}
	return err
}

// Superblock returns the primary superblock.
func (v *Volume) Superblock() Superblock { return *v.sb }

// Type returns "xfs".
func (v *Volume) Type() string { return "xfs" }

// Size is the bytes the superblock counts (sb_dblocks blocks).
func (v *Volume) Size() int64 { return int64(v.sb.DBlocks) * v.bs }

// Problems returns what the consistency checks found so far: the
// superblock, every AG header, the free-space and inode B+trees of the AGs
// mapped, the log, and the inodes and directories once the inode walk ran.
func (v *Volume) Problems() []fs.Problem {
	v.mapAll()
	v.checkTouched()
	out := append([]fs.Problem(nil), v.problems...)
	var codes []string
	for c, n := range v.pcount {
		if n > maxProblemsPerCode {
			codes = append(codes, c)
		}
	}
	sort.Strings(codes)
	for _, c := range codes {
		sev := fs.Warning
		for _, p := range v.problems {
			if p.Code == c {
				sev = p.Severity
				break
			}
		}
		out = append(out, fs.Problem{Code: c, Severity: sev, Off: -1,
			Message: fmt.Sprintf("%d more problems of this kind not listed", v.pcount[c]-maxProblemsPerCode)})
	}
	return out
}

// Evidence returns what the filesystem records about its last writer:
// LogLSN is the LSN (cycle<<32 | block) of the last record at the log
// head, LogClean/Dirty whether that record is an unmount record with the
// tail at the head, MaxRecordLSN the highest LSN of the v5 metadata blocks
// read so far, Latest the latest inode time read.
func (v *Volume) Evidence() fs.Evidence {
	e := fs.Evidence{FreeClusters: -1, Latest: v.latest, LatestName: "latest inode time (modification or change) read"}
	if v.log.found {
		e.LogLSN = v.log.lastLSN
		e.LogName = "XFS log: LSN of the last record (cycle<<32|block)"
		clean := v.log.clean
		dirty := !clean
		e.LogClean, e.Dirty = &clean, &dirty
		e.Notes = append(e.Notes, v.log.describe())
	} else if v.log.why != "" {
		e.Notes = append(e.Notes, "log: "+v.log.why)
	}
	if v.v5 {
		e.MaxRecordLSN = v.maxLSN
		e.Notes = append(e.Notes, fmt.Sprintf("highest v5 metadata LSN read: %s", lsnString(v.maxLSN)))
	}
	var count, free int64
	for _, ag := range v.ags {
		if ag != nil && ag.agiOK {
			count += int64(ag.icount)
			free += int64(ag.ifree)
		}
	}
	e.Files = int(count - free)
	if !v.latest.IsZero() {
		e.Notes = append(e.Notes, fmt.Sprintf("latest inode time %s (inode %d)", v.latest.UTC().Format(time.RFC3339Nano), v.latestI))
	}
	e.Notes = append(e.Notes, v.notes...)
	return e
}

func lsnString(l uint64) string { return fmt.Sprintf("%d:%d", l>>32, uint32(l)) }

// nullLSN (NULLCOMMITLSN) is stamped in blocks written outside the log,
// such as remote attribute values: it orders nothing.
const nullLSN = ^uint64(0)

func (v *Volume) seeLSN(l uint64) {
	if v.v5 && l != nullLSN && !v.judging {
		v.maxLSN = max(v.maxLSN, l)
	}
}

func (v *Volume) problem(code, sev string, off int64, format string, args ...any) {
	v.pcount[code]++
	if v.pcount[code] > maxProblemsPerCode {
		return
	}
	v.problems = append(v.problems, fs.Problem{Code: code, Severity: sev, Off: off, Message: fmt.Sprintf(format, args...)})
}

// readAt reads len(b) bytes at volume offset off; bytes past the image
// read as zero and give an error.
func (v *Volume) readAt(b []byte, off int64) error {
	if off < 0 {
		return fmt.Errorf("negative offset %d", off)
	}
	n := 0
	if off < v.imgSize {
		want := min(int64(len(b)), v.imgSize-off)
		var err error
		n, err = v.r.ReadAt(b[:want], off)
		if n < int(want) {
			clear(b[n:])
			return fmt.Errorf("read %d bytes at %#x: %w", len(b), off, errOr(err))
		}
	}
	if n < len(b) {
		clear(b[n:])
		return fmt.Errorf("%d bytes at %#x past the end of the %#x-byte image", len(b), off, v.imgSize)
	}
	return nil
}

var errRange = errors.New("block outside the filesystem")

// Geometry helpers. An fsb is agno<<agblklog | agbno.

func (v *Volume) agOff(agno, agbno uint32) int64 {
	return (int64(agno)*int64(v.sb.AGBlocks) + int64(agbno)) * v.bs
}

func (v *Volume) fsbOff(fsb uint64) (int64, error) {
	ag, bno := v.splitFSB(fsb)
	if uint64(ag) >= uint64(v.sb.AGCount) || bno >= v.sb.AGBlocks {
		return 0, errRange
	}
	return v.agOff(ag, bno), nil
}

func (v *Volume) splitFSB(fsb uint64) (uint32, uint32) {
	return uint32(fsb >> v.sb.AGBlkLog), uint32(fsb & (1<<v.sb.AGBlkLog - 1))
}

func (v *Volume) fsb(agno, agbno uint32) uint64 {
	return uint64(agno)<<v.sb.AGBlkLog | uint64(agbno)
}

// agLen is the number of blocks of AG a (the last may be short).
func (v *Volume) agLen(a uint32) uint32 {
	if a+1 == v.sb.AGCount {
		return uint32(v.sb.DBlocks - uint64(a)*uint64(v.sb.AGBlocks))
	}
	return v.sb.AGBlocks
}

// Inode numbers: agno << (agblklog+inopblog) | agbno << inopblog | slot.

func (v *Volume) inoSplit(ino uint64) (agno, agbno, slot uint32) {
	s := v.sb.InoPBLog
	return uint32(ino >> (s + v.sb.AGBlkLog)), uint32(ino >> s & (1<<v.sb.AGBlkLog - 1)), uint32(ino & (1<<s - 1))
}

func (v *Volume) inoOff(ino uint64) (int64, error) {
	a, b, s := v.inoSplit(ino)
	if a >= v.sb.AGCount || b >= v.agLen(a) {
		return 0, errRange
	}
	return v.agOff(a, b) + int64(s)*int64(v.sb.InodeSize), nil
}

func (v *Volume) inoOf(agno, agino uint32) uint64 {
	return uint64(agno)<<(v.sb.InoPBLog+v.sb.AGBlkLog) | uint64(agino)
}
