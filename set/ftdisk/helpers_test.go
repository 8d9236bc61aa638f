package ftdisk

import (
	"fmt"
	"strings"
)

// dump prints a DiskInformation for failure messages.
func dump(d *DiskInformation) string {
	var b strings.Builder
	fmt.Fprintf(&b, "header %+v\n", d.Header)
	for _, dk := range d.Disks {
		fmt.Fprintf(&b, "disk @%#x sig %#08x\n", dk.Off, dk.Signature)
		for _, p := range dk.Partitions {
			fmt.Fprintf(&b, "  part %+v\n", *p)
		}
	}
	for _, s := range d.FtSets {
		fmt.Fprintf(&b, "set @%#x %v %v\n", s.Off, s.Type, s.VolumeState)
		for _, m := range s.Members {
			fmt.Fprintf(&b, "  member @%#x state %d sig %#08x off %#x ln %d\n", m.Off, m.State, m.Signature, m.OffsetToPartitionInfo, m.LogicalNumber)
		}
	}
	for _, f := range d.Findings {
		fmt.Fprintf(&b, "finding %v\n", f)
	}
	return b.String()
}
