package part

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mirrorchk/mirrorchk/internal/fixture"
)

// sfdiskJSON is the part of `sfdisk -J` the tests compare with.
type sfdiskJSON struct {
	PartitionTable struct {
		Label      string `json:"label"`
		ID         string `json:"id"`
		SectorSize int    `json:"sectorsize"`
		Partitions []struct {
			Node  string `json:"node"`
			Start int64  `json:"start"`
			Size  int64  `json:"size"`
			Type  string `json:"type"`
			Name  string `json:"name"`
		} `json:"partitions"`
	} `json:"partitiontable"`
}

func run(t *testing.T, name string, stdin string, args ...string) string {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Stdin = strings.NewReader(stdin)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s %v: %v\n%s", name, args, err, out)
	}
	return string(out)
}

func readImage(t *testing.T, path string) *Table {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	st, _ := f.Stat()
	tab, err := Read(f, st.Size(), 512)
	if err != nil {
		t.Fatal(err)
	}
	return tab
}

// TestAgainstSfdisk builds tables with sfdisk and compares every
// partition's start, size and type with `sfdisk -J`.
func TestAgainstSfdisk(t *testing.T) {
	sfdisk := fixture.Tool(t, "sfdisk", "fdisk")
	cases := []struct {
		name, script string
		kind         string
		ft, broken   []bool
	}{
		{"dos", "label: dos\nlabel-id: 0x1c7a3b52\nstart=63, size=16002, type=87\nstart=16065, size=4000, type=c7\nstart=20480, size=2048, type=7\nstart=22528, size=2048, type=83\n",
			MBR, []bool{true, true, false, false}, []bool{false, true, false, false}},
		{"dos-ft-fat", "label: dos\nstart=2048, size=8192, type=86\nstart=10240, size=8192, type=8b\nstart=18432, size=2048, type=42\n",
			MBR, []bool{true, true, false}, []bool{false, false, false}},
		{"dos-logical", "label: dos\nstart=2048, size=4096, type=7\nstart=6144, size=20000, type=5\nstart=8192, size=4096, type=87\nstart=14336, size=4096, type=c7\nstart=20480, size=2048, type=6\n",
			MBR, []bool{false, false, true, true, false}, []bool{false, false, false, true, false}},
		{"gpt", "label: gpt\nstart=2048, size=8192, type=EBD0A0A2-B9E5-4433-87C0-68B6B72699C7, name=data\nstart=10240, size=2048, type=5808C8AA-7E8F-42E0-85D2-E1E90434CFB3\nstart=12288, size=4096, type=AF9B60A0-1431-4F62-BC68-3311714A69AD\n",
			GPT, []bool{false, false, false}, []bool{false, false, false}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			img := filepath.Join(t.TempDir(), "disk.img")
			if err := os.Truncate(img, 0); err != nil && !os.IsNotExist(err) {
				t.Fatal(err)
			}
			f, _ := os.Create(img)
			f.Truncate(16 << 20)
			f.Close()
			run(t, sfdisk, c.script, "-q", img)
			var want sfdiskJSON
			if err := json.Unmarshal([]byte(run(t, sfdisk, "", "-J", img)), &want); err != nil {
				t.Fatal(err)
			}
			tab := readImage(t, img)
			label := map[string]string{"dos": MBR, "gpt": GPT}[want.PartitionTable.Label]
			if tab.Kind != c.kind || tab.Kind != label {
				t.Fatalf("kind %q, sfdisk %q, want %q", tab.Kind, want.PartitionTable.Label, c.kind)
			}
			if len(tab.Partitions) != len(want.PartitionTable.Partitions) {
				t.Fatalf("%d partitions, sfdisk lists %d", len(tab.Partitions), len(want.PartitionTable.Partitions))
			}
			if c.kind == MBR {
				if got := fmt.Sprintf("0x%08x", tab.DiskSignature); got != want.PartitionTable.ID {
					t.Errorf("disk signature %s, sfdisk %s", got, want.PartitionTable.ID)
				}
			}
			for i, p := range tab.Partitions {
				w := want.PartitionTable.Partitions[i]
				if p.Start != w.Start*512 || p.Size != w.Size*512 {
					t.Errorf("partition %d at %d+%d, sfdisk %d+%d sectors", p.Index, p.Start, p.Size, w.Start, w.Size)
				}
				wt := strings.ToUpper(w.Type)
				if c.kind == MBR {
					wt = fmt.Sprintf("0X%02s", wt)
				}
				if strings.ToUpper(p.Type) != wt {
					t.Errorf("partition %d type %s, sfdisk %s", p.Index, p.Type, w.Type)
				}
				if p.FT != c.ft[i] || p.FTBroken != c.broken[i] {
					t.Errorf("partition %d (%s): FT %v broken %v, want %v %v", p.Index, p.Type, p.FT, p.FTBroken, c.ft[i], c.broken[i])
				}
				if strings.HasPrefix(p.Type, "0x42") || p.Type == guidLDMData || p.Type == guidLDMMetadata {
					if !p.LDM {
						t.Errorf("partition %d (%s) not recognised as LDM", p.Index, p.Type)
					}
				}
			}
		})
	}
}

// TestBareFilesystem guards the go-diskfs trap: a filesystem image's boot
// sector ends in 0x55AA too and must not be read as an MBR.
func TestBareFilesystem(t *testing.T) {
	mkfat := fixture.Tool(t, "mkfs.fat", "dosfstools")
	mkntfs := fixture.Tool(t, "mkntfs", "ntfs-3g")
	dir := t.TempDir()
	for _, c := range []struct {
		name, tool string
		args       []string
	}{
		{"fat12", mkfat, []string{"-F", "12", "-C", "IMG", "1440"}},
		{"fat16", mkfat, []string{"-F", "16", "-C", "IMG", "16384"}},
		{"fat32", mkfat, []string{"-F", "32", "-C", "IMG", "40960"}},
		{"ntfs", mkntfs, []string{"-q", "-F", "-f", "IMG"}},
	} {
		img := filepath.Join(dir, c.name+".img")
		if c.name == "ntfs" {
			f, _ := os.Create(img)
			f.Truncate(8 << 20)
			f.Close()
		}
		args := append([]string(nil), c.args...)
		for i := range args {
			if args[i] == "IMG" {
				args[i] = img
			}
		}
		run(t, c.tool, "", args...)
		tab := readImage(t, img)
		if tab.Kind != None || tab.Bare == "" || len(tab.Partitions) != 0 {
			t.Errorf("%s: read as %+v, want no partition table", c.name, tab)
		}
	}
}

func TestShortAndGarbage(t *testing.T) {
	for _, c := range []struct {
		name string
		b    []byte
	}{
		{"empty", nil},
		{"short", make([]byte, 100)},
		{"zeros", make([]byte, 4096)},
		{"signature only", func() []byte { b := make([]byte, 4096); b[510], b[511] = 0x55, 0xAA; return b }()},
		{"extended boot record pointing at itself", func() []byte {
			b := make([]byte, 8192)
			b[510], b[511] = 0x55, 0xAA
			b[446+4] = 0x05 // extended, sectors 2..15
			b[446+8] = 2
			b[446+12] = 14
			e := b[1024:]
			e[510], e[511] = 0x55, 0xAA
			e[446+4], e[446+8], e[446+12] = 0x07, 1, 2  // a logical partition
			e[462+4], e[462+8], e[462+12] = 0x05, 0, 14 // next EBR: offset 0 ends the chain, so point at...
			e[462+8] = 1                                // ...sector 3, whose EBR points back at sector 3
			f := b[1536:]
			f[510], f[511] = 0x55, 0xAA
			f[462+4], f[462+8], f[462+12] = 0x05, 1, 14
			return b
		}()},
		{"GPT header claiming a huge array", func() []byte {
			b := make([]byte, 4096)
			b[510], b[511] = 0x55, 0xAA
			b[446+4], b[446+8], b[446+12] = 0xEE, 1, 7
			copy(b[512:], "EFI PART")
			b[512+80], b[512+81], b[512+82], b[512+83] = 0xFF, 0xFF, 0xFF, 0x7F // entries
			b[512+84], b[512+85] = 0x00, 0x10                                   // 4096 bytes each
			return b
		}()},
		{"entry past end", func() []byte {
			b := make([]byte, 4096)
			b[510], b[511] = 0x55, 0xAA
			b[446+4] = 0x07
			b[446+8] = 1
			b[446+12] = 0xFF
			b[446+13] = 0xFF
			return b
		}()},
	} {
		tab, err := Read(strings.NewReader(string(c.b)), int64(len(c.b)), 512)
		if err != nil {
			t.Errorf("%s: %v", c.name, err)
			continue
		}
		if strings.Contains(c.name, "itself") && (len(tab.Notes) == 0 || !strings.Contains(tab.Notes[0], "loops")) {
			t.Errorf("%s: notes %q, want the loop named", c.name, tab.Notes)
		}
		for _, p := range tab.Partitions {
			if strings.Contains(c.name, "past end") && p.Contain(int64(len(c.b))) == nil {
				t.Errorf("%s: partition %+v said to fit in %d bytes", c.name, p, len(c.b))
			}
		}
	}
}

// FuzzRead feeds damaged tables to Read, seeded with tables sfdisk wrote.
func FuzzRead(f *testing.F) {
	sfdisk, err := exec.LookPath("sfdisk")
	if err != nil {
		sfdisk = "/usr/sbin/sfdisk"
	}
	for _, script := range []string{
		"label: dos\nlabel-id: 0x1c7a3b52\nstart=63, size=1000, type=87\nstart=1063, size=900, type=c7\n",
		"label: gpt\nstart=34, size=1000, type=5808C8AA-7E8F-42E0-85D2-E1E90434CFB3\n",
	} {
		img := filepath.Join(f.TempDir(), "d.img")
		fh, _ := os.Create(img)
		fh.Truncate(1 << 20)
		fh.Close()
		cmd := exec.Command(sfdisk, "-q", img)
		cmd.Stdin = strings.NewReader(script)
		if out, err := cmd.CombinedOutput(); err != nil {
			f.Fatalf("sfdisk: %v\n%s", err, out)
		}
		b, _ := os.ReadFile(img)
		f.Add(b[:34*512], int64(1<<20))
	}
	f.Fuzz(func(t *testing.T, b []byte, size int64) {
		if size < int64(len(b)) || size > 1<<40 {
			size = int64(len(b))
		}
		tab, err := Read(strings.NewReader(string(b)), size, 512)
		if err == nil && tab.Kind == None && len(tab.Partitions) != 0 {
			t.Fatalf("no table but partitions: %+v", tab)
		}
	})
}

// TestBootCodeLikeBPB: MBR boot code that starts with a jump and happens to
// hold BPB-like bytes (as GRUB's does) is still an MBR when its partition
// table is valid and it names no FAT type.
func TestBootCodeLikeBPB(t *testing.T) {
	sfdisk := fixture.Tool(t, "sfdisk", "fdisk")
	img := filepath.Join(t.TempDir(), "disk.img")
	f, _ := os.Create(img)
	f.Truncate(8 << 20)
	f.Close()
	run(t, sfdisk, "label: dos\nstart=2048, size=8192, type=83\n", "-q", img)
	b, _ := os.ReadFile(img)
	copy(b, []byte{0xEB, 0x63, 0x90})
	b[11], b[12], b[13], b[14], b[15], b[16], b[21] = 0x00, 0x02, 1, 1, 0, 2, 0xF8
	os.WriteFile(img, b, 0o644)
	if tab := readImage(t, img); tab.Kind != MBR || len(tab.Partitions) != 1 {
		t.Errorf("read as %+v, want the MBR with one partition", tab)
	}
}
