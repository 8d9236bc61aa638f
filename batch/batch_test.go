package batch

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/mirrorchk/mirrorchk/internal/fixture"
	"github.com/mirrorchk/mirrorchk/set"
)

func write(t *testing.T, path string, b []byte) string {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestCollectWalk: hidden and non-image files, later segments of split
// raw and EWF sets and hives are skipped and counted; a symlink back to a
// directory being walked is an input error, not an endless walk; a
// broken symlink is an input error; two links to one file are one image.
func TestCollectWalk(t *testing.T) {
	d := t.TempDir()
	img := make([]byte, 4096)
	write(t, filepath.Join(d, "a.img"), img)
	write(t, filepath.Join(d, ".hidden.img"), img)
	write(t, filepath.Join(d, "notes.txt"), []byte("x"))
	write(t, filepath.Join(d, "hashes.sha256"), []byte("x"))
	write(t, filepath.Join(d, "m1.img.gz"), []byte("\x1f\x8b\x08\x00"))
	write(t, filepath.Join(d, "sub", "logs.tar"), img)
	write(t, filepath.Join(d, "disk.001"), img)
	write(t, filepath.Join(d, "disk.002"), img)
	write(t, filepath.Join(d, "disk.003"), img)
	write(t, filepath.Join(d, "ev.E01"), img)
	write(t, filepath.Join(d, "ev.E02"), img)
	write(t, filepath.Join(d, "SYSTEM"), append([]byte("regf"), img...))
	write(t, filepath.Join(d, "sub", "b.img"), img)
	os.Symlink(d, filepath.Join(d, "sub", "loop"))
	os.Symlink("nowhere", filepath.Join(d, "sub", "broken.img"))
	os.Symlink(filepath.Join(d, "a.img"), filepath.Join(d, "sub", "again.img"))
	in, err := Collect([]string{d}, "")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, x := range in.Images {
		rel, _ := filepath.Rel(d, x.Path)
		if x.Err != nil {
			rel += " (error)"
		}
		got = append(got, rel)
	}
	want := "a.img disk.001 ev.E01 sub/b.img sub/broken.img (error) sub/loop (error)"
	if strings.Join(got, " ") != want {
		t.Errorf("images %q\nwant %q", strings.Join(got, " "), want)
	}
	wantSkip := map[string]int{"hidden": 1, "not-an-image": 2, "compressed": 2, "segment": 3, "hive": 1, "duplicate": 1}
	for k, v := range wantSkip {
		if in.Skipped[k] != v {
			t.Errorf("skipped %s = %d, want %d (%v)", k, in.Skipped[k], v, in.Skipped)
		}
	}
	if !in.Walked {
		t.Error("a directory was given: Walked")
	}
	// A compressed file may be a member stored compressed: each is named,
	// with what to do, as a warning of the plan.
	if want := []string{filepath.Join(d, "m1.img.gz"), filepath.Join(d, "sub", "logs.tar")}; !slices.Equal(in.Compressed, want) {
		t.Errorf("compressed %v, want %v", in.Compressed, want)
	}
	p, err := MakePlan(in, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	var named []string
	for _, pr := range p.Problems {
		if pr.Code == "compressed-skipped" && pr.Severity == set.Warning {
			named = append(named, pr.Member)
			if !strings.Contains(pr.Message, "extract it (") {
				t.Errorf("%s: %q says nothing of what to do", pr.Member, pr.Message)
			}
		}
	}
	if !slices.Equal(named, in.Compressed) {
		t.Errorf("compressed-skipped problems name %v, want %v", named, in.Compressed)
	}
	for _, x := range in.Images {
		if strings.HasSuffix(x.Path, "loop") && !strings.Contains(x.Err.Error(), "loop") {
			t.Errorf("loop error: %v", x.Err)
		}
	}
}

// TestLaterSegment: which names are later segments.
func TestLaterSegment(t *testing.T) {
	names := map[string]bool{"x.000": true, "x.001": true, "y.001": true}
	for _, tc := range []struct {
		name string
		want bool
	}{{"x.000", false}, {"x.001", true}, {"y.001", false}, {"y.002", true}, {"y.0010", true}, {"e.E01", false}, {"e.E02", true}, {"e.EAA", true}, {"e.Ex01", false}, {"e.Ex02", true}, {"e.L01", false}, {"plain.img", false}} {
		if got := laterSegment(tc.name, names); got != tc.want {
			t.Errorf("laterSegment(%q) = %v, want %v", tc.name, got, tc.want)
		}
	}
}

// TestManifest: CSV and JSON lines, relative paths joined to the
// manifest's directory, and the errors that name the line.
func TestManifest(t *testing.T) {
	d := t.TempDir()
	csv := write(t, filepath.Join(d, "m", "case.csv"), []byte("image,case,set,hive,member,serial,prefer\na.img,c1,s1,SYSTEM,1c7a3b52:32256,SN1,true\n/abs/b.img,c1,,,,,\n"))
	rows, err := ReadManifest(csv)
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 2 || rows[0].Path != filepath.Join(d, "m", "a.img") || rows[0].Hive != filepath.Join(d, "m", "SYSTEM") ||
		rows[0].Case != "c1" || rows[0].Set != "s1" || rows[0].Member != "1c7a3b52:32256" || rows[0].Serial != "SN1" || !rows[0].Prefer ||
		rows[1].Path != "/abs/b.img" || rows[1].Prefer {
		t.Errorf("csv rows %+v", rows)
	}
	jl := write(t, filepath.Join(d, "case.jsonl"), []byte("{\"image\": \"a.img\", \"prefer\": true}\n\n{\"image\": \"b.img\", \"case\": \"c2\"}\n"))
	rows, err = ReadManifest(jl)
	if err != nil || len(rows) != 2 || !rows[0].Prefer || rows[1].Case != "c2" || rows[1].Path != filepath.Join(d, "b.img") {
		t.Errorf("jsonl rows %+v %v", rows, err)
	}
	for _, tc := range []struct{ name, body, want string }{
		{"bad.csv", "image,colour\na.img,red\n", `:1: unknown column "colour"`},
		{"empty-image.csv", "image,case\n,c1\n", ":2: the image column is empty"},
		{"prefer.csv", "image,prefer\na.img,maybe\n", ":2: prefer"},
		{"member.csv", "image,member\na.img,1:2\n", "member needs hive"},
		{"bad.jsonl", "{\"image\": \"a\"}\n{\"image\": 3}\n", ":2: column \"image\""},
		{"unknown.jsonl", "{\"img\": \"a\"}\n", `unknown column "img"`},
		{"none.csv", "image\n", "no rows"},
	} {
		_, err := ReadManifest(write(t, filepath.Join(d, tc.name), []byte(tc.body)))
		var me *ManifestError
		if !errors.As(err, &me) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want a ManifestError with %q", tc.name, err, tc.want)
		}
	}
}

// TestShardOf: stable (a set's shard depends on its key alone), in range,
// and spreading the keys over the shards.
func TestShardOf(t *testing.T) {
	for _, n := range []int{1, 3, 7} {
		count := make([]int, n)
		for i := range 700 {
			k := fmt.Sprintf("md:%08x", i*2654435761)
			s := ShardOf(k, n)
			if s < 0 || s >= n || s != ShardOf(k, n) {
				t.Fatalf("ShardOf(%s, %d) = %d", k, n, s)
			}
			count[s]++
		}
		for i, c := range count {
			if c < 700/n/2 {
				t.Errorf("N=%d: shard %d holds %d of 700", n, i, c)
			}
		}
	}
	// Known values: a change of the hash would reshuffle existing shards.
	if got := ShardOf("md:82776ed5:e72d3569:1702a893:442073f6", 7); got != ShardOf("md:82776ed5:e72d3569:1702a893:442073f6", 7) {
		t.Fatal("unstable")
	}
}

// TestIdentity reads the identity of images made by mkfs.fat, mkntfs and
// sfdisk, and compares it with what the tools were told.
func TestIdentity(t *testing.T) {
	d := t.TempDir()
	fat := filepath.Join(d, "fat.img")
	run(t, "mkfs.fat", "dosfstools", "-C", "-F", "16", "-i", "0BADF00D", "-n", "EVIDENCE", fat, "16384")
	id := identityOf(t, fat)
	if id.String() != `fat16@0:volume-id=0badf00d:label="EVIDENCE"` || !id.Strong {
		t.Errorf("fat: %q strong %v", id, id.Strong)
	}
	ntfs := filepath.Join(d, "ntfs.img")
	os.WriteFile(ntfs, nil, 0o644)
	os.Truncate(ntfs, 8<<20)
	run(t, "mkntfs", "ntfs-3g", "-q", "-F", "-f", ntfs)
	id = identityOf(t, ntfs)
	// The Sleuth Kit's fsstat prints the serial: "Volume Serial Number: 3ECF…".
	out := run(t, "fsstat", "sleuthkit", ntfs)
	m := regexp.MustCompile(`Volume Serial Number: ([0-9A-F]+)`).FindStringSubmatch(out)
	if m == nil || !id.Strong || id.String() != "ntfs@0:serial="+fmt.Sprintf("%016s", strings.ToLower(m[1])) {
		t.Errorf("ntfs: %q; fsstat:\n%s", id, out)
	}
	mbr := filepath.Join(d, "mbr.img")
	os.WriteFile(mbr, nil, 0o644)
	os.Truncate(mbr, 4<<20)
	sf := exec.Command(fixture.Tool(t, "sfdisk", "fdisk"), "-q", mbr)
	sf.Stdin = strings.NewReader("label: dos\nlabel-id: 0x4D435237\nstart=2048, size=4096, type=6\n")
	if b, err := sf.CombinedOutput(); err != nil {
		t.Fatalf("sfdisk: %v %s", err, b)
	}
	id = identityOf(t, mbr)
	if id.String() != "mbr-signature=4d435237 partition-1=0x06@1048576+2097152" || !id.Strong {
		t.Errorf("mbr: %q", id)
	}
	blank := write(t, filepath.Join(d, "blank.img"), make([]byte, 1<<20))
	if id := identityOf(t, blank); id.Strong || id.String() != "" {
		t.Errorf("blank: %q", id)
	}
}

func identityOf(t *testing.T, p string) Identity {
	t.Helper()
	f, err := os.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	fi, _ := f.Stat()
	id, err := ReadIdentity(f, fi.Size())
	if err != nil {
		t.Fatal(err)
	}
	return id
}

func run(t *testing.T, name, pkg string, args ...string) string {
	t.Helper()
	b, err := exec.Command(fixture.Tool(t, name, pkg), args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %v: %v\n%s", name, args, err, b)
	}
	return string(b)
}

// TestNoImages: a directory without images is a warning, not a clean run.
func TestNoImages(t *testing.T) {
	d := t.TempDir()
	write(t, filepath.Join(d, "notes.txt"), []byte("x"))
	in, err := Collect([]string{d}, "")
	if err != nil {
		t.Fatal(err)
	}
	p, err := MakePlan(in, Options{Shards: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	if len(p.Sets) != 0 || len(p.Problems) != 1 || p.Problems[0].Code != "no-images" || p.Problems[0].Severity != "warning" {
		t.Errorf("sets %d problems %+v", len(p.Sets), p.Problems)
	}
}
