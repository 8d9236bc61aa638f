package fat_test

import (
	"bytes"
	"fmt"
	"log"

	"github.com/mirrorchk/mirrorchk/fs/fat"
	"github.com/mirrorchk/mirrorchk/internal/fixture"
)

func ExampleOpen() {
	img := fixture.MustReadUnzstd("fat/small-fat12.img.zst")
	v, err := fat.Open(bytes.NewReader(img), int64(len(img)))
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(v.Type(), v.Size(), "bytes,", v.BPB.Clusters, "clusters")
	for _, f := range v.Files() {
		fmt.Printf("%-28s dir=%-5v size=%-5d clusters=%v\n", f.Path, f.Dir, f.Size, f.Chain)
	}
	big := v.Files()[len(v.Files())-1]
	for _, e := range v.Owners(int64(v.BPB.FirstDataSec)*512+int64(big.Chain[0]-2)*2048-512, 1024) {
		fmt.Printf("%d+%d: %s %s cluster %d\n", e.Off, e.Len, e.Owner.Structure, e.Owner.Path, e.Owner.Cluster)
	}
	fmt.Println(len(v.Problems()), "problems")
	// Output:
	// fat12 262144 bytes, 119 clusters
	// /docs                        dir=true  size=0     clusters=[2]
	// /HELLO.TXT                   dir=false size=14    clusters=[8]
	// /docs/nested                 dir=true  size=0     clusters=[3]
	// /docs/A long file name.txt   dir=false size=14    clusters=[4]
	// /docs/nested/big.txt         dir=false size=5000  clusters=[5 6 7]
	// 23552+512: file data /docs/A long file name.txt cluster 4
	// 24064+512: file data /docs/nested/big.txt cluster 5
	// 0 problems
}
