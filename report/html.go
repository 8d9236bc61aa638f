package report

import (
	"bytes"
	"errors"
	"fmt"
	"html/template"
	"io"
	"strconv"
	"strings"
	"unicode/utf8"
)

// WriteHTML writes r as a single self-contained HTML page for people: inline
// CSS, no JavaScript, no external resources, laid out for the screen and
// for print. It shows what WriteText shows, in the same order, with a summary
// table of the sets linking to each set's section.
//
// The layout is not part of the schema contract and may change; scripts
// should read the JSON. The output depends only on r, so equal reports give
// identical bytes. Every string from r is treated as untrusted: it is
// HTML-escaped by html/template, and characters that are not printable
// (control characters, bytes that are not UTF-8, Unicode format characters
// such as bidirectional overrides) are written as Go escapes (\n, \xff,
// \u202e) so that they can neither hide nor reorder text. A path holding such
// characters, or starting with a double quote, is written Go-quoted, so that
// any path can be recovered exactly from the page. The page is also
// well-formed XML. Within a set, members are named by the last element of
// their path when those are unique in the set, and by the full path otherwise
// (the full path is the label's tooltip); the member table always shows full
// paths.
func WriteHTML(w io.Writer, r *Report) error {
	if r == nil {
		return errors.New("report: nil report")
	}
	var buf bytes.Buffer
	if err := htmlTemplate.Execute(&buf, htmlReport(r)); err != nil {
		return fmt.Errorf("report: %w", err)
	}
	_, err := w.Write(buf.Bytes())
	return err
}

// htmlText returns s with every character that is not printable (by
// strconv.IsPrint, plus the ASCII space) written as a Go escape. Printable
// non-ASCII characters are kept.
func htmlText(s string) string { return escaped(s, isPrintable, strconv.Quote) }

// htmlPath returns p as is when it is printable and does not start with a
// double quote, and Go-quoted otherwise.
func htmlPath(p string) string { return quotedPath(p, isPrintable, strconv.Quote) }

func isPrintable(s string) bool {
	for i, c := range s {
		if c == utf8.RuneError {
			if _, size := utf8.DecodeRuneInString(s[i:]); size == 1 {
				return false // a byte that is not UTF-8
			}
		}
		if c != ' ' && !strconv.IsPrint(c) {
			return false
		}
	}
	return true
}

// htmlCommand joins args as commandLine does, quoting them as a POSIX shell
// would need, but keeping printable non-ASCII characters.
func htmlCommand(args []string) string {
	quoted := make([]string, len(args))
	for i, a := range args {
		switch {
		case !isPrintable(a):
			quoted[i] = strconv.Quote(a)
		case a != "" && strings.Trim(a, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_@%+=:,./-") == "":
			quoted[i] = a
		default:
			quoted[i] = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
		}
	}
	return strings.Join(quoted, " ")
}

// htmlRef is a member named by its label, with its full path as tooltip.
type htmlRef struct {
	Label, Full string
}

type htmlLabels map[string]string

func htmlMemberLabels(ms []Member) htmlLabels {
	lab := htmlLabels{}
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
			lab[m.Path] = htmlPath(baseName(m.Path))
		} else {
			lab[m.Path] = htmlPath(m.Path)
		}
	}
	return lab
}

func (lab htmlLabels) ref(path string) htmlRef {
	full := orDash(htmlPath(path))
	if l, ok := lab[path]; ok {
		return htmlRef{Label: orDash(l), Full: full}
	}
	return htmlRef{Label: full, Full: full}
}

type htmlKV struct{ Key, Value string }

type htmlPage struct {
	Title      string
	Verdict    string
	Next       string
	Header     []htmlKV
	Summary    string
	Sets       []*htmlSet
	Problems   []htmlProblem
	TopErrors  int
	TopWarns   int
	TopInfos   int
	TopOthers  int
	TopProblem bool
}

type htmlSet struct {
	Anchor       string
	Names        string // the set's member files (and ID), for people
	Bottom       Bottom
	Maps         []htmlMap
	N, Total     int
	ID           string
	Name         string
	Metadata     string
	Verdict      string
	VerdictClass string
	Identity     []htmlKV
	MemberCount  int
	DiffSummary  string
	Errors       int
	Warnings     int
	Infos        int
	Others       int
	Members      []htmlMember
	AuthMember   *htmlRef
	AuthBasis    string
	AuthReasons  []string
	NoDiff       bool
	DiffHeading  string
	Ranges       htmlRanges
	Files        []htmlFile
	FilesMore    string
	Salvage      []string // unreadable, recovered and lost, in words
	LostFiles    []string // files and structures with lost data
	Bitmap       *htmlBitmap
	Problems     []htmlProblem
	Repair       *htmlRepair
}

type htmlMember struct {
	Ref            htmlRef
	Path           string
	Role           string
	State          string
	Generation     string
	DataOffset     string
	Size           string
	SizeHuman      string
	Authoritative  bool
	Hashes         []htmlKV
	Detail         []htmlKV
	Evidence       []string
	Filesystems    []htmlFilesystem
	PartitionTable string
}

type htmlFilesystem struct {
	Type      string
	Size      string
	Offset    string
	Partition string
	Evidence  []string
}

type htmlRanges struct {
	Rows []htmlRange
	More string
}

type htmlRange struct {
	OffsetHex    string
	OffsetDec    string
	Length       string
	LengthHuman  string
	Agree        [][]htmlRef
	Source       *htmlRef
	SourceBasis  string
	SourceReason string
	Owner        *htmlOwner
	Owners       []htmlMemberOwner
}

type htmlOwner struct {
	FS, Structure, Path, Record, Cluster string
}

type htmlMemberOwner struct {
	Member htmlRef
	Owner  htmlOwner
}

type htmlFile struct {
	Path       string
	FS         string
	Bytes      string
	Structures []string
}

type htmlBitmap struct {
	Member    htmlRef
	Fields    []htmlKV
	CoversAll string
	Uncovered []htmlKV // hex, decimal
}

type htmlProblem struct {
	Severity  string
	SevClass  string
	Code      string
	Member    *htmlRef
	OffsetHex string
	OffsetDec string
	Message   string
}

type htmlRepair struct {
	Status  string
	DryRun  bool
	Reason  string
	Source  *htmlRef
	Outputs []htmlOutput
}

type htmlOutput struct {
	Member          htmlRef
	Fields          []htmlKV
	Hashes          []htmlKV
	RangesLabel     string
	RangesTotal     int64
	Ranges          htmlRanges
	MetadataChanges []string
	FSFindings      []string
}

func htmlReport(r *Report) *htmlPage {
	pg := &htmlPage{
		Title: "mirrorchk report",
		Header: []htmlKV{
			{"Tool", orDash(strings.TrimSpace(htmlText(r.Tool.Name) + " " + htmlText(r.Tool.Version)))},
			{"Schema", orDash(htmlText(r.Schema))},
			{"Generated", orDash(htmlText(r.Generated))},
			{"Command", orDash(htmlCommand(r.Command))},
			{"Sector size", sizeText(int64(r.SectorSize))},
			{"Sets", strconv.Itoa(len(r.Sets))},
		},
		Summary: strings.TrimPrefix(summary(r), "Summary: "),
	}
	for i, h := range r.Hives {
		pg.Header = append(pg.Header, htmlKV{fmt.Sprintf("Hive %d", i+1), hiveText(h, htmlPath)})
	}
	pg.Header = append(pg.Header, provenanceKVs(r)...) // provenance.go
	if r.Generated != "" {
		pg.Title += " " + htmlText(r.Generated)
	}
	for i := range r.Sets {
		pg.Sets = append(pg.Sets, htmlSetView(r, &r.Sets[i], i+1, len(r.Sets)))
	}
	b := RunBottom(r)
	pg.Verdict, pg.Next = htmlText(b.Verdict), htmlText(b.Next)
	noLabels := htmlMemberLabels(nil)
	for _, p := range r.Problems {
		pg.Problems = append(pg.Problems, htmlProblemView(p, noLabels))
	}
	pg.TopErrors, pg.TopWarns, pg.TopInfos, pg.TopOthers = severityCounts(r.Problems)
	pg.TopProblem = len(r.Problems) > 0
	return pg
}

func severityCounts(ps []Problem) (errs, warns, infos, others int) {
	for _, p := range ps {
		switch p.Severity {
		case SeverityError:
			errs++
		case SeverityWarning:
			warns++
		case SeverityInfo:
			infos++
		default:
			others++
		}
	}
	return
}

func verdictClass(v string) string {
	switch v {
	case VerdictConsistent, VerdictDiverged, VerdictSplitBrain, VerdictDegraded, VerdictUnknown:
		return "v-" + v
	}
	return "v-other"
}

func severityClass(s string) string {
	switch s {
	case SeverityError, SeverityWarning, SeverityInfo:
		return "sev-" + s
	}
	return "sev-other"
}

func htmlSetView(r *Report, s *Set, n, total int) *htmlSet {
	lab := htmlMemberLabels(s.Members)
	name := func(p string) string { return lab.ref(p).Label }
	level := htmlText(s.Level)
	if level == "" {
		level = "unknown"
	}
	disks := "unknown"
	if s.RaidDisks != 0 {
		disks = strconv.Itoa(s.RaidDisks)
	}
	v := &htmlSet{
		Anchor:       "set-" + strconv.Itoa(n),
		N:            n,
		Total:        total,
		ID:           orDash(htmlText(s.ID)),
		Name:         orDash(htmlText(s.Name)),
		Metadata:     orDash(htmlText(s.Metadata)),
		Verdict:      orDash(htmlText(s.Verdict)),
		VerdictClass: verdictClass(s.Verdict),
		MemberCount:  len(s.Members),
		Names:        setNames(s, name, htmlText),
		Bottom:       setBottom(r, s, name, htmlCommand),
		Maps:         setMaps(s, name),
	}
	v.Bottom.Verdict, v.Bottom.Next = htmlText(v.Bottom.Verdict), htmlText(v.Bottom.Next)
	v.Identity = []htmlKV{
		{"ID", v.ID},
		{"Name", v.Name},
		{"Metadata", v.Metadata},
		{"Level", level},
		{"Verdict", ""}, // the badge
		{"RAID disks", disks},
		{"Data size", dataSizeText(s)},
	}
	v.Errors, v.Warnings, v.Infos, v.Others = severityCounts(s.Problems)

	for _, m := range s.Members {
		hm := htmlMember{
			Ref:            lab.ref(m.Path),
			Path:           orDash(htmlPath(m.Path)),
			Role:           orDash(htmlText(m.Role)),
			State:          orDash(htmlText(m.State)),
			Generation:     "-",
			DataOffset:     hex(m.DataOffset),
			Size:           strconv.FormatInt(m.Size, 10),
			SizeHuman:      human(m.Size),
			Authoritative:  m.Authoritative,
			Evidence:       htmlTexts(m.Evidence),
			PartitionTable: htmlText(m.PartitionTable),
		}
		if m.Generation != nil {
			hm.Generation = strconv.FormatUint(*m.Generation, 10)
		}
		for _, alg := range sortedKeys(m.Hashes) {
			hm.Hashes = append(hm.Hashes, htmlKV{htmlText(alg), htmlText(m.Hashes[alg])})
		}
		hm.Detail = append(hm.Detail, htmlKV{"Path", hm.Path})
		for i, seg := range m.Segments {
			hm.Detail = append(hm.Detail, htmlKV{fmt.Sprintf("Segment %d", i+1), htmlPath(seg)})
		}
		if c := m.Container; c != nil {
			hm.Detail = append(hm.Detail, htmlKV{"Container", htmlText(containerLine(c))})
			if c.Format != "split raw" {
				hm.Detail = append(hm.Detail, htmlKV{"Stored hashes", htmlText(verificationLine(c))})
			}
			if a := acquisitionLine(c); a != "" {
				hm.Detail = append(hm.Detail, htmlKV{"Acquisition", htmlText(a)})
			}
			for i, f := range c.Files {
				v := htmlPath(f.Path) + " (" + sizeText(f.Size) + ")"
				for _, alg := range sortedKeys(f.Hashes) {
					v += " " + htmlText(alg) + " " + htmlText(f.Hashes[alg])
				}
				hm.Detail = append(hm.Detail, htmlKV{fmt.Sprintf("File %d", i+1), v})
			}
		}
		hm.Detail = append(hm.Detail, htmlKV{"Data area", fmt.Sprintf("%s at offset %s", sizeText(m.DataSize), hex(m.DataOffset))})
		if m.PartitionTable != "" {
			hm.Detail = append(hm.Detail, htmlKV{"Partition table", hm.PartitionTable})
		}
		for _, f := range m.Filesystems {
			hf := htmlFilesystem{
				Type:      orDash(htmlText(f.Type)),
				Size:      sizeText(f.Size),
				Offset:    hex(f.Offset),
				Partition: "none (at the start of the data area)",
				Evidence:  htmlTexts(f.Evidence),
			}
			if p := f.Partition; p != nil {
				hf.Partition = fmt.Sprintf("%d (type %s, %s), %s at %s", p.Index, orDash(htmlText(p.Type)),
					orDash(htmlText(p.TypeName)), sizeText(p.Size), hex(p.Start))
			}
			hm.Filesystems = append(hm.Filesystems, hf)
		}
		v.Members = append(v.Members, hm)
	}

	a := s.Authority
	if a.Member != nil {
		ref := lab.ref(*a.Member)
		ref.Label = ref.Full // the text report names the authority by its full path
		v.AuthMember = &ref
	}
	v.AuthBasis = htmlText(a.Basis)
	if v.AuthBasis == "" {
		v.AuthBasis = BasisNone
	}
	v.AuthReasons = htmlTexts(a.Reasons)

	d := s.Divergence
	v.NoDiff = d.RangesTotal == 0 && d.Bytes == 0 && len(d.Ranges) == 0
	v.DiffSummary = "no differences"
	if w := notCompared(s); w != "" {
		v.DiffSummary = w
	}
	if !v.NoDiff {
		v.DiffSummary = sizeText(d.Bytes) + " in " + count(d.RangesTotal, "range", "ranges")
		v.DiffHeading = fmt.Sprintf("%s, %s differ", count(d.RangesTotal, "range", "ranges"), sizeText(d.Bytes))
		v.Ranges = htmlRangesView(d.Ranges, d.RangesTotal, lab)
	}

	for _, f := range s.Files {
		hf := htmlFile{Path: "-", FS: orDash(htmlText(f.FS)), Bytes: count(f.Bytes, "byte", "bytes"), Structures: htmlTexts(f.Structures)}
		if f.Path != "" {
			hf.Path = htmlPath(f.Path)
		}
		v.Files = append(v.Files, hf)
	}
	if s.FilesUnlisted > 0 {
		v.FilesMore = "... and " + count(s.FilesUnlisted, "byte", "bytes") + " in files not listed"
	}
	v.Salvage = htmlTexts(salvageLines(s, memberLabels(s.Members).of))
	v.LostFiles = htmlTexts(lostFiles(s))

	if b := s.Bitmap; b != nil {
		hb := &htmlBitmap{
			Member: lab.ref(b.Member),
			Fields: []htmlKV{
				{"Chunk size", sizeText(b.ChunkSize)},
				{"Chunks", strconv.FormatInt(b.Chunks, 10)},
				{"Dirty chunks", strconv.FormatInt(b.DirtyChunks, 10)},
				{"Events", strconv.FormatUint(b.Events, 10)},
				{"Events cleared", strconv.FormatUint(b.EventsCleared, 10)},
			},
		}
		switch {
		case b.CoversAll == nil:
			hb.CoversAll = "not applicable"
		case *b.CoversAll:
			hb.CoversAll = "yes"
		default:
			hb.CoversAll = "NO"
		}
		for _, off := range b.Uncovered {
			hb.Uncovered = append(hb.Uncovered, htmlKV{hex(off), strconv.FormatInt(off, 10)})
		}
		v.Bitmap = hb
	}

	for _, p := range s.Problems {
		v.Problems = append(v.Problems, htmlProblemView(p, lab))
	}

	if rp := s.Repair; rp != nil {
		hr := &htmlRepair{Status: orDash(htmlText(rp.Status)), DryRun: rp.DryRun, Reason: orDash(htmlText(rp.Reason))}
		if rp.Source != nil {
			ref := lab.ref(*rp.Source)
			hr.Source = &ref
		}
		for _, o := range rp.Outputs {
			path := htmlPath(o.Path)
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
			ho := htmlOutput{
				Member: lab.ref(o.Member),
				Fields: []htmlKV{
					{"Path", path},
					{copied, sizeText(o.BytesCopied)},
					{"Verified", verified},
				},
				RangesLabel:     ranges,
				RangesTotal:     o.RangesTotal,
				Ranges:          htmlRangesView(o.Ranges, o.RangesTotal, lab),
				MetadataChanges: htmlTexts(o.MetadataChanges),
				FSFindings:      htmlTexts(o.FilesystemFindings),
			}
			for _, alg := range sortedKeys(o.Hashes) {
				ho.Hashes = append(ho.Hashes, htmlKV{htmlText(alg), htmlText(o.Hashes[alg])})
			}
			ho.Hashes = append(ho.Hashes, htmlKV{"data sha256", orDash(htmlText(o.DataSHA256))})
			hr.Outputs = append(hr.Outputs, ho)
		}
		v.Repair = hr
	}
	return v
}

func htmlTexts(ss []string) []string {
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = htmlText(s)
	}
	return out
}

func htmlRangesView(rs []Range, total int64, lab htmlLabels) htmlRanges {
	var v htmlRanges
	for _, r := range rs {
		hr := htmlRange{
			OffsetHex:    hex(r.VolumeOffset),
			OffsetDec:    strconv.FormatInt(r.VolumeOffset, 10),
			Length:       count(r.Length, "byte", "bytes"),
			LengthHuman:  human(r.Length),
			SourceBasis:  orDash(htmlText(r.SourceBasis)),
			SourceReason: htmlText(r.SourceReason),
		}
		for _, g := range r.Agree {
			refs := []htmlRef{}
			for _, m := range g {
				refs = append(refs, lab.ref(m))
			}
			hr.Agree = append(hr.Agree, refs)
		}
		if r.Source != nil {
			ref := lab.ref(*r.Source)
			hr.Source = &ref
		}
		if r.Owner != nil {
			o := htmlOwnerView(*r.Owner)
			hr.Owner = &o
		}
		for _, mo := range r.Owners {
			hr.Owners = append(hr.Owners, htmlMemberOwner{Member: lab.ref(mo.Member), Owner: htmlOwnerView(mo.Owner)})
		}
		v.Rows = append(v.Rows, hr)
	}
	if more := total - int64(len(rs)); more > 0 {
		v.More = "... and " + count(more, "more range", "more ranges") + " not listed (--max-ranges)"
	}
	return v
}

func htmlOwnerView(o Owner) htmlOwner {
	v := htmlOwner{FS: htmlText(o.FS), Structure: htmlText(o.Structure)}
	if o.Path != "" {
		v.Path = htmlPath(o.Path)
	}
	if o.Record != nil {
		v.Record = strconv.FormatInt(*o.Record, 10)
	}
	if o.Cluster != nil {
		v.Cluster = strconv.FormatInt(*o.Cluster, 10)
	}
	return v
}

func htmlProblemView(p Problem, lab htmlLabels) htmlProblem {
	v := htmlProblem{
		Severity: orDash(htmlText(p.Severity)),
		SevClass: severityClass(p.Severity),
		Code:     orDash(htmlText(p.Code)),
		Message:  htmlText(p.Message),
	}
	if p.Member != "" {
		ref := lab.ref(p.Member)
		v.Member = &ref
	}
	if p.Offset != nil {
		v.OffsetHex = hex(*p.Offset)
		v.OffsetDec = strconv.FormatInt(*p.Offset, 10)
	}
	return v
}

// htmlStyle is the page's only style sheet. It holds no '<' or '&', so the
// page stays well-formed XML.
const htmlStyle = `
:root { color-scheme: light; }
body { margin: 1.5em auto; max-width: 78em; padding: 0 1em; background: #fff; color: #111;
  font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif; }
h1 { font-size: 1.6em; margin: 0 0 .4em; }
h2 { font-size: 1.3em; margin: 1.6em 0 .5em; padding-bottom: .2em; border-bottom: 2px solid #333; }
h3 { font-size: 1.1em; margin: 1.3em 0 .4em; }
h4 { font-size: 1em; margin: 1em 0 .3em; }
.mono, code, .hash { font-family: ui-monospace, "SFMono-Regular", Menlo, Consolas, "Liberation Mono", monospace; font-size: .92em; }
.hash { word-break: break-all; }
.path { word-break: break-all; }
dl.kv { display: grid; grid-template-columns: max-content minmax(0, 1fr); gap: .15em 1em; margin: .4em 0; }
dl.kv dt { font-weight: 600; }
dl.kv dd { margin: 0; word-break: break-word; }
table { border-collapse: collapse; margin: .4em 0 .8em; width: 100%; }
th, td { border: 1px solid #bbb; padding: .25em .5em; text-align: left; vertical-align: top; }
th { background: #eee; }
td.num, th.num { text-align: right; white-space: nowrap; }
td ul, td ol { margin: 0; padding-left: 1.2em; }
.muted { color: #555; }
.none { color: #555; font-style: italic; }
.badge { display: inline-block; padding: 0 .5em; border: 1px solid; border-radius: .6em; font-weight: 600; white-space: nowrap; }
.v-consistent { background: #e3f4e3; color: #145214; border-color: #145214; }
.v-diverged { background: #fff1d6; color: #6b4100; border-color: #6b4100; }
.v-split-brain { background: #fde0e0; color: #8a1010; border-color: #8a1010; }
.v-degraded { background: #fde8d4; color: #7a3300; border-color: #7a3300; }
.v-unknown, .v-other { background: #ececec; color: #333; border-color: #333; }
.sev-error { background: #fde0e0; color: #8a1010; border-color: #8a1010; }
.sev-warning { background: #fff1d6; color: #6b4100; border-color: #6b4100; }
.sev-info, .sev-other { background: #e6eefc; color: #1d3c78; border-color: #1d3c78; }
.auth { font-weight: 700; }
.set { margin-top: 2em; }
.group { white-space: nowrap; }
footer { margin-top: 2em; border-top: 1px solid #bbb; padding-top: .5em; }
html { -webkit-text-size-adjust: 100%; text-size-adjust: 100%; }
body { overflow-wrap: anywhere; }
.tscroll { overflow-x: auto; max-width: 100%; }
td, th { overflow-wrap: break-word; }
td.path, td .path { word-break: normal; overflow-wrap: break-word; }
td.hashcell .hash, td .hash { word-break: normal; }
.bottom { border: 2px solid #333; border-radius: .4em; padding: .4em .8em; margin: .6em 0; background: #f7f7f7; }
.bottom p { margin: .25em 0; }
.bottom ul { margin: .25em 0; padding-left: 1.2em; }
.map { margin: .6em 0 1em; }
.map h4 { margin: .6em 0 .2em; }
.maplabel { font-size: .85em; margin-top: .35em; }
svg.maprow { display: block; width: 100%; }
.axis { position: relative; height: 1.5em; font-size: .8em; color: #444; border-top: 1px solid #666; margin-top: 3px; }
.axis span { position: absolute; top: .1em; transform: translateX(-50%); white-space: nowrap; }
.axis span.first { transform: none; }
.axis span.last { transform: translateX(-100%); }
.legend { list-style: none; padding: 0; margin: .3em 0; font-size: .85em; display: flex; flex-wrap: wrap; gap: .2em 1.2em; }
.legend .sw { display: inline-block; width: .9em; height: .9em; vertical-align: -.1em; margin-right: .35em; border: 1px solid #333; }
@media (max-width: 640px) {
  body { margin: .5em auto; padding: 0 .6em; }
  dl.kv { grid-template-columns: minmax(0, 1fr); }
  dl.kv dd { margin-left: 1em; }
  h2 .mono { display: block; }
}
@media print {
  body { max-width: none; margin: 0; padding: 0; font-size: 10pt; }
  a { color: inherit; text-decoration: none; }
  .set { break-before: page; }
  h2, h3, h4 { break-after: avoid; }
  tr, li, dl.kv { break-inside: avoid; }
  thead { display: table-header-group; }
  .badge, th { print-color-adjust: exact; -webkit-print-color-adjust: exact; }
}
`

var htmlTemplate = template.Must(template.New("report").Parse(`<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8" />
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'" />
<meta name="referrer" content="no-referrer" />
<meta name="viewport" content="width=device-width, initial-scale=1" />
<title>{{.Title}}</title>
<style>` + htmlStyle + mapStyle() + `</style>
</head>
<body>
<header>
<h1>mirrorchk report</h1>
<section id="verdict" class="bottom">
<p><strong>Verdict:</strong> {{.Verdict}}</p>
<p><strong>Next:</strong> <span class="mono">{{.Next}}</span></p>
{{- if gt (len .Sets) 1}}
<ul>
{{- range .Sets}}
<li><a href="#{{.Anchor}}">Set {{.N}}</a> ({{.Names}}): {{.Bottom.Verdict}}</li>
{{- end}}
</ul>
{{- end}}
</section>
<dl class="kv">
{{- range .Header}}
<dt>{{.Key}}</dt><dd{{if eq .Key "Command"}} class="mono"{{end}}>{{.Value}}</dd>
{{- end}}
</dl>
</header>
<section id="summary">
<h2>Summary</h2>
<p>{{.Summary}}</p>
{{- if .Sets}}
<div class="tscroll"><table>
<thead><tr><th>Set</th><th>Name</th><th>Metadata</th><th>Verdict</th><th class="num">Members</th><th>Differences</th><th class="num">Errors</th><th class="num">Warnings</th><th class="num">Info</th></tr></thead>
<tbody>
{{- range .Sets}}
<tr><td><a href="#{{.Anchor}}">{{.Names}}</a></td><td>{{.Name}}</td><td>{{.Metadata}}</td><td><span class="badge {{.VerdictClass}}">{{.Verdict}}</span></td><td class="num">{{.MemberCount}}</td><td>{{.DiffSummary}}</td><td class="num">{{.Errors}}</td><td class="num">{{.Warnings}}</td><td class="num">{{.Infos}}{{if .Others}} (+{{.Others}} other){{end}}</td></tr>
{{- end}}
{{- if .TopProblem}}
<tr><td colspan="6"><a href="#problems">Problems not tied to a set</a></td><td class="num">{{.TopErrors}}</td><td class="num">{{.TopWarns}}</td><td class="num">{{.TopInfos}}{{if .TopOthers}} (+{{.TopOthers}} other){{end}}</td></tr>
{{- end}}
</tbody>
</table></div>
{{- else}}
<p class="none">No sets.</p>
{{- end}}
</section>
{{- range .Sets}}
{{- template "set" .}}
{{- end}}
<section id="problems">
<h2>Problems not tied to a set</h2>
{{- template "problems" .Problems}}
</section>
<footer>
<p>Summary: {{.Summary}}</p>
</footer>
</body>
</html>{{define "ref"}}<span class="path" title="{{.Full}}">{{.Label}}</span>{{end}}
{{- define "list"}}{{if .}}<ul>{{range .}}<li>{{.}}</li>{{end}}</ul>{{else}}<p class="none">none</p>{{end}}{{end}}
{{- define "kv"}}<dl class="kv">
{{- range .}}
<dt>{{.Key}}</dt><dd>{{.Value}}</dd>
{{- end}}
</dl>{{end}}
{{- define "hashes"}}{{range .}}<div class="hash">{{.Key}}: {{.Value}}</div>{{else}}-{{end}}{{end}}
{{- define "owner"}}{{with .FS}}{{.}} {{end}}{{.Structure}}{{with .Path}} <span class="path mono">{{.}}</span>{{end}}{{if or .Record .Cluster}} <span class="muted">({{with .Record}}record {{.}}{{end}}{{if and .Record .Cluster}}, {{end}}{{with .Cluster}}cluster {{.}}{{end}})</span>{{end}}{{end}}
{{- define "ranges"}}
{{- if .Rows}}
<div class="tscroll"><table class="ranges">
<thead><tr><th class="num">Offset (hex)</th><th class="num">Offset</th><th class="num">Length</th><th>Agreement groups</th><th>Source</th><th>Source basis</th><th>Owner</th></tr></thead>
<tbody>
{{- range .Rows}}
<tr><td class="num mono">{{.OffsetHex}}</td><td class="num mono">{{.OffsetDec}}</td><td class="num">{{.Length}}{{with .LengthHuman}}<br /><span class="muted">{{.}}</span>{{end}}</td><td>{{range $i, $g := .Agree}}{{if $i}} vs {{end}}<span class="group">{{"{"}}{{range $j, $m := $g}}{{if $j}}, {{end}}{{template "ref" $m}}{{end}}{{"}"}}</span>{{else}}-{{end}}</td><td>{{with .Source}}{{template "ref" .}}{{else}}none{{end}}</td><td>{{.SourceBasis}}{{with .SourceReason}}<br /><span class="muted">{{.}}</span>{{end}}</td><td>{{if .Owners}}<ul>{{range .Owners}}<li>{{template "ref" .Member}}: {{template "owner" .Owner}}</li>{{end}}</ul>{{else if .Owner}}{{template "owner" .Owner}}{{else}}-{{end}}</td></tr>
{{- end}}
</tbody>
</table></div>
{{- end}}
{{- with .More}}
<p class="muted">{{.}}</p>
{{- end}}
{{- end}}
{{- define "problems"}}
{{- if .}}
<div class="tscroll"><table class="problems">
<thead><tr><th>Severity</th><th>Code</th><th>Member</th><th class="num">Offset</th><th>Message</th></tr></thead>
<tbody>
{{- range .}}
<tr><td><span class="badge {{.SevClass}}">{{.Severity}}</span></td><td class="mono">{{.Code}}</td><td>{{with .Member}}{{template "ref" .}}{{else}}-{{end}}</td><td class="num mono">{{with .OffsetHex}}{{.}}{{else}}-{{end}}{{with .OffsetDec}}<br /><span class="muted">({{.}})</span>{{end}}</td><td>{{.Message}}</td></tr>
{{- end}}
</tbody>
</table></div>
{{- else}}
<p class="none">none</p>
{{- end}}
{{- end}}
{{- define "set"}}
<section class="set" id="{{.Anchor}}">
<h2>Set {{.N}} of {{.Total}}: {{.Names}} <span class="badge {{.VerdictClass}}">{{.Verdict}}</span></h2>
<div class="bottom">
<p><strong>Verdict:</strong> {{.Bottom.Verdict}}</p>
<p><strong>Authority:</strong> {{with .AuthMember}}<span class="auth path mono">{{.Label}}</span>{{else}}none{{end}} <span class="muted">(basis: {{.AuthBasis}})</span></p>
<p><strong>Next:</strong> <span class="mono">{{.Bottom.Next}}</span></p>
</div>
{{- if .Maps}}
<h3>Sector map</h3>
{{- range .Maps}}
<div class="map">
<h4>{{.Title}}</h4>
{{- range .Rows}}
<div class="maplabel">{{.Label}}</div>
{{.SVG}}
{{- end}}
<div class="axis">{{range .Axis}}<span class="{{.Class}}">{{.Label}}</span>{{end}}</div>
<ul class="legend">{{range .Legend}}<li><span class="sw {{.Class}}"></span>{{.Text}}</li>{{end}}</ul>
{{- with .Note}}
<p class="muted">{{.}}</p>
{{- end}}
</div>
{{- end}}
{{- end}}
<dl class="kv">
{{- $set := .}}
{{- range .Identity}}
<dt>{{.Key}}</dt><dd>{{if eq .Key "Verdict"}}<span class="badge {{$set.VerdictClass}}">{{$set.Verdict}}</span>{{else if eq .Key "ID"}}<span class="mono">{{.Value}}</span>{{else}}{{.Value}}{{end}}</dd>
{{- end}}
</dl>
<h3>Members</h3>
{{- if .Members}}
<div class="tscroll"><table class="members">
<thead><tr><th>Path</th><th>Role</th><th>State</th><th class="num">Generation</th><th class="num">Data offset</th><th class="num">Size</th><th>Authoritative</th><th>Hashes</th></tr></thead>
<tbody>
{{- range .Members}}
<tr><td class="path mono">{{.Path}}</td><td>{{.Role}}</td><td>{{.State}}</td><td class="num">{{.Generation}}</td><td class="num mono">{{.DataOffset}}</td><td class="num">{{.Size}}{{with .SizeHuman}}<br /><span class="muted">{{.}}</span>{{end}}</td><td>{{if .Authoritative}}<span class="auth">* yes</span>{{else}}no{{end}}</td><td class="mono">{{template "hashes" .Hashes}}</td></tr>
{{- end}}
</tbody>
</table></div>
{{- else}}
<p class="none">none</p>
{{- end}}
<h3>Authority</h3>
<p>{{with .AuthMember}}<span class="auth path mono">{{.Full}}</span>{{else}}none{{end}} <span class="muted">(basis: {{.AuthBasis}})</span></p>
<h4>Reasons</h4>
{{template "list" .AuthReasons}}
{{- range .Members}}
<h3>Member {{template "ref" .Ref}}</h3>
{{template "kv" .Detail}}
<div class="mono">{{template "hashes" .Hashes}}</div>
<h4>Evidence</h4>
{{template "list" .Evidence}}
{{- range .Filesystems}}
<h4>Filesystem {{.Type}}, {{.Size}} at data offset <span class="mono">{{.Offset}}</span></h4>
<dl class="kv"><dt>Type</dt><dd>{{.Type}}</dd><dt>Offset</dt><dd class="mono">{{.Offset}}</dd><dt>Size</dt><dd>{{.Size}}</dd><dt>Partition</dt><dd>{{.Partition}}</dd></dl>
{{template "list" .Evidence}}
{{- end}}
{{- end}}
<h3>Divergence</h3>
{{- if .NoDiff}}
<p>{{.DiffSummary}}</p>
{{- else}}
<p>{{.DiffHeading}}</p>
{{- template "ranges" .Ranges}}
{{- end}}
{{- if .Files}}
<h3>Affected files and structures: {{len .Files}}</h3>
<div class="tscroll"><table class="files">
<thead><tr><th>Path</th><th>Filesystem</th><th class="num">Bytes</th><th>Structures</th></tr></thead>
<tbody>
{{- range .Files}}
<tr><td class="path mono">{{.Path}}</td><td>{{.FS}}</td><td class="num">{{.Bytes}}</td><td>{{range $i, $s := .Structures}}{{if $i}}, {{end}}{{$s}}{{else}}-{{end}}</td></tr>
{{- end}}
</tbody>
</table></div>
{{- with .FilesMore}}
<p class="muted">{{.}}</p>
{{- end}}
{{- end}}
{{- if .Salvage}}
<h3>Unreadable data</h3>
{{template "list" .Salvage}}
{{- if .LostFiles}}
<h4>Files with lost data: {{len .LostFiles}}</h4>
{{template "list" .LostFiles}}
{{- end}}
{{- end}}
{{- with .Bitmap}}
<h3>Bitmap of {{template "ref" .Member}}</h3>
{{template "kv" .Fields}}
<p>Covers all differing ranges: <strong>{{.CoversAll}}</strong></p>
{{- if .Uncovered}}
<h4>Differing ranges outside dirty chunks start at</h4>
<ul>{{range .Uncovered}}<li class="mono">{{.Key}} ({{.Value}})</li>{{end}}</ul>
{{- end}}
{{- end}}
<h3>Problems</h3>
{{- template "problems" .Problems}}
{{- with .Repair}}
<h3>Repair: {{.Status}}{{if .DryRun}} (dry run){{end}}</h3>
<dl class="kv"><dt>Reason</dt><dd>{{.Reason}}</dd><dt>Source</dt><dd>{{with .Source}}{{template "ref" .}}{{else}}none{{end}}</dd></dl>
{{- range .Outputs}}
<h4>Output for {{template "ref" .Member}}</h4>
{{template "kv" .Fields}}
<div class="mono">{{template "hashes" .Hashes}}</div>
<p>{{.RangesLabel}}: {{.RangesTotal}}</p>
{{- template "ranges" .Ranges}}
<p>Metadata changes:</p>
{{template "list" .MetadataChanges}}
{{- if .FSFindings}}
<p>Filesystem findings on the written image:</p>
{{template "list" .FSFindings}}
{{- end}}
{{- end}}
{{- end}}
</section>
{{- end}}
`))
