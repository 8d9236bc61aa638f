package report

import (
	"strings"
	"testing"
)

// TestMapMergesDenseRanges: 16,000 ranges draw at most about one
// rectangle per map unit per row, and every mark has a title.
func TestMapMergesDenseRanges(t *testing.T) {
	r := manyRanges(16000)
	s := &r.Sets[0]
	maps := setMaps(s, func(p string) string { return baseName(p) })
	if len(maps) == 0 {
		t.Fatal("no map")
	}
	for _, row := range maps[0].Rows {
		svg := string(row.SVG)
		n := strings.Count(svg, "<rect ")
		if n > mapUnits/mapMerge+1 {
			t.Errorf("row %s: %d rectangles for 16000 ranges", row.Label, n)
		}
		if strings.Count(svg, "<title>") != n-1 {
			t.Errorf("row %s: %d titles for %d marks", row.Label, strings.Count(svg, "<title>"), n-1)
		}
	}
	if !strings.Contains(string(maps[0].Rows[0].SVG), "marks merged") {
		t.Errorf("dense marks are not merged")
	}
}

// TestMapZoomGroups: on a large volume, ranges in $MFT and in the FAT
// copies get a zoomed map each; a range's colour follows its decision.
func TestMapZoomGroups(t *testing.T) {
	r := sourced(staleBitmap)()
	s := &r.Sets[0]
	m0, m1 := s.Members[0].Path, s.Members[1].Path
	s.DataSize = 8 << 30
	s.Bitmap = nil
	s.Divergence.Ranges = []Range{
		{VolumeOffset: 3 << 30, Length: 1024, Agree: [][]string{{m0}, {m1}}, Source: str(m1), SourceBasis: "structure",
			Owner: &Owner{FS: "ntfs", Structure: "$MFT record 40"}},
		{VolumeOffset: 3<<30 + 8192, Length: 1024, Agree: [][]string{{m0}, {m1}}, SourceBasis: "none",
			Owner: &Owner{FS: "ntfs", Structure: "$MFT record 48"}},
		{VolumeOffset: 1 << 20, Length: 512, Agree: [][]string{{m0}, {m1}}, Source: str(m0), SourceBasis: "set-authority",
			Owner: &Owner{FS: "fat32", Structure: "FAT 2"}},
	}
	maps := setMaps(s, func(p string) string { return baseName(p) })
	var titles []string
	for _, m := range maps {
		titles = append(titles, m.Title)
	}
	if len(maps) != 3 || !strings.Contains(titles[1], "$MFT") || !strings.Contains(titles[2], "FAT copies") {
		t.Fatalf("maps %q, want the whole area, $MFT and FAT copies", titles)
	}
	mft := maps[1]
	if !strings.Contains(string(mft.Rows[1].SVG), markKinds["filesystem"].Fill) || !strings.Contains(string(mft.Rows[0].SVG), markKinds["replaced"].Fill) {
		t.Errorf("$MFT zoom: the structure-decided range is not green on m1 and grey on m0")
	}
	if !strings.Contains(string(mft.Rows[0].SVG), markKinds["none"].Fill) || !strings.Contains(string(mft.Rows[1].SVG), markKinds["none"].Fill) {
		t.Errorf("$MFT zoom: the undecided range is not red on both rows")
	}
}

// TestMapUnreadableAndLost: a member's unreadable ranges are marked on its
// row and the lost ones on the rows of the members that could not read
// them, each in its own colour with a title; the text and HTML reports
// list the lost data and the files it belongs to.
func TestMapUnreadableAndLost(t *testing.T) {
	off := int64(3 << 20)
	r := &Report{Schema: Schema, Sets: []Set{{
		ID: "s", Verdict: VerdictDiverged, DataSize: 8 << 20,
		Members: []Member{
			{Path: "/e/m0.img", State: StateActive, Unreadable: Unreadable{Ranges: 1, Bytes: 4096, DataBytes: 4096, ReadErrorBytes: 4096,
				List: []UnreadableRange{{Offset: off + 1<<20, VolumeOffset: &off, Length: 4096, Cause: CauseReadError}}}},
			{Path: "/e/m1.img", State: StateStale},
		},
		Authority:  Authority{Basis: BasisSetMetadata},
		Lost:       []Salvage{{VolumeOffset: off, Length: 4096, Unreadable: []string{"/e/m0.img"}, Basis: "lost", Reason: "no copy"}},
		LostRanges: 1, LostBytes: 4096,
		FilesWithLostData: []File{{Path: "/docs/thesis.odt", FS: "ntfs", Bytes: 4096}},
	}}}
	s := &r.Sets[0]
	maps := setMaps(s, func(p string) string { return baseName(p) })
	if len(maps) == 0 || len(maps[0].Rows) < 2 {
		t.Fatalf("maps %+v", maps)
	}
	row0 := string(maps[0].Rows[0].SVG)
	for _, kind := range []string{"unreadable", "lost"} {
		if !strings.Contains(row0, MarkColor(kind)) {
			t.Errorf("m0's row has no %s mark (%s)", kind, MarkColor(kind))
		}
	}
	if strings.Contains(string(maps[0].Rows[1].SVG), MarkColor("lost")) {
		t.Errorf("m1 read the range, yet its row marks it lost")
	}
	var text, html strings.Builder
	if err := WriteText(&text, r); err != nil {
		t.Fatal(err)
	}
	if err := WriteHTML(&html, r); err != nil {
		t.Fatal(err)
	}
	for what, out := range map[string]string{"text": text.String(), "html": html.String()} {
		for _, want := range []string{"LOST: 4096 bytes", "/docs/thesis.odt", "Files with lost data: 1"} {
			if !strings.Contains(out, want) {
				t.Errorf("%s report lacks %q", what, want)
			}
		}
	}
}
