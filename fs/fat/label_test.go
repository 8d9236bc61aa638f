package fat

import (
	"encoding/binary"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/mirrorchk/mirrorchk/fs"
	"github.com/mirrorchk/mirrorchk/internal/fixture"
)

// mkfsLabel makes a volume of kind k with mkfs.fat -n label (no -n when
// label is empty) in a file and returns its path.
func mkfsLabel(t *testing.T, k kind, label string) string {
	t.Helper()
	dir := t.TempDir()
	p := filepath.Join(dir, "v.img")
	args := append([]string{"-C", "-i", "1234ABCD"}, k.mkfs...)
	if label != "" {
		args = append(args, "-n", label)
	}
	run(t, dir, tools(t).mkfs, append(args, p, itoa(k.kib))...)
	return p
}

func itoa(n int) string { return strconv.Itoa(n) }

// rootDirOff is the byte offset of the root directory's first entry.
func rootDirOff(t *testing.T, img []byte) int64 {
	t.Helper()
	v := open(t, img)
	if v.BPB.Type == FAT32 {
		return v.clusterOff(v.BPB.RootClus)
	}
	return v.BPB.RootDirStart() * v.bps
}

// fsckLabel returns fsck.fat -n's label complaint about img ("" when none)
// and whether it calls the volume clean (exit 0).
func fsckLabel(t *testing.T, img []byte) (string, bool) {
	code, out := fsck(t, img)
	for _, l := range strings.Split(out, "\n") {
		if (strings.Contains(l, "label") || strings.Contains(l, "Label")) && !strings.Contains(l, " files, ") {
			return strings.TrimSpace(l), code == 0
		}
	}
	return "", code == 0
}

// TestLabelAgainstFsck: the label check agrees with fsck.fat -n on
// volumes made by mkfs.fat and fatlabel, on copies with one label changed
// or removed, and on those copies after fsck.fat -a repaired them.
func TestLabelAgainstFsck(t *testing.T) {
	fatlabel := fixture.Tool(t, "fatlabel", "dosfstools")
	for _, k := range []kind{kinds[0], kinds[2]} {
		t.Run(k.name, func(t *testing.T) {
			p := mkfsLabel(t, k, "SAMELABEL")
			run(t, filepath.Dir(p), fatlabel, p, "RELABELED")
			good, err := os.ReadFile(p)
			if err != nil {
				t.Fatal(err)
			}
			bootLab := 0x2b
			if k.name == "fat32" {
				bootLab = 0x47
			}
			root := rootDirOff(t, good)
			if string(good[root:root+11]) != "RELABELED  " || string(good[bootLab:bootLab+11]) != "RELABELED  " {
				t.Fatalf("fatlabel did not write both labels: root %q boot %q", good[root:root+11], good[bootLab:bootLab+11])
			}
			cases := []struct {
				name   string
				mangle func(b []byte)
				want   []string // quoted labels the message must hold
			}{
				{"as made", func([]byte) {}, nil},
				{"boot label differs", func(b []byte) { copy(b[bootLab:], "OTHERLABEL ") }, []string{`"RELABELED"`, `"OTHERLABEL"`}},
				{"no root label", func(b []byte) { b[root] = 0xe5 }, []string{`"RELABELED"`}},
				{"no boot label", func(b []byte) { copy(b[bootLab:], noLabel) }, []string{`"RELABELED"`}},
			}
			for _, c := range cases {
				img := append([]byte(nil), good...)
				c.mangle(img)
				msg, clean := fsckLabel(t, img)
				if (len(c.want) > 0) != (msg != "") {
					t.Fatalf("%s: fsck.fat -n label message %q: the case does not do what it says", c.name, msg)
				}
				v := open(t, img)
				got, ok := codes(v.Problems())["fat-label-mismatch"]
				if (msg != "") != ok {
					t.Errorf("%s: fsck.fat -n says %q, mirrorchk %v", c.name, msg, got)
				}
				if ok {
					if got.Severity != fs.Warning {
						t.Errorf("%s: severity %s", c.name, got.Severity)
					}
					for _, w := range c.want {
						if !strings.Contains(got.Message, w) {
							t.Errorf("%s: message %q lacks %s", c.name, got.Message, w)
						}
					}
				}
				if clean {
					for _, pr := range v.Problems() {
						if pr.Severity != fs.Info {
							t.Errorf("%s: fsck.fat -n calls the volume clean, mirrorchk finds %s: %s", c.name, pr.Code, pr.Message)
						}
					}
				}
				// fsck.fat -a repairs it; then both call it clean.
				fp := writeImg(t, img)
				if msg != "" {
					fsckA(t, fp)
					fixed, _ := os.ReadFile(fp)
					if m, clean := fsckLabel(t, fixed); m != "" || !clean {
						t.Fatalf("%s: fsck.fat -a left %q", c.name, m)
					}
					if p, ok := codes(open(t, fixed).Problems())["fat-label-mismatch"]; ok {
						t.Errorf("%s: after fsck.fat -a: %s", c.name, p.Message)
					}
				}
			}
			// The labels are evidence of identity.
			ev := strings.Join(open(t, good).Evidence().Notes, "\n")
			if !strings.Contains(ev, `volume ID 1234-ABCD, label "RELABELED" in the boot sector, "RELABELED" in the root directory`) {
				t.Errorf("evidence notes %q", ev)
			}
		})
	}
}

// fsckA runs fsck.fat -a on the image file p (exit 1: something fixed).
func fsckA(t *testing.T, p string) {
	t.Helper()
	cmd := exec.Command(tools(t).fsck, "-a", p)
	out, err := cmd.CombinedOutput()
	if err != nil && cmd.ProcessState.ExitCode() != 1 {
		t.Fatalf("fsck.fat -a: %v\n%s", err, out)
	}
}

// TestBackupFSInfoZeroed: a FAT32 made by mkfs.fat whose backup FSInfo
// sector is then zeroed is clean to fsck.fat -n, and at most info here.
func TestBackupFSInfoZeroed(t *testing.T) {
	p := mkfsLabel(t, kinds[2], "ZEROBACKUP")
	img, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	bk := binary.LittleEndian.Uint16(img[0x32:])
	fi := binary.LittleEndian.Uint16(img[0x30:])
	off := int(bk+fi) * 512
	if bk != 6 || fi != 1 || string(img[off:off+4]) != "RRaA" {
		t.Fatalf("mkfs.fat wrote backup boot sector %d, FSInfo %d, backup FSInfo %q", bk, fi, img[off:off+4])
	}
	clear(img[off : off+512])
	if code, out := fsck(t, img); code != 0 {
		t.Fatalf("fsck.fat -n on the zeroed backup FSInfo: exit %d\n%s", code, out)
	}
	v := open(t, img)
	for _, pr := range v.Problems() {
		if pr.Severity != fs.Info {
			t.Errorf("fsck.fat calls it clean; mirrorchk finds %s (%s): %s", pr.Code, pr.Severity, pr.Message)
		}
	}
	if p, ok := codes(v.Problems())["fat-backup-fsinfo-bad"]; !ok || !strings.Contains(p.Message, "zeroed") || p.Off != int64(off) {
		t.Errorf("fat-backup-fsinfo-bad: %+v", p)
	}
	// The primary's signatures are still a finding.
	copy(img[512:], "XXXX")
	if code, _ := fsck(t, img); code == 0 {
		t.Fatalf("fsck.fat -n accepts a bad primary FSInfo signature")
	}
	if _, ok := codes(open(t, img).Problems())["fat-fsinfo-bad-signature"]; !ok {
		t.Errorf("a bad primary FSInfo signature is not reported")
	}
}
