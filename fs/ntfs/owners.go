package ntfs

import (
	"encoding/binary"
	"fmt"
	"sort"
	"strings"

	"github.com/mirrorchk/mirrorchk/fs"
)

// Segment kinds of the volume layout.
const (
	segClaim = iota
	segFree
	segLost
	segUnclustered
	segBackup
	segBeyond
	segBootSector // sector 0, whoever claims it
)

type seg struct {
	off, n int64
	kind   int
	c      *claim
}

// segments calls f for the consecutive layout segments covering
// [off, off+n): claimed runs, free or lost gaps (by $Bitmap), the sectors
// after the last cluster, the backup boot sector, and what lies beyond.
func (v *Volume) segments(off, n int64, f func(seg)) {
	if n <= 0 {
		return
	}
	end := off + n
	if end < off {
		end = 1<<63 - 1
	}
	cs := v.boot.ClusterSize
	clusterEnd := v.clusters * cs
	totEnd := v.boot.TotalSectors * v.boot.BytesPerSector
	size := v.Size()
	for pos := off; pos < end; {
		var s seg
		switch {
		case pos < 0:
			s = seg{pos, min(end, 0) - pos, segBeyond, nil}
		case pos >= size:
			s = seg{pos, end - pos, segBeyond, nil}
		case pos >= totEnd:
			s = seg{pos, min(end, size) - pos, segBackup, nil}
		case pos < v.boot.BytesPerSector:
			s = seg{pos, min(end, v.boot.BytesPerSector) - pos, segBootSector, nil}
		case pos >= clusterEnd:
			s = seg{pos, min(end, totEnd) - pos, segUnclustered, nil}
		default:
			lcn := pos / cs
			i := sort.Search(len(v.claims), func(i int) bool { return v.claims[i].lcn+v.claims[i].n > lcn })
			if i < len(v.claims) && v.claims[i].lcn <= lcn {
				c := &v.claims[i]
				s = seg{pos, min(end, (c.lcn+c.n)*cs) - pos, segClaim, c}
				break
			}
			gapEnd := v.clusters
			if i < len(v.claims) {
				gapEnd = v.claims[i].lcn
			}
			kind := segFree
			if v.bitmap != nil {
				e, set := bitRun(v.bitmap, lcn, gapEnd)
				gapEnd = e
				if set {
					kind = segLost
				}
			}
			s = seg{pos, min(end, gapEnd*cs) - pos, kind, nil}
		}
		f(s)
		pos += s.n
	}
}

// Owners covers [off, off+n) with extents in order, split wherever the
// owner changes: "$MFT record N" per record inside $MFT, the system files
// by name, fs.FileData and fs.Directory with paths, fs.FreeSpace for
// clusters nothing claims and $Bitmap has free, fs.LostClusters for those
// $Bitmap has allocated, fs.BootSector, fs.BackupBoot, fs.Unclustered,
// fs.BeyondVolume.
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
	cs, rs := v.boot.ClusterSize, v.boot.RecordSize
	v.segments(off, n, func(s seg) {
		o := fs.Owner{FS: "ntfs", Record: -1, Cluster: -1}
		switch s.kind {
		case segBeyond:
			o.Structure = fs.BeyondVolume
		case segBootSector:
			o.Structure, o.Cluster = fs.BootSector, 0
			if len(v.claims) > 0 && v.claims[0].lcn == 0 && v.claims[0].kind == kBoot {
				o.Record, o.Path = recBoot, v.Path(recBoot)
			}
		case segBackup:
			o.Structure = fs.BackupBoot
		case segUnclustered:
			o.Structure = fs.Unclustered
		case segFree, segLost:
			o.Structure = fs.FreeSpace
			if s.kind == segLost {
				o.Structure = fs.LostClusters
			}
			o.Cluster = s.off / cs
		case segClaim:
			c := s.c
			o.Cluster = s.off / cs
			o.Record = c.rec
			o.Path = v.Path(c.rec)
			switch c.kind {
			case kMFT:
				for pos, end := s.off, s.off+s.n; pos < end; {
					so := (c.vcn+pos/cs-c.lcn)*cs + pos%cs
					rec := so / rs
					if rec >= v.nrec {
						// Allocated to $MFT, past its records.
						add(pos, end-pos, fs.Owner{FS: "ntfs", Structure: "$MFT", Path: v.Path(recMFT), Record: recMFT, Cluster: pos / cs})
						break
					}
					e := min(end, pos+rs-so%rs)
					add(pos, e-pos, fs.Owner{FS: "ntfs", Structure: fmt.Sprintf("$MFT record %d", rec), Path: v.Path(rec), Record: rec, Cluster: pos / cs})
					pos = e
				}
				return
			case kBoot:
				o.Structure = "$Boot"
			case kMirr:
				o.Structure = "$MFTMirr"
			case kLog:
				o.Structure = "$LogFile"
			case kBad:
				o.Structure = fs.BadClusters
			case kDir:
				o.Structure = fs.Directory
			case kSys:
				o.Structure = c.name
			default:
				o.Structure = fs.FileData
			}
		}
		add(s.off, s.n, o)
	})
	return out
}

// judgement accumulates the checks of one Judge call.
type judgement struct {
	intact  int
	lsn     uint64
	fails   []string
	nfail   int
	checked []string
	nok     int
}

func (j *judgement) ok(what string, lsn uint64) {
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

func (j *judgement) result() fs.Judgement {
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
	default:
		r.Reason = "no structure to check"
	}
	return r
}

// Judge checks this volume's copy of [off, off+n): the update sequences of
// the FILE records, $MFTMirr records, INDX blocks and $LogFile pages in the
// range, and the boot sector and its backup. LSN is the highest FILE or
// INDX LSN in the range.
func (v *Volume) Judge(off, n int64) fs.Judgement {
	var j judgement
	cs, rs := v.boot.ClusterSize, v.boot.RecordSize
	v.segments(off, n, func(s seg) {
		switch s.kind {
		case segBootSector:
			b := make([]byte, 512)
			if err := v.readAt(b, 0); err != nil {
				j.fail("boot sector: " + err.Error())
			} else if _, err := ParseBoot(b, 0); err != nil {
				j.fail("boot sector: " + err.Error())
			} else {
				j.ok("boot sector", 0)
			}
			return
		case segBackup:
			b := make([]byte, 512)
			bo := v.boot.TotalSectors * v.boot.BytesPerSector
			if err := v.readAt(b, bo); err != nil {
				j.fail("backup boot sector: " + err.Error())
			} else if _, err := ParseBoot(b, bo); err != nil {
				j.fail("backup boot sector: " + err.Error())
			} else {
				j.ok("backup boot sector", 0)
			}
			return
		case segClaim:
		default:
			return
		}
		// Nothing past the image can be read.
		if s.off >= v.imgSize {
			return
		}
		s.n = min(s.n, v.imgSize-s.off)
		c := s.c
		so := (c.vcn+s.off/cs-c.lcn)*cs + s.off%cs // stream offset
		se := so + s.n
		switch c.kind {
		case kMFT:
			for rec := max(so/rs, 0); rec*rs < se; rec++ {
				if rec >= v.nrec {
					break
				}
				ri := v.recs[rec]
				switch ri.state {
				case stOK:
					j.ok(fmt.Sprintf("$MFT record %d", rec), ri.lsn)
				case stTorn:
					j.lsn = max(j.lsn, ri.lsn)
					j.fail(fmt.Sprintf("$MFT record %d: update sequence mismatch in 512-byte block %d", rec, ri.torn))
				case stBad:
					j.fail(fmt.Sprintf("$MFT record %d: not a valid FILE record", rec))
				}
			}
		case kMirr:
			b := make([]byte, rs)
			for rec := max(so/rs, 0); rec*rs < se && rec < 64; rec++ {
				if v.readStream(v.mirrRuns, rec*rs, b) != nil || allZero(b) {
					continue
				}
				v.judgeMulti(&j, b, "FILE", fmt.Sprintf("$MFTMirr record %d", rec), false)
			}
		case kLog:
			ps := v.logPage
			if ps == 0 {
				ps = 4096
			}
			b := make([]byte, ps)
			for p := so / ps; p*ps < se; p++ {
				if v.readStream(v.logRuns, p*ps, b) != nil {
					continue
				}
				switch string(b[:4]) {
				case "RSTR", "CHKD", "RCRD":
					v.judgeMulti(&j, b, string(b[:4]), fmt.Sprintf("$LogFile page %d", p), false)
				}
			}
		case kDir:
			if c.name != "" {
				return
			}
			is := v.boot.IndexSize
			b := make([]byte, is)
			runs := v.dirRuns[c.rec]
			for blk := so / is; blk*is < se; blk++ {
				if v.readStream(runs, blk*is, b) != nil {
					continue
				}
				if string(b[:4]) != "INDX" {
					if v.indexInUse(c.rec, blk) {
						j.fail(fmt.Sprintf("INDX block %d of %s: in use by its $I30 bitmap, but its header reads %q (first sector lost)", blk, v.Path(c.rec), b[:4]))
					}
					continue
				}
				v.judgeMulti(&j, b, "INDX", fmt.Sprintf("INDX block %d of %s", blk, v.Path(c.rec)), true)
			}
		}
	})
	return j.result()
}

// judgeMulti checks the fixups of one multi-sector structure (b is
// modified).
func (v *Volume) judgeMulti(j *judgement, b []byte, magic, what string, lsn bool) {
	if string(b[:4]) != magic {
		j.fail(fmt.Sprintf("%s: magic %q", what, b[:4]))
		return
	}
	torn, err := Fixup(b)
	var l uint64
	if lsn {
		l = binary.LittleEndian.Uint64(b[8:])
		j.lsn = max(j.lsn, l)
	}
	switch {
	case err != nil:
		j.fail(fmt.Sprintf("%s: %v", what, err))
	case torn >= 0:
		j.fail(fmt.Sprintf("%s: update sequence mismatch in 512-byte block %d", what, torn))
	default:
		j.ok(what, l)
	}
}
