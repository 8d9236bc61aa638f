package ntfs_test

import (
	"bytes"
	"fmt"
	"log"

	"github.com/mirrorchk/mirrorchk/fs/ntfs"
	"github.com/mirrorchk/mirrorchk/internal/fixture"
)

// Open a volume written by Windows, read its evidence, and ask who owns
// and what verifies in the first records of $MFT.
func ExampleOpen() {
	img := fixture.MustReadUnzstd("ntfs/win2008r2-mirror.img.zst")
	v, err := ntfs.Open(bytes.NewReader(img), int64(len(img)))
	if err != nil {
		log.Fatal(err)
	}
	e := v.Evidence()
	fmt.Println(v.Type(), v.Size(), "problems:", len(v.Problems()))
	fmt.Println("log LSN", e.LogLSN, "clean", *e.LogClean, "dirty", *e.Dirty, "max record LSN", e.MaxRecordLSN)
	mft := v.Boot().MFTLCN * v.Boot().ClusterSize
	for _, x := range v.Owners(mft, 3*1024) {
		fmt.Printf("%#x+%d %s %s\n", x.Off, x.Len, x.Owner.Structure, x.Owner.Path)
	}
	j := v.Judge(mft, 1024)
	fmt.Println(j.Intact, j.LSN, j.Reason)
	// Output:
	// ntfs 16777216 problems: 0
	// log LSN 1063380 clean true dirty false max record LSN 1063342
	// 0x555000+1024 $MFT record 0 /$MFT
	// 0x555400+1024 $MFT record 1 /$MFTMirr
	// 0x555800+1024 $MFT record 2 /$LogFile
	// 1 1057504 $MFT record 0 verify
}
