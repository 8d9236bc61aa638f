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
