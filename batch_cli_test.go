package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/mirrorchk/mirrorchk/internal/fixture"
	"github.com/mirrorchk/mirrorchk/internal/fsfixture"
	"github.com/mirrorchk/mirrorchk/report"
)

// corpus is the batch corpus of issue 15, built once from the fixtures.
type corpus struct {
	dir      string // the directory scanned (walked)
	manifest string // the manifest: the NT FT disks with their hive, outside dir
	want     map[string][]string
	// hashes of every regular input before any command
	hashes map[string]string
}

var (
	corpusOnce sync.Once
	theCorpus  *corpus
	corpusErr  string
	corpusRoot string
)

// TestMain removes the batch corpus after every test.
// batchCleanup runs the tests, then removes what they built once per
// test binary (TestMain in script_test.go runs it).
type batchCleanup struct{ m *testing.M }

func (c batchCleanup) Run() int {
	code := c.m.Run()
	if corpusRoot != "" {
		os.RemoveAll(corpusRoot)
	}
	if binPath != "" {
		os.RemoveAll(filepath.Dir(binPath))
	}
	return code
}

// batchCorpus builds, in a temp dir of the test binary, a directory of
// mixed evidence: md 0.90 and 1.2, IMSM, DDF and LDM sets, bare FAT and
// NTFS pairs (bare disks and an MBR disk), a bare three-way set, bare
// singletons, two bare FAT images of different disks with the same size,
// a bare disk unrelated to two real pairs of its size, a truncated copy,
// an empty file, a broken symlink, a text file, a hidden file, a hive;
// plus a manifest holding an NT FT mirror with its hive. want maps every
// set (as the sorted base names of its images) to its expected verdict
// class.
func batchCorpus(t *testing.T) *corpus {
	t.Helper()
	corpusOnce.Do(func() {
		root, err := os.MkdirTemp("", "mirrorchk-batch-corpus-")
		if err != nil {
			corpusErr = err.Error()
			return
		}
		corpusRoot = root
		theCorpus = buildCorpus(t, root)
	})
	if theCorpus == nil {
		t.Fatalf("corpus: %s", corpusErr)
	}
	return theCorpus
}

func buildCorpus(t *testing.T, root string) *corpus {
	c := &corpus{dir: filepath.Join(root, "evidence"), want: map[string][]string{}, hashes: map[string]string{}}
	sub := filepath.Join(c.dir, "seized", "box1")
	if err := os.MkdirAll(sub, 0o755); err != nil {
		t.Fatal(err)
	}
	tmp := filepath.Join(root, "tmp")
	os.MkdirAll(tmp, 0o755)
	put := func(rel, dst string) string {
		p := fixture.UnzstdTo(t, rel, tmp)
		if err := os.Rename(p, dst); err != nil {
			t.Fatal(err)
		}
		return dst
	}
	pair := func(fix, dir, name, class string, n int) {
		var names []string
		for i := range n {
			base := fmt.Sprintf("%s-%d.img", name, i)
			put(fmt.Sprintf("%s/m%d.img.zst", fix, i), filepath.Join(dir, base))
			names = append(names, base)
		}
		c.want[strings.Join(names, " ")] = []string{class}
	}
	// Sets with metadata.
	pair("md/md-1.2/a-clean", c.dir, "md12a", "md", 2)
	pair("md/md-1.2/b-stale-member", sub, "md12b", "md", 2)
	pair("md/md-0.90/a-clean", c.dir, "md090a", "md", 2)
	pair("md/md-0.90/c-stale-member-bitmap", sub, "md090c", "md", 2)
	pair("md/md-imsm/a-clean", c.dir, "imsm", "imsm", 2)
	pair("md/md-ddf/a-clean", sub, "ddf", "ddf", 2)
	if b, err := exec.Command("tar", "-xJf", fixture.Path("ldm", "ldm-2008r2.tar.xz"), "-C", tmp,
		"ldm-2008r2-mirrored-1.img", "ldm-2008r2-mirrored-2.img").CombinedOutput(); err != nil {
		t.Fatalf("tar: %v: %s", err, b)
	}
	for i := 1; i <= 2; i++ {
		os.Rename(filepath.Join(tmp, fmt.Sprintf("ldm-2008r2-mirrored-%d.img", i)), filepath.Join(c.dir, fmt.Sprintf("ldm-%d.img", i)))
	}
	c.want["ldm-1.img ldm-2.img"] = []string{"ldm"}
	// Bare pairs (two FAT16 16 MiB pairs), an MBR pair, an NTFS pair, a
	// three-way set.
	pair("fsmirror/bare-pair", c.dir, "barefat", "none", 2)
	pair("fsmirror/fat-torn-fat2-fat16", sub, "tornfat", "none", 2)
	pair("fsmirror/mbr-pair", c.dir, "mbr", "none", 2)
	pair("fsmirror/ntfs-missed-writes", sub, "ntfs", "none", 2)
	pair("fsmirror/three-way", c.dir, "three", "none", 3)
	// An unrelated FAT16 disk of the same 16 MiB as the two FAT pairs.
	other := filepath.Join(c.dir, "other16.img")
	mkfat(t, other, 16384, "-F", "16", "-i", "0BADF00D", "-n", "OTHER")
	c.want["other16.img"] = []string{"unpaired"}
	// Two bare images of different disks that happen to have one size.
	mkfat(t, filepath.Join(sub, "same-a.img"), 8192, "-F", "16", "-s", "1", "-i", "AAAA1111", "-n", "DISKA")
	mkfat(t, filepath.Join(sub, "same-b.img"), 8192, "-F", "16", "-s", "1", "-i", "BBBB2222", "-n", "DISKB")
	c.want["same-a.img"] = []string{"unpaired"}
	c.want["same-b.img"] = []string{"unpaired"}
	// Bare singletons.
	put("fat/small-fat12.img.zst", filepath.Join(c.dir, "single-fat12.img"))
	put("ntfs/small.img.zst", filepath.Join(sub, "single-ntfs.img"))
	c.want["single-fat12.img"] = []string{"unpaired"}
	c.want["single-ntfs.img"] = []string{"unpaired"}
	// A truncated copy of a bare pair's member: its own, unpaired.
	b, err := os.ReadFile(filepath.Join(c.dir, "barefat-0.img"))
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(c.dir, "truncated.img"), b[:3<<20])
	c.want["truncated.img"] = []string{"unpaired"}
	// Broken inputs.
	writeFile(t, filepath.Join(c.dir, "empty.img"), nil)
	c.want["empty.img"] = []string{"unreadable"}
	if err := os.Symlink("does-not-exist.img", filepath.Join(sub, "broken.img")); err != nil {
		t.Fatal(err)
	}
	c.want["broken.img"] = []string{"unreadable"}
	// Not images: skipped and counted.
	writeFile(t, filepath.Join(c.dir, "notes.txt"), []byte("chain of custody\n"))
	writeFile(t, filepath.Join(c.dir, ".DS_Store"), []byte("x"))
	hive, err := os.ReadFile(ftHive("healthy"))
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(sub, "SYSTEM"), hive)
	// NT FT through a manifest row with its hive, outside the directory.
	d0, d1 := ftMirror(t, "87")
	ftDir := filepath.Join(root, "ft")
	os.MkdirAll(ftDir, 0o755)
	os.Rename(d0, filepath.Join(ftDir, "ft-disk0.img"))
	os.Rename(d1, filepath.Join(ftDir, "ft-disk1.img"))
	writeFile(t, filepath.Join(ftDir, "SYSTEM.hive"), hive)
	c.manifest = filepath.Join(ftDir, "manifest.csv")
	writeFile(t, c.manifest, []byte("image,hive\nft-disk0.img,SYSTEM.hive\nft-disk1.img,SYSTEM.hive\n"))
	c.want["ft-disk0.img ft-disk1.img"] = []string{"ftdisk"}

	filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			c.hashes[p] = fileSHA256(t, p)
		}
		return nil
	})
	return c
}

// mkfat makes a bare FAT image of kib KiB with mkfs.fat.
func mkfat(t *testing.T, path string, kib int, args ...string) {
	t.Helper()
	out, err := exec.Command(fixture.Tool(t, "mkfs.fat", "dosfstools"), append(append([]string{"-C"}, args...), path, fmt.Sprint(kib))...).CombinedOutput()
	if err != nil {
		t.Fatalf("mkfs.fat %s: %v\n%s", path, err, out)
	}
}

// checkUnchanged proves every input file unchanged.
func (c *corpus) checkUnchanged(t *testing.T) {
	t.Helper()
	for p, h := range c.hashes {
		if got := fileSHA256(t, p); got != h {
			t.Errorf("%s changed", p)
		}
	}
}

func verdictClass(s report.Set) string {
	switch s.Verdict {
	case report.VerdictUnpaired, report.VerdictUnreadable:
		return s.Verdict
	}
	return strings.SplitN(s.Metadata, "-", 2)[0]
}

func setName(s report.Set) string {
	var names []string
	for _, m := range s.Members {
		names = append(names, filepath.Base(m.Path))
	}
	sort.Strings(names)
	return strings.Join(names, " ")
}

// TestBatchCorpus: a directory of mixed evidence and a manifest in one
// command: the grouping is exactly the expected one (no unrelated pair is
// compared), the broken inputs are reported and cost only themselves,
// every other set has its full result, and the exit code is the OR of
// the sets' codes. Run twice, the reports are byte-identical.
func TestBatchCorpus(t *testing.T) {
	c := batchCorpus(t)
	out := t.TempDir()
	args := []string{"scan", "--json", "--jobs", "2", "--manifest", c.manifest, "--dfxml", filepath.Join(out, "a.xml"), "--jsonl", filepath.Join(out, "a.jsonl"), c.dir}
	code, stdout, stderr := mirrorchk(t, args...)
	rep, err := report.ReadJSON(strings.NewReader(stdout))
	if err != nil {
		t.Fatalf("exit %d: %v\n%s", code, err, stderr)
	}
	got := map[string]string{}
	or := 0
	for _, s := range rep.Sets {
		n := setName(s)
		if _, dup := got[n]; dup {
			t.Errorf("set %s twice", n)
		}
		got[n] = verdictClass(s)
		if s.ExitCode == nil {
			t.Fatalf("set %s without exit code", n)
		}
		or |= *s.ExitCode
		switch s.Verdict {
		case report.VerdictUnreadable:
			if *s.ExitCode != 8 || !hasCode(s.Problems, "input-unreadable") {
				t.Errorf("%s: exit %d problems %+v", n, *s.ExitCode, s.Problems)
			}
		default:
			for _, m := range s.Members {
				if m.Hashes["sha256"] == "" {
					t.Errorf("%s: %s not hashed", n, m.Path)
				}
			}
			if s.Verdict == report.VerdictUnpaired && (s.Authority.Member != nil || *s.ExitCode != 4 || !hasCode(s.Problems, "unpaired")) {
				t.Errorf("%s: unpaired with authority %v exit %d", n, s.Authority.Member, *s.ExitCode)
			}
			if s.Metadata == "none" && len(s.Members) > 1 && !strings.Contains(s.Grouping, "same identity") {
				t.Errorf("%s: bare set grouped because %q", n, s.Grouping)
			}
		}
	}
	var wantNames, gotNames []string
	for n, w := range c.want {
		wantNames = append(wantNames, n+" → "+w[0])
	}
	for n, g := range got {
		gotNames = append(gotNames, n+" → "+g)
	}
	sort.Strings(wantNames)
	sort.Strings(gotNames)
	if !slices.Equal(wantNames, gotNames) {
		t.Errorf("grouping\n got %s\nwant %s", strings.Join(gotNames, "\n     "), strings.Join(wantNames, "\n     "))
	}
	images := 0
	for n := range c.want {
		images += len(strings.Fields(n))
	}
	if images < 30 || len(c.want) < 10 {
		t.Errorf("corpus too small: %d images, %d sets", images, len(c.want))
	}
	if code != or || rep.ExitCode == nil || *rep.ExitCode != code || code != 12 {
		t.Errorf("exit %d, report %v, OR of sets %d; want 12 (8|4)", code, rep.ExitCode, or)
	}
	if in := rep.Inputs; in == nil || in.Skipped["hidden"] != 1 || in.Skipped["not-an-image"] != 1 || in.Skipped["hive"] != 1 {
		t.Errorf("inputs summary %+v", rep.Inputs)
	}
	if strings.Count(stderr, "unreadable input") != 2 {
		t.Errorf("stderr: %q", stderr)
	}
	// The same run again, 1 job: byte-identical JSON, JSONL and DFXML
	// (the clock is fixed in tests; provenance's command line differs
	// only by --jobs and the output names, so compare without it).
	args2 := []string{"scan", "--json", "--jobs", "1", "--manifest", c.manifest, "--dfxml", filepath.Join(out, "b.xml"), "--jsonl", filepath.Join(out, "b.jsonl"), c.dir}
	_, stdout2, _ := mirrorchk(t, args2...)
	norm := func(s string) string {
		s = strings.ReplaceAll(s, filepath.Join(out, "a."), filepath.Join(out, "X."))
		s = strings.ReplaceAll(s, filepath.Join(out, "b."), filepath.Join(out, "X."))
		return s
	}
	var r1, r2 report.Report
	json.Unmarshal([]byte(norm(stdout)), &r1)
	json.Unmarshal([]byte(norm(stdout2)), &r2)
	r1.Command, r2.Command, r1.Provenance.Command, r2.Provenance.Command = nil, nil, nil, nil
	j1, _ := json.Marshal(r1)
	j2, _ := json.Marshal(r2)
	if !bytes.Equal(j1, j2) {
		t.Errorf("--jobs 2 and --jobs 1 reports differ")
	}
	a, _ := os.ReadFile(filepath.Join(out, "a.jsonl"))
	b, _ := os.ReadFile(filepath.Join(out, "b.jsonl"))
	la, lb := strings.Split(string(a), "\n"), strings.Split(string(b), "\n")
	if len(la) != len(rep.Sets)+2 || len(la) != len(lb) {
		t.Fatalf("jsonl: %d and %d lines for %d sets", len(la), len(lb), len(rep.Sets))
	}
	for i := 0; i < len(rep.Sets); i++ { // set lines: byte-identical
		if la[i] != lb[i] {
			t.Errorf("jsonl line %d differs between runs", i+1)
		}
		if i > 0 && lineKey(t, la[i]) <= lineKey(t, la[i-1]) {
			t.Errorf("jsonl lines not in key order at %d", i+1)
		}
	}
	// Streamed with nothing else to write (the sets are not kept): the
	// same lines.
	mirrorchk(t, "scan", "--quiet", "--jobs", "2", "--manifest", c.manifest, "--jsonl", filepath.Join(out, "c.jsonl"), c.dir)
	cb, _ := os.ReadFile(filepath.Join(out, "c.jsonl"))
	lc := strings.Split(string(cb), "\n")
	if len(lc) != len(la) || strings.Join(lc[:len(rep.Sets)], "\n") != strings.Join(la[:len(rep.Sets)], "\n") {
		t.Errorf("streamed JSONL differs from the one written at the end")
	}
	xa, _ := os.ReadFile(filepath.Join(out, "a.xml"))
	xb, _ := os.ReadFile(filepath.Join(out, "b.xml"))
	if norm(string(xa)) != strings.ReplaceAll(norm(string(xb)), "--jobs 1", "--jobs 2") {
		t.Errorf("DFXML differs between runs")
	}
	xmllint := fixture.Tool(t, "xmllint", "libxml2-utils")
	if b, err := exec.Command(xmllint, "--noout", filepath.Join(out, "a.xml")).CombinedOutput(); err != nil {
		t.Errorf("xmllint: %v\n%s", err, b)
	}
	for _, want := range []string{"<source", "<hashdigest type=\"sha256\">", "<byte_run img_offset=", "<command_line>", "<program>mirrorchk</program>"} {
		if !strings.Contains(string(xa), want) {
			t.Errorf("DFXML lacks %s", want)
		}
	}
	c.checkUnchanged(t)
}

// TestBatchShards: shards 0..N-1 partition the sets (disjoint, complete)
// for N = 1, 3, 7, and merge of the shards equals the unsharded run set
// for set. merge refuses a missing or duplicated shard and outputs of
// different plans.
func TestBatchShards(t *testing.T) {
	c := batchCorpus(t)
	out := t.TempDir()
	whole := filepath.Join(out, "whole.jsonl")
	mirrorchk(t, "scan", "--quiet", "--hash", "none", "--manifest", c.manifest, "--jsonl", whole, c.dir)
	wsets := jsonlSets(t, whole)
	for _, n := range []int{1, 3, 7} {
		var files []string
		seen := map[string]int{}
		for i := range n {
			f := filepath.Join(out, fmt.Sprintf("n%d-%d.jsonl", n, i))
			code, _, stderr := mirrorchk(t, "scan", "--quiet", "--hash", "none", "--shard", fmt.Sprintf("%d/%d", i, n), "--manifest", c.manifest, "--jsonl", f, c.dir)
			if code >= 16 {
				t.Fatalf("shard %d/%d: exit %d %s", i, n, code, stderr)
			}
			for k := range jsonlSets(t, f) {
				seen[k]++
			}
			files = append(files, f)
		}
		if len(seen) != len(wsets) {
			t.Errorf("N=%d: shards cover %d sets, the plan has %d", n, len(seen), len(wsets))
		}
		for k, v := range seen {
			if v != 1 {
				t.Errorf("N=%d: set %s in %d shards", n, k, v)
			}
		}
		merged := filepath.Join(out, fmt.Sprintf("merged-%d.jsonl", n))
		code, _, stderr := mirrorchk(t, append([]string{"merge", "--quiet", "--jsonl", merged}, files...)...)
		if code != 12 {
			t.Errorf("merge N=%d: exit %d %s", n, code, stderr)
		}
		msets := jsonlSets(t, merged)
		if len(msets) != len(wsets) {
			t.Errorf("merge N=%d: %d sets, want %d", n, len(msets), len(wsets))
		}
		for k, v := range wsets {
			if msets[k] != v {
				t.Errorf("merge N=%d: set %s differs from the unsharded run", n, k)
			}
		}
		if n == 3 {
			if code, _, stderr := mirrorchk(t, "merge", "--quiet", files[0], files[1]); code != exitUsage || !strings.Contains(stderr, "2/3 missing") {
				t.Errorf("missing shard: exit %d %q", code, stderr)
			}
			if code, _, stderr := mirrorchk(t, "merge", "--quiet", files[0], files[1], files[1], files[2]); code != exitUsage || !strings.Contains(stderr, "twice") {
				t.Errorf("duplicated shard: exit %d %q", code, stderr)
			}
			other := filepath.Join(out, "other.jsonl")
			mirrorchk(t, "scan", "--quiet", "--hash", "md5", "--shard", "2/3", "--manifest", c.manifest, "--jsonl", other, c.dir)
			if code, _, stderr := mirrorchk(t, "merge", "--quiet", files[0], files[1], other); code != exitUsage || !strings.Contains(stderr, "different plans") {
				t.Errorf("different plans: exit %d %q", code, stderr)
			}
		}
	}
	c.checkUnchanged(t)
}

func lineKey(t *testing.T, line string) string {
	var l report.Line
	if err := json.Unmarshal([]byte(line), &l); err != nil || l.Set == nil {
		t.Fatalf("line %q: %v", line, err)
	}
	return l.Set.Key
}

// jsonlSets reads a JSONL output: each set line's set, re-encoded, by key.
func jsonlSets(t *testing.T, path string) map[string]string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	lines, _, err := report.ReadJSONL(f)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	out := map[string]string{}
	for _, l := range lines {
		b, _ := json.Marshal(l.Set)
		out[l.Set.Key] = string(b)
	}
	return out
}

// TestBareGrouping: the scenarios of issue 15 given as shell globs. Five
// bare 16 MiB FAT16 images (two real pairs and an unrelated disk) are two
// pairs and an unpaired image, not a 5-way mirror; a bare image and an
// unrelated FAT image of one size given alone are compared only with a
// no-shared-identity warning, and repair refuses without --prefer
// (writing nothing); a lone image is unpaired, never consistent.
func TestBareGrouping(t *testing.T) {
	dir := t.TempDir()
	p := members(t, "fsmirror/bare-pair")
	q := members(t, "fsmirror/fat-torn-fat2-fat16")
	other := filepath.Join(dir, "other.img")
	mkfat(t, other, 16384, "-F", "16", "-i", "0BADF00D", "-n", "OTHER")
	code, rep := scanJSON(t, p[0], q[0], other, p[1], q[1])
	if code != exitProblems || len(rep.Sets) != 3 {
		t.Fatalf("five bare images: exit %d, %d sets", code, len(rep.Sets))
	}
	got := []string{}
	for _, s := range rep.Sets {
		got = append(got, fmt.Sprintf("%s:%d", s.Verdict, len(s.Members)))
	}
	if want := []string{"diverged:2", "diverged:2", "unpaired:1"}; !slices.Equal(got, want) {
		t.Errorf("sets %v, want %v", got, want)
	}
	if s := rep.Sets[2]; s.Members[0].Path != other || s.Authority.Member != nil || s.Members[0].Hashes["sha256"] == "" {
		t.Errorf("unpaired set %+v", s)
	}

	// A bare image and an unrelated FAT image of the same size, alone.
	code, rep = scanJSON(t, p[0], other)
	if len(rep.Sets) != 1 || !hasCode(rep.Sets[0].Problems, "no-shared-identity") || code != exitProblems {
		t.Fatalf("bare + unrelated: exit %d sets %+v", code, rep.Sets)
	}
	before := fileSHA256(t, other)
	out := t.TempDir()
	code, stdout, stderr := mirrorchk(t, "repair", "--json", "--out", out, p[0], other)
	if code != exitProblems || !strings.Contains(stderr, "no-shared-identity") {
		t.Errorf("repair without --prefer: exit %d %q", code, stderr)
	}
	if rr, err := report.ReadJSON(strings.NewReader(stdout)); err != nil || rr.Sets[0].Repair == nil || rr.Sets[0].Repair.Status != "refused" {
		t.Errorf("repair report: %v %s", err, stdout)
	}
	if ents, _ := os.ReadDir(out); len(ents) != 0 {
		t.Errorf("repair wrote %d files", len(ents))
	}
	if fileSHA256(t, other) != before {
		t.Errorf("input changed")
	}
	// In a directory, the same two are never compared.
	d := t.TempDir()
	writeFile(t, filepath.Join(d, "a.img"), mustRead(t, p[0]))
	writeFile(t, filepath.Join(d, "b.img"), mustRead(t, other))
	code, stdout, _ = mirrorchk(t, "repair", "--dry-run", "--json", d)
	rr, err := report.ReadJSON(strings.NewReader(stdout))
	if err != nil || len(rr.Sets) != 2 || code != exitProblems {
		t.Fatalf("directory dry run: exit %d %v", code, err)
	}
	for _, s := range rr.Sets {
		if s.Verdict != report.VerdictUnpaired || s.Repair == nil || s.Repair.Status != "refused" || len(s.Repair.Outputs) != 0 {
			t.Errorf("%s: verdict %s repair %+v", s.ID, s.Verdict, s.Repair)
		}
	}

	// A lone image.
	code, rep = scanJSON(t, other)
	if code != exitProblems || rep.Sets[0].Verdict != report.VerdictUnpaired {
		t.Errorf("lone image: exit %d verdict %s", code, rep.Sets[0].Verdict)
	}
}

// TestReportTwice: every fixture scanned twice gives byte-identical JSON
// (every list in the report has a total order).
func TestReportTwice(t *testing.T) {
	dirs := []string{"md/md-1.2/c-stale-member-bitmap", "md/md-0.90/b-stale-member", "md/md-imsm/b-stale-member", "md/md-ddf/b-stale-member"}
	for _, c := range fsfixture.Cases {
		dirs = append(dirs, "fsmirror/"+c)
	}
	for _, d := range dirs {
		var paths []string
		tmp := t.TempDir()
		for i := 0; i < 3; i++ {
			rel := fmt.Sprintf("%s/m%d.img.zst", d, i)
			if _, err := os.Stat(fixture.Path(rel)); err != nil {
				break
			}
			paths = append(paths, fixture.UnzstdTo(t, rel, tmp))
		}
		args := append([]string{"scan", "--json", "--hash", "none"}, paths...)
		_, a, _ := mirrorchk(t, args...)
		_, b, _ := mirrorchk(t, args...)
		if a != b || a == "" {
			t.Errorf("%s: two runs differ", d)
		}
	}
}

// TestManifestColumns: the manifest's case keeps sets apart (an md pair
// and a bare pair split over two cases are never compared), its set groups
// images without metadata that share no identity, and prefer names the
// authority.
func TestManifestColumns(t *testing.T) {
	dir := t.TempDir()
	md := members(t, "md/md-1.2/b-stale-member")
	bare := members(t, "fsmirror/bare-pair")
	for i, p := range append(md, bare...) {
		os.Rename(p, filepath.Join(dir, fmt.Sprintf("i%d.img", i)))
	}
	mkfat(t, filepath.Join(dir, "x.img"), 4096, "-i", "11111111", "-n", "X")
	mkfat(t, filepath.Join(dir, "y.img"), 4096, "-i", "22222222", "-n", "Y")
	man := writeFile(t, filepath.Join(dir, "m.csv"), []byte("image,case,set,prefer\ni0.img,c1,,\ni1.img,c2,,\ni2.img,c1,,\ni3.img,c2,,\nx.img,c3,laptop,\ny.img,c3,laptop,true\n"))
	code, rep := scanJSON(t, "--manifest", man)
	keys := map[string]report.Set{}
	for _, s := range rep.Sets {
		keys[s.Key] = s
	}
	var ks []string
	for k := range keys {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	if len(rep.Sets) != 5 || code != exitProblems {
		t.Fatalf("exit %d sets %v", code, ks)
	}
	n := 0
	for _, k := range ks {
		s := keys[k]
		switch {
		case strings.HasPrefix(k, "c1/md:"), strings.HasPrefix(k, "c2/md:"):
			n++
			if len(s.Members) != 1 || !hasCode(s.Problems, "member-missing") {
				t.Errorf("%s: %d members, problems %+v", k, len(s.Members), s.Problems)
			}
		case k == "c1/unpaired:"+filepath.Join(dir, "i2.img"), k == "c2/unpaired:"+filepath.Join(dir, "i3.img"):
			n++
		case k == "c3/none:set-laptop":
			n++
			if len(s.Members) != 2 || s.Authority.Basis != report.BasisUser || s.Authority.Member == nil || *s.Authority.Member != filepath.Join(dir, "y.img") || !strings.Contains(s.Grouping, "manifest") {
				t.Errorf("%s: %+v", k, s)
			}
		}
	}
	if n != 5 {
		t.Errorf("keys %v", ks)
	}
}

// TestRepairDirectory: repair of a directory writes each set into its own
// directory under --out, so members of different sets that share a file
// name (m0.img, m1.img in two case folders) do not collide; the outputs
// verify and the inputs are unchanged.
func TestRepairDirectory(t *testing.T) {
	dir := t.TempDir()
	for _, c := range []string{"fsmirror/bare-pair", "fsmirror/fat-torn-fat2-fat16"} {
		sub := filepath.Join(dir, filepath.Base(c))
		os.MkdirAll(sub, 0o755)
		for _, p := range members(t, c) {
			os.Rename(p, filepath.Join(sub, filepath.Base(p)))
		}
	}
	before := map[string]string{}
	filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			before[p] = fileSHA256(t, p)
		}
		return nil
	})
	out := t.TempDir()
	code, stdout, stderr := mirrorchk(t, "repair", "--json", "--out", out, dir)
	rep, err := report.ReadJSON(strings.NewReader(stdout))
	if err != nil || code != exitRepaired || len(rep.Sets) != 2 {
		t.Fatalf("exit %d %v %s", code, err, stderr)
	}
	for _, s := range rep.Sets {
		if s.Repair == nil || s.Repair.Status != "repaired" || len(s.Repair.Outputs) != 2 {
			t.Fatalf("%s: repair %+v", s.Key, s.Repair)
		}
		for _, o := range s.Repair.Outputs {
			if !o.Verified || filepath.Dir(filepath.Dir(o.Path)) != out || !strings.Contains(o.Path, "none_id-") {
				t.Errorf("%s: output %s verified %v", s.Key, o.Path, o.Verified)
			}
			if _, err := os.Stat(o.Path); err != nil {
				t.Error(err)
			}
		}
	}
	for p, h := range before {
		if fileSHA256(t, p) != h {
			t.Errorf("%s changed", p)
		}
	}
}

// TestRepairOutInsideWalked: --out inside a directory given as input is
// refused before anything is read or written (through a symbolic link too):
// the next run over that directory would take the repaired images for
// evidence.
func TestRepairOutInsideWalked(t *testing.T) {
	src := members(t, "md/md-1.2/b-stale-member")
	ev := filepath.Join(t.TempDir(), "ev")
	os.Mkdir(ev, 0o755)
	for _, p := range src {
		if err := os.Symlink(p, filepath.Join(ev, filepath.Base(p))); err != nil {
			t.Fatal(err)
		}
	}
	link := filepath.Join(t.TempDir(), "link")
	os.Symlink(ev, link)
	for _, out := range []string{filepath.Join(ev, "fixed"), filepath.Join(link, "a", "b"), ev} {
		code, _, stderr := mirrorchk(t, "repair", "--out", out, ev)
		if code != exitUsage || !strings.Contains(stderr, "lies inside the input directory "+ev) {
			t.Errorf("--out %s: exit %d: %s", out, code, stderr)
		}
		if got := dirState(ev); !slices.Equal(got, []string{"m0.img", "m1.img"}) {
			t.Errorf("--out %s: the input directory now holds %v", out, got)
		}
	}
	out := filepath.Join(t.TempDir(), "fixed")
	if code, _, stderr := mirrorchk(t, "repair", "--out", out, ev); code != exitRepaired {
		t.Errorf("--out outside the input directory: exit %d: %s", code, stderr)
	}
}
