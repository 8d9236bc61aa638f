package fat

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/mirrorchk/mirrorchk/fs"
)

// guard runs f and fails the test if it takes longer than d (a hang).
func guard(t *testing.T, d time.Duration, f func()) {
	t.Helper()
	done := make(chan struct{})
	go func() {
		defer close(done)
		f()
	}()
	select {
	case <-done:
	case <-time.After(d):
		t.Fatalf("did not finish within %v", d)
	}
}

// exercise runs every method over the whole volume and checks coverage.
func exercise(t testing.TB, v *Volume, size int64) {
	end := max(v.Size(), size) + 4096
	ex := v.Owners(0, end)
	checkCover(t, ex, 0, end)
	v.Judge(0, end)
	for _, e := range ex[:min(len(ex), 64)] {
		v.Judge(e.Off, e.Len)
	}
	v.Problems()
	v.Evidence()
	for _, f := range v.Files() {
		_ = f.Path
	}
	for c := uint32(0); c < 8; c++ {
		v.OwnerOfCluster(c)
		v.Entry(int(c%3), c)
	}
}

func TestBadBPB(t *testing.T) {
	fat16 := build(t, kinds[1])
	fat32 := build(t, kinds[2])
	le := binary.LittleEndian
	for _, tc := range []struct {
		name  string
		img   []byte
		mess  func(b []byte)
		field string // FormatError field; "" for ErrNotFAT
		off   int64
	}{
		{"zeroed-boot", fat16, func(b []byte) { clear(b[:512]) }, "", 0},
		{"secperclus-0", fat16, func(b []byte) { b[0x0d] = 0 }, "BPB_SecPerClus", 0x0d},
		{"secperclus-3", fat16, func(b []byte) { b[0x0d] = 3 }, "BPB_SecPerClus", 0x0d},
		{"bytspersec", fat16, func(b []byte) { le.PutUint16(b[0x0b:], 500) }, "BPB_BytsPerSec", 0x0b},
		{"huge-fatsz16", fat16, func(b []byte) { le.PutUint16(b[0x16:], 0xffff) }, "BPB_TotSec", 0x13},
		{"numfats-0", fat16, func(b []byte) { b[0x10] = 0 }, "BPB_NumFATs", 0x10},
		{"rsvd-0", fat16, func(b []byte) { le.PutUint16(b[0x0e:], 0) }, "BPB_RsvdSecCnt", 0x0e},
		{"rootent-0", fat16, func(b []byte) { le.PutUint16(b[0x11:], 0) }, "BPB_RootEntCnt", 0x11},
		{"no-jump", fat16, func(b []byte) { b[0] = 0 }, "BS_jmpBoot", 0},
		{"both-boots-zeroed", fat32, func(b []byte) { clear(b[:512]); clear(b[6*512 : 7*512]) }, "", 0},
		{"huge-fatsz32-both", fat32, func(b []byte) {
			le.PutUint32(b[0x24:], 0xffffffff)
			le.PutUint32(b[6*512+0x24:], 0xffffffff)
		}, "BPB_TotSec", 0x13},
	} {
		t.Run(tc.name, func(t *testing.T) {
			img := bytes.Clone(tc.img)
			tc.mess(img)
			_, err := Open(bytes.NewReader(img), int64(len(img)))
			var fe *FormatError
			switch {
			case tc.field == "":
				if !errors.Is(err, ErrNotFAT) {
					t.Errorf("Open = %v, want ErrNotFAT", err)
				}
			case !errors.As(err, &fe):
				t.Errorf("Open = %v, want a *FormatError", err)
			case fe.Field != tc.field || fe.Off != tc.off:
				t.Errorf("FormatError %q at %#x (%v), want %q at %#x", fe.Field, fe.Off, fe, tc.field, tc.off)
			}
		})
	}
}

// TestBackupBoot opens a FAT32 volume whose primary boot sector is
// damaged from the backup at sector 6.
func TestBackupBoot(t *testing.T) {
	for name, mess := range map[string]func(b []byte){
		"zeroed":       func(b []byte) { clear(b[:512]) },
		"secperclus-0": func(b []byte) { b[0x0d] = 0 },
	} {
		t.Run(name, func(t *testing.T) {
			img := bytes.Clone(build(t, kinds[2]))
			mess(img)
			v := open(t, img)
			if !v.FromBackup || v.Type() != FAT32 {
				t.Fatalf("FromBackup %v, Type %q", v.FromBackup, v.Type())
			}
			if _, ok := codes(v.Problems())["fat-boot-sector-bad"]; !ok {
				t.Errorf("no fat-boot-sector-bad in %+v", v.Problems())
			}
			if j := v.Judge(0, 512); j.Intact != -1 {
				t.Errorf("Judge(boot sector) = %+v, want -1", j)
			}
			if j := v.Judge(6*512, 512); j.Intact != 1 {
				t.Errorf("Judge(backup boot sector) = %+v, want +1", j)
			}
			if len(v.Files()) != len(wantPaths) {
				t.Errorf("%d files, want %d", len(v.Files()), len(wantPaths))
			}
		})
	}
}

func TestTruncated(t *testing.T) {
	for _, k := range kinds {
		good := build(t, k)
		v := open(t, good)
		for _, n := range []int64{0, 100, 511, 512, 1024, v.BPB.FATStart(1) * v.bps, v.dataOff, v.dataOff + 3*v.cb + 17, int64(len(good)) / 2, int64(len(good)) - 1} {
			t.Run(fmt.Sprintf("%s/%d", k.name, n), func(t *testing.T) {
				guard(t, 10*time.Second, func() {
					tv, err := Open(bytes.NewReader(good[:n]), n)
					if err != nil {
						var fe *FormatError
						if !errors.As(err, &fe) && !errors.Is(err, ErrNotFAT) {
							t.Errorf("Open = %v, want a *FormatError or ErrNotFAT", err)
						}
						return
					}
					if _, ok := codes(tv.Problems())["fat-truncated"]; !ok {
						t.Errorf("no fat-truncated problem: %+v", tv.Problems())
					}
					exercise(t, tv, n)
				})
			})
		}
	}
}

// TestCycles makes directories point at themselves and at ancestors, and
// chains loop, and checks the walk ends with the problem found.
func TestCycles(t *testing.T) {
	for _, k := range kinds {
		good := build(t, k)
		v := open(t, good)
		dir := findFile(v, "/dir")
		sub := findFile(v, "/dir/sub")
		deeper := findFile(v, "/dir/sub/deeper")
		setCl := func(img []byte, f *File, c uint32) {
			binary.LittleEndian.PutUint16(img[f.EntryOff+26:], uint16(c))
			binary.LittleEndian.PutUint16(img[f.EntryOff+20:], uint16(c>>16))
		}
		for _, tc := range []struct {
			name string
			mess func(img []byte)
			code string
		}{
			{"self", func(img []byte) { setCl(img, sub, dir.Cluster) }, "fat-dir-cycle"},
			{"ancestor", func(img []byte) { setCl(img, deeper, dir.Cluster) }, "fat-dir-cycle"},
			{"to-root", func(img []byte) { setCl(img, deeper, v.files[0].Cluster) }, ""},
			{"dir-chain-loop", func(img []byte) { setFAT(img, v, -1, sub.Chain[0], sub.Chain[0]) }, "fat-chain-loop"},
			{"all-fat-loops", func(img []byte) {
				for c := uint32(2); c <= v.maxClus; c++ {
					setFAT(img, v, -1, c, c)
				}
			}, "fat-chain-loop"},
			{"all-fat-next", func(img []byte) {
				// Not all clusters: fsck.fat takes seconds on long chains.
				for c := uint32(2); c <= min(v.maxClus, 3000); c++ {
					setFAT(img, v, -1, c, c+1)
				}
			}, ""},
		} {
			t.Run(k.name+"/"+tc.name, func(t *testing.T) {
				img := bytes.Clone(good)
				tc.mess(img)
				guard(t, 20*time.Second, func() {
					tv := open(t, img)
					if tc.code != "" {
						if _, ok := codes(tv.Problems())[tc.code]; !ok {
							t.Errorf("no %s in %+v", tc.code, tv.Problems())
						}
					}
					hasErr := false
					for _, p := range tv.Problems() {
						hasErr = hasErr || p.Severity == fs.Error
					}
					if !hasErr {
						t.Errorf("no error problem: %+v", tv.Problems())
					}
					exercise(t, tv, int64(len(img)))
				})
				if code, out := fsck(t, img); code != 1 {
					t.Errorf("fsck.fat -n exit %d, want 1:\n%s", code, out)
				}
			})
		}
	}
}

// TestHugeClaims checks that counts the image cannot hold do not drive
// allocations or loops: a FAT32 volume that claims 128 GiB.
func TestHugeClaims(t *testing.T) {
	img := bytes.Clone(build(t, kinds[2]))
	binary.LittleEndian.PutUint32(img[0x20:], 0x0f000000) // 2^28 clusters of 512 bytes
	guard(t, 10*time.Second, func() {
		v, err := Open(bytes.NewReader(img), int64(len(img)))
		if err != nil {
			t.Logf("Open: %v", err)
			return
		}
		if _, ok := codes(v.Problems())["fat-truncated"]; !ok {
			t.Errorf("no fat-truncated in %+v", v.Problems())
		}
		exercise(t, v, int64(len(img)))
	})
}

// TestTruncatedNoFAT checks that a volume cut before its FAT reports the
// truncation, not a dirty or media-mismatched FAT it cannot see, and that
// Judge gives no verdict on the missing bytes.
func TestTruncatedNoFAT(t *testing.T) {
	for _, k := range kinds {
		good := build(t, k)
		v := open(t, good)
		n := v.BPB.FATStart(0) * v.bps
		tv := open(t, good[:n])
		for _, p := range tv.Problems() {
			if p.Code != "fat-truncated" && p.Code != "fat-read-error" && p.Code != "fat-chain-out-of-range" && p.Code != "fat-fsinfo-bad-signature" {
				t.Errorf("%s cut at %d: unexpected %+v", k.name, n, p)
			}
		}
		if e := tv.Evidence(); *e.Dirty {
			t.Errorf("%s cut at %d: dirty", k.name, n)
		}
		if j := tv.Judge(n, v.Size()-n); j.Intact != 0 {
			t.Errorf("%s: Judge(missing bytes) = %+v, want 0", k.name, j)
		}
	}
}
