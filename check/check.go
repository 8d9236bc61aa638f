package check

import (
	"context"
	"fmt"
	"strings"

	"github.com/mirrorchk/mirrorchk/set"
)

// Options are the settings of one Check.
type Options struct {
	SectorSize int
	MaxRanges  int
	Hashes     []string
	// Prefer is the member the user names as authoritative, or nil.
	Prefer   *set.Member
	Progress func(done, total int64)
}

// Result is one set checked: the diff, the decision, and its evidence.
type Result struct {
	Set  *set.Set
	Diff *DiffResult
	// PairRanges[i][j] counts the differing ranges in which members i and j
	// (indices into Set.Members) fall into different groups, including
	// ranges beyond the listing limit.
	PairRanges [][]int64
	Decision
}

// Decision is the verdict on a set and the member it takes as current.
type Decision struct {
	Verdict   string
	Authority *set.Member // nil when no member can be shown current
	Basis     string
	Reasons   []string
	// States holds each member's state after weighing the data (keyed by
	// Member.Input); it starts from the metadata's claim.
	States   map[int]string
	Problems []set.Problem
	// BitmapCovers is nil when the bitmap check does not apply, else whether
	// every differing range lies in dirty chunks of the freshest bitmap.
	BitmapCovers *bool
	Uncovered    []int64 // volume offsets of ranges outside dirty chunks (at most maxUncovered)
}

// Verdicts.
const (
	Consistent = "consistent"
	Diverged   = "diverged"
	SplitBrain = "split-brain"
	Degraded   = "degraded"
	Unknown    = "unknown"
)

// Authority bases.
const (
	BasisMetadata   = "set-metadata"
	BasisFilesystem = "filesystem"
	BasisUser       = "user"
	BasisNone       = "none"
)

const maxUncovered = 100

// Check diffs the members of s and decides which one is authoritative.
// It reads the members and never writes.
func Check(ctx context.Context, s *set.Set, opt Options) (*Result, error) {
	srcs := make([]Source, len(s.Members))
	for i, m := range s.Members {
		srcs[i] = Source{Name: m.Path(), R: m.Image, Size: m.Image.Size(), DataOffset: m.DataOffset, Holes: m.Image}
	}
	dataSize := s.DataSize
	if s.Level != "" && s.Level != "raid1" {
		dataSize = 0 // not a mirror: hash only
	}
	cov := newCoverage(s)
	pairs := make([][]int64, len(s.Members))
	for i := range pairs {
		pairs[i] = make([]int64, len(s.Members))
	}
	onRange := func(r Range) {
		cov.add(r)
		for gi, g := range r.Groups {
			for _, h := range r.Groups[gi+1:] {
				for _, i := range g {
					for _, j := range h {
						pairs[i][j]++
						pairs[j][i]++
					}
				}
			}
		}
	}
	d, err := Diff(ctx, srcs, DiffOptions{
		DataSize:   dataSize,
		SectorSize: opt.SectorSize,
		MaxRanges:  opt.MaxRanges,
		Hashes:     opt.Hashes,
		Progress:   opt.Progress,
		OnRange:    onRange,
	})
	if err != nil {
		return nil, err
	}
	r := &Result{Set: s, Diff: d, PairRanges: pairs, Decision: Decide(s, d, opt.Prefer)}
	cov.finish(&r.Decision)
	return r, nil
}

// Decide weighs the set metadata's claims against the diff.
func Decide(s *set.Set, d *DiffResult, prefer *set.Member) Decision {
	dec := Decision{States: map[int]string{}, Basis: BasisNone}
	idx := map[*set.Member]int{}
	for i, m := range s.Members {
		dec.States[m.Input] = m.State
		idx[m] = i
	}
	differ := func(a, b *set.Member) int64 { return d.PairBytes[idx[a]][idx[b]] }
	dec.Reasons = append(dec.Reasons, s.Reasons...)

	notMirror := s.Level != "" && s.Level != "raid1"
	switch {
	case notMirror:
		dec.Reasons = append(dec.Reasons, fmt.Sprintf("level %s is not a mirror: members are not compared", s.Level))
	case prefer != nil:
		dec.Authority, dec.Basis = prefer, BasisUser
		dec.Reasons = append(dec.Reasons, fmt.Sprintf("%s was named authoritative by --prefer", prefer.Path()))
		if len(s.Fresh) > 0 && !contains(s.Fresh, prefer) {
			dec.Reasons = append(dec.Reasons, fmt.Sprintf("note: the set metadata names %s as current; --prefer overrides it", paths(s.Fresh)))
		}
		if s.Conflict != "" {
			dec.Reasons = append(dec.Reasons, "the metadata describes a split brain ("+s.Conflict+"); --prefer resolves it")
		}
	case s.Conflict != "":
		dec.Reasons = append(dec.Reasons, "split brain: "+s.Conflict+"; no member can be shown current (use --prefer)")
	case len(s.Fresh) == 1:
		dec.Authority, dec.Basis = s.Fresh[0], BasisMetadata
		dec.Reasons = append(dec.Reasons, fmt.Sprintf("%s holds the highest events and is authoritative", s.Fresh[0].Path()))
	case len(s.Fresh) > 1:
		var split []string
		for _, a := range s.Fresh {
			for _, b := range s.Fresh {
				if idx[a] < idx[b] && differ(a, b) > 0 {
					split = append(split, fmt.Sprintf("%s and %s differ in %d bytes", a.Path(), b.Path(), differ(a, b)))
				}
			}
		}
		if len(split) == 0 {
			dec.Authority, dec.Basis = s.Fresh[0], BasisMetadata
			dec.Reasons = append(dec.Reasons, fmt.Sprintf("%s share the highest events and hold identical data; %s (lowest slot) is taken as authoritative",
				paths(s.Fresh), s.Fresh[0].Path()))
		} else {
			dec.Reasons = append(dec.Reasons, fmt.Sprintf("split brain: %s share the highest events %d but %s; the metadata cannot say which is current (use --prefer)",
				paths(s.Fresh), *s.Fresh[0].Generation, strings.Join(split, "; ")))
			dec.Problems = append(dec.Problems, set.Problem{Code: "split-brain", Severity: set.Error,
				Message: fmt.Sprintf("%s have equal events %d but different data", paths(s.Fresh), *s.Fresh[0].Generation)})
		}
	case s.Adhoc():
		if d.Bytes > 0 {
			dec.Reasons = append(dec.Reasons, "the members differ and no metadata says which is current (use --prefer)")
		}
	default:
		dec.Reasons = append(dec.Reasons, "no member has a trusted superblock with a data slot")
	}

	auth := dec.Authority
	if auth != nil {
		dec.States[auth.Input] = set.StateActive
		for _, m := range s.Members {
			if m == auth {
				continue
			}
			n := differ(auth, m)
			switch {
			case n > 0 && dec.States[m.Input] == set.StateActive && !s.Adhoc() && prefer == nil:
				sev, why := set.Error, "the metadata says they are in sync"
				if s.ResyncFrom >= 0 {
					sev, why = set.Info, "the array was not clean, so differences in the unsynced part are expected"
				}
				dec.Problems = append(dec.Problems, set.Problem{Code: "data-differs", Severity: sev, Member: m.Path(),
					Message: fmt.Sprintf("%s differs from %s in %d bytes although %s", m.Path(), auth.Path(), n, why)})
			case n > 0 && (s.Adhoc() || prefer != nil) && dec.States[m.Input] != set.StateFaulty && dec.States[m.Input] != set.StateSpare:
				dec.States[m.Input] = set.StateStale
				dec.Problems = append(dec.Problems, set.Problem{Code: "stale-member", Severity: set.Error, Member: m.Path(),
					Message: fmt.Sprintf("%s differs from the authoritative %s in %d bytes", m.Path(), auth.Path(), n)})
			}
		}
	}

	stale := false
	for _, st := range dec.States {
		if st != set.StateActive {
			stale = true
		}
	}
	for _, p := range s.Problems {
		if p.Code == "size-mismatch" || p.Code == "member-missing" {
			stale = true
		}
	}
	switch {
	case notMirror:
		dec.Verdict = Unknown
	case d.Bytes > 0 && auth == nil:
		dec.Verdict = SplitBrain
	case s.Conflict != "" && auth == nil:
		dec.Verdict = SplitBrain
	case d.Bytes > 0:
		dec.Verdict = Diverged
	case !s.Adhoc() && len(s.Fresh) == 0 && auth == nil:
		dec.Verdict = Unknown
	case stale && !s.Adhoc():
		dec.Verdict = Degraded
	case stale && s.Adhoc() && hasProblem(s, "size-mismatch"):
		dec.Verdict = Degraded
	default:
		dec.Verdict = Consistent
	}
	if s.Adhoc() && dec.Verdict == Consistent {
		dec.Reasons = append(dec.Reasons, "the members hold identical data, so no authority is needed")
	}
	return dec
}

// coverage checks, range by range while the diff streams, whether every
// difference lies in a dirty chunk of the freshest member's bitmap.
type coverage struct {
	s         *set.Set
	on        bool
	all       bool
	uncovered []int64
	count     int64
}

func newCoverage(s *set.Set) *coverage {
	c := &coverage{s: s, all: true}
	if s.Bitmap == nil {
		return c
	}
	for _, m := range s.Members {
		if m.State == set.StateStale && m.MD != nil && m.MD.Events >= s.Bitmap.EventsCleared {
			c.on = true
		}
	}
	return c
}

func (c *coverage) add(r Range) {
	if !c.on || c.s.Bitmap.Covers(r.Offset, r.Length) {
		return
	}
	c.all = false
	c.count++
	if len(c.uncovered) < maxUncovered {
		c.uncovered = append(c.uncovered, r.Offset)
	}
}

func (c *coverage) finish(dec *Decision) {
	if !c.on {
		return
	}
	all := c.all
	dec.BitmapCovers = &all
	dec.Uncovered = c.uncovered
	bm := c.s.BitmapMember
	if all {
		dec.Reasons = append(dec.Reasons, fmt.Sprintf("every differing range lies in a dirty chunk of %s's write-intent bitmap: the bitmap agrees with the data", bm.Path()))
		return
	}
	dec.Problems = append(dec.Problems, set.Problem{Code: "bitmap-uncovered", Severity: set.Warning, Member: bm.Path(),
		Message: fmt.Sprintf("%d differing ranges lie outside the dirty chunks of %s's write-intent bitmap (first at data offset %d): the bitmap does not describe every difference and cannot be trusted for a partial resync",
			c.count, bm.Path(), c.uncovered[0])})
}

func contains(ms []*set.Member, m *set.Member) bool {
	for _, x := range ms {
		if x == m {
			return true
		}
	}
	return false
}

func paths(ms []*set.Member) string {
	var p []string
	for _, m := range ms {
		p = append(p, m.Path())
	}
	return strings.Join(p, ", ")
}

func hasProblem(s *set.Set, code string) bool {
	for _, p := range s.Problems {
		if p.Code == code {
			return true
		}
	}
	return false
}
