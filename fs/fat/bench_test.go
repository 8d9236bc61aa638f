package fat

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

// manyFiles builds a 64 MiB FAT32 volume with 3000 small files in 10
// directories (mcopy -s of a local tree).
func manyFiles(b *testing.B) []byte {
	p := tools(b)
	dir := b.TempDir()
	tree := filepath.Join(dir, "many")
	for d := range 10 {
		sub := filepath.Join(tree, fmt.Sprintf("directory number %d", d))
		if err := os.MkdirAll(sub, 0o755); err != nil {
			b.Fatal(err)
		}
		for f := range 300 {
			name := filepath.Join(sub, fmt.Sprintf("a file with a long name %04d.txt", f))
			if err := os.WriteFile(name, bytes.Repeat([]byte{byte(f)}, 100+f*13), 0o644); err != nil {
				b.Fatal(err)
			}
		}
	}
	img := filepath.Join(dir, "v.img")
	run(b, dir, p.mkfs, "--invariant", "-F", "32", "-C", img, "65536")
	run(b, dir, p.mcopy, "-s", "-i", img, tree, "::/")
	data, err := os.ReadFile(img)
	if err != nil {
		b.Fatal(err)
	}
	return data
}

func BenchmarkOpen(b *testing.B) {
	img := manyFiles(b)
	v := open(b, img)
	if n := len(v.Files()); n != 3011 {
		b.Fatalf("%d files, want 3011", n)
	}
	b.SetBytes(int64(len(img)))
	b.ResetTimer()
	for b.Loop() {
		if _, err := Open(bytes.NewReader(img), int64(len(img))); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkOwners(b *testing.B) {
	img := manyFiles(b)
	v := open(b, img)
	b.ResetTimer()
	for b.Loop() {
		v.Owners(0, v.Size())
	}
}
