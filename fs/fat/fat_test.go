package fat

import (
	"fmt"
	"os/exec"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/mirrorchk/mirrorchk/fs"
)

// num extracts the integer submatch of re in out, failing when absent.
func num(t *testing.T, out, re string) int64 {
	t.Helper()
	m := regexp.MustCompile(re).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("no %q in\n%s", re, out)
	}
	n, err := strconv.ParseInt(m[1], 10, 64)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// TestLayout compares the decoded layout with fsck.fat -n -v and fsstat.
func TestLayout(t *testing.T) {
	for _, k := range kinds {
		t.Run(k.name, func(t *testing.T) {
			img := build(t, k)
			v := open(t, img)
			b := v.BPB
			if v.Type() != k.name {
				t.Fatalf("Type() = %q, want %q", v.Type(), k.name)
			}
			code, out := fsck(t, img)
			if code != 0 {
				t.Fatalf("fsck.fat -n exit %d on the clean image:\n%s", code, out)
			}
			out = run(t, "", tools(t).fsck, "-n", "-v", writeImg(t, img))
			if got, want := b.FATStart(0)*int64(b.BytsPerSec), num(t, out, `First FAT starts at byte (\d+)`); got != want {
				t.Errorf("FAT 1 at byte %d; fsck.fat says %d", got, want)
			}
			if got, want := int64(b.FATSz), num(t, out, `bytes per FAT \(= (\d+) sectors\)`); got != want {
				t.Errorf("FATSz %d; fsck.fat says %d", got, want)
			}
			if got, want := int64(b.NumFATs), num(t, out, `(\d+) FATs`); got != want {
				t.Errorf("NumFATs %d; fsck.fat says %d", got, want)
			}
			if got, want := b.entryBits(), num(t, out, `FATs, (\d+) bit entries`); got != want {
				t.Errorf("entry bits %d; fsck.fat says %d", got, want)
			}
			if got, want := int64(b.FirstDataSec), num(t, out, `Data area starts at byte \d+ \(sector (\d+)\)`); got != want {
				t.Errorf("FirstDataSec %d; fsck.fat says %d", got, want)
			}
			if got, want := int64(b.Clusters), num(t, out, `(\d+) data clusters`); got != want {
				t.Errorf("Clusters %d; fsck.fat says %d", got, want)
			}
			if b.Type == FAT32 {
				if got, want := int64(b.RootClus), num(t, out, `Root directory start at cluster (\d+)`); got != want {
					t.Errorf("RootClus %d; fsck.fat says %d", got, want)
				}
			} else if got, want := b.RootDirStart(), num(t, out, `Root directory starts at byte \d+ \(sector (\d+)\)`); got != want {
				t.Errorf("root directory at sector %d; fsck.fat says %d", got, want)
			}
			if got, want := int64(len(v.Files())), num(t, out, `: (\d+) files, `); got != want {
				t.Errorf("%d files and directories; fsck.fat counts %d", got, want)
			}
			if got, want := int64(b.Clusters)-v.FreeClusters(), num(t, out, `files, (\d+)/\d+ clusters`); got != want {
				t.Errorf("used clusters %d; fsck.fat says %d", got, want)
			}

			st := run(t, "", tools(t).fsstat, writeImg(t, img))
			if !strings.Contains(st, "File System Type: "+strings.ToUpper(k.name)) {
				t.Errorf("fsstat does not say %s:\n%s", strings.ToUpper(k.name), st)
			}
			if want := fmt.Sprintf("* Reserved: 0 - %d\n", b.RsvdSecCnt-1); !strings.Contains(st, want) {
				t.Errorf("fsstat lacks %q", want)
			}
			for i := range int(b.NumFATs) {
				want := fmt.Sprintf("* FAT %d: %d - %d\n", i, b.FATStart(i), b.FATStart(i+1)-1)
				if !strings.Contains(st, want) {
					t.Errorf("fsstat lacks %q", want)
				}
			}
			if b.Type != FAT32 {
				want := fmt.Sprintf("** Root Directory: %d - %d\n", b.RootDirStart(), int64(b.FirstDataSec)-1)
				if !strings.Contains(st, want) {
					t.Errorf("fsstat lacks %q", want)
				}
			}
			want := fmt.Sprintf("Cluster Area: %d - ", b.FirstDataSec)
			if !strings.Contains(st, want) {
				t.Errorf("fsstat lacks %q", want)
			}
			if got, want := int64(b.Clusters)+1, num(t, st, `Total Cluster Range: 2 - (\d+)`); got != want {
				t.Errorf("last cluster %d; fsstat says %d", got, want)
			}
			var paths []string
			for _, f := range v.Files() {
				paths = append(paths, f.Path)
			}
			slices.Sort(paths)
			w := slices.Clone(wantPaths)
			slices.Sort(w)
			if !slices.Equal(paths, w) {
				t.Errorf("Files() paths\n%q\nwant\n%q", paths, w)
			}
			for _, p := range v.Problems() {
				if p.Severity == fs.Error {
					t.Errorf("clean image has problem %+v", p)
				}
			}
			if e := v.Evidence(); e.Dirty == nil || *e.Dirty || e.Files != len(wantPaths) {
				t.Errorf("Evidence() = %+v, want clean, %d files", e, len(wantPaths))
			}
		})
	}
}

// tsk asks Sleuth Kit what owns a sector: a path, "/" for the root
// directory, "/$MBR", "/$FAT1"…, "Meta Data" or "" (unallocated).
type tsk struct {
	t     *testing.T
	img   string
	paths map[string]string // inode -> ffind path
}

func (s *tsk) owner(sector int64) string {
	out, err := exec.Command(tools(s.t).ifind, "-f", "fat", "-d", fmt.Sprint(sector), s.img).CombinedOutput()
	if err != nil {
		s.t.Fatalf("ifind -d %d: %v\n%s", sector, err, out)
	}
	ino := strings.TrimSpace(string(out))
	switch ino {
	case "Inode not found":
		return ""
	case "Meta Data":
		return ino
	}
	if p, ok := s.paths[ino]; ok {
		return p
	}
	out, err = exec.Command(tools(s.t).ffind, s.img, ino).CombinedOutput()
	if err != nil {
		s.t.Fatalf("ffind %s: %v\n%s", ino, err, out)
	}
	p := strings.TrimSpace(string(out))
	s.paths[ino] = p
	return p
}

// ours maps our owner to the words tsk.owner uses.
func ours(o fs.Owner) string {
	switch o.Structure {
	case fs.BootSector:
		return "/$MBR"
	case fs.FileData, fs.Directory, fs.RootDirectory:
		return o.Path
	case fs.FreeSpace, fs.Unclustered:
		return ""
	case fs.FSInfo, fs.BackupBoot, fs.BackupFSInfo, fs.ReservedSectors:
		return "Meta Data"
	}
	if n, ok := strings.CutPrefix(o.Structure, "FAT "); ok {
		return "/$FAT" + n
	}
	return o.Structure
}

// TestOwnersTSK compares Owners with Sleuth Kit's ifind/ffind sector by
// sector: the first two, middle and last two sectors and those around
// the first cluster boundaries of every extent of the whole-volume Owners (so every file, directory, metadata structure and
// free run), a few free sectors, and with istat's sector lists and write
// times. (Sleuth Kit's FAT inode numbers: 2 is the root directory, the
// data of a file is its directory entry's number; $MBR, $FAT1… are
// virtual files and other reserved sectors are "Meta Data".)
func TestOwnersTSK(t *testing.T) {
	for _, k := range kinds {
		t.Run(k.name, func(t *testing.T) {
			t.Parallel()
			img := build(t, k)
			v := open(t, img)
			b := v.BPB
			bps := int64(b.BytsPerSec)
			all := v.Owners(0, v.Size())
			checkCover(t, all, 0, v.Size())
			s := &tsk{t: t, img: writeImg(t, img), paths: map[string]string{}}
			var sectors []int64
			for _, e := range all {
				first, last := e.Off/bps, (e.Off+e.Len-1)/bps
				sectors = append(sectors, first, last)
				if e.Owner.Structure == fs.FileData || e.Owner.Structure == fs.Directory || e.Owner.Structure == fs.RootDirectory {
					sectors = append(sectors, min(first+1, last), max(last-1, first), (first+last)/2)
					// Both sides of the first cluster boundaries.
					spc := int64(b.SecPerClus)
					for x := first + spc; x <= last && x < first+4*spc; x += spc {
						sectors = append(sectors, x-1, x)
					}
				}
			}
			for x := int64(0); x < 4; x++ {
				sectors = append(sectors, int64(b.FirstDataSec)+(x+1)*997%int64(b.TotSec-b.FirstDataSec))
			}
			slices.Sort(sectors)
			sectors = slices.Compact(sectors)
			for _, sec := range sectors {
				ex := v.Owners(sec*bps, bps)
				if len(ex) != 1 {
					t.Fatalf("sector %d has %d owners: %+v", sec, len(ex), ex)
				}
				got, want := ours(ex[0].Owner), s.owner(sec)
				if want == "" && ex[0].Owner.Structure == fs.FileData && isSlack(v, ex[0].Owner.Path, sec*bps) {
					// Sleuth Kit maps only the sectors that hold file
					// bytes; the rest of the last cluster is the file's.
					continue
				}
				if got != want {
					t.Errorf("sector %d: owner %+v (%q); Sleuth Kit says %q", sec, ex[0].Owner, got, want)
				}
			}
			t.Logf("%d sectors compared", len(sectors))

			// istat sector lists and write times of every file.
			for ino, path := range s.paths {
				f := findFile(v, path)
				if f == nil || f.Dir {
					continue
				}
				out := run(t, "", tools(t).istat, s.img, ino)
				_, list, _ := strings.Cut(out, "Sectors:\n")
				var got []int64
				for _, w := range strings.Fields(list) {
					n, err := strconv.ParseInt(w, 10, 64)
					if err == nil && n != 0 {
						got = append(got, n)
					}
				}
				var want []int64
				for _, c := range f.Chain {
					first := int64(b.FirstDataSec) + int64(c-2)*int64(b.SecPerClus)
					for x := range int64(b.SecPerClus) {
						want = append(want, first+x)
					}
				}
				// istat lists only the sectors that hold file bytes.
				want = want[:min(len(want), int((int64(f.Size)+bps-1)/bps))]
				if !slices.Equal(got, want) {
					t.Errorf("%s: istat sectors %v, our chain gives %v", path, got, want)
				}
				m := regexp.MustCompile(`Written:\s+(\S+ \S+)`).FindStringSubmatch(out)
				if m == nil || m[1] != f.Modified.Format("2006-01-02 15:04:05") {
					t.Errorf("%s: write time %v; istat says %q", path, f.Modified, m)
				}
			}
		})
	}
}

// isSlack reports whether byte off is in the last cluster of file path,
// past its size.
func isSlack(v *Volume, path string, off int64) bool {
	f := findFile(v, path)
	if f == nil || len(f.Chain) == 0 {
		return false
	}
	last := v.clusterOff(f.Chain[len(f.Chain)-1])
	return off >= last && off < last+v.cb && off-last >= int64(f.Size)-int64(len(f.Chain)-1)*v.cb
}

func findFile(v *Volume, path string) *File {
	for i := range v.files {
		if v.files[i].Path == path {
			return &v.files[i]
		}
	}
	return nil
}

// TestOwnersSplit checks that a range spanning two files' runs splits
// into two extents with the right first clusters, and past-the-end bytes.
func TestOwnersSplit(t *testing.T) {
	v := open(t, build(t, kinds[1]))
	frag := findFile(v, "/Another Directory With A Long Name/frag.bin")
	second := findFile(v, "/Another Directory With A Long Name/second.bin")
	// frag.bin's first run ends right before second.bin's first cluster.
	end := v.clusterOff(frag.Chain[2]) + v.cb
	if second.Chain[0] != frag.Chain[2]+1 {
		t.Fatalf("layout changed: frag %v second %v", frag.Chain, second.Chain)
	}
	ex := v.Owners(end-100, 200)
	checkCover(t, ex, end-100, 200)
	if len(ex) != 2 || ex[0].Owner.Path != frag.Path || ex[0].Owner.Cluster != int64(frag.Chain[2]) ||
		ex[1].Owner.Path != second.Path || ex[1].Owner.Cluster != int64(second.Chain[0]) || ex[1].Owner.Record != -1 {
		t.Errorf("Owners across the boundary = %+v", ex)
	}
	ex = v.Owners(v.Size()-10, 30)
	checkCover(t, ex, v.Size()-10, 30)
	if len(ex) != 2 || ex[1].Owner.Structure != fs.BeyondVolume || ex[1].Len != 20 {
		t.Errorf("Owners across the end = %+v", ex)
	}
	if o := v.OwnerOfCluster(second.Chain[1]); o.Path != second.Path || o.Structure != fs.FileData || o.Cluster != int64(second.Chain[1]) {
		t.Errorf("OwnerOfCluster(%d) = %+v", second.Chain[1], o)
	}
}
