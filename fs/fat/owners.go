package fat

import (
	"bytes"
	"fmt"
	"math"
	"sort"
	"strings"

	"github.com/mirrorchk/mirrorchk/fs"
)

// OwnerOfCluster is the owner of data cluster c: the file or directory
// whose chain holds it, or free space, lost or bad clusters.
func (v *Volume) OwnerOfCluster(c uint32) fs.Owner {
	o := fs.Owner{FS: v.BPB.Type, Record: -1, Cluster: int64(c)}
	switch {
	case c < 2 || c > v.BPB.Clusters+1:
		o.Structure, o.Cluster = fs.Unclustered, -1
		return o
	case c > v.maxClus:
		o.Structure = fs.FreeSpace
		return o
	}
	if i := v.owner[c]; i != 0 {
		f := &v.files[i-1]
		o.Path = f.Path
		switch {
		case i == 1:
			o.Structure = fs.RootDirectory
		case f.Dir:
			o.Structure = fs.Directory
		default:
			o.Structure = fs.FileData
		}
		return o
	}
	switch x := v.next(c); {
	case x == 0:
		o.Structure = fs.FreeSpace
	case x == v.badMark():
		o.Structure = fs.BadClusters
	default:
		o.Structure = fs.LostClusters
	}
	return o
}

// ownerAt is the owner of the byte at off (0 ≤ off) and the offset of the
// end of the smallest unit (sector, FAT copy, cluster…) it belongs to.
func (v *Volume) ownerAt(off int64) (fs.Owner, int64) {
	b := &v.BPB
	o := fs.Owner{FS: b.Type, Record: -1, Cluster: -1}
	if off >= v.volSize {
		o.Structure = fs.BeyondVolume
		return o, math.MaxInt64
	}
	s := off / v.bps
	switch {
	case s < int64(b.RsvdSecCnt):
		o.Structure = fs.ReservedSectors
		switch {
		case s == 0:
			o.Structure = fs.BootSector
		case b.Type == FAT32 && s == int64(b.FSInfo):
			o.Structure = fs.FSInfo
		case b.Type == FAT32 && b.BkBootSec != 0 && s == int64(b.BkBootSec):
			o.Structure = fs.BackupBoot
		case b.Type == FAT32 && b.BkBootSec != 0 && b.FSInfo != 0 && s == int64(b.BkBootSec)+int64(b.FSInfo):
			o.Structure = fs.BackupFSInfo
		}
		return o, (s + 1) * v.bps
	case s < b.RootDirStart():
		k := (s - int64(b.RsvdSecCnt)) / int64(b.FATSz)
		o.Structure = fmt.Sprintf("FAT %d", k+1)
		return o, b.FATStart(int(k)+1) * v.bps
	case s < int64(b.FirstDataSec):
		o.Structure, o.Path = fs.RootDirectory, "/"
		return o, v.dataOff
	}
	c := (off-v.dataOff)/v.cb + 2
	if c > int64(b.Clusters)+1 {
		o.Structure = fs.Unclustered
		return o, v.volSize
	}
	if c > int64(v.maxClus) {
		// The FAT held in the image ends before this cluster: the rest of
		// the cluster area is one run of free space.
		return v.OwnerOfCluster(uint32(c)), v.dataOff + (int64(b.Clusters))*v.cb
	}
	return v.OwnerOfCluster(uint32(c)), v.dataOff + (c-1)*v.cb
}

// Owners covers [off, off+n) with extents in order, split wherever the
// owner changes (a file's clusters that follow each other on disk are one
// extent); each extent's Cluster is that of its first byte, -1 outside
// the data area. Bytes past Size belong to fs.BeyondVolume. A negative off
// or n ≤ 0 gives nil.
func (v *Volume) Owners(off, n int64) []fs.Extent {
	if n <= 0 || off < 0 {
		return nil
	}
	end := off + n
	if end < off {
		end = math.MaxInt64
	}
	var out []fs.Extent
	for off < end {
		o, e := v.ownerAt(off)
		e = min(e, end)
		if k := len(out) - 1; k >= 0 && sameOwner(out[k].Owner, o) {
			out[k].Len += e - off
		} else {
			out = append(out, fs.Extent{Off: off, Len: e - off, Owner: o})
		}
		off = e
	}
	return out
}

func sameOwner(a, b fs.Owner) bool {
	return a.FS == b.FS && a.Structure == b.Structure && a.Path == b.Path && a.Record == b.Record
}

// Judge checks this volume's copy of [off, off+n): the boot sector and its
// backup validate, FSInfo signatures, each FAT copy against its twins in
// this volume, directory entries parse. File data, free space and the
// like carry no evidence (Intact 0).
func (v *Volume) Judge(off, n int64) fs.Judgement {
	if n <= 0 || off < 0 {
		return fs.Judgement{Reason: "empty range"}
	}
	// Bytes the image does not hold carry no evidence.
	end := min(off+n, v.volSize, v.imgSize)
	if off+n < off {
		end = min(v.volSize, v.imgSize)
	}
	var good, bad []string
	add := func(intact int, why string) {
		switch intact {
		case 1:
			if len(good) < 8 && !contains(good, why) {
				good = append(good, why)
			}
		case -1:
			if len(bad) < 8 && !contains(bad, why) {
				bad = append(bad, why)
			}
		}
	}
	b := &v.BPB
	var prev fs.Owner
	for off < end {
		o, e := v.ownerAt(off)
		e = min(e, end)
		same := sameOwner(prev, o)
		prev = o
		switch {
		case o.Structure == fs.BootSector:
			if v.FromBackup {
				add(-1, fmt.Sprintf("boot sector: %v", v.primErr))
			} else {
				add(1, "boot sector: BPB validates")
			}
		case o.Structure == fs.BackupBoot:
			if v.backErr != nil {
				add(-1, fmt.Sprintf("backup boot sector: %v", v.backErr))
			} else {
				add(1, "backup boot sector: BPB validates")
			}
		case o.Structure == fs.FSInfo || o.Structure == fs.BackupFSInfo:
			fi := v.FSInfo
			if o.Structure == fs.BackupFSInfo {
				fi = v.BackupInfo
			}
			if fi != nil && fi.Valid() {
				add(1, o.Structure+": signatures valid")
			} else {
				add(-1, o.Structure+": bad signatures")
			}
		case strings.HasPrefix(o.Structure, "FAT "):
			k := int((off/v.bps - int64(b.RsvdSecCnt)) / int64(b.FATSz))
			add(v.judgeFAT(k, off, e))
		case o.Structure == fs.Directory, o.Structure == fs.RootDirectory:
			if r := v.dirBadIn(off, e); r != "" {
				add(-1, fmt.Sprintf("%s %s: %s", o.Structure, o.Path, r))
			} else if !same {
				add(1, fmt.Sprintf("%s %s: entries parse", o.Structure, o.Path))
			}
		}
		off = e
	}
	switch {
	case len(bad) > 0:
		return fs.Judgement{Intact: -1, Reason: strings.Join(bad, "; ")}
	case len(good) > 0:
		return fs.Judgement{Intact: 1, Reason: strings.Join(good, "; ")}
	}
	return fs.Judgement{Reason: "no structure to check"}
}

func contains(s []string, x string) bool {
	for _, y := range s {
		if y == x {
			return true
		}
	}
	return false
}

// dirBadIn is the reason of the first bad directory entry in [a, e), or "".
func (v *Volume) dirBadIn(a, e int64) string {
	i := sort.Search(len(v.dirBad), func(i int) bool { return v.dirBad[i].Off >= a })
	if i < len(v.dirBad) && v.dirBad[i].Off < e {
		return v.dirBad[i].Reason
	}
	return ""
}

// judgeFAT compares bytes [a, e) of FAT copy k with the same bytes of the
// other copies and checks the entries in them.
func (v *Volume) judgeFAT(k int, a, e int64) (int, string) {
	b := &v.BPB
	name := fmt.Sprintf("FAT %d", k+1)
	start := b.FATStart(k) * v.bps
	rel := a - start
	bits := b.entryBits()
	ent := func(byteOff int64) int64 { return byteOff * 8 / bits }
	mismatch := false
	for ; rel < e-start; rel += compareChunk {
		re := min(rel+compareChunk, e-start)
		mine := make([]byte, re-rel)
		if err := v.readFull(mine, start+rel); err != nil {
			return -1, fmt.Sprintf("%s: %v", name, err)
		}
		twins, equal := 0, false
		var firstD, lastD int64 = -1, -1
		for j := range int(b.NumFATs) {
			if j == k {
				continue
			}
			other := make([]byte, len(mine))
			if v.readFull(other, b.FATStart(j)*v.bps+rel) != nil {
				continue
			}
			twins++
			if bytes.Equal(mine, other) {
				equal = true
				break
			}
			if d := firstDiff(mine, other); d >= 0 && (firstD < 0 || int64(d) < firstD) {
				firstD = int64(d)
			}
			for d := len(mine) - 1; d >= 0; d-- {
				if mine[d] != other[d] {
					lastD = max(lastD, int64(d))
					break
				}
			}
		}
		mirrored := b.Type != FAT32 || b.ExtFlags&0x80 == 0
		if twins > 0 && !equal && k != v.active && mirrored {
			return -1, fmt.Sprintf("%s differs from the active FAT %d over entries %d..%d", name, v.active+1, ent(rel+firstD), ent(rel+lastD))
		}
		// The active copy differing from its twin is not shown torn by
		// that alone (the twin may be the torn one): only invalid entries
		// below condemn it.
		mismatch = mismatch || (twins > 0 && !equal)
		// Entries whose bytes lie inside the range must be valid values.
		lo := (rel*8 + bits - 1) / bits
		hi := (re * 8) / bits // exclusive
		for x := max(lo, 2); x < hi && x <= int64(b.Clusters)+1; x++ {
			val, ok := entryIn(b.Type, mine, rel, uint32(x))
			if !ok {
				continue
			}
			if val == 1 || (val > b.Clusters+1 && val < v.badMark()) {
				return -1, fmt.Sprintf("%s entry %d holds invalid value %#x", name, x, val)
			}
		}
	}
	if b.NumFATs < 2 {
		return 1, name + ": entries valid (no twin copy)"
	}
	if mismatch {
		return 0, name + ": the active copy, entries valid, but it differs from its twin: no evidence which copy is right"
	}
	return 1, name + ": equal to a twin copy, entries valid"
}
