package qcow2

import (
	"bytes"
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/mirrorchk/mirrorchk/internal/diskfixture"
)

var be = binary.BigEndian

// readAll opens and reads the whole image, using Extent to read only what
// is allocated, and returns the first error.
func readAll(b []byte, name string, open OpenFunc) error {
	d, err := Open(bytes.NewReader(b), int64(len(b)), name, open)
	if err != nil {
		return err
	}
	return diskfixture.ReadAllocated(d)
}

// firstL2 returns the file offset of the first L2 table of a qcow2 image
// and of its first entry matching ok.
func firstL2(t *testing.T, b []byte, ok func(e uint64) bool) (l2, entry int64) {
	l1 := int64(be.Uint64(b[40:]))
	for i := int64(0); ; i++ {
		l2 = int64(be.Uint64(b[l1+8*i:]) & offsetMask)
		if l2 == 0 {
			continue
		}
		cluster := int64(1) << be.Uint32(b[20:])
		for j := int64(0); j < cluster/8; j++ {
			if e := be.Uint64(b[l2+8*j:]); e != 0 && ok(e) {
				return l2, l2 + 8*j
			}
		}
		if i > 64 {
			t.Fatal("no matching L2 entry")
		}
	}
}

func TestDamaged(t *testing.T) {
	read := func(t *testing.T, name string) []byte {
		var v variant
		for _, x := range variants {
			if x.name == name {
				v = x
			}
		}
		b, err := os.ReadFile(v.path(t))
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	compressed := func(e uint64) bool { return e&flagComp != 0 }
	standard := func(e uint64) bool { return e&flagComp == 0 && e&offsetMask != 0 }
	tests := []struct {
		name, from string
		mess       func(t *testing.T, b []byte) []byte
		field      string // expected in the FormatError's Field
	}{
		{"truncated", "v3", func(t *testing.T, b []byte) []byte { return b[:len(b)/2] }, "L2 table entry"},
		{"truncated-compressed", "v3-compressed", func(t *testing.T, b []byte) []byte { return b[:len(b)*2/3] }, "L2 table entry"},
		{"truncated-header", "v3", func(t *testing.T, b []byte) []byte { return b[:100] }, "header"},
		{"magic", "v3", func(t *testing.T, b []byte) []byte { b[3] = 0; return b }, "magic"},
		{"version", "v3", func(t *testing.T, b []byte) []byte { be.PutUint32(b[4:], 9); return b }, "version"},
		{"cluster-bits", "v3", func(t *testing.T, b []byte) []byte { be.PutUint32(b[20:], 40); return b }, "cluster_bits"},
		{"absurd-size", "v3", func(t *testing.T, b []byte) []byte { be.PutUint64(b[24:], 1<<60); return b }, "size"},
		{"size-beyond-l1", "v3", func(t *testing.T, b []byte) []byte { be.PutUint64(b[24:], 1<<50); return b }, "l1_size"},
		{"absurd-l1", "v3", func(t *testing.T, b []byte) []byte {
			be.PutUint64(b[24:], 1<<50)
			be.PutUint32(b[36:], 0xffffffff)
			return b
		}, "l1_table_offset"},
		{"l1-past-eof", "v3", func(t *testing.T, b []byte) []byte {
			be.PutUint64(b[24:], 1<<42) // 64 KiB of L1 from the end of the file
			be.PutUint32(b[36:], 1<<20)
			be.PutUint64(b[40:], uint64(len(b)/65536*65536))
			return b
		}, "l1_table_offset"},
		{"l1-entry-past-eof", "v3", func(t *testing.T, b []byte) []byte {
			l1 := be.Uint64(b[40:])
			be.PutUint64(b[l1:], 1<<63|1<<40)
			return b
		}, "L1 table entry 0"},
		{"l1-entry-unaligned", "v3", func(t *testing.T, b []byte) []byte {
			l1 := be.Uint64(b[40:])
			be.PutUint64(b[l1:], be.Uint64(b[l1:])+512)
			return b
		}, "L1 table entry 0"},
		{"l2-entry-past-eof", "v3", func(t *testing.T, b []byte) []byte {
			_, e := firstL2(t, b, standard)
			be.PutUint64(b[e:], 1<<63|1<<45)
			return b
		}, "L2 table entry"},
		{"l2-entry-into-header", "v3", func(t *testing.T, b []byte) []byte {
			_, e := firstL2(t, b, standard)
			be.PutUint64(b[e:], 1<<63|512)
			return b
		}, "L2 table entry"},
		{"compressed-past-eof", "v3-compressed", func(t *testing.T, b []byte) []byte {
			_, e := firstL2(t, b, compressed)
			be.PutUint64(b[e:], flagComp|1<<40)
			return b
		}, "L2 table entry"},
		{"corrupt-deflate", "v3-compressed", func(t *testing.T, b []byte) []byte {
			_, e := firstL2(t, b, compressed)
			host := be.Uint64(b[e:]) & (1<<(62-8) - 1)
			for i := range 64 {
				b[host+uint64(i)] = 0xff
			}
			return b
		}, "compressed cluster"},
		{"corrupt-zstd", "zstd", func(t *testing.T, b []byte) []byte {
			_, e := firstL2(t, b, compressed)
			host := be.Uint64(b[e:]) & (1<<(62-8) - 1)
			for i := range 64 {
				b[host+uint64(i)] ^= 0x5a
			}
			return b
		}, "compressed cluster"},
		{"extension-length", "v3", func(t *testing.T, b []byte) []byte {
			hl := be.Uint32(b[100:])
			be.PutUint32(b[hl+4:], 1<<30)
			return b
		}, "header extension length"},
		{"backing-name-outside", "backing", func(t *testing.T, b []byte) []byte { be.PutUint64(b[8:], 1<<40); return b }, "backing_file_offset"},
		{"backing-self-loop", "backing", func(t *testing.T, b []byte) []byte {
			off := be.Uint64(b[8:])
			be.PutUint32(b[16:], 7)
			copy(b[off:], "x.qcow2")
			return b
		}, "backing_file_offset"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b := tc.mess(t, bytes.Clone(read(t, tc.from)))
			dir := t.TempDir()
			if err := os.WriteFile(filepath.Join(dir, "x.qcow2"), b, 0o644); err != nil {
				t.Fatal(err)
			}
			base := filepath.Join(diskfixture.Dir(), "backing", "base.qcow2")
			if bb, err := os.ReadFile(base); err == nil {
				os.WriteFile(filepath.Join(dir, "base.qcow2"), bb, 0o644)
			}
			var ms0, ms1 runtime.MemStats
			runtime.ReadMemStats(&ms0)
			err := readAll(b, "x.qcow2", diskfixture.OSOpen(dir))
			runtime.ReadMemStats(&ms1)
			var fe *FormatError
			if !errors.As(err, &fe) {
				t.Fatalf("got %v, want a FormatError", err)
			}
			if fe.File != "x.qcow2" || !strings.Contains(fe.Field, tc.field) || !strings.Contains(err.Error(), "x.qcow2: qcow2 ") {
				t.Errorf("got %v (field %q), want file x.qcow2 and field %q", err, fe.Field, tc.field)
			}
			if a := ms1.TotalAlloc - ms0.TotalAlloc; a > 64<<20 {
				t.Errorf("allocated %d bytes", a)
			}
			t.Log(err)
		})
	}
}

// TestLoop: a.qcow2 -> b.qcow2 -> a.qcow2 is a FormatError.
func TestLoop(t *testing.T) {
	b, err := os.ReadFile(variants[8].path(t)) // backing: ov.qcow2 -> base.qcow2
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	off := be.Uint64(b[8:])
	for _, n := range [][2]string{{"a.qcow2", "b.qcow2"}, {"b.qcow2", "a.qcow2"}} {
		c := bytes.Clone(b)
		be.PutUint32(c[16:], uint32(len(n[1])))
		copy(c[off:], n[1])
		if err := os.WriteFile(filepath.Join(dir, n[0]), c, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	_, err = openFile(t, filepath.Join(dir, "a.qcow2"))
	var fe *FormatError
	if !errors.As(err, &fe) || !strings.Contains(err.Error(), "loops") {
		t.Fatalf("got %v, want a FormatError saying the chain loops", err)
	}
	t.Log(err)
}

func TestUnsupported(t *testing.T) {
	b, err := os.ReadFile(variants[1].path(t)) // v3
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		mess func(b []byte)
		want string
	}{
		{"aes", func(b []byte) { be.PutUint32(b[32:], 1) }, "AES encryption"},
		{"luks", func(b []byte) { be.PutUint32(b[32:], 2) }, "LUKS encryption"},
		{"version1", func(b []byte) { be.PutUint32(b[4:], 1) }, "version 1"},
		{"unknown-incompatible", func(b []byte) { be.PutUint64(b[72:], 1<<40) }, "incompatible feature bits 0x10000000000"},
		{"external-data", func(b []byte) { be.PutUint64(b[72:], incExternalData) }, "external data file"},
		{"compression-type", func(b []byte) { be.PutUint64(b[72:], incCompression); b[104] = 7 }, "compression type 7"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := bytes.Clone(b)
			tc.mess(c)
			_, err := Open(bytes.NewReader(c), int64(len(c)), "x.qcow2", nil)
			var ue *UnsupportedError
			if !errors.As(err, &ue) || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "qemu-img convert") {
				t.Fatalf("got %v, want an UnsupportedError about %q with advice", err, tc.want)
			}
			t.Log(err)
		})
	}
}

// TestDirtyCorrupt: the dirty and corrupt bits are warnings; the image is
// still read, byte for byte as before.
func TestDirtyCorrupt(t *testing.T) {
	b, err := os.ReadFile(variants[1].path(t)) // v3
	if err != nil {
		t.Fatal(err)
	}
	d0, err := Open(bytes.NewReader(b), int64(len(b)), "x.qcow2", nil)
	if err != nil {
		t.Fatal(err)
	}
	want := diskfixture.ReadSHA(t, d0, d0.Size(), 1<<20)
	c := bytes.Clone(b)
	be.PutUint64(c[72:], incDirty|incCorrupt)
	d, err := Open(bytes.NewReader(c), int64(len(c)), "x.qcow2", nil)
	if err != nil {
		t.Fatal(err)
	}
	w := strings.Join(d.Warnings(), "\n")
	if !strings.Contains(w, "dirty bit is set") || !strings.Contains(w, "corrupt bit is set") {
		t.Errorf("Warnings() = %q, want the dirty and corrupt bits", w)
	}
	if got := diskfixture.ReadSHA(t, d, d.Size(), 1<<20); got != want {
		t.Errorf("sha256 %s, want %s", got, want)
	}
}
