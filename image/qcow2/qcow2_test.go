package qcow2

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/mirrorchk/mirrorchk/internal/diskfixture"
)

// variant is one qcow2 image made from the raw fixture.
type variant struct {
	name   string
	build  func(tb testing.TB, dir, raw string) string // returns the image path
	format string                                      // Format() expected
	warn   []string                                    // substrings of Warnings()
	loose  bool                                        // qemu-img map may call allocated bytes holes (a raw backing file)
}

func convert(opts ...string) func(tb testing.TB, dir, raw string) string {
	return func(tb testing.TB, dir, raw string) string {
		p := filepath.Join(dir, "img.qcow2")
		args := append([]string{"convert", "-f", "raw", "-O", "qcow2"}, opts...)
		diskfixture.Run(tb, dir, "qemu-img", append(args, raw, p)...)
		return p
	}
}

// overlay builds base.qcow2 from the raw image with baseOpts (-o options
// and -c, space separated), an overlay
// with ovOpts over it, and writes data, zeros and a partial cluster
// through qemu-io.
func overlay(baseOpts, ovOpts string) func(tb testing.TB, dir, raw string) string {
	return func(tb testing.TB, dir, raw string) string {
		base := filepath.Join(dir, "base.qcow2")
		args := []string{"convert", "-f", "raw", "-O", "qcow2"}
		for _, o := range strings.Fields(baseOpts) {
			if o == "-c" {
				args = append(args, o)
			} else {
				args = append(args, "-o", o)
			}
		}
		diskfixture.Run(tb, dir, "qemu-img", append(args, raw, base)...)
		ov := filepath.Join(dir, "ov.qcow2")
		args = []string{"create", "-q", "-f", "qcow2", "-b", "base.qcow2", "-F", "qcow2"}
		if ovOpts != "" {
			args = append(args, "-o", ovOpts)
		}
		diskfixture.Run(tb, dir, "qemu-img", append(args, ov)...)
		diskfixture.Run(tb, dir, "qemu-io", "-f", "qcow2",
			"-c", "write -P 0xab 1048576 65536", // over FAT data
			"-c", "write -z 2097152 131072", // zero clusters over base data
			"-c", "write -P 0xcd 5246976 512", // one sector: the cluster (or subcluster) is allocated around it
			"-c", "write -P 0x11 17825792 4096", // in the hole between the volumes
			"-c", "write -z 19922944 65536", // zeros over NTFS data
			ov)
		return ov
	}
}

var variants = []variant{
	{name: "v2", build: convert("-o", "compat=0.10"), format: "qcow2 v2"},
	{name: "v3", build: convert("-o", "compat=1.1"), format: "qcow2 v3"},
	{name: "v2-compressed", build: convert("-c", "-o", "compat=0.10"), format: "qcow2 v2"},
	{name: "v3-compressed", build: convert("-c", "-o", "compat=1.1"), format: "qcow2 v3"},
	{name: "zstd", build: convert("-c", "-o", "compression_type=zstd"), format: "qcow2 v3"},
	{name: "cluster4k", build: convert("-o", "cluster_size=4096"), format: "qcow2 v3"},
	{name: "cluster2m-compressed", build: convert("-c", "-o", "cluster_size=2M"), format: "qcow2 v3"},
	{name: "extended-l2", build: convert("-o", "extended_l2=on,cluster_size=128k"), format: "qcow2 v3"},
	{name: "backing", build: overlay("compat=1.1", ""), format: "qcow2 v3"},
	{name: "backing-v2", build: overlay("compat=0.10", "compat=0.10"), format: "qcow2 v2"},
	{name: "backing-compressed-base", build: overlay("-c compat=1.1", ""), format: "qcow2 v3"},
	{name: "backing-extended-l2", build: overlay("compat=1.1", "extended_l2=on,cluster_size=64k"), format: "qcow2 v3"},
	{name: "backing-raw", build: func(tb testing.TB, dir, raw string) string {
		if err := os.Symlink(raw, filepath.Join(dir, "base.raw")); err != nil {
			tb.Fatal(err)
		}
		ov := filepath.Join(dir, "ov.qcow2")
		diskfixture.Run(tb, dir, "qemu-img", "create", "-q", "-f", "qcow2", "-b", "base.raw", "-F", "raw", ov)
		diskfixture.Run(tb, dir, "qemu-io", "-f", "qcow2", "-c", "write -P 0xab 1048576 65536", "-c", "write -z 2097152 131072", ov)
		return ov
	}, format: "qcow2 v3", loose: true},
	{name: "chain3", build: func(tb testing.TB, dir, raw string) string {
		ov := overlay("compat=1.1", "")(tb, dir, raw)
		top := filepath.Join(dir, "top.qcow2")
		diskfixture.Run(tb, dir, "qemu-img", "create", "-q", "-f", "qcow2", "-b", filepath.Base(ov), "-F", "qcow2", top)
		diskfixture.Run(tb, dir, "qemu-io", "-f", "qcow2", "-c", "write -P 0x77 1081344 8192", "-c", "write -z 0 4096", top)
		return top
	}, format: "qcow2 v3"},
	{name: "snapshot", build: func(tb testing.TB, dir, raw string) string {
		p := convert("-o", "compat=1.1")(tb, dir, raw)
		diskfixture.Run(tb, dir, "qemu-img", "snapshot", "-c", "before", p)
		diskfixture.Run(tb, dir, "qemu-io", "-f", "qcow2", "-c", "write -P 0x5a 3145728 196608", "-c", "write -z 20971520 65536", p)
		diskfixture.Run(tb, dir, "qemu-img", "snapshot", "-c", "after", p)
		return p
	}, format: "qcow2 v3", warn: []string{"2 internal snapshot(s); the active layer is read (snapshots: ", `id "1" name "before" of 20`, `id "2" name "after" of 20`}},
}

var variantDirs sync.Map // name -> image path

// build returns the path of variant v's image, building it once.
func (v variant) path(tb testing.TB) string {
	tb.Helper()
	if p, ok := variantDirs.Load(v.name); ok {
		return p.(string)
	}
	r := diskfixture.Raw(tb)
	dir := filepath.Join(diskfixture.Dir(), v.name)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		tb.Fatal(err)
	}
	p := v.build(tb, dir, r)
	variantDirs.Store(v.name, p)
	return p
}

func TestAgainstQemu(t *testing.T) {
	for _, v := range variants {
		t.Run(v.name, func(t *testing.T) {
			p := v.path(t)
			size, want, m := diskfixture.QemuVirtualSize(t, p, "qcow2"), diskfixture.QemuRawSHA(t, p, "qcow2"), diskfixture.QemuMap(t, p, "qcow2")
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
			diskfixture.CheckMap(t, d, m, !v.loose)
			if after := diskfixture.HashDir(t, filepath.Dir(p)); after != before {
				t.Errorf("the image files changed while we read them: sha256 %s before, %s after", before, after)
			}
			if d.Format() != v.format {
				t.Errorf("Format() = %q, want %q", d.Format(), v.format)
			}
			w := strings.Join(d.Warnings(), "\n")
			for _, s := range v.warn {
				if !strings.Contains(w, s) {
					t.Errorf("Warnings() = %q, want %q in it", w, s)
				}
			}
			if len(v.warn) == 0 && w != "" {
				t.Errorf("Warnings() = %q, want none", w)
			}
		})
	}
}

// TestConcurrentReads reads one compressed image from four goroutines
// with different read sizes.
func TestConcurrentReads(t *testing.T) {
	v := variants[3] // v3-compressed
	p := v.path(t)
	d, err := openFile(t, p)
	if err != nil {
		t.Fatal(err)
	}
	diskfixture.ConcurrentSHA(t, d, d.Size(), diskfixture.QemuRawSHA(t, p, "qcow2"))
}

func TestBackingMissing(t *testing.T) {
	p := variants[8].path(t) // backing
	r, size, err := diskfixture.OSOpen(filepath.Dir(p))(filepath.Base(p))
	if err != nil {
		t.Fatal(err)
	}
	_, err = Open(r, size, "ov.qcow2", nil)
	var ue *UnsupportedError
	if !errors.As(err, &ue) || !strings.Contains(err.Error(), `backing file "base.qcow2"`) {
		t.Errorf("Open without OpenFunc: %v, want an UnsupportedError naming base.qcow2", err)
	}
	_, err = Open(r, size, "ov.qcow2", diskfixture.OSOpen(t.TempDir()))
	if !errors.As(err, &ue) || !errors.Is(err, os.ErrNotExist) || !strings.Contains(err.Error(), "missing") {
		t.Errorf("Open with the backing file missing: %v, want an UnsupportedError wrapping fs.ErrNotExist", err)
	}
	if !errors.Is(err, ErrUnsupported) {
		t.Errorf("%v is not ErrUnsupported", err)
	}
}

func TestDetect(t *testing.T) {
	for _, v := range variants[:3] {
		b, err := os.ReadFile(v.path(t))
		if err != nil {
			t.Fatal(err)
		}
		if !Detect(b[:4096], b[len(b)-512:]) {
			t.Errorf("%s: Detect = false", v.name)
		}
	}
	if Detect([]byte("QFI"), nil) || Detect(make([]byte, 4096), nil) {
		t.Error("Detect accepts a short or zero head")
	}
}
