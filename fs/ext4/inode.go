package ext4

import (
	"fmt"
	"time"

	"github.com/mirrorchk/mirrorchk/fs"
)

// Inode flags.
const (
	flIndex      = 0x1000
	flExtents    = 0x80000
	flInlineData = 0x10000000
)

// Inode is one decoded inode.
type Inode struct {
	Ino                        uint32
	Mode                       uint16
	Links                      uint16
	Size                       uint64
	Atime, Ctime, Mtime, Dtime uint32
	Crtime                     uint32
	// CtimeNsec and CrtimeNsec are the nanoseconds of the extra inode
	// fields (0 when the inode is too small to hold them).
	CtimeNsec, CrtimeNsec uint32
	// HasCrtime says the inode holds a creation time (extra fields).
	HasCrtime  bool
	Flags      uint32
	Block      [60]byte
	Generation uint32
	FileACL    uint64
}

// IsDir reports whether the inode is a directory.
func (i *Inode) IsDir() bool { return i.Mode&0xF000 == 0x4000 }

func (v *Volume) inodeOff(ino uint32) (int64, bool) {
	if ino == 0 || ino > v.sb.InodesCount {
		return 0, false
	}
	g := int64((ino - 1) / v.sb.InodesPerGroup)
	if g >= v.groups || !v.gdOK[g] {
		return 0, false
	}
	idx := int64((ino - 1) % v.sb.InodesPerGroup)
	return int64(v.gds[g].InodeTable)*v.bs + idx*int64(v.sb.InodeSize), true
}

// readInode reads and decodes inode ino.
func (v *Volume) readInode(ino uint32) (*Inode, error) {
	off, ok := v.inodeOff(ino)
	if !ok {
		return nil, fmt.Errorf("inode %d is outside the inode tables", ino)
	}
	b := make([]byte, v.sb.InodeSize)
	if err := v.readAt(b, off); err != nil {
		return nil, err
	}
	return parseInode(ino, b), nil
}

func parseInode(ino uint32, b []byte) *Inode {
	in := &Inode{
		Ino:        ino,
		Mode:       le.Uint16(b[0:]),
		Size:       uint64(le.Uint32(b[4:])) | uint64(le.Uint32(b[0x6C:]))<<32,
		Atime:      le.Uint32(b[8:]),
		Ctime:      le.Uint32(b[0xC:]),
		Mtime:      le.Uint32(b[0x10:]),
		Dtime:      le.Uint32(b[0x14:]),
		Links:      le.Uint16(b[0x1A:]),
		Flags:      le.Uint32(b[0x20:]),
		Generation: le.Uint32(b[0x64:]),
		FileACL:    uint64(le.Uint32(b[0x68:])) | uint64(le.Uint16(b[0x76:]))<<32,
	}
	copy(in.Block[:], b[0x28:0x64])
	if len(b) >= 0x82 {
		extra := int(le.Uint16(b[0x80:]))
		if extra >= 0x08 && len(b) >= 0x88 {
			in.CtimeNsec = le.Uint32(b[0x84:]) >> 2
		}
		if extra >= 0x14 && len(b) >= 0x94 {
			in.Crtime, in.HasCrtime = le.Uint32(b[0x90:]), true
		}
		if extra >= 0x18 && len(b) >= 0x98 {
			in.CrtimeNsec = le.Uint32(b[0x94:]) >> 2
		}
	}
	return in
}

// inodeSeed is the checksum seed of inode ino.
func (v *Volume) inodeSeed(ino, gen uint32) uint32 {
	var n [4]byte
	le.PutUint32(n[:], ino)
	c := crc32c(v.seed, n[:])
	le.PutUint32(n[:], gen)
	return crc32c(c, n[:])
}

// inodeCsumOK checks a raw inode's metadata_csum.
func (v *Volume) inodeCsumOK(ino uint32, b []byte) (ok bool, got, want uint32) {
	gen := le.Uint32(b[0x64:])
	c := crc32c(v.inodeSeed(ino, gen), b[:0x7C])
	c = crc32c(c, []byte{0, 0})
	c = crc32c(c, b[0x7E:0x80])
	hi := len(b) > 128 && le.Uint16(b[0x80:]) >= 4
	if len(b) > 128 {
		c = crc32c(c, b[0x80:0x82])
		if hi {
			c = crc32c(c, []byte{0, 0})
			c = crc32c(c, b[0x84:])
		} else {
			c = crc32c(c, b[0x82:])
		}
	}
	got = uint32(le.Uint16(b[0x7C:]))
	if hi {
		got |= uint32(le.Uint16(b[0x82:])) << 16
	} else {
		c &= 0xFFFF
	}
	return got == c, got, c
}

// ownsBlocks reports whether the inode's i_block is a block map (not a
// fast symlink, a device or inline data).
func (i *Inode) ownsBlocks() bool {
	if i.Flags&flInlineData != 0 {
		return false
	}
	switch i.Mode & 0xF000 {
	case 0x8000, 0x4000:
		return true
	case 0xA000:
		return i.Size >= 60
	}
	return false
}

// mapper walks one inode's block map.
type mapper struct {
	v       *Volume
	in      *Inode
	emit    func(r revRun)
	visited map[uint64]bool
	reads   int
	err     string // first damage found
	errOff  int64
}

func (m *mapper) fail(off int64, format string, args ...any) {
	if m.err == "" {
		m.err, m.errOff = fmt.Sprintf(format, args...), off
	}
}

func (m *mapper) valid(b, n uint64) bool {
	total := m.v.sb.BlocksCount
	return b >= uint64(m.v.sb.FirstDataBlock) && n <= total && b < total && b+n <= total
}

// node reads an extent or indirect block once per inode.
func (m *mapper) node(b uint64) []byte {
	if m.visited[b] {
		m.fail(int64(b)*m.v.bs, "block %d is referenced twice in the block map (a loop)", b)
		return nil
	}
	if m.reads >= maxMapBlocks {
		m.fail(-1, "block map larger than %d blocks: not followed further", maxMapBlocks)
		return nil
	}
	m.visited[b] = true
	m.reads++
	d, err := m.v.block(b)
	if err != nil {
		m.fail(int64(b)*m.v.bs, "%v", err)
		return nil
	}
	return d
}

// blockMap walks inode in's block map, calling emit for each run of
// blocks; it returns a description of the first damage, "" when none.
func (v *Volume) blockMap(in *Inode, emit func(revRun)) (string, int64) {
	m := &mapper{v: v, in: in, emit: emit, visited: map[uint64]bool{}}
	data := uint8(rData)
	if in.IsDir() {
		data = rDir
	}
	if in.FileACL != 0 {
		if m.valid(in.FileACL, 1) {
			emit(revRun{start: in.FileACL, n: 1, ino: in.Ino, kind: rXattr})
		} else {
			m.fail(-1, "extended attribute block %d outside the filesystem", in.FileACL)
		}
	}
	if !in.ownsBlocks() {
		return m.err, m.errOff
	}
	if in.Flags&flExtents != 0 {
		m.extents(in.Block[:], -1, data, -1)
	} else {
		var run revRun
		flush := func() {
			if run.n > 0 {
				emit(run)
			}
			run = revRun{}
		}
		add := func(logical, b uint64, kind uint8) {
			if run.n > 0 && run.kind == kind && run.start+run.n == b && run.logical+run.n == logical && kind == data {
				run.n++
				return
			}
			flush()
			run = revRun{start: b, n: 1, logical: logical, ino: in.Ino, kind: kind}
		}
		per := uint64(v.bs / 4)
		var walk func(b uint64, level int, logical uint64)
		walk = func(b uint64, level int, logical uint64) {
			if !m.valid(b, 1) {
				m.fail(-1, "indirect block %d outside the filesystem", b)
				return
			}
			d := m.node(b)
			if d == nil {
				return
			}
			add(logical, b, rIndirect)
			span := uint64(1)
			for range level - 1 {
				span *= per
			}
			for i := uint64(0); i < per; i++ {
				c := uint64(le.Uint32(d[i*4:]))
				if c == 0 {
					continue
				}
				if level == 1 {
					if !m.valid(c, 1) {
						m.fail(int64(b)*v.bs+int64(i*4), "block %d outside the filesystem", c)
						continue
					}
					add(logical+i, c, data)
				} else {
					walk(c, level-1, logical+i*span)
				}
			}
		}
		for i := range 12 {
			if c := uint64(le.Uint32(in.Block[i*4:])); c != 0 {
				if !m.valid(c, 1) {
					m.fail(-1, "block %d outside the filesystem", c)
					continue
				}
				add(uint64(i), c, data)
			}
		}
		start := uint64(12)
		span := per
		for level := 1; level <= 3; level++ {
			if c := uint64(le.Uint32(in.Block[(11+level)*4:])); c != 0 {
				walk(c, level, start)
			}
			start += span
			span *= per
		}
		flush()
	}
	return m.err, m.errOff
}

// extents walks an extent node (the inode's i_block when at < 0).
func (m *mapper) extents(b []byte, at int64, data uint8, depth int) {
	where := func(off int) int64 {
		if at < 0 {
			return -1
		}
		return at*m.v.bs + int64(off)
	}
	if len(b) < 12 || le.Uint16(b[0:]) != 0xF30A {
		m.fail(where(0), "extent header magic %#04x is not 0xf30a", le.Uint16(b[0:]))
		return
	}
	entries, maxE, d := int(le.Uint16(b[2:])), int(le.Uint16(b[4:])), int(le.Uint16(b[6:]))
	if entries > maxE || 12+12*maxE > len(b) {
		m.fail(where(2), "extent header: %d entries, %d slots in %d bytes", entries, maxE, len(b))
		return
	}
	if d > 5 || (depth >= 0 && d != depth) {
		m.fail(where(6), "extent tree depth %d where %d was expected", d, depth)
		return
	}
	for i := range entries {
		e := b[12+12*i : 24+12*i]
		logical := uint64(le.Uint32(e[0:]))
		if d == 0 {
			n := uint64(le.Uint16(e[4:]))
			if n > 32768 {
				n -= 32768
			}
			start := uint64(le.Uint16(e[6:]))<<32 | uint64(le.Uint32(e[8:]))
			if n == 0 || !m.valid(start, n) {
				m.fail(where(12+12*i), "extent of %d blocks at block %d is outside the filesystem", n, start)
				continue
			}
			m.emit(revRun{start: start, n: n, logical: logical, ino: m.in.Ino, kind: data})
			continue
		}
		child := uint64(le.Uint16(e[8:]))<<32 | uint64(le.Uint32(e[4:]))
		if !m.valid(child, 1) {
			m.fail(where(12+12*i), "extent index to block %d outside the filesystem", child)
			continue
		}
		nb := m.node(child)
		if nb == nil {
			continue
		}
		m.emit(revRun{start: child, n: 1, logical: logical, ino: m.in.Ino, kind: rExtent})
		m.extents(nb, int64(child), data, d-1)
	}
}

// extentCsumOK checks an extent tree block's tail checksum.
func (v *Volume) extentCsumOK(ino, gen uint32, b []byte) (ok bool, reason string) {
	if le.Uint16(b[0:]) != 0xF30A {
		return false, fmt.Sprintf("extent header magic %#04x is not 0xf30a", le.Uint16(b[0:]))
	}
	maxE := int(le.Uint16(b[4:]))
	if int(le.Uint16(b[2:])) > maxE || 12+12*maxE+4 > len(b) {
		return false, fmt.Sprintf("extent header counts %d entries in %d slots", le.Uint16(b[2:]), maxE)
	}
	if v.sb.RoCompat&roMetaCsum == 0 {
		return true, ""
	}
	t := 12 + 12*maxE
	want := crc32c(v.inodeSeed(ino, gen), b[:t])
	if got := le.Uint32(b[t:]); got != want {
		return false, fmt.Sprintf("extent block checksum %#08x, computed %#08x", got, want)
	}
	return true, ""
}

// reportMap files the damage a block map walk found.
func (v *Volume) reportMap(ino uint32, why string, off int64) {
	if why == "" || v.bad[ino] {
		return
	}
	v.bad[ino] = true
	v.problem("ext4-blockmap-bad", fs.Error, off, "inode %d: %s", ino, why)
}

// Identity names which file inode record holds, beyond its number: its
// generation (i_generation, random per new inode under Linux) and its
// creation time (i_crtime, when the inode holds one). Two members whose
// inode N differs in identity hold two different files in it, whatever
// their names: one was freed and reused, or each member allocated it to a
// file of its own. false when the inode is not in use or cannot be read.
func (v *Volume) Identity(record int64) (string, bool) {
	in := v.inUse(record)
	if in == nil {
		return "", false
	}
	id := fmt.Sprintf("generation %d", in.Generation)
	if in.HasCrtime {
		id += ", created " + nsTime(in.Crtime, in.CrtimeNsec)
	}
	return id, true
}

// Changed returns the change time (i_ctime) of inode record: the kernel
// sets it on every change of the inode or its data, and no program can set
// it to another time. false when the inode is not in use or cannot be
// read.
func (v *Volume) Changed(record int64) (time.Time, bool) {
	in := v.inUse(record)
	if in == nil || in.Ctime == 0 {
		return time.Time{}, false
	}
	return time.Unix(int64(in.Ctime), int64(in.CtimeNsec%1e9)).UTC(), true
}

// inUse reads inode record when it is a number of this filesystem and
// holds a file (a mode and links).
func (v *Volume) inUse(record int64) *Inode {
	if record <= 0 || record > int64(v.sb.InodesCount) {
		return nil
	}
	in, err := v.readInode(uint32(record))
	if err != nil || in.Mode == 0 || in.Links == 0 {
		return nil
	}
	return in
}

func nsTime(sec, nsec uint32) string {
	return time.Unix(int64(sec), int64(nsec%1e9)).UTC().Format(time.RFC3339Nano)
}

// CommonBefore returns the latest change time among the inodes this
// volume and other (another member of a mirror) both hold in the same
// state: the same number, generation, creation time and change time to
// the nanosecond (stamped by the kernel), among the inode tables both
// have read. Both members
// shared their history up to the moment they diverged, so such an inode
// was last changed before that moment (two independent changes do not
// stamp the same nanosecond): the members diverged at or after the time
// returned. false when other is not ext2/3/4 or no inode is shared.
func (v *Volume) CommonBefore(other fs.Volume) (time.Time, bool) {
	o, ok := other.(*Volume)
	if !ok || o == v {
		return time.Time{}, false
	}
	var best time.Time
	for ino, a := range v.tracked {
		b := o.tracked[ino]
		// A change time without nanoseconds (debugfs, mkfs -d, 128-byte
		// inodes) may be stamped alike by two independent changes in one
		// second: only nanosecond stamps count.
		if b == nil || a.gen != b.gen || a.crtime != b.crtime || a.crtimeNsec != b.crtimeNsec || a.latest != b.latest || a.ctimeNsec != b.ctimeNsec || a.latest == 0 || a.ctimeNsec == 0 {
			continue
		}
		if t := time.Unix(a.latest, int64(a.ctimeNsec%1e9)); t.After(best) {
			best = t
		}
	}
	return best.UTC(), !best.IsZero()
}
