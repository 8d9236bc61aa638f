package ftdisk_test

import (
	"fmt"
	"os"

	"github.com/mirrorchk/mirrorchk/set/ftdisk"
)

func Example() {
	b, err := os.ReadFile("../../testdata/ftdisk/orphaned-shadow.hive")
	if err != nil {
		panic(err)
	}
	h, err := ftdisk.OpenHive(b)
	if err != nil {
		panic(err)
	}
	fmt.Println("dirty hive:", h.Base.Dirty())
	v, err := h.DiskInformation()
	if err != nil {
		panic(err)
	}
	d, err := ftdisk.DecodeDiskInformation(v)
	if err != nil {
		panic(err)
	}
	for _, s := range d.FtSets {
		fmt.Println(s.Type, s.VolumeState)
		for i, m := range s.Members {
			p := m.Partition
			fmt.Printf("  member %d: disk %#08x offset %d length %d %v\n", i, m.Signature, p.StartingOffset, p.Length, p.FtState)
		}
		for _, m := range s.Orphaned() {
			fmt.Printf("  stale: member %d\n", m.Partition.FtMember)
		}
	}
	// Output:
	// dirty hive: false
	// Mirror FtHasOrphan
	//   member 0: disk 0x1c7a3b52 offset 32256 length 8193024 Healthy
	//   member 1: disk 0x5d0e9f11 offset 32256 length 8193024 Orphaned
	//   stale: member 1
}
