package ext4

import (
	"fmt"
	"math/rand"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

var (
	bigOnce   sync.Once
	bigImg    string
	bigBlocks []uint64
)

// bigFS builds, once, a 512 MiB sparse ext4 (1 KiB blocks) from a tree of
// 100,000 files in 1,000 directories (half of them empty, the rest up to
// 3 KiB), and picks 1,000 blocks spread over its used part. With
// EXT4_BENCH_KEEP=DIR set, the image is made in DIR and kept, and the
// blocks are written to DIR/blocks for bench/ext4-owners.sh.
func bigFS(tb testing.TB) (string, []uint64) {
	bigOnce.Do(func() {
		dir := filepath.Join(tmpRoot, "big")
		if k := os.Getenv("EXT4_BENCH_KEEP"); k != "" {
			dir = k
		}
		img := filepath.Join(dir, "big.img")
		rnd := rand.New(rand.NewSource(3))
		if k := os.Getenv("EXT4_BENCH_KEEP"); k != "" {
			// Made by an earlier run: reuse it.
			if raw, err := os.ReadFile(filepath.Join(k, "blocks")); err == nil {
				for _, f := range strings.Fields(string(raw)) {
					var b uint64
					fmt.Sscan(f, &b)
					bigBlocks = append(bigBlocks, b)
				}
				bigImg = img
				return
			}
		}
		if err := os.MkdirAll(dir, 0o755); err != nil {
			tb.Fatal(err)
		}
		// The source tree in memory when /dev/shm is there: 100,000
		// small files are written and read back much faster.
		srcRoot := dir
		if st, err := os.Stat("/dev/shm"); err == nil && st.IsDir() {
			if d, err := os.MkdirTemp("/dev/shm", "ext4bench"); err == nil {
				srcRoot = d
				defer os.RemoveAll(d)
			}
		}
		src := filepath.Join(srcRoot, "src")
		buf := make([]byte, 3000)
		rnd.Read(buf)
		for d := range 1000 {
			p := filepath.Join(src, fmt.Sprintf("d%03d", d/100), fmt.Sprintf("e%03d", d))
			if err := os.MkdirAll(p, 0o755); err != nil {
				tb.Fatal(err)
			}
			for f := range 100 {
				n := 0
				if f%2 == 1 {
					n = rnd.Intn(3000)
				}
				if err := os.WriteFile(filepath.Join(p, fmt.Sprintf("file-%03d", f)), buf[:n], 0o644); err != nil {
					tb.Fatal(err)
				}
			}
		}
		os.WriteFile(img, nil, 0o644)
		if err := os.Truncate(img, 512<<20); err != nil {
			tb.Fatal(err)
		}
		if out, code := run(tb, "mkfs.ext4", "e2fsprogs", "-q", "-F", "-b", "1024", "-N", "110000", "-d", src, img); code != 0 {
			tb.Fatalf("mkfs.ext4: %d %s", code, out)
		}
		os.RemoveAll(src)
		v := openFile(tb, img)
		used := v.sb.BlocksCount - v.sb.FreeBlocks
		// The used blocks lie at the start with mkfs -d; spread over 1.2x
		// of them so that some are free.
		for range 1000 {
			bigBlocks = append(bigBlocks, uint64(rnd.Int63n(int64(used*6/5))))
		}
		if k := os.Getenv("EXT4_BENCH_KEEP"); k != "" {
			var s []string
			for _, b := range bigBlocks {
				s = append(s, fmt.Sprint(b))
			}
			os.WriteFile(filepath.Join(k, "blocks"), []byte(strings.Join(s, " ")+"\n"), 0o644)
		}
		bigImg = img
	})
	if bigImg == "" {
		tb.Fatal("the 100,000-file filesystem was not built")
	}
	return bigImg, bigBlocks
}

// BenchmarkOwners1000 opens the 100,000-file filesystem and maps 1,000
// differing one-block ranges to their owners (paths included), as check
// does for a member: a fresh Volume each time, so the lazy reverse map and
// directory reads are counted.
func BenchmarkOwners1000(b *testing.B) {
	img, blocks := bigFS(b)
	benchOwners(b, img, blocks)
}

// BenchmarkOwners10 maps 10 of those ranges: the groups read (metric
// groups-read, of 64) show the lazy reverse map at work.
func BenchmarkOwners10(b *testing.B) {
	img, blocks := bigFS(b)
	benchOwners(b, img, blocks[:10])
}

func benchOwners(b *testing.B, img string, blocks []uint64) {
	f, err := os.Open(img)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	st, _ := f.Stat()
	b.ReportAllocs()
	b.ResetTimer()
	var v *Volume
	for b.Loop() {
		v, err = Open(f, st.Size())
		if err != nil {
			b.Fatal(err)
		}
		for _, blk := range blocks {
			v.Owners(int64(blk)*v.bs, v.bs)
		}
	}
	b.ReportMetric(float64(v.nscanned), "groups-read")
}

// TestOwners100k checks, on the benchmark's filesystem, that the owners
// of the 1,000 blocks agree with debugfs icheck/ncheck/testb and dumpe2fs
// (a sample of 200, to keep the test short), and that e2fsck's clean
// verdict holds. The speed is shown by BenchmarkOwners1000 and
// bench/ext4-owners.sh, not asserted here.
func TestOwners100k(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a 100,000-file filesystem")
	}
	img, blocks := bigFS(t)
	blocks = blocks[:200]
	v := openFile(t, img)
	meta := metaClasses(t, img)
	cls, names := debugfsOwners(t, img, blocks)
	bad := 0
	for _, b := range blocks {
		o := ownerOfBlock(v, b)
		ours := ourClass(o, v.sb.InodesPerGroup)
		peer, ok := meta[b]
		if !ok {
			peer = cls[b]
		}
		if peer != ours || (strings.HasPrefix(peer, "inode:") && o.Record >= int64(v.sb.FirstIno) && !contains(names[o.Record], o.Path)) {
			if b == 0 && ours == BootBlock {
				continue // the boot block of a 1 KiB-block filesystem: no peer names it
			}
			bad++
			t.Errorf("block %d: ours %q %q, peers %q %q", b, ours, o.Path, peer, names[o.Record])
		}
	}
	if e := errorsOf(v.Problems()); len(e) > 0 {
		t.Errorf("problems on a fresh mkfs: %+v", e)
	}
	t.Logf("%d blocks, %d disagree; %d groups read of %d", len(blocks), bad, v.nscanned, v.groups)
}
