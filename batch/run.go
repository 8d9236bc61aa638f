package batch

import (
	"context"
	"errors"
	"fmt"
	"os"
	"runtime"
	"sort"
	"sync"

	"github.com/mirrorchk/mirrorchk/check"
	"github.com/mirrorchk/mirrorchk/report"
	"github.com/mirrorchk/mirrorchk/scan"
	"github.com/mirrorchk/mirrorchk/set"
)

// Exit codes of a set, fsck style; a run's code is the bitwise OR of its
// sets' codes.
const (
	CodeOK        = 0
	CodeProblems  = 4
	CodeOperation = 8
)

// Verdicts the batch adds to the report's.
const (
	VerdictUnpaired   = report.VerdictUnpaired
	VerdictUnreadable = report.VerdictUnreadable
)

// RunOptions are the settings of a run of a plan.
type RunOptions struct {
	Check scan.CheckOptions // Prefer is taken from the plan
	// Jobs is the number of sets checked at once; 0 means the number of
	// CPUs.
	Jobs int
	// Shard, when ≥ 0, checks only the sets of that shard.
	Shard int
	// Progress, when not nil, is told the bytes done and the total of the
	// sets started so far, from any goroutine but never concurrently.
	Progress func(done, total int64)
	// KeepResults keeps each set's check.Result (for a repair); without it
	// only the report model is kept, so memory stays bounded by sets.
	KeepResults bool
	// OnSet, when not nil, is called for each set in key order as soon as
	// it and every set before it in that order are done (JSONL streams
	// through it). It is never called concurrently.
	OnSet func(*SetResult) error
}

// SetResult is one planned set checked.
type SetResult struct {
	Planned *PlannedSet
	Result  *check.Result // nil unless KeepResults, or when the set failed
	Report  report.Set
	Code    int
}

// Run checks the sets of the plan (those of opt.Shard when ≥ 0), opt.Jobs
// at a time, and returns their results in plan order. A set whose images
// cannot be read costs only itself (exit code 8 in its result); the error
// is for a cancelled ctx or a failing OnSet.
func (p *Plan) Run(ctx context.Context, opt RunOptions) ([]*SetResult, error) {
	var todo []*PlannedSet
	for _, ps := range p.Sets {
		if opt.Shard < 0 || ps.Shard == opt.Shard {
			todo = append(todo, ps)
		}
	}
	jobs := opt.Jobs
	if jobs <= 0 {
		jobs = runtime.NumCPU()
	}
	jobs = min(jobs, max(len(todo), 1))
	results := make([]*SetResult, len(todo))

	// Key order for OnSet.
	order := make([]int, len(todo))
	for i := range order {
		order[i] = i
	}
	sort.Slice(order, func(a, b int) bool { return todo[order[a]].Key < todo[order[b]].Key })
	rank := make([]int, len(todo))
	for r, i := range order {
		rank[i] = r
	}

	var (
		mu       sync.Mutex
		next     int // next rank to hand to OnSet
		emitErr  error
		done     = map[*PlannedSet]int64{}
		total    int64
		progress = func() {}
	)
	if opt.Progress != nil {
		progress = func() {
			var d int64
			for _, v := range done {
				d += v
			}
			opt.Progress(d, total)
		}
	}
	finish := func(i int, r *SetResult) {
		mu.Lock()
		defer mu.Unlock()
		results[i] = r
		for next < len(order) && results[order[next]] != nil {
			if opt.OnSet != nil && emitErr == nil {
				emitErr = opt.OnSet(results[order[next]])
			}
			next++
		}
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	work := make(chan int)
	var wg sync.WaitGroup
	for range jobs {
		wg.Go(func() {
			for i := range work {
				ps := todo[i]
				var started bool
				copt := opt.Check
				copt.Prefer = -1
				copt.Progress = func(d, t int64) {
					mu.Lock()
					if !started {
						started = true
						total += t
					}
					done[ps] = d
					progress()
					mu.Unlock()
				}
				r := p.runSet(ctx, ps, copt, opt.KeepResults)
				finish(i, r)
			}
		})
	}
	for i := range todo {
		if ctx.Err() != nil {
			break
		}
		mu.Lock()
		failed := emitErr != nil
		mu.Unlock()
		if failed {
			break
		}
		work <- i
	}
	close(work)
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if emitErr != nil {
		return nil, emitErr
	}
	for _, r := range results {
		if r == nil {
			return nil, context.Canceled
		}
	}
	return results, nil
}

// runSet checks one planned set and builds its report.
func (p *Plan) runSet(ctx context.Context, ps *PlannedSet, copt scan.CheckOptions, keep bool) *SetResult {
	if ps.Err != nil {
		return p.failedSet(ps, ps.Err)
	}
	if ps.Prefer >= 0 {
		copt.Prefer = ps.Prefer
	}
	res, err := scan.CheckSet(ctx, ps.Set, p.Images, copt)
	if err != nil {
		if ctx.Err() != nil {
			return &SetResult{Planned: ps, Code: CodeOperation, Report: p.failedSet(ps, err).Report}
		}
		return p.failedSet(ps, err)
	}
	rs := scan.SetReport(res)
	added := problems(ps.Problems)
	for i := range added {
		if added[i].Code == "no-shared-identity" && res.Diff.Bytes == 0 && rs.Verdict == report.VerdictConsistent {
			added[i].Severity = report.SeverityInfo
			added[i].Message += "; they hold identical data, so nothing needs repair"
		}
	}
	rs.Problems = append(rs.Problems, added...)
	if ps.Unpaired {
		rs.Verdict = VerdictUnpaired
		rs.Authority = report.Authority{Basis: report.BasisNone, Reasons: []string{
			"only one image of this disk was found (" + ps.Why + "): nothing to compare it with, so nothing shows it current; it is never a source or target of repair"}}
		for i := range rs.Members {
			rs.Members[i].Authoritative = false
		}
	}
	p.annotate(ps, &rs)
	r := &SetResult{Planned: ps, Report: rs, Code: SetCode(&rs)}
	if keep {
		r.Result = res
	}
	return r
}

// failedSet is the report of a set whose input could not be read.
func (p *Plan) failedSet(ps *PlannedSet, err error) *SetResult {
	rs := report.Set{ID: ps.ID, Metadata: set.FormatNone, Verdict: VerdictUnreadable,
		Authority:  report.Authority{Basis: report.BasisNone, Reasons: []string{}},
		Divergence: report.Divergence{Ranges: []report.Range{}}, Files: []report.File{}}
	if ps.Set != nil {
		rs.Metadata, rs.Level, rs.Name = ps.Set.Format, ps.Set.Level, ps.Set.Name
	}
	for _, i := range ps.Inputs {
		m := report.Member{Path: p.Inputs[i].Path, State: report.StateUnknown, Hashes: map[string]string{}, Evidence: []string{}, Filesystems: []report.Filesystem{}}
		if im := p.Images[i]; im != nil {
			m.Path, m.Size = im.Path(), im.Size()
		} else if fi, err := os.Stat(p.Inputs[i].Path); err == nil && fi.Mode().IsRegular() {
			m.Size = fi.Size()
		}
		rs.Members = append(rs.Members, m)
	}
	rs.Problems = problems(ps.Problems)
	if ps.Err == nil {
		var re *check.ReadError
		code := "read-error"
		if !errors.As(err, &re) {
			code = "check-failed"
		}
		rs.Problems = append(rs.Problems, report.Problem{Code: code, Severity: report.SeverityError,
			Message: fmt.Sprintf("the set could not be checked: %v; every other set is still scanned", err)})
	}
	p.annotate(ps, &rs)
	return &SetResult{Planned: ps, Report: rs, Code: CodeOperation}
}

func (p *Plan) annotate(ps *PlannedSet, rs *report.Set) {
	rs.ID = ps.ID
	rs.Key = ps.Key
	rs.Case = ps.Case
	rs.Grouping = ps.Why
	code := SetCode(rs)
	if rs.Verdict == VerdictUnreadable {
		code = CodeOperation
	}
	rs.ExitCode = &code
}

// SetCode is a set's exit code: 8 when it could not be read, 0 when it is
// consistent and nothing of warning severity or worse was found, else 4.
func SetCode(s *report.Set) int {
	if s.Verdict == VerdictUnreadable {
		return CodeOperation
	}
	if s.Verdict != report.VerdictConsistent || Bad(s.Problems) {
		return CodeProblems
	}
	return CodeOK
}

// Bad reports whether any problem is of warning severity or worse.
func Bad(ps []report.Problem) bool {
	for _, p := range ps {
		if p.Severity != report.SeverityInfo {
			return true
		}
	}
	return false
}

func problems(ps []set.Problem) []report.Problem {
	out := make([]report.Problem, 0, len(ps))
	for _, p := range ps {
		out = append(out, report.Problem{Code: p.Code, Severity: p.Severity, Member: p.Member, Offset: p.Offset, Message: p.Message})
	}
	return out
}
