package mapfile

import (
	"bytes"
	"crypto/rand"
	"errors"
	"fmt"
	mrand "math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/mirrorchk/mirrorchk/internal/fixture"
)

// rescue images a file of size bytes with the real ddrescue and returns
// the mapfile's text.
func rescue(t *testing.T, size int) (dir string, mapText string) {
	t.Helper()
	ddrescue := fixture.Tool(t, "ddrescue", "gddrescue")
	dir = t.TempDir()
	in := filepath.Join(dir, "disk")
	b := make([]byte, size)
	rand.Read(b)
	if err := os.WriteFile(in, b, 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(ddrescue, "-q", in, filepath.Join(dir, "disk.img"), filepath.Join(dir, "disk.img.map")).CombinedOutput()
	if err != nil {
		t.Fatalf("ddrescue: %v\n%s", err, out)
	}
	m, err := os.ReadFile(filepath.Join(dir, "disk.img.map"))
	if err != nil {
		t.Fatal(err)
	}
	return dir, string(m)
}

// mark rewrites a ddrescue mapfile's block list: the whole extent
// finished except the given blocks, as a failing disk leaves them.
func mark(t *testing.T, mapText string, size int64, blocks []markBlock) string {
	t.Helper()
	var head []string
	for _, l := range strings.Split(mapText, "\n") {
		if strings.HasPrefix(l, "#      pos") {
			break
		}
		head = append(head, l)
	}
	var b strings.Builder
	for _, l := range head {
		b.WriteString(l + "\n")
	}
	b.WriteString("#      pos        size  status\n")
	var at int64
	for _, k := range blocks {
		if k.off > at {
			fmt.Fprintf(&b, "0x%08X  0x%08X  +\n", at, k.off-at)
		}
		fmt.Fprintf(&b, "0x%08X  0x%08X  %c\n", k.off, k.len, k.st)
		at = k.off + k.len
	}
	if at < size {
		fmt.Fprintf(&b, "0x%08X  0x%08X  +\n", at, size-at)
	}
	return b.String()
}

type markBlock struct {
	off, len int64
	st       byte
}

// ddrescuelogBad lists the 512-byte blocks that ddrescuelog counts as not
// finished.
func ddrescuelogBad(t *testing.T, path string) []int64 {
	t.Helper()
	tool := fixture.Tool(t, "ddrescuelog", "gddrescue")
	out, err := exec.Command(tool, "-l-/*?", "-b", "512", path).Output()
	if err != nil {
		t.Fatalf("ddrescuelog %s: %v", path, err)
	}
	var blocks []int64
	for _, f := range strings.Fields(string(out)) {
		n, err := strconv.ParseInt(f, 10, 64)
		if err != nil {
			t.Fatalf("ddrescuelog output %q", f)
		}
		blocks = append(blocks, n)
	}
	return blocks
}

func sectors(rs []Range) []int64 {
	var out []int64
	for _, r := range rs {
		for s := r.Off / 512; s < (r.End()+511)/512; s++ {
			out = append(out, s)
		}
	}
	return out
}

func TestParseRealDdrescue(t *testing.T) {
	const size = 1 << 20
	dir, text := rescue(t, size)
	m, err := Parse(strings.NewReader(text), "disk.img.map")
	if err != nil {
		t.Fatal(err)
	}
	if m.CurrentStatus != Finished || m.End != size || len(m.Bad) != 0 || m.CurrentPass != 1 {
		t.Fatalf("fresh ddrescue map: %+v", m)
	}
	// A failing disk: every kind of unfinished block, touching blocks of
	// different kinds merged, and a bad block at the very end.
	blocks := []markBlock{
		{0x400, 0x200, BadSector}, {0x600, 0x400, NonScraped}, {0x4000, 0x1000, NonTrimmed},
		{0x10000, 0x200, NonTried}, {0x20000, 0x10000, NonTried}, {size - 0x200, 0x200, BadSector},
	}
	path := filepath.Join(dir, "failing.map")
	if err := os.WriteFile(path, []byte(mark(t, text, size, blocks)), 0o644); err != nil {
		t.Fatal(err)
	}
	f, _ := os.Open(path)
	defer f.Close()
	m, err = Parse(f, path)
	if err != nil {
		t.Fatal(err)
	}
	bad, err := m.Unreadable(path, size)
	if err != nil {
		t.Fatal(err)
	}
	want := []Range{{0x400, 0x600}, {0x4000, 0x1000}, {0x10000, 0x200}, {0x20000, 0x10000}, {size - 0x200, 0x200}}
	if !slices.Equal(bad, want) {
		t.Errorf("unreadable %x, want %x", bad, want)
	}
	if got, peer := sectors(bad), ddrescuelogBad(t, path); !slices.Equal(got, peer) {
		t.Errorf("unreadable sectors %v, ddrescuelog says %v", got, peer)
	}
	if m.Status[NonTried] != 0x10200 || m.Status[Finished] != size-0x11A00 {
		t.Errorf("status bytes %v", m.Status)
	}
	// The image is larger than the map's extent: the rest was never tried.
	bad, err = m.Unreadable(path, size+4096)
	if err != nil || bad[len(bad)-1] != (Range{size - 0x200, 0x1200}) {
		t.Errorf("tail past the map: %x, %v", bad, err)
	}
	if _, err := m.Unreadable(path, size-512); err == nil {
		t.Error("a map past the image's end was accepted")
	}
}

// Random maps against ddrescuelog: the same blocks are unreadable.
func TestParseAgainstDdrescuelog(t *testing.T) {
	const size = 4 << 20
	dir, text := rescue(t, size)
	rng := mrand.New(mrand.NewPCG(1, 2))
	for k := range 8 {
		var blocks []markBlock
		at := int64(0)
		for {
			at += int64(rng.IntN(64)) * 512
			n := int64(1+rng.IntN(32)) * 512
			if at+n > size {
				break
			}
			blocks = append(blocks, markBlock{at, n, "-/*?"[rng.IntN(4)]})
			at += n
		}
		path := filepath.Join(dir, fmt.Sprintf("r%d.map", k))
		os.WriteFile(path, []byte(mark(t, text, size, blocks)), 0o644)
		b, _ := os.ReadFile(path)
		m, err := Parse(bytes.NewReader(b), path)
		if err != nil {
			t.Fatal(err)
		}
		bad, err := m.Unreadable(path, size)
		if err != nil {
			t.Fatal(err)
		}
		if got, peer := sectors(bad), ddrescuelogBad(t, path); !slices.Equal(got, peer) {
			t.Fatalf("%s: %d unreadable sectors, ddrescuelog says %d", path, len(got), len(peer))
		}
	}
}

func TestParseErrors(t *testing.T) {
	status := "# c\n0x0 +\n"
	for _, c := range []struct {
		name, text string
		line       int
		want       string
	}{
		{"empty", "", 0, "no status line"},
		{"comments only", "# x\n# y\n", 0, "no status line"},
		{"no blocks", status, 0, "no blocks"},
		{"bad status", "0x0 X\n0 512 +\n", 1, "current status"},
		{"bad pass", "0x0 + 9\n0 512 +\n", 1, "current pass"},
		{"garbage", status + "hello world\n", 3, "block line"},
		{"bad number", status + "0xZZ 512 +\n", 3, "block position"},
		{"bad block status", status + "0 512 F\n", 3, "block status"},
		{"zero size", status + "0 0 +\n", 3, "size 0"},
		{"gap", status + "0 512 +\n1024 512 -\n", 4, "gap"},
		{"overlap", status + "0 1024 +\n512 512 -\n", 4, "overlaps"},
		{"not from zero", status + "512 512 +\n", 3, "not 0"},
		{"negative", status + "0 -512 +\n", 3, "negative"},
		{"overflow", status + "0 0x7FFFFFFFFFFFFFFF +\n0x7FFFFFFFFFFFFFFF 1 +\n", 4, "largest offset"},
		{"long line", status + strings.Repeat("0", 5000) + " 1 +\n", 3, "longer"},
	} {
		_, err := Parse(strings.NewReader(c.text), "x.map")
		var fe *FormatError
		if !errors.As(err, &fe) {
			t.Errorf("%s: error %v, want a FormatError", c.name, err)
			continue
		}
		if fe.Line != c.line || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v (line %d), want line %d and %q", c.name, err, fe.Line, c.line, c.want)
		}
	}
	// ddrescuelog refuses the gap and the overlap too.
	dir := t.TempDir()
	tool := fixture.Tool(t, "ddrescuelog", "gddrescue")
	for _, text := range []string{status + "0 512 +\n1024 512 -\n", status + "0 1024 +\n512 512 -\n"} {
		p := filepath.Join(dir, "bad.map")
		os.WriteFile(p, []byte(text), 0o644)
		if err := exec.Command(tool, "-t", p).Run(); err == nil {
			t.Errorf("ddrescuelog accepts %q", text)
		}
	}
}

// A map written by Write is read by ddrescuelog and by Parse as the same
// bad blocks, and ddrescue itself uses it: --fill-mode=- writes only the
// '-' blocks.
func TestWriteRead(t *testing.T) {
	const size = 64 << 10
	dir := t.TempDir()
	bad := []Range{{512, 1024}, {8192, 512}, {size - 512, 512}}
	var buf bytes.Buffer
	if err := Write(&buf, size, bad, "lost ranges of m0.img", "plan 1234"); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "out.img.map")
	os.WriteFile(path, buf.Bytes(), 0o644)
	m, err := Parse(bytes.NewReader(buf.Bytes()), path)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := m.Unreadable(path, size)
	if !slices.Equal(got, bad) {
		t.Errorf("read back %x, want %x", got, bad)
	}
	if s, peer := sectors(bad), ddrescuelogBad(t, path); !slices.Equal(s, peer) {
		t.Errorf("ddrescuelog reads %v, want %v", peer, s)
	}
	// ddrescue --fill-mode=- fills exactly the '-' blocks of the output.
	ddrescue := fixture.Tool(t, "ddrescue", "gddrescue")
	fill := filepath.Join(dir, "fill")
	os.WriteFile(fill, bytes.Repeat([]byte{0xAB}, 512), 0o644)
	out := filepath.Join(dir, "out.img")
	os.WriteFile(out, make([]byte, size), 0o644)
	if o, err := exec.Command(ddrescue, "-q", "--force", "--fill-mode=-", fill, out, path).CombinedOutput(); err != nil {
		t.Fatalf("ddrescue --fill-mode: %v\n%s", err, o)
	}
	img, _ := os.ReadFile(out)
	for off := int64(0); off < size; off += 512 {
		in := slices.ContainsFunc(bad, func(r Range) bool { return off >= r.Off && off < r.End() })
		if filled := img[off] == 0xAB; filled != in {
			t.Errorf("sector at %#x: filled %v, in a bad range %v", off, filled, in)
		}
	}
	if err := Write(&buf, size, []Range{{1024, 512}, {512, 512}}); err == nil {
		t.Error("unsorted ranges accepted")
	}
}

func FuzzParse(f *testing.F) {
	f.Add([]byte("# Mapfile\n0x00010000     +               1\n0x00000000  0x000186A0  +\n"))
	f.Add([]byte("0 -\n0 512 +\n512 0x200 -\n1024 01000 /\n1536 512 *\n2048 512 ?\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := Parse(bytes.NewReader(b), "fuzz")
		if err != nil {
			return
		}
		bad, err := m.Unreadable("fuzz", m.End)
		if err != nil {
			t.Fatal(err)
		}
		var sum, at int64
		for _, r := range bad {
			if r.Len <= 0 || r.Off < at || r.End() > m.End {
				t.Fatalf("bad range %v", r)
			}
			at = r.End()
			sum += r.Len
		}
		var buf bytes.Buffer
		if err := Write(&buf, m.End, bad); err != nil {
			t.Fatal(err)
		}
		m2, err := Parse(&buf, "again")
		if err != nil {
			t.Fatal(err)
		}
		if bad2, _ := m2.Unreadable("again", m.End); !slices.Equal(bad, bad2) {
			t.Fatalf("round trip %v -> %v", bad, bad2)
		}
	})
}
