package batch

import (
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"

	"github.com/mirrorchk/mirrorchk/report"
)

// MergeError is shard outputs that cannot be merged: of different plans,
// a shard missing or given twice, or an incomplete output.
type MergeError struct{ Msg string }

func (e *MergeError) Error() string { return e.Msg }

// Shard is one shard output to merge: its name (for messages) and reader.
type Shard struct {
	Name string
	R    io.Reader
}

// Merge combines the JSONL outputs of the shards 0..N-1 of one plan into
// the report of the whole plan: its sets in plan order, the problems and
// hives of the plan, the exit code as the OR of the sets'. It refuses
// outputs of different plans, a missing or duplicated shard, and a set
// reported twice.
func Merge(shards []Shard) (*report.Report, error) {
	if len(shards) == 0 {
		return nil, &MergeError{"no shard outputs given"}
	}
	type got struct {
		name    string
		sets    []report.Line
		summary *report.Line
	}
	byShard := map[int]got{}
	var plan string
	total := -1
	for _, sh := range shards {
		sets, sum, err := report.ReadJSONL(sh.R)
		if err != nil {
			return nil, &MergeError{fmt.Sprintf("%s: %v", sh.Name, err)}
		}
		i, n, err := parseShard(sum.Shard)
		if err != nil {
			return nil, &MergeError{fmt.Sprintf("%s: %v", sh.Name, err)}
		}
		if plan == "" {
			plan, total = sum.Plan, n
		}
		if sum.Plan != plan {
			return nil, &MergeError{fmt.Sprintf("%s is of plan %.16s…, %s of plan %.16s…: outputs of different plans (inputs, grouping or settings) cannot be merged", sh.Name, sum.Plan, shards[0].Name, plan)}
		}
		if n != total {
			return nil, &MergeError{fmt.Sprintf("%s is shard %s, %s one of %d: different shard counts", sh.Name, sum.Shard, shards[0].Name, total)}
		}
		if g, dup := byShard[i]; dup {
			return nil, &MergeError{fmt.Sprintf("shard %d/%d is given twice: %s and %s", i, n, g.name, sh.Name)}
		}
		for _, l := range sets {
			if l.Plan != plan || l.Shard != sum.Shard {
				return nil, &MergeError{fmt.Sprintf("%s: set %s carries plan %.16s… shard %s, its summary %.16s… %s", sh.Name, l.Set.Key, l.Plan, l.Shard, plan, sum.Shard)}
			}
		}
		byShard[i] = got{name: sh.Name, sets: sets, summary: sum}
	}
	if n := total - len(byShard); n > 0 {
		// The shard count comes from a file: name the first few missing
		// shards, never loop over a count a damaged file claims.
		var missing []string
		for i := 0; len(missing) < min(n, 10); i++ {
			if _, ok := byShard[i]; !ok {
				missing = append(missing, fmt.Sprintf("%d/%d", i, total))
			}
		}
		more := ""
		if n > len(missing) {
			more = fmt.Sprintf(" and %d more", n-len(missing))
		}
		return nil, &MergeError{fmt.Sprintf("shard %s%s missing: every shard of the plan is needed", strings.Join(missing, ", "), more)}
	}
	first := byShard[0].summary.Report
	rep := *first
	rep.Shard = ""
	rep.Sets = nil
	var lines []report.Line
	for i := range total {
		lines = append(lines, byShard[i].sets...)
	}
	sort.SliceStable(lines, func(a, b int) bool { return *lines[a].Index < *lines[b].Index })
	seenKey := map[string]bool{}
	for k, l := range lines {
		if seenKey[l.Set.Key] || (k > 0 && *lines[k-1].Index == *l.Index) {
			return nil, &MergeError{fmt.Sprintf("set %s is reported twice", l.Set.Key)}
		}
		seenKey[l.Set.Key] = true
		if want := ShardOf(l.Set.Key, total); l.Shard != fmt.Sprintf("%d/%d", want, total) {
			return nil, &MergeError{fmt.Sprintf("set %s is in the output of shard %s, but belongs to shard %d/%d", l.Set.Key, l.Shard, want, total)}
		}
		rep.Sets = append(rep.Sets, *l.Set)
	}
	if rep.Inputs != nil && rep.Inputs.Sets != len(rep.Sets) {
		return nil, &MergeError{fmt.Sprintf("the plan has %d sets, the shards report %d", rep.Inputs.Sets, len(rep.Sets))}
	}
	if rep.Sets == nil {
		rep.Sets = []report.Set{}
	}
	code := RunCode(&rep)
	rep.ExitCode = &code
	return &rep, nil
}

func parseShard(s string) (int, int, error) {
	is, ns, ok := strings.Cut(s, "/")
	i, err1 := strconv.Atoi(is)
	n, err2 := strconv.Atoi(ns)
	if !ok || err1 != nil || err2 != nil || n < 1 || i < 0 || i >= n {
		return 0, 0, fmt.Errorf("shard %q: want I/N", s)
	}
	return i, n, nil
}
