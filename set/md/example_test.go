package md_test

import (
	"bytes"
	"fmt"
	"log"

	"github.com/mirrorchk/mirrorchk/internal/fixture"
	"github.com/mirrorchk/mirrorchk/set/md"
)

// The fresh member of a RAID-1 whose other member was failed and removed:
// its bitmap records which chunks were written while the array was degraded.
func ExampleScan() {
	img := fixture.MustReadUnzstd("md/md-1.2/c-stale-member-bitmap/m0.img.zst")
	r, size := bytes.NewReader(img), int64(len(img))

	sbs, err := md.Scan(r, size)
	if err != nil {
		log.Fatal(err)
	}
	for _, sb := range sbs {
		fmt.Printf("%s at byte %#x: array %s, events %d, slot %d, checksum ok %v\n",
			sb.Version, sb.Offset, sb.UUIDString(), sb.Events, sb.Role, sb.ChecksumOK())
		fmt.Printf("data: %d bytes from byte %#x\n", sb.DataSize, sb.DataOffset)

		b, err := md.ReadBitmap(r, size, sb)
		if err != nil {
			log.Fatal(err)
		}
		fmt.Printf("bitmap: %d of %d chunks of %d KiB dirty since events %d\n",
			b.DirtyCount(), b.NBits, b.ChunkSize>>10, b.EventsCleared)
		// truth.json: 256 KiB at 1 MiB were written after the split.
		fmt.Println("256 KiB at 1 MiB may differ:", b.Covers(1<<20, 256<<10))
		fmt.Println("64 KiB at 2 MiB may differ:", b.Covers(2<<20, 64<<10))
	}
	// Output:
	// 1.2 at byte 0x1000: array 3fe45b3c:8e72bc81:c7acdf86:979b8cb3, events 20, slot 0, checksum ok true
	// data: 7340032 bytes from byte 0x100000
	// bitmap: 6 of 112 chunks of 64 KiB dirty since events 15
	// 256 KiB at 1 MiB may differ: true
	// 64 KiB at 2 MiB may differ: false
}
