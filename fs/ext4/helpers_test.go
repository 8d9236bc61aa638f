package ext4

import (
	"bytes"
	"fmt"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/mirrorchk/mirrorchk/internal/fixture"
)

// The fixtures are made by the real mkfs from one generated tree, in a
// temporary directory, the first time a test asks for them.
type fxSpec struct {
	mkfs string
	args []string
	size int64
}

var fxSpecs = map[string]fxSpec{
	// e2fsprogs 1.47 defaults: 64bit, metadata_csum, flex_bg, extents.
	"ext4": {"mkfs.ext4", []string{"-b", "4096"}, 64 << 20},
	// 32-bit descriptors with the crc16 descriptor checksum.
	"ext4-nocsum": {"mkfs.ext4", []string{"-b", "4096", "-O", "^metadata_csum,^64bit,uninit_bg"}, 64 << 20},
	// 1 KiB blocks, four groups, sparse_super2.
	"ext4-1k": {"mkfs.ext4", []string{"-b", "1024", "-O", "sparse_super2"}, 32 << 20},
	// meta_bg descriptors, no resize inode.
	"ext4-metabg": {"mkfs.ext4", []string{"-b", "1024", "-O", "meta_bg,^resize_inode"}, 48 << 20},
	// ext3: indirect blocks, 1 KiB blocks, journal.
	"ext3": {"mkfs.ext3", []string{"-b", "1024", "-I", "256"}, 32 << 20},
	"ext2": {"mkfs.ext2", []string{"-b", "4096"}, 32 << 20},
}

var fxNames = []string{"ext4", "ext4-nocsum", "ext4-1k", "ext4-metabg", "ext3", "ext2"}

var (
	tmpRoot  string
	treeOnce sync.Once
	treeDir  string
	fxMu     sync.Mutex
	fxBuilt  = map[string]string{}
)

func TestMain(m *testing.M) {
	d, err := os.MkdirTemp("", "ext4test")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	tmpRoot = d
	code := m.Run()
	os.RemoveAll(d)
	os.Exit(code)
}

// tree writes the source tree of the fixtures: small and larger files, a
// sparse file of many extents, a 700 KiB file (double indirect with 1 KiB
// blocks), a directory large enough for an htree, symlinks, a hard link.
func tree(tb testing.TB) string {
	treeOnce.Do(func() {
		treeDir = filepath.Join(tmpRoot, "tree")
		rnd := rand.New(rand.NewSource(1))
		write := func(p string, n int) {
			b := make([]byte, n)
			rnd.Read(b)
			os.MkdirAll(filepath.Dir(filepath.Join(treeDir, p)), 0o755)
			if err := os.WriteFile(filepath.Join(treeDir, p), b, 0o644); err != nil {
				panic(err)
			}
		}
		for i := 1; i <= 40; i++ {
			write(fmt.Sprintf("a/f%d", i), i*2500)
		}
		write("a/b/small", 100)
		write("big", 700<<10)
		for i := range 300 {
			write(fmt.Sprintf("many/entry-with-a-longish-name-%03d", i), 10+i)
		}
		f, err := os.Create(filepath.Join(treeDir, "sparse"))
		if err != nil {
			panic(err)
		}
		b := make([]byte, 4096)
		for i := range 30 {
			rnd.Read(b)
			f.WriteAt(b, int64(i)*64<<10)
		}
		f.Close()
		os.Symlink("a/f1", filepath.Join(treeDir, "short-link"))
		os.Symlink(strings.Repeat("long/", 20)+"target", filepath.Join(treeDir, "long-link"))
		os.Link(filepath.Join(treeDir, "a/f2"), filepath.Join(treeDir, "a/hard"))
		os.MkdirAll(filepath.Join(treeDir, "c/d/e"), 0o755)
	})
	return treeDir
}

// fixture returns the path of the named fixture image (shared: tests copy
// it before changing it).
func fixturePath(tb testing.TB, name string) string {
	tb.Helper()
	fxMu.Lock()
	defer fxMu.Unlock()
	if p, ok := fxBuilt[name]; ok {
		return p
	}
	spec, ok := fxSpecs[name]
	if !ok {
		tb.Fatalf("no fixture %s", name)
	}
	src := tree(tb)
	p := filepath.Join(tmpRoot, name+".img")
	if err := os.WriteFile(p, nil, 0o644); err != nil {
		tb.Fatal(err)
	}
	if err := os.Truncate(p, spec.size); err != nil {
		tb.Fatal(err)
	}
	args := append([]string{"-q", "-F", "-d", src, "-E", "root_owner=0:0"}, spec.args...)
	args = append(args, p)
	if out, code := run(tb, spec.mkfs, "e2fsprogs", args...); code != 0 {
		tb.Fatalf("%s %v: %d %s", spec.mkfs, args, code, out)
	}
	// Index the directories (htree) as e2fsck -D does.
	if out, code := run(tb, "e2fsck", "e2fsprogs", "-fyD", p); code > 1 {
		tb.Fatalf("e2fsck -fyD: %d %s", code, out)
	}
	fxBuilt[name] = p
	return p
}

// run runs a peer tool and returns its combined output and exit status.
func run(tb testing.TB, tool, pkg string, args ...string) (string, int) {
	tb.Helper()
	return runEnv(tb, nil, tool, pkg, args...)
}

func runEnv(tb testing.TB, env []string, tool, pkg string, args ...string) (string, int) {
	tb.Helper()
	cmd := exec.Command(fixture.Tool(tb, tool, pkg), args...)
	cmd.Env = append(os.Environ(), env...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	if err != nil {
		if ee, ok := err.(*exec.ExitError); ok {
			return out.String(), ee.ExitCode()
		}
		tb.Fatalf("%s: %v", tool, err)
	}
	return out.String(), 0
}

// copyImage copies an image sparsely to a new file in the test's temp dir.
func copyImage(tb testing.TB, src, name string) string {
	tb.Helper()
	dst := filepath.Join(tb.TempDir(), name)
	if out, err := exec.Command("cp", "--sparse=always", src, dst).CombinedOutput(); err != nil {
		tb.Fatalf("cp: %v %s", err, out)
	}
	return dst
}

// debugfsW runs debugfs -w with the commands on img, at a fake time.
func debugfsW(tb testing.TB, img string, fakeTime int64, cmds ...string) string {
	tb.Helper()
	f := filepath.Join(tb.TempDir(), "cmds")
	if err := os.WriteFile(f, []byte(strings.Join(cmds, "\n")+"\n"), 0o644); err != nil {
		tb.Fatal(err)
	}
	var env []string
	if fakeTime > 0 {
		env = append(env, fmt.Sprintf("E2FSPROGS_FAKE_TIME=%d", fakeTime))
	}
	out, code := runEnv(tb, env, "debugfs", "e2fsprogs", "-w", "-f", f, img)
	if code != 0 {
		tb.Fatalf("debugfs -w %v: %d %s", cmds, code, out)
	}
	return out
}

// debugfsR runs read-only debugfs commands on img.
func debugfsR(tb testing.TB, img string, cmds ...string) string {
	tb.Helper()
	f := filepath.Join(tb.TempDir(), "cmds")
	if err := os.WriteFile(f, []byte(strings.Join(cmds, "\n")+"\n"), 0o644); err != nil {
		tb.Fatal(err)
	}
	out, code := run(tb, "debugfs", "e2fsprogs", "-f", f, img)
	if code != 0 {
		tb.Fatalf("debugfs %v: %d %s", cmds, code, out)
	}
	return out
}

// bmaps returns the blocks of "PATH LOGICAL" in img (0 for a hole).
func bmaps(tb testing.TB, img string, args ...string) []uint64 {
	tb.Helper()
	var cmds []string
	for _, a := range args {
		cmds = append(cmds, "bmap "+a)
	}
	out := debugfsR(tb, img, cmds...)
	m := regexp.MustCompile(`(?m)^(\d+)$`).FindAllStringSubmatch(out, -1)
	if len(m) != len(args) {
		tb.Fatalf("bmap %v: %s", args, out)
	}
	var bs []uint64
	for _, x := range m {
		b, _ := strconv.ParseUint(x[1], 10, 64)
		bs = append(bs, b)
	}
	return bs
}

// pokeBlock overwrites block b of img with random bytes.
func pokeBlock(tb testing.TB, img string, bs int64, b uint64, seed int64) {
	tb.Helper()
	f, err := os.OpenFile(img, os.O_WRONLY, 0)
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	d := make([]byte, bs)
	rand.New(rand.NewSource(seed)).Read(d)
	if _, err := f.WriteAt(d, int64(b)*bs); err != nil {
		tb.Fatal(err)
	}
}

func openFile(tb testing.TB, p string) *Volume {
	tb.Helper()
	f, err := os.Open(p)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { f.Close() })
	st, err := f.Stat()
	if err != nil {
		tb.Fatal(err)
	}
	v, err := Open(f, st.Size())
	if err != nil {
		tb.Fatalf("%s: %v", p, err)
	}
	return v
}

// diffBlocks returns the blocks (of size bs) where two images differ.
func diffBlocks(tb testing.TB, a, b string, bs int64) []uint64 {
	tb.Helper()
	x, err := os.ReadFile(a)
	if err != nil {
		tb.Fatal(err)
	}
	y, err := os.ReadFile(b)
	if err != nil {
		tb.Fatal(err)
	}
	if len(x) != len(y) {
		tb.Fatalf("sizes %d and %d", len(x), len(y))
	}
	var out []uint64
	for off := int64(0); off < int64(len(x)); off += bs {
		if !bytes.Equal(x[off:off+bs], y[off:off+bs]) {
			out = append(out, uint64(off/bs))
		}
	}
	return out
}

// diverge makes the standard diverged copy of a fixture: files written,
// removed and made, inode fields set, data blocks overwritten in place, all
// by debugfs at a later (fake) time.
func diverge(tb testing.TB, base string, bs int64) string {
	tb.Helper()
	cp := copyImage(tb, base, "m1.img")
	host := filepath.Join(tb.TempDir(), "new")
	b := make([]byte, 50000)
	rand.New(rand.NewSource(7)).Read(b)
	if err := os.WriteFile(host, b, 0o644); err != nil {
		tb.Fatal(err)
	}
	blocks := bmaps(tb, cp, "/a/f10 0", "/a/f20 0", "/big 0", "/sparse 0", "/many/entry-with-a-longish-name-100 0",
		"/big 300") // past the first indirect block with 1 KiB blocks
	debugfsW(tb, cp, 2000000000,
		"write "+host+" /a/new1",
		"rm /a/f3",
		"mkdir /c/newdir",
		"set_inode_field /a/f5 mtime 20300101000000",
		"set_inode_field /a/b mode 040700",
		"rm /many/entry-with-a-longish-name-007")
	for i, blk := range blocks {
		if blk == 0 {
			continue // a hole (/big has 175 blocks of 4 KiB)
		}
		pokeBlock(tb, cp, bs, blk, int64(i))
	}
	return cp
}

// pokeByte flips one byte of img.
func pokeByte(tb testing.TB, img string, off int64) {
	tb.Helper()
	f, err := os.OpenFile(img, os.O_RDWR, 0)
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	b := make([]byte, 1)
	if _, err := f.ReadAt(b, off); err != nil {
		tb.Fatal(err)
	}
	b[0] ^= 0x5A
	if _, err := f.WriteAt(b, off); err != nil {
		tb.Fatal(err)
	}
}
