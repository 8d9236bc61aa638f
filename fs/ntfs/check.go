package ntfs

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math/bits"
	"sort"
	"strings"

	"github.com/mirrorchk/mirrorchk/fs"
)

// checkAttrLists follows every $ATTRIBUTE_LIST once, bounded, and reports
// entries that point outside the file or back into a list (loops).
func (v *Volume) checkAttrLists() {
	rs := v.boot.RecordSize
	for i := int64(0); i < v.nrec; i++ {
		ri := &v.recs[i]
		if !ri.attrLst || ri.state != stOK || ri.flags&RecordInUse == 0 {
			continue
		}
		off := v.volOff(v.mftRuns, i*rs)
		if ri.base != 0 {
			v.problem("ntfs-attribute-list-loop", fs.Error, off, "$MFT record %d is an extension record of %d but carries its own $ATTRIBUTE_LIST", i, ri.base)
			continue
		}
		r, err := v.Record(i)
		if err != nil {
			continue
		}
		al := r.find(AttrAttributeList, "")
		if al == nil {
			continue
		}
		list := v.attrValue(al, 1<<20)
		type key struct {
			typ  uint32
			name string
			vcn  int64
		}
		seen := map[key]bool{}
		for _, e := range parseAttrList(list) {
			k := key{e.typ, e.name, e.vcn}
			switch {
			case e.typ == AttrAttributeList:
				v.problem("ntfs-attribute-list-loop", fs.Error, off, "$MFT record %d (%s): $ATTRIBUTE_LIST lists an attribute list in record %d", i, v.paths[i], e.ref)
				continue
			case seen[k]:
				v.problem("ntfs-attribute-list-loop", fs.Error, off, "$MFT record %d (%s): $ATTRIBUTE_LIST lists attribute %#x %q from VCN %d twice", i, v.paths[i], e.typ, e.name, e.vcn)
				continue
			}
			seen[k] = true
			if e.ref == i {
				continue
			}
			if e.ref >= v.nrec {
				v.problem("ntfs-bad-record", fs.Error, off, "$MFT record %d (%s): $ATTRIBUTE_LIST points to record %d, past the %d records", i, v.paths[i], e.ref, v.nrec)
				continue
			}
			x := &v.recs[e.ref]
			switch {
			case x.attrLst:
				v.problem("ntfs-attribute-list-loop", fs.Error, off, "$MFT record %d (%s): $ATTRIBUTE_LIST points to record %d, which has an attribute list of its own", i, v.paths[i], e.ref)
			case x.state != stOK || x.flags&RecordInUse == 0 || x.base != i:
				v.problem("ntfs-bad-record", fs.Error, off, "$MFT record %d (%s): $ATTRIBUTE_LIST points to record %d, which is not an in-use extension record of it", i, v.paths[i], e.ref)
			}
		}
	}
}

// classify turns pending runs into owner claims, sorts them, reports runs
// past the volume and cross-links, and leaves v.claims non-overlapping.
func (v *Volume) buildClaims() {
	cl := make([]claim, 0, len(v.pending))
	for _, p := range v.pending {
		c := claim{lcn: p.lcn, n: p.n, vcn: p.vcn, rec: p.rec}
		switch {
		case p.rec == recMFT && p.typ == AttrData && p.name == "":
			c.kind = kMFT
		case p.rec == recMFTMirr && p.typ == AttrData:
			c.kind = kMirr
		case p.rec == recLogFile && p.typ == AttrData:
			c.kind = kLog
		case p.rec == recBoot && p.typ == AttrData:
			c.kind = kBoot
		case p.rec == recBadClus && p.typ == AttrData && p.name == "$Bad":
			c.kind = kBad
		case p.typ == AttrIndexAllocation && p.name == "$I30":
			c.kind = kDir
		case p.typ == AttrBitmap && p.name == "$I30":
			c.kind, c.name = kDir, "$I30 bitmap"
		case p.typ == AttrIndexAllocation:
			// A view index ($Secure:$SDH, $SII, $Quota:$O, …) is not a
			// directory; its blocks are named, not judged as $I30 ones.
			c.kind, c.name = kSys, fmt.Sprintf("%s:%s index", v.recordName(p.rec), p.name)
		case p.rec < int64(len(systemNames)) && (p.typ != AttrData || p.name != ""):
			c.kind, c.name = kSys, fmt.Sprintf("%s %s", systemNames[p.rec], attrLabel(p.typ, p.name))
		case p.rec < int64(len(systemNames)):
			c.kind, c.name = kSys, systemNames[p.rec]
		case p.rec < 16 || strings.HasPrefix(v.paths[p.rec], "/$Extend/"):
			c.kind, c.name = kSys, v.recs[p.rec].name
			if c.name == "" {
				c.name = fmt.Sprintf("system record %d", p.rec)
			}
		case p.typ == AttrAttributeList:
			c.kind, c.name = kSys, "$ATTRIBUTE_LIST"
		default:
			c.kind = kFile
		}
		if c.vcn > (1<<62)/v.boot.ClusterSize {
			v.problem("ntfs-bad-record", fs.Error, -1, "$MFT record %d (%s): attribute %#x %q: VCN %d is past any stream", p.rec, v.paths[p.rec], p.typ, p.name, c.vcn)
			continue
		}
		if c.lcn >= v.clusters || c.n > v.clusters-c.lcn {
			v.problem("ntfs-run-out-of-range", fs.Error, -1, "$MFT record %d (%s): attribute %#x %q: run of %d clusters at LCN %d ends past the %d clusters of the volume", p.rec, v.paths[p.rec], p.typ, p.name, p.n, p.lcn, v.clusters)
			if c.lcn >= v.clusters {
				continue
			}
			c.n = v.clusters - c.lcn
		}
		cl = append(cl, c)
	}
	v.pending = nil
	// Record 0 unreadable: its runs still own the MFT.
	if len(v.mftRuns) > 0 && !hasKind(cl, kMFT) {
		for _, r := range v.mftRuns {
			if !r.Sparse {
				cl = append(cl, claim{lcn: r.LCN, n: r.Len, vcn: r.VCN, kind: kMFT})
			}
		}
	}
	sort.SliceStable(cl, func(i, j int) bool { return cl[i].lcn < cl[j].lcn })
	out := cl[:0]
	var end int64
	for _, c := range cl {
		if c.lcn < end {
			prev := out[len(out)-1]
			ov := min(end, c.lcn+c.n) - c.lcn
			v.problem("ntfs-cross-link", fs.Error, c.lcn*v.boot.ClusterSize, "%s from LCN %d claimed by both %s and %s", fs.Count(ov, "cluster", "clusters"), c.lcn, v.claimName(prev), v.claimName(c))
			if c.lcn+c.n <= end {
				continue
			}
			c.vcn += end - c.lcn
			c.n -= end - c.lcn
			c.lcn = end
		}
		out = append(out, c)
		end = c.lcn + c.n
	}
	v.claims = out
	v.dirRuns = map[int64][]Run{}
	for _, c := range out {
		if c.kind == kDir && c.name == "" {
			v.dirRuns[c.rec] = append(v.dirRuns[c.rec], Run{VCN: c.vcn, LCN: c.lcn, Len: c.n})
		}
	}
	for _, runs := range v.dirRuns {
		sort.Slice(runs, func(i, j int) bool { return runs[i].VCN < runs[j].VCN })
	}
}

func hasKind(cl []claim, k uint8) bool {
	for _, c := range cl {
		if c.kind == k {
			return true
		}
	}
	return false
}

func (v *Volume) claimName(c claim) string {
	if p := v.paths[c.rec]; p != "" {
		return fmt.Sprintf("record %d (%s)", c.rec, p)
	}
	return fmt.Sprintf("record %d", c.rec)
}

// bitRun returns the end of the run of equal bits starting at cluster c
// (at most limit).
func bitRun(bm []byte, c, limit int64) (end int64, set bool) {
	set = bm[c>>3]&(1<<(c&7)) != 0
	end = c + 1
	for end < limit {
		if end&7 == 0 && end+8 <= limit {
			b := bm[end>>3]
			if (set && b == 0xFF) || (!set && b == 0) {
				end += 8
				continue
			}
		}
		if (bm[end>>3]&(1<<(end&7)) != 0) != set {
			break
		}
		end++
	}
	return end, set
}

// checkBitmap compares $Bitmap with the clusters the runs claim.
func (v *Volume) checkBitmap() {
	if v.nrec <= recBitmap || v.recs[recBitmap].state != stOK {
		v.problem("ntfs-bitmap-mismatch", fs.Error, -1, "$Bitmap (record 6) unreadable; allocation not checked")
		return
	}
	r, err := v.Record(recBitmap)
	if err != nil {
		return
	}
	d := r.find(AttrData, "")
	need := (v.clusters + 7) / 8
	if d == nil || (!d.Resident && d.DataSize < need) || (d.Resident && int64(len(d.Value)) < need) {
		v.problem("ntfs-bitmap-mismatch", fs.Error, -1, "$Bitmap $DATA shorter than the %d bytes %d clusters need", need, v.clusters)
		return
	}
	bm := v.attrValue(d, need)
	if int64(len(bm)) < need {
		v.problem("ntfs-bitmap-mismatch", fs.Error, -1, "$Bitmap $DATA unreadable")
		return
	}
	v.bitmap = bm
	var claimedFree, setFree int64
	next := int64(0)
	gap := func(from, to int64) {
		for c := from; c < to; {
			e, set := bitRun(bm, c, to)
			if set {
				setFree += e - c
				v.problem("ntfs-bitmap-mismatch", fs.Warning, c*v.boot.ClusterSize, "%s from LCN %d set in $Bitmap but claimed by no attribute", fs.Count(e-c, "cluster", "clusters"), c)
			}
			c = e
		}
	}
	for _, c := range v.claims {
		gap(next, c.lcn)
		for x := c.lcn; x < c.lcn+c.n; {
			e, set := bitRun(bm, x, c.lcn+c.n)
			if !set {
				claimedFree += e - x
				v.problem("ntfs-bitmap-mismatch", fs.Error, x*v.boot.ClusterSize, "%s from LCN %d belonging to %s but free in $Bitmap", fs.Count(e-x, "cluster", "clusters"), x, v.claimName(c))
			}
			x = e
		}
		next = c.lcn + c.n
	}
	gap(next, v.clusters)
	if claimedFree+setFree > 0 {
		v.ev.Notes = append(v.ev.Notes, fmt.Sprintf("$Bitmap: %d clusters claimed but free, %d set but unclaimed", claimedFree, setFree))
	}
}

// checkMFTBitmap compares $MFT's $BITMAP with the in-use flags.
func (v *Volume) checkMFTBitmap() {
	r, err := v.Record(recMFT)
	if err != nil {
		return
	}
	a := r.find(AttrBitmap, "")
	if a == nil {
		v.problem("ntfs-mft-bitmap-mismatch", fs.Error, -1, "$MFT has no $BITMAP attribute")
		return
	}
	need := (v.nrec + 7) / 8
	bm := v.attrValue(a, need)
	if int64(len(bm)) < need {
		v.problem("ntfs-mft-bitmap-mismatch", fs.Error, -1, "$MFT $BITMAP holds %d bytes, %d records need %d", len(bm), v.nrec, need)
		return
	}
	for i := int64(0); i < v.nrec; i++ {
		set := bm[i>>3]&(1<<(i&7)) != 0
		ri := v.recs[i]
		inUse := ri.flags&RecordInUse != 0 && (ri.state == stOK || ri.state == stTorn)
		if set == inUse || (set && ri.state == stBad) {
			continue
		}
		off := v.volOff(v.mftRuns, i*v.boot.RecordSize)
		if set {
			// mkntfs and Windows reserve records 12..23 in the bitmap.
			if i >= 12 && i < 24 {
				continue
			}
			v.problem("ntfs-mft-bitmap-mismatch", fs.Warning, off, "$MFT record %d is marked in use in $MFT:$BITMAP but its in-use flag is clear", i)
		} else {
			v.problem("ntfs-mft-bitmap-mismatch", fs.Error, off, "$MFT record %d (%s) is in use but free in $MFT:$BITMAP", i, v.Path(i))
		}
	}
}

// checkMirror compares $MFTMirr with the first records of $MFT.
func (v *Volume) checkMirror() {
	cs, rs := v.boot.ClusterSize, v.boot.RecordSize
	n := max(4, cs/rs)
	v.mirrRuns = []Run{{VCN: 0, LCN: v.boot.MFTMirrLCN, Len: (n*rs + cs - 1) / cs}}
	if v.nrec > recMFTMirr && v.recs[recMFTMirr].state == stOK {
		if r, err := v.Record(recMFTMirr); err == nil {
			if d := r.find(AttrData, ""); d != nil && !d.Resident && len(d.Runs) > 0 {
				v.mirrRuns = d.Runs
				n = d.DataSize / rs
				if d.Runs[0].LCN != v.boot.MFTMirrLCN {
					v.problem("ntfs-mftmirr-differs", fs.Error, 0x38, "boot sector puts $MFTMirr at LCN %d, its record at LCN %d", v.boot.MFTMirrLCN, d.Runs[0].LCN)
				}
			}
		}
	}
	n = max(0, min(n, v.nrec, 64))
	v.MirrorRecords = n
	a, b := make([]byte, rs), make([]byte, rs)
	for i := int64(0); i < n; i++ {
		moff := v.volOff(v.mirrRuns, i*rs)
		if v.readStream(v.mftRuns, i*rs, a) != nil || v.readStream(v.mirrRuns, i*rs, b) != nil {
			v.problem("ntfs-mftmirr-differs", fs.Error, moff, "$MFTMirr record %d unreadable", i)
			continue
		}
		if bytes.Equal(a, b) {
			continue
		}
		used := int64(binary.LittleEndian.Uint32(a[0x18:]))
		if u := int64(binary.LittleEndian.Uint32(b[0x18:])); u > used {
			used = u
		}
		used = min(max(used, 0x30), rs)
		fa, fb := bytes.Clone(a), bytes.Clone(b)
		Fixup(fa)
		Fixup(fb)
		if !bytes.Equal(fa[:used], fb[:used]) {
			first := 0
			for first < int(used) && fa[first] == fb[first] {
				first++
			}
			v.problem("ntfs-mftmirr-differs", fs.Error, moff+int64(first), "$MFTMirr record %d differs from $MFT record %d in its used bytes (first at byte %#x of %d)", i, i, first, used)
		} else {
			v.problem("ntfs-mftmirr-differs", fs.Warning, moff, "$MFTMirr record %d differs from $MFT record %d only in the unused tail after byte %d", i, i, used)
		}
	}
}

// readVolumeInfo reads $Volume's $VOLUME_INFORMATION.
func (v *Volume) readVolumeInfo() {
	if v.nrec <= recVolume || v.recs[recVolume].state != stOK {
		v.problem("ntfs-bad-record", fs.Error, -1, "$Volume (record 3) unreadable: no version, dirty flag unknown")
		return
	}
	r, err := v.Record(recVolume)
	if err != nil {
		return
	}
	a := r.find(AttrVolumeInformation, "")
	if a == nil || !a.Resident || len(a.Value) < 12 {
		v.problem("ntfs-bad-record", fs.Error, -1, "$Volume has no $VOLUME_INFORMATION")
		return
	}
	v.VersionMajor, v.VersionMinor = a.Value[8], a.Value[9]
	v.VolumeFlags = binary.LittleEndian.Uint16(a.Value[10:])
	dirty := v.VolumeFlags&1 != 0
	v.ev.Dirty = &dirty
	v.ev.Notes = append(v.ev.Notes, fmt.Sprintf("NTFS version %d.%d, volume flags %#04x", v.VersionMajor, v.VersionMinor, v.VolumeFlags))
	if dirty {
		v.problem("ntfs-dirty", fs.Warning, v.volOff(v.mftRuns, recVolume*v.boot.RecordSize), "$Volume dirty flag is set (flags %#04x): not cleanly unmounted, or chkdsk scheduled", v.VolumeFlags)
	}
}

// restart is a decoded $LogFile restart page.
type restart struct {
	ok         bool
	magic      string
	currentLSN uint64
	flags      uint16
	inUse      uint16
	sysPage    int64
	logPage    int64
}

// readLog reads the two restart pages of $LogFile.
func (v *Volume) readLog() {
	if v.nrec <= recLogFile || v.recs[recLogFile].state != stOK {
		v.problem("ntfs-bad-record", fs.Error, -1, "$LogFile (record 2) unreadable")
		return
	}
	r, err := v.Record(recLogFile)
	if err != nil {
		return
	}
	d := r.find(AttrData, "")
	if d == nil || d.Resident || d.DataSize < 8192 {
		v.problem("ntfs-bad-record", fs.Error, -1, "$LogFile has no non-resident $DATA of at least 8 KiB")
		return
	}
	v.logRuns = d.Runs
	head := make([]byte, 4)
	if v.readStream(d.Runs, 0, head) != nil {
		return
	}
	if bytes.Equal(head, []byte{0xFF, 0xFF, 0xFF, 0xFF}) {
		v.ev.Notes = append(v.ev.Notes, "$LogFile holds no restart area (0xFF-filled, as mkntfs and ntfs-3g leave it)")
		v.logPage = 4096
		return
	}
	var pages [2]restart
	pages[0] = v.readRestart(d, 0)
	if pages[0].sysPage > 0 {
		pages[1] = v.readRestart(d, pages[0].sysPage)
	} else {
		pages[1] = v.readRestart(d, 4096)
	}
	best := -1
	for i, p := range pages {
		if p.ok && (best < 0 || p.currentLSN > pages[best].currentLSN) {
			best = i
		}
	}
	if best < 0 {
		v.problem("ntfs-log-not-clean", fs.Error, v.volOff(d.Runs, 0), "$LogFile has no valid restart page")
		return
	}
	p := pages[best]
	v.logPage = p.logPage
	v.ev.LogLSN = p.currentLSN
	// As the Linux driver decides (ntfs_is_logfile_clean): unclean only when
	// a client is in use and RESTART_VOLUME_IS_CLEAN is not set. Windows
	// leaves its client in the in-use list on a clean shutdown.
	clean := p.flags&2 != 0 || p.inUse == 0xFFFF
	v.ev.LogClean = &clean
	v.ev.Notes = append(v.ev.Notes, fmt.Sprintf("$LogFile restart page %d (%s): current LSN %d, flags %#04x, client in use list %#04x", best, p.magic, p.currentLSN, p.flags, p.inUse))
	if !clean {
		v.problem("ntfs-log-not-clean", fs.Warning, v.volOff(d.Runs, int64(best)*p.sysPage), "$LogFile restart area says the volume was not cleanly shut down (flags %#04x, client in use list %#04x)", p.flags, p.inUse)
	}
}

func (v *Volume) readRestart(d *Attr, off int64) restart {
	var p restart
	hdr := make([]byte, 0x30)
	if v.readStream(d.Runs, off, hdr) != nil {
		return p
	}
	p.magic = string(hdr[:4])
	voff := v.volOff(d.Runs, off)
	if p.magic != "RSTR" && p.magic != "CHKD" {
		v.problem("ntfs-log-not-clean", fs.Error, voff, "$LogFile restart page at %#x has magic %q", off, p.magic)
		return p
	}
	le := binary.LittleEndian
	p.sysPage = int64(le.Uint32(hdr[0x10:]))
	p.logPage = int64(le.Uint32(hdr[0x14:]))
	if !pow2In(p.sysPage, 512, 64<<10) || !pow2In(p.logPage, 512, 64<<10) {
		v.problem("ntfs-log-not-clean", fs.Error, voff, "$LogFile restart page at %#x: page sizes %d/%d", off, p.sysPage, p.logPage)
		p.sysPage = 0
		return p
	}
	page := make([]byte, p.sysPage)
	if v.readStream(d.Runs, off, page) != nil {
		return p
	}
	torn, err := Fixup(page)
	if err != nil || torn >= 0 {
		v.problem("ntfs-log-torn", fs.Error, voff, "$LogFile restart page at %#x: update sequence mismatch (block %d, %v)", off, torn, err)
		return p
	}
	ra := int64(le.Uint16(page[0x18:]))
	if ra < 0x1E || ra+0x10 > p.sysPage {
		v.problem("ntfs-log-not-clean", fs.Error, voff, "$LogFile restart page at %#x: restart area offset %#x", off, ra)
		return p
	}
	p.currentLSN = le.Uint64(page[ra:])
	p.inUse = le.Uint16(page[ra+0x0C:])
	p.flags = le.Uint16(page[ra+0x0E:])
	p.ok = true
	return p
}

func pow2In(x, lo, hi int64) bool { return x >= lo && x <= hi && bits.OnesCount64(uint64(x)) == 1 }

// checkBadClus reports the clusters $BadClus:$Bad holds.
func (v *Volume) checkBadClus() {
	var n int64
	for _, c := range v.claims {
		if c.kind == kBad {
			n += c.n
			v.problem("ntfs-bad-clusters", fs.Warning, c.lcn*v.boot.ClusterSize, "%s from LCN %d listed in $BadClus:$Bad", fs.Count(c.n, "cluster", "clusters"), c.lcn)
		}
	}
	if n > 0 {
		v.ev.Notes = append(v.ev.Notes, fmt.Sprintf("%d bad clusters", n))
	}
}

// checkIndexes verifies the update sequence of every INDX block of every
// directory.
func (v *Volume) checkIndexes() {
	is := v.boot.IndexSize
	b := make([]byte, is)
	recs := make([]int64, 0, len(v.dirRuns))
	for rec := range v.dirRuns {
		recs = append(recs, rec)
	}
	sort.Slice(recs, func(i, j int) bool { return recs[i] < recs[j] })
	for _, rec := range recs {
		runs := v.dirRuns[rec]
		cs := v.boot.ClusterSize
		for _, r := range runs {
			// Only the part of the run inside the image; blocks that
			// start in it.
			if r.LCN*cs >= v.imgSize {
				continue
			}
			n := min(r.Len, (v.imgSize-r.LCN*cs)/cs)
			first := (r.VCN*cs + is - 1) / is * is
			for off := first; off < (r.VCN+n)*cs; off += is {
				v.checkIndexBlock(rec, runs, off, b)
			}
		}
	}
}

func (v *Volume) checkIndexBlock(rec int64, runs []Run, off int64, b []byte) {
	is := v.boot.IndexSize
	if v.readStream(runs, off, b) != nil {
		return
	}
	if string(b[:4]) != "INDX" {
		if v.indexInUse(rec, off/is) {
			v.problem("ntfs-torn-index", fs.Error, v.volOff(runs, off), "INDX block %d of %s (record %d): in use by its $I30 bitmap, but its header reads %q: the block's first sector is lost", off/is, v.Path(rec), rec, b[:4])
		}
		return
	}
	torn, err := Fixup(b)
	switch {
	case err != nil:
		v.problem("ntfs-torn-index", fs.Error, v.volOff(runs, off), "INDX block %d of %s (record %d): %v", off/is, v.Path(rec), rec, err)
	case torn >= 0:
		v.problem("ntfs-torn-index", fs.Error, v.volOff(runs, off+int64(torn+1)*FixupStride-2), "INDX block %d of %s (record %d): update sequence mismatch in 512-byte block %d (torn write)", off/is, v.Path(rec), rec, torn)
	}
}

// recordName names a record in an owner: a system file's name, else its
// path, else its number.
func (v *Volume) recordName(n int64) string {
	if n >= 0 && n < int64(len(systemNames)) {
		return systemNames[n]
	}
	if p := v.paths[n]; p != "" {
		return p
	}
	return fmt.Sprintf("record %d", n)
}

// attrLabel names an attribute the way istat does: "$BITMAP",
// "$DATA:$SDS".
func attrLabel(typ uint32, name string) string {
	names := map[uint32]string{AttrStandardInformation: "$STANDARD_INFORMATION", AttrAttributeList: "$ATTRIBUTE_LIST",
		AttrFileName: "$FILE_NAME", 0x50: "$SECURITY_DESCRIPTOR", AttrVolumeName: "$VOLUME_NAME", AttrVolumeInformation: "$VOLUME_INFORMATION",
		AttrData: "$DATA", AttrIndexRoot: "$INDEX_ROOT", AttrIndexAllocation: "$INDEX_ALLOCATION", AttrBitmap: "$BITMAP"}
	l, ok := names[typ]
	if !ok {
		l = fmt.Sprintf("attribute %#x", typ)
	}
	if name != "" {
		l += ":" + name
	}
	return l
}

// maxIndexBitmap bounds the $I30 bitmap read for one directory.
const maxIndexBitmap = 1 << 20

// indexInUse reports whether directory rec's $I30 bitmap marks INDX block
// blk in use; false when that cannot be read (no evidence either way).
func (v *Volume) indexInUse(rec, blk int64) bool {
	if v.i30 == nil {
		v.i30 = map[int64][]byte{}
	}
	bm, ok := v.i30[rec]
	if !ok {
		if r, err := v.Record(rec); err == nil {
			for _, a := range r.Attrs {
				if a.Type != AttrBitmap || a.Name != "$I30" {
					continue
				}
				if a.Resident {
					bm = a.Value
				} else if a.DataSize > 0 && a.DataSize <= maxIndexBitmap {
					b := make([]byte, a.DataSize)
					if v.readStream(a.Runs, 0, b) == nil {
						bm = b
					}
				}
			}
		}
		v.i30[rec] = bm
	}
	return blk >= 0 && blk/8 < int64(len(bm)) && bm[blk/8]&(1<<(blk%8)) != 0
}
