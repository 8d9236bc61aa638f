package fat

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/mirrorchk/mirrorchk/fs"
)

// Limits on what a damaged volume can make the checker do.
const (
	maxDepth         = 128   // directory nesting followed
	maxDirEntries    = 65536 // entries per directory, as fsck.fat
	maxProblemsPerID = 64    // problems listed per code; the rest are counted
	compareChunk     = 64 << 10
)

// FSInfoSector is a decoded FAT32 FSInfo sector.
type FSInfoSector struct {
	Off       int64  // byte offset in the volume
	LeadSig   uint32 // 0x41615252
	StrucSig  uint32 // 0x61417272
	FreeCount uint32 // 0xFFFFFFFF when unknown
	NxtFree   uint32 // 0xFFFFFFFF when unknown
	TrailSig  uint32 // 0xAA550000
}

// Valid reports whether all three signatures are right.
func (f *FSInfoSector) Valid() bool {
	return f.LeadSig == 0x41615252 && f.StrucSig == 0x61417272 && f.TrailSig == 0xaa550000
}

// Volume is one FAT volume as read, with the findings of its check.
type Volume struct {
	BPB        BPB
	FromBackup bool          // the primary boot sector was unusable; BPB is the FAT32 backup's
	FSInfo     *FSInfoSector // nil on FAT12/16 or when unreadable
	BackupInfo *FSInfoSector // FAT32 backup FSInfo, or nil

	r        io.ReaderAt
	imgSize  int64
	volSize  int64
	bps      int64
	cb       int64 // cluster bytes
	dataOff  int64
	maxClus  uint32 // highest cluster number the FAT in the image covers (≤ Clusters+1)
	active   int    // FAT copy used
	fat      []byte // the active FAT copy, as far as the image holds it
	owner    []uint32
	files    []File
	dirBad   []badEntry // sorted by Off once Open returns
	primErr  error      // why the primary boot sector failed validation, or nil
	backErr  error      // why the backup failed (FAT32 only)
	free     int64      // free clusters counted in the FAT
	fatShort bool       // the image ends inside the active FAT
	dirBuf   []byte     // read buffer of the directory walk
	// rootLabel is the 11-byte name of the root directory's first volume
	// label entry, at rootLabelOff; rootLabelOff is -1 when there is none.
	rootLabel    string
	rootLabelOff int64
	byPath       map[string]int // index in files by path, built after the walk
	latest       time.Time
	notes        []string
	dirty        bool

	problems []fs.Problem
	counts   map[string]int
}

type badEntry struct {
	Off    int64
	Reason string
}

// File is a file or directory found by walking the directory tree.
type File struct {
	Path      string // "/dir/Long File Name.txt"; "/" for the root directory
	Dir       bool
	ShortName string // 8.3 name as stored ("LONGFI~1.TXT")
	LongName  string // VFAT long name, "" if none
	Attr      uint8
	Cluster   uint32 // first cluster, 0 if none
	Size      uint32 // size in the directory entry (0 for directories)
	Chain     []uint32
	Modified  time.Time // write time, local time of the writer, tagged UTC; zero if invalid
	EntryOff  int64     // byte offset of the 8.3 directory entry, -1 for the root
	Parent    int       // index in Files of the parent directory, -1 for the root
}

// Open reads the FAT volume of size bytes in r and checks it. The error is
// non-nil (a *FormatError, or ErrNotFAT) only when neither the boot sector
// nor, on FAT32, its backup describes a FAT volume.
func Open(r io.ReaderAt, size int64) (*Volume, error) {
	if size < 512 {
		return nil, &FormatError{Off: 0, Field: "boot sector", Value: size, Msg: "byte image is shorter than a sector"}
	}
	v := &Volume{r: r, imgSize: size, counts: map[string]int{}}
	sec := make([]byte, 512)
	if err := v.readFull(sec, 0); err != nil {
		return nil, err
	}
	b, err := DecodeBPB(sec, 0)
	if err != nil {
		v.primErr = err
		// A FAT32 backup boot sector sits at sector 6.
		for _, bps := range []int64{512, 1024, 2048, 4096} {
			if v.readFull(sec, 6*bps) != nil {
				break
			}
			bb, berr := DecodeBPB(sec, 6*bps)
			if berr == nil && bb.Type == FAT32 && int64(bb.BytsPerSec) == bps && bb.BkBootSec == 6 {
				b = bb
				v.FromBackup = true
				break
			}
		}
		if b == nil {
			return nil, err
		}
	}
	v.BPB = *b
	v.bps = int64(b.BytsPerSec)
	v.cb = b.ClusterBytes()
	v.volSize = int64(b.TotSec) * v.bps
	v.dataOff = int64(b.FirstDataSec) * v.bps
	if v.FromBackup {
		v.problem("fat-boot-sector-bad", fs.Error, 0, fmt.Sprintf("primary boot sector unusable (%v); using the backup at sector 6", v.primErr))
	}
	if v.volSize > size {
		v.problem("fat-truncated", fs.Error, size, fmt.Sprintf("volume is %d bytes, image only %d", v.volSize, size))
	}
	if b.Signature != 0xaa55 {
		v.problem("fat-boot-signature", fs.Warning, 0x1fe, fmt.Sprintf("boot sector signature %#04x, want 0xaa55", b.Signature))
	}
	v.checkBootSector()
	v.loadFAT()
	v.checkFATHeader()
	v.compareCopies()
	v.rootLabelOff = -1
	v.walk()
	v.afterWalk()
	v.checkFSInfo()
	v.checkLabel()
	v.byPath = make(map[string]int, len(v.files))
	for i, f := range v.files {
		if _, dup := v.byPath[f.Path]; !dup {
			v.byPath[f.Path] = i
		}
	}
	sortBad(v.dirBad)
	return v, nil
}

// readFull reads len(p) bytes at off or fails with a FormatError naming
// the short read.
func (v *Volume) readFull(p []byte, off int64) error {
	if off < 0 || off > v.imgSize || int64(len(p)) > v.imgSize-off {
		return &FormatError{Off: off, Field: "image", Value: len(p), Msg: fmt.Sprintf("bytes do not fit the %d-byte image", v.imgSize)}
	}
	n, err := v.r.ReadAt(p, off)
	if n == len(p) {
		return nil
	}
	if err == nil {
		err = io.ErrUnexpectedEOF
	}
	return fmt.Errorf("fat: read %d bytes at byte %#x: %w", len(p), off, err)
}

// problem records a finding, listing at most maxProblemsPerID per code.
func (v *Volume) problem(code, sev string, off int64, msg string) {
	v.counts[code]++
	if v.counts[code] > maxProblemsPerID {
		return
	}
	v.problems = append(v.problems, fs.Problem{Code: code, Severity: sev, Off: off, Message: msg})
}

// checkBootSector validates the primary boot sector (when the backup is in
// use) and, on FAT32, the backup and its agreement with the primary.
func (v *Volume) checkBootSector() {
	b := &v.BPB
	state := b.Reserved1
	if state&1 != 0 {
		at := int64(0x25)
		if b.Type == FAT32 {
			at = 0x41
		}
		v.dirty = true
		v.problem("fat-dirty", fs.Warning, at, "boot sector state byte has the dirty bit set: not cleanly unmounted")
	}
	if b.Type != FAT32 {
		return
	}
	if b.FSVer != 0 {
		v.problem("fat-bad-bpb", fs.Warning, 0x2a, fmt.Sprintf("BPB_FSVer %#x, want 0", b.FSVer))
	}
	if b.BkBootSec == 0 || b.BkBootSec == 0xffff || int64(b.BkBootSec) >= int64(b.RsvdSecCnt) {
		v.problem("fat-no-backup-boot", fs.Info, 0x32, fmt.Sprintf("no backup boot sector (BPB_BkBootSec %d)", b.BkBootSec))
		v.backErr = errors.New("no backup boot sector")
		return
	}
	prim := make([]byte, v.bps)
	back := make([]byte, v.bps)
	bo := int64(b.BkBootSec) * v.bps
	if err := v.readFull(back, bo); err != nil {
		v.backErr = err
		return
	}
	if _, err := DecodeBPB(back, bo); err != nil {
		v.backErr = err
		if !v.FromBackup {
			v.problem("fat-backup-boot-bad", fs.Warning, bo, err.Error())
		}
		return
	}
	if v.FromBackup || v.readFull(prim, 0) != nil {
		return
	}
	if i := firstDiff(prim, back); i >= 0 {
		v.problem("fat-backup-boot-differs", fs.Warning, int64(i),
			fmt.Sprintf("boot sector and its backup at sector %d differ, first at byte %#x (%02x/%02x)", b.BkBootSec, i, prim[i], back[i]))
	}
}

func firstDiff(a, b []byte) int {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return i
		}
	}
	if len(a) != len(b) {
		return min(len(a), len(b))
	}
	return -1
}

// loadFAT reads the active FAT copy, as far as the image holds it and no
// further than the entries of the volume's clusters.
func (v *Volume) loadFAT() {
	b := &v.BPB
	v.active = 0
	if b.Type == FAT32 && b.ExtFlags&0x80 != 0 {
		v.active = int(b.ExtFlags & 0xf)
		v.notes = append(v.notes, fmt.Sprintf("FAT mirroring disabled; active FAT %d", v.active+1))
		if v.active >= int(b.NumFATs) {
			v.problem("fat-bad-bpb", fs.Error, 0x28, fmt.Sprintf("active FAT %d of %d", v.active+1, b.NumFATs))
			v.active = 0
		}
	}
	bits := b.entryBits()
	need := (int64(b.Clusters)+2)*bits/8 + 1
	fatBytes := int64(b.FATSz) * v.bps
	if fatBytes*8/bits < int64(b.Clusters)+2 {
		v.problem("fat-fat-too-small", fs.Error, 0x16, fmt.Sprintf("a %d-byte FAT holds fewer than %d entries", fatBytes, int64(b.Clusters)+2))
	}
	start := b.FATStart(v.active) * v.bps
	n := min(need, fatBytes, max(0, v.imgSize-start))
	v.fatShort = n < min(need, fatBytes)
	v.fat = make([]byte, n)
	if n > 0 {
		if err := v.readFull(v.fat, start); err != nil {
			v.problem("fat-read-error", fs.Error, start, err.Error())
			v.fat = v.fat[:0]
		}
	}
	entries := int64(len(v.fat)) * 8 / bits
	v.maxClus = uint32(min(int64(b.Clusters)+1, entries-1))
	if entries < 2 {
		v.maxClus = 1
	}
	v.owner = make([]uint32, int64(v.maxClus)+1)
}

// entryIn decodes entry e from FAT bytes p that start at entry-byte base.
func entryIn(typ string, p []byte, base int64, e uint32) (uint32, bool) {
	switch typ {
	case FAT12:
		o := int64(e)*3/2 - base
		if o < 0 || o+2 > int64(len(p)) {
			return 0, false
		}
		x := uint32(binary.LittleEndian.Uint16(p[o:]))
		if e&1 != 0 {
			return x >> 4, true
		}
		return x & 0xfff, true
	case FAT16:
		o := int64(e)*2 - base
		if o < 0 || o+2 > int64(len(p)) {
			return 0, false
		}
		return uint32(binary.LittleEndian.Uint16(p[o:])), true
	}
	o := int64(e)*4 - base
	if o < 0 || o+4 > int64(len(p)) {
		return 0, false
	}
	return binary.LittleEndian.Uint32(p[o:]) & 0x0fffffff, true
}

// next is the active FAT's entry for cluster c (0 when not in the image).
func (v *Volume) next(c uint32) uint32 {
	x, _ := entryIn(v.BPB.Type, v.fat, 0, c)
	return x
}

// Markers of the FAT entry values of this volume's type.
func (v *Volume) badMark() uint32 {
	switch v.BPB.Type {
	case FAT12:
		return 0xff7
	case FAT16:
		return 0xfff7
	}
	return 0x0ffffff7
}

func (v *Volume) isEOC(x uint32) bool { return x > v.badMark() }

// Entry returns entry n of FAT copy k (0-based), read from the image.
// FAT32 entries have their top four bits masked off.
func (v *Volume) Entry(k int, n uint32) (uint32, error) {
	b := &v.BPB
	if k < 0 || k >= int(b.NumFATs) {
		return 0, fmt.Errorf("fat: no FAT copy %d of %d", k+1, b.NumFATs)
	}
	bits := b.entryBits()
	eo := int64(n) * bits / 8
	w := int64(2)
	if bits == 32 {
		w = 4
	}
	if eo+w > int64(b.FATSz)*v.bps {
		return 0, fmt.Errorf("fat: entry %d is outside the FAT", n)
	}
	p := make([]byte, w)
	if err := v.readFull(p, b.FATStart(k)*v.bps+eo); err != nil {
		return 0, err
	}
	x, _ := entryIn(b.Type, p, eo, n)
	return x, nil
}

// NumFATs is the number of FAT copies.
func (v *Volume) NumFATs() int { return int(v.BPB.NumFATs) }

// checkFATHeader checks FAT[0] against the media byte and the FAT[1]
// clean-shutdown and hard-error bits.
func (v *Volume) checkFATHeader() {
	b := &v.BPB
	if int64(len(v.fat))*8/b.entryBits() < 2 {
		return // the FAT is not in the image
	}
	f0, f1 := v.next(0), v.next(1)
	fo := b.FATStart(v.active) * v.bps
	if uint8(f0) != b.Media {
		v.problem("fat-media-mismatch", fs.Warning, fo, fmt.Sprintf("FAT[0] media byte %#02x, boot sector says %#02x", uint8(f0), b.Media))
	}
	var clean, hard uint32
	switch b.Type {
	case FAT16:
		clean, hard = 0x8000, 0x4000
	case FAT32:
		clean, hard = 0x08000000, 0x04000000
	default:
		return
	}
	if f1&clean == 0 {
		v.dirty = true
		v.problem("fat-dirty", fs.Warning, fo, "FAT[1] clean-shutdown bit is cleared: not cleanly unmounted")
	}
	if f1&hard == 0 {
		v.notes = append(v.notes, "FAT[1] hard-error bit cleared: disk I/O errors were seen")
		v.problem("fat-hard-error", fs.Warning, fo, "FAT[1] hard-error bit is cleared: the writer saw disk I/O errors")
	}
}

// compareCopies compares every FAT copy with the active one over the
// entries of the volume's clusters.
func (v *Volume) compareCopies() {
	b := &v.BPB
	if b.NumFATs < 2 || len(v.fat) == 0 {
		return
	}
	buf := make([]byte, min(compareChunk, int64(len(v.fat))))
	bits := b.entryBits()
	for k := range int(b.NumFATs) {
		if k == v.active {
			continue
		}
		start := b.FATStart(k) * v.bps
		for o := int64(0); o < int64(len(v.fat)); o += int64(len(buf)) {
			p := buf[:min(int64(len(buf)), int64(len(v.fat))-o)]
			if err := v.readFull(p, start+o); err != nil {
				v.problem("fat-read-error", fs.Error, start+o, fmt.Sprintf("FAT %d: %v", k+1, err))
				break
			}
			if i := firstDiff(v.fat[o:o+int64(len(p))], p); i >= 0 {
				// Count the differing bytes of the whole copy for the message.
				first := o + int64(i)
				last := first
				for oo := o; oo < int64(len(v.fat)); oo += int64(len(buf)) {
					q := buf[:min(int64(len(buf)), int64(len(v.fat))-oo)]
					if v.readFull(q, start+oo) != nil {
						break
					}
					for j := len(q) - 1; j >= 0; j-- {
						if q[j] != v.fat[oo+int64(j)] {
							last = oo + int64(j)
							break
						}
					}
				}
				sev := fs.Error
				if b.Type == FAT32 && b.ExtFlags&0x80 != 0 {
					sev = fs.Info
				}
				v.problem("fat-copies-differ", sev, start+first,
					fmt.Sprintf("FAT %d differs from FAT %d over entries %d..%d", k+1, v.active+1, first*8/bits, last*8/bits))
				break
			}
		}
	}
}

// checkFSInfo checks the FAT32 FSInfo sector and its backup, and the free
// count against the FAT.
func (v *Volume) checkFSInfo() {
	b := &v.BPB
	if b.Type != FAT32 {
		return
	}
	read := func(sector int64) *FSInfoSector {
		if sector == 0 || sector >= int64(b.RsvdSecCnt) {
			return nil
		}
		p := make([]byte, 512)
		off := sector * v.bps
		if v.readFull(p, off) != nil {
			return nil
		}
		le := binary.LittleEndian
		return &FSInfoSector{Off: off, LeadSig: le.Uint32(p), StrucSig: le.Uint32(p[484:]),
			FreeCount: le.Uint32(p[488:]), NxtFree: le.Uint32(p[492:]), TrailSig: le.Uint32(p[508:])}
	}
	if b.FSInfo == 0 || b.FSInfo == 0xffff {
		v.problem("fat-no-fsinfo", fs.Info, 0x30, "no FSInfo sector")
		return
	}
	v.FSInfo = read(int64(b.FSInfo))
	if b.BkBootSec != 0 && b.BkBootSec != 0xffff {
		v.BackupInfo = read(int64(b.BkBootSec) + int64(b.FSInfo))
	}
	if v.FSInfo == nil {
		v.problem("fat-fsinfo-bad-signature", fs.Warning, int64(b.FSInfo)*v.bps, "FSInfo sector is outside the reserved sectors or unreadable")
		return
	}
	if !v.FSInfo.Valid() {
		v.problem("fat-fsinfo-bad-signature", fs.Warning, v.FSInfo.Off,
			fmt.Sprintf("FSInfo signatures %#08x %#08x %#08x, want 0x41615252 0x61417272 0xaa550000", v.FSInfo.LeadSig, v.FSInfo.StrucSig, v.FSInfo.TrailSig))
		return
	}
	if bi := v.BackupInfo; bi != nil && !bi.Valid() {
		// fsck.fat (dosfstools 4.2) does not read the backup FSInfo, and
		// formatters and labelling tools leave it zeroed: at most info.
		msg := fmt.Sprintf("backup FSInfo sector (boot sector backup %d + %d) has signatures %#08x %#08x %#08x", b.BkBootSec, b.FSInfo, bi.LeadSig, bi.StrucSig, bi.TrailSig)
		if bi.LeadSig == 0 && bi.StrucSig == 0 && bi.TrailSig == 0 && bi.FreeCount == 0 && bi.NxtFree == 0 {
			msg = fmt.Sprintf("backup FSInfo sector (boot sector backup %d + %d) is zeroed, as some formatters and labelling tools leave it; the primary is valid", b.BkBootSec, b.FSInfo)
		}
		v.problem("fat-backup-fsinfo-bad", fs.Info, bi.Off, msg)
	}
	if fc := v.FSInfo.FreeCount; fc != 0xffffffff && int64(fc) != v.free && !v.fatShort {
		v.problem("fat-free-count-wrong", fs.Warning, v.FSInfo.Off+488, fmt.Sprintf("FSInfo free cluster count %d, the FAT has %d", fc, v.free))
	}
	if nf := v.FSInfo.NxtFree; nf != 0xffffffff && (nf < 2 || nf > b.Clusters+1) {
		v.problem("fat-fsinfo-next-free", fs.Info, v.FSInfo.Off+492, fmt.Sprintf("FSInfo next free hint %d is outside clusters 2..%d", nf, b.Clusters+1))
	}
}

// noLabel is the boot sector's label field when the volume has no label.
const noLabel = "NO NAME    "

// Labels returns the volume label of the boot sector and that of the root
// directory's label entry, with trailing spaces removed, and whether each
// is present. A boot label of "NO NAME" is no label; a boot sector
// without the extended BPB signature 0x29 has no label field.
func (v *Volume) Labels() (boot string, hasBoot bool, root string, hasRoot bool) {
	if v.BPB.BootSig == 0x29 {
		raw := v.bootLabelRaw()
		if raw != noLabel && strings.Trim(raw, " \x00") != "" {
			boot, hasBoot = strings.TrimRight(raw, " \x00"), true
		}
	}
	if v.rootLabelOff >= 0 {
		root, hasRoot = strings.TrimRight(v.rootLabel, " \x00"), true
	}
	return
}

// bootLabelRaw is the boot sector's 11-byte label field as stored.
func (v *Volume) bootLabelRaw() string {
	l := v.BPB.VolLab
	if len(l) < 11 {
		l += strings.Repeat(" ", 11-len(l))
	}
	return l
}

// checkLabel compares the boot sector's label with the root directory's
// label entry as fsck.fat does: a label in one and not the other, or two
// labels that differ, is reported with both quoted.
func (v *Volume) checkLabel() {
	if v.BPB.BootSig != 0x29 {
		return
	}
	boot, hasBoot, root, hasRoot := v.Labels()
	at := int64(0x2b)
	if v.BPB.Type == FAT32 {
		at = 0x47
	}
	switch {
	case hasBoot && !hasRoot:
		v.problem("fat-label-mismatch", fs.Warning, at, fmt.Sprintf("label in the boot sector is %q, but there is no volume label in the root directory", boot))
	case !hasBoot && hasRoot:
		v.problem("fat-label-mismatch", fs.Warning, v.rootLabelOff, fmt.Sprintf("there is no label in the boot sector, but the root directory's volume label is %q", root))
	case hasBoot && hasRoot && v.rootLabel != v.bootLabelRaw():
		v.problem("fat-label-mismatch", fs.Warning, v.rootLabelOff, fmt.Sprintf("the root directory's volume label %q and the boot sector's label %q differ", root, boot))
	}
}

// Type is "fat12", "fat16" or "fat32".
func (v *Volume) Type() string { return v.BPB.Type }

// Size is the size the boot sector claims, in bytes.
func (v *Volume) Size() int64 { return v.volSize }

// Files lists the files and directories found, in the order the walk
// found them; the root directory is not among them.
func (v *Volume) Files() []File { return v.files[1:] }

// Modified returns the write time of the file or directory at path (as
// Files gives it), and false when there is none or it is not dated.
func (v *Volume) Modified(path string) (time.Time, bool) {
	i, ok := v.byPath[path]
	if !ok || v.files[i].Modified.IsZero() {
		return time.Time{}, false
	}
	return v.files[i].Modified, true
}

// FreeClusters is the number of free clusters counted in the FAT.
func (v *Volume) FreeClusters() int64 { return v.free }

// Problems lists the findings of the check, in the order they were found.
// Per code at most 64 are listed; a last Info problem of that code says
// how many more there were. Codes:
//
//	fat-boot-sector-bad       error    primary boot sector unusable, opened from the FAT32 backup
//	fat-truncated             error    the image is shorter than the volume
//	fat-boot-signature        warning  no 0x55AA at 0x1FE
//	fat-bad-bpb               warning/error  FSVer not 0, active FAT out of range
//	fat-dirty                 warning  BPB state bit 0 set, or FAT[1] clean bit cleared
//	fat-hard-error            warning  FAT[1] hard-error bit cleared (fsck.fat does not check it)
//	fat-no-backup-boot        info     FAT32 without a backup boot sector
//	fat-backup-boot-bad       warning  backup boot sector does not validate
//	fat-backup-boot-differs   warning  boot sector and backup differ
//	fat-no-fsinfo             info     FAT32 without an FSInfo sector
//	fat-fsinfo-bad-signature  warning  the primary FSInfo's signatures wrong
//	fat-backup-fsinfo-bad     info     the backup FSInfo's signatures wrong or zeroed (fsck.fat does not check it)
//	fat-label-mismatch        warning  the boot sector's label and the root directory's label entry differ, or one is missing (as fsck.fat reports)
//	fat-free-count-wrong      warning  FSInfo free count ≠ free clusters in the FAT
//	fat-fsinfo-next-free      info     next-free hint outside the clusters
//	fat-fat-too-small         error    FATSz cannot hold an entry per cluster
//	fat-media-mismatch        warning  FAT[0] low byte ≠ BPB media (fsck.fat does not check it)
//	fat-copies-differ         error    a FAT copy differs from the active one (info if mirroring is off)
//	fat-read-error            error    the reader failed
//	fat-chain-loop            error    a chain comes back to one of its own clusters
//	fat-chain-free-cluster    error    a chain runs into a free cluster
//	fat-chain-bad-cluster     error    a chain runs into a cluster marked bad
//	fat-chain-out-of-range    error    a chain or start cluster outside 2..Clusters+1
//	fat-cross-link            error    two files share a cluster
//	fat-dir-cycle             error    a directory points at itself or an ancestor
//	fat-dir-too-deep          error    nesting beyond 128 directories, not followed
//	fat-size-mismatch         error    file size ≠ chain length (warning: directory with a size)
//	fat-lost-clusters         warning  allocated clusters no file reaches
//	fat-bad-dir-entry         warning/error  bad 8.3 name, LFN sequence, dot entries, duplicates
//	fat-lfn-checksum          warning  long name checksum ≠ that of its 8.3 name
func (v *Volume) Problems() []fs.Problem {
	out := append([]fs.Problem(nil), v.problems...)
	seen := map[string]bool{}
	for _, p := range v.problems {
		if n := v.counts[p.Code]; n > maxProblemsPerID && !seen[p.Code] {
			seen[p.Code] = true
			out = append(out, fs.Problem{Code: p.Code, Severity: fs.Info, Off: -1, Message: fmt.Sprintf("%d more %s problems not listed", n-maxProblemsPerID, p.Code)})
		}
	}
	return out
}

// Evidence is what the volume records of its last writer.
func (v *Volume) Evidence() fs.Evidence {
	d := v.dirty
	// Every date in a FAT directory entry is the writing program's to set
	// (mcopy -m keeps the source's modification time and dates the
	// creation alike; Windows keeps a copied file's write time).
	e := fs.Evidence{Dirty: &d, FreeClusters: -1, Latest: v.latest, LatestSettable: true, Files: len(v.files) - 1,
		Notes: append([]string(nil), v.notes...)}
	if v.FSInfo != nil && v.FSInfo.Valid() && v.FSInfo.FreeCount != 0xffffffff {
		e.FreeClusters = int64(v.FSInfo.FreeCount)
	}
	if v.FromBackup {
		e.Notes = append(e.Notes, "opened from the backup boot sector")
	}
	// Identity, not recency: the volume ID and labels tell which images
	// hold the same filesystem.
	boot, hasBoot, root, hasRoot := v.Labels()
	id := ""
	if v.BPB.BootSig == 0x29 {
		id = fmt.Sprintf("volume ID %04X-%04X", v.BPB.VolID>>16, v.BPB.VolID&0xffff)
	}
	lab := func(s string, ok bool) string {
		if !ok {
			return "none"
		}
		return fmt.Sprintf("%q", s)
	}
	e.Notes = append(e.Notes, strings.TrimPrefix(fmt.Sprintf("%s, label %s in the boot sector, %s in the root directory", id, lab(boot, hasBoot), lab(root, hasRoot)), ", "))
	return e
}

var _ fs.Volume = (*Volume)(nil)
