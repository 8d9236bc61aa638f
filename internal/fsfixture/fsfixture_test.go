package fsfixture

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"github.com/mirrorchk/mirrorchk/internal/fixture"
)

// TestCasesListed: Cases names exactly the case folders on disk.
func TestCasesListed(t *testing.T) {
	dirs, err := filepath.Glob(fixture.Path("fsmirror", "*", "truth.json"))
	if err != nil {
		t.Fatal(err)
	}
	var onDisk []string
	for _, d := range dirs {
		onDisk = append(onDisk, filepath.Base(filepath.Dir(d)))
	}
	want := map[string]bool{}
	for _, c := range Cases {
		want[c] = true
	}
	if len(onDisk) != len(Cases) {
		t.Errorf("on disk %v, Cases %v", onDisk, Cases)
	}
	for _, c := range onDisk {
		if !want[c] {
			t.Errorf("case %s is on disk but not in Cases", c)
		}
	}
}

// TestTruth loads every case and checks its truth against the images and
// the peer tools.
func TestTruth(t *testing.T) {
	tools := map[string]string{
		"fsck.fat": fixture.Tool(t, "fsck.fat", "dosfstools"),
		"ntfsfix":  fixture.Tool(t, "ntfsfix", "ntfs-3g"),
		"fls":      fixture.Tool(t, "fls", "sleuthkit"),
		"istat":    fixture.Tool(t, "istat", "sleuthkit"),
	}
	for _, name := range Cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			dir, paths, tr := Case(t, name)
			if tr.Case != name {
				t.Errorf("truth.case = %q", tr.Case)
			}
			imgs := map[string][]byte{}
			var names []string
			for i, m := range tr.Members {
				b, err := os.ReadFile(paths[i])
				if err != nil {
					t.Fatal(err)
				}
				if int64(len(b)) != m.Bytes || int64(len(b)) != tr.Members[0].Bytes {
					t.Fatalf("%s: %d bytes, truth %d, members of one mirror must be equal in size", m.File, len(b), m.Bytes)
				}
				if h := sha256.Sum256(b); hex.EncodeToString(h[:]) != m.SHA256 {
					t.Errorf("%s: sha256 differs from truth", m.File)
				}
				imgs[m.Name()] = b
				names = append(names, m.Name())
			}
			checkDiffs(t, tr, names, imgs)
			checkLayout(t, tr, imgs[names[0]])
			checkDamage(t, tr, names, imgs)
			checkTornMFT(t, tr, dir, imgs, tools["istat"])
			checkTornFAT(t, tr, names, imgs)
			checkVerdicts(t, tr, dir, names, tools)
			checkChanges(t, tr, dir, names, tools["fls"])
		})
	}
}

// checkDiffs: the recorded cmp counts and differing sector extents of
// every member pair match the images.
func checkDiffs(t *testing.T, tr Truth, names []string, imgs map[string][]byte) {
	t.Helper()
	pairs := 0
	for i := range names {
		for j := i + 1; j < len(names); j++ {
			pairs++
			key := names[i] + "-" + names[j]
			a, b := imgs[names[i]], imgs[names[j]]
			var n int64
			var ext [][2]int64
			last := int64(-2)
			for k := range a {
				if a[k] == b[k] {
					continue
				}
				n++
				s := int64(k) / 512
				switch {
				case s == last:
				case s == last+1 && len(ext) > 0:
					ext[len(ext)-1][1] += 512
				default:
					ext = append(ext, [2]int64{s * 512, 512})
				}
				last = s
			}
			if want, ok := tr.DifferingBytes[key]; !ok || n != want {
				t.Errorf("%s: %d bytes differ, truth %d (present %v)", key, n, want, ok)
			}
			if !reflect.DeepEqual(ext, tr.DifferingExtents512[key]) {
				t.Errorf("%s: differing sectors %v, truth %v", key, ext, tr.DifferingExtents512[key])
			}
			if n == 0 {
				t.Errorf("%s: members are identical", key)
			}
		}
	}
	if len(tr.DifferingBytes) != pairs || len(tr.DifferingExtents512) != pairs {
		t.Errorf("truth covers %d/%d pairs, want %d", len(tr.DifferingBytes), len(tr.DifferingExtents512), pairs)
	}
}

// checkLayout: the filesystem sits at FSOffset, behind the recorded MBR
// entry for "mbr" cases.
func checkLayout(t *testing.T, tr Truth, img []byte) {
	t.Helper()
	boot := img[tr.FSOffset:]
	switch tr.FS {
	case "ntfs":
		if string(boot[3:11]) != "NTFS    " {
			t.Errorf("no NTFS boot sector at %d", tr.FSOffset)
		}
	case "fat16", "fat32":
		typ := boot[54:62]
		if tr.FS == "fat32" {
			typ = boot[82:90]
		}
		if want := strings.ToUpper(tr.FS[:3]) + tr.FS[3:] + "   "; string(typ) != want {
			t.Errorf("boot sector type %q, want %q", typ, want)
		}
	default:
		t.Errorf("fs %q", tr.FS)
	}
	if boot[510] != 0x55 || boot[511] != 0xAA {
		t.Errorf("boot sector at %d lacks 55 AA", tr.FSOffset)
	}
	hidden := int64(binary.LittleEndian.Uint32(boot[28:]))
	switch tr.Image {
	case "bare":
		if tr.FSOffset != 0 || tr.Partition != nil {
			t.Errorf("bare image: fs_offset %d, partition %v", tr.FSOffset, tr.Partition)
		}
	case "mbr":
		p := tr.Partition
		if p == nil {
			t.Fatal("mbr case without partition")
		}
		e := img[446+16*(p.Index-1):]
		typ, _ := strconv.ParseUint(strings.TrimPrefix(p.Type, "0x"), 16, 8)
		if img[510] != 0x55 || img[511] != 0xAA || uint64(e[4]) != typ ||
			int64(binary.LittleEndian.Uint32(e[8:])) != p.StartLBA ||
			int64(binary.LittleEndian.Uint32(e[12:])) != p.Sectors {
			t.Errorf("MBR entry %d = % x, truth %+v", p.Index, e[:16], *p)
		}
		if tr.FSOffset != p.StartLBA*512 || hidden != p.HiddenSector {
			t.Errorf("fs_offset %d, hidden sectors %d; partition %+v", tr.FSOffset, hidden, *p)
		}
	default:
		t.Errorf("image %q", tr.Image)
	}
}

// checkDamage: the damaged member differs from its intact twins only
// inside the Corrupted ranges, and inside each of them.
func checkDamage(t *testing.T, tr Truth, names []string, imgs map[string][]byte) {
	t.Helper()
	if tr.DamagedMember == "" {
		if len(tr.Corrupted) != 0 {
			t.Errorf("corrupted ranges without a damaged member")
		}
		return
	}
	if len(tr.Corrupted) == 0 {
		t.Fatalf("damaged member %s without corrupted ranges", tr.DamagedMember)
	}
	bad := imgs[tr.DamagedMember]
	for _, r := range tr.Corrupted {
		if r.Member != tr.DamagedMember || r.Offset-r.FSOffset != tr.FSOffset || r.Length <= 0 {
			t.Errorf("range %+v", r)
		}
	}
	for _, n := range names {
		if n == tr.DamagedMember || n == tr.StaleMember {
			continue
		}
		good := imgs[n]
		for k := range good {
			if good[k] == bad[k] {
				continue
			}
			in := false
			for _, r := range tr.Corrupted {
				in = in || (int64(k) >= r.Offset && int64(k) < r.Offset+r.Length)
			}
			if !in {
				t.Errorf("%s and %s differ at %d, outside the corrupted ranges", n, tr.DamagedMember, k)
				break
			}
		}
		for _, r := range tr.Corrupted {
			g, b := good[r.Offset:r.Offset+r.Length], bad[r.Offset:r.Offset+r.Length]
			if bytes.Equal(g, b) {
				t.Errorf("range %+v: %s equals %s", r, n, tr.DamagedMember)
			}
			if r.Kind == "bit flip" && (r.Length != 1 || g[0]^b[0] != 1<<r.Bit) {
				t.Errorf("bit flip %+v: %02x vs %02x", r, g[0], b[0])
			}
		}
	}
}

// checkTornMFT: the torn records' update-sequence slot of the torn block
// no longer holds the USN on the damaged member, does on the intact one,
// and Sleuth Kit's istat fails on exactly the damaged copies.
func checkTornMFT(t *testing.T, tr Truth, dir string, imgs map[string][]byte, istat string) {
	t.Helper()
	if len(tr.TornMFTRecords) == 0 {
		return
	}
	for n, img := range imgs {
		for _, r := range tr.TornMFTRecords {
			rec := img[r.RecordOffset : r.RecordOffset+tr.MFTRecordSize]
			usa := binary.LittleEndian.Uint16(rec[4:])
			usn := int(binary.LittleEndian.Uint16(rec[usa:]))
			slot := int(binary.LittleEndian.Uint16(rec[512*(r.TornBlock+1)-2:]))
			if num := int64(binary.LittleEndian.Uint32(rec[0x2c:])); string(rec[:4]) != "FILE" || usn != r.USN || num != r.Record {
				t.Errorf("%s record %d: magic %q, number %d, usn %d, truth usn %d", n, r.Record, rec[:4], num, usn, r.USN)
			}
			torn := n == tr.DamagedMember
			if (slot != usn) != torn {
				t.Errorf("%s record %d: block %d slot %#x, usn %#x", n, r.Record, r.TornBlock, slot, usn)
			}
			if r.Offset < r.RecordOffset+512*int64(r.TornBlock) || r.Offset+r.Length > r.RecordOffset+tr.MFTRecordSize {
				t.Errorf("record %d: damage %d+%d outside the torn block", r.Record, r.Offset, r.Length)
			}
			out, err := exec.Command(istat, "-o", strconv.FormatInt(tr.FSOffset/512, 10),
				filepath.Join(dir, n+".img"), strconv.FormatInt(r.Record, 10)).CombinedOutput()
			failed := err != nil && strings.Contains(string(out), "Incorrect update sequence value")
			if failed != torn {
				t.Errorf("istat %s %d: err %v, torn %v:\n%s", n, r.Record, err, torn, out)
			}
		}
	}
}

// checkTornFAT: the intact member's FAT copies are equal; the damaged
// member's differ in exactly the torn sectors of FAT 2.
func checkTornFAT(t *testing.T, tr Truth, names []string, imgs map[string][]byte) {
	t.Helper()
	if len(tr.TornFATSectors) == 0 {
		return
	}
	torn := map[int64]bool{}
	for _, r := range tr.TornFATSectors {
		if r.FAT != 2 || r.Sector != tr.FAT2Sector+r.FATSector || r.FSOffset != r.Sector*512 || r.Length != 512 {
			t.Errorf("torn FAT range %+v", r)
		}
		torn[r.FATSector] = true
	}
	for _, n := range names {
		fs := imgs[n][tr.FSOffset:]
		rsv := int64(binary.LittleEndian.Uint16(fs[14:]))
		size := int64(binary.LittleEndian.Uint16(fs[22:]))
		if size == 0 {
			size = int64(binary.LittleEndian.Uint32(fs[36:]))
		}
		if rsv != tr.FAT1Sector || rsv+size != tr.FAT2Sector || size != tr.FATSectors {
			t.Errorf("%s: BPB reserved %d, FAT size %d; truth %+v", n, rsv, size, tr)
		}
		for s := int64(0); s < size; s++ {
			f1 := fs[(rsv+s)*512 : (rsv+s+1)*512]
			f2 := fs[(rsv+size+s)*512 : (rsv+size+s+1)*512]
			if want := n == tr.DamagedMember && torn[s]; !bytes.Equal(f1, f2) != want {
				t.Errorf("%s: FAT sector %d: copies differ %v, want %v", n, s, !want, want)
			}
		}
	}
}

// volume returns a file holding member n's filesystem: the image itself,
// or for "mbr" cases the partition extracted into dir (fsck.fat and
// ntfsfix take no offset).
func volume(t *testing.T, tr Truth, dir, n string) string {
	img := filepath.Join(dir, n+".img")
	if tr.FSOffset == 0 {
		return img
	}
	b, err := os.ReadFile(img)
	if err != nil {
		t.Fatal(err)
	}
	vol := filepath.Join(dir, n+".vol")
	if err := os.WriteFile(vol, b[tr.FSOffset:], 0o644); err != nil {
		t.Fatal(err)
	}
	return vol
}

// checkVerdicts: fsck.fat -n / ntfsfix -n give each member the recorded
// exit code.
func checkVerdicts(t *testing.T, tr Truth, dir string, names []string, tools map[string]string) {
	t.Helper()
	for _, n := range names {
		v, ok := tr.FSCK[n]
		if !ok {
			t.Errorf("no verdict for %s", n)
			continue
		}
		var cmd *exec.Cmd
		switch v.Tool {
		case "fsck.fat -n":
			cmd = exec.Command(tools["fsck.fat"], "-n", volume(t, tr, dir, n))
		case "ntfsfix -n":
			cmd = exec.Command(tools["ntfsfix"], "-n", volume(t, tr, dir, n))
		default:
			t.Fatalf("tool %q", v.Tool)
		}
		out, err := cmd.CombinedOutput()
		code := 0
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			code = ee.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		if code != v.Exit {
			t.Errorf("%s %s: exit %d, truth %d:\n%s", v.Tool, n, code, v.Exit, out)
		}
	}
}

// fls returns the allocated paths ("/a/b") Sleuth Kit lists on a member.
func fls(t *testing.T, tr Truth, dir, n, tool string) map[string]bool {
	out, err := exec.Command(tool, "-o", strconv.FormatInt(tr.FSOffset/512, 10), "-r", "-p",
		filepath.Join(dir, n+".img")).Output()
	if err != nil {
		t.Fatalf("fls %s: %v", n, err)
	}
	paths := map[string]bool{}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		meta, path, ok := strings.Cut(line, ":\t")
		if ok && !strings.Contains(meta, "*") {
			paths["/"+path] = true
		}
	}
	return paths
}

// checkChanges: Sleuth Kit sees the added, deleted and renamed files on
// the fresh member and not on the stale one (and vice versa).
func checkChanges(t *testing.T, tr Truth, dir string, names []string, tool string) {
	t.Helper()
	if tr.Changes == nil {
		if tr.StaleMember != "" {
			t.Errorf("stale member %s without changes", tr.StaleMember)
		}
		return
	}
	if tr.StaleMember == "" || tr.FreshMember == "" {
		t.Fatalf("changes without stale/fresh members")
	}
	fresh := fls(t, tr, dir, tr.FreshMember, tool)
	stale := fls(t, tr, dir, tr.StaleMember, tool)
	c := tr.Changes
	expect := func(what, p string, inFresh, inStale bool) {
		if fresh[p] != inFresh || stale[p] != inStale {
			t.Errorf("%s %s: on fresh %v, on stale %v", what, p, fresh[p], stale[p])
		}
	}
	for _, p := range c.Added {
		expect("added", p, true, false)
	}
	for _, p := range c.Deleted {
		expect("deleted", p, false, true)
	}
	for _, r := range c.Renamed {
		expect("renamed from", r.From, false, true)
		expect("renamed to", r.To, true, false)
	}
	for _, m := range c.Modified {
		expect("modified", m.Path, true, true)
	}
	// Every other member that is neither stale nor fresh holds the fresh
	// tree (three-way: the bit-rotted copy of the fresh member).
	for _, n := range names {
		if n != tr.StaleMember && n != tr.FreshMember {
			if got := fls(t, tr, dir, n, tool); !reflect.DeepEqual(got, fresh) {
				t.Errorf("%s lists %s, fresh %s", n, keys(got), keys(fresh))
			}
		}
	}
}

func keys(m map[string]bool) string { return fmt.Sprint(len(m), " paths") }
