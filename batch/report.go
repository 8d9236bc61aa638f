package batch

import (
	"fmt"
	"time"

	"github.com/mirrorchk/mirrorchk/report"
	"github.com/mirrorchk/mirrorchk/scan"
)

// Report builds the report of a run: the sets checked, in plan order, the
// problems not tied to one set, the hives, what the walk skipped, the
// plan's hash, the shard and the exit code. prov may be nil.
func (p *Plan) Report(results []*SetResult, meta scan.Meta, hashes []string, shard int, prov *report.Provenance) *report.Report {
	rep := &report.Report{
		Schema:     report.Schema,
		Tool:       meta.Tool,
		Command:    meta.Command,
		Generated:  meta.Generated.UTC().Format(time.RFC3339),
		SectorSize: meta.SectorSize,
		Problems:   problems(p.Problems),
		Hives:      scan.HiveReports(p.Hives, hashes),
		Provenance: prov,
		Plan:       p.Hash,
		Inputs:     p.Summary(),
	}
	if shard >= 0 {
		rep.Shard = fmt.Sprintf("%d/%d", shard, p.Shards)
	}
	rep.Sets = []report.Set{}
	for _, r := range results {
		rep.Sets = append(rep.Sets, r.Report)
		rep.SetIndexes = append(rep.SetIndexes, r.Planned.Index)
	}
	code := RunCode(rep)
	rep.ExitCode = &code
	return rep
}

// Summary is what the walk found.
func (p *Plan) Summary() *report.InputsSummary {
	s := &report.InputsSummary{Sets: len(p.Sets), Skipped: map[string]int{}}
	for k, v := range p.Skipped {
		s.Skipped[k] = v
	}
	for _, in := range p.Inputs {
		if in.Err != errDuplicate {
			s.Images++
		}
	}
	return s
}

// RunCode is a report's exit code: the bitwise OR of its sets' codes, and
// 4 when a problem not tied to one set is of warning severity or worse.
func RunCode(rep *report.Report) int {
	code := 0
	if Bad(rep.Problems) {
		code |= CodeProblems
	}
	for i := range rep.Sets {
		s := &rep.Sets[i]
		if s.ExitCode != nil {
			code |= *s.ExitCode
		} else {
			code |= SetCode(s)
		}
	}
	return code
}
