package report

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// Bottom is the bottom line of one set, or of a whole run, for people: the
// verdict in words and the next step. It is derived from the model alone,
// so the text and HTML renderers say the same thing.
type Bottom struct {
	Verdict string // e.g. "m0.img is current; m1.img is stale (missed 5 updates)"
	Next    string // e.g. "mirrorchk repair --out DIR m0.img m1.img"
}

// Problem codes the bottom line reads.
const (
	CodeMemberMissing           = "member-missing"
	CodePreferOverridesMetadata = "prefer-overrides-metadata"
	CodeCancelled               = "cancelled"
)

// SetBottom returns the bottom line of s, a set of r. Member names are the
// labels lab gives them; the command in Next uses full paths, quoted for a
// POSIX shell.
func SetBottom(r *Report, s *Set) Bottom {
	return setBottom(r, s, func(p string) string { return memberLabels(s.Members).of(p) }, commandLine)
}

func setBottom(r *Report, s *Set, name func(string) string, quote func([]string) string) Bottom {
	var b Bottom
	auth := ""
	if s.Authority.Member != nil {
		auth = *s.Authority.Member
	}
	var authGen *uint64
	for _, m := range s.Members {
		if m.Path == auth {
			authGen = m.Generation
		}
	}
	var stale, bad []string
	for _, m := range s.Members {
		switch m.State {
		case StateStale:
			w := name(m.Path) + " is stale"
			if authGen != nil && m.Generation != nil && *authGen > *m.Generation {
				w += " (missed " + count(int64(*authGen-*m.Generation), "update", "updates") + ")"
			}
			stale = append(stale, w)
		case StateFaulty, StateMissing, StateRebuilding:
			bad = append(bad, name(m.Path)+" is "+m.State)
		}
	}
	overrides := hasCode(s.Problems, CodePreferOverridesMetadata)
	ranges := s.Divergence.RangesTotal
	seeRanges := ""
	if ranges > 0 {
		seeRanges = " (see the " + count(ranges, "differing range", "differing ranges") + ")"
	}
	compare := "compare the differing ranges in each member, then choose: "
	if len(s.Files) > 0 {
		compare = "compare the affected files in each member, then choose: "
	}
	repairCmd := func(prefer bool) string {
		return quote(nextCommand(r, s, prefer))
	}
	switch {
	case s.Verdict == VerdictConsistent:
		b.Verdict = "consistent: " + count(int64(len(s.Members)), "member holds", "members hold") + " the same data"
		if n := severe(s.Problems); n > 0 {
			b.Next = "read the " + count(int64(n), "problem", "problems") + " below; no repair is needed"
		} else {
			b.Next = "nothing to do"
		}
	case auth != "" && s.Authority.Basis == BasisUser:
		b.Verdict = name(auth) + " is taken as current because you chose it with --prefer"
		if overrides {
			b.Verdict += ", against the set metadata"
		}
		if len(stale) > 0 {
			b.Verdict += "; the metadata says " + strings.Join(stale, ", ")
		}
	case auth != "" && s.Verdict == VerdictDiverged:
		how := "by the set metadata"
		if s.Authority.Basis == BasisFilesystem {
			how = "by the filesystem evidence"
		}
		b.Verdict = name(auth) + " is current (" + how + ")"
		if len(stale) > 0 {
			b.Verdict += "; " + strings.Join(stale, ", ")
		} else if ranges > 0 {
			b.Verdict += "; the other " + plural(len(s.Members)-1, "member differs", "members differ") + " in " + count(ranges, "range", "ranges")
		}
	case s.Verdict == VerdictSplitBrain && sameData(s):
		// Only the metadata disagrees: there is no data to choose between.
		b.Verdict = "split brain in the metadata: the members hold the same data, but their metadata disagree on which is current (see the problems); nothing will be repaired without --prefer"
		switch s.Metadata {
		case "ldm", "ftdisk":
			b.Next = "nothing to copy: read the problems below and let the volume manager bring its metadata in sync (Windows Disk Management: Reactivate Disk or Resynchronize Mirror; NT 4.0 Disk Administrator: Regenerate)"
		default:
			b.Next = "the data is the same; choose whose metadata to keep: " + repairCmd(true)
		}
	case s.Verdict == VerdictSplitBrain:
		b.Verdict = "split brain: the evidence does not point to one member (each has writes the other lacks, or its sources disagree); nothing will be repaired without --prefer" + seeRanges
		b.Next = compare + repairCmd(true)
	case s.Verdict == VerdictDiverged:
		b.Verdict = "no authority: the members differ and no evidence shows which is current; nothing will be repaired without --prefer" + seeRanges
		b.Next = compare + repairCmd(true)
	case s.Verdict == VerdictDegraded && auth == "" && hasCode(s.Problems, CodeMemberMissing):
		// Part of a set: nothing given can be shown current, and nothing
		// is repaired (the authority's reasons say what the given members
		// record of the missing ones).
		w := "degraded: only part of the set was given"
		if given, declared := membersGiven(s); declared > 0 {
			w = "degraded: " + strconv.Itoa(given) + " of " + plural(declared, "1 member", strconv.Itoa(declared)+" members") + " given"
		}
		w += "; no authority: a member that is not given may be newer, so none is called current"
		if len(stale) > 0 || len(bad) > 0 {
			w += "; " + strings.Join(append(stale, bad...), ", ")
		}
		b.Verdict = w
	case s.Verdict == VerdictDegraded:
		w := "degraded"
		switch {
		case len(bad) > 0:
			w += ": " + strings.Join(bad, ", ")
		case len(stale) > 0 && sameData(s):
			// Every member given and the same data: only the metadata
			// records a member as behind.
			w += ": the members hold the same data, but the set metadata records " + strings.Join(stale, ", ")
		default:
			w += ": a member is missing, faulty or too short to compare"
		}
		if auth != "" {
			w += "; " + name(auth) + " is current"
		}
		b.Verdict = w
		b.Next = "read the problems below; replace or re-image the failed member"
		if len(bad) == 0 && len(stale) > 0 && sameData(s) {
			switch s.Metadata {
			case "ldm", "ftdisk":
				// Metadata mirrorchk does not rewrite.
				b.Next = "nothing to copy: let the volume manager bring its metadata in sync (Windows Disk Management: Reactivate Disk or Resynchronize Mirror; NT 4.0 Disk Administrator: Regenerate)"
			default:
				b.Next = repairCmd(false)
			}
		}
	case s.Verdict == VerdictUnpaired:
		b.Verdict = "unpaired: the only image of its disk among the inputs; hashed and its filesystem checked, but nothing to compare it with"
		b.Next = "give its mirror partner too (or name both in a manifest set) to compare them"
	case s.Verdict == VerdictUnreadable:
		b.Verdict = "unreadable: the set could not be read (see the problems below); every other set was still checked"
		b.Next = "fix or replace the input the problem names, then run again"
	default:
		b.Verdict = "cannot be judged: " + orDash(s.Verdict) + " (not a mirror, no trusted metadata, or metadata this release cannot read)"
		b.Next = "read the problems below"
	}
	if hasCode(s.Problems, CodeMemberMissing) && s.Verdict != VerdictConsistent {
		// Repair refuses part of a set, --prefer or not: never suggest it.
		b.Next = "give every member of the set (see member-missing) and run again; nothing is repaired while members are missing"
	}
	if b.Next == "" {
		// A problem repair refuses on: the plain repair command would
		// only be refused again.
		switch {
		case hasCode(s.Problems, "duplicate-member"):
			b.Next = "give each member once (two inputs are the same member: see duplicate-member below), then repair"
		case hasCode(s.Problems, "size-mismatch"):
			b.Next = "give the whole image of the short member (see size-mismatch below: mirrorchk does not extend a truncated image), then repair"
		default:
			b.Next = repairCmd(false)
		}
	}
	if rp := s.Repair; rp != nil {
		switch rp.Status {
		case "repaired":
			b.Verdict += "; repaired"
			b.Next = "use the repaired images listed below (verified); the inputs were not changed"
		case "refused":
			b.Verdict += "; repair refused: " + rp.Reason
			switch {
			case strings.Contains(rp.Reason, "only the set metadata is out of sync"):
				b.Next = "nothing to copy: let the volume manager bring its metadata in sync (Windows Disk Management: Reactivate Disk or Resynchronize Mirror; NT 4.0 Disk Administrator: Regenerate)"
			case b.Next != repairCmd(false):
			// Never the command that was just refused:
			case strings.Contains(rp.Reason, "--prefer"):
				b.Next = compare + repairCmd(true)
			default:
				b.Next = "resolve what the repair was refused for (above), then run it again"
			}
		case "not-needed":
			b.Next = "nothing to do"
		case "failed":
			b.Verdict += "; repair failed: " + rp.Reason
			b.Next = "read the error, fix its cause and run the repair again"
		}
	}
	if s.LostBytes > 0 {
		b.Verdict += "; " + sizeText(s.LostBytes) + " lost: no copy the evidence vouches for (see the files with lost data)"
	}
	if hasCode(s.Problems, CodeCancelled) {
		b.Verdict = "cancelled before the check finished; this report is incomplete"
		b.Next = "run the command again"
	}
	return b
}

// RunBottom is the bottom line of the whole run: the set's when there is
// one (with the problems not tied to it), else a count of the sets by
// verdict and the next step of the sets that need one.
func RunBottom(r *Report) Bottom {
	if hasCode(r.Problems, CodeCancelled) {
		return Bottom{Verdict: "cancelled before the check finished; this report is incomplete", Next: "run the command again"}
	}
	loose := ""
	if n := severe(r.Problems); n > 0 {
		var codes []string
		for _, p := range r.Problems {
			if p.Severity != SeverityInfo && !slices.Contains(codes, p.Code) {
				codes = append(codes, p.Code)
			}
		}
		loose = count(int64(n), "problem", "problems") + " not tied to a set (" + strings.Join(codes, ", ") + ")"
	}
	if len(r.Sets) == 0 {
		b := Bottom{Verdict: "no mirror set was checked", Next: "read the problems"}
		if loose != "" {
			b.Verdict += "; " + loose
		}
		return b
	}
	if len(r.Sets) == 1 {
		b := SetBottom(r, &r.Sets[0])
		if loose != "" {
			b.Verdict += "; also " + loose
			if b.Next == "nothing to do" {
				b.Next = "read the problems not tied to a set"
			}
		}
		return b
	}
	ok := 0
	var need []int
	byVerdict := map[string][]string{}
	var order []string
	for i := range r.Sets {
		s := &r.Sets[i]
		if s.Verdict == VerdictConsistent && severe(s.Problems) == 0 {
			ok++
			continue
		}
		need = append(need, i)
		v := s.Verdict
		if _, seen := byVerdict[v]; !seen {
			order = append(order, v)
		}
		byVerdict[v] = append(byVerdict[v], strconv.Itoa(i+1))
	}
	b := Bottom{Verdict: fmt.Sprintf("%s checked, %d consistent", count(int64(len(r.Sets)), "set", "sets"), ok)}
	for _, v := range order {
		b.Verdict += fmt.Sprintf(", %d %s (set %s)", len(byVerdict[v]), orDash(v), strings.Join(byVerdict[v], ", "))
	}
	if loose != "" {
		b.Verdict += "; " + loose
	}
	switch len(need) {
	case 0:
		b.Next = "nothing to do"
		if loose != "" {
			b.Next = "read the problems not tied to a set"
		}
	case 1:
		b.Next = "set " + strconv.Itoa(need[0]+1) + ": " + SetBottom(r, &r.Sets[need[0]]).Next
	default:
		var ns []string
		for _, i := range need {
			ns = append(ns, strconv.Itoa(i+1))
		}
		b.Next = "see the verdict and next step of sets " + strings.Join(ns, ", ")
	}
	return b
}

// nextCommand is the command a user runs next for s: the command that made
// the report turned into a repair (the same images, hives and bindings),
// with --prefer IMAGE when prefer is set.
func nextCommand(r *Report, s *Set, prefer bool) []string {
	out := []string{"mirrorchk", "repair"}
	hasOut := false
	args := r.Command
	if len(args) > 0 {
		args = args[1:]
	}
	skip := map[string]bool{"--json": true, "--quiet": true, "--dry-run": true}
	value := map[string]bool{"--report": true, "--html": true, "--dfxml": true, "--jsonl": true, "--width": true, "--max-ranges": true, "--hash": true}
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch {
		case a == "scan" || a == "repair":
			continue
		case skip[a]:
			continue
		case value[a]:
			i++
			continue
		case strings.Contains(a, "=") && value[a[:strings.IndexByte(a, '=')]]:
			continue
		case a == "--prefer" && prefer:
			i++
			continue
		case strings.HasPrefix(a, "--prefer=") && prefer:
			continue
		case a == "--out" || strings.HasPrefix(a, "--out="):
			hasOut = true
		}
		out = append(out, a)
	}
	if len(r.Command) == 0 {
		for _, m := range s.Members {
			out = append(out, m.Path)
		}
	}
	extra := []string{}
	if prefer {
		extra = append(extra, "--prefer", "IMAGE")
	}
	if !hasOut {
		extra = append(extra, "--out", "DIR")
	}
	return append(out[:2], append(extra, out[2:]...)...)
}

func hasCode(ps []Problem, code string) bool {
	for _, p := range ps {
		if p.Code == code {
			return true
		}
	}
	return false
}

// severe counts problems of warning severity or worse.
func severe(ps []Problem) int {
	n := 0
	for _, p := range ps {
		if p.Severity != SeverityInfo {
			n++
		}
	}
	return n
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// membersGiven counts the data slots s's members fill, and the slots the
// metadata declares (0 when unknown).
func membersGiven(s *Set) (given, declared int) {
	slots := map[string]bool{}
	for _, m := range s.Members {
		if _, err := strconv.Atoi(m.Role); err == nil {
			slots[m.Role] = true
		}
	}
	return len(slots), s.RaidDisks
}

// notCompared says why nothing of s was compared ("not compared: only one
// member was given"), or "" when its members were compared with
// each other. A single image is never compared with anything, so its
// report must not read as if its copies agreed.
// sameData reports whether every member of s was compared and holds the
// same data: nothing differs and nothing of a data area went unread.
func sameData(s *Set) bool {
	if s.Divergence.Bytes != 0 || notCompared(s) != "" {
		return false
	}
	for _, m := range s.Members {
		if m.Unreadable.DataBytes > 0 {
			return false
		}
	}
	return true
}

func notCompared(s *Set) string {
	if s.Verdict == VerdictUnreadable {
		return "not compared: the set could not be read"
	}
	switch len(s.Members) {
	case 0:
		return "not compared: no member was given"
	case 1:
		return "not compared: only one member was given"
	}
	return ""
}

// dataSizeText is the "Data size" line of s.
func dataSizeText(s *Set) string {
	if len(s.Members) < 2 {
		return sizeText(s.DataSize) + ", not compared (" + count(int64(len(s.Members)), "member", "members") + ")"
	}
	return sizeText(s.DataSize) + " compared"
}
