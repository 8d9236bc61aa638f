package report

import (
	"bytes"
	"image/color"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/mirrorchk/mirrorchk/internal/browser"
)

// These tests render a report in a real browser, headless Chromium
// (Debian package chromium), and look at what it drew.

func runChromium(t *testing.T, width, height int, args ...string) []byte {
	return browser.Run(t, width, height, args...)
}

func writePage(t *testing.T, r *Report) string {
	t.Helper()
	var buf bytes.Buffer
	if err := WriteHTML(&buf, r); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "report.html")
	if err := os.WriteFile(p, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func allMarkColors() []color.RGBA {
	var out []color.RGBA
	for _, k := range markOrder {
		out = append(out, browser.Hex(markKinds[k].Fill))
	}
	return out
}

// TestHTMLMapInBrowser renders the stale-bitmap case (ranges at 4, 16 and
// 32 MiB of a 63 MiB data area, decided by the set metadata, m0.img the
// source; dirty chunks at the same places) at 1280 and 400 px and checks
// that the map's colours are where the ranges are.
func TestHTMLMapInBrowser(t *testing.T) {
	r := sourced(staleBitmap)()
	page := writePage(t, r)
	s := r.Sets[0]
	for _, width := range []int{1280, 400} {
		t.Run(strconv.Itoa(width), func(t *testing.T) {
			img := browser.Screenshot(t, page, width, 2600)
			b := img.Bounds()
			if n, white := browser.Colours(img); n < 20 || white > 0.98 {
				t.Fatalf("the page looks blank: %d colours, %.0f%% white", n, white*100)
			}
			bands := browser.MapBands(img, browser.Hex(mapTrack), allMarkColors())
			if len(bands) != 3 {
				t.Fatalf("found %d map rows, want 3 (m0.img, m1.img, bitmap): %v", len(bands), bands)
			}
			want := []string{markKinds["metadata"].Fill, markKinds["replaced"].Fill, markKinds["dirty"].Fill}
			for i, bd := range bands {
				if bd.Right-bd.Left < b.Dx()/2 {
					t.Errorf("row %d spans x %d..%d of %d: narrower than half the page", i, bd.Left, bd.Right, b.Dx())
				}
				c := browser.Hex(want[i])
				offsets := []int64{}
				for _, rg := range s.Divergence.Ranges {
					offsets = append(offsets, rg.VolumeOffset)
				}
				for _, off := range offsets {
					x := bd.X(off, s.DataSize)
					if !bd.Has(img, c, x, 4) {
						t.Errorf("row %d: no %s mark near x=%d (offset %#x)", i, want[i], x, off)
					}
				}
				// And nowhere far from the ranges.
				for x := bd.Left; x <= bd.Right; x++ {
					if !browser.Same(img.At(x, bd.Y), c) {
						continue
					}
					near := false
					for _, off := range offsets {
						ex := bd.X(off, s.DataSize)
						near = near || (x >= ex-6 && x <= ex+12)
					}
					if !near {
						t.Errorf("row %d: a %s mark at x=%d, where no range lies", i, want[i], x)
						break
					}
				}
			}
		})
	}
}

// TestHTMLNoSideScroll loads the page at a 400 px window (Chromium keeps
// at least about 500) with a probe script that records the document's
// scrollWidth and clientWidth, on a copy without the page's
// Content-Security-Policy (which blocks inline scripts), and checks that
// nothing scrolls sideways.
func TestHTMLNoSideScroll(t *testing.T) {
	for _, c := range []struct {
		name string
		r    *Report
	}{{"stale-bitmap", sourced(staleBitmap)()}, {"filesystem", sourced(filesystem)()}, {"many-ranges", manyRanges(400)}, {"repair-written", sourced(repairWritten)()},
		{"container", withContainer(sourced(staleBitmap)())}} {
		t.Run(c.name, func(t *testing.T) {
			var buf bytes.Buffer
			if err := WriteHTML(&buf, c.r); err != nil {
				t.Fatal(err)
			}
			page := buf.String()
			csp := regexp.MustCompile(`<meta http-equiv="Content-Security-Policy"[^>]*>`)
			if !csp.MatchString(page) {
				t.Fatal("the page has no Content-Security-Policy meta tag")
			}
			page = csp.ReplaceAllString(page, "")
			probe := `<script>document.body.setAttribute("data-probe", document.documentElement.scrollWidth + " " + document.documentElement.clientWidth)</script></body>`
			page = strings.Replace(page, "</body>", probe, 1)
			p := filepath.Join(t.TempDir(), "probe.html")
			if err := os.WriteFile(p, []byte(page), 0o644); err != nil {
				t.Fatal(err)
			}
			dom := runChromium(t, 400, 800, "--dump-dom", "file://"+p)
			m := regexp.MustCompile(`data-probe="(\d+) (\d+)"`).FindSubmatch(dom)
			if m == nil {
				t.Fatalf("no probe result in the DOM:\n%.500s", dom)
			}
			sw, _ := strconv.Atoi(string(m[1]))
			cw, _ := strconv.Atoi(string(m[2]))
			if cw == 0 || cw > 640 {
				t.Fatalf("clientWidth %d: the window is not narrow", cw)
			}
			if sw > cw {
				t.Errorf("scrollWidth %d > clientWidth %d: the page scrolls sideways at a phone's width", sw, cw)
			}
		})
	}
}

// withContainer gives r's first member an E01 container with long paths,
// hashes and case metadata, as evidence names them.
func withContainer(r *Report) *Report {
	long := "/evidence/case-2026-0117-seized-server-room-b/rack-4/disk-bay-2/acquisition-2026-11-28/m0.E01"
	h := strings.Repeat("0123456789abcdef", 4)
	r.Sets[0].Members[0].Container = &Container{
		Format: "EWF-E01", VirtualSize: r.Sets[0].Members[0].Size,
		Files: []Input{{Path: long, Size: 88096, Hashes: map[string]string{"sha256": h}},
			{Path: strings.Replace(long, ".E01", ".E02", 1), Size: 1 << 20, Hashes: map[string]string{"sha256": h}}},
		StoredHashes: []StoredHash{{Algorithm: "md5", Stored: h[:32], Computed: h[:32], Status: "verified"},
			{Algorithm: "sha1", Stored: h[:40], Computed: "ffff" + h[4:40], Status: "mismatch"}},
		Acquisition: []KeyValue{{Key: "case number", Value: "2026-0117"}, {Key: "examiner", Value: "A. Examiner of the Digital Forensics Laboratory"},
			{Key: "notes", Value: strings.Repeat("acquired from a failing disk with a hardware write blocker; ", 4)}},
		Unreadable: []ByteRange{}, Warnings: []string{},
	}
	return r
}
