// Package browser is a test helper: it renders a page with headless
// Chromium (Debian package chromium) and finds the HTML report's sector
// map rows in the screenshot.
package browser

import (
	"bytes"
	"context"
	"image"
	"image/color"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// Chromium returns the path of the browser, failing tb when it is missing.
func Chromium(tb testing.TB) string {
	tb.Helper()
	for _, name := range []string{"chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	tb.Fatal("headless Chromium is needed for the browser tests: apt-get install -y chromium")
	return ""
}

// Run runs headless Chromium with a window of width × height and the extra
// arguments, and returns its stdout.
func Run(tb testing.TB, width, height int, args ...string) []byte {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	home := tb.TempDir()
	base := []string{"--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--no-first-run",
		"--disable-extensions", "--force-device-scale-factor=1", "--user-data-dir=" + filepath.Join(home, "profile"),
		"--window-size=" + strconv.Itoa(width) + "," + strconv.Itoa(height)}
	cmd := exec.CommandContext(ctx, Chromium(tb), append(base, args...)...)
	cmd.Env = append(os.Environ(), "HOME="+home)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		tb.Fatalf("chromium %v: %v\n%s", args, err, stderr.String())
	}
	return stdout.Bytes()
}

// Screenshot renders the page file at width × height and decodes the PNG.
func Screenshot(tb testing.TB, page string, width, height int) image.Image {
	tb.Helper()
	shot := filepath.Join(tb.TempDir(), "shot.png")
	Run(tb, width, height, "--screenshot="+shot, "file://"+page)
	f, err := os.Open(shot)
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		tb.Fatal(err)
	}
	return img
}

// Hex parses "#rrggbb".
func Hex(s string) color.RGBA {
	v, _ := strconv.ParseUint(strings.TrimPrefix(s, "#"), 16, 32)
	return color.RGBA{uint8(v >> 16), uint8(v >> 8), uint8(v), 255}
}

// Same reports whether c is exactly want.
func Same(c color.Color, want color.RGBA) bool {
	r, g, b, _ := c.RGBA()
	return uint8(r>>8) == want.R && uint8(g>>8) == want.G && uint8(b>>8) == want.B
}

// Band is one map row found in a screenshot: its middle y and the x extent
// of its track.
type Band struct{ Y, Left, Right int }

// X is the pixel column of byte off of a map over size bytes.
func (b Band) X(off, size int64) int {
	return b.Left + int(float64(off)/float64(size)*float64(b.Right-b.Left+1))
}

// Has reports whether the row holds colour c within ±slack pixels of x.
func (b Band) Has(img image.Image, c color.RGBA, x, slack int) bool {
	for dx := -slack; dx <= slack; dx++ {
		if Same(img.At(x+dx, b.Y), c) {
			return true
		}
	}
	return false
}

// MapBands finds the map's rows: runs of pixel rows in which at least a
// quarter of the width is the track colour or one of the mark colours.
func MapBands(img image.Image, track color.RGBA, marks []color.RGBA) []Band {
	inMap := func(c color.Color) bool {
		if Same(c, track) {
			return true
		}
		for _, m := range marks {
			if Same(c, m) {
				return true
			}
		}
		return false
	}
	b := img.Bounds()
	var bands []Band
	start := -1
	var left, right int
	flush := func(y int) {
		if start >= 0 {
			bands = append(bands, Band{(start + y - 1) / 2, left, right})
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

// Colours counts the distinct colours of img, sampled every third pixel,
// and the share of white among the samples.
func Colours(img image.Image) (distinct int, white float64) {
	seen := map[color.RGBA]int{}
	b := img.Bounds()
	n := 0
	for y := b.Min.Y; y < b.Max.Y; y += 3 {
		for x := b.Min.X; x < b.Max.X; x += 3 {
			r, g, bl, _ := img.At(x, y).RGBA()
			seen[color.RGBA{uint8(r >> 8), uint8(g >> 8), uint8(bl >> 8), 255}]++
			n++
		}
	}
	return len(seen), float64(seen[color.RGBA{255, 255, 255, 255}]) / float64(max(n, 1))
}
