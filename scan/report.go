package scan

import (
	"cmp"
	"fmt"
	"slices"
	"time"

	"github.com/mirrorchk/mirrorchk/check"
	"github.com/mirrorchk/mirrorchk/fs"
	"github.com/mirrorchk/mirrorchk/repair"
	"github.com/mirrorchk/mirrorchk/report"
	"github.com/mirrorchk/mirrorchk/set"
	"github.com/mirrorchk/mirrorchk/set/md"
)

// Meta is what the report records of the run besides the sets: the
// tool, the command line and the time.
type Meta struct {
	Tool       report.Tool
	Command    []string
	Generated  time.Time
	SectorSize int
}

// Report turns the check results into the report model.
func (r *Run) Report(meta Meta) *report.Report {
	rep := &report.Report{
		Schema:     report.Schema,
		Tool:       meta.Tool,
		Command:    meta.Command,
		Generated:  meta.Generated.UTC().Format(time.RFC3339),
		SectorSize: meta.SectorSize,
		Problems:   problems(r.Problems),
	}
	for _, res := range r.Results {
		rep.Sets = append(rep.Sets, SetReport(res))
	}
	rep.Hives = HiveReports(r.Hives, r.Hashes)
	return rep
}

// HiveReports describes the hives read, hashed with the run's algorithms.
func HiveReports(hives []set.HiveInput, hashes []string) []report.Input {
	out := []report.Input{}
	for _, h := range hives {
		in := report.Input{Path: h.Path, Size: int64(len(h.Data))}
		if d, err := check.NewDigests(hashes); err == nil {
			d.Write(h.Data)
			in.Hashes = d.Sums()
		}
		out = append(out, in)
	}
	return out
}

// SetReport is the report model of one checked set.
func SetReport(res *check.Result) report.Set {
	s := res.Set
	rs := report.Set{
		ID:        s.ID,
		Name:      s.Name,
		Metadata:  s.Format,
		Level:     s.Level,
		Verdict:   res.Verdict,
		DataSize:  s.DataSize,
		RaidDisks: s.RaidDisks,
		Authority: report.Authority{Basis: res.Basis, Reasons: res.Reasons},
		Problems:  append(problems(s.Problems), problems(res.Problems)...),
	}
	if res.Authority != nil {
		p := res.Authority.Path()
		rs.Authority.Member = &p
	}
	for i, m := range s.Members {
		rm := report.Member{
			Path:          m.Path(),
			Size:          m.Image.Size(),
			Role:          m.Role,
			State:         res.States[m.Input],
			Generation:    m.Generation,
			DataOffset:    m.DataOffset,
			DataSize:      m.DataSize,
			Authoritative: m == res.Authority,
			Evidence:      m.Evidence,
		}
		if segs := m.Image.Segments(); len(segs) > 1 {
			rm.Segments = segs
		}
		if res.Diff.Hashes != nil {
			rm.Hashes = res.Diff.Hashes[i]
		}
		if i < len(res.Layouts) && res.Layouts[i] != nil {
			rm.PartitionTable, rm.Filesystems = filesystems(res.Layouts[i])
		}
		rm.Container = containerReport(m.Image, rm.Hashes)
		rs.Problems = append(rs.Problems, containerProblems(rm)...)
		if i < len(res.Unread) {
			rm.Unreadable = unreadable(res.Unread[i])
		}
		rs.Members = append(rs.Members, rm)
	}
	rs.Divergence = report.Divergence{
		Bytes:       res.Diff.Bytes,
		RangesTotal: res.PiecesTotal,
		Truncated:   res.PiecesTotal > int64(len(res.Pieces)),
		Ranges:      ranges(s, res.Pieces, res.Authority),
	}
	rs.Files = []report.File{}
	for _, f := range res.Files {
		rs.Files = append(rs.Files, report.File{Path: f.Path, FS: f.FS, Bytes: f.Bytes, Structures: f.Structures})
	}
	// A total order: largest first, then by path, filesystem and
	// structures, so that two entries of equal size and path ("FAT 1",
	// "FAT 2") come out the same way in every run.
	slices.SortStableFunc(rs.Files, func(a, b report.File) int {
		if a.Bytes != b.Bytes {
			return cmp.Compare(b.Bytes, a.Bytes)
		}
		return cmp.Or(cmp.Compare(a.Path, b.Path), cmp.Compare(a.FS, b.FS), slices.Compare(a.Structures, b.Structures))
	})
	rs.FilesUnlisted = res.FilesLost
	rs.Recovered, rs.RecoveredRanges, rs.RecoveredBytes = salvages(s, res.Recovered), res.RecoveredTotal, res.RecoveredBytes
	rs.Lost, rs.LostRanges, rs.LostBytes = salvages(s, res.Lost), res.LostTotal, res.LostBytes
	rs.FilesWithLostData = []report.File{}
	for _, f := range res.LostFiles {
		rs.FilesWithLostData = append(rs.FilesWithLostData, report.File{Path: f.Path, FS: f.FS, Bytes: f.Bytes, Structures: f.Structures})
	}
	rs.FilesWithLostDataUnlisted = res.LostFilesUnlisted
	if b := s.Bitmap; b != nil {
		rs.Bitmap = &report.Bitmap{
			Member:        s.BitmapMember.Path(),
			ChunkSize:     b.ChunkSize,
			Chunks:        b.NBits,
			DirtyChunks:   b.DirtyCount(),
			Events:        b.Events,
			EventsCleared: b.EventsCleared,
			CoversAll:     res.BitmapCovers,
			Uncovered:     res.Uncovered,
			DirtyExtents:  dirtyExtents(b, s.DataSize),
		}
	}
	return rs
}

// unreadable describes what of a member could not be read.
func unreadable(u check.MemberUnread) report.Unreadable {
	ru := report.Unreadable{Ranges: u.Ranges, Bytes: u.Bytes, DataBytes: u.DataBytes, ReadErrorBytes: u.ReadErrorBytes,
		DeclaredBytes: u.DeclaredBytes, DeclaredBy: u.Declared, List: []report.UnreadableRange{}}
	for _, e := range u.List {
		r := report.UnreadableRange{Offset: e.Off, Length: e.Len, Cause: e.Cause, Owners: owners(e.Owners)}
		if e.Volume >= 0 {
			v := e.Volume
			r.VolumeOffset = &v
		}
		ru.List = append(ru.List, r)
	}
	return ru
}

func salvages(s *set.Set, svs []check.Salvage) []report.Salvage {
	out := make([]report.Salvage, 0, len(svs))
	for _, sv := range svs {
		r := report.Salvage{VolumeOffset: sv.Offset, Length: sv.Length, Basis: sv.Basis, Reason: sv.Reason, Owners: owners(sv.Owners)}
		for _, i := range sv.Unreadable {
			r.Unreadable = append(r.Unreadable, s.Members[i].Path())
		}
		if sv.From >= 0 {
			p := s.Members[sv.From].Path()
			r.Source = &p
		}
		out = append(out, r)
	}
	return out
}

func owners(os []fs.Owner) []report.Owner {
	out := make([]report.Owner, 0, len(os))
	for _, o := range os {
		out = append(out, owner(o))
	}
	return out
}

func ranges(s *set.Set, rs []check.Piece, auth *set.Member) []report.Range {
	out := make([]report.Range, 0, len(rs))
	for _, r := range rs {
		rr := report.Range{VolumeOffset: r.Offset, Length: r.Length, SourceBasis: r.Basis, SourceReason: r.Reason, Owners: []report.MemberOwner{}}
		for _, g := range r.Groups {
			var paths []string
			for _, i := range g {
				paths = append(paths, s.Members[i].Path())
			}
			rr.Agree = append(rr.Agree, paths)
		}
		if r.Source >= 0 {
			p := s.Members[r.Source].Path()
			rr.Source = &p
		}
		// The owner as the authority's filesystem sees it, else the first
		// member's that has one; every member's when they differ.
		first := -1
		for i, m := range s.Members {
			if known(r.Owners[i]) && (first < 0 || m == auth) {
				first = i
			}
		}
		if first >= 0 {
			o := owner(r.Owners[first])
			rr.Owner = &o
			if slices.ContainsFunc(r.Owners, func(o fs.Owner) bool { return o != r.Owners[first] }) {
				for j, ow := range r.Owners {
					rr.Owners = append(rr.Owners, report.MemberOwner{Member: s.Members[j].Path(), Owner: owner(ow)})
				}
			}
		}
		out = append(out, rr)
	}
	return out
}

func known(o fs.Owner) bool { return o.FS != "" || o.Structure != "" }

func owner(o fs.Owner) report.Owner {
	ro := report.Owner{FS: o.FS, Structure: o.Structure, Path: o.Path}
	if o.Record >= 0 && known(o) {
		r := o.Record
		ro.Record = &r
	}
	if o.Cluster >= 0 && known(o) {
		c := o.Cluster
		ro.Cluster = &c
	}
	return ro
}

// filesystems describes a member's partition table and filesystems.
func filesystems(l *check.Layout) (string, []report.Filesystem) {
	out := []report.Filesystem{}
	kind := ""
	if l.Table != nil {
		kind = l.Table.Kind
	}
	for _, v := range l.Volumes {
		f := report.Filesystem{Type: v.Vol.Type(), Offset: v.Start, Size: v.Size, Evidence: evidenceText(v.Vol.Evidence())}
		if p := v.Partition; p != nil {
			f.Partition = &report.Partition{Index: p.Index, Type: p.Type, TypeName: p.TypeName, Start: p.Start, Size: p.Size}
		}
		out = append(out, f)
	}
	return kind, out
}

func evidenceText(e fs.Evidence) []string {
	out := []string{}
	if e.Dirty != nil {
		out = append(out, map[bool]string{true: "dirty flag set", false: "dirty flag clear"}[*e.Dirty])
	}
	if e.LogLSN > 0 {
		if e.LogName != "" {
			out = append(out, fmt.Sprintf("%s %d", e.LogName, e.LogLSN))
		} else {
			out = append(out, fmt.Sprintf("$LogFile current LSN %d", e.LogLSN))
		}
	}
	if e.LogClean != nil {
		if e.LogName != "" {
			out = append(out, map[bool]string{true: "log empty (clean)", false: "log holds transactions not yet in place"}[*e.LogClean])
		} else {
			out = append(out, map[bool]string{true: "$LogFile restart area: clean shutdown", false: "$LogFile restart area: not clean"}[*e.LogClean])
		}
	}
	if e.MaxRecordLSN > 0 {
		out = append(out, fmt.Sprintf("highest record LSN %d", e.MaxRecordLSN))
	}
	if e.FreeClusters >= 0 {
		out = append(out, fmt.Sprintf("FSInfo free clusters %d", e.FreeClusters))
	}
	if !e.Latest.IsZero() {
		out = append(out, "latest timestamp "+e.Latest.UTC().Format(time.RFC3339Nano)) // to the nanosecond the filesystem keeps: values shown alike are equal
	}
	out = append(out, fs.Count(e.Files, "file or directory", "files and directories"))
	return append(out, e.Notes...)
}

func problems(ps []set.Problem) []report.Problem {
	out := make([]report.Problem, 0, len(ps))
	for _, p := range ps {
		out = append(out, report.Problem{Code: p.Code, Severity: p.Severity, Member: p.Member, Offset: p.Offset, Message: p.Message})
	}
	return out
}

// RepairReport records a repair plan, and what was written, in the set's
// report.
func RepairReport(p *repair.Plan, dryRun bool, status, reason string) *report.Repair {
	rr := &report.Repair{DryRun: dryRun, Status: status, Reason: reason}
	if p == nil {
		return rr
	}
	if p.Source != nil {
		src := p.Source.Path()
		rr.Source = &src
	}
	for _, o := range p.Outputs {
		ro := report.RepairOutput{
			Member:             o.Member.Path(),
			WrittenAs:          writtenAs(o.Member.Image),
			RangesTotal:        o.RangesTotal,
			BytesCopied:        o.BytesCopied,
			Hashes:             o.Hashes,
			DataSHA256:         o.DataSHA256,
			Verified:           o.Verified,
			FilesystemFindings: o.FSProblems,
			Ranges:             ranges(p.Result.Set, o.Ranges, p.Source),
			RecoveredBytes:     o.RecoveredBytes,
			LostBytes:          o.LostBytes,
			Mapfile:            o.Mapfile,
		}
		if !dryRun {
			ro.Path = o.Path
		}
		for _, pt := range o.Patches {
			ro.MetadataChanges = append(ro.MetadataChanges, pt.Changes...)
		}
		if p.MetadataNote != "" {
			ro.MetadataChanges = append(ro.MetadataChanges, p.MetadataNote)
		}
		rr.Outputs = append(rr.Outputs, ro)
	}
	return rr
}

// dirtyExtents returns the runs of consecutive dirty chunks of b as byte
// ranges of the data area (clipped to size), at most
// report.MaxDirtyExtents of them.
func dirtyExtents(b *md.Bitmap, size int64) []report.Extent {
	var out []report.Extent
	if b.ChunkSize <= 0 {
		return nil
	}
	for k := int64(0); k < b.NBits && len(out) < report.MaxDirtyExtents; k++ {
		if !b.Dirty(k) {
			continue
		}
		start := k
		for k+1 < b.NBits && b.Dirty(k+1) {
			k++
		}
		off := start * b.ChunkSize
		if off >= size {
			break
		}
		end := min((k+1)*b.ChunkSize, size)
		out = append(out, report.Extent{Offset: off, Length: end - off})
	}
	return out
}
