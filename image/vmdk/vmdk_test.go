package vmdk

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/mirrorchk/mirrorchk/internal/diskfixture"
)

// variant is one VMDK made from the raw fixture.
type variant struct {
	name   string
	build  func(tb testing.TB, dir, raw string) string // returns the path of the file to open
	format string                                      // Format() expected
	files  int                                         // files in the directory qemu made
}

func convert(sub string) func(tb testing.TB, dir, raw string) string {
	return func(tb testing.TB, dir, raw string) string {
		p := filepath.Join(dir, sub+".vmdk")
		diskfixture.Run(tb, dir, "qemu-img", "convert", "-f", "raw", "-O", "vmdk", "-o", "subformat="+sub, raw, p)
		return p
	}
}

// child builds base.vmdk (monolithicSparse) from the raw image, a child
// over it with opts, and writes data and zeros through qemu-io.
func child(opts string) func(tb testing.TB, dir, raw string) string {
	return func(tb testing.TB, dir, raw string) string {
		base := filepath.Join(dir, "base.vmdk")
		diskfixture.Run(tb, dir, "qemu-img", "convert", "-f", "raw", "-O", "vmdk", raw, base)
		c := filepath.Join(dir, "child.vmdk")
		args := []string{"create", "-q", "-f", "vmdk", "-b", "base.vmdk", "-F", "vmdk"}
		if opts != "" {
			args = append(args, "-o", opts)
		}
		diskfixture.Run(tb, dir, "qemu-img", append(args, c)...)
		diskfixture.Run(tb, dir, "qemu-io", "-f", "vmdk",
			"-c", "write -P 0xab 1048576 65536",
			"-c", "write -z 2097152 131072",
			"-c", "write -P 0xcd 5246976 512",
			"-c", "write -P 0x11 17825792 4096",
			"-c", "write -z 19922944 65536",
			c)
		return c
	}
}

// gdAtEndCopy derives a streamOptimized file whose header says GD_AT_END
// from qemu's, which keeps the GD offset in the header: the header's
// offset becomes 0xffffffffffffffff, and a footer marker, a footer (the
// original header) and an end-of-stream marker are appended.
func gdAtEndCopy(tb testing.TB, dir, raw string) string {
	p := convert("streamOptimized")(tb, dir, raw)
	b, err := os.ReadFile(p)
	if err != nil {
		tb.Fatal(err)
	}
	footer := bytes.Clone(b[:512])
	for i := 56; i < 64; i++ {
		b[i] = 0xff
	}
	marker := make([]byte, 512)
	le.PutUint64(marker[0:], 1) // the footer's size in sectors
	le.PutUint32(marker[12:], 3)
	b = append(b, marker...)
	b = append(b, footer...)
	b = append(b, make([]byte, 512)...)
	q := filepath.Join(dir, "gdatend.vmdk")
	if err := os.WriteFile(q, b, 0o644); err != nil {
		tb.Fatal(err)
	}
	return q
}

var variants = []variant{
	{name: "monolithicSparse", build: convert("monolithicSparse"), format: "VMDK monolithicSparse"},
	{name: "streamOptimized", build: convert("streamOptimized"), format: "VMDK streamOptimized"},
	{name: "twoGbMaxExtentSparse", build: convert("twoGbMaxExtentSparse"), format: "VMDK twoGbMaxExtentSparse"},
	{name: "monolithicFlat", build: convert("monolithicFlat"), format: "VMDK monolithicFlat"},
	{name: "twoGbMaxExtentFlat", build: convert("twoGbMaxExtentFlat"), format: "VMDK twoGbMaxExtentFlat"},
	{name: "parent", build: child(""), format: "VMDK monolithicSparse"},
	{name: "parent-zeroed-grain", build: child("zeroed_grain=on"), format: "VMDK monolithicSparse"},
	{name: "parent-streamOptimized", build: func(tb testing.TB, dir, raw string) string {
		so := convert("streamOptimized")(tb, dir, raw)
		c := filepath.Join(dir, "child.vmdk")
		diskfixture.Run(tb, dir, "qemu-img", "create", "-q", "-f", "vmdk", "-b", filepath.Base(so), "-F", "vmdk", c)
		diskfixture.Run(tb, dir, "qemu-io", "-f", "vmdk", "-c", "write -P 0x77 1081344 8192", c)
		return c
	}, format: "VMDK monolithicSparse"},
	{name: "gd-at-end", build: gdAtEndCopy, format: "VMDK streamOptimized"},
}

var built sync.Map // name -> path

func (v variant) path(tb testing.TB) string {
	tb.Helper()
	if p, ok := built.Load(v.name); ok {
		return p.(string)
	}
	r := diskfixture.Raw(tb)
	dir := filepath.Join(diskfixture.Dir(), v.name)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		tb.Fatal(err)
	}
	p := v.build(tb, dir, r)
	built.Store(v.name, p)
	return p
}

func variantNamed(tb testing.TB, name string) string {
	for _, v := range variants {
		if v.name == name {
			return v.path(tb)
		}
	}
	tb.Fatalf("no variant %s", name)
	return ""
}

func TestAgainstQemu(t *testing.T) {
	for _, v := range variants {
		t.Run(v.name, func(t *testing.T) {
			p := v.path(t)
			size, want, m := diskfixture.QemuVirtualSize(t, p, "vmdk"), diskfixture.QemuRawSHA(t, p, "vmdk"), diskfixture.QemuMap(t, p, "vmdk")
			before := diskfixture.HashDir(t, filepath.Dir(p))
			d, err := openFile(t, p)
			if err != nil {
				t.Fatal(err)
			}
			if got := d.Size(); got != size {
				t.Fatalf("Size() = %d, qemu-img info says %d", got, size)
			}
			if got := diskfixture.ReadSHA(t, d, d.Size(), 1<<20); got != want {
				t.Errorf("sha256 of 1 MiB reads %s, qemu-img convert -O raw %s", got, want)
			}
			if got := diskfixture.ReadSHA(t, d, d.Size(), 3*4096+512); got != want {
				t.Errorf("sha256 of 12.5 KiB reads %s, qemu-img convert -O raw %s", got, want)
			}
			diskfixture.CheckMap(t, d, m, true)
			if after := diskfixture.HashDir(t, filepath.Dir(p)); after != before {
				t.Errorf("the image files changed while we read them: sha256 %s before, %s after", before, after)
			}
			if d.Format() != v.format {
				t.Errorf("Format() = %q, want %q", d.Format(), v.format)
			}
			if w := d.Warnings(); len(w) > 0 {
				t.Errorf("Warnings() = %q, want none", w)
			}
		})
	}
}

func TestConcurrentReads(t *testing.T) {
	p := variantNamed(t, "streamOptimized")
	d, err := openFile(t, p)
	if err != nil {
		t.Fatal(err)
	}
	diskfixture.ConcurrentSHA(t, d, d.Size(), diskfixture.QemuRawSHA(t, p, "vmdk"))
}

// TestMissing: a descriptor without its extent, a child without its
// parent, and no OpenFunc at all are UnsupportedErrors that say so.
func TestMissing(t *testing.T) {
	for _, tc := range []struct{ variant, file, want string }{
		{"monolithicFlat", "monolithicFlat.vmdk", `extent file "monolithicFlat-flat.vmdk"`},
		{"twoGbMaxExtentSparse", "twoGbMaxExtentSparse.vmdk", `extent file "twoGbMaxExtentSparse-s001.vmdk"`},
		{"parent", "child.vmdk", `parent "base.vmdk"`},
	} {
		t.Run(tc.variant, func(t *testing.T) {
			dir := filepath.Dir(variantNamed(t, tc.variant))
			r, size, err := diskfixture.OSOpen(dir)(tc.file)
			if err != nil {
				t.Fatal(err)
			}
			_, err = Open(r, size, tc.file, nil)
			var ue *UnsupportedError
			if !errors.As(err, &ue) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Open without OpenFunc: %v, want an UnsupportedError naming %s", err, tc.want)
			}
			_, err = Open(r, size, tc.file, diskfixture.OSOpen(t.TempDir()))
			if !errors.As(err, &ue) || !errors.Is(err, os.ErrNotExist) || !strings.Contains(err.Error(), "missing") || !errors.Is(err, ErrUnsupported) {
				t.Errorf("Open with the file missing: %v, want an UnsupportedError wrapping fs.ErrNotExist", err)
			}
			t.Log(err)
		})
	}
}

func TestDetect(t *testing.T) {
	for _, v := range variants[:4] {
		b, err := os.ReadFile(v.path(t))
		if err != nil {
			t.Fatal(err)
		}
		if !Detect(b[:min(4096, len(b))], b[max(0, len(b)-512):]) {
			t.Errorf("%s: Detect = false", v.name)
		}
	}
	if Detect([]byte("KDM"), nil) || Detect(make([]byte, 4096), nil) || Detect([]byte("version=1\nhello\n"), nil) {
		t.Error("Detect accepts a short, zero or unrelated head")
	}
}
