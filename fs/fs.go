// Package fs holds what every filesystem reader of mirrorchk returns: the
// owner of a byte range, the problems a consistency check finds, and the
// evidence a filesystem keeps of its last writer. The readers themselves
// live in fs/fat and fs/ntfs; fs/part finds the filesystem on a disk.
//
// All offsets are bytes from the start of the filesystem (the volume),
// not of the image or the disk.
package fs

import (
	"fmt"
	"time"
)

// Owner is what a byte range of a volume belongs to.
type Owner struct {
	FS        string // "ntfs", "fat12", "fat16", "fat32", "ext2", "ext3", "ext4"
	Structure string // one of the Structure names below, or e.g. "FAT 2", "$MFT record 42"
	Path      string // full path ("/dir/file.txt") of the owning file or directory, "" if none
	Record    int64  // NTFS MFT record number or ext2/3/4 inode number, or -1
	Cluster   int64  // FAT cluster number, NTFS LCN or ext2/3/4 block number of the range's first byte, or -1
}

// Structure names shared by the readers, so reports read alike. FAT copies
// are "FAT 1", "FAT 2", …; MFT records "$MFT record N"; NTFS system files
// by their names ("$LogFile", "$Bitmap", "$MFTMirr", …).
const (
	BootSector      = "boot sector"
	BackupBoot      = "backup boot sector"
	FSInfo          = "FSInfo"
	BackupFSInfo    = "backup FSInfo"
	ReservedSectors = "reserved sectors"
	RootDirectory   = "root directory"
	Directory       = "directory"
	FileData        = "file data"
	FreeSpace       = "free space"
	LostClusters    = "lost clusters"  // allocated in the FAT but reached from no file
	BadClusters     = "bad clusters"   // marked bad
	Unclustered     = "unused sectors" // after the last cluster, inside the volume
	BeyondVolume    = "beyond the filesystem"
	PartitionTable  = "partition table" // filled in by the caller that found the volume
	Unpartitioned   = "unpartitioned space"
)

// Extent is a run of bytes of a volume with one owner.
type Extent struct {
	Off, Len int64
	Owner    Owner
}

// Severities of a Problem; the same words as set.Problem uses.
const (
	Info    = "info"
	Warning = "warning"
	Error   = "error"
)

// Problem is one finding of a consistency check. Codes are stable and
// prefixed by the filesystem family ("fat-", "ntfs-").
type Problem struct {
	Code     string
	Severity string
	Off      int64 // byte offset in the volume the problem is about, or -1
	Message  string
}

// Evidence is what a volume records about its last writer. Zero values mean
// "not recorded": Linux-made NTFS leaves every LSN at 0, FAT has none.
type Evidence struct {
	Dirty        *bool     // NTFS $Volume dirty flag; FAT BPB state bit or FAT[1] clean bit
	LogLSN       uint64    // the log's current position: NTFS $LogFile restart area current_lsn, ext2/3/4 jbd2 next transaction ID
	LogName      string    // what LogLSN is ("jbd2 journal sequence"); "" for NTFS $LogFile current LSN
	LogClean     *bool     // NTFS restart area says the volume was cleanly shut down
	MaxRecordLSN uint64    // NTFS highest FILE record LSN
	FreeClusters int64     // FAT32 FSInfo free count, or -1 when unknown
	Latest       time.Time // latest timestamp in directory entries / $STANDARD_INFORMATION; zero if none
	LatestName   string    // what Latest is, when not the directory entries' timestamps ("" for FAT)
	// LatestSettable says Latest is made of times programs set at will
	// (FAT's modification and creation dates: cp -p, rsync -a, unzip,
	// mcopy -m and restores keep a file's old dates), not of times the
	// filesystem driver stamps (ext4 and XFS change times, the NTFS MFT
	// change time, superblock write times). Such times cannot show by
	// themselves which member was written later.
	LatestSettable bool
	Files          int      // files and directories found
	Notes          []string // anything else, in words
}

// Judgement is what a volume can say about its own copy of a byte range:
// whether the structures in it verify on their own (fixups, signatures,
// checksums, agreement with a twin copy inside the same volume).
type Judgement struct {
	// Intact is +1 when every structure checked in the range verifies, -1
	// when one fails, 0 when no structural check applies (file data, free
	// space): then the range carries no evidence.
	Intact int
	// LSN is the highest log sequence number of the records in the range
	// (NTFS FILE and INDX records), 0 when none.
	LSN    uint64
	Reason string // what was checked, e.g. "$MFT record 42: update sequence mismatch in 512-byte block 1"
}

// Volume is one member's filesystem as read. Implementations never write
// and tolerate damage: a damaged structure is a Problem, not an error.
type Volume interface {
	Type() string // "ntfs", "fat12", "fat16", "fat32"
	Size() int64  // bytes the filesystem claims
	// Owners covers [off, off+n) with extents in order, split wherever the
	// owner changes. Bytes past Size belong to BeyondVolume.
	Owners(off, n int64) []Extent
	// Judge checks this volume's copy of [off, off+n).
	Judge(off, n int64) Judgement
	Problems() []Problem
	Evidence() Evidence
}

// Count writes n with the singular or plural noun, so that messages never
// say "1 clusters".
func Count[T ~int | ~int64 | ~uint32 | ~uint64](n T, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return fmt.Sprintf("%d %s", n, many)
}

// RecordStamp is what one copy of a file record says of its own last
// change, by fields only the filesystem driver maintains (NTFS: the FILE
// record's sequence number, which the driver increments when it frees
// the record; its LSN, which Windows advances on every logged change and
// ntfs-3g leaves as it finds it; the $STANDARD_INFORMATION MFT change
// time). Comparing two members' copies of one record shows which of them
// changed it after the other's copy was written.
type RecordStamp struct {
	Formatted bool // a record was ever written here (NTFS: FILE magic); false: never used (zeros)
	InUse     bool
	Seq       uint16
	LSN       uint64
	Changed   time.Time // the MFT change time; zero when the record holds none
	// Body is a SHA-256 of the record without the fields every rewrite or
	// read changes (update sequence, LSN, access time), and without a
	// directory's index root (its copies of its files' details change with
	// the files' own stamped records): two copies with equal bodies differ
	// only by a read, a rewrite of the same content, or their files.
	Body [32]byte
}
