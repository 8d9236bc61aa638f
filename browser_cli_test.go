package main

import (
	"image/color"
	"os"
	"path/filepath"
	"testing"

	"github.com/mirrorchk/mirrorchk/internal/browser"
	"github.com/mirrorchk/mirrorchk/report"
)

// TestHTMLExampleInBrowser: the HTML report of the embedded example (a
// real md pair: m1 stale, three differing ranges decided by the set
// metadata, m0's bitmap dirty where they lie), rendered by headless
// Chromium at 1280 and 400 px: the map's colours are at the x-positions
// of the ranges the JSON lists, on m0's row (source), m1's row (replaced)
// and the bitmap's row.
func TestHTMLExampleInBrowser(t *testing.T) {
	p := exampleMembers(t)
	page := filepath.Join(t.TempDir(), "report.html")
	_, rep := scanJSON(t, "--html", page, p[0], p[1])
	if _, err := os.Stat(page); err != nil {
		t.Fatal(err)
	}
	s := rep.Sets[0]
	if len(s.Divergence.Ranges) != 3 || s.Bitmap == nil || len(s.Bitmap.DirtyExtents) == 0 {
		t.Fatalf("the example's report: %d ranges, bitmap %+v", len(s.Divergence.Ranges), s.Bitmap)
	}
	var marks []string
	for _, k := range []string{"metadata", "filesystem", "majority", "none", "replaced", "dirty"} {
		marks = append(marks, report.MarkColor(k))
	}
	for _, width := range []int{1280, 400} {
		img := browser.Screenshot(t, page, width, 2000)
		if n, white := browser.Colours(img); n < 20 || white > 0.98 {
			t.Fatalf("%d px: the page looks blank: %d colours, %.0f%% white", width, n, white*100)
		}
		bands := browser.MapBands(img, browser.Hex(report.MapTrackColor), hexAll(marks))
		if len(bands) != 3 {
			t.Fatalf("%d px: %d map rows, want 3 (m0.img, m1.img, bitmap)", width, len(bands))
		}
		want := []string{report.MarkColor("metadata"), report.MarkColor("replaced"), report.MarkColor("dirty")}
		for i, bd := range bands {
			for _, r := range s.Divergence.Ranges {
				if !bd.Has(img, browser.Hex(want[i]), bd.X(r.VolumeOffset+r.Length/2, s.DataSize), 4) {
					t.Errorf("%d px, row %d: no %s mark at the range at %#x", width, i, want[i], r.VolumeOffset)
				}
			}
		}
	}
}

func hexAll(hs []string) []color.RGBA {
	var out []color.RGBA
	for _, h := range hs {
		out = append(out, browser.Hex(h))
	}
	return out
}
