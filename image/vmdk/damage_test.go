package vmdk

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/mirrorchk/mirrorchk/internal/diskfixture"
)

// readAll opens and reads the whole disk, using Extent to read only what
// is allocated, and returns the first error.
func readAll(r io.ReaderAt, size int64, name string, open OpenFunc) error {
	d, err := Open(r, size, name, open)
	if err != nil {
		return err
	}
	return diskfixture.ReadAllocated(d)
}

// firstGTE returns the file offset of the first grain table entry of a
// sparse extent that is not 0 or 1.
func firstGTE(t *testing.T, b []byte) int64 {
	gd := int64(le.Uint64(b[56:])) * 512
	for i := int64(0); gd+4*i < int64(len(b)); i++ {
		gt := int64(le.Uint32(b[gd+4*i:])) * 512
		if gt == 0 {
			continue
		}
		for j := int64(0); j < 512; j++ {
			if e := le.Uint32(b[gt+4*j:]); e > 1 {
				return gt + 4*j
			}
		}
	}
	t.Fatal("no allocated grain")
	return 0
}

// firstGDE returns the file offset of the first non-zero GD entry.
func firstGDE(t *testing.T, b []byte) int64 {
	gd := int64(le.Uint64(b[56:])) * 512
	for i := int64(0); gd+4*i < int64(len(b)); i++ {
		if le.Uint32(b[gd+4*i:]) != 0 {
			return gd + 4*i
		}
	}
	t.Fatal("no grain table")
	return 0
}

// replaceText replaces old by new in the descriptor text of b: the whole
// file for a text descriptor, the embedded descriptor of a sparse extent,
// which keeps its size (NUL padded).
func replaceText(t *testing.T, b []byte, old, new string) []byte {
	t.Helper()
	if string(b[:4]) != sparseMagic {
		if !bytes.Contains(b, []byte(old)) {
			t.Fatalf("no %q", old)
		}
		return bytes.Replace(b, []byte(old), []byte(new), 1)
	}
	off, n := int64(le.Uint64(b[28:]))*512, int64(le.Uint64(b[36:]))*512
	region := b[off : off+n]
	text := string(region[:bytes.IndexByte(region, 0)])
	if !strings.Contains(text, old) {
		t.Fatalf("no %q in %q", old, text)
	}
	text = strings.Replace(text, old, new, 1)
	if int64(len(text)) > n {
		t.Fatal("descriptor too long")
	}
	clear(region)
	copy(region, text)
	return b
}

func TestDamaged(t *testing.T) {
	type files map[string][]byte
	// each case edits a copy of one variant's directory and opens file
	tests := []struct {
		name, from, file string
		mess             func(t *testing.T, f files)
		field            string // expected in the FormatError's Field
	}{
		{"truncated-sparse", "monolithicSparse", "monolithicSparse.vmdk", func(t *testing.T, f files) {
			b := f["monolithicSparse.vmdk"]
			f["monolithicSparse.vmdk"] = b[:len(b)/2]
		}, "grain table entry"},
		{"truncated-stream", "streamOptimized", "streamOptimized.vmdk", func(t *testing.T, f files) {
			b := f["streamOptimized.vmdk"]
			f["streamOptimized.vmdk"] = b[:len(b)/2] // qemu keeps the GD and GTs at the start
		}, "grain marker"},
		{"truncated-flat", "monolithicFlat", "monolithicFlat.vmdk", func(t *testing.T, f files) {
			b := f["monolithicFlat-flat.vmdk"]
			f["monolithicFlat-flat.vmdk"] = b[:len(b)-4096]
		}, "flat extent"},
		{"truncated-header", "monolithicSparse", "monolithicSparse.vmdk", func(t *testing.T, f files) {
			f["monolithicSparse.vmdk"] = f["monolithicSparse.vmdk"][:300]
		}, "header"},
		{"gte-past-eof", "monolithicSparse", "monolithicSparse.vmdk", func(t *testing.T, f files) {
			b := f["monolithicSparse.vmdk"]
			le.PutUint32(b[firstGTE(t, b):], 0x7fffffff)
		}, "grain table entry"},
		{"gte-past-eof-stream", "streamOptimized", "streamOptimized.vmdk", func(t *testing.T, f files) {
			b := f["streamOptimized.vmdk"]
			le.PutUint32(b[firstGTE(t, b):], 0x7fffffff)
		}, "grain table entry"},
		{"gde-past-eof", "monolithicSparse", "monolithicSparse.vmdk", func(t *testing.T, f files) {
			b := f["monolithicSparse.vmdk"]
			le.PutUint32(b[firstGDE(t, b):], 0x7fffffff)
		}, "grain directory entry"},
		{"corrupt-zlib", "streamOptimized", "streamOptimized.vmdk", func(t *testing.T, f files) {
			b := f["streamOptimized.vmdk"]
			g := int64(le.Uint32(b[firstGTE(t, b):])) * 512
			for i := g + 14; i < g+80; i++ {
				b[i] ^= 0x55
			}
		}, "compressed grain"},
		{"adler32", "streamOptimized", "streamOptimized.vmdk", func(t *testing.T, f files) {
			b := f["streamOptimized.vmdk"]
			g := int64(le.Uint32(b[firstGTE(t, b):])) * 512
			size := int64(le.Uint32(b[g+8:]))
			b[g+12+size-1] ^= 1 // the last byte of the zlib Adler-32
		}, "compressed grain"},
		{"grain-marker-lba", "streamOptimized", "streamOptimized.vmdk", func(t *testing.T, f files) {
			b := f["streamOptimized.vmdk"]
			g := int64(le.Uint32(b[firstGTE(t, b):])) * 512
			le.PutUint64(b[g:], le.Uint64(b[g:])+128)
		}, "grain marker"},
		{"grain-marker-size", "streamOptimized", "streamOptimized.vmdk", func(t *testing.T, f files) {
			b := f["streamOptimized.vmdk"]
			g := int64(le.Uint32(b[firstGTE(t, b):])) * 512
			le.PutUint32(b[g+8:], 1<<30)
		}, "grain marker"},
		{"absurd-capacity", "monolithicSparse", "monolithicSparse.vmdk", func(t *testing.T, f files) {
			b := f["monolithicSparse.vmdk"]
			le.PutUint64(b[12:], 1<<40)
			replaceText(t, b, "RW 81927 SPARSE", "RW 1 SPARSE") // keep the descriptor consistent
		}, "gdOffset"},
		{"absurd-descriptor-offset", "monolithicSparse", "monolithicSparse.vmdk", func(t *testing.T, f files) {
			le.PutUint64(f["monolithicSparse.vmdk"][28:], 1<<61)
		}, "descriptorOffset"},
		{"absurd-gd-offset", "monolithicSparse", "monolithicSparse.vmdk", func(t *testing.T, f files) {
			le.PutUint64(f["monolithicSparse.vmdk"][56:], 1<<61)
		}, "gdOffset"},
		{"grain-size", "monolithicSparse", "monolithicSparse.vmdk", func(t *testing.T, f files) {
			le.PutUint64(f["monolithicSparse.vmdk"][20:], 3)
		}, "grainSize"},
		{"gtes", "monolithicSparse", "monolithicSparse.vmdk", func(t *testing.T, f files) {
			le.PutUint32(f["monolithicSparse.vmdk"][44:], 0)
		}, "numGTEsPerGT"},
		{"version", "monolithicSparse", "monolithicSparse.vmdk", func(t *testing.T, f files) {
			le.PutUint32(f["monolithicSparse.vmdk"][4:], 9)
		}, "version"},
		{"text-mode-transfer", "monolithicSparse", "monolithicSparse.vmdk", func(t *testing.T, f files) {
			f["monolithicSparse.vmdk"][75] = '\n' // \r\n became \n\n
		}, "newline test"},
		{"gd-at-end-no-footer", "streamOptimized", "streamOptimized.vmdk", func(t *testing.T, f files) {
			copy(f["streamOptimized.vmdk"][56:], bytes.Repeat([]byte{0xff}, 8))
		}, "footer"},
		{"descriptor-extent-larger", "monolithicSparse", "monolithicSparse.vmdk", func(t *testing.T, f files) {
			replaceText(t, f["monolithicSparse.vmdk"], "RW 81927 SPARSE", "RW 99999 SPARSE")
		}, "descriptor extent"},
		{"descriptor-extent-line", "monolithicFlat", "monolithicFlat.vmdk", func(t *testing.T, f files) {
			f["monolithicFlat.vmdk"] = replaceText(t, f["monolithicFlat.vmdk"], "RW 81927 FLAT", "RW x FLAT")
		}, "descriptor extent line"},
		{"descriptor-huge", "monolithicFlat", "monolithicFlat.vmdk", func(t *testing.T, f files) {
			f["monolithicFlat.vmdk"] = append(f["monolithicFlat.vmdk"], bytes.Repeat([]byte("# padding\n"), 10000)...)
		}, "descriptor"},
		{"sparse-extent-shorter", "twoGbMaxExtentSparse", "twoGbMaxExtentSparse.vmdk", func(t *testing.T, f files) {
			f["twoGbMaxExtentSparse.vmdk"] = replaceText(t, f["twoGbMaxExtentSparse.vmdk"], "RW 81927 SPARSE", "RW 99999 SPARSE")
		}, "capacity"},
		{"parent-loop-self", "parent", "child.vmdk", func(t *testing.T, f files) {
			replaceText(t, f["child.vmdk"], `parentFileNameHint="base.vmdk"`, `parentFileNameHint="child.vmdk"`)
		}, "parentFileNameHint"},
		{"parent-loop", "parent", "child.vmdk", func(t *testing.T, f files) {
			// child.vmdk -> base.vmdk -> child.vmdk
			replaceText(t, f["base.vmdk"], "parentCID=ffffffff", "parentCID=00000000\nparentFileNameHint=\"child.vmdk\"")
		}, "parentFileNameHint"},
		{"parent-cid", "parent", "child.vmdk", func(t *testing.T, f files) {
			b := f["child.vmdk"]
			i := bytes.Index(b, []byte("parentCID="))
			line := string(b[i : i+bytes.IndexByte(b[i:], '\n')])
			replaceText(t, b, line, "parentCID=12345678")
		}, "parentCID"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			src := filepath.Dir(variantNamed(t, tc.from))
			f := files{}
			ents, err := os.ReadDir(src)
			if err != nil {
				t.Fatal(err)
			}
			for _, e := range ents {
				b, err := os.ReadFile(filepath.Join(src, e.Name()))
				if err != nil {
					t.Fatal(err)
				}
				f[e.Name()] = b
			}
			tc.mess(t, f)
			dir := t.TempDir()
			for n, b := range f {
				if err := os.WriteFile(filepath.Join(dir, n), b, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			r, size, err := diskfixture.OSOpen(dir)(tc.file)
			if err != nil {
				t.Fatal(err)
			}
			var ms0, ms1 runtime.MemStats
			runtime.ReadMemStats(&ms0)
			err = readAll(r, size, tc.file, diskfixture.OSOpen(dir))
			runtime.ReadMemStats(&ms1)
			var fe *FormatError
			if !errors.As(err, &fe) {
				t.Fatalf("got %v, want a FormatError", err)
			}
			if !strings.Contains(fe.Field, tc.field) || !strings.Contains(err.Error(), ".vmdk: VMDK ") {
				t.Errorf("got %v (field %q), want field %q", err, fe.Field, tc.field)
			}
			if a := ms1.TotalAlloc - ms0.TotalAlloc; a > 64<<20 {
				t.Errorf("allocated %d bytes", a)
			}
			t.Log(err)
		})
	}
}

func TestUnsupported(t *testing.T) {
	dir := filepath.Dir(variantNamed(t, "monolithicFlat"))
	desc, err := os.ReadFile(filepath.Join(dir, "monolithicFlat.vmdk"))
	if err != nil {
		t.Fatal(err)
	}
	sp, err := os.ReadFile(variantNamed(t, "monolithicSparse"))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		b    []byte
		want string
	}{
		{"device", bytes.Replace(desc, []byte(`"monolithicFlat-flat.vmdk"`), []byte(`"/dev/sda"`), 1), `extent file "/dev/sda", which is not a plain file name`},
		{"dotdot", bytes.Replace(desc, []byte(`"monolithicFlat-flat.vmdk"`), []byte(`"../x-flat.vmdk"`), 1), "not a plain file name"},
		{"rdm", bytes.Replace(desc, []byte(`FLAT "monolithicFlat-flat.vmdk" 0`), []byte(`VMFSRDM "monolithicFlat-flat.vmdk"`), 1), "extent type VMFSRDM"},
		{"noaccess", bytes.Replace(desc, []byte(`RW 81927`), []byte(`NOACCESS 81927`), 1), "NOACCESS extent"},
		{"cowd", append([]byte("COWD"), make([]byte, 2044)...), "vmfsSparse (COWD)"},
		{"compression", func() []byte {
			b := bytes.Clone(sp)
			le.PutUint32(b[8:], le.Uint32(b[8:])|flagCompressed)
			b[77] = 2
			return b
		}(), "compression algorithm 2"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Open(bytes.NewReader(tc.b), int64(len(tc.b)), "x.vmdk", diskfixture.OSOpen(dir))
			var ue *UnsupportedError
			if !errors.As(err, &ue) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want an UnsupportedError about %q", err, tc.want)
			}
			t.Log(err)
		})
	}
}

// TestUnclean: the unclean-shutdown flag is a warning; the disk reads as
// before.
func TestUnclean(t *testing.T) {
	b, err := os.ReadFile(variantNamed(t, "monolithicSparse"))
	if err != nil {
		t.Fatal(err)
	}
	c := bytes.Clone(b)
	c[72] = 1
	d, err := Open(bytes.NewReader(c), int64(len(c)), "x.vmdk", nil)
	if err != nil {
		t.Fatal(err)
	}
	if w := strings.Join(d.Warnings(), "\n"); !strings.Contains(w, "unclean shutdown flag is set in x.vmdk") {
		t.Errorf("Warnings() = %q", w)
	}
	d0, err := Open(bytes.NewReader(b), int64(len(b)), "x.vmdk", nil)
	if err != nil {
		t.Fatal(err)
	}
	if a, b := diskfixture.ReadSHA(t, d, d.Size(), 1<<20), diskfixture.ReadSHA(t, d0, d0.Size(), 1<<20); a != b {
		t.Errorf("sha256 %s, want %s", a, b)
	}
}
