package ntfs

import (
	"fmt"
	"strconv"
	"strings"
	"testing"

	"github.com/mirrorchk/mirrorchk/fs"
)

// TestLayoutVsPeers compares the boot-sector layout and $Volume version and
// flags with ntfsinfo -m and TSK fsstat.
func TestLayoutVsPeers(t *testing.T) {
	for _, fx := range allFixtures {
		t.Run(fx, func(t *testing.T) {
			img := image(t, fx)
			v := open(t, img)
			p := writeImage(t, img)
			info, rc := run(t, "ntfsinfo", "ntfs-3g", "-m", p)
			if rc != 0 {
				t.Fatalf("ntfsinfo -m: exit %d\n%s", rc, info)
			}
			b := v.Boot()
			for _, c := range []struct {
				re   string
				want int64
			}{
				{`Cluster Size: (\d+)`, b.ClusterSize},
				{`MFT Record Size: (\d+)`, b.RecordSize},
				{`Index Block Size: (\d+)`, b.IndexSize},
				{`LCN of Data Attribute for FILE_MFT: (\d+)`, b.MFTLCN},
				{`LCN of Data Attribute for File_MFTMirr: (\d+)`, b.MFTMirrLCN},
				{`FILE_MFTMirr Size: (\d+)`, v.MirrorRecords},
				{`Volume Size in Clusters: (\d+)`, b.Clusters()},
				{`Volume Flags: (0x[0-9a-fA-F]+)`, int64(v.VolumeFlags)},
			} {
				if got := field(t, info, c.re); got != c.want {
					t.Errorf("ntfsinfo %s = %d, we read %d", c.re, got, c.want)
				}
			}
			if want := fmt.Sprintf("Volume Version: %d.%d", v.VersionMajor, v.VersionMinor); !strings.Contains(info, want) {
				t.Errorf("ntfsinfo does not say %q", want)
			}
			st, rc := run(t, "fsstat", "sleuthkit", "-f", "ntfs", p)
			if rc != 0 {
				t.Fatalf("fsstat: exit %d\n%s", rc, st)
			}
			if got := field(t, st, `First Cluster of MFT: (\d+)`); got != b.MFTLCN {
				t.Errorf("fsstat MFT LCN %d, we %d", got, b.MFTLCN)
			}
			if got := field(t, st, `First Cluster of MFT Mirror: (\d+)`); got != b.MFTMirrLCN {
				t.Errorf("fsstat MFTMirr LCN %d, we %d", got, b.MFTMirrLCN)
			}
			if got := field(t, st, `Total Sector Range: 0 - (\d+)`); got != b.TotalSectors-1 {
				t.Errorf("fsstat last sector %d, we %d", got, b.TotalSectors-1)
			}
			if got := field(t, st, `Range: 0 - (\d+)`); got != v.Records() {
				t.Errorf("fsstat MFT entry range ends at %d, we count %d records", got, v.Records())
			}
			if want := fmt.Sprintf("Volume Serial Number: %016X\n", b.Serial); !strings.Contains(st, want) {
				t.Errorf("fsstat does not say %q", want)
			}
		})
	}
}

// TestCleanImages: the images as the tools left them have no problems and
// ntfsfix -n agrees (exit 0).
func TestCleanImages(t *testing.T) {
	for _, fx := range allFixtures {
		t.Run(fx, func(t *testing.T) {
			img := image(t, fx)
			v := open(t, img)
			for _, p := range v.Problems() {
				t.Errorf("clean image: %+v", p)
			}
			if out, rc := run(t, "ntfsfix", "ntfs-3g", "-n", writeImage(t, img)); rc != 0 {
				t.Errorf("ntfsfix -n: exit %d\n%s", rc, out)
			}
		})
	}
}

// ifindEntry returns TSK's MFT entry for cluster c, or -1 ("Inode not
// found").
func ifindEntry(t *testing.T, img string, c int64) int64 {
	out, _ := run(t, "ifind", "sleuthkit", "-f", "ntfs", "-d", strconv.FormatInt(c, 10), img)
	out = strings.TrimSpace(out)
	if strings.Contains(out, "not found") {
		return -1
	}
	n, err := strconv.ParseInt(strings.SplitN(out, "-", 2)[0], 10, 64)
	if err != nil {
		t.Fatalf("ifind -d %d: %q", c, out)
	}
	return n
}

// TestOwnersVsIfind compares the owner of clusters (the first, middle and
// last cluster of sampled extents, plus a stride over the whole volume)
// with TSK ifind -d, and the paths with ffind.
func TestOwnersVsIfind(t *testing.T) {
	for _, fx := range []string{fxSmall, fxWin, fxBig} {
		t.Run(fx, func(t *testing.T) {
			img := image(t, fx)
			v := open(t, img)
			p := writeImage(t, img)
			cs := v.Boot().ClusterSize
			ext := v.Owners(0, v.boot.Clusters()*cs)
			samples := 30
			if fx == fxBig {
				samples = 25 // ifind takes ~40 ms a lookup there
			}
			var clusters []int64
			step := max(1, len(ext)/samples)
			for i := 0; i < len(ext); i += step {
				e := ext[i]
				clusters = append(clusters, e.Off/cs, (e.Off+e.Len-1)/cs)
			}
			for c := int64(0); c < v.boot.Clusters(); c += v.boot.Clusters() / 10 {
				clusters = append(clusters, c)
			}
			paths := map[int64]string{}
			for _, c := range clusters {
				o := v.Owners(c*cs, cs)
				for _, e := range o {
					if e.Owner.Record != o[0].Owner.Record && !strings.HasPrefix(e.Owner.Structure, "$MFT record ") {
						t.Fatalf("cluster %d: owners %+v", c, o)
					}
				}
				o = o[len(o)-1:]
				want := ifindEntry(t, p, c)
				got := o[0].Owner.Record
				if strings.HasPrefix(o[0].Owner.Structure, "$MFT record ") {
					got = 0 // TSK names $MFT itself
				}
				if got != want {
					t.Errorf("cluster %d: we say record %d (%+v), ifind -d says %d", c, got, o[0].Owner, want)
				}
				if want < 0 && o[0].Owner.Structure != fs.FreeSpace && o[0].Owner.Structure != fs.LostClusters {
					t.Errorf("cluster %d: unowned for ifind, %q for us", c, o[0].Owner.Structure)
				}
				if want >= 0 && o[0].Owner.Structure != fs.BootSector && !strings.HasPrefix(o[0].Owner.Structure, "$MFT record ") {
					paths[want] = o[0].Owner.Path
				}
			}
			for rec, path := range paths {
				out, rc := run(t, "ffind", "sleuthkit", "-f", "ntfs", p, strconv.FormatInt(rec, 10))
				if rc != 0 {
					t.Errorf("ffind %d: %s", rec, out)
					continue
				}
				// ffind prints root's children with a doubled slash ("//$Boot").
				want := strings.TrimSpace(strings.SplitN(out, "\n", 2)[0])
				if strings.HasPrefix(want, "//") {
					want = want[1:]
				}
				if want != path {
					t.Errorf("record %d: path %q, ffind says %q", rec, path, want)
				}
			}
			t.Logf("%d clusters and %d paths agree with TSK", len(clusters), len(paths))
		})
	}
}

// istatClusters returns the cluster list istat prints for the first
// attribute of type id ("128" for $DATA); sparse clusters print as 0.
func istatClusters(t *testing.T, img string, rec int64, typ string) (cl []int64, size int64) {
	out, rc := run(t, "istat", "sleuthkit", "-f", "ntfs", img, strconv.FormatInt(rec, 10))
	if rc != 0 {
		t.Fatalf("istat %d: %s", rec, out)
	}
	in := false
	for _, line := range strings.Split(out, "\n") {
		if strings.HasPrefix(line, "Type: ") {
			if in {
				break
			}
			in = strings.Contains(line, "("+typ+"-") && strings.Contains(line, "Name: N/A")
			if in {
				size = field(t, line, `size: (\d+)`)
			}
			continue
		}
		if !in {
			continue
		}
		for _, f := range strings.Fields(line) {
			n, err := strconv.ParseInt(f, 10, 64)
			if err != nil {
				t.Fatalf("istat %d: %q", rec, line)
			}
			cl = append(cl, n)
		}
	}
	return cl, size
}

// TestRunsVsIstat decodes the runlists of fragmented, sparse and
// attribute-list files and compares the clusters with istat.
func TestRunsVsIstat(t *testing.T) {
	img := image(t, fxSmall)
	v := open(t, img)
	p := writeImage(t, img)
	for _, path := range []string{"/dir1/f20.bin", "/dir2/a.bin", "/dir2/b.bin", "/dir2/sparse.bin", "/frag/many.bin", "/$MFT", "/$LogFile", "/$Boot"} {
		t.Run(path, func(t *testing.T) {
			rec := inode(t, p, path)
			if got := v.Path(rec); got != path {
				t.Errorf("record %d: path %q", rec, got)
			}
			runs, err := v.Runs(rec, AttrData, "")
			if err != nil {
				t.Fatal(err)
			}
			var got []int64
			sparse := 0
			for _, r := range runs {
				for k := int64(0); k < r.Len; k++ {
					if r.Sparse {
						got = append(got, 0)
					} else {
						got = append(got, r.LCN+k)
					}
				}
				if r.Sparse {
					sparse++
				}
			}
			want, size := istatClusters(t, p, rec, "128")
			// istat prints 0 for allocated clusters past the data size.
			cs := v.Boot().ClusterSize
			want = want[:min(len(want), int((size+cs-1)/cs))]
			if len(want) == 0 {
				t.Fatal("istat lists no clusters")
			}
			if len(got) < len(want) {
				t.Fatalf("%d clusters, istat lists %d", len(got), len(want))
			}
			for i := range want {
				if got[i] != want[i] {
					t.Fatalf("cluster %d of the stream: LCN %d, istat %d", i, got[i], want[i])
				}
			}
			t.Logf("%d runs (%d sparse), %d clusters agree", len(runs), sparse, len(want))
			switch path {
			case "/frag/many.bin":
				r, _ := v.Record(rec)
				if r.find(AttrAttributeList, "") == nil || len(runs) < 400 {
					t.Errorf("many.bin: want an attribute list and >= 400 runs, have %d runs", len(runs))
				}
			case "/dir2/sparse.bin":
				if sparse == 0 {
					t.Error("sparse.bin has no sparse run")
				}
			}
		})
	}
}

// TestWindowsEvidence: the Windows-written volume carries LSNs in its
// records and a clean $LogFile restart area; the record LSNs match istat.
func TestWindowsEvidence(t *testing.T) {
	img := image(t, fxWin)
	v := open(t, img)
	p := writeImage(t, img)
	e := v.Evidence()
	if e.LogLSN == 0 || e.MaxRecordLSN == 0 {
		t.Errorf("LogLSN %d, MaxRecordLSN %d: want both recorded", e.LogLSN, e.MaxRecordLSN)
	}
	if e.MaxRecordLSN > e.LogLSN {
		t.Errorf("record LSN %d past the log's current LSN %d", e.MaxRecordLSN, e.LogLSN)
	}
	if e.LogClean == nil || !*e.LogClean {
		t.Errorf("LogClean %v: Windows shut the volume down cleanly", e.LogClean)
	}
	if e.Dirty == nil || *e.Dirty {
		t.Errorf("Dirty %v", e.Dirty)
	}
	if e.Latest.Year() != 2012 {
		t.Errorf("Latest %v: the images were made in September 2012", e.Latest)
	}
	rs := v.Boot().RecordSize
	for _, rec := range []int64{0, 1, 2, 3, 5, 6, 11, 35} {
		out, rc := run(t, "istat", "sleuthkit", "-f", "ntfs", p, strconv.FormatInt(rec, 10))
		if rc != 0 {
			t.Fatalf("istat %d: %s", rec, out)
		}
		want := uint64(field(t, out, `\$LogFile Sequence Number: (\d+)`))
		j := v.Judge(recordOff(t, v, rec), rs)
		if j.Intact != 1 || j.LSN != want {
			t.Errorf("record %d: Judge %+v, istat LSN %d", rec, j, want)
		}
	}
	// The restart pages verify and carry no INDX/FILE LSN.
	logRec := inode(t, p, "/$LogFile")
	runs, _ := v.Runs(logRec, AttrData, "")
	j := v.Judge(runs[0].LCN*v.Boot().ClusterSize, 8192)
	if j.Intact != 1 || !strings.Contains(j.Reason, "$LogFile page 0") {
		t.Errorf("restart pages: %+v", j)
	}
	// The root index verifies; its LSN is recorded.
	root, err := v.Runs(5, AttrIndexAllocation, "$I30")
	if err != nil {
		t.Fatal(err)
	}
	j = v.Judge(root[0].LCN*v.Boot().ClusterSize, v.Boot().IndexSize)
	if j.Intact != 1 || j.LSN == 0 {
		t.Errorf("root INDX: %+v", j)
	}
}

// TestPathsVsFls compares every path fls -r -p lists with ours, and the
// count of user records with Evidence.Files.
func TestPathsVsFls(t *testing.T) {
	for _, fx := range allFixtures {
		t.Run(fx, func(t *testing.T) {
			img := image(t, fx)
			v := open(t, img)
			out, rc := run(t, "fls", "sleuthkit", "-f", "ntfs", "-r", "-p", writeImage(t, img))
			if rc != 0 {
				t.Fatalf("fls: exit %d\n%s", rc, out)
			}
			users := map[int64]bool{}
			n := 0
			for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
				typ, rest, ok := strings.Cut(line, " ")
				if !ok || strings.HasPrefix(typ, "V") {
					continue // $OrphanFiles and the like are TSK's own
				}
				meta, name, ok := strings.Cut(rest, ":\t")
				if !ok {
					t.Fatalf("fls line %q", line)
				}
				if strings.HasPrefix(name, "$OrphanFiles/") {
					continue // TSK's name for records 16-23 (reserved, nameless)
				}
				name, _, _ = strings.Cut(name, ":") // a named stream of the file
				rec, err := strconv.ParseInt(strings.SplitN(strings.TrimPrefix(meta, "* "), "-", 2)[0], 10, 64)
				if err != nil {
					t.Fatalf("fls line %q", line)
				}
				if got := v.Path(rec); got != "/"+name {
					t.Errorf("record %d: path %q, fls says %q", rec, got, "/"+name)
				}
				if rec >= 16 {
					users[rec] = true
				}
				n++
			}
			if got := v.Evidence().Files; got != len(users) {
				t.Errorf("Files = %d, fls lists %d user records", got, len(users))
			}
			t.Logf("%d paths agree", n)
		})
	}
}
