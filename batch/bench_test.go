package batch

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/mirrorchk/mirrorchk/scan"
)

// BenchmarkRunJobs checks 40 small sets (bare 8 MiB FAT16 pairs made by
// mkfs.fat, each copy differing in one sector) with 1 and with 2 jobs:
//
//	go test ./batch -run '^$' -bench RunJobs -benchtime 5x
//
// bench/batch-jobs.sh measures the same through the command line.
func BenchmarkRunJobs(b *testing.B) {
	mkfs, err := exec.LookPath("mkfs.fat")
	if err != nil {
		b.Fatal("mkfs.fat is needed (apt-get install -y dosfstools)")
	}
	dir := b.TempDir()
	for i := range 40 {
		a := filepath.Join(dir, fmt.Sprintf("s%02d-a.img", i))
		if out, err := exec.Command(mkfs, "-C", "-F", "16", "-s", "1", "-i", fmt.Sprintf("%08X", 0xB0000000+i), a, "8192").CombinedOutput(); err != nil {
			b.Fatalf("mkfs.fat: %v %s", err, out)
		}
		data, _ := os.ReadFile(a)
		copy(data[4<<20:], "changed")
		os.WriteFile(filepath.Join(dir, fmt.Sprintf("s%02d-b.img", i)), data, 0o644)
	}
	for _, hash := range []string{"sha256", "none"} {
		for _, jobs := range []int{1, 2} {
			b.Run(fmt.Sprintf("hash=%s/jobs=%d", hash, jobs), func(b *testing.B) {
				var hashes []string
				if hash != "none" {
					hashes = []string{hash}
				}
				for b.Loop() {
					in, err := Collect([]string{dir}, "")
					if err != nil {
						b.Fatal(err)
					}
					p, err := MakePlan(in, Options{Shards: 1})
					if err != nil {
						b.Fatal(err)
					}
					if len(p.Sets) != 40 {
						b.Fatalf("%d sets", len(p.Sets))
					}
					if _, err := p.Run(context.Background(), RunOptions{Jobs: jobs, Shard: -1,
						Check: scan.CheckOptions{SectorSize: 512, MaxRanges: 100, Hashes: hashes}}); err != nil {
						b.Fatal(err)
					}
					p.Close()
				}
				b.SetBytes(40 * 2 * 8 << 20)
			})
		}
	}
}
