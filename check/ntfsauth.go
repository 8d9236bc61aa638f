package check

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/mirrorchk/mirrorchk/fs"
)

// The NTFS FILE records weighed one by one: a member's copy of a record
// shows a write of its own when a field only the driver maintains says it
// was changed after the other member's copy (ntfsRecordWrites). Such
// writes count in excl (and alloc, for records a member allocated), so
// that two members each holding one are a split brain, and a member never
// passes over another that holds one. A record whose copies differ while
// every such field is equal was changed by a writer that stamps nothing
// (ntfscp and the other libntfs tools): which member wrote it cannot be
// told, and no member is taken over it (blind).

// recordStamper is implemented by filesystems whose file records carry
// stamps of their last change that only the driver maintains (NTFS).
type recordStamper interface {
	Stamp(record int64) (fs.RecordStamp, bool)
}

type stampFact struct {
	s  fs.RecordStamp
	ok bool
}

// ntfsRecords is what the NTFS file records weighed one by one showed.
type ntfsRecords struct {
	stamps map[int]map[any]stampFact // per member: record stamps read
	// writes[i][j] counts the differing bytes of records whose copy on i
	// was written after j's (also counted in excl); writesPath[i][j] is
	// the first, with its evidence.
	writes     [][]int64
	writesPath [][]string
	// blind[i][j] counts the differing bytes of records whose copies on i
	// and j carry equal stamps: which member wrote them cannot be told.
	// blindPath[i][j] is the first such record.
	blind     [][]int64
	blindPath [][]string
}

// ntfsTally returns the NTFS record tallies, made on first use.
func (in *interp) ntfsTally() *ntfsRecords {
	if in.ntfs == nil {
		n := len(in.s.Members)
		r := &ntfsRecords{stamps: map[int]map[any]stampFact{}, writes: make([][]int64, n), writesPath: make([][]string, n),
			blind: make([][]int64, n), blindPath: make([][]string, n)}
		for i := range n {
			r.writes[i], r.writesPath[i] = make([]int64, n), make([]string, n)
			r.blind[i], r.blindPath[i] = make([]int64, n), make([]string, n)
		}
		in.ntfs = r
	}
	return in.ntfs
}

// stampOf returns member i's stamp of record rec of the filesystem at
// data offset off, read once per member and record (up to maxRecordFacts).
func (in *interp) stampOf(i int, off, rec int64) (fs.RecordStamp, bool) {
	type key struct {
		vol fs.Volume
		rec int64
	}
	v := in.volumeAt(i, off)
	d, ok := v.(recordStamper)
	if !ok {
		return fs.RecordStamp{}, false
	}
	st := in.ntfsTally().stamps
	m := st[i]
	if m == nil {
		m = map[any]stampFact{}
		st[i] = m
	}
	k := key{v, rec}
	if f, ok := m[k]; ok {
		return f.s, f.ok
	}
	var f stampFact
	f.s, f.ok = d.Stamp(rec)
	if len(m) < maxRecordFacts {
		m[k] = f
	}
	return f.s, f.ok
}

// userRecord reports whether o is an NTFS FILE record of a user file or
// directory (the root directory, or record 16 on outside $Extend), or a
// free record there: the metadata files' own records change on every
// mount and say nothing of the files.
func userRecord(o fs.Owner) bool {
	return o.FS == "ntfs" && strings.HasPrefix(o.Structure, "$MFT record ") && (o.Record == 5 || o.Record >= 16) &&
		!strings.HasPrefix(o.Path, "/$")
}

// seqAfter reports whether NTFS sequence number a comes after b: the
// driver adds one when it frees a record, and wraps from 0xFFFF to 1.
func seqAfter(a, b uint16) bool {
	if a == 0 || b == 0 || a == b {
		return false
	}
	d := (int(a) - int(b) + 0xFFFF) % 0xFFFF
	return d > 0 && d < 0x8000
}

// ntfsRecordWrites says what member a's copy sa of a record shows written
// after member b's copy sb, one phrase per driver-maintained field, and
// whether a allocated the record to a file b's copy lacks.
func ntfsRecordWrites(sa, sb fs.RecordStamp, a, b string) (why []string, allocated bool) {
	switch {
	case !sa.InUse && !sb.InUse:
		return nil, false // free on both: no file is lost either way
	case sa.InUse && !sb.Formatted:
		why = append(why, fmt.Sprintf("in use on %s, never used on %s", a, b))
		allocated = true
	case seqAfter(sa.Seq, sb.Seq) && sa.InUse:
		why = append(why, fmt.Sprintf("sequence number %d on %s, %d on %s: %s freed the record and reused it", sa.Seq, a, sb.Seq, b, a))
		allocated = true
	case seqAfter(sa.Seq, sb.Seq):
		why = append(why, fmt.Sprintf("freed on %s: sequence number %d there, %d on %s (the driver adds one when it frees a record)", a, sa.Seq, sb.Seq, b))
	case sa.Seq == sb.Seq && sa.InUse && !sb.InUse:
		why = append(why, fmt.Sprintf("in use on %s, free on %s with the same sequence number %d: %s allocated it after %s's copy was freed", a, b, sa.Seq, a, b))
		allocated = true
	}
	if sa.LSN > 0 && sb.LSN > 0 && sa.LSN > sb.LSN {
		why = append(why, fmt.Sprintf("record LSN %d on %s, %d on %s", sa.LSN, a, sb.LSN, b))
	}
	if !sa.Changed.IsZero() && !sb.Changed.IsZero() && sa.Changed.After(sb.Changed) {
		why = append(why, fmt.Sprintf("MFT change time %s on %s, %s on %s", sa.Changed.Format(time.RFC3339Nano), a, sb.Changed.Format(time.RFC3339Nano), b))
	}
	return why, allocated
}

// countRecord weighs one piece of an NTFS user record (or of a record one
// member's $MFT does not reach) for members i and j: writes on i that j
// lacks go to excl (and alloc), a change neither stamps to blind; so does
// a file's data changed while its record's stamps are equal. It drops a
// file's clusters on i that j gives to no file or another when j's copy of
// the file's record was written later. It returns false when the piece is
// none of these, for the general rules to weigh.
func (in *interp) countRecord(p Piece, i, j int, add func(m [][]int64, paths [][]string, i, j int, path string)) bool {
	oi, oj := p.Owners[i], p.Owners[j]
	if oi.FS == "ntfs" && oj.FS == "ntfs" && fileOwned(oi) && oi.Record > 0 && !userRecord(oi) && oj.Record != oi.Record {
		// i's file holds clusters j has free or gives to another file.
		// When j's copy of that file's record was written after i's (j
		// deleted the file, or changed it), the clusters are the file as
		// it was before j's write, not a write of i's: what i wrote to
		// the file shows in its record.
		si, iok := in.stampOf(i, p.Offset, oi.Record)
		sj, jok := in.stampOf(j, p.Offset, oi.Record)
		if iok && jok {
			if why, _ := ntfsRecordWrites(sj, si, "", ""); len(why) > 0 {
				return true
			}
		}
		return false
	}
	if oi.FS == "ntfs" && oj.FS == "ntfs" && oi.Structure == fs.FileData && oj.Structure == fs.FileData && fileOwned(oi) && fileOwned(oj) &&
		oi.Record > 0 && oj.Record == oi.Record {
		// One file's data, rewritten in place on one member: its record
		// says which member wrote it (a later stamp), or nothing (the
		// writer stamped nothing: ntfscp rewrites a file so).
		si, iok := in.stampOf(i, p.Offset, oi.Record)
		sj, jok := in.stampOf(j, p.Offset, oi.Record)
		if !iok || !jok {
			return false
		}
		a, _ := ntfsRecordWrites(si, sj, "", "")
		b, _ := ntfsRecordWrites(sj, si, "", "")
		if len(a) == 0 && len(b) == 0 {
			r := in.ntfsTally()
			add(r.blind, r.blindPath, i, j, fmt.Sprintf("%s (data of $MFT record %d: the data differs, but both copies of the record carry sequence number %d, record LSN %d and MFT change time %s)",
				oi.Path, oi.Record, si.Seq, si.LSN, showTime(si.Changed)))
			return true
		}
		return false
	}
	if !userRecord(oi) {
		return false
	}
	r := in.ntfsTally()
	name := func(k int) string { return in.s.Members[k].Path() }
	path := oi.Path
	if path == "" {
		path = oj.Path
	}
	si, iok := in.stampOf(i, p.Offset, oi.Record)
	if !iok {
		return true // damaged: judged by its structure
	}
	label := fmt.Sprintf("$MFT record %d", oi.Record)
	if path != "" {
		label = path + " (" + label
	} else {
		label = "(" + label
	}
	switch {
	case oj.FS == "ntfs" && (oj.Structure == "$MFT" || oj.Structure == fs.FreeSpace) && si.InUse:
		// j's $MFT does not reach this record: i allocated it.
		where := fmt.Sprintf("beyond the records of %s's $MFT", name(j))
		if oj.Structure == fs.FreeSpace {
			where = fmt.Sprintf("free space on %s", name(j))
		}
		what := fmt.Sprintf("%s: in use on %s, %s)", label, name(i), where)
		add(in.alloc, in.allocPath, i, j, what)
		add(in.excl, in.exclPath, i, j, what)
		add(r.writes, r.writesPath, i, j, what)
		return true
	case !userRecord(oj) || oj.Record != oi.Record:
		return false
	}
	sj, jok := in.stampOf(j, p.Offset, oj.Record)
	if !jok {
		return true
	}
	why, allocated := ntfsRecordWrites(si, sj, name(i), name(j))
	if len(why) > 0 {
		what := label + ": " + strings.Join(why, "; ") + ")"
		if allocated {
			add(in.alloc, in.allocPath, i, j, what)
		}
		add(in.excl, in.exclPath, i, j, what)
		add(r.writes, r.writesPath, i, j, what)
		return true
	}
	if back, _ := ntfsRecordWrites(sj, si, name(j), name(i)); len(back) == 0 && si.Body != sj.Body && (si.InUse || sj.InUse) {
		add(r.blind, r.blindPath, i, j, fmt.Sprintf("%s: the copies differ, but both carry sequence number %d, record LSN %d and MFT change time %s)",
			label, si.Seq, si.LSN, showTime(si.Changed)))
	}
	return true
}

func showTime(t time.Time) string {
	if t.IsZero() {
		return "none"
	}
	return t.Format(time.RFC3339Nano)
}

// recordStop refuses the candidates when another member's copy of an
// NTFS record differs from a candidate's with no stamp saying which was
// written later: taking the candidate might drop that member's write. It
// returns true when it refused (the verdict names no member). Otherwise it
// says what the records showed of the candidates and the others.
func (in *interp) recordStop(v *fsVerdict, cands []int, name func(int) string) bool {
	r := in.ntfs
	if r == nil {
		return false
	}
	for _, c := range cands {
		for o := range r.blind {
			if slices.Contains(cands, o) || r.blind[o][c] == 0 {
				continue
			}
			v.reasons = append(v.reasons, fmt.Sprintf("but %s and %s hold %d bytes of NTFS file records or file data that differ with no stamp saying which copy was written later (e.g. %s): a writer that stamps nothing (ntfscp and the other libntfs tools) changed them on one of the two, and %s cannot be taken over %s without perhaps losing that write",
				name(o), name(c), r.blind[o][c], r.blindPath[o][c], name(c), name(o)))
			v.older = nil
			return true
		}
	}
	var said []string
	for _, c := range cands {
		for o := range r.writes {
			if slices.Contains(cands, o) || (r.writes[c][o] == 0 && r.writes[o][c] == 0) {
				continue
			}
			s := fmt.Sprintf("%s holds %d bytes of records written after %s's copies", name(c), r.writes[c][o], name(o))
			if r.writes[c][o] > 0 {
				s += " (e.g. " + r.writesPath[c][o] + ")"
			}
			if r.writes[o][c] == 0 {
				s += fmt.Sprintf(", and %s none written after %s's", name(o), name(c))
			}
			said = append(said, s)
		}
	}
	if len(said) > 0 {
		v.reasons = append(v.reasons, "NTFS file records, each member's copy weighed by the fields only the driver keeps (sequence number, record LSN, MFT change time): "+strings.Join(said, "; "))
	}
	return false
}
