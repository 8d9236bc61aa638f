package image

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// need returns the path of a tool the test compares against, or fails
// naming the Debian package: a missing tool is a failure, not a skip.
func need(t *testing.T, tool, pkg string) string {
	t.Helper()
	p, err := exec.LookPath(tool)
	if err != nil {
		t.Fatalf("%s is not installed (apt-get install -y %s); the tests need it", tool, pkg)
	}
	return p
}

func run(t *testing.T, name string, args ...string) {
	t.Helper()
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
}

// rawFAT makes a small raw disk image with a real FAT filesystem.
func rawFAT(t *testing.T, dir string) string {
	t.Helper()
	need(t, "mkfs.fat", "dosfstools")
	p := filepath.Join(dir, "disk.img")
	run(t, "mkfs.fat", "-C", "-n", "DETECT", p, "2048")
	return p
}

// TestDetectRefusals makes each refused format with its own real tool and
// checks that Open refuses it with a message naming the format and what to
// do, never reading it as raw.
func TestDetectRefusals(t *testing.T) {
	dir := t.TempDir()
	raw := rawFAT(t, dir)
	compress := func(tool, pkg, out string, args ...string) func(t *testing.T) string {
		return func(t *testing.T) string {
			need(t, tool, pkg)
			dst := filepath.Join(dir, out)
			cmd := exec.Command(tool, append(args, raw)...)
			f, err := os.Create(dst)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			cmd.Stdout = f
			if err := cmd.Run(); err != nil {
				t.Fatalf("%s: %v", tool, err)
			}
			return dst
		}
	}
	qemu := func(format, out string) func(t *testing.T) string {
		return func(t *testing.T) string {
			need(t, "qemu-img", "qemu-utils")
			dst := filepath.Join(dir, out)
			run(t, "qemu-img", "convert", "-f", "raw", "-O", format, raw, dst)
			return dst
		}
	}
	tests := []struct {
		name   string
		make   func(t *testing.T) string
		format string
		what   string
	}{
		{"gzip", compress("gzip", "gzip", "disk.img.gz", "-c"), "gzip stream", "gunzip"},
		{"xz", compress("xz", "xz-utils", "disk.img.xz", "-c"), "xz stream", "xz -d"},
		{"zstd", compress("zstd", "zstd", "disk.img.zst", "-c", "-q"), "zstd stream", "zstd -d"},
		{"bzip2", compress("bzip2", "bzip2", "disk.img.bz2", "-c"), "bzip2 stream", "bunzip2"},
		{"tar", func(t *testing.T) string {
			need(t, "tar", "tar")
			dst := filepath.Join(dir, "disk.tar")
			run(t, "tar", "-C", dir, "-cf", dst, "disk.img")
			return dst
		}, "tar archive", "extract"},
		{"vdi", qemu("vdi", "disk.vdi"), "VirtualBox VDI", "qemu-img convert"},
		{"qed", qemu("qed", "disk.qed"), "QED image", "qemu-img convert"},
		// The qcow2 reader recognises the old version and refuses it itself.
		{"qcow1", qemu("qcow", "disk.qcow"), "qcow2 version 1", "qemu-img convert"},
		{"parallels", qemu("parallels", "disk.hds"), "Parallels image", "qemu-img convert"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := tt.make(t)
			im, err := Open(p)
			if err == nil {
				im.Close()
				t.Fatalf("Open(%s) read a %s as %s", filepath.Base(p), tt.format, im.Info().Format)
			}
			msg := err.Error()
			var ue *UnsupportedError
			if errors.As(err, &ue) {
				if !errors.Is(err, ErrUnsupported) || ue.Format != tt.format || !strings.HasPrefix(msg, p+": "+tt.format+": ") {
					t.Errorf("Open(%s) error %q (format %q); want %q", filepath.Base(p), msg, ue.Format, tt.format)
				}
			}
			if !strings.HasPrefix(msg, p+": ") || !strings.Contains(msg, tt.format) || !strings.Contains(msg, tt.what) {
				t.Errorf("Open(%s) error %q; want %q naming %q", filepath.Base(p), msg, tt.format, tt.what)
			}
		})
	}
}

// TestDetectRaw checks that real raw disks and filesystems, and bytes that
// merely resemble a signature somewhere else, are read as raw.
func TestDetectRaw(t *testing.T) {
	dir := t.TempDir()
	fat := rawFAT(t, dir)
	gzAt1 := filepath.Join(dir, "gz-at-1.img")
	b := make([]byte, 8192)
	copy(b[1:], "\x1f\x8b\x08\x00") // a gzip magic, not at offset 0
	writeFile(t, gzAt1, b)
	noDeflate := filepath.Join(dir, "1f8b-not-deflate.img")
	b = make([]byte, 8192)
	copy(b, "\x1f\x8b\x07\x00")
	writeFile(t, noDeflate, b)
	rnd := filepath.Join(dir, "random.img")
	writeFile(t, rnd, randBytes(7, 1<<20))
	for _, p := range []string{fat, gzAt1, noDeflate, rnd} {
		im, err := Open(p)
		if err != nil {
			t.Fatalf("Open(%s): %v", filepath.Base(p), err)
		}
		if f := im.Info().Format; f != "raw" || im.Container() {
			t.Errorf("Open(%s): format %q; want raw", filepath.Base(p), f)
		}
		im.Close()
	}
}
