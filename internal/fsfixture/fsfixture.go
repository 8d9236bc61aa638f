// Package fsfixture serves the filesystem-mirror scenario fixtures of
// testdata/fsmirror to tests: sets of 2 or 3 member images of one RAID-1
// mirror (NTFS, FAT16, FAT32; bare or whole-disk MBR) whose members
// diverged in a known way, with the truth about how. The images were built
// once by testdata/fsmirror/build.sh with the real tools (mkntfs, ntfs-3g,
// mkfs.fat, mtools, sfdisk) and are only decompressed here, never rebuilt.
// It is imported only by _test.go files.
package fsfixture

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/mirrorchk/mirrorchk/internal/fixture"
)

// Cases lists every case under testdata/fsmirror.
var Cases = []string{
	"ntfs-missed-writes",
	"ntfs-corrupt-data",
	"ntfs-torn-mft",
	"fat-torn-fat2-fat32",
	"fat-torn-fat2-fat16",
	"three-way",
	"bare-pair",
	"mbr-pair",
	"mbr-pair-ntfs",
}

// Truth is a case's truth.json. Offsets are bytes; Offset fields are
// relative to the member image, FSOffset fields to the filesystem start
// (the image offset minus Truth.FSOffset).
type Truth struct {
	Case     string `json:"case"`
	FS       string `json:"fs"`        // "ntfs", "fat16", "fat32"
	FSOffset int64  `json:"fs_offset"` // filesystem start in each member image
	Image    string `json:"image"`     // "bare" (filesystem image) or "mbr" (whole disk)

	Partition *Partition `json:"partition"` // nil for bare images

	ClusterSize   int64 `json:"cluster_size"`
	MFTRecordSize int64 `json:"mft_record_size"` // NTFS only
	// FAT layout, in sectors from the filesystem start (fat-torn-fat2-* only).
	ReservedSectors int64 `json:"reserved_sectors"`
	FATSectors      int64 `json:"fat_sectors"` // sectors per FAT copy
	FAT1Sector      int64 `json:"fat1_sector"`
	FAT2Sector      int64 `json:"fat2_sector"`

	Members []Member `json:"members"`

	// Member names ("m0", "m1", "m2"); "" when none.
	StaleMember   string            `json:"stale_member"`   // missed writes
	FreshMember   string            `json:"fresh_member"`   // received them
	DamagedMember string            `json:"damaged_member"` // corrupted, torn or bit-rotted
	Roles         map[string]string `json:"roles"`          // member -> description

	// Changes the stale member missed (paths absolute, "/"-separated).
	Changes *Changes `json:"changes"`

	// Corrupted lists every byte range damaged on DamagedMember (data
	// sectors, bit flips, torn MFT records, torn FAT sectors); outside
	// them the damaged member equals its intact twin(s).
	Corrupted      []Range `json:"corrupted"`
	TornMFTRecords []Range `json:"torn_mft_records"`
	TornFATSectors []Range `json:"torn_fat_sectors"`

	// Measured by build.sh on the final images, per member pair "m0-m1":
	// cmp -l | wc -l, and the differing 512-byte sectors merged into
	// [offset, length] extents (image offsets).
	DifferingBytes      map[string]int64      `json:"differing_bytes"`
	DifferingExtents512 map[string][][2]int64 `json:"differing_extents_512"`

	// FSCK is each member's verdict from the peer checker ("fsck.fat -n"
	// or "ntfsfix -n", run on the filesystem at FSOffset).
	FSCK map[string]Verdict `json:"fsck"`

	Note string `json:"note"`
}

// Partition is the MBR entry holding the filesystem of an "mbr" case.
type Partition struct {
	Table        string `json:"table"` // "dos"
	Index        int    `json:"index"` // 1-based
	Type         string `json:"type"`  // "0x06", "0x07"
	StartLBA     int64  `json:"start_lba"`
	Sectors      int64  `json:"sectors"`
	HiddenSector int64  `json:"hidden_sectors"` // as written in the boot sector
}

// Member is one member image.
type Member struct {
	File   string `json:"file"` // "m0.img"
	Bytes  int64  `json:"bytes"`
	SHA256 string `json:"sha256"`
}

// Name is the member name without ".img" ("m0").
func (m Member) Name() string { return m.File[:len(m.File)-len(filepath.Ext(m.File))] }

// Changes are the writes one member received and the stale one missed.
type Changes struct {
	Added    []string   `json:"added"` // files and directories
	Modified []Modified `json:"modified"`
	Deleted  []string   `json:"deleted"`
	Renamed  []Rename   `json:"renamed"`
}

// Modified is a file whose content changed.
type Modified struct {
	Path    string `json:"path"`
	How     string `json:"how"`
	Offset  int64  `json:"offset"` // in-place overwrites: file offset and length
	Length  int64  `json:"length"`
	OldSize int64  `json:"old_size"` // appends
	NewSize int64  `json:"new_size"`
}

// Rename is a renamed file.
type Rename struct {
	From string `json:"from"`
	To   string `json:"to"`
}

// Range is one damaged byte range on a member.
type Range struct {
	Member   string `json:"member"`
	Kind     string `json:"kind"` // "random bytes", "bit flip", "file", "directory" (torn MFT)
	Offset   int64  `json:"offset"`
	FSOffset int64  `json:"fs_offset"`
	Length   int64  `json:"length"`

	Path       string `json:"path"`        // owning file or directory, if any
	FileOffset int64  `json:"file_offset"` // offset of the range inside the file's data
	Record     int64  `json:"record"`      // NTFS MFT record number
	Inode      int64  `json:"inode"`       // Sleuth Kit FAT inode number
	Cluster    int64  `json:"cluster"`
	Sector     int64  `json:"sector"` // fs-relative sector number
	Bit        int    `json:"bit"`    // bit flips: the flipped bit (0 = LSB)

	// Torn MFT records: the record's byte offset, the torn 512-byte block
	// (1 = second) and the update sequence number the record should carry.
	RecordOffset int64 `json:"record_offset"`
	TornBlock    int   `json:"torn_block"`
	USN          int   `json:"usn"`

	// Torn FAT sectors: the FAT copy (2) and the sector within it.
	FAT       int   `json:"fat"`
	FATSector int64 `json:"fat_sector"`
}

// Verdict is a peer checker's verdict on a member.
type Verdict struct {
	Tool string `json:"tool"` // "fsck.fat -n", "ntfsfix -n"
	Exit int    `json:"exit"`
}

// Load reads the truth.json of case name without decompressing images.
func Load(tb testing.TB, name string) Truth {
	tb.Helper()
	b, err := os.ReadFile(fixture.Path("fsmirror", name, "truth.json"))
	if err != nil {
		tb.Fatal(err)
	}
	var t Truth
	if err := json.Unmarshal(b, &t); err != nil {
		tb.Fatalf("fsmirror/%s/truth.json: %v", name, err)
	}
	return t
}

// Case decompresses the members of case name into a fresh tb.TempDir()
// and returns that directory, the member image paths in member order
// (m0, m1[, m2]) and the case's truth.
func Case(tb testing.TB, name string) (dir string, members []string, truth Truth) {
	tb.Helper()
	truth = Load(tb, name)
	dir = tb.TempDir()
	for _, m := range truth.Members {
		members = append(members, fixture.UnzstdTo(tb, "fsmirror/"+name+"/"+m.File+".zst", dir))
	}
	return dir, members, truth
}
