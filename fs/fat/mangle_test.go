package fat

import (
	"bytes"
	"encoding/binary"
	"strings"
	"testing"

	"github.com/mirrorchk/mirrorchk/fs"
)

// setFAT writes value x into entry c of FAT copy k (every copy if k < 0).
func setFAT(img []byte, v *Volume, k int, c uint32, x uint32) {
	b := &v.BPB
	for j := range int(b.NumFATs) {
		if k >= 0 && j != k {
			continue
		}
		base := b.FATStart(j) * v.bps
		switch b.Type {
		case FAT12:
			o := base + int64(c)*3/2
			w := binary.LittleEndian.Uint16(img[o:])
			if c&1 != 0 {
				w = w&0x000f | uint16(x&0xfff)<<4
			} else {
				w = w&0xf000 | uint16(x&0xfff)
			}
			binary.LittleEndian.PutUint16(img[o:], w)
		case FAT16:
			binary.LittleEndian.PutUint16(img[base+int64(c)*2:], uint16(x))
		default:
			o := base + int64(c)*4
			binary.LittleEndian.PutUint32(img[o:], binary.LittleEndian.Uint32(img[o:])&0xf0000000|x&0x0fffffff)
		}
	}
}

func eoc(v *Volume) uint32 { return v.badMark() + 8 }

// mangle is one corruption of a good image.
type mangle struct {
	name  string
	types string // the kinds it applies to, "" for all
	mess  func(img []byte, v *Volume)
	code  string // our problem code
	fsck  int    // fsck.fat -n exit status, -1 when not asserted
	msg   string // substring of fsck.fat's output, "" for none
}

var mangles = []mangle{
	{name: "dirty-bpb", types: "fat12 fat16", code: "fat-dirty", fsck: 1, msg: "Dirty bit is set",
		mess: func(img []byte, v *Volume) { img[0x25] |= 1 }},
	{name: "dirty-bpb", types: "fat32", code: "fat-dirty", fsck: 1, msg: "Dirty bit is set",
		mess: func(img []byte, v *Volume) { img[0x41] |= 1 }},
	{name: "dirty-fat1", types: "fat16 fat32", code: "fat-dirty", fsck: 1, msg: "Dirty bit is set",
		mess: func(img []byte, v *Volume) {
			setFAT(img, v, -1, 1, v.next(1)&^map[string]uint32{FAT16: 0x8000, FAT32: 0x08000000}[v.BPB.Type])
		}},
	{name: "hard-error", types: "fat16", code: "fat-hard-error", fsck: 0,
		mess: func(img []byte, v *Volume) { setFAT(img, v, -1, 1, v.next(1)&^0x4000) }},
	{name: "copies-differ", code: "fat-copies-differ", fsck: 1, msg: "FATs differ",
		mess: func(img []byte, v *Volume) { setFAT(img, v, 1, 300, eoc(v)) }},
	{name: "circular-chain", code: "fat-chain-loop", fsck: 1, msg: "Circular cluster chain",
		mess: func(img []byte, v *Volume) {
			f := findFile(v, "/b.bin")
			setFAT(img, v, -1, f.Chain[4], f.Chain[1])
		}},
	{name: "lost-clusters", code: "fat-lost-clusters", fsck: 1, msg: "unused cluster",
		mess: func(img []byte, v *Volume) {
			setFAT(img, v, -1, 300, 301)
			setFAT(img, v, -1, 301, eoc(v))
		}},
	{name: "size-mismatch", code: "fat-size-mismatch", fsck: 1, msg: "File size is",
		mess: func(img []byte, v *Volume) {
			f := findFile(v, "/dir/sub/deeper/x.txt")
			binary.LittleEndian.PutUint32(img[f.EntryOff+28:], uint32(3*v.cb))
		}},
	{name: "cross-link", code: "fat-cross-link", fsck: 1, msg: "share clusters",
		mess: func(img []byte, v *Volume) {
			x := findFile(v, "/dir/sub/deeper/x.txt")
			c := findFile(v, "/dir/sub/c.bin")
			setFAT(img, v, -1, x.Chain[0], c.Chain[2])
			binary.LittleEndian.PutUint32(img[x.EntryOff+28:], uint32(3*v.cb))
		}},
	{name: "free-in-chain", code: "fat-chain-free-cluster", fsck: 1, msg: "Contains a free cluster",
		mess: func(img []byte, v *Volume) {
			f := findFile(v, "/b.bin")
			setFAT(img, v, -1, f.Chain[2], 0)
		}},
	{name: "chain-out-of-range", code: "fat-chain-out-of-range", fsck: 1, msg: "out of range",
		mess: func(img []byte, v *Volume) {
			f := findFile(v, "/b.bin")
			setFAT(img, v, -1, f.Chain[2], v.BPB.Clusters+5)
		}},
	{name: "fsinfo-magic", types: "fat32", code: "fat-fsinfo-bad-signature", fsck: 1, msg: "FSINFO sector has bad magic",
		mess: func(img []byte, v *Volume) { img[512] ^= 0xff }},
	{name: "backup-boot-differs", types: "fat32", code: "fat-backup-boot-differs", fsck: 0, msg: "differences between boot sector and its backup",
		mess: func(img []byte, v *Volume) { img[6*512+0x47] ^= 0x20 }},
	{name: "free-count", types: "fat32", code: "fat-free-count-wrong", fsck: 1, msg: "Free cluster summary wrong",
		mess: func(img []byte, v *Volume) { binary.LittleEndian.PutUint32(img[512+488:], 12345) }},
	{name: "media", code: "fat-media-mismatch", fsck: 0, msg: "", // fsck.fat does not compare them
		mess: func(img []byte, v *Volume) { setFAT(img, v, -1, 0, v.next(0)^0x08) }},
	{name: "lfn-checksum", code: "fat-lfn-checksum", fsck: 0, msg: "Wrong checksum for long file name",
		mess: func(img []byte, v *Volume) {
			f := findFile(v, "/dir/Long File Name.txt")
			img[f.EntryOff+7]++ // LONGFI~1 -> LONGFI~2
		}},
	{name: "bad-dot", code: "fat-bad-dir-entry", fsck: 1, msg: "Invalid '.' entry",
		mess: func(img []byte, v *Volume) {
			f := findFile(v, "/dir/sub")
			binary.LittleEndian.PutUint16(img[v.clusterOff(f.Chain[0])+26:], 77)
		}},
}

func TestMangle(t *testing.T) {
	for _, k := range kinds {
		good := build(t, k)
		for _, m := range mangles {
			if m.types != "" && !strings.Contains(m.types, k.name) {
				continue
			}
			t.Run(k.name+"/"+m.name, func(t *testing.T) {
				img := bytes.Clone(good)
				m.mess(img, open(t, good))
				v := open(t, img)
				ps := v.Problems()
				p, ok := codes(ps)[m.code]
				if !ok {
					t.Errorf("no %s problem; got %+v", m.code, ps)
				} else if p.Severity == "" || p.Message == "" {
					t.Errorf("problem %+v lacks severity or message", p)
				}
				code, out := fsck(t, img)
				if m.fsck < 0 {
					t.Logf("fsck.fat -n exit %d (not asserted):\n%s", code, out)
					return
				}
				if testing.Verbose() {
					t.Logf("fsck.fat -n exit %d:\n%s", code, out)
				}
				if code != m.fsck || !strings.Contains(out, m.msg) {
					t.Errorf("fsck.fat -n exit %d, want %d with %q:\n%s", code, m.fsck, m.msg, out)
				}
				if m.code == "fat-dirty" {
					if e := v.Evidence(); e.Dirty == nil || !*e.Dirty {
						t.Errorf("Evidence().Dirty = %v, want true", e.Dirty)
					}
				}
				if m.code == "fat-hard-error" && len(v.Evidence().Notes) == 0 {
					t.Errorf("Evidence().Notes empty, want the hard-error bit")
				}
			})
		}
	}
	_ = fs.Error
}

// TestLostAndBadOwners checks the owners of clusters that the FAT marks
// allocated but no file reaches, and of clusters marked bad.
func TestLostAndBadOwners(t *testing.T) {
	for _, k := range kinds {
		t.Run(k.name, func(t *testing.T) {
			good := build(t, k)
			v := open(t, good)
			img := bytes.Clone(good)
			setFAT(img, v, -1, 300, 301)
			setFAT(img, v, -1, 301, eoc(v))
			setFAT(img, v, -1, 305, v.badMark())
			tv := open(t, img)
			ex := tv.Owners(tv.clusterOff(299), 7*tv.cb)
			checkCover(t, ex, tv.clusterOff(299), 7*tv.cb)
			want := []struct {
				s string
				c int64
			}{{fs.FreeSpace, 299}, {fs.LostClusters, 300}, {fs.FreeSpace, 302}, {fs.BadClusters, 305}}
			if len(ex) != len(want) {
				t.Fatalf("Owners = %+v", ex)
			}
			for i, w := range want {
				if ex[i].Owner.Structure != w.s || ex[i].Owner.Cluster != w.c || ex[i].Owner.FS != k.name {
					t.Errorf("extent %d = %+v, want %s at cluster %d", i, ex[i], w.s, w.c)
				}
			}
			p := codes(tv.Problems())["fat-lost-clusters"]
			if !strings.Contains(p.Message, "2 clusters") || p.Off != tv.clusterOff(300) {
				t.Errorf("fat-lost-clusters = %+v, want 2 clusters at %d", p, tv.clusterOff(300))
			}
			if got, want := tv.FreeClusters(), v.FreeClusters()-3; got != want {
				t.Errorf("FreeClusters() = %d, want %d", got, want)
			}
		})
	}
}

// TestEntry reads FAT entries per copy where the copies differ.
func TestEntry(t *testing.T) {
	for _, k := range kinds {
		good := build(t, k)
		v := open(t, good)
		img := bytes.Clone(good)
		setFAT(img, v, 1, 300, 0x123)
		tv := open(t, img)
		b := findFile(tv, "/b.bin")
		for _, tc := range []struct {
			copy int
			n    uint32
			want uint32
		}{{0, 300, 0}, {1, 300, 0x123}, {0, b.Chain[0], b.Chain[1]}, {1, b.Chain[0], b.Chain[1]},
			{0, b.Chain[len(b.Chain)-1], eoc(v)}, {0, 0, v.next(0)}} {
			got, err := tv.Entry(tc.copy, tc.n)
			if err != nil || got != tc.want {
				t.Errorf("%s: Entry(%d, %d) = %#x, %v; want %#x", k.name, tc.copy, tc.n, got, err, tc.want)
			}
		}
		if _, err := tv.Entry(2, 0); err == nil {
			t.Errorf("%s: Entry(2, 0) on a 2-FAT volume gave no error", k.name)
		}
		if _, err := tv.Entry(0, 1<<30); err == nil {
			t.Errorf("%s: Entry(0, 1<<30) gave no error", k.name)
		}
	}
}
