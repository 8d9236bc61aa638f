// Package report is mirrorchk's report: the document model, its JSON
// schema, and the JSON and text renderers. It imports no other mirrorchk
// package; the command layer fills the model from the check and repair
// results.
//
// Compatibility (schema "mirrorchk.report/1"): within version 1 fields and
// enum values may be added; nothing is renamed, retyped or removed. The
// human "message" and "reasons" strings are not part of the contract; "code"
// fields are.
package report

// Schema is the value of Report.Schema for documents this package writes.
const Schema = "mirrorchk.report/1"

// Report is one run of mirrorchk over one or more mirror sets.
type Report struct {
	Schema     string    `json:"schema"`
	Tool       Tool      `json:"tool"`
	Command    []string  `json:"command"`
	Generated  string    `json:"generated"` // RFC 3339 UTC; the only field that varies between identical runs
	SectorSize int       `json:"sector_size"`
	Sets       []Set     `json:"sets"`
	Problems   []Problem `json:"problems"` // problems not tied to one set (e.g. an input given twice)
	// Hives are the SYSTEM hives given with --hive, read and never written,
	// hashed like the images.
	Hives []Input `json:"hives"`
}

// Input is a file read besides the member images (a SYSTEM hive).
type Input struct {
	Path   string            `json:"path"`
	Size   int64             `json:"size"`
	Hashes map[string]string `json:"hashes"` // algorithm → lower-case hex
}

// Tool names the program that wrote the report.
type Tool struct {
	Name    string `json:"name"`
	Version string `json:"version"`
}

// Verdicts of a set.
const (
	VerdictConsistent = "consistent"  // all members hold the same data and metadata agrees
	VerdictDiverged   = "diverged"    // members differ or a member is stale; the authority says which copy is current, or is null for images without metadata (see the no-authority problem)
	VerdictSplitBrain = "split-brain" // members differ and no member can be shown authoritative
	VerdictDegraded   = "degraded"    // a member is missing, faulty, or too short to compare
	VerdictUnknown    = "unknown"     // the set could not be judged (not a mirror, no trusted metadata, or metadata this release cannot read)
)

// Member states.
const (
	StateActive     = "active"
	StateStale      = "stale"
	StateFaulty     = "faulty"
	StateSpare      = "spare"
	StateRebuilding = "rebuilding"
	StateMissing    = "missing"
	StateUnknown    = "unknown"
)

// Authority bases.
const (
	BasisSetMetadata = "set-metadata"
	BasisFilesystem  = "filesystem"
	BasisUser        = "user"
	BasisNone        = "none"
)

// Problem severities.
const (
	SeverityInfo    = "info"
	SeverityWarning = "warning"
	SeverityError   = "error"
)

// Set is one mirror set: members grouped by their set metadata, or all
// inputs as one ad-hoc set when none has metadata.
type Set struct {
	ID         string     `json:"id"`       // array UUID, or "adhoc-1"
	Name       string     `json:"name"`     // array name from the metadata, may be empty
	Metadata   string     `json:"metadata"` // "md-0.90", "md-1.0", "md-1.1", "md-1.2", "imsm", "ddf", "ldm", "ftdisk", "none"
	Level      string     `json:"level"`    // "raid1" or "" when unknown
	Verdict    string     `json:"verdict"`
	DataSize   int64      `json:"data_size"`  // bytes of each member's data area that were compared
	RaidDisks  int        `json:"raid_disks"` // slots the metadata declares; 0 when unknown
	Members    []Member   `json:"members"`    // in command-line order
	Authority  Authority  `json:"authority"`
	Divergence Divergence `json:"divergence"`
	// Files lists each file or filesystem structure the divergence touches
	// once, largest first; empty when no member's filesystem was read.
	Files         []File    `json:"files"`
	FilesUnlisted int64     `json:"files_unlisted_bytes"` // differing bytes in files past the listing limit
	Bitmap        *Bitmap   `json:"bitmap"`               // null when the set has no write-intent bitmap
	Problems      []Problem `json:"problems"`
	Repair        *Repair   `json:"repair"` // null for scan
}

// Member is one input image of a set.
type Member struct {
	Path          string            `json:"path"`
	Segments      []string          `json:"segments,omitempty"` // split raw: every file, in order
	Size          int64             `json:"size"`
	Hashes        map[string]string `json:"hashes"` // algorithm → lower-case hex, of the whole image
	Role          string            `json:"role"`   // "0", "1", … for a data slot; "spare", "faulty", "" when unknown
	State         string            `json:"state"`
	Generation    *uint64           `json:"generation"` // md events; null without metadata
	DataOffset    int64             `json:"data_offset"`
	DataSize      int64             `json:"data_size"`
	Authoritative bool              `json:"authoritative"`
	Evidence      []string          `json:"evidence"`
	// PartitionTable is "mbr", "gpt" or "none" for the member's data area,
	// "" when it was not read.
	PartitionTable string       `json:"partition_table"`
	Filesystems    []Filesystem `json:"filesystems"`
}

// Filesystem is one filesystem found in a member's data area.
type Filesystem struct {
	Type      string     `json:"type"`      // "ntfs", "fat12", "fat16", "fat32", "ext2", "ext3", "ext4"
	Offset    int64      `json:"offset"`    // bytes from the start of the data area
	Size      int64      `json:"size"`      // bytes
	Partition *Partition `json:"partition"` // null for a filesystem at the start of the data area
	Evidence  []string   `json:"evidence"`  // what it records of its last writer (dirty flag, LSNs, timestamps)
}

// Partition is the partition-table entry holding a filesystem.
type Partition struct {
	Index    int    `json:"index"` // 1-based slot
	Type     string `json:"type"`  // MBR "0x07" or a GPT type GUID
	TypeName string `json:"type_name"`
	Start    int64  `json:"start"` // bytes from the start of the data area
	Size     int64  `json:"size"`
}

// File is one file or structure touched by the divergence.
type File struct {
	Path       string   `json:"path"` // "" for a structure owned by no file (FAT, boot sector, free space)
	FS         string   `json:"fs"`
	Bytes      int64    `json:"bytes"`
	Structures []string `json:"structures"`
}

// Owner is what a range belongs to in one member's filesystem.
type Owner struct {
	FS        string `json:"fs"` // "ntfs", "fat12", "fat16", "fat32", "ext2", "ext3", "ext4", or "" outside any filesystem
	Structure string `json:"structure"`
	Path      string `json:"path"`    // the owning file or directory, or ""
	Record    *int64 `json:"record"`  // NTFS MFT record number, or null
	Cluster   *int64 `json:"cluster"` // FAT cluster or NTFS LCN of the range's first byte, or null
}

// MemberOwner is one member's owner of a range whose owner differs
// between members.
type MemberOwner struct {
	Member string `json:"member"`
	Owner  Owner  `json:"owner"`
}

// Authority says which member holds the authoritative copy and why.
type Authority struct {
	Member  *string  `json:"member"` // path, or null
	Basis   string   `json:"basis"`
	Reasons []string `json:"reasons"`
}

// Divergence is where the members' data areas differ.
type Divergence struct {
	Bytes       int64   `json:"bytes"`        // total length of all differing ranges, in whole sectors
	RangesTotal int64   `json:"ranges_total"` // ranges found, including those not listed
	Truncated   bool    `json:"truncated"`    // true when RangesTotal > len(Ranges)
	Ranges      []Range `json:"ranges"`
}

// Range is a run of sectors over which the members fall into the same
// agreement groups.
type Range struct {
	VolumeOffset int64      `json:"volume_offset"` // bytes from the start of the data area
	Length       int64      `json:"length"`
	Agree        [][]string `json:"agree"`  // groups of member paths holding identical bytes
	Source       *string    `json:"source"` // member a repair copies this range from, or null
	// SourceBasis says why: "set-authority", "structure", "majority", "lsn",
	// or "none" when nothing decides; SourceReason cites the evidence.
	SourceBasis  string `json:"source_basis"`
	SourceReason string `json:"source_reason"`
	// Owner is what the range belongs to in the authority's filesystem (or
	// the first member's); null when no filesystem was read. Owners lists
	// every member's owner when they differ, else it is empty.
	Owner  *Owner        `json:"owner"`
	Owners []MemberOwner `json:"owners"`
}

// Bitmap is the write-intent bitmap that was used as evidence: the
// authoritative member's.
type Bitmap struct {
	Member        string  `json:"member"`
	ChunkSize     int64   `json:"chunk_size"` // bytes of data per bit
	Chunks        int64   `json:"chunks"`
	DirtyChunks   int64   `json:"dirty_chunks"`
	Events        uint64  `json:"events"`
	EventsCleared uint64  `json:"events_cleared"`
	CoversAll     *bool   `json:"covers_all_ranges"` // every differing range lies in dirty chunks; null when not applicable
	Uncovered     []int64 `json:"uncovered_offsets"` // volume offsets of ranges outside dirty chunks (at most 100)
}

// Problem is something wrong that the user should know.
type Problem struct {
	Code     string `json:"code"`
	Severity string `json:"severity"`
	Member   string `json:"member"` // path, or "" when not about one member
	Offset   *int64 `json:"offset"` // byte offset in the member, when known
	Message  string `json:"message"`
}

// Repair is what repair planned, or did, for a set.
type Repair struct {
	DryRun  bool           `json:"dry_run"`
	Status  string         `json:"status"` // "not-needed", "planned", "repaired", "refused", "failed"
	Reason  string         `json:"reason"`
	Source  *string        `json:"source"` // authoritative member copied from
	Outputs []RepairOutput `json:"outputs"`
}

// RepairOutput is one repaired image.
type RepairOutput struct {
	Member          string            `json:"member"` // the input it repairs
	Path            string            `json:"path"`   // the new file; "" in a dry run
	Ranges          []Range           `json:"ranges"` // data ranges it receives (at most the report's range limit)
	RangesTotal     int64             `json:"ranges_total"`
	BytesCopied     int64             `json:"bytes_copied"`
	MetadataChanges []string          `json:"metadata_changes"` // field-by-field, e.g. "events 15 -> 20"
	Hashes          map[string]string `json:"hashes"`           // of the written image
	DataSHA256      string            `json:"data_sha256"`      // of its data area after writing
	Verified        bool              `json:"verified"`         // re-read data area equals the authoritative member's
	// FilesystemFindings are the warnings and errors the filesystem checks
	// find on the written image (text, not contract); empty when none.
	FilesystemFindings []string `json:"filesystem_findings"`
}
