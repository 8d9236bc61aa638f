package report

import (
	"bytes"
	"context"
	"image"
	"image/color"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// These tests render a report in a real browser, headless Chromium
// (Debian package chromium), and look at what it drew.

func chromium(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	t.Fatal("headless Chromium is needed for the browser tests: apt-get install -y chromium")
	return ""
}

// runChromium runs headless Chromium with a window of the given width and
// the extra arguments, and returns its stdout.
func runChromium(t *testing.T, width, height int, args ...string) []byte {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	home := t.TempDir()
	base := []string{"--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--no-first-run",
		"--disable-extensions", "--force-device-scale-factor=1", "--user-data-dir=" + filepath.Join(home, "profile"),
		"--window-size=" + strconv.Itoa(width) + "," + strconv.Itoa(height)}
	cmd := exec.CommandContext(ctx, chromium(t), append(base, args...)...)
	cmd.Env = append(os.Environ(), "HOME="+home)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("chromium %v: %v\n%s", args, err, stderr.String())
	}
	return stdout.Bytes()
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

func hexColor(s string) color.RGBA {
	v, _ := strconv.ParseUint(strings.TrimPrefix(s, "#"), 16, 32)
	return color.RGBA{uint8(v >> 16), uint8(v >> 8), uint8(v), 255}
}

func same(c color.Color, want color.RGBA) bool {
	r, g, b, _ := c.RGBA()
	return uint8(r>>8) == want.R && uint8(g>>8) == want.G && uint8(b>>8) == want.B
}

// mapBands finds the sector map's rows in a screenshot: runs of pixel rows
// in which at least a quarter of the width is the map's track colour or a
// mark colour, and returns for each its middle y and the x extent of the
// track.
type band struct{ y, left, right int }

func mapBands(img image.Image) []band {
	track := hexColor(mapTrack)
	var marks []color.RGBA
	for _, k := range markKinds {
		marks = append(marks, hexColor(k.Fill))
	}
	inMap := func(c color.Color) bool {
		if same(c, track) {
			return true
		}
		for _, m := range marks {
			if same(c, m) {
				return true
			}
		}
		return false
	}
	b := img.Bounds()
	var bands []band
	start := -1
	var left, right int
	flush := func(y int) {
		if start >= 0 {
			bands = append(bands, band{(start + y - 1) / 2, left, right})
			start = -1
		}
	}
	for y := b.Min.Y; y < b.Max.Y; y++ {
		n, l, r := 0, -1, -1
		for x := b.Min.X; x < b.Max.X; x++ {
			if inMap(img.At(x, y)) {
				n++
				if l < 0 {
					l = x
				}
				r = x
			}
		}
		if n >= b.Dx()/4 {
			if start < 0 {
				start, left, right = y, l, r
			}
			continue
		}
		flush(y)
	}
	flush(b.Max.Y)
	return bands
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
			shot := filepath.Join(t.TempDir(), "shot.png")
			runChromium(t, width, 2600, "--screenshot="+shot, "file://"+page)
			f, err := os.Open(shot)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			img, err := png.Decode(f)
			if err != nil {
				t.Fatal(err)
			}
			// Not blank: many pixels are neither white nor one colour.
			colors := map[color.RGBA]int{}
			b := img.Bounds()
			for y := b.Min.Y; y < b.Max.Y; y += 3 {
				for x := b.Min.X; x < b.Max.X; x += 3 {
					cr, cg, cb, _ := img.At(x, y).RGBA()
					colors[color.RGBA{uint8(cr >> 8), uint8(cg >> 8), uint8(cb >> 8), 255}]++
				}
			}
			if len(colors) < 20 || colors[color.RGBA{255, 255, 255, 255}] > b.Dx()*b.Dy()/9*98/100 {
				t.Fatalf("the page looks blank: %d colours", len(colors))
			}
			bands := mapBands(img)
			if len(bands) != 3 {
				t.Fatalf("found %d map rows, want 3 (m0.img, m1.img, bitmap): %v", len(bands), bands)
			}
			want := []string{markKinds["metadata"].Fill, markKinds["replaced"].Fill, markKinds["dirty"].Fill}
			for i, bd := range bands {
				if bd.right-bd.left < b.Dx()/2 {
					t.Errorf("row %d spans x %d..%d of %d: narrower than half the page", i, bd.left, bd.right, b.Dx())
				}
				c := hexColor(want[i])
				offsets := []int64{}
				for _, rg := range s.Divergence.Ranges {
					offsets = append(offsets, rg.VolumeOffset)
				}
				for _, off := range offsets {
					x := bd.left + int(float64(off)/float64(s.DataSize)*float64(bd.right-bd.left+1))
					found := false
					for dx := -4; dx <= 4 && !found; dx++ {
						found = same(img.At(x+dx, bd.y), c)
					}
					if !found {
						t.Errorf("row %d: no %s mark near x=%d (offset %#x)", i, want[i], x, off)
					}
				}
				// And nowhere far from the ranges.
				for x := bd.left; x <= bd.right; x++ {
					if !same(img.At(x, bd.y), c) {
						continue
					}
					near := false
					for _, off := range offsets {
						ex := bd.left + int(float64(off)/float64(s.DataSize)*float64(bd.right-bd.left+1))
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
	}{{"stale-bitmap", sourced(staleBitmap)()}, {"filesystem", sourced(filesystem)()}, {"many-ranges", manyRanges(400)}, {"repair-written", sourced(repairWritten)()}} {
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
