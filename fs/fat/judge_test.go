package fat

import (
	"bytes"
	"encoding/binary"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/mirrorchk/mirrorchk/fs"
)

func TestJudgeIntact(t *testing.T) {
	for _, k := range kinds {
		t.Run(k.name, func(t *testing.T) {
			v := open(t, build(t, k))
			b := v.BPB
			for _, e := range v.Owners(0, v.Size()) {
				j := v.Judge(e.Off, e.Len)
				want := 1
				switch e.Owner.Structure {
				case fs.FileData, fs.FreeSpace, fs.ReservedSectors, fs.Unclustered:
					want = 0
				}
				if j.Intact != want || j.Reason == "" {
					t.Errorf("Judge(%d, %d) on %s %s = %+v, want Intact %d", e.Off, e.Len, e.Owner.Structure, e.Owner.Path, j, want)
				}
			}
			if j := v.Judge(v.dataOff, v.Size()-v.dataOff); j.Intact != 1 {
				t.Errorf("Judge(data area) = %+v, want +1 from the directories", j)
			}
			f := findFile(v, "/b.bin")
			if j := v.Judge(v.clusterOff(f.Chain[1]), v.cb); j.Intact != 0 || j.Reason != "no structure to check" {
				t.Errorf("Judge(file data) = %+v", j)
			}
			_ = b
		})
	}
}

// TestJudgeTornFAT writes random bytes over three sectors of FAT 2 and
// checks that Judge condemns that range of FAT 2 and nothing else.
func TestJudgeTornFAT(t *testing.T) {
	for _, k := range kinds {
		t.Run(k.name, func(t *testing.T) {
			good := build(t, k)
			img := bytes.Clone(good)
			v := open(t, good)
			bps := v.bps
			torn := v.BPB.FATStart(1)*bps + bps // sectors 1..3 of FAT 2
			rnd := rand.New(rand.NewPCG(1, 2))
			for i := range 3 * bps {
				img[torn+i] = byte(rnd.Uint32())
			}
			tv := open(t, img)
			if _, ok := codes(tv.Problems())["fat-copies-differ"]; !ok {
				t.Errorf("no fat-copies-differ in %+v", tv.Problems())
			}
			j := tv.Judge(torn, 3*bps)
			if j.Intact != -1 || !strings.Contains(j.Reason, "FAT 2") {
				t.Errorf("Judge(torn FAT 2 sectors) = %+v, want -1 naming FAT 2", j)
			}
			if j := v.Judge(torn, 3*bps); j.Intact != 1 {
				t.Errorf("intact image: Judge(same range) = %+v, want +1", j)
			}
			// The rest of FAT 2 still agrees with FAT 1.
			rest := torn + 3*bps
			if j := tv.Judge(rest, v.BPB.FATStart(2)*bps-rest); j.Intact != 1 {
				t.Errorf("Judge(untouched part of FAT 2) = %+v, want +1", j)
			}
			if code, out := fsck(t, img); code != 1 {
				t.Errorf("fsck.fat -n exit %d on the torn FAT, want 1:\n%s", code, out)
			}
		})
	}
}

func TestJudgeDirectory(t *testing.T) {
	for _, k := range kinds {
		t.Run(k.name, func(t *testing.T) {
			good := build(t, k)
			img := bytes.Clone(good)
			v := open(t, good)
			sub := findFile(v, "/dir/sub")
			off := v.clusterOff(sub.Chain[0])
			binary.LittleEndian.PutUint16(img[off+26:], 77) // "." points elsewhere
			tv := open(t, img)
			if j := tv.Judge(off, v.cb); j.Intact != -1 || !strings.Contains(j.Reason, "/dir/sub") {
				t.Errorf("Judge(bad directory) = %+v, want -1 naming /dir/sub", j)
			}
			if j := v.Judge(off, v.cb); j.Intact != 1 {
				t.Errorf("Judge(good directory) = %+v, want +1", j)
			}
		})
	}
}

func TestJudgeBoot(t *testing.T) {
	k := kinds[2]
	good := build(t, k)
	v := open(t, good)
	for _, r := range []struct {
		off  int64
		want string
	}{{0, fs.BootSector}, {512, fs.FSInfo}, {6 * 512, fs.BackupBoot}, {7 * 512, fs.BackupFSInfo}} {
		if o := v.Owners(r.off, 512); len(o) != 1 || o[0].Owner.Structure != r.want {
			t.Errorf("Owners(%d) = %+v, want %s", r.off, o, r.want)
		}
		if j := v.Judge(r.off, 512); j.Intact != 1 {
			t.Errorf("Judge(%s) = %+v, want +1", r.want, j)
		}
	}
	img := bytes.Clone(good)
	img[512] = 0
	if j := open(t, img).Judge(512, 512); j.Intact != -1 {
		t.Errorf("Judge(bad FSInfo) = %+v, want -1", j)
	}
}
