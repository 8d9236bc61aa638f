package imsm

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/mirrorchk/mirrorchk/internal/fixture"
)

// Host mdadm finds no IMSM metadata in a plain image file (it needs a block
// device's size, sector size and serial), but it reads a read-only loop
// device with IMSM_NO_PLATFORM=1 (no Intel controller check) and
// IMSM_DEVNAME_AS_SERIAL=1 (the serial is "/dev/loopN", in no disk entry,
// so it prints every disk as another disk and "This Slot : ?"). The tests
// below use that as an independent reading when they run as root with
// loop devices; elsewhere they skip and say so.

var loopMu sync.Mutex // one loop device at a time

// hostExamine attaches img read-only to a loop device, runs mdadm
// --examine on it and parses the output. ok is false when mdadm fails.
func hostExamine(t *testing.T, img []byte) (rep *examine, out string, ok bool) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("not root: no loop device for host mdadm")
	}
	mdadm := fixture.Tool(t, "mdadm", "mdadm")
	losetup, err := exec.LookPath("losetup")
	if err != nil {
		losetup = "/usr/sbin/losetup"
	}
	p := filepath.Join(t.TempDir(), "member.img")
	if err := os.WriteFile(p, img, 0o600); err != nil {
		t.Fatal(err)
	}
	loopMu.Lock()
	defer loopMu.Unlock()
	b, err := exec.Command(losetup, "--find", "--show", "--read-only", p).CombinedOutput()
	if err != nil {
		t.Skipf("no loop device: losetup: %v: %s", err, b)
	}
	dev := strings.TrimSpace(string(b))
	defer func() {
		if b, err := exec.Command(losetup, "--detach", dev).CombinedOutput(); err != nil {
			t.Errorf("losetup --detach %s: %v: %s", dev, err, b)
		}
	}()
	cmd := exec.Command(mdadm, "--examine", dev)
	cmd.Env = append(os.Environ(), "TZ=UTC", "IMSM_NO_PLATFORM=1", "IMSM_DEVNAME_AS_SERIAL=1")
	b, err = cmd.CombinedOutput()
	out = string(b)
	if err != nil {
		return nil, out, false
	}
	rep = parseExamine(out)[dev]
	if rep == nil {
		t.Fatalf("mdadm --examine %s printed no section for it:\n%s", dev, out)
	}
	return rep, out, true
}

// TestHostExamine compares host mdadm's reading of each image through a
// loop device with the decoded MPB: the fixtures, the two-sector MPB, and
// the stale-member pair after Synced.
func TestHostExamine(t *testing.T) {
	type tc struct {
		name string
		img  []byte
	}
	var cases []tc
	for _, dir := range fixtureDirs {
		for _, member := range []string{"m0", "m1"} {
			cases = append(cases, tc{strings.TrimPrefix(dir, "md/md-imsm/") + "/" + member, fixture.Image(t, dir, member)})
		}
	}
	ext, _ := extendedImage(t, nil)
	cases = append(cases, tc{"two-sector MPB", ext})
	synced, _ := syncedImages(t)
	cases = append(cases, tc{"synced/m0", synced[0]}, tc{"synced/m1", synced[1]})
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			rep, out, ok := hostExamine(t, c.img)
			if !ok {
				t.Fatalf("mdadm --examine failed:\n%s", out)
			}
			compareExamine(t, readMPB(t, c.img), -1, rep)
			if strings.HasPrefix(c.name, "synced") {
				v := rep.vols[0].kv
				if v["Map State"] != "normal" || v["Slots"] != "[UU]" || v["Failed disk"] != "none" || v["Dirty State"] != "clean" ||
					!strings.HasSuffix(rep.header["Checksum"], " correct") {
					t.Errorf("mdadm does not read the synced MPB as a healthy mirror:\n%s", out)
				}
				for _, d := range rep.disks {
					if d.kv["State"] != "active" {
						t.Errorf("mdadm: Disk%02d %s is %q", d.index, d.serial, d.kv["State"])
					}
				}
			}
		})
	}
}

// TestHostRejects: where the checksum is bad, mdadm refuses the MPB (its
// load_imsm_mpb fails), while Read returns it flagged.
func TestHostRejects(t *testing.T) {
	img := messWith(t, bStale, "m0", func(b []byte) { b[anchor+offGeneration]++ })
	if m := readMPB(t, img); m.ChecksumOK() {
		t.Fatal("ChecksumOK() = true")
	}
	if _, out, ok := hostExamine(t, img); ok {
		t.Errorf("mdadm --examine accepted an MPB with a bad checksum:\n%s", out)
	}
	// And the same bytes with the checksum fixed are accepted.
	fixed := bytes.Clone(img)
	fixChecksum(fixed, anchor)
	if _, out, ok := hostExamine(t, fixed); !ok {
		t.Errorf("mdadm --examine refused the MPB with its checksum fixed:\n%s", out)
	}
}
