package fat

import (
	"encoding/binary"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode/utf16"

	"github.com/mirrorchk/mirrorchk/fs"
)

// Directory entry attributes.
const (
	attrVolume = 0x08
	attrDir    = 0x10
	attrLFN    = 0x0f
)

// claim walks the chain starting at c for file i, marking every cluster as
// owned by i. It stops at the end of chain, at a free, bad or out-of-range
// cluster, at a loop and at a cluster another file owns, each a problem.
func (v *Volume) claim(i int, c uint32) []uint32 {
	f := &v.files[i]
	var chain []uint32
	what := func() string {
		if f.Dir {
			return "directory " + f.Path
		}
		return f.Path
	}
	for n := 0; ; n++ {
		if c < 2 || c > v.BPB.Clusters+1 {
			v.problem("fat-chain-out-of-range", fs.Error, f.EntryOff,
				fmt.Sprintf("%s: cluster chain points at cluster %d, outside 2..%d", what(), c, v.BPB.Clusters+1))
			break
		}
		if c > v.maxClus {
			v.problem("fat-chain-out-of-range", fs.Error, f.EntryOff,
				fmt.Sprintf("%s: cluster %d is beyond the FAT held in the image", what(), c))
			break
		}
		if o := v.owner[c]; o != 0 {
			if int(o-1) == i {
				v.problem("fat-chain-loop", fs.Error, v.clusterOff(c),
					fmt.Sprintf("%s: circular cluster chain, back to cluster %d after %d clusters", what(), c, len(chain)))
			} else if v.files[o-1].Dir && f.Dir && n == 0 && v.isAncestor(int(o-1), f.Parent) {
				v.problem("fat-dir-cycle", fs.Error, f.EntryOff,
					fmt.Sprintf("directory %s points at cluster %d of its ancestor %s", f.Path, c, v.files[o-1].Path))
			} else {
				v.problem("fat-cross-link", fs.Error, v.clusterOff(c),
					fmt.Sprintf("%s and %s share cluster %d", v.files[o-1].Path, f.Path, c))
			}
			break
		}
		x := v.next(c)
		if x == 0 {
			v.problem("fat-chain-free-cluster", fs.Error, v.clusterOff(c),
				fmt.Sprintf("%s: chain contains free cluster %d", what(), c))
			break
		}
		if x == v.badMark() {
			v.problem("fat-chain-bad-cluster", fs.Error, v.clusterOff(c),
				fmt.Sprintf("%s: chain contains bad cluster %d", what(), c))
			break
		}
		v.owner[c] = uint32(i + 1)
		chain = append(chain, c)
		if v.isEOC(x) {
			break
		}
		c = x
	}
	return chain
}

// isAncestor reports whether directory a is d or an ancestor of d.
func (v *Volume) isAncestor(a, d int) bool {
	for n := 0; d >= 0 && n <= maxDepth+1; n++ {
		if d == a {
			return true
		}
		d = v.files[d].Parent
	}
	return false
}

func (v *Volume) clusterOff(c uint32) int64 { return v.dataOff + int64(c-2)*v.cb }

// walk reads the directory tree from the root, depth first.
func (v *Volume) walk() {
	b := &v.BPB
	v.files = []File{{Path: "/", Dir: true, EntryOff: -1, Parent: -1}}
	if b.Type == FAT32 {
		v.files[0].Cluster = b.RootClus
		v.files[0].Chain = v.claim(0, b.RootClus)
	}
	depth := []int{0}
	stack := []int{0}
	for len(stack) > 0 {
		i := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		first := len(v.files)
		v.readDir(i)
		var sub []int
		for j := first; j < len(v.files); j++ {
			depth = append(depth, depth[i]+1)
			if v.files[j].Dir && len(v.files[j].Chain) > 0 {
				if depth[j] > maxDepth {
					v.problem("fat-dir-too-deep", fs.Error, v.files[j].EntryOff,
						fmt.Sprintf("%s is nested deeper than %d directories; not followed", v.files[j].Path, maxDepth))
					continue
				}
				sub = append(sub, j)
			}
		}
		slices.Reverse(sub)
		stack = append(stack, sub...)
	}
}

// dirReader yields the 32-byte entries of one directory with their offsets.
type dirReader struct {
	v     *Volume
	runs  [][2]int64 // byte ranges of the directory, in order
	buf   []byte
	run   int
	pos   int64 // offset within the current run
	count int
}

func (d *dirReader) next() ([]byte, int64, bool) {
	for d.run < len(d.runs) {
		r := d.runs[d.run]
		if d.pos >= r[1] {
			d.run++
			d.pos = 0
			continue
		}
		if d.pos == 0 {
			v := d.v
			if r[0] > v.imgSize || r[1] > v.imgSize-r[0] {
				v.problem("fat-read-error", fs.Error, r[0], fmt.Sprintf("directory bytes %#x..%#x are outside the %d-byte image", r[0], r[0]+r[1], v.imgSize))
				return nil, 0, false
			}
			// One buffer, at most a cluster or the fixed root directory,
			// serves every directory in turn.
			if int64(cap(v.dirBuf)) < r[1] {
				v.dirBuf = make([]byte, r[1])
			}
			d.buf = v.dirBuf[:r[1]]
			if err := d.v.readFull(d.buf, r[0]); err != nil {
				d.v.problem("fat-read-error", fs.Error, r[0], err.Error())
				return nil, 0, false
			}
		}
		e := d.buf[d.pos : d.pos+32]
		off := r[0] + d.pos
		d.pos += 32
		d.count++
		return e, off, true
	}
	return nil, 0, false
}

// readDir parses directory i and appends its entries to v.files.
func (v *Volume) readDir(i int) {
	b := &v.BPB
	dir := v.files[i]
	d := &dirReader{v: v}
	if i == 0 && b.Type != FAT32 {
		d.runs = [][2]int64{{b.RootDirStart() * v.bps, int64(b.RootEntCnt) * 32}}
	} else {
		for _, c := range dir.Chain {
			d.runs = append(d.runs, [2]int64{v.clusterOff(c), v.cb})
		}
	}
	bad := func(off int64, sev, code, msg string) {
		v.dirBad = append(v.dirBad, badEntry{off, msg})
		v.problem(code, sev, off, dir.Path+": "+msg)
	}
	var (
		lfn    []uint16 // name units collected so far
		lfnSeq int      // expected next sequence number, 0 when none pending
		lfnSum byte
		lfnOff int64
		names  = map[string]bool{}
	)
	dropLFN := func(why string) {
		if lfnSeq != 0 {
			bad(lfnOff, fs.Warning, "fat-bad-dir-entry", "orphaned long name part: "+why)
		}
		lfn, lfnSeq = nil, 0
	}
	for {
		e, off, ok := d.next()
		if !ok {
			break
		}
		if d.count > maxDirEntries {
			bad(off, fs.Error, "fat-bad-dir-entry", fmt.Sprintf("more than %d entries", maxDirEntries))
			break
		}
		idx := d.count - 1
		if e[0] == 0 {
			dropLFN("no 8.3 entry follows")
			if i != 0 && idx < 2 {
				bad(off, fs.Error, "fat-bad-dir-entry", "missing . and .. entries")
			}
			break
		}
		if e[0] == 0xe5 {
			dropLFN("followed by a deleted entry")
			continue
		}
		attr := e[11]
		if attr&0x3f == attrLFN {
			seq := int(e[0])
			switch {
			case seq&0x40 != 0:
				dropLFN("another long name starts")
				n := seq & 0x1f
				if n == 0 || n > 20 || seq&0xa0 != 0 {
					bad(off, fs.Warning, "fat-bad-dir-entry", fmt.Sprintf("long name entry with sequence byte %#02x", seq))
					continue
				}
				lfn = make([]uint16, n*13)
				lfnSeq, lfnSum, lfnOff = n, e[13], off
			case lfnSeq != 0 && seq == lfnSeq-1 && e[13] != lfnSum:
				bad(off, fs.Warning, "fat-lfn-checksum", fmt.Sprintf("long name entries disagree on the checksum (%#02x, %#02x)", lfnSum, e[13]))
				lfn, lfnSeq = nil, 0
				continue
			case lfnSeq == 0 || seq != lfnSeq-1:
				dropLFN("sequence broken")
				bad(off, fs.Warning, "fat-bad-dir-entry", fmt.Sprintf("long name entry with sequence byte %#02x out of order", seq))
				continue
			default:
				lfnSeq = seq
			}
			k := (lfnSeq - 1) * 13
			for j, p := range [...]int{1, 3, 5, 7, 9, 14, 16, 18, 20, 22, 24, 28, 30} {
				lfn[k+j] = binary.LittleEndian.Uint16(e[p:])
			}
			continue
		}
		var long string
		if lfnSeq != 0 {
			if lfnSeq != 1 {
				dropLFN("sequence incomplete")
			} else if sum := lfnChecksum(e[:11]); sum != lfnSum {
				bad(lfnOff, fs.Warning, "fat-lfn-checksum", fmt.Sprintf("long name checksum %#02x, the 8.3 name %q gives %#02x", lfnSum, shortName(e, 0), sum))
				lfn, lfnSeq = nil, 0
			} else {
				if z := slices.Index(lfn, 0); z >= 0 {
					lfn = lfn[:z]
				}
				long = string(utf16.Decode(lfn))
				lfn, lfnSeq = nil, 0
			}
		}
		if attr&attrVolume != 0 {
			if i != 0 {
				bad(off, fs.Warning, "fat-bad-dir-entry", "volume label outside the root directory")
			} else if v.rootLabelOff < 0 {
				v.rootLabel, v.rootLabelOff = string(e[:11]), off
			}
			continue
		}
		cl := uint32(binary.LittleEndian.Uint16(e[26:]))
		if b.Type == FAT32 {
			cl |= uint32(binary.LittleEndian.Uint16(e[20:])) << 16
		}
		size := binary.LittleEndian.Uint32(e[28:])
		// Dot entries.
		if e[0] == '.' {
			name := string(e[:11])
			switch {
			case i != 0 && idx == 0 && name == ".          ":
				if cl != dir.Cluster {
					bad(off, fs.Error, "fat-bad-dir-entry", fmt.Sprintf(". points at cluster %d, not %d", cl, dir.Cluster))
				}
				continue
			case i != 0 && idx == 1 && name == "..         ":
				want := v.files[dir.Parent].Cluster
				if dir.Parent == 0 {
					want = 0
				}
				if cl != want && !(dir.Parent == 0 && cl == b.RootClus && b.Type == FAT32) {
					bad(off, fs.Error, "fat-bad-dir-entry", fmt.Sprintf(".. points at cluster %d, not %d", cl, want))
				}
				continue
			}
		}
		if i != 0 && idx < 2 {
			bad(off, fs.Error, "fat-bad-dir-entry", fmt.Sprintf("entry %d is %q, not a dot entry", idx, shortName(e, 0)))
		}
		if why := badShortName(e[:11]); why != "" {
			bad(off, fs.Warning, "fat-bad-dir-entry", fmt.Sprintf("8.3 name %q: %s", e[:11], why))
			continue
		}
		sn := shortName(e, 0)
		display := shortName(e, e[12])
		if long != "" {
			display = long
		}
		if strings.ContainsAny(display, "/\x00") {
			bad(off, fs.Warning, "fat-bad-dir-entry", fmt.Sprintf("name %q contains / or NUL", display))
			display = sn
		}
		key := strings.ToUpper(display)
		if names[key] || names[sn] {
			bad(off, fs.Warning, "fat-bad-dir-entry", fmt.Sprintf("duplicate name %q", display))
			continue
		}
		names[key], names[sn] = true, true
		path := dir.Path + display
		if dir.Path != "/" {
			path = dir.Path + "/" + display
		}
		f := File{Path: path, Dir: attr&attrDir != 0, ShortName: sn, LongName: long, Attr: attr,
			Cluster: cl, Size: size, EntryOff: off, Parent: i,
			Modified: fatTime(binary.LittleEndian.Uint16(e[24:]), binary.LittleEndian.Uint16(e[22:]), 0)}
		// The creation time counts too: Windows keeps a copied file's old
		// write time but dates its creation now.
		created := fatTime(binary.LittleEndian.Uint16(e[16:]), binary.LittleEndian.Uint16(e[14:]), 0)
		for _, t := range []time.Time{f.Modified, created} {
			if t.After(v.latest) {
				v.latest = t
			}
		}
		if f.Dir {
			f.Size = 0
			if size != 0 {
				v.problem("fat-size-mismatch", fs.Warning, off+28, fmt.Sprintf("directory %s has size %d, want 0", path, size))
			}
		}
		j := len(v.files)
		v.files = append(v.files, f)
		if cl == 0 {
			if f.Dir {
				bad(off+26, fs.Error, "fat-bad-dir-entry", fmt.Sprintf("directory %s has no cluster", path))
			} else if size != 0 {
				v.problem("fat-size-mismatch", fs.Error, off+28, fmt.Sprintf("%s: size %d bytes, no clusters", path, size))
			}
			continue
		}
		chain := v.claim(j, cl)
		v.files[j].Chain = chain
		if !f.Dir {
			want := (int64(size) + v.cb - 1) / v.cb
			if int64(len(chain)) != want {
				v.problem("fat-size-mismatch", fs.Error, off+28,
					fmt.Sprintf("%s: size %d bytes, cluster chain length %d bytes", path, size, int64(len(chain))*v.cb))
			}
		}
	}
}

// lfnChecksum is the VFAT checksum of an 11-byte 8.3 name.
func lfnChecksum(name []byte) byte {
	var s byte
	for _, c := range name[:11] {
		s = (s>>1 | s<<7) + c
	}
	return s
}

// badShortName says what is wrong with an 8.3 name, or "".
func badShortName(n []byte) string {
	if n[0] == ' ' {
		return "starts with a space"
	}
	for k, c := range n[:11] {
		if k == 0 && c == 0x05 {
			continue
		}
		if c < 0x20 || strings.IndexByte("\"*+,./:;<=>?[\\]|", c) >= 0 {
			return fmt.Sprintf("illegal character %#02x", c)
		}
	}
	return ""
}

// shortName formats an 8.3 entry name; case holds the NT lower-case bits
// (0x08 base, 0x10 extension), 0 for the stored form.
func shortName(e []byte, lower byte) string {
	base := []byte(strings.TrimRight(string(e[:8]), " "))
	ext := []byte(strings.TrimRight(string(e[8:11]), " "))
	if len(base) > 0 && base[0] == 0x05 {
		base[0] = 0xe5
	}
	if lower&0x08 != 0 {
		base = []byte(strings.ToLower(string(base)))
	}
	if lower&0x10 != 0 {
		ext = []byte(strings.ToLower(string(ext)))
	}
	s := latin1(base)
	if len(ext) > 0 {
		s += "." + latin1(ext)
	}
	return s
}

// latin1 turns OEM bytes into a string, mapping bytes ≥ 0x80 as Latin-1
// (the OEM code page is not recorded on the volume).
func latin1(p []byte) string {
	r := make([]rune, len(p))
	for i, c := range p {
		r[i] = rune(c)
	}
	return string(r)
}

// fatTime decodes a FAT date and time (with 10 ms units); zero if invalid.
func fatTime(date, tm uint16, tenths uint8) time.Time {
	y, mo, d := int(date>>9)+1980, int(date>>5&0xf), int(date&0x1f)
	h, mi, s := int(tm>>11), int(tm>>5&0x3f), int(tm&0x1f)*2
	if mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || s > 59 {
		return time.Time{}
	}
	t := time.Date(y, time.Month(mo), d, h, mi, s, int(tenths)*10e6, time.UTC)
	if t.Day() != d {
		return time.Time{}
	}
	return t
}

// afterWalk counts free, lost and bad clusters.
func (v *Volume) afterWalk() {
	var lost, first int64 = 0, -1
	for c := uint32(2); c <= v.maxClus; c++ {
		x := v.next(c)
		switch {
		case x == 0:
			v.free++
		case x == v.badMark():
		case v.owner[c] == 0:
			lost++
			if first < 0 {
				first = int64(c)
			}
		}
	}
	// Clusters beyond the FAT held in the image count as free.
	v.free += int64(v.BPB.Clusters+1) - int64(v.maxClus)
	if lost > 0 {
		v.problem("fat-lost-clusters", fs.Warning, v.clusterOff(uint32(first)),
			fmt.Sprintf("%s (%s) allocated in the FAT but reached from no file, first %d", fs.Count(lost, "cluster", "clusters"), fs.Count(lost*v.cb, "byte", "bytes"), first))
	}
}

func sortBad(b []badEntry) {
	slices.SortStableFunc(b, func(x, y badEntry) int {
		switch {
		case x.Off < y.Off:
			return -1
		case x.Off > y.Off:
			return 1
		}
		return 0
	})
}
