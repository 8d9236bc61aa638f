package report

import (
	"fmt"
	"html/template"
	"slices"
	"strconv"
	"strings"
)

// The sector map: one row per member across the data area (or a zoomed
// part of it), each differing range drawn where it lies, plus rows for
// other marks (write-intent bitmap dirty chunks). It is inline SVG without
// scripts; every mark has a <title>, which browsers show on hover.
//
// Marks are generic: a mark kind is one entry in markKinds and a mark is
// one MapMark, so a new kind of mark (unreadable or lost ranges) is one
// line here and one line in mapMarks.

// markKind is how one kind of mark is drawn and explained in the legend.
type markKind struct {
	Fill   string // an exact sRGB colour; the browser test looks for it
	Legend string
}

// Mark kinds. The colours are distinct from each other and from the page.
var markKinds = map[string]markKind{
	"metadata":   {"#1f5fbf", "source by set metadata or --prefer"},
	"filesystem": {"#14803a", "source by filesystem evidence"},
	"majority":   {"#7a3fb0", "source by majority"},
	"none":       {"#d42020", "no source: nothing decides"},
	"replaced":   {"#9a9a9a", "this member's copy differs (replaced from the source)"},
	"dirty":      {"#e08a00", "write-intent bitmap: dirty chunk"},
	// For ranges a member could not read or lost (failing disks): drawn
	// on the member's row once the model carries them (see mapMarks).
	"unreadable": {"#5c3a1e", "unreadable on this member"},
	"lost":       {"#c2185b", "lost on this member"},
}

// markOrder is the legend's order.
var markOrder = []string{"metadata", "filesystem", "majority", "none", "replaced", "dirty", "unreadable", "lost"}

// Map geometry in SVG user units: the plot is mapUnits wide and stretched
// to the page's width; marks narrower than mapMinWidth are widened so
// they stay visible, and marks closer than mapMerge are drawn as one.
const (
	mapUnits    = 1000
	mapRowH     = 14
	mapMinWidth = 4
	mapMerge    = 1
	mapTrack    = "#eef1f5" // the row's background; the browser test finds the plot by it
)

// MapMark is one mark on a sector map row.
type MapMark struct {
	Row    int    // index of the row
	Kind   string // a key of markKinds
	Offset int64  // bytes from the start of the data area
	Length int64
	Title  string // shown on hover
}

// sectorMap is one map: rows over [Start, End) of the data area.
type sectorMap struct {
	Title      string
	Start, End int64
	Rows       []string
	Marks      []MapMark
}

// htmlMap is a sector map ready for the template.
type htmlMap struct {
	Title  string
	Rows   []htmlMapRow
	Axis   []htmlTick
	Legend []htmlLegend
	Note   string
}

type htmlMapRow struct {
	Label string
	SVG   template.HTML
}

type htmlTick struct {
	Label string
	Class string
}

type htmlLegend struct {
	Class, Text string
}

// mapStyle is the style sheet of the map's axis ticks and legend swatches
// (classes rather than style attributes: the page has none).
func mapStyle() string {
	var b strings.Builder
	for i := 0; i <= 4; i++ {
		fmt.Fprintf(&b, ".axis span.t%d { left: %d%%; }\n", i*25, i*25)
	}
	for _, k := range markOrder {
		fmt.Fprintf(&b, ".legend .k-%s { background: %s; }\n", k, markKinds[k].Fill)
	}
	return b.String()
}

// decisionKind is the mark kind of a range's decision.
func decisionKind(r Range, authBasis string) string {
	switch r.SourceBasis {
	case "set-authority":
		if authBasis == BasisFilesystem {
			return "filesystem"
		}
		return "metadata"
	case "structure", "lsn", "filesystem":
		return "filesystem"
	case "majority":
		return "majority"
	case "", "none":
		if r.Source == nil {
			return "none"
		}
		return "metadata"
	}
	if r.Source == nil {
		return "none"
	}
	return "filesystem"
}

// mapMarks turns a set's ranges and bitmap into marks: per member row, the
// decision's colour on the source member's row and "replaced" on the rows
// of members whose copy differs from the source's ("none" on every row when
// nothing decides); the bitmap's dirty chunks on a row of their own.
func mapMarks(s *Set, rs []Range, names func(string) string) ([]string, []MapMark) {
	var rows []string
	index := map[string]int{}
	for i, m := range s.Members {
		rows = append(rows, names(m.Path))
		index[m.Path] = i
	}
	var marks []MapMark
	for _, r := range rs {
		kind := decisionKind(r, s.Authority.Basis)
		title := rangeTitle(r, names)
		srcGroup := -1
		if r.Source != nil {
			for gi, g := range r.Agree {
				if slices.Contains(g, *r.Source) {
					srcGroup = gi
				}
			}
		}
		for gi, g := range r.Agree {
			for _, m := range g {
				row, ok := index[m]
				if !ok {
					continue
				}
				k := kind
				switch {
				case kind == "none":
				case gi == srcGroup:
				default:
					k = "replaced"
				}
				marks = append(marks, MapMark{Row: row, Kind: k, Offset: r.VolumeOffset, Length: r.Length, Title: title})
			}
		}
	}
	// Extents of the model drawn as marks of their own kind: what each
	// member could not read, on its row, then the lost ranges (no good
	// copy) on the rows of the members that could not read them.
	for i, m := range s.Members {
		var ex []Extent
		for _, u := range m.Unreadable.List {
			if u.VolumeOffset != nil {
				ex = append(ex, Extent{Offset: *u.VolumeOffset, Length: u.Length})
			}
		}
		marks = append(marks, extentMarks(i, "unreadable", ex, "unreadable on "+names(m.Path))...)
	}
	for _, l := range s.Lost {
		for _, m := range l.Unreadable {
			if row, ok := index[m]; ok {
				marks = append(marks, extentMarks(row, "lost", []Extent{{Offset: l.VolumeOffset, Length: l.Length}}, "lost (no good copy)")...)
			}
		}
	}
	if b := s.Bitmap; b != nil && len(b.DirtyExtents) > 0 {
		rows = append(rows, "bitmap of "+names(b.Member))
		marks = append(marks, extentMarks(len(rows)-1, "dirty", b.DirtyExtents, "dirty chunks")...)
	}
	return rows, marks
}

// extentMarks draws extents on row as marks of kind, titled with what
// they are, their offset and length.
func extentMarks(row int, kind string, es []Extent, what string) []MapMark {
	out := make([]MapMark, 0, len(es))
	for _, e := range es {
		out = append(out, MapMark{Row: row, Kind: kind, Offset: e.Offset, Length: e.Length,
			Title: htmlText(fmt.Sprintf("%s at %s (%d), %s", what, hex(e.Offset), e.Offset, sizeText(e.Length)))})
	}
	return out
}

// rangeTitle is a range's hover text: offset, length, owners, source.
func rangeTitle(r Range, names func(string) string) string {
	t := fmt.Sprintf("offset %s (%d), %s", hex(r.VolumeOffset), r.VolumeOffset, sizeText(r.Length))
	var owners []string
	if len(r.Owners) > 0 {
		for _, o := range r.Owners {
			owners = append(owners, names(o.Member)+": "+ownerWords(o.Owner))
		}
	} else if r.Owner != nil {
		owners = append(owners, ownerWords(*r.Owner))
	}
	if len(owners) > 0 {
		t += "; owner " + strings.Join(owners, "; ")
	}
	if r.Source != nil {
		t += "; source " + names(*r.Source)
	} else {
		t += "; no source"
	}
	if r.SourceBasis != "" {
		t += " (" + r.SourceBasis + ")"
	}
	return htmlText(t)
}

func ownerWords(o Owner) string {
	s := o.Structure
	if o.Path != "" {
		s += " " + htmlPath(o.Path)
	}
	if o.FS != "" {
		s = o.FS + " " + s
	}
	return strings.TrimSpace(s)
}

// render lays the map out: per row, marks clipped to [Start, End), scaled
// to mapUnits, widened to mapMinWidth and merged when closer than
// mapMerge, so a row holds at most about mapUnits rectangles however many
// ranges there are.
func (m *sectorMap) render() htmlMap {
	out := htmlMap{Title: m.Title}
	span := m.End - m.Start
	if span <= 0 {
		span = 1
	}
	x := func(off int64) float64 {
		return float64(off-m.Start) / float64(span) * mapUnits
	}
	used := map[string]bool{}
	for ri, label := range m.Rows {
		type rect struct {
			x0, x1 float64
			kind   string
			n      int
			first  string
			start  int64
			end    int64
		}
		var rects []rect
		var ms []MapMark
		for _, mk := range m.Marks {
			if mk.Row == ri && mk.Offset < m.End && mk.Offset+mk.Length > m.Start {
				ms = append(ms, mk)
			}
		}
		slices.SortStableFunc(ms, func(a, b MapMark) int {
			if c := strings.Compare(a.Kind, b.Kind); c != 0 {
				return c
			}
			switch {
			case a.Offset < b.Offset:
				return -1
			case a.Offset > b.Offset:
				return 1
			}
			return 0
		})
		for _, mk := range ms {
			start, end := max(mk.Offset, m.Start), min(mk.Offset+mk.Length, m.End)
			x0, x1 := x(start), x(end)
			if x1-x0 < mapMinWidth {
				c := (x0 + x1) / 2
				x0, x1 = c-mapMinWidth/2.0, c+mapMinWidth/2.0
				if x0 < 0 {
					x0, x1 = 0, mapMinWidth
				}
				if x1 > mapUnits {
					x0, x1 = mapUnits-mapMinWidth, mapUnits
				}
			}
			if n := len(rects); n > 0 && rects[n-1].kind == mk.Kind && x0-rects[n-1].x1 < mapMerge {
				r := &rects[n-1]
				r.x1 = max(r.x1, x1)
				r.n++
				r.end = max(r.end, end)
				continue
			}
			rects = append(rects, rect{x0: x0, x1: x1, kind: mk.Kind, n: 1, first: mk.Title, start: start, end: end})
		}
		var b strings.Builder
		fmt.Fprintf(&b, `<svg class="maprow" viewBox="0 0 %d %d" preserveAspectRatio="none" shape-rendering="crispEdges" width="100%%" height="%d" role="img" aria-label="%s">`,
			mapUnits, mapRowH, mapRowH, template.HTMLEscapeString(label))
		fmt.Fprintf(&b, `<rect x="0" y="0" width="%d" height="%d" fill="%s" />`, mapUnits, mapRowH, mapTrack)
		for _, r := range rects {
			k := markKinds[r.kind]
			used[r.kind] = true
			title := r.first
			if r.n > 1 {
				title = fmt.Sprintf("%d marks merged, %s to %s (%d to %d): %s", r.n, hex(r.start), hex(r.end), r.start, r.end, k.Legend)
			}
			fmt.Fprintf(&b, `<rect x="%s" y="0" width="%s" height="%d" fill="%s"><title>%s</title></rect>`,
				num(r.x0), num(r.x1-r.x0), mapRowH, k.Fill, template.HTMLEscapeString(title))
		}
		b.WriteString(`</svg>`)
		out.Rows = append(out.Rows, htmlMapRow{Label: label, SVG: template.HTML(b.String())})
	}
	for i := 0; i <= 4; i++ {
		off := m.Start + span*int64(i)/4
		lab := human(off)
		if lab == "" {
			lab = strconv.FormatInt(off, 10) + " B"
		}
		t := htmlTick{Label: lab, Class: "t" + strconv.Itoa(i*25)}
		switch i {
		case 0:
			t.Class += " first"
		case 4:
			t.Class += " last"
		}
		out.Axis = append(out.Axis, t)
	}
	for _, k := range markOrder {
		if used[k] {
			out.Legend = append(out.Legend, htmlLegend{Class: "k-" + k, Text: markKinds[k].Legend})
		}
	}
	return out
}

func num(f float64) string { return strconv.FormatFloat(f, 'f', 2, 64) }

// mapZoomOver is the data-area size above which a map per region group is
// drawn besides the whole-volume map.
const mapZoomOver = 64 << 20

// maxZoomMaps bounds the zoomed maps per set.
const maxZoomMaps = 6

// setMaps returns a set's sector maps: the whole data area, then, for a
// large volume, one zoomed map per region group ("$MFT", "FAT copies",
// "file data", ...) whose ranges span less than an eighth of it.
func setMaps(s *Set, names func(string) string) []htmlMap {
	rs := s.Divergence.Ranges
	size := s.DataSize
	for _, r := range rs {
		size = max(size, r.VolumeOffset+r.Length)
	}
	unread := len(s.Lost) > 0
	for _, m := range s.Members {
		unread = unread || len(m.Unreadable.List) > 0
	}
	if size <= 0 || (len(rs) == 0 && !unread && (s.Bitmap == nil || len(s.Bitmap.DirtyExtents) == 0)) {
		return nil
	}
	rows, marks := mapMarks(s, rs, names)
	whole := sectorMap{Title: "Whole data area (" + sizeText(size) + ")", Start: 0, End: size, Rows: rows, Marks: marks}
	maps := []htmlMap{whole.render()}
	if s.Divergence.Truncated {
		maps[0].Note = fmt.Sprintf("The map shows the %d ranges the report holds of the %d found.", len(rs), s.Divergence.RangesTotal)
	}
	if size <= mapZoomOver {
		return maps
	}
	type group struct {
		name       string
		start, end int64
		ranges     []Range
	}
	var groups []*group
	byName := map[string]*group{}
	for _, r := range rs {
		name := regionGroup(r)
		g := byName[name]
		if g == nil {
			g = &group{name: name, start: r.VolumeOffset, end: r.VolumeOffset + r.Length}
			byName[name] = g
			groups = append(groups, g)
		}
		g.start = min(g.start, r.VolumeOffset)
		g.end = max(g.end, r.VolumeOffset+r.Length)
		g.ranges = append(g.ranges, r)
	}
	for _, g := range groups {
		if len(maps) > maxZoomMaps || g.end-g.start >= size/8 {
			continue
		}
		pad := max((g.end-g.start)/20, 4096)
		start, end := max(g.start-pad, 0), min(g.end+pad, size)
		rows, marks := mapMarks(s, g.ranges, names)
		z := sectorMap{Title: fmt.Sprintf("Zoom: %s, %s to %s", g.name, hex(start), hex(end)), Start: start, End: end, Rows: rows, Marks: marks}
		maps = append(maps, z.render())
	}
	return maps
}

// regionGroup names the filesystem region a range lies in, for the zoomed
// maps.
func regionGroup(r Range) string {
	o := r.Owner
	if o == nil {
		return "outside any filesystem read"
	}
	st := o.Structure
	switch {
	case strings.HasPrefix(st, "$MFT"):
		return "$MFT"
	case strings.HasPrefix(st, "FAT "), st == "FAT":
		return "FAT copies"
	case o.Path != "":
		return "file data"
	}
	return htmlText(StructureGroup(st))
}

// MarkColor is the fill of a kind of sector-map mark ("metadata",
// "filesystem", "majority", "none", "replaced", "dirty"), "" for an unknown
// kind; MapTrackColor is a map row's background. Tests that look at a
// rendered page use them.
func MarkColor(kind string) string { return markKinds[kind].Fill }

// MapTrackColor is the background of a sector-map row.
const MapTrackColor = mapTrack
