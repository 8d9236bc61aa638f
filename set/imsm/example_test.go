package imsm_test

import (
	"bytes"
	"fmt"
	"log"

	"github.com/mirrorchk/mirrorchk/internal/fixture"
	"github.com/mirrorchk/mirrorchk/set/imsm"
)

// Two images of an Intel RST RAID-1 whose second member was failed and
// removed before more was written: which is current, and which disk entry
// is which image.
func ExampleBind() {
	var mpbs []*imsm.MPB
	var sizes []int64
	for _, name := range []string{"m0", "m1"} {
		img := fixture.MustReadUnzstd("md/md-imsm/b-stale-member/" + name + ".img.zst")
		m, err := imsm.Read(bytes.NewReader(img), int64(len(img)))
		if err != nil {
			log.Fatal(err)
		}
		v := m.Volumes[0]
		off, n := v.DataRange()
		fmt.Printf("%s: generation %#x, checksum ok %v, volume %q RAID-%d %s, data %d bytes at %#x\n",
			name, m.Generation, m.ChecksumOK(), v.Name, v.Maps[0].Level(), v.Maps[0].StateString(), n, off)
		mpbs, sizes = append(mpbs, m), append(sizes, int64(len(img)))
	}
	auth, members, err := imsm.Bind(mpbs, sizes, nil)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("authoritative: m%d\n", auth)
	for i, mb := range members {
		d := mpbs[auth].Disks[mb.Disk]
		fmt.Printf("m%d is disk %d (%s, %s), slot %d, assumed %v\n",
			i, mb.Disk, d.Serial, d.StateString(), mpbs[auth].Volumes[0].Slot(mb.Disk), mb.Assumed)
	}
	// Output:
	// m0: generation 0x12, checksum ok true, volume "vol" RAID-1 degraded, data 4194304 bytes at 0x0
	// m1: generation 0x10, checksum ok true, volume "vol" RAID-1 normal, data 4194304 bytes at 0x0
	// authoritative: m0
	// m0 is disk 1 (/dev/vda, active), slot 1, assumed false
	// m1 is disk 0 (/dev/vdb:0, active failed), slot 0, assumed false
}
