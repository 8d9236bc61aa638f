package ddf_test

import (
	"bytes"
	"fmt"
	"log"

	"github.com/mirrorchk/mirrorchk/internal/fixture"
	"github.com/mirrorchk/mirrorchk/set/ddf"
)

// The fresh member of a DDF RAID-1 whose other disk was failed and removed.
func ExampleRead() {
	img := fixture.MustReadUnzstd("md/md-ddf/b-stale-member/m0.img.zst")
	d, err := ddf.Read(bytes.NewReader(img), int64(len(img)))
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("container %s, seq %#x, this disk %08x\n", d.Active.GUID, d.Seq(), d.ThisDisk.RefNo)
	fmt.Println("copy used:", d.ActiveReason)
	for _, v := range d.Mirrors() {
		fmt.Printf("%s %q: %s, %d sectors per member\n", v.Config.Level(), v.VD.Name, v.VD.StateString(), v.Config.Blocks)
		for _, m := range v.Members {
			fmt.Printf("  slot %d: disk %08x at sector %d, %s, in sync %v, this %v\n",
				m.Slot, m.RefNo, m.Start, m.Disk.StateString(), m.InSync(), m.This)
		}
	}
	// Output:
	// container 4C696E75:782D4D44:DEADBEEF:00000000:583BBDC4:DAD60B22, seq 0xc, this disk f96db4c9
	// copy used: primary: both copies are usable, seq 0xc
	// RAID1 "vol": Degraded, Consistent, 8192 sectors per member
	//   slot 0: disk 1ccd698b at sector 0, Offline, Failed, Missing, in sync false, this false
	//   slot 1: disk f96db4c9 at sector 0, Online, in sync true, this true
}
