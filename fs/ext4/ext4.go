// Package ext4 reads the structures of an ext2, ext3 or ext4 filesystem
// image and checks their consistency, for mirrorchk: which file or
// structure owns a byte range, whether this copy of the range verifies on
// its own (metadata_csum checksums, magics, directory entry chains), and
// what the filesystem records about its last writer (superblock times and
// counts, the jbd2 journal's sequence, the state flags).
//
// It reads through an io.ReaderAt only and never writes. Open reads the
// superblock, the group descriptors, the journal's superblock and the
// journal inode's block map: its cost grows with the number of groups, not
// with the files. Owners maps blocks to inodes lazily: a block that the
// allocation bitmap marks in use is looked up by reading the inode tables
// of the groups nearest to it, one group at a time, until an inode claims
// it; each group's inodes are read at most once, and the reverse map holds
// only the block runs of the inodes read (at most maxRuns runs). Paths are
// found the same way, reading the directories of the inode's own group
// first. The bound: each used inode table is read at most once (the part
// itable_unused marks unused is skipped) and every directory at most once;
// memory is at most maxRuns block runs, maxTracked inodes and maxNames
// names, past which owners are reported as not searched. When a block's
// owner lies in another flex group than the block (mkfs -d lays inodes and
// data out apart), most inode tables may be read even for a few blocks.
// Damage is reported as fs.Problem values with stable codes ("ext4-…");
// Open fails only when no superblock (primary or the first backup) is an
// ext2/3/4 superblock this reader can follow.
package ext4

import (
	"fmt"
	"io"
	"slices"
	"sort"
	"time"

	"github.com/mirrorchk/mirrorchk/fs"
)

// Bounds on what is read and kept.
const (
	maxProblemsPerCode = 20
	maxGroups          = 1 << 20  // descriptors read (a 128 TiB filesystem with 4 KiB blocks)
	maxRuns            = 1 << 21  // block runs kept in the reverse map
	maxTracked         = 1 << 21  // in-use inodes remembered from the inode tables read
	maxNames           = 1 << 21  // directory entries remembered
	maxMapBlocks       = 1 << 20  // extent and indirect blocks read for one inode
	maxDirBlocks       = 1 << 16  // blocks read of one directory
	maxPathDepth       = 4096     // components of one path
	maxTableRead       = 1 << 20  // bytes of an inode table read at once
	maxBitmapCheck     = 16 << 20 // bitmap bytes the free-count check reads at most
	maxFullDirs        = 1 << 20  // in-use inodes up to which the link check reads every directory
)

// Structure names of this reader.
const (
	BootBlock      = "boot block"
	Superblock0    = "superblock"
	GroupDescs     = "group descriptors"
	ReservedGDT    = "reserved GDT blocks"
	InodeTable     = "inode table"
	JournalSuper   = "journal superblock"
	Journal        = "journal"
	JournalMap     = "journal block map (extent tree or indirect block)"
	ExtentTree     = "extent tree block"
	IndirectBlock  = "indirect block"
	XattrBlock     = "extended attribute block"
	AllocatedNoOwn = "allocated blocks (owner not searched: reverse-map bound reached)"
)

// metadata kinds
const (
	mBoot = iota
	mSuper
	mGDT
	mResGDT
	mBlockBitmap
	mInodeBitmap
	mInodeTable
	mJournal
	mJournalTree
)

type metaRun struct {
	start, n uint64 // blocks
	kind     uint8
	group    int64  // group of the structure; for mGDT the first group it describes
	logical  uint64 // for mJournal: journal block of start
}

// block run kinds of the reverse map
const (
	rData = iota
	rDir
	rExtent
	rIndirect
	rXattr
)

type revRun struct {
	start, n uint64
	logical  uint64
	ino      uint32
	kind     uint8
}

type inodeInfo struct {
	mode   uint16
	links  uint16
	flags  uint32
	gen    uint32
	group  int64
	dtime  uint32
	size   uint64
	latest int64
	// stamp identifies the inode's last state: creation time and change
	// time with nanoseconds (see CommonBefore).
	crtime, crtimeNsec, ctimeNsec uint32
	runs                          []revRun // directories only: their blocks

	subdirs    int // entries naming directories, once scanned
	scannedDir bool
}

func (i *inodeInfo) isDir() bool { return i.mode&0xF000 == 0x4000 }

type dirent struct {
	parent uint32
	name   string
}

// Volume is an ext2/3/4 filesystem as read. It implements fs.Volume.
type Volume struct {
	r       io.ReaderAt
	imgSize int64
	sbRaw   []byte
	sb      *Superblock
	bs      int64
	groups  int64
	gds     []GroupDesc
	gdOK    []bool
	typ     string
	seed    uint32

	// FromBackup is set when the primary superblock was unusable and the
	// filesystem was opened from the backup in group 1.
	FromBackup bool

	meta []metaRun

	blockBM map[int64][]byte // nil entry: unreadable or uninitialised
	inodeBM map[int64][]byte

	scanned     []bool
	complete    []bool // groups whose in-use inodes were all read
	ncomplete   int64
	nscanned    int64
	rev         []revRun
	pending     []revRun // runs added since the last sort
	tbuf        []byte   // inode table buffer
	revFull     bool
	tracked     map[uint32]*inodeInfo
	dirsOf      map[int64][]uint32
	dirDone     map[uint32]bool
	dirsAll     int64 // groups whose directories have all been read
	dirScan     []bool
	dirsPartial bool // some directory could not be read whole
	names       map[uint32]dirent
	nameCount   map[uint32]int
	paths       map[uint32]string
	touched     map[uint32]bool
	bad         map[uint32]bool // inodes whose block map is damaged
	dups        [][3]uint64     // block, first and second claimant
	lost        []uint64        // in-use blocks no inode claims
	cleared     []uint32        // inodes marked in use whose inode is empty
	bmTouched   map[int64]bool  // groups whose block bitmap owns a differing range

	journal *journal
	jsb     []byte
	jseq    uint32
	jstart  uint32
	jlast   uint32 // last committed transaction seen in the log, 0 for none
	jcommit int

	problems  []fs.Problem
	lateList  []fs.Problem
	lateCount map[string]int
	pcount    map[string]int
	ev        fs.Evidence
	latest    int64
}

var _ fs.Volume = (*Volume)(nil)

// Superblock returns the superblock the filesystem was opened from.
func (v *Volume) Superblock() Superblock { return *v.sb }

// Type returns "ext2", "ext3" or "ext4".
func (v *Volume) Type() string { return v.typ }

// Size is the bytes the superblock counts.
func (v *Volume) Size() int64 { return int64(v.sb.BlocksCount) * v.bs }

// BlockSize is the block size in bytes.
func (v *Volume) BlockSize() int64 { return v.bs }

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
	if off < 0 || off > v.imgSize {
		clear(b)
		return fmt.Errorf("offset %#x outside the %#x-byte image", off, v.imgSize)
	}
	want := min(int64(len(b)), v.imgSize-off)
	n, err := v.r.ReadAt(b[:want], off)
	if n < int(want) {
		clear(b[n:])
		if err == nil {
			err = io.ErrUnexpectedEOF
		}
		return fmt.Errorf("read %d bytes at %#x: %w", len(b), off, err)
	}
	if int64(len(b)) > want {
		clear(b[want:])
		return fmt.Errorf("%d bytes at %#x past the end of the %#x-byte image", len(b), off, v.imgSize)
	}
	return nil
}

// block reads block n.
func (v *Volume) block(n uint64) ([]byte, error) {
	if n >= v.sb.BlocksCount {
		return nil, fmt.Errorf("block %d beyond the %d blocks", n, v.sb.BlocksCount)
	}
	b := make([]byte, v.bs)
	return b, v.readAt(b, int64(n)*v.bs)
}

// Open reads the filesystem of size bytes through r.
func Open(r io.ReaderAt, size int64) (*Volume, error) {
	v := &Volume{r: r, imgSize: size, pcount: map[string]int{},
		blockBM: map[int64][]byte{}, inodeBM: map[int64][]byte{},
		tracked: map[uint32]*inodeInfo{}, dirsOf: map[int64][]uint32{}, dirDone: map[uint32]bool{},
		names: map[uint32]dirent{}, nameCount: map[uint32]int{}, paths: map[uint32]string{},
		touched: map[uint32]bool{}, bmTouched: map[int64]bool{}, bad: map[uint32]bool{}}
	raw := make([]byte, 1024)
	if err := v.readAt(raw, 1024); err != nil {
		return nil, fmt.Errorf("ext4: superblock: %w", err)
	}
	sb, err := ParseSuperblock(raw, 1024)
	if err != nil {
		// The first backup, at the start of group 1, for the usual
		// geometries (8 blocks per bitmap bit byte).
		for _, bs := range []int64{1024, 2048, 4096, 65536} {
			off := 8 * bs * bs
			if bs == 1024 {
				off += bs
			}
			b := make([]byte, 1024)
			if v.readAt(b, off) != nil {
				continue
			}
			if s, e := ParseSuperblock(b, off); e == nil && s.BlockSize() == bs && s.BlockGroupNr == 1 {
				sb, raw, err = s, b, nil
				v.FromBackup = true
				v.problem("ext4-superblock-bad", fs.Error, 1024, "the primary superblock is unusable; read from the backup in group 1 at byte %#x", off)
				break
			}
		}
		if err != nil {
			return nil, err
		}
	}
	v.sb, v.sbRaw, v.bs = sb, raw, sb.BlockSize()
	if sb.Incompat&incompatJournalDev != 0 {
		return nil, &FormatError{1024 + 0x60, "s_feature_incompat", fmt.Sprintf("%#x", sb.Incompat), "is an external journal device, not a filesystem"}
	}
	if sb.RoCompat&roBigalloc != 0 {
		return nil, &FormatError{1024 + 0x64, "s_feature_ro_compat", fmt.Sprintf("%#x", sb.RoCompat), "has bigalloc, which this reader does not follow"}
	}
	v.groups = sb.Groups()
	ds := sb.DescriptorSize()
	if v.groups > maxGroups || v.groups*ds > size {
		return nil, &FormatError{1024 + 4, "s_blocks_count", sb.BlocksCount, fmt.Sprintf("gives %d groups, whose descriptors do not fit the %d-byte image", v.groups, size)}
	}
	v.seed = sb.csumSeed()
	switch {
	case sb.has(0, incompatExtents|incompat64bit|incompatFlexBG|incompatMetaBG|incompatCsumSeed|incompatInlineData, roHugeFile|roGdtCsum|roDirNlink|roExtraIsize|roMetaCsum):
		v.typ = "ext4"
	case sb.Compat&compatHasJournal != 0:
		v.typ = "ext3"
	default:
		v.typ = "ext2"
	}
	v.scanned = make([]bool, v.groups)
	v.complete = make([]bool, v.groups)
	v.dirScan = make([]bool, v.groups)

	if sb.RoCompat&roMetaCsum != 0 {
		if ok, got, want := superCsumOK(raw); !ok {
			v.problem("ext4-superblock-csum", fs.Error, 1024+0x3FC, "superblock checksum %#08x, computed %#08x", got, want)
		}
	}
	if sb.Incompat&incompatInlineData != 0 {
		v.problem("ext4-inline-data", fs.Info, 1024+0x60, "inline_data: files kept inside their inodes own no blocks")
	}
	v.readDescriptors()
	v.layout()
	v.readJournal()
	v.checkSuper()
	v.evidence()
	return v, nil
}

// groupStart is the first block of group g.
func (v *Volume) groupStart(g int64) uint64 {
	return uint64(g)*uint64(v.sb.BlocksPerGroup) + uint64(v.sb.FirstDataBlock)
}

// groupOf is the group of block b.
func (v *Volume) groupOf(b uint64) int64 {
	if b < uint64(v.sb.FirstDataBlock) {
		return 0
	}
	return int64((b - uint64(v.sb.FirstDataBlock)) / uint64(v.sb.BlocksPerGroup))
}

// descPerBlock is how many descriptors one block holds.
func (v *Volume) descPerBlock() int64 { return v.bs / v.sb.DescriptorSize() }

// gdtBlocks is the number of blocks the (non-meta_bg) descriptor table
// takes.
func (v *Volume) gdtBlocks() int64 {
	d := v.descPerBlock()
	n := (v.groups + d - 1) / d
	if v.sb.Incompat&incompatMetaBG != 0 {
		n = min(n, int64(v.sb.FirstMetaBG))
	}
	return n
}

// descBlock returns the block holding the primary descriptor of group g.
func (v *Volume) descBlock(g int64) uint64 {
	d := v.descPerBlock()
	blk := g / d
	if v.sb.Incompat&incompatMetaBG == 0 || blk < int64(v.sb.FirstMetaBG) {
		if v.FromBackup {
			// The copy after the backup superblock the volume was
			// opened from.
			return v.groupStart(1) + 1 + uint64(blk)
		}
		return uint64(v.sb.FirstDataBlock) + 1 + uint64(blk)
	}
	first := blk * d
	b := v.groupStart(first)
	if v.sb.hasSuper(first) {
		b++
	}
	return b
}

func (v *Volume) readDescriptors() {
	ds := v.sb.DescriptorSize()
	d := v.descPerBlock()
	v.gds = make([]GroupDesc, v.groups)
	v.gdOK = make([]bool, v.groups)
	var buf []byte
	cur := uint64(1<<64 - 1)
	for g := range v.groups {
		bn := v.descBlock(g)
		if bn != cur {
			cur = bn
			var err error
			buf, err = v.block(bn)
			if err != nil {
				v.problem("ext4-gdt-unreadable", fs.Error, int64(bn)*v.bs, "group descriptors of groups %d…: %v", g, err)
				buf = nil
			}
		}
		if buf == nil {
			continue
		}
		raw := buf[(g%d)*ds : (g%d+1)*ds]
		v.gds[g] = parseDesc(raw)
		v.gdOK[g] = true
		if want, ok := v.sb.descCsum(g, raw); ok && want != v.gds[g].Checksum {
			v.problem("ext4-gd-csum", fs.Error, int64(bn)*v.bs+(g%d)*ds+0x1E, "group %d descriptor checksum %#04x, computed %#04x", g, v.gds[g].Checksum, want)
		}
	}
}

// itableBlocks is the number of blocks of one inode table.
func (v *Volume) itableBlocks() uint64 {
	return uint64((int64(v.sb.InodesPerGroup)*int64(v.sb.InodeSize) + v.bs - 1) / v.bs)
}

// layout lists the metadata blocks: superblocks and descriptor tables with
// their backups, the reserved GDT blocks, bitmaps and inode tables.
func (v *Volume) layout() {
	sb := v.sb
	add := func(start, n uint64, kind uint8, g int64) {
		if n > 0 && start < sb.BlocksCount {
			v.meta = append(v.meta, metaRun{start: start, n: min(n, sb.BlocksCount-start), kind: kind, group: g})
		}
	}
	fdb := uint64(sb.FirstDataBlock)
	if fdb == 1 {
		add(0, 1, mBoot, 0)
	}
	metaBG := sb.Incompat&incompatMetaBG != 0
	d := v.descPerBlock()
	gdt := uint64(v.gdtBlocks())
	for g := range v.groups {
		s := v.groupStart(g)
		if sb.hasSuper(g) {
			add(s, 1, mSuper, g)
			add(s+1, gdt, mGDT, 0)
			if sb.Compat&compatResizeInode != 0 {
				add(s+1+gdt, uint64(sb.ReservedGDT), mResGDT, g)
			}
		}
		if metaBG && g/d >= int64(sb.FirstMetaBG) {
			if i := g % d; i == 0 || i == 1 || i == d-1 {
				b := s
				if sb.hasSuper(g) {
					b++
				}
				add(b, 1, mGDT, g/d*d)
			}
		}
	}
	for g := range v.groups {
		if !v.gdOK[g] {
			continue
		}
		gd := v.gds[g]
		add(gd.BlockBitmap, 1, mBlockBitmap, g)
		add(gd.InodeBitmap, 1, mInodeBitmap, g)
		add(gd.InodeTable, v.itableBlocks(), mInodeTable, g)
		for _, x := range []struct {
			b    uint64
			n    uint64
			what string
		}{{gd.BlockBitmap, 1, "block bitmap"}, {gd.InodeBitmap, 1, "inode bitmap"}, {gd.InodeTable, v.itableBlocks(), "inode table"}} {
			if x.b < fdb || x.b+x.n > sb.BlocksCount || x.b+x.n < x.b {
				v.problem("ext4-gd-bad", fs.Error, -1, "group %d: %s at block %d (%d blocks) lies outside the filesystem's %d blocks", g, x.what, x.b, x.n, sb.BlocksCount)
			}
		}
	}
	v.sortMeta()
}

func (v *Volume) sortMeta() {
	sort.SliceStable(v.meta, func(i, j int) bool { return v.meta[i].start < v.meta[j].start })
	// Overlaps: keep the first, report the rest.
	out := v.meta[:0]
	var end uint64
	for _, m := range v.meta {
		if len(out) > 0 && m.start < end {
			v.problem("ext4-meta-overlap", fs.Error, int64(m.start)*v.bs, "%s of group %d at block %d overlaps other metadata", metaName(m.kind), m.group, m.start)
			if m.start+m.n <= end {
				continue
			}
			m.n -= end - m.start
			m.start = end
		}
		out = append(out, m)
		end = m.start + m.n
	}
	v.meta = out
}

func metaName(k uint8) string {
	return [...]string{BootBlock, Superblock0, GroupDescs, ReservedGDT, "block bitmap", "inode bitmap", InodeTable, Journal, JournalMap}[k]
}

// findMeta returns the metadata run holding block b, or nil, and the
// start of the next run after b.
func (v *Volume) findMeta(b uint64) (*metaRun, uint64) {
	i := sort.Search(len(v.meta), func(i int) bool { return v.meta[i].start+v.meta[i].n > b })
	if i < len(v.meta) && v.meta[i].start <= b {
		return &v.meta[i], 0
	}
	if i < len(v.meta) {
		return nil, v.meta[i].start
	}
	return nil, v.sb.BlocksCount
}

// bitmap returns group g's block (inode false) or inode bitmap, nil when
// it is uninitialised or unreadable.
func (v *Volume) bitmap(g int64, inode bool) []byte {
	cache := v.blockBM
	if inode {
		cache = v.inodeBM
	}
	if b, ok := cache[g]; ok {
		return b
	}
	var b []byte
	if g >= 0 && g < v.groups && v.gdOK[g] {
		gd := v.gds[g]
		at, flag := gd.BlockBitmap, uint16(bgBlockUninit)
		if inode {
			at, flag = gd.InodeBitmap, bgInodeUninit
		}
		if gd.Flags&flag == 0 || !v.sb.has(0, 0, roGdtCsum|roMetaCsum) {
			var err error
			if b, err = v.block(at); err != nil {
				b = nil
			}
		}
	}
	cache[g] = b
	return b
}

// blockInUse reports whether block b is marked in use; known is false
// when the bitmap cannot be read (an uninitialised block bitmap marks only
// the group's own metadata, which findMeta covers).
func (v *Volume) blockInUse(b uint64) (used, known bool) {
	g := v.groupOf(b)
	bm := v.bitmap(g, false)
	if bm == nil {
		return false, v.gdOK[g] && v.gds[g].Flags&bgBlockUninit != 0
	}
	i := b - v.groupStart(g)
	return bm[i/8]&(1<<(i%8)) != 0, true
}

// Problems returns what the consistency checks found: those of Open and
// of the structures read since, then the checks of what Owners has
// touched (groups, inodes, directories), run afresh on each call.
func (v *Volume) Problems() []fs.Problem {
	v.lateList, v.lateCount = nil, map[string]int{}
	v.lateChecks()
	out := append(append([]fs.Problem(nil), v.problems...), v.lateList...)
	var codes []string
	total := map[string]int{}
	for c, n := range v.pcount {
		total[c] += n
	}
	for c, n := range v.lateCount {
		total[c] += n
	}
	for c, n := range total {
		if n > maxProblemsPerCode {
			codes = append(codes, c)
		}
	}
	slices.Sort(codes)
	listed := map[string]int{}
	var capped []fs.Problem
	for _, p := range out {
		listed[p.Code]++
		if listed[p.Code] <= maxProblemsPerCode {
			capped = append(capped, p)
		}
	}
	for _, c := range codes {
		sev := fs.Warning
		for _, p := range capped {
			if p.Code == c {
				sev = p.Severity
				break
			}
		}
		capped = append(capped, fs.Problem{Code: c, Severity: sev, Off: -1,
			Message: fmt.Sprintf("%d more problems of this kind not listed", total[c]-maxProblemsPerCode)})
	}
	return capped
}

// late records a problem of the late checks.
func (v *Volume) late(code, sev string, off int64, format string, args ...any) {
	v.lateCount[code]++
	if v.lateCount[code] > maxProblemsPerCode {
		return
	}
	v.lateList = append(v.lateList, fs.Problem{Code: code, Severity: sev, Off: off, Message: fmt.Sprintf(format, args...)})
}

// Evidence returns what the filesystem records about its last writer.
// Latest is the latest of the superblock's write and mount times and the
// change times (ctime, which only the kernel sets) of the inodes that own
// the ranges Owners was asked about; LogLSN is the jbd2 journal's next
// transaction ID.
func (v *Volume) Evidence() fs.Evidence {
	e := v.ev
	e.Notes = append([]string(nil), v.ev.Notes...)
	if l := max(v.latest, v.sb.Wtime, v.sb.Mtime); l > 0 {
		e.Latest = time.Unix(l, 0).UTC()
	}
	return e
}

func (v *Volume) evidence() {
	sb := v.sb
	dirty := sb.State&1 == 0 || sb.Incompat&incompatRecover != 0
	v.ev = fs.Evidence{Dirty: &dirty, FreeClusters: -1, LogName: "jbd2 journal sequence (next transaction ID)",
		LatestName: "latest timestamp of the superblock (write, mount) and the change times of the inodes owning differing ranges"}
	if v.jsb != nil {
		v.ev.LogLSN = uint64(v.jseq)
		if v.jlast != 0 {
			v.ev.LogLSN = uint64(v.jlast) + 1
		}
		clean := v.jstart == 0
		v.ev.LogClean = &clean
		v.ev.Notes = append(v.ev.Notes, fmt.Sprintf("jbd2 journal: next transaction %d, log start %d, %d committed transactions in the log", v.ev.LogLSN, v.jstart, v.jcommit))
	}
	used := int64(sb.InodesCount) - int64(sb.FreeInodes) - int64(sb.FirstIno) + 1
	v.ev.Files = int(max(used, 0))
	state := "clean"
	if sb.State&1 == 0 {
		state = "not clean"
	}
	if sb.State&2 != 0 {
		state += ", errors"
	}
	if sb.Incompat&incompatRecover != 0 {
		state += ", needs_recovery"
	}
	v.ev.Notes = append(v.ev.Notes,
		fmt.Sprintf("superblock: write time %s, mount time %s, mount count %d, %d KiB written, state %s",
			unix(sb.Wtime), unix(sb.Mtime), sb.MntCount, sb.KBytesWritten, state),
		fmt.Sprintf("free blocks %d of %d, free inodes %d of %d", sb.FreeBlocks, sb.BlocksCount, sb.FreeInodes, sb.InodesCount))
}

func unix(t int64) string {
	if t == 0 {
		return "never"
	}
	return time.Unix(t, 0).UTC().Format(time.RFC3339)
}
