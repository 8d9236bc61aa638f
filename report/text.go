package report

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
)

// WriteText writes r as a plain-ASCII, fixed-width report for people.
//
// The layout is not part of the schema contract and may change; scripts
// should read the JSON. The output depends only on r, so equal reports give
// identical text. Strings taken from r are made printable: a path holding
// bytes outside printable ASCII (or starting with a double quote) is written
// as a Go-quoted string, and such characters in other text are written as
// Go escapes (\n, \u00e9, \xff). Within a set, members are named by the last
// element of their path when those are unique in the set, and by the full
// path otherwise; the member table always shows full paths.
//
// It is WriteTextOptions with the default options: 100 columns and the
// first 50 differing ranges of each set.
func WriteText(w io.Writer, r *Report) error {
	return WriteTextOptions(w, r, TextOptions{})
}

// TextOptions shape the text report.
type TextOptions struct {
	// Width is the widest line, in columns; 0 means DefaultTextWidth, and
	// anything below MinTextWidth is MinTextWidth.
	Width int
	// MaxRanges is how many differing ranges of each set are listed (the
	// rest are summarised by owner and by decision); 0 means
	// DefaultTextRanges, a negative value every range in the model.
	MaxRanges int
}

// Text report defaults.
const (
	DefaultTextWidth  = 100
	MinTextWidth      = 40
	DefaultTextRanges = 50
)

// WriteTextOptions writes r as WriteText does, shaped by o.
func WriteTextOptions(w io.Writer, r *Report, o TextOptions) error {
	if r == nil {
		return errors.New("report: nil report")
	}
	p := textPrinter{width: o.Width, maxRanges: o.MaxRanges}
	if p.width == 0 {
		p.width = DefaultTextWidth
	}
	p.width = max(p.width, MinTextWidth)
	if p.maxRanges == 0 {
		p.maxRanges = DefaultTextRanges
	}
	p.report(r)
	_, err := w.Write(p.buf.Bytes())
	return err
}

type textPrinter struct {
	buf       bytes.Buffer
	width     int // widest line
	maxRanges int // ranges listed per set; negative: all
}

// line writes indent, then the formatted text, then a newline, with trailing
// spaces removed. A line wider than the width is wrapped at spaces, its
// continuation indented two columns more (a word longer than the width is
// left whole).
func (p *textPrinter) line(indent int, format string, args ...any) {
	textWidth := p.width
	s := strings.TrimRight(strings.Repeat(" ", indent)+fmt.Sprintf(format, args...), " ")
	pad := strings.Repeat(" ", indent+2)
	for len(s) > textWidth {
		cut := strings.LastIndexByte(s[:textWidth+1], ' ')
		if cut <= len(pad) {
			break
		}
		p.buf.WriteString(strings.TrimRight(s[:cut], " "))
		p.buf.WriteByte('\n')
		s = pad + strings.TrimLeft(s[cut:], " ")
	}
	p.buf.WriteString(s)
	p.buf.WriteByte('\n')
}

func (p *textPrinter) blank() { p.buf.WriteByte('\n') }

// fields writes "Key:  value" lines with the values aligned.
func (p *textPrinter) fields(indent int, kv ...string) {
	width := 0
	for i := 0; i < len(kv); i += 2 {
		width = max(width, len(kv[i])+1)
	}
	for i := 0; i < len(kv); i += 2 {
		p.line(indent, "%-*s  %s", width, kv[i]+":", kv[i+1])
	}
}

// bullets writes each item as "- item", or "- none" for no items.
func (p *textPrinter) bullets(indent int, items []string) {
	if len(items) == 0 {
		p.line(indent, "- none")
		return
	}
	for _, s := range items {
		p.line(indent, "- %s", text(s))
	}
}

func (p *textPrinter) report(r *Report) {
	p.line(0, "MIRRORCHK REPORT")
	top := RunBottom(r)
	p.line(0, "Verdict: %s", text(top.Verdict))
	p.line(0, "Next: %s", text(top.Next))
	if len(r.Sets) > 1 {
		for i := range r.Sets {
			s := &r.Sets[i]
			p.line(2, "Set %d (%s): %s", i+1, setNames(s, memberLabels(s.Members).of, text), text(SetBottom(r, s).Verdict))
		}
	}
	p.blank()
	kv := []string{
		"Tool", orDash(strings.TrimSpace(text(r.Tool.Name) + " " + text(r.Tool.Version))),
		"Schema", orDash(text(r.Schema)),
		"Generated", orDash(text(r.Generated)),
		"Command", orDash(commandLine(r.Command)),
		"Sector size", sizeText(int64(r.SectorSize)),
		"Sets", strconv.Itoa(len(r.Sets)),
	}
	for i, h := range r.Hives {
		kv = append(kv, fmt.Sprintf("Hive %d", i+1), hiveText(h, pathText))
	}
	p.fields(0, kv...)
	for i := range r.Sets {
		p.blank()
		p.set(r, &r.Sets[i], i+1, len(r.Sets))
	}
	p.provenance(r)
	p.blank()
	if len(r.Problems) == 0 {
		p.line(0, "Problems not tied to a set: none")
	} else {
		p.line(0, "Problems not tied to a set:")
		noLabels := memberLabels(nil)
		for _, pr := range r.Problems {
			p.line(2, "%s", problemText(pr, noLabels))
		}
	}
	p.blank()
	p.line(0, "%s", summary(r))
	b := RunBottom(r)
	p.line(0, "Verdict: %s", text(b.Verdict))
	p.line(0, "Next: %s", text(b.Next))
}

// provenance writes the run's provenance and batch summary (see
// WriteProvenanceText) inside the report, before its closing summary and
// bottom line, wrapped and made printable like every other line.
func (p *textPrinter) provenance(r *Report) {
	var b strings.Builder
	if err := WriteProvenanceText(&b, r); err != nil || b.Len() == 0 {
		return
	}
	for _, l := range strings.Split(strings.TrimRight(b.String(), "\n"), "\n") {
		if l == "" {
			p.blank()
			continue
		}
		body := strings.TrimLeft(l, " ")
		p.line(len(l)-len(body), "%s", text(body))
	}
}

// setNames names a set for people: its evidence (setFiles), and its ID
// when the metadata gives one. str makes the case and ID printable for the
// renderer.
func setNames(s *Set, label func(string) string, str func(string) string) string {
	n := setFiles(s, label, str)
	if s.ID != "" && !strings.HasPrefix(s.ID, "adhoc-") {
		n += "; " + str(s.ID)
	}
	return n
}

// setFiles names a set by its evidence: its member files, led by its
// manifest case when it has one ("case c1: md0.img, md1.img"), since sets
// of different cases may hold files of one name.
func setFiles(s *Set, label func(string) string, str func(string) string) string {
	var names []string
	for _, m := range s.Members {
		names = append(names, label(m.Path))
	}
	n := strings.Join(names, ", ")
	if n == "" {
		n = "no members"
	}
	if s.Case != "" {
		n = "case " + str(s.Case) + ": " + n
	}
	return n
}

func (p *textPrinter) set(r *Report, s *Set, n, total int) {
	lab := memberLabels(s.Members)
	bottom := SetBottom(r, s)
	p.line(0, "SET %d OF %d: %s", n, total, setFiles(s, lab.of, text))
	p.line(2, "Verdict: %s", text(bottom.Verdict))
	level := text(s.Level)
	if level == "" {
		level = "unknown"
	}
	disks := "unknown"
	if s.RaidDisks != 0 {
		disks = strconv.Itoa(s.RaidDisks)
	}
	p.fields(2,
		"ID", orDash(text(s.ID)),
		"Name", orDash(text(s.Name)),
		"Metadata", orDash(text(s.Metadata)),
		"Level", level,
		"Verdict code", orDash(text(strings.ToUpper(s.Verdict))),
		"RAID disks", disks,
		"Data size", dataSizeText(s),
	)

	p.blank()
	p.memberTable(s.Members)

	p.blank()
	a := s.Authority
	switch {
	case a.Member != nil:
		p.line(2, "Authority: %s (%s)", pathText(*a.Member), orDash(text(a.Basis)))
	case a.Basis == BasisNone || a.Basis == "":
		p.line(2, "Authority: none")
	default:
		p.line(2, "Authority: none (%s)", text(a.Basis))
	}
	p.bullets(4, a.Reasons)

	for _, m := range s.Members {
		p.blank()
		p.memberDetail(m, lab)
	}

	p.blank()
	d := s.Divergence
	if w := notCompared(s); w != "" {
		p.line(2, "Divergence: %s", w)
	} else if d.RangesTotal == 0 && d.Bytes == 0 && len(d.Ranges) == 0 {
		p.line(2, "Divergence: no differences")
	} else {
		p.line(2, "Divergence: %s, %s differ", count(d.RangesTotal, "range", "ranges"), sizeText(d.Bytes))
		p.ranges(4, d.Ranges, d.RangesTotal, lab)
		p.rangeSummary(4, d.Ranges, d.RangesTotal, lab)
	}
	if len(s.Files) > 0 {
		p.blank()
		p.files(s.Files, s.FilesUnlisted)
	}
	if sl := salvageLines(s, lab.of); len(sl) > 0 {
		p.blank()
		p.line(2, "Unreadable data:")
		p.bullets(4, textsOf(sl))
		if lf := lostFiles(s); len(lf) > 0 {
			p.line(2, "Files with lost data: %d", len(lf))
			p.bullets(4, textsOf(lf))
		}
	}

	if b := s.Bitmap; b != nil {
		p.blank()
		p.bitmap(b, lab)
	}

	p.blank()
	if len(s.Problems) == 0 {
		p.line(2, "Problems: none")
	} else {
		p.line(2, "Problems:")
		for _, pr := range s.Problems {
			p.line(4, "%s", problemText(pr, lab))
		}
	}

	if s.Repair != nil {
		p.blank()
		p.repair(s.Repair, lab)
	}

	p.blank()
	p.line(2, "Verdict: %s", text(bottom.Verdict))
	p.line(2, "Next: %s", text(bottom.Next))
}

func (p *textPrinter) memberTable(ms []Member) {
	if len(ms) == 0 {
		p.line(2, "Members: none")
		return
	}
	p.line(2, "Members:")
	t := table{right: []bool{false, false, false, true, false}}
	t.header = []string{"PATH", "ROLE", "STATE", "GENERATION", "AUTH"}
	for _, m := range ms {
		gen := "-"
		if m.Generation != nil {
			gen = strconv.FormatUint(*m.Generation, 10)
		}
		auth := ""
		if m.Authoritative {
			auth = "*"
		}
		t.add(orDash(pathText(m.Path)), orDash(text(m.Role)), orDash(text(m.State)), gen, auth)
	}
	t.write(p, 4)
}

func (p *textPrinter) memberDetail(m Member, lab labels) {
	p.line(2, "Member %s:", lab.of(m.Path))
	kv := []string{"Path", orDash(pathText(m.Path))}
	for i, seg := range m.Segments {
		kv = append(kv, fmt.Sprintf("Segment %d", i+1), pathText(seg))
	}
	if c := m.Container; c != nil {
		kv = append(kv, "Container", text(containerLine(c)))
		if c.Format != "split raw" {
			kv = append(kv, "Stored hashes", text(verificationLine(c)))
		}
		if a := acquisitionLine(c); a != "" {
			kv = append(kv, "Acquisition", text(a))
		}
		for i, f := range c.Files {
			v := pathText(f.Path) + " (" + sizeText(f.Size) + ")"
			for _, alg := range sortedKeys(f.Hashes) {
				v += " " + text(alg) + " " + text(f.Hashes[alg])
			}
			kv = append(kv, fmt.Sprintf("File %d", i+1), v)
		}
	}
	kv = append(kv, "Size", sizeText(m.Size), "Data area", fmt.Sprintf("%s at offset %s", sizeText(m.DataSize), hex(m.DataOffset)))
	for _, alg := range sortedKeys(m.Hashes) {
		kv = append(kv, text(alg), text(m.Hashes[alg]))
	}
	if m.PartitionTable != "" {
		kv = append(kv, "Partition table", text(m.PartitionTable))
	}
	p.fields(4, kv...)
	if len(m.Evidence) == 0 {
		p.line(4, "Evidence: none")
	} else {
		p.line(4, "Evidence:")
		p.bullets(6, m.Evidence)
	}
	for _, f := range m.Filesystems {
		where := ""
		if f.Partition != nil {
			where = fmt.Sprintf(" in partition %d (type %s, %s)", f.Partition.Index, text(f.Partition.Type), text(f.Partition.TypeName))
		}
		p.line(4, "Filesystem %s, %s at data offset %s%s:", text(f.Type), sizeText(f.Size), hex(f.Offset), where)
		p.bullets(6, f.Evidence)
	}
}

// files lists each affected file or structure once with its bytes.
func (p *textPrinter) files(fs []File, unlisted int64) {
	p.line(2, "Affected files and structures: %d", len(fs))
	t := table{right: []bool{true, false, false}}
	for _, f := range fs {
		name := pathText(f.Path)
		if f.Path == "" {
			name = "-"
		}
		t.add(count(f.Bytes, "byte", "bytes"), name, text(strings.Join(f.Structures, ", ")))
	}
	t.write(p, 4)
	if unlisted > 0 {
		p.line(4, "... and %s in files not listed", count(unlisted, "byte", "bytes"))
	}
}

// ranges writes each listed range once, up to the printer's limit: its
// offset, length, agreement groups and source, then its owner and, when it
// is not simply the set's authority, why its source was chosen. Then how
// many ranges are not listed and how to see them.
func (p *textPrinter) ranges(indent int, rs []Range, total int64, lab labels) {
	shown := rs
	if p.maxRanges >= 0 && len(shown) > p.maxRanges {
		shown = shown[:p.maxRanges]
	}
	t := table{right: []bool{true, true, false, false}}
	lastWhy := ""
	for _, r := range shown {
		src := "source: none"
		if r.Source != nil {
			src = "source: " + lab.of(*r.Source)
		}
		if r.SourceBasis != "" && r.SourceBasis != "set-authority" {
			src += " (" + text(r.SourceBasis) + ")"
		}
		var extra []string
		if o := ownerText(r, lab); o != "" {
			extra = append(extra, "owner: "+o)
		}
		// A reason is written once for a run of ranges that share it.
		if why := text(r.SourceReason); r.SourceBasis != "" && r.SourceBasis != "set-authority" && why != "" && why != lastWhy {
			extra = append(extra, "why: "+why)
			lastWhy = why
		}
		t.addWith(extra, hex(r.VolumeOffset), count(r.Length, "byte", "bytes")+" "+paren(human(r.Length)),
			agreeText(r.Agree, lab), src)
	}
	t.write(p, indent)
	if more := total - int64(len(shown)); more > 0 {
		p.line(indent, "... and %s not listed here: --max-ranges N lists more, --json gives every range the report holds",
			count(more, "more range", "more ranges"))
		if int64(len(rs)) < total {
			p.line(indent, "(the report holds %d of the %d ranges found; --max-ranges N keeps more)", len(rs), total)
		}
	}
}

// rangeSummary sums the listed ranges by owner and by decision when not
// all of them were shown one by one.
func (p *textPrinter) rangeSummary(indent int, rs []Range, total int64, lab labels) {
	if p.maxRanges < 0 || int64(p.maxRanges) >= total {
		return
	}
	of := ""
	if int64(len(rs)) < total {
		of = fmt.Sprintf(" (of the %d ranges the report holds)", len(rs))
	}
	byOwner := tally{}
	byDecision := tally{}
	for _, r := range rs {
		byOwner.add(ownerGroup(r, lab), r.Length)
		d := "source: none"
		if r.Source != nil {
			d = "source: " + lab.of(*r.Source)
		}
		basis := r.SourceBasis
		if basis == "" {
			basis = "none"
		}
		byDecision.add(d+" ("+text(basis)+")", r.Length)
	}
	p.line(indent-2, "Differing ranges by owner%s:", of)
	byOwner.write(p, indent, 20)
	p.line(indent-2, "Differing ranges by decision%s:", of)
	byDecision.write(p, indent, 20)
}

// tally sums bytes and ranges per key, keeping the order keys first appear.
type tally struct {
	keys   []string
	bytes  map[string]int64
	ranges map[string]int64
}

func (t *tally) add(key string, n int64) {
	if t.bytes == nil {
		t.bytes, t.ranges = map[string]int64{}, map[string]int64{}
	}
	if _, ok := t.bytes[key]; !ok {
		t.keys = append(t.keys, key)
	}
	t.bytes[key] += n
	t.ranges[key]++
}

// write lists the keys largest first, at most limit of them, then the rest
// as one line.
func (t *tally) write(p *textPrinter, indent, limit int) {
	keys := slices.Clone(t.keys)
	slices.SortStableFunc(keys, func(a, b string) int {
		switch {
		case t.bytes[a] > t.bytes[b]:
			return -1
		case t.bytes[a] < t.bytes[b]:
			return 1
		}
		return 0
	})
	tb := table{right: []bool{true, true, false}}
	var restB, restR int64
	for i, k := range keys {
		if i >= limit {
			restB += t.bytes[k]
			restR += t.ranges[k]
			continue
		}
		tb.add(count(t.bytes[k], "byte", "bytes"), count(t.ranges[k], "range", "ranges"), k)
	}
	if restR > 0 {
		tb.add(count(restB, "byte", "bytes"), count(restR, "range", "ranges"), fmt.Sprintf("%d others", len(keys)-limit))
	}
	tb.write(p, indent)
}

// ownerGroup names what a range belongs to for the summary: the file's
// path, else the structure without its record or cluster number.
func ownerGroup(r Range, lab labels) string {
	o := r.Owner
	if o == nil {
		if len(r.Owners) == 0 {
			return "unknown (no filesystem read)"
		}
		o = &r.Owners[0].Owner
	}
	if len(r.Owners) > 0 {
		for _, mo := range r.Owners[1:] {
			if mo.Owner.Path != r.Owners[0].Owner.Path || StructureGroup(mo.Owner.Structure) != StructureGroup(r.Owners[0].Owner.Structure) {
				return "owners differ between members"
			}
		}
	}
	if o.Path != "" {
		return pathText(o.Path)
	}
	g := text(StructureGroup(o.Structure))
	if o.FS != "" {
		g = text(o.FS) + " " + g
	}
	return g
}

// StructureGroup is a structure name without the numbers that tell one
// record, cluster or copy from another: "$MFT record 42" is "$MFT record",
// "FAT 2" is "FAT".
func StructureGroup(s string) string {
	words := strings.Fields(s)
	out := words[:0:0]
	for _, w := range words {
		if strings.Trim(w, "0123456789#,") == "" {
			continue
		}
		out = append(out, w)
	}
	if len(out) == 0 {
		return "-"
	}
	return strings.Join(out, " ")
}

// ownerText names what a range belongs to: the owner, or each member's
// when they differ.
func ownerText(r Range, lab labels) string {
	one := func(o Owner) string {
		s := text(o.Structure)
		if o.Path != "" {
			s += " " + pathText(o.Path)
		}
		if o.FS != "" {
			s = text(o.FS) + " " + s
		}
		return s
	}
	if len(r.Owners) > 0 {
		var parts []string
		for _, o := range r.Owners {
			parts = append(parts, lab.of(o.Member)+": "+one(o.Owner))
		}
		return strings.Join(parts, "; ")
	}
	if r.Owner == nil {
		return ""
	}
	return one(*r.Owner)
}

func (p *textPrinter) bitmap(b *Bitmap, lab labels) {
	p.line(2, "Bitmap of %s: %s of %s, %d dirty",
		lab.of(b.Member), count(b.Chunks, "chunk", "chunks"), sizeText(b.ChunkSize), b.DirtyChunks)
	p.line(4, "events %d, events cleared %d", b.Events, b.EventsCleared)
	switch {
	case b.CoversAll == nil:
		p.line(4, "Covers all differing ranges: not applicable")
	case *b.CoversAll:
		p.line(4, "Covers all differing ranges: yes")
	default:
		p.line(4, "Covers all differing ranges: NO")
	}
	if len(b.Uncovered) > 0 {
		p.line(4, "Differing ranges outside dirty chunks start at:")
		t := table{right: []bool{true, true}}
		for _, off := range b.Uncovered {
			t.add(hex(off), paren(strconv.FormatInt(off, 10)))
		}
		t.write(p, 6)
	}
}

func (p *textPrinter) repair(rp *Repair, lab labels) {
	mode := ""
	if rp.DryRun {
		mode = " (dry run)"
	}
	p.line(2, "Repair: %s%s", orDash(text(rp.Status)), mode)
	src := "none"
	if rp.Source != nil {
		src = lab.of(*rp.Source)
	}
	p.fields(4, "Reason", orDash(text(rp.Reason)), "Source", src)
	for _, o := range rp.Outputs {
		p.line(4, "Output for %s:", lab.of(o.Member))
		path := pathText(o.Path)
		if path == "" {
			path = "-"
			if rp.DryRun {
				path = "(dry run: not written)"
			}
		}
		copied, verified, ranges := "Bytes copied", "no", "Ranges copied"
		if rp.DryRun {
			copied, verified, ranges = "Bytes to copy", "not applicable (dry run)", "Ranges to copy"
		}
		if o.Verified {
			verified = "yes"
		}
		kv := []string{"Path", path, copied, sizeText(o.BytesCopied), "Verified", verified}
		for _, alg := range sortedKeys(o.Hashes) {
			kv = append(kv, text(alg), text(o.Hashes[alg]))
		}
		kv = append(kv, "Data sha256", orDash(text(o.DataSHA256)))
		p.fields(6, kv...)
		p.line(6, "%s: %d", ranges, o.RangesTotal)
		p.ranges(8, o.Ranges, o.RangesTotal, lab)
		if len(o.MetadataChanges) == 0 {
			p.line(6, "Metadata changes: none")
		} else {
			p.line(6, "Metadata changes:")
			p.bullets(8, o.MetadataChanges)
		}
		if len(o.FilesystemFindings) > 0 {
			p.line(6, "Filesystem findings on the written image:")
			p.bullets(8, o.FilesystemFindings)
		}
	}
}

func problemText(pr Problem, lab labels) string {
	s := orDash(text(strings.ToUpper(pr.Severity))) + " " + orDash(text(pr.Code))
	if pr.Message != "" {
		s += ": " + text(pr.Message)
	}
	var where []string
	if pr.Member != "" {
		where = append(where, lab.of(pr.Member))
	}
	if pr.Offset != nil {
		where = append(where, "offset "+hex(*pr.Offset))
	}
	if len(where) > 0 {
		s += " (" + strings.Join(where, ", ") + ")"
	}
	return s
}

func agreeText(groups [][]string, lab labels) string {
	if len(groups) == 0 {
		return "-"
	}
	parts := make([]string, len(groups))
	for i, g := range groups {
		names := make([]string, len(g))
		for j, m := range g {
			names[j] = lab.of(m)
		}
		parts[i] = "{" + strings.Join(names, ", ") + "}"
	}
	return strings.Join(parts, " vs ")
}

// summary is the closing line: sets by verdict and problems by severity.
func summary(r *Report) string {
	verdicts := map[string]int64{}
	for _, s := range r.Sets {
		verdicts[s.Verdict]++
	}
	severities := map[string]int64{}
	var problems int64
	add := func(ps []Problem) {
		for _, p := range ps {
			severities[p.Severity]++
			problems++
		}
	}
	add(r.Problems)
	for _, s := range r.Sets {
		add(s.Problems)
	}
	known := []string{VerdictConsistent, VerdictDiverged, VerdictSplitBrain, VerdictDegraded, VerdictUnknown}
	var vs []string
	for _, v := range ordered(verdicts, known) {
		vs = append(vs, fmt.Sprintf("%d %s", verdicts[v], orDash(text(v))))
	}
	var ps []string
	for _, sev := range ordered(severities, []string{SeverityError, SeverityWarning, SeverityInfo}) {
		n := severities[sev]
		name := orDash(text(sev))
		if sev == SeverityError || sev == SeverityWarning {
			ps = append(ps, count(n, name, name+"s"))
		} else {
			ps = append(ps, fmt.Sprintf("%d %s", n, name))
		}
	}
	s := "Summary: " + count(int64(len(r.Sets)), "set", "sets")
	if len(vs) > 0 {
		s += " (" + strings.Join(vs, ", ") + ")"
	}
	s += ", " + count(problems, "problem", "problems")
	if len(ps) > 0 {
		s += " (" + strings.Join(ps, ", ") + ")"
	}
	return s
}

// ordered returns the keys of m: those in known first, in that order, then
// the rest sorted.
func ordered(m map[string]int64, known []string) []string {
	var out []string
	for _, k := range known {
		if m[k] > 0 {
			out = append(out, k)
		}
	}
	var rest []string
	for k := range m {
		if !slices.Contains(known, k) {
			rest = append(rest, k)
		}
	}
	slices.Sort(rest)
	return append(out, rest...)
}

// labels names members within one set.
type labels map[string]string

// memberLabels uses the last path element of each member when those are
// unique and non-empty within the set, and the full path otherwise.
func memberLabels(ms []Member) labels {
	lab := labels{}
	seen := map[string]bool{}
	short := true
	for _, m := range ms {
		b := baseName(m.Path)
		if b == "" || seen[b] {
			short = false
		}
		seen[b] = true
	}
	for _, m := range ms {
		if short {
			lab[m.Path] = pathText(baseName(m.Path))
		} else {
			lab[m.Path] = pathText(m.Path)
		}
	}
	return lab
}

// of returns the label of path, or the printable path itself when it is not
// a member of the set.
func (lab labels) of(path string) string {
	if l, ok := lab[path]; ok {
		return orDash(l)
	}
	return orDash(pathText(path))
}

// baseName returns the part of p after its last '/' or '\', so that reports
// written on Windows label the same way everywhere.
func baseName(p string) string {
	return p[strings.LastIndexAny(p, `/\`)+1:]
}

// table lays out cells in columns separated by two spaces. A table wider
// than the printer's width is written one row per line with its cells
// separated by two spaces, or, when it has a header, as one block per row
// naming each cell by its column.
type table struct {
	header []string
	rows   [][]string
	extra  [][]string // lines written under row i, indented
	right  []bool     // right-align column i
}

func (t *table) add(cells ...string) { t.addWith(nil, cells...) }

func (t *table) addWith(extra []string, cells ...string) {
	t.rows = append(t.rows, cells)
	t.extra = append(t.extra, extra)
}

func (t *table) write(p *textPrinter, indent int) {
	var widths []int
	all := t.rows
	if t.header != nil {
		all = append([][]string{t.header}, t.rows...)
	}
	for _, row := range all {
		for i, c := range row {
			if i == len(widths) {
				widths = append(widths, 0)
			}
			widths[i] = max(widths[i], len(c))
		}
	}
	total := indent
	for _, w := range widths {
		total += w + 2
	}
	if total-2 > p.width {
		for i, row := range t.rows {
			if t.header == nil {
				var cells []string
				for _, c := range row {
					if c != "" {
						cells = append(cells, c)
					}
				}
				p.line(indent, "%s", strings.Join(cells, "  "))
			} else {
				var cells []string
				for j, c := range row[1:] {
					if c != "" && j+1 < len(t.header) && t.header[j+1] != "" {
						cells = append(cells, strings.ToLower(t.header[j+1])+" "+c)
					}
				}
				p.line(indent, "%s: %s", row[0], strings.Join(cells, ", "))
			}
			for _, x := range t.extra[i] {
				p.line(indent+4, "%s", x)
			}
		}
		return
	}
	for i, row := range all {
		var b strings.Builder
		for j, c := range row {
			if j > 0 {
				b.WriteString("  ")
			}
			pad := strings.Repeat(" ", widths[j]-len(c))
			if j < len(t.right) && t.right[j] {
				b.WriteString(pad + c)
			} else {
				b.WriteString(c + pad)
			}
		}
		p.line(indent, "%s", b.String())
		if t.header != nil {
			i--
		}
		if i >= 0 {
			for _, x := range t.extra[i] {
				p.line(indent+4, "%s", x)
			}
		}
	}
}

// text returns s with every character outside printable ASCII written as a
// Go escape, so the report stays plain ASCII and one item per line.
func text(s string) string { return escaped(s, isPrintableASCII, strconv.QuoteToASCII) }

// pathText returns p as is when it is printable ASCII and does not start
// with a double quote, and Go-quoted otherwise, so that any path can be
// recovered exactly from the report.
func pathText(p string) string { return quotedPath(p, isPrintableASCII, strconv.QuoteToASCII) }

// escaped returns s unchanged when printable accepts it, else with the
// characters quote escapes written as Go escapes, except '"' and '\',
// which are printable and stay as they are.
func escaped(s string, printable func(string) bool, quote func(string) string) string {
	if printable(s) {
		return s
	}
	q := quote(s)
	q = q[1 : len(q)-1]
	var b strings.Builder
	for i := 0; i < len(q); i++ {
		if q[i] == '\\' && i+1 < len(q) && (q[i+1] == '"' || q[i+1] == '\\') {
			i++
		}
		b.WriteByte(q[i])
	}
	return b.String()
}

// quotedPath returns p as is when printable accepts it and it does not
// start with a double quote, and quoted by quote otherwise.
func quotedPath(p string, printable func(string) bool, quote func(string) string) string {
	if printable(p) && !strings.HasPrefix(p, `"`) {
		return p
	}
	return quote(p)
}

func isPrintableASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] > 0x7e {
			return false
		}
	}
	return true
}

// commandLine joins args, quoting them as a POSIX shell would need, so
// that a line of the report can be pasted into a shell: an argument with
// characters outside printable ASCII (a newline in a file name) is written
// in the shell's $'...' form, which bash, zsh, ksh and POSIX.1-2024 sh read
// back byte for byte, and which keeps the report one item per line.
func commandLine(args []string) string {
	quoted := make([]string, len(args))
	for i, a := range args {
		switch {
		case !isPrintableASCII(a):
			quoted[i] = dollarQuote(a)
		case a != "" && strings.Trim(a, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_@%+=:,./-") == "":
			quoted[i] = a
		default:
			quoted[i] = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
		}
	}
	return strings.Join(quoted, " ")
}

// dollarQuote writes s as $'...': printable ASCII as itself but for ' and
// \ (escaped), newline and tab as \n and \t, every other byte as \xHH.
func dollarQuote(s string) string {
	var b strings.Builder
	b.WriteString("$'")
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '\'' || c == '\\':
			b.WriteByte('\\')
			b.WriteByte(c)
		case c == '\n':
			b.WriteString(`\n`)
		case c == '\t':
			b.WriteString(`\t`)
		case c >= 0x20 && c <= 0x7e:
			b.WriteByte(c)
		default:
			fmt.Fprintf(&b, `\x%02x`, c)
		}
	}
	b.WriteByte('\'')
	return b.String()
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// sizeText is "8388608 bytes (8.0 MiB)", or "512 bytes" below 1 KiB.
func sizeText(n int64) string {
	s := count(n, "byte", "bytes")
	if h := human(n); h != "" {
		s += " (" + h + ")"
	}
	return s
}

// human returns n in binary units with one decimal ("8.0 MiB"), or "" when
// n is below 1 KiB.
func human(n int64) string {
	if n < 1024 {
		return ""
	}
	units := []string{"KiB", "MiB", "GiB", "TiB", "PiB", "EiB"}
	v := float64(n) / 1024
	i := 0
	for i < len(units)-1 && v >= 1024 {
		v /= 1024
		i++
	}
	s := strconv.FormatFloat(v, 'f', 1, 64)
	if s == "1024.0" && i < len(units)-1 { // 1048575 bytes is 1.0 MiB, not 1024.0 KiB
		s, i = "1.0", i+1
	}
	return s + " " + units[i]
}

func count(n int64, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return strconv.FormatInt(n, 10) + " " + many
}

func hex(n int64) string {
	if n < 0 {
		return "-0x" + strconv.FormatUint(uint64(-n), 16)
	}
	return "0x" + strconv.FormatInt(n, 16)
}

func paren(s string) string {
	if s == "" {
		return ""
	}
	return "(" + s + ")"
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// hiveText describes a --hive input: its path, size and hashes.
func hiveText(h Input, path func(string) string) string {
	s := fmt.Sprintf("%s (%s", path(h.Path), count(h.Size, "byte", "bytes"))
	for _, alg := range sortedKeys(h.Hashes) {
		s += fmt.Sprintf(", %s %s", text(alg), text(h.Hashes[alg]))
	}
	return s + ")"
}

// textsOf quotes each line for the terminal.
func textsOf(ss []string) []string {
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = text(s)
	}
	return out
}
