package check

import (
	"fmt"
	"slices"
	"strings"

	"github.com/mirrorchk/mirrorchk/fs"
	"github.com/mirrorchk/mirrorchk/set"
)

// interpret resolves the source of every piece now that the authority is
// known, and adds the filesystems' own findings to the decision.
func (r *Result) interpret(in *interp, fsv fsVerdict, notes []string) {
	s := r.Set
	auth := -1
	for i, m := range s.Members {
		if m == r.Authority {
			auth = i
		}
	}
	strong := r.Basis == BasisMetadata || r.Basis == BasisUser
	name := func(i int) string { return s.Members[i].Path() }
	older := slices.Clone(in.older)
	for _, i := range fsv.older {
		older[i] = true
	}
	var kept int64 // bytes where the authority's failing copy is kept
	for _, p := range in.listed {
		p.Source, p.Basis, p.Reason = resolve(p.Groups, p.ev, auth, strong, older, name)
		if p.ev.torn != nil && auth >= 0 && p.ev.torn[group(p.Groups, auth)] && p.Source == auth {
			kept += p.Length
		}
		r.Pieces = append(r.Pieces, p)
	}
	r.PiecePairs = in.piecePairs
	r.PiecesTotal = in.total
	r.Files, r.FilesLost = in.fileList(), in.lost
	for _, rec := range in.records {
		src, basis, why := resolve(rec.Groups, rec.ev, auth, strong, older, name)
		if src < 0 {
			r.Undecided += rec.Len
			continue
		}
		if auth >= 0 && group(rec.Groups, src) == group(rec.Groups, auth) {
			continue
		}
		r.Overrides = append(r.Overrides, Override{Offset: rec.Off, Length: rec.Len, From: s.Members[src], Groups: rec.Groups, Basis: basis, Reason: why})
	}
	if auth < 0 {
		for _, q := range in.quiet {
			r.Undecided += q.bytes
		}
	}
	if in.overflow {
		r.Undecided += in.overflowBytes
		r.Problems = append(r.Problems, set.Problem{Code: "too-many-decisions", Severity: set.Error,
			Message: fmt.Sprintf("more than %d differing ranges carry their own evidence; the %d bytes past that limit are left undecided, so repair refuses", maxOverrides, in.overflowBytes)})
	}
	if kept > 0 {
		r.Problems = append(r.Problems, set.Problem{Code: "authority-copy-fails", Severity: set.Warning, Member: r.Authority.Path(),
			Message: fmt.Sprintf("in %d listed bytes the authoritative %s's own copy fails its checks and no current member's copy verifies; it is kept as it is (check the filesystem after repair)", kept, r.Authority.Path())})
	}
	if len(r.Overrides) > 0 && r.Authority != nil {
		var b int64
		for _, o := range r.Overrides {
			b += o.Length
		}
		r.Reasons = append(r.Reasons, fmt.Sprintf("%s (%s) taken from another member than %s because their own structures say so (see each range's reason)",
			fs.Count(len(r.Overrides), "range", "ranges"), fs.Count(b, "byte", "bytes"), r.Authority.Path()))
	}

	// Each member's filesystems: consistency findings and evidence.
	for _, n := range notes {
		r.Problems = append(r.Problems, set.Problem{Code: "fs-unreadable", Severity: set.Warning, Message: n})
	}
	for i, l := range r.Layouts {
		if l == nil {
			continue
		}
		m := s.Members[i]
		for _, v := range l.Volumes {
			for _, p := range v.Vol.Problems() {
				pr := set.Problem{Code: p.Code, Severity: p.Severity, Member: m.Path(), Message: fmt.Sprintf("%s: %s", v.Vol.Type(), p.Message)}
				if p.Off >= 0 {
					off := m.DataOffset + v.Start + p.Off
					pr.Offset = &off
				}
				r.Problems = append(r.Problems, pr)
			}
		}
	}

	// Windows NT FT (KB Q197366): the registry's story against the data.
	if s.Format == "ftdisk" && r.Diff.Bytes > 0 {
		if s.FTAllHealthy {
			r.Problems = append(r.Problems, set.Problem{Code: "ft-healthy-but-differs", Severity: set.Error,
				Message: fmt.Sprintf("the registry (DISK\\Information) shows every member of %s Healthy, but the members differ in %d bytes (KB Q197366)", s.Name, r.Diff.Bytes)})
		}
	}
	if fsv.member >= 0 && len(s.Fresh) == 1 && r.Diff.PairBytes[fsv.member][idxOf(s, s.Fresh[0])] > 0 {
		fm := s.Members[fsv.member]
		code, what, sev := "fs-evidence-disagrees", "the set metadata", set.Warning
		if s.Format == "ftdisk" {
			code, what, sev = "ft-orphan-newer", "the NT FT metadata (registry member states, MBR partition types)", set.Error
		}
		r.Problems = append(r.Problems, set.Problem{Code: code, Severity: sev, Member: fm.Path(),
			Message: fmt.Sprintf("%s names %s as current, but the filesystem evidence points at %s (state %s): %s",
				what, s.Fresh[0].Path(), fm.Path(), fm.State, strings.Join(fsv.reasons, "; "))})
	}
}

func idxOf(s *set.Set, m *set.Member) int {
	for i, x := range s.Members {
		if x == m {
			return i
		}
	}
	return -1
}

func group(groups [][]int, i int) int {
	for g, ms := range groups {
		if slices.Contains(ms, i) {
			return g
		}
	}
	return -1
}
