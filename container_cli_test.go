package main

import (
	"crypto/md5"
	"crypto/sha1"
	"encoding/hex"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/mirrorchk/mirrorchk/internal/eiofs"
	"github.com/mirrorchk/mirrorchk/internal/fixture"
	"github.com/mirrorchk/mirrorchk/report"
)

// This file checks that a member read through a container gives exactly
// the report its raw image gives: the containers are made from the
// fixtures by the real tools (qemu-img, ewfacquire), and the raw pair is
// the reference.

func needTool(t *testing.T, tool, pkg string) {
	t.Helper()
	if _, err := exec.LookPath(tool); err != nil {
		t.Fatalf("%s is not installed (apt-get install -y %s); the tests compare against it", tool, pkg)
	}
}

func runTool(t *testing.T, name string, args ...string) {
	t.Helper()
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
}

// containerize writes raw as container kind into dir and returns the
// path to give mirrorchk (the first segment for a split set).
func containerize(t *testing.T, raw, dir, kind string) string {
	t.Helper()
	base := strings.TrimSuffix(filepath.Base(raw), ".img")
	qemu := func(ext, format string, opts ...string) string {
		needTool(t, "qemu-img", "qemu-utils")
		dst := filepath.Join(dir, base+ext)
		args := append([]string{"convert", "-f", "raw", "-O", format}, opts...)
		runTool(t, "qemu-img", append(args, raw, dst)...)
		return dst
	}
	switch kind {
	case "qcow2-v2":
		return qemu(".qcow2", "qcow2", "-o", "compat=0.10")
	case "qcow2-v3-compressed":
		return qemu(".qcow2", "qcow2", "-c", "-o", "compat=1.1")
	case "vhd-dynamic":
		return qemu(".vhd", "vpc")
	case "vhd-fixed":
		return qemu(".vhd", "vpc", "-o", "subformat=fixed")
	case "vhdx":
		return qemu(".vhdx", "vhdx")
	case "vmdk-sparse":
		return qemu(".vmdk", "vmdk", "-o", "subformat=monolithicSparse")
	case "vmdk-stream":
		return qemu(".vmdk", "vmdk", "-o", "subformat=streamOptimized")
	case "e01", "e01-split":
		needTool(t, "ewfacquire", "ewf-tools")
		target := filepath.Join(dir, base)
		args := []string{"-u", "-q", "-t", target, "-d", "sha1", "-C", "case-17", "-E", base, "-e", "examiner", "-D", "mirror member"}
		if kind == "e01-split" {
			// Uncompressed, so that the 8 MiB member spans several segments.
			args = append(args, "-c", "none", "-S", "1MiB")
		} else {
			args = append(args, "-c", "fast")
		}
		runTool(t, "ewfacquire", append(args, raw)...)
		return target + ".E01"
	}
	t.Fatalf("unknown container kind %q", kind)
	return ""
}

// sameDivergence compares what two reports say of their first set, with
// member paths reduced to their base names without extension.
func sameDivergence(t *testing.T, want, got *report.Report) {
	t.Helper()
	if len(want.Sets) != len(got.Sets) || len(got.Sets) == 0 {
		t.Fatalf("%d sets, want %d", len(got.Sets), len(want.Sets))
	}
	stem := func(p string) string { b := filepath.Base(p); return strings.TrimSuffix(b, filepath.Ext(b)) }
	norm := func(r *report.Report) report.Set {
		s := r.Sets[0]
		if s.Authority.Member != nil {
			m := stem(*s.Authority.Member)
			s.Authority.Member = &m
		}
		var rs []report.Range
		for _, rg := range s.Divergence.Ranges {
			if rg.Source != nil {
				m := stem(*rg.Source)
				rg.Source = &m
			}
			rg.Agree = nil
			rg.Owners = nil
			rg.SourceReason = ""
			rs = append(rs, rg)
		}
		s.Divergence.Ranges = rs
		return report.Set{Verdict: s.Verdict, Authority: report.Authority{Member: s.Authority.Member, Basis: s.Authority.Basis}, Divergence: s.Divergence, Files: s.Files}
	}
	w, g := norm(want), norm(got)
	if !reflect.DeepEqual(w, g) {
		t.Errorf("container scan differs from the raw scan:\n got %+v\nwant %+v", g, w)
	}
	if len(want.Sets[0].Members) != len(got.Sets[0].Members) {
		t.Fatalf("%d members in the first set, raw: %d", len(got.Sets[0].Members), len(want.Sets[0].Members))
	}
	for i := range want.Sets[0].Members {
		wm, gm := want.Sets[0].Members[i], got.Sets[0].Members[i]
		if wm.State != gm.State || wm.Role != gm.Role || wm.DataOffset != gm.DataOffset || wm.DataSize != gm.DataSize {
			t.Errorf("member %d: state %s role %s data %d+%d; raw: %s %s %d+%d", i, gm.State, gm.Role, gm.DataOffset, gm.DataSize, wm.State, wm.Role, wm.DataOffset, wm.DataSize)
		}
	}
}

// peerMedia returns the size and SHA-256 of the media of container c as
// its peer tool exports it (qemu-img convert -O raw; ewfexport), which may
// be longer than the raw it was made from: qemu pads a VHD to its CHS
// geometry.
func peerMedia(t *testing.T, c, kind string) (int64, string) {
	t.Helper()
	out := filepath.Join(t.TempDir(), "peer")
	if strings.HasPrefix(kind, "e01") {
		needTool(t, "ewfexport", "ewf-tools")
		runTool(t, "ewfexport", "-u", "-q", "-f", "raw", "-t", out, c)
		out += ".raw"
	} else {
		// Name the format: qemu-img probes a fixed VHD (footer only at the
		// end) as raw.
		format := map[string]string{"qcow2-v2": "qcow2", "qcow2-v3-compressed": "qcow2", "vhd-dynamic": "vpc", "vhd-fixed": "vpc", "vhdx": "vhdx", "vmdk-sparse": "vmdk", "vmdk-stream": "vmdk"}[kind]
		runTool(t, "qemu-img", "convert", "-f", format, "-O", "raw", c, out)
	}
	fi, err := os.Stat(out)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Size(), fileSHA256(t, out)
}

var containerKinds = []string{"qcow2-v2", "qcow2-v3-compressed", "vhd-dynamic", "vhd-fixed", "vhdx", "vmdk-sparse", "vmdk-stream", "e01", "e01-split"}

// TestContainerMembers: the current member of a real md pair as each
// container, the stale member raw, scans exactly as the raw pair.
func TestContainerMembers(t *testing.T) {
	raw := members(t, "md/md-1.2/b-stale-member")
	_, want := scanJSON(t, raw...)
	if want.Sets[0].Authority.Member == nil || filepath.Base(*want.Sets[0].Authority.Member) != "m0.img" {
		t.Fatalf("raw pair: authority %v, want m0.img", want.Sets[0].Authority.Member)
	}
	rawBytes, err := os.ReadFile(raw[0])
	if err != nil {
		t.Fatal(err)
	}
	for _, kind := range containerKinds {
		t.Run(kind, func(t *testing.T) {
			dir := t.TempDir()
			c := containerize(t, raw[0], dir, kind)
			_, got := scanJSON(t, "--hash", "sha256", c, raw[1])
			sameDivergence(t, want, got)
			m := got.Sets[0].Members[0]
			if size, sum := peerMedia(t, c, kind); m.Size != size || m.Hashes["sha256"] != sum {
				t.Errorf("media: %d bytes, sha256 %s; the peer's raw: %d bytes, %s", m.Size, m.Hashes["sha256"], size, sum)
			}
			if m.Container == nil {
				t.Fatalf("member %s: no container in the report", m.Path)
			}
			if len(m.Container.Files) == 0 || m.Container.Files[0].Path != c || m.Container.Files[0].Hashes["sha256"] == "" {
				t.Errorf("container files %+v: want %s first, hashed", m.Container.Files, c)
			}
			if kind == "e01-split" && len(m.Container.Files) < 2 {
				t.Errorf("split E01 read from %d files", len(m.Container.Files))
			}
			if strings.HasPrefix(kind, "e01") {
				m5, s1 := md5.Sum(rawBytes), sha1.Sum(rawBytes)
				want := map[string]string{"md5": hex.EncodeToString(m5[:]), "sha1": hex.EncodeToString(s1[:])}
				if len(m.Container.StoredHashes) == 0 {
					t.Errorf("E01: no stored hashes reported")
				}
				for _, h := range m.Container.StoredHashes {
					if h.Status != "verified" || h.Stored != want[h.Algorithm] {
						t.Errorf("E01 stored %s: %+v; want verified %s", h.Algorithm, h, want[h.Algorithm])
					}
				}
				// The text and HTML reports say the container and the
				// verification in one line each.
				_, txt, _ := mirrorchk(t, "scan", "--width", "200", "--html", filepath.Join(dir, "r.html"), c, raw[1])
				html, _ := os.ReadFile(filepath.Join(dir, "r.html"))
				for _, want := range []string{"E01, ", "MD5 verified, SHA-1 verified"} {
					if !strings.Contains(txt, want) {
						t.Errorf("text report lacks %q", want)
					}
				}
				for _, want := range []string{"<dt>Container</dt>", "MD5 verified, SHA-1 verified"} {
					if !strings.Contains(string(html), want) {
						t.Errorf("HTML report lacks %q", want)
					}
				}
				found := false
				for _, kv := range m.Container.Acquisition {
					found = found || kv.Value == "case-17"
				}
				if !found {
					t.Errorf("E01 acquisition %+v lacks the case number", m.Container.Acquisition)
				}
			}
		})
	}
}

// TestMixedFormatPair: an NTFS pair, one member as E01 and the other as
// qcow2, scans with the same ranges and owners as the raw pair, and
// repairs to the same raw images.
func TestMixedFormatPair(t *testing.T) {
	raw := members(t, "fsmirror/ntfs-missed-writes")
	_, want := scanJSON(t, raw...)
	dir := t.TempDir()
	a := containerize(t, raw[0], dir, "e01")
	b := containerize(t, raw[1], dir, "qcow2-v3-compressed")
	_, got := scanJSON(t, a, b)
	sameDivergence(t, want, got)
	for i, rg := range got.Sets[0].Divergence.Ranges {
		if !reflect.DeepEqual(rg.Owners, want.Sets[0].Divergence.Ranges[i].Owners) {
			// Owners name members by path: compare their structure only.
			if len(rg.Owners) != len(want.Sets[0].Divergence.Ranges[i].Owners) {
				t.Errorf("range %d owners %+v, raw %+v", i, rg.Owners, want.Sets[0].Divergence.Ranges[i].Owners)
			}
		}
		if !reflect.DeepEqual(rg.Owner, want.Sets[0].Divergence.Ranges[i].Owner) {
			t.Errorf("range %d owner %+v, raw %+v", i, rg.Owner, want.Sets[0].Divergence.Ranges[i].Owner)
		}
	}

	outRaw, outMixed := t.TempDir(), t.TempDir()
	if code, _, stderr := mirrorchk(t, "repair", "--quiet", "--out", outRaw, raw[0], raw[1]); code != 1 {
		t.Fatalf("raw repair: exit %d: %s", code, stderr)
	}
	code, _, stderr := mirrorchk(t, "repair", "--quiet", "--out", outMixed, a, b)
	if code != 1 {
		t.Fatalf("mixed repair: exit %d: %s", code, stderr)
	}
	for _, n := range []string{"m0.img", "m1.img"} {
		if fileSHA256(t, filepath.Join(outRaw, n)) != fileSHA256(t, filepath.Join(outMixed, n)) {
			t.Errorf("%s: the repair of the mixed pair differs from the raw pair's", n)
		}
	}
}

// TestCompressedMemberRefused: a zstd-compressed member (as the fixtures
// are stored) is refused, exit 8, naming the format; never read as raw.
func TestCompressedMemberRefused(t *testing.T) {
	raw := members(t, "md/md-1.2/b-stale-member")
	zst := fixture.Path("md/md-1.2/b-stale-member/m0.img.zst")
	code, _, stderr := mirrorchk(t, "scan", zst, raw[1])
	if code&exitOperation == 0 || !strings.Contains(stderr, "zstd stream") || !strings.Contains(stderr, "decompress") {
		t.Errorf("scan of a .zst member: exit %d, stderr %q; want 8 (with the other set's code) naming the zstd stream", code, stderr)
	}
}

// TestDamagedContainers: a container that cannot be read whole is an
// operational error (exit 8) naming the file, never a raw read.
func TestDamagedContainers(t *testing.T) {
	raw := members(t, "md/md-1.2/b-stale-member")
	t.Run("truncated qcow2", func(t *testing.T) {
		c := containerize(t, raw[0], t.TempDir(), "qcow2-v2")
		fi, err := os.Stat(c)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.Truncate(c, fi.Size()/2); err != nil {
			t.Fatal(err)
		}
		// The set that cannot be read is reported, with the error naming
		// the file and the offset; the run goes on (batch rules).
		code, stdout, stderr := mirrorchk(t, "scan", "--width", "300", c, raw[1])
		if code&exitOperation == 0 || !strings.Contains(stdout+stderr, c+": qcow2") || !strings.Contains(stdout+stderr, "past the end of") {
			t.Errorf("exit %d, stdout %q, stderr %q; want 8 naming %s and the offset", code, stdout, stderr, c)
		}
	})
	t.Run("missing E01 segment", func(t *testing.T) {
		c := containerize(t, raw[0], t.TempDir(), "e01-split")
		e02 := strings.TrimSuffix(c, ".E01") + ".E02"
		if err := os.Remove(e02); err != nil {
			t.Fatal(err)
		}
		code, _, stderr := mirrorchk(t, "scan", c, raw[1])
		if code&exitOperation == 0 || !strings.Contains(stderr, "E02") {
			t.Errorf("exit %d, stderr %q; want 8 naming the missing E02", code, stderr)
		}
	})
	t.Run("qcow2 without its backing file", func(t *testing.T) {
		dir := t.TempDir()
		parent := containerize(t, raw[0], dir, "qcow2-v2")
		child := filepath.Join(dir, "child.qcow2")
		runTool(t, "qemu-img", "create", "-f", "qcow2", "-b", parent, "-F", "qcow2", child)
		if err := os.Remove(parent); err != nil {
			t.Fatal(err)
		}
		code, _, stderr := mirrorchk(t, "scan", child, raw[1])
		if code&exitOperation == 0 || !strings.Contains(stderr, "m0.qcow2") {
			t.Errorf("exit %d, stderr %q; want 8 naming the missing backing file", code, stderr)
		}
	})
}

// TestE01ErrorSection: ewfacquire reads the current member of a real md
// pair from a disk that fails with EIO in one range (a FUSE file); its E01
// records the range in its error section. mirrorchk reports the range as
// unreadable in that member (declared by the error section), never as
// data, and takes those bytes from the other member where the evidence
// vouches for that copy.
func TestE01ErrorSection(t *testing.T) {
	needTool(t, "ewfacquire", "ewf-tools")
	src := members(t, "md/md-1.2/c-stale-member-bitmap")
	const badOff, badLen = 6 << 20, 8192 // inside the data area
	disk := eiofs.Serve(t, src[0], "m0.img", []eiofs.Range{{Off: badOff, Len: badLen}})
	dir := t.TempDir()
	target := filepath.Join(dir, "m0")
	// ewfacquire records read errors only when it reads a device: give it
	// the failing file through a read-only loop device.
	losetup := fixture.Tool(t, "losetup", "mount")
	b, err := exec.Command(losetup, "--find", "--show", "--read-only", disk.Path).CombinedOutput()
	if err != nil {
		t.Fatalf("losetup: %v: %s", err, b)
	}
	dev := strings.TrimSpace(string(b))
	defer exec.Command(losetup, "--detach", dev).Run()
	runTool(t, "ewfacquire", "-u", "-q", "-t", target, "-c", "fast", "-r", "0", "-g", "1", "-b", "64", dev)
	e01 := target + ".E01"
	_, rep := scanJSON(t, e01, src[1])
	m := rep.Sets[0].Members[0]
	if m.Container == nil || len(m.Container.Unreadable) == 0 {
		t.Fatalf("E01 error section not reported: %+v", m.Container)
	}
	covered := false
	for _, u := range m.Container.Unreadable {
		covered = covered || (u.Offset <= badOff && u.Offset+u.Length >= badOff+badLen)
	}
	if !covered {
		t.Errorf("error section %+v does not cover [%d, +%d)", m.Container.Unreadable, badOff, badLen)
	}
	if m.Unreadable.DeclaredBytes < badLen || !strings.Contains(m.Unreadable.DeclaredBy, "error section") {
		t.Errorf("member unreadable %+v: want at least %d bytes declared by the error section", m.Unreadable, badLen)
	}
	for _, r := range rep.Sets[0].Divergence.Ranges {
		if r.VolumeOffset < badOff && r.VolumeOffset+r.Length > badOff-m.DataOffset {
			// The unreadable bytes must not be a differing range of zeros.
			if r.VolumeOffset+m.DataOffset <= badOff && r.VolumeOffset+m.DataOffset+r.Length >= badOff+badLen {
				t.Errorf("range %+v: the unreadable bytes were compared as data", r)
			}
		}
	}
}

// TestWalkContainerParts: a directory holding containers made of several
// files (a VMDK descriptor with its extents, a qcow2 with its backing
// file, an E01 set, a split raw set) is walked to one image per disk: the
// extents, backing file and later segments are parts of their container,
// never images of their own (a flat extent read as raw would pair with its
// own descriptor as a fake mirror).
func TestWalkContainerParts(t *testing.T) {
	raw := members(t, "md/md-1.2/b-stale-member")
	dir := t.TempDir()
	runTool(t, "qemu-img", "convert", "-f", "raw", "-O", "vmdk", "-o", "subformat=twoGbMaxExtentFlat", raw[0], filepath.Join(dir, "a.vmdk"))
	runTool(t, "qemu-img", "convert", "-f", "raw", "-O", "qcow2", raw[1], filepath.Join(dir, "base.qcow2"))
	runTool(t, "qemu-img", "create", "-q", "-f", "qcow2", "-b", "base.qcow2", "-F", "qcow2", filepath.Join(dir, "b.qcow2"))
	e01 := containerize(t, raw[0], dir, "e01-split")
	ents, _ := os.ReadDir(dir)
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	code, out, stderr := mirrorchk(t, "plan", "--json", dir)
	if code >= 8 {
		t.Fatalf("plan: exit %d: %s", code, stderr)
	}
	var p planJSON
	if err := json.Unmarshal([]byte(out), &p); err != nil {
		t.Fatalf("plan --json: %v\n%s", err, out)
	}
	var images []string
	for _, s := range p.Sets {
		for _, im := range s.Images {
			images = append(images, filepath.Base(im))
		}
	}
	slices.Sort(images)
	want := []string{"a.vmdk", "b.qcow2", filepath.Base(e01)}
	slices.Sort(want)
	if !slices.Equal(images, want) {
		t.Errorf("files %v planned as images %v; want %v", names, images, want)
	}
}

// TestContainerPartGivenToo: a backing file given beside the image that
// reads it is a usage error that says which is part of which, not "the
// same image given twice".
func TestContainerPartGivenToo(t *testing.T) {
	raw := members(t, "md/md-1.2/b-stale-member")
	dir := t.TempDir()
	base := filepath.Join(dir, "base.qcow2")
	child := filepath.Join(dir, "child.qcow2")
	runTool(t, "qemu-img", "convert", "-f", "raw", "-O", "qcow2", raw[0], base)
	runTool(t, "qemu-img", "create", "-q", "-f", "qcow2", "-b", "base.qcow2", "-F", "qcow2", child)
	code, _, stderr := mirrorchk(t, "scan", base, child)
	if code != exitUsage || !strings.Contains(stderr, base+" is read as part of "+child) {
		t.Errorf("exit %d, stderr %q; want 16 saying %s is part of %s", code, stderr, base, child)
	}
}
