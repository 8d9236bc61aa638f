package main

import (
	"time"

	"github.com/mirrorchk/mirrorchk/check"
	"github.com/mirrorchk/mirrorchk/repair"
	"github.com/mirrorchk/mirrorchk/report"
	"github.com/mirrorchk/mirrorchk/set"
)

// now is the report's clock; tests replace it.
var now = func() time.Time { return time.Now().UTC() }

// report turns the check results into the report model.
func (r *scanRun) report(e *env, o scanOptions) *report.Report {
	rep := &report.Report{
		Schema:     report.Schema,
		Tool:       report.Tool{Name: "mirrorchk", Version: toolVersion()},
		Command:    e.argv,
		Generated:  now().Format(time.RFC3339),
		SectorSize: o.sectorSize,
		Problems:   problems(r.problems),
	}
	for _, res := range r.results {
		rep.Sets = append(rep.Sets, setReport(res))
	}
	return rep
}

func setReport(res *check.Result) report.Set {
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
		rs.Members = append(rs.Members, rm)
	}
	rs.Divergence = report.Divergence{
		Bytes:       res.Diff.Bytes,
		RangesTotal: res.Diff.RangesTotal,
		Truncated:   res.Diff.RangesTotal > int64(len(res.Diff.Ranges)),
		Ranges:      ranges(s, res.Diff.Ranges, res.Authority),
	}
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
		}
	}
	return rs
}

func ranges(s *set.Set, rs []check.Range, auth *set.Member) []report.Range {
	out := make([]report.Range, 0, len(rs))
	for _, r := range rs {
		rr := report.Range{VolumeOffset: r.Offset, Length: r.Length}
		for _, g := range r.Groups {
			var paths []string
			for _, i := range g {
				paths = append(paths, s.Members[i].Path())
			}
			rr.Agree = append(rr.Agree, paths)
		}
		if auth != nil {
			p := auth.Path()
			rr.Source = &p
		}
		out = append(out, rr)
	}
	return out
}

func problems(ps []set.Problem) []report.Problem {
	out := make([]report.Problem, 0, len(ps))
	for _, p := range ps {
		out = append(out, report.Problem{Code: p.Code, Severity: p.Severity, Member: p.Member, Offset: p.Offset, Message: p.Message})
	}
	return out
}

// repairReport records a repair plan, and what was written, in the set's
// report.
func repairReport(p *repair.Plan, dryRun bool, status, reason string) *report.Repair {
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
			Member:      o.Member.Path(),
			RangesTotal: o.RangesTotal,
			BytesCopied: o.BytesCopied,
			Hashes:      o.Hashes,
			DataSHA256:  o.DataSHA256,
			Verified:    o.Verified,
			Ranges:      ranges(p.Result.Set, o.Ranges, p.Source),
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
