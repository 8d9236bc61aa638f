package check

import (
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/mirrorchk/mirrorchk/fs"
)

// fsVerdict is what the members' filesystems say about which member was
// written last.
type fsVerdict struct {
	member  int      // -1 when the evidence names no member
	reasons []string // the evidence used, or why there is none
	// older are the members the deciding criterion shows written before
	// the candidates, even when no single candidate can be taken.
	older []int
	why   string  // the deciding criterion's reading
	torn  []int64 // per member: differing bytes where its copy fails its own checks
	// decided is set when no criterion ranks the members and the
	// authority only stands in for ranges each decided on their own.
	decided bool
	// mutual says, when set, that two members each hold file writes the
	// other lacks (files or clusters allocated on each side that the
	// other has free or gives to another file): a split brain, whatever
	// the other evidence says.
	mutual string
}

// criterion is one kind of filesystem evidence of the later writer,
// strongest first.
type criterion struct {
	name string
	// label, when set, names the criterion after the members' evidence
	// and filesystem types ("" for a member without a filesystem).
	label func(ev []*fs.Evidence, types []string) string
	value func(e fs.Evidence) (int64, bool) // false: not recorded
	show  func(v int64) string
	// implausible says why a member's value cannot be evidence (damage
	// reads as a late write), or "": then the criterion is not used.
	implausible func(e fs.Evidence, now time.Time) string
}

var criteria = []criterion{
	{"NTFS $LogFile current LSN", logLabel, func(e fs.Evidence) (int64, bool) { return int64(e.LogLSN), e.LogLSN > 0 },
		func(v int64) string { return fmt.Sprint(v) }, nil},
	{"highest NTFS record LSN", nil, func(e fs.Evidence) (int64, bool) { return int64(e.MaxRecordLSN), e.MaxRecordLSN > 0 },
		func(v int64) string { return fmt.Sprint(v) },
		func(e fs.Evidence, _ time.Time) string {
			// No record is written after the log's current LSN.
			if e.LogLSN > 0 && e.MaxRecordLSN > e.LogLSN {
				return fmt.Sprintf("a record LSN %d lies beyond the $LogFile current LSN %d", e.MaxRecordLSN, e.LogLSN)
			}
			return ""
		}},
	// A filesystem without any dated entry counts as older than any date:
	// the other member holds entries it lacks.
	{"latest timestamp in the directory entries", latestLabel, func(e fs.Evidence) (int64, bool) {
		if e.Latest.IsZero() {
			return math.MinInt64, true
		}
		return e.Latest.UnixNano(), true
	}, func(v int64) string {
		if v == math.MinInt64 {
			return "none"
		}
		return time.Unix(0, v).UTC().Format(time.RFC3339)
	}, func(e fs.Evidence, now time.Time) string {
		// A date after the scan is damage (or a wrong clock), not a write.
		if e.Latest.After(now.Add(24 * time.Hour)) {
			return fmt.Sprintf("a timestamp %s lies after this scan", e.Latest.UTC().Format(time.RFC3339))
		}
		return ""
	}},
	{"dirty flag (set while mounted for writing)", nil, func(e fs.Evidence) (int64, bool) {
		if e.Dirty == nil {
			return 0, false
		}
		if *e.Dirty {
			return 1, true
		}
		return 0, true
	}, func(v int64) string { return map[int64]string{0: "clean", 1: "dirty"}[v] }, nil},
}

// logLabel names the log position criterion after the members'
// filesystems: the LogName they record, else NTFS's $LogFile current LSN
// or the filesystem type's log; a general wording when they differ.
func logLabel(ev []*fs.Evidence, types []string) string {
	label := ""
	for i, e := range ev {
		n := "NTFS $LogFile current LSN"
		switch {
		case e != nil && e.LogName != "":
			n = e.LogName
		case types[i] != "" && types[i] != "ntfs":
			n = strings.ToUpper(types[i]) + " log current LSN"
		}
		if i > 0 && n != label {
			return "filesystem log current position"
		}
		label = n
	}
	return label
}

// latestLabel names the timestamp criterion after what the members'
// filesystems date (fs.Evidence.LatestName).
func latestLabel(ev []*fs.Evidence, _ []string) string {
	label := ""
	for i, e := range ev {
		n := "latest timestamp in the directory entries"
		if e != nil && e.LatestName != "" {
			n = e.LatestName
		}
		if i > 0 && n != label {
			return "latest timestamp the filesystems record"
		}
		label = n
	}
	return label
}

// typesOf returns the type of each member's first filesystem, "" for a
// member without one.
func (in *interp) typesOf() []string {
	out := make([]string, len(in.s.Members))
	for i, l := range in.layouts {
		if l != nil && len(l.Volumes) > 0 {
			out[i] = l.Volumes[0].Vol.Type()
		}
	}
	return out
}

// evidence returns each member's evidence from its first filesystem, nil
// for a member without one.
func (in *interp) evidenceOf() []*fs.Evidence {
	out := make([]*fs.Evidence, len(in.s.Members))
	for i, l := range in.layouts {
		if l != nil && len(l.Volumes) > 0 {
			e := l.Volumes[0].Vol.Evidence()
			out[i] = &e
		}
	}
	return out
}

// fsAuthority weighs the filesystem evidence of the later writer: the
// strongest criterion on which the members differ names the candidates;
// among candidates whose data differs, one is taken only when every range
// where they differ is decided range by range (structure, majority, LSN).
func (in *interp) fsAuthority(pair [][]int64) fsVerdict {
	v := fsVerdict{member: -1, torn: in.torn}
	name0 := func(i int) string { return in.s.Members[i].Path() }
	for i := range in.excl {
		for j := i + 1; j < len(in.excl); j++ {
			if in.excl[i][j] > 0 && in.excl[j][i] > 0 && v.mutual == "" {
				v.mutual = fmt.Sprintf("%s has %d bytes of files that %s lacks (e.g. %s) and %s has %d bytes of files that %s lacks (e.g. %s)",
					name0(i), in.excl[i][j], name0(j), in.exclPath[i][j], name0(j), in.excl[j][i], name0(i), in.exclPath[j][i])
			}
		}
	}
	if !in.on {
		v.reasons = append(v.reasons, "no filesystem was recognised on the members: no filesystem evidence")
		return v
	}
	ev := in.evidenceOf()
	name := func(i int) string { return in.s.Members[i].Path() }
	var cands []int
	for i, e := range ev {
		if e != nil {
			cands = append(cands, i)
		}
	}
	rankable := len(cands) == len(ev)
	if !rankable {
		// A member whose filesystem cannot be read cannot be ranked: the
		// others are not newer just because they can be.
		var none []int
		for i, e := range ev {
			if e == nil {
				none = append(none, i)
			}
		}
		v.reasons = append(v.reasons, fmt.Sprintf("no filesystem was read on %s, so the members cannot be ranked by filesystem evidence", names(none, name)))
		cands = cands[:0]
		for i := range ev {
			cands = append(cands, i)
		}
	}
	for _, c := range criteria {
		if !rankable {
			break
		}
		if c.label != nil {
			c.name = c.label(ev, in.typesOf())
		}
		if c.implausible != nil {
			var bad []string
			for _, i := range cands {
				if why := c.implausible(*ev[i], in.now); why != "" {
					bad = append(bad, name(i)+": "+why)
				}
			}
			if len(bad) > 0 {
				v.reasons = append(v.reasons, fmt.Sprintf("%s: not used, %s", c.name, strings.Join(bad, "; ")))
				continue
			}
		}
		vals := map[int]int64{}
		var shown []string
		for _, i := range cands {
			if x, ok := c.value(*ev[i]); ok {
				vals[i] = x
				shown = append(shown, fmt.Sprintf("%s %s", name(i), c.show(x)))
			}
		}
		if len(vals) < 2 {
			continue
		}
		top, hi, all := []int(nil), int64(0), true
		for _, i := range cands {
			x, ok := vals[i]
			if !ok {
				continue
			}
			switch {
			case len(top) == 0 || x > hi:
				if len(top) > 0 {
					all = false
				}
				top, hi = []int{i}, x
			case x == hi:
				top = append(top, i)
			default:
				all = false
			}
		}
		if all {
			v.reasons = append(v.reasons, fmt.Sprintf("%s: equal on every member (%s)", c.name, strings.Join(shown, ", ")))
			continue
		}
		v.why = fmt.Sprintf("%s: %s", c.name, strings.Join(shown, ", "))
		v.reasons = append(v.reasons, v.why)
		for i := range vals {
			if !slices.Contains(top, i) {
				v.older = append(v.older, i)
			}
		}
		slices.Sort(v.older)
		cands = top
		break
	}
	// LSN votes of the pieces must not point outside the candidates.
	for _, r := range in.records {
		if r.ev.lsn < 0 {
			continue
		}
		g := r.Groups[r.ev.lsn]
		if !slices.ContainsFunc(g, func(i int) bool { return slices.Contains(cands, i) }) {
			v.reasons = append(v.reasons, fmt.Sprintf("but at data offset %d %s: the LSNs point both ways", r.Off, r.ev.lsnWhy))
			v.older = nil // contradicted: no member is shown older
			return v
		}
	}
	if len(cands) == 0 {
		v.reasons = append(v.reasons, "no member's filesystem records evidence of its last writer")
		return v
	}
	// Candidates holding different data: take one only when nothing
	// between them is left to chance.
	differ := false
	for _, a := range cands {
		for _, b := range cands {
			if pair[a][b] > 0 {
				differ = true
			}
		}
	}
	if !differ {
		v.member = cands[0]
		if len(cands) < len(in.s.Members) {
			v.reasons = append(v.reasons, fmt.Sprintf("%s written last by this evidence", names(cands, name)))
		}
		return v
	}
	split := func(groups [][]int) bool {
		first := -1
		for g, ms := range groups {
			for _, i := range ms {
				if slices.Contains(cands, i) {
					if first >= 0 && first != g {
						return true
					}
					first = g
				}
			}
		}
		return false
	}
	var open int64
	for _, q := range in.quiet {
		if split(q.groups) {
			open += q.bytes
		}
	}
	for _, r := range in.records {
		if src, _, _ := resolve(r.Groups, r.ev, -1, false, nil, name); src < 0 && split(r.Groups) {
			open += r.Len
		}
	}
	if open > 0 || in.overflow {
		v.reasons = append(v.reasons, fmt.Sprintf("%s are not told apart by their filesystems, and %d bytes where they differ carry no evidence either way", names(cands, name), open))
		return v
	}
	// Every difference is decided range by range. The member those
	// decisions favour most is taken; none is shown older.
	won := make([]int64, len(in.s.Members))
	for _, r := range in.records {
		if src, _, _ := resolve(r.Groups, r.ev, -1, false, nil, name); src >= 0 {
			for _, i := range r.Groups[group(r.Groups, src)] {
				won[i] += r.Len
			}
		}
	}
	best := cands[0]
	for _, i := range cands {
		if won[i] > won[best] {
			best = i
		}
	}
	v.member, v.decided, v.older = best, true, nil
	v.reasons = append(v.reasons, fmt.Sprintf("%s are not told apart by their filesystems, but every range where they differ is decided by its own evidence (structure, majority or LSN); %s, whose copies those decisions take most (%d bytes), is taken for the rest, and no member is shown older",
		names(cands, name), name(best), won[best]))
	return v
}

func names(ms []int, name func(int) string) string {
	var s []string
	for _, i := range ms {
		s = append(s, name(i))
	}
	return strings.Join(s, " and ")
}
