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
	// settable, when set, says a member's value is one programs set at
	// will: then the criterion does not decide.
	settable func(e fs.Evidence) bool
}

var criteria = []criterion{
	{"NTFS $LogFile current LSN", logLabel, func(e fs.Evidence) (int64, bool) { return int64(e.LogLSN), e.LogLSN > 0 },
		func(v int64) string { return fmt.Sprint(v) }, nil, nil},
	{"highest NTFS record LSN", recordLabel, func(e fs.Evidence) (int64, bool) { return int64(e.MaxRecordLSN), e.MaxRecordLSN > 0 },
		func(v int64) string { return fmt.Sprint(v) },
		func(e fs.Evidence, _ time.Time) string {
			// No record is written after the log's current LSN.
			if e.LogLSN > 0 && e.MaxRecordLSN > e.LogLSN {
				return fmt.Sprintf("a record LSN %d lies beyond the $LogFile current LSN %d", e.MaxRecordLSN, e.LogLSN)
			}
			return ""
		}, nil},
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
		// To the nanosecond: values shown alike must be alike.
		return time.Unix(0, v).UTC().Format(time.RFC3339Nano)
	}, func(e fs.Evidence, now time.Time) string {
		// A date after the scan is damage (or a wrong clock), not a write.
		if e.Latest.After(now.Add(24 * time.Hour)) {
			return fmt.Sprintf("a timestamp %s lies after this scan", e.Latest.UTC().Format(time.RFC3339))
		}
		return ""
	}, func(e fs.Evidence) bool { return e.LatestSettable }},
	{"dirty flag (set while mounted for writing)", nil, func(e fs.Evidence) (int64, bool) {
		if e.Dirty == nil {
			return 0, false
		}
		if *e.Dirty {
			return 1, true
		}
		return 0, true
	}, func(v int64) string { return map[int64]string{0: "clean", 1: "dirty"}[v] }, nil, nil},
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

// recordLabel names the record LSN criterion after the members'
// filesystems: NTFS FILE records, XFS v5 metadata blocks.
func recordLabel(_ []*fs.Evidence, types []string) string {
	label := ""
	for i, t := range types {
		n := "highest NTFS record LSN"
		if t == "xfs" {
			n = "highest XFS metadata LSN"
		}
		if i > 0 && n != label {
			return "highest metadata record LSN"
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
	common := in.commonState()
	// An example shown by allocation reads plainer than one shown by
	// change times.
	example := func(i, j int) string {
		if in.allocPath[i][j] != "" {
			return in.allocPath[i][j]
		}
		return in.exclPath[i][j]
	}
	// One member's log went on from the other's (ancestor one way only):
	// the other's apparent writes are the first's later changes. Logs
	// ending alike both ways say nothing of writes made outside them.
	for i := range in.excl {
		for j := i + 1; j < len(in.excl); j++ {
			if in.excl[i][j] > 0 && in.excl[j][i] > 0 && v.mutual == "" && in.ancestor(i, j) == in.ancestor(j, i) {
				v.mutual = fmt.Sprintf("%s has %d bytes of writes (files, changes or deletions) that %s lacks (e.g. %s) and %s has %d bytes of writes that %s lacks (e.g. %s)",
					name0(i), in.excl[i][j], name0(j), example(i, j), name0(j), in.excl[j][i], name0(i), example(j, i))
			}
		}
	}
	if !in.on {
		v.reasons = append(v.reasons, "no filesystem was recognised on the members: no filesystem evidence")
		return v
	}
	for i := range in.s.Members {
		for j := range in.s.Members {
			if ex := common[[2]int{i, j}]; ex != "" {
				v.reasons = append(v.reasons, fmt.Sprintf("what %s seems to hold that %s lacks in files it last changed before the members diverged is the common state, which %s changed later (e.g. %s)",
					name0(i), name0(j), name0(j), ex))
			}
		}
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
		if c.settable != nil && slices.ContainsFunc(cands, func(i int) bool { return c.settable(*ev[i]) }) {
			// Dates a program sets (cp -p, rsync -a, unzip, mcopy -m, a
			// restore) are as old as the program says: the copy written
			// last may carry the oldest.
			why := fmt.Sprintf("%s: %s: not used, these are dates the writing programs set (cp -p, rsync -a, unzip, mcopy -m and restores keep a file's old dates), so a later date does not show a later write",
				c.name, strings.Join(shown, ", "))
			if ex := in.datedExample(); ex != "" {
				why += " (" + ex + ")"
			}
			v.reasons = append(v.reasons, why)
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
	if rankable {
		if stop := in.allocation(&v, &cands, name); stop {
			return v
		}
		if in.recordStop(&v, cands, name) {
			return v
		}
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

// datedExample returns the first file the members date differently, or "".
func (in *interp) datedExample() string {
	for i := range in.datedPath {
		for j := range in.datedPath[i] {
			if in.datedPath[i][j] != "" {
				return in.datedPath[i][j]
			}
		}
	}
	return ""
}

// allocation weighs the files each member holds where another has free
// space or another file (alloc): writes the one has and the other lacks.
// Among the candidates, one that lacks another's files while showing no
// write of its own that one lacks is older. Then a member shown older
// that holds writes of its own a candidate lacks (files, a later change
// time), or whose copy of a file is dated later than a candidate's,
// contradicts the ranking: no member is taken (it returns true).
func (in *interp) allocation(v *fsVerdict, cands *[]int, name func(int) string) bool {
	const what = "files held by some members only (file data where another member has free space or another file)"
	// A member whose last log record another's log holds unchanged is
	// that one's ancestor: whatever it seems to hold that the other lacks
	// (a file in an inode the other reused) the other deleted later.
	// went reports whether c went on from o's last logged state while o
	// seems to hold writes c lacks (the logs are read only then).
	went := func(o, c int) bool {
		return (in.excl[o][c] > 0 || in.dated[o][c] > 0) && in.ancestor(o, c) && !in.ancestor(c, o)
	}
	explained := func(o, c int) {
		if went(o, c) {
			v.reasons = append(v.reasons, fmt.Sprintf("%s's last log record (%s) lies unchanged in %s's log: %s went on from %s's last logged state, so what %s holds that %s lacks (e.g. %s) %s changed or deleted later",
				name(o), in.tailText(o), name(c), name(c), name(o), name(o), name(c), firstOf(in.allocPath[o][c], in.exclPath[o][c], in.datedPath[o][c]), name(c)))
		}
	}
	// behind: a lacks b's files and shows nothing b lacks, or b's log
	// went on from a's.
	behind := func(a, b int) bool {
		if went(a, b) {
			return true
		}
		return in.alloc[b][a] > 0 && in.excl[a][b] == 0 && in.dated[a][b] == 0
	}
	var keep, drop []int
	for _, c := range *cands {
		if slices.ContainsFunc(*cands, func(d int) bool { return d != c && behind(c, d) }) {
			drop = append(drop, c)
		} else {
			keep = append(keep, c)
		}
	}
	switch {
	case len(*cands) < 2:
	case len(drop) == 0:
		var held []string
		for _, a := range *cands {
			for _, b := range *cands {
				if a == b || in.alloc[a][b] == 0 {
					continue
				}
				h := fmt.Sprintf("%s holds %d bytes of files that %s lacks (e.g. %s)", name(a), in.alloc[a][b], name(b), in.allocPath[a][b])
				switch {
				case in.excl[b][a] > 0:
					h += fmt.Sprintf(", and %s %d bytes that %s lacks (e.g. %s)", name(b), in.excl[b][a], name(a), in.exclPath[b][a])
				case in.dated[b][a] > 0:
					h += fmt.Sprintf(", but %s holds %d bytes of files dated later than on %s (e.g. %s): such dates are the writing program's and show no write, but %s cannot be taken over %s without perhaps losing one",
						name(b), in.dated[b][a], name(a), in.datedPath[b][a], name(a), name(b))
				}
				held = append(held, h)
			}
		}
		if len(held) == 0 {
			held = []string{"none"}
			var d []string
			for _, a := range *cands {
				for _, b := range *cands {
					if in.dated[a][b] > 0 {
						d = append(d, in.datedPath[a][b])
						break
					}
				}
			}
			if len(d) > 0 {
				held = append(held, "files both hold are dated differently ("+strings.Join(d, "; ")+"), by dates the writing programs set, which show no write either way")
			}
		}
		v.reasons = append(v.reasons, what+": "+strings.Join(held, "; "))
	case len(keep) == 0:
		v.reasons = append(v.reasons, what+": not used, every candidate lacks files another holds")
	default:
		var s []string
		for _, d := range drop {
			for _, k := range keep {
				switch {
				case !behind(d, k):
					continue
				case went(d, k):
					s = append(s, fmt.Sprintf("%s went on from %s's last logged state", name(k), name(d)))
				default:
					s = append(s, fmt.Sprintf("%s holds %d bytes of files that %s lacks (e.g. %s), and %s none that %s lacks", name(k), in.alloc[k][d], name(d), in.allocPath[k][d], name(d), name(k)))
				}
				break
			}
		}
		for _, d := range drop {
			for _, k := range keep {
				explained(d, k)
			}
		}
		v.why = what + ": " + strings.Join(s, "; ")
		v.reasons = append(v.reasons, v.why)
		v.older = append(v.older, drop...)
		slices.Sort(v.older)
		*cands = keep
	}
	for _, o := range v.older {
		for _, c := range *cands {
			var why string
			switch {
			case went(o, c):
				explained(o, c) // c went on from o's last logged state
				continue
			case in.alloc[o][c] > 0:
				why = fmt.Sprintf("%s holds %d bytes of files that %s lacks (e.g. %s), where %s has free space or another file", name(o), in.alloc[o][c], name(c), in.allocPath[o][c], name(c))
			case in.excl[o][c] > 0:
				why = fmt.Sprintf("%s holds %d bytes of files changed later than on %s (e.g. %s)", name(o), in.excl[o][c], name(c), in.exclPath[o][c])
			case in.dated[o][c] > 0:
				why = fmt.Sprintf("%s holds %d bytes of files dated later than on %s (e.g. %s): such dates are the writing program's and show no write, but %s cannot be taken over %s without perhaps losing one",
					name(o), in.dated[o][c], name(c), in.datedPath[o][c], name(c), name(o))
			default:
				continue
			}
			v.reasons = append(v.reasons, fmt.Sprintf("but %s, which this shows older, %s: the evidence points both ways", name(o), strings.TrimPrefix(why, name(o)+" ")))
			v.older = nil
			return true
		}
	}
	return false
}

// tailText names member i's last log record: an XFS LSN as cycle:block,
// a jbd2 commit by its transaction ID.
func (in *interp) tailText(i int) string {
	t := in.tailOf(i)
	if in.typesOf()[i] == "xfs" {
		return fmt.Sprintf("LSN %d:%d", t.lsn>>32, uint32(t.lsn))
	}
	return fmt.Sprintf("commit of transaction %d", t.lsn)
}

// firstOf returns the first non-empty string.
func firstOf(s ...string) string {
	for _, x := range s {
		if x != "" {
			return x
		}
	}
	return ""
}
