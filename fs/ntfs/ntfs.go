// Package ntfs reads the structures of an NTFS volume image and checks
// their consistency, for mirrorchk: which file or structure owns a byte
// range, whether this copy of the range verifies on its own (update
// sequence fixups, boot sector), and what the volume records about its last
// writer (LSNs, $LogFile restart area, $Volume dirty flag, times).
//
// It reads through an io.ReaderAt only and never writes. Damage is reported
// as fs.Problem values with stable codes; Open fails only when neither the
// boot sector nor its backup is an NTFS boot sector.
package ntfs

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/mirrorchk/mirrorchk/fs"
)

// Fixed record numbers.
const (
	recMFT     = 0
	recMFTMirr = 1
	recLogFile = 2
	recVolume  = 3
	recRoot    = 5
	recBitmap  = 6
	recBoot    = 7
	recBadClus = 8
)

var systemNames = [...]string{"$MFT", "$MFTMirr", "$LogFile", "$Volume", "$AttrDef", "/", "$Bitmap", "$Boot", "$BadClus", "$Secure", "$UpCase", "$Extend"}

// maxProblemsPerCode bounds the problems listed per code; the rest are
// counted in one closing problem.
const maxProblemsPerCode = 20

// Record states.
const (
	stEmpty = iota // no FILE magic, all zero or never written
	stOK
	stTorn
	stBad // FILE record with damaged structure, BAAD, or garbage
)

type recInfo struct {
	lsn     uint64
	base    int64
	parent  int64
	name    string
	flags   uint16
	state   uint8
	torn    int16
	attrLst bool
}

// claim kinds
const (
	kMFT = iota
	kMirr
	kLog
	kBoot
	kBad
	kDir
	kSys
	kFile
)

// claim is a run of clusters owned by one attribute of one (base) record.
type claim struct {
	lcn, n int64
	vcn    int64 // VCN of lcn in the attribute's stream
	rec    int64 // base record
	kind   uint8
	name   string // structure name for kSys
}

// Volume is an NTFS volume as read. It implements fs.Volume.
type Volume struct {
	i30      map[int64][]byte // directories' $I30 bitmaps, read when needed
	r        io.ReaderAt
	imgSize  int64
	boot     Boot
	clusters int64

	// FromBackup is set when the primary boot sector was unusable and the
	// volume was opened from its backup.
	FromBackup bool
	// Version of $VOLUME_INFORMATION (0.0 when unreadable) and its flags.
	VersionMajor, VersionMinor uint8
	VolumeFlags                uint16
	// MirrorRecords is how many records $MFTMirr holds.
	MirrorRecords int64

	mftRuns  []Run
	mirrRuns []Run
	logRuns  []Run
	nrec     int64
	recs     []recInfo
	paths    []string
	pending  []pendingClaim
	claims   []claim
	dirRuns  map[int64][]Run
	bitmap   []byte
	logPage  int64

	problems []fs.Problem
	pcount   map[string]int
	ev       fs.Evidence
}

var _ fs.Volume = (*Volume)(nil)

// Boot returns the boot sector the volume was opened from.
func (v *Volume) Boot() Boot { return v.boot }

// Records is the number of FILE records $MFT holds.
func (v *Volume) Records() int64 { return v.nrec }

// MFTRuns returns the runs of $MFT's $DATA.
func (v *Volume) MFTRuns() []Run { return append([]Run(nil), v.mftRuns...) }

// Type returns "ntfs".
func (v *Volume) Type() string { return "ntfs" }

// Size is the bytes of the volume: the sectors the boot sector counts plus
// the backup boot sector after them.
func (v *Volume) Size() int64 { return (v.boot.TotalSectors + 1) * v.boot.BytesPerSector }

// Problems returns what the consistency check found, in the order found.
func (v *Volume) Problems() []fs.Problem { return append([]fs.Problem(nil), v.problems...) }

// Evidence returns what the volume records about its last writer. Files
// counts the in-use base records from record 16 on (user files and
// directories, and the $Extend files).
func (v *Volume) Evidence() fs.Evidence {
	e := v.ev
	e.Notes = append([]string(nil), v.ev.Notes...)
	return e
}

func (v *Volume) problem(code, sev string, off int64, format string, args ...any) {
	v.pcount[code]++
	if v.pcount[code] > maxProblemsPerCode {
		return
	}
	v.problems = append(v.problems, fs.Problem{Code: code, Severity: sev, Off: off, Message: fmt.Sprintf(format, args...)})
}

func (v *Volume) closeProblems() {
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
		v.problems = append(v.problems, fs.Problem{Code: c, Severity: sev, Off: -1,
			Message: fmt.Sprintf("%d more problems of this kind not listed", v.pcount[c]-maxProblemsPerCode)})
	}
}

// readAt reads len(b) bytes at volume offset off; bytes past the image
// read as zero and give an error.
func (v *Volume) readAt(b []byte, off int64) error {
	if off < 0 {
		return fmt.Errorf("negative offset %d", off)
	}
	n := 0
	if off < v.imgSize {
		want := int64(len(b))
		if off+want > v.imgSize {
			want = v.imgSize - off
		}
		var err error
		n, err = v.r.ReadAt(b[:want], off)
		if n < int(want) && err == nil {
			err = io.ErrUnexpectedEOF
		}
		if n < int(want) {
			clear(b[n:])
			return fmt.Errorf("read %d bytes at %#x: %w", len(b), off, err)
		}
	}
	if n < len(b) {
		clear(b[n:])
		return fmt.Errorf("%d bytes at %#x past the end of the %#x-byte image", len(b), off, v.imgSize)
	}
	return nil
}

// vcnLookup finds the run holding vcn.
func vcnLookup(runs []Run, vcn int64) (Run, bool) {
	i := sort.Search(len(runs), func(i int) bool { return runs[i].VCN+runs[i].Len > vcn })
	if i < len(runs) && runs[i].VCN <= vcn {
		return runs[i], true
	}
	return Run{}, false
}

// readStream reads len(b) bytes at offset off of the stream described by
// runs. Sparse runs read as zero.
func (v *Volume) readStream(runs []Run, off int64, b []byte) error {
	cs := v.boot.ClusterSize
	for len(b) > 0 {
		r, ok := vcnLookup(runs, off/cs)
		if !ok {
			clear(b)
			return fmt.Errorf("stream offset %#x is not mapped", off)
		}
		end := (r.VCN + r.Len) * cs
		n := min(int64(len(b)), end-off)
		if r.Sparse {
			clear(b[:n])
		} else {
			if r.LCN >= v.clusters || r.Len > v.clusters-r.LCN {
				clear(b)
				return fmt.Errorf("stream offset %#x maps past the volume", off)
			}
			if err := v.readAt(b[:n], r.LCN*cs+off-r.VCN*cs); err != nil {
				return err
			}
		}
		b = b[n:]
		off += n
	}
	return nil
}

// volOff returns the volume byte offset of stream offset off, or -1.
func (v *Volume) volOff(runs []Run, off int64) int64 {
	cs := v.boot.ClusterSize
	r, ok := vcnLookup(runs, off/cs)
	if !ok || r.Sparse {
		return -1
	}
	return r.LCN*cs + off - r.VCN*cs
}

// Open reads the NTFS volume of size bytes in r and checks it.
func Open(r io.ReaderAt, size int64) (*Volume, error) {
	v := &Volume{r: r, imgSize: size, pcount: map[string]int{}}
	v.ev.FreeClusters = -1
	// Latest is the MFT change time, which the driver stamps on every
	// change of a record (not the creation or modification times, which
	// programs set).
	v.ev.LatestName = "latest timestamp of a file record's last change ($STANDARD_INFORMATION MFT change time)"
	if err := v.openBoot(); err != nil {
		return nil, err
	}
	v.clusters = v.boot.Clusters()
	if v.Size() > size {
		v.problem("ntfs-truncated", fs.Error, size, "the image ends at byte %#x, %d bytes before the end of the volume", size, v.Size()-size)
	}
	v.readMFT()
	v.walkRecords()
	v.buildPaths()
	v.checkAttrLists()
	v.buildClaims()
	v.checkIndexes()
	v.checkBitmap()
	v.checkMFTBitmap()
	v.checkMirror()
	v.readVolumeInfo()
	v.readLog()
	v.checkBadClus()
	v.closeProblems()
	return v, nil
}

func (v *Volume) openBoot() error {
	prim := make([]byte, 512)
	perr := v.readAt(prim, 0)
	var b *Boot
	if perr == nil {
		b, perr = ParseBoot(prim, 0)
	}
	if b != nil {
		v.boot = *b
		boff := b.TotalSectors * b.BytesPerSector
		bk := make([]byte, 512)
		if err := v.readAt(bk, boff); err != nil {
			v.problem("ntfs-backup-boot-differs", fs.Warning, boff, "backup boot sector unreadable: %v", err)
		} else if !bytes.Equal(bk, prim) {
			if _, err := ParseBoot(bk, boff); err != nil {
				v.problem("ntfs-backup-boot-differs", fs.Error, boff, "backup boot sector at sector %d is invalid (%v)", b.TotalSectors, err)
			} else {
				v.problem("ntfs-backup-boot-differs", fs.Error, boff, "backup boot sector at sector %d differs from the boot sector", b.TotalSectors)
			}
		}
		return nil
	}
	// Primary unusable: the backup is the last sector of the volume, which
	// is normally the last sector of the image.
	var cands []int64
	for _, ss := range []int64{512, 1024, 2048, 4096} {
		if size := v.imgSize / ss * ss; size >= ss {
			cands = append(cands, size-ss)
		}
	}
	for _, off := range cands {
		bk := make([]byte, 512)
		if v.readAt(bk, off) != nil {
			continue
		}
		b, err := ParseBoot(bk, off)
		if err != nil || b.TotalSectors*b.BytesPerSector != off {
			continue
		}
		v.boot = *b
		v.FromBackup = true
		v.problem("ntfs-backup-boot-differs", fs.Error, 0, "boot sector unusable (%v); opened from the backup at sector %d", perr, b.TotalSectors)
		v.ev.Notes = append(v.ev.Notes, "opened from the backup boot sector")
		return nil
	}
	return fmt.Errorf("%w: %w (and no backup boot sector at the end of the image)", ErrNotNTFS, perr)
}

// readRecordAt reads and parses the record at volume offset off.
func (v *Volume) readRecordAt(off int64, n int64) (*Record, []byte, error) {
	b := make([]byte, v.boot.RecordSize)
	if err := v.readAt(b, off); err != nil {
		return nil, nil, err
	}
	raw := bytes.Clone(b)
	r, err := ParseRecord(b, n)
	return r, raw, err
}

// readMFT finds $MFT's runlist from record 0 (following its attribute
// list) and the number of records.
func (v *Volume) readMFT() {
	cs, rs := v.boot.ClusterSize, v.boot.RecordSize
	mftOff := v.boot.MFTLCN * cs
	r0, _, err := v.readRecordAt(mftOff, 0)
	if err != nil || r0.Torn >= 0 || r0.find(AttrData, "") == nil || r0.find(AttrData, "").Resident {
		why := "no unnamed non-resident $DATA"
		if err != nil {
			why = err.Error()
		} else if r0.Torn >= 0 {
			why = fmt.Sprintf("update sequence mismatch in 512-byte block %d", r0.Torn)
		}
		v.problem("ntfs-bad-record", fs.Error, mftOff, "$MFT record 0 unusable (%s); trying $MFTMirr record 0", why)
		r0m, _, errm := v.readRecordAt(v.boot.MFTMirrLCN*cs, 0)
		if errm == nil && r0m.Torn < 0 && r0m.find(AttrData, "") != nil && !r0m.find(AttrData, "").Resident {
			r0 = r0m
		} else {
			// Nothing to go on: assume the 16 system records are contiguous.
			n := (16*rs + cs - 1) / cs
			v.mftRuns = []Run{{VCN: 0, LCN: v.boot.MFTLCN, Len: min(n, v.clusters-v.boot.MFTLCN)}}
			v.nrec = v.mftRuns[0].Len * cs / rs
			return
		}
	}
	d := r0.find(AttrData, "")
	runs := append([]Run(nil), d.Runs...)
	dataSize := d.DataSize
	if d.RunErr != nil {
		v.problem("ntfs-bad-record", fs.Error, mftOff+int64(d.Off), "$MFT record 0: $DATA mapping pairs: %v", d.RunErr)
	}
	if al := r0.find(AttrAttributeList, ""); al != nil {
		// Extension records holding later pieces of $MFT's $DATA.
		v.mftRuns = runs
		list := v.attrValue(al, 1<<20)
		seen := map[int64]bool{0: true}
		for _, e := range parseAttrList(list) {
			if e.typ != AttrData || e.name != "" || seen[e.ref] || e.ref <= 0 {
				continue
			}
			seen[e.ref] = true
			off := v.volOff(runs, e.ref*rs)
			if off < 0 {
				v.problem("ntfs-bad-record", fs.Error, mftOff, "$MFT: extension record %d holding $DATA from VCN %d is outside the known $MFT runs", e.ref, e.vcn)
				continue
			}
			ext, _, err := v.readRecordAt(off, e.ref)
			if err != nil || ext.Torn >= 0 {
				v.problem("ntfs-bad-record", fs.Error, off, "$MFT: extension record %d unreadable", e.ref)
				continue
			}
			for _, a := range ext.Attrs {
				if a.Type == AttrData && a.Name == "" && !a.Resident && a.StartVCN > 0 {
					runs = append(runs, a.Runs...)
				}
			}
		}
		sort.Slice(runs, func(i, j int) bool { return runs[i].VCN < runs[j].VCN })
	}
	// Keep a consistent, non-overlapping, in-volume runlist.
	var clean []Run
	var next int64
	var mapped int64
	for _, r := range runs {
		if r.VCN < next {
			continue
		}
		if !r.Sparse && (r.LCN >= v.clusters || r.LCN+r.Len > v.clusters) {
			v.problem("ntfs-run-out-of-range", fs.Error, mftOff, "$MFT: run of %d clusters at LCN %d ends past the %d clusters of the volume", r.Len, r.LCN, v.clusters)
			if r.LCN >= v.clusters {
				continue
			}
			r.Len = v.clusters - r.LCN
		}
		clean = append(clean, r)
		next = r.VCN + r.Len
		if !r.Sparse {
			mapped = next
		}
	}
	v.mftRuns = clean
	n := dataSize / rs
	if limit := mapped * cs / rs; n > limit {
		v.problem("ntfs-bad-record", fs.Error, mftOff, "$MFT: data size %d bytes but its runs map only %d records", dataSize, limit)
		n = limit
	}
	// Never more records than the volume, or the image, can hold.
	if limit := min(v.Size(), v.imgSize) / rs; n > limit {
		n = limit
	}
	v.nrec = max(n, 0)
}

// attrValue returns the value of a resident attribute or reads up to max
// bytes of a non-resident one.
func (v *Volume) attrValue(a *Attr, max int64) []byte {
	if a.Resident {
		return a.Value
	}
	n := min(a.DataSize, max, v.imgSize)
	if n <= 0 {
		return nil
	}
	b := make([]byte, n)
	if v.readStream(a.Runs, 0, b) != nil {
		return nil
	}
	return b
}

type attrListEntry struct {
	typ  uint32
	name string
	vcn  int64
	ref  int64
	id   uint16
}

// parseAttrList decodes $ATTRIBUTE_LIST entries (at most 4096).
func parseAttrList(b []byte) []attrListEntry {
	le := binary.LittleEndian
	var out []attrListEntry
	for off := 0; off+0x1A <= len(b) && len(out) < 4096; {
		l := int(le.Uint16(b[off+4:]))
		if l < 0x1A || off+l > len(b) {
			break
		}
		e := attrListEntry{
			typ: le.Uint32(b[off:]),
			vcn: int64(le.Uint64(b[off+8:])),
			ref: int64(le.Uint64(b[off+0x10:]) & 0xFFFFFFFFFFFF),
			id:  le.Uint16(b[off+0x18:]),
		}
		if nl, no := int(b[off+6]), int(b[off+7]); nl > 0 && no+2*nl <= l {
			e.name = utf16String(b[off+no : off+no+2*nl])
		}
		out = append(out, e)
		off += l
	}
	return out
}

// pendingClaim is a run before classification (paths are not known yet).
type pendingClaim struct {
	lcn, n, vcn int64
	rec         int64
	typ         uint32
	name        string
}

// walkRecords reads every FILE record once.
func (v *Volume) walkRecords() {
	rs := v.boot.RecordSize
	v.recs = make([]recInfo, v.nrec)
	buf := make([]byte, rs)
	var latest uint64
	for i := int64(0); i < v.nrec; i++ {
		ri := &v.recs[i]
		ri.parent = -1
		ri.torn = -1
		off := v.volOff(v.mftRuns, i*rs)
		if err := v.readStream(v.mftRuns, i*rs, buf); err != nil {
			ri.state = stBad
			v.problem("ntfs-bad-record", fs.Error, off, "$MFT record %d unreadable: %v", i, err)
			continue
		}
		if string(buf[:4]) != "FILE" {
			switch {
			case string(buf[:4]) == "BAAD":
				ri.state = stBad
				v.problem("ntfs-bad-record", fs.Error, off, "$MFT record %d is marked BAAD (a multi-sector transfer was found incomplete)", i)
			case allZero(buf):
				ri.state = stEmpty
			default:
				ri.state = stBad
				if i < 16 {
					v.problem("ntfs-bad-record", fs.Error, off, "$MFT record %d has magic %q, not FILE", i, buf[:4])
				}
			}
			continue
		}
		r, err := ParseRecord(buf, i)
		if err != nil {
			ri.state = stBad
			v.problem("ntfs-bad-record", fs.Error, off, "$MFT record %d: %v", i, err)
			continue
		}
		ri.lsn, ri.flags, ri.base = r.LSN, r.Flags, r.Base
		if r.LSN > v.ev.MaxRecordLSN {
			v.ev.MaxRecordLSN = r.LSN
		}
		ri.state = stOK
		if r.Torn >= 0 {
			ri.state = stTorn
			ri.torn = int16(r.Torn)
			sev := fs.Error
			if !r.InUse() {
				sev = fs.Warning
			}
			v.problem("ntfs-torn-record", sev, v.volOff(v.mftRuns, i*rs+int64(r.Torn+1)*FixupStride-2),
				"$MFT record %d: update sequence mismatch in 512-byte block %d (torn write)", i, r.Torn)
		}
		if r.Err != nil && r.InUse() {
			ri.state = stBad
			v.problem("ntfs-bad-record", fs.Error, off, "$MFT record %d: %v", i, r.Err)
		}
		if !r.InUse() || r.Torn >= 0 {
			continue
		}
		if r.Base != 0 && (r.Base >= v.nrec || r.Base == i) {
			v.problem("ntfs-bad-record", fs.Error, off, "$MFT record %d: base record reference %d is invalid", i, r.Base)
			ri.base = 0
		}
		owner := i
		if ri.base != 0 {
			owner = ri.base
		}
		for k := range r.Attrs {
			a := &r.Attrs[k]
			switch a.Type {
			case AttrFileName:
				if fn, ok := parseFileName(a.Value); ok && (ri.name == "" || fn.namespace != 2) {
					ri.name, ri.parent = fn.name, fn.parent
				}
			case AttrStandardInformation:
				if len(a.Value) >= 0x18 {
					if t := binary.LittleEndian.Uint64(a.Value[0x10:]); t > latest {
						if _, ok := filetime(t); ok {
							latest = t
						}
					}
				}
			case AttrAttributeList:
				ri.attrLst = true
			}
			if a.Resident {
				continue
			}
			if a.RunErr != nil {
				v.problem("ntfs-bad-record", fs.Error, off+int64(a.Off), "$MFT record %d: attribute %#x %q: mapping pairs: %v", i, a.Type, a.Name, a.RunErr)
			}
			for _, run := range a.Runs {
				if run.Sparse {
					continue
				}
				v.pending = append(v.pending, pendingClaim{lcn: run.LCN, n: run.Len, vcn: run.VCN, rec: owner, typ: a.Type, name: a.Name})
			}
		}
		if ri.base == 0 && i >= 16 {
			v.ev.Files++
		}
	}
	if t, ok := filetime(latest); ok {
		v.ev.Latest = t
	}
}

func allZero(b []byte) bool {
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}

// buildPaths resolves every in-use base record's full path through the
// $FILE_NAME parent references, cycle-safe.
func (v *Volume) buildPaths() {
	v.paths = make([]string, v.nrec)
	done := make([]bool, v.nrec)
	// $FILE_NAME moved to an extension record names its base record.
	for i := range v.recs {
		x := &v.recs[i]
		if b := x.base; b > 0 && b < v.nrec && x.name != "" && x.state == stOK && v.recs[b].name == "" {
			v.recs[b].name, v.recs[b].parent = x.name, x.parent
		}
	}
	if v.nrec > recRoot {
		v.paths[recRoot], done[recRoot] = "/", true
	}
	var chain []int64
	mark := make([]int64, v.nrec) // i+1 while record is on the chain of i
	for i := int64(0); i < v.nrec; i++ {
		if done[i] || v.recs[i].state != stOK || v.recs[i].base != 0 || v.recs[i].flags&RecordInUse == 0 {
			continue
		}
		chain = chain[:0]
		prefix := ""
		for j := i; ; {
			if j < 0 || j >= v.nrec || v.recs[j].name == "" || len(chain) > 1024 {
				prefix = "/?"
				break
			}
			if done[j] {
				prefix = v.paths[j]
				break
			}
			if mark[j] == i+1 {
				prefix = "/?"
				break
			}
			mark[j] = i + 1
			chain = append(chain, j)
			j = v.recs[j].parent
		}
		for k := len(chain) - 1; k >= 0; k-- {
			j := chain[k]
			p := strings.TrimSuffix(prefix, "/") + "/" + v.recs[j].name
			v.paths[j], done[j] = p, true
			prefix = p
		}
	}
}

// Path returns the full path of record n ("" when it is not an in-use
// record with a name); extension records give their base record's path.
func (v *Volume) Path(n int64) string {
	if n < 0 || n >= v.nrec {
		return ""
	}
	if b := v.recs[n].base; b != 0 && b < v.nrec {
		n = b
	}
	return v.paths[n]
}

// Record reads and decodes FILE record n from this volume's $MFT.
func (v *Volume) Record(n int64) (*Record, error) {
	if n < 0 || n >= v.nrec {
		return nil, fmt.Errorf("ntfs: record %d outside the %d records of $MFT", n, v.nrec)
	}
	b := make([]byte, v.boot.RecordSize)
	if err := v.readStream(v.mftRuns, n*v.boot.RecordSize, b); err != nil {
		return nil, fmt.Errorf("ntfs: record %d: %w", n, err)
	}
	r, err := ParseRecord(b, n)
	if err != nil {
		return nil, fmt.Errorf("ntfs: record %d: %w", n, err)
	}
	return r, nil
}

// Runs returns the runs of attribute typ named name of base record n,
// gathered from the record and, through its $ATTRIBUTE_LIST, from its
// extension records, in VCN order.
func (v *Volume) Runs(n int64, typ uint32, name string) ([]Run, error) {
	r, err := v.Record(n)
	if err != nil {
		return nil, err
	}
	var runs []Run
	al := r.find(AttrAttributeList, "")
	if al == nil {
		a := r.find(typ, name)
		if a == nil || a.Resident {
			return nil, fmt.Errorf("ntfs: record %d has no non-resident attribute %#x %q", n, typ, name)
		}
		return append(runs, a.Runs...), a.RunErr
	}
	seen := map[int64]*Record{n: r}
	for _, e := range parseAttrList(v.attrValue(al, 1<<20)) {
		if e.typ != typ || e.name != name {
			continue
		}
		x, ok := seen[e.ref]
		if !ok {
			if len(seen) > 64 {
				return runs, fmt.Errorf("ntfs: record %d: attribute list names too many records", n)
			}
			if x, err = v.Record(e.ref); err != nil {
				return runs, err
			}
			seen[e.ref] = x
		}
		for _, a := range x.Attrs {
			if a.Type == typ && a.Name == name && !a.Resident && a.StartVCN == e.vcn {
				runs = append(runs, a.Runs...)
			}
		}
	}
	sort.Slice(runs, func(i, j int) bool { return runs[i].VCN < runs[j].VCN })
	return runs, nil
}
