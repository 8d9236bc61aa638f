package ldm_test

import (
	"archive/tar"
	"bytes"
	"fmt"
	"io"
	"log"
	"os/exec"

	"github.com/mirrorchk/mirrorchk/internal/fixture"
	"github.com/mirrorchk/mirrorchk/set/ldm"
)

// readImages decompresses the named images of the 2008 R2 fixture tarball
// into memory.
func readImages(names ...string) map[string][]byte {
	xz, err := exec.LookPath("xz")
	if err != nil {
		log.Fatal("xz not installed: apt-get install xz-utils")
	}
	cmd := exec.Command(xz, "-dc", fixture.Path("ldm/ldm-2008r2.tar.xz"))
	out, err := cmd.StdoutPipe()
	if err != nil {
		log.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		log.Fatal(err)
	}
	imgs := map[string][]byte{}
	tr := tar.NewReader(out)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			log.Fatal(err)
		}
		for _, n := range names {
			if h.Name == n {
				if imgs[n], err = io.ReadAll(tr); err != nil {
					log.Fatal(err)
				}
			}
		}
	}
	if err := cmd.Wait(); err != nil {
		log.Fatal(err)
	}
	return imgs
}

// Two dynamic disks, one MBR and one GPT, each holding one half of a
// mirrored volume: read each disk's database, then place the mirror's
// plexes on the images.
func Example() {
	names := []string{"ldm-2008r2-mirrored-1.img", "ldm-2008r2-mirrored-2.img"}
	imgs := readImages(names...)

	heads := map[string]*ldm.PrivHead{} // by disk GUID
	var dbs []*ldm.Database
	for _, name := range names {
		img := imgs[name]
		db, ph, err := ldm.Read(bytes.NewReader(img), int64(len(img)))
		if err != nil {
			log.Fatal(err)
		}
		fmt.Printf("%s: %s disk %s of %s, database committed at %d\n",
			name, ph.Scheme, db.ThisDisk.Name, db.DiskGroup.Name, db.CommittedSeq)
		heads[ph.DiskGUID] = ph
		dbs = append(dbs, db)
	}
	if dbs[0].Lags(dbs[1]) || dbs[1].Lags(dbs[0]) {
		fmt.Println("one disk's database lags")
	}

	for _, v := range dbs[0].Volumes {
		if v.Kind != ldm.KindMirror {
			fmt.Printf("%s: %s, not a mirror, not checked\n", v.Name, v.Kind)
			continue
		}
		fmt.Printf("%s: %s, %d bytes, %s\n", v.Name, v.Kind, v.Size*ldm.SectorSize, v.State)
		for _, p := range v.Plexes {
			for _, e := range p.Extents {
				ph := heads[e.Disk.GUID]
				if ph == nil {
					fmt.Printf("  plex %s: on %s, which is not among the images\n", p.Component.Name, e.Disk.Name)
					continue
				}
				off, err := e.ByteOffset(ph)
				if err != nil {
					log.Fatal(err)
				}
				fmt.Printf("  plex %s (%s): %d bytes at byte %#x of %s (%s)\n",
					p.Component.Name, p.Component.State, e.Length(), off, e.Disk.Name, ph.Scheme)
			}
		}
	}
	// Output:
	// ldm-2008r2-mirrored-1.img: mbr disk Disk5 of WIN-ERRDJSBDAVF-Dg0, database committed at 39
	// ldm-2008r2-mirrored-2.img: gpt disk Disk6 of WIN-ERRDJSBDAVF-Dg0, database committed at 39
	// Volume4: RAID5, not a mirror, not checked
	// Volume1: spanned, not a mirror, not checked
	// Volume2: striped, not a mirror, not checked
	// Volume3: mirrored, 16777216 bytes, ACTIVE
	//   plex Volume3-01 (ACTIVE): 16777216 bytes at byte 0x10000 of Disk5 (mbr)
	//   plex Volume3-02 (ACTIVE): 16777216 bytes at byte 0x2010000 of Disk6 (gpt)
	// Volume5: spanned, not a mirror, not checked
}
