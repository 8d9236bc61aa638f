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

	// Batch and provenance fields (batch.go); absent in documents written
	// before them.
	Provenance *Provenance    `json:"provenance,omitempty"`
	Plan       string         `json:"plan,omitempty"`      // sha256 of the grouping and settings (merge refuses to mix plans)
	Shard      string         `json:"shard,omitempty"`     // "I/N": the shard this report covers; "" for the whole plan
	ExitCode   *int           `json:"exit_code,omitempty"` // the run's exit code: bitwise OR of the sets' and 4 for top-level problems
	Inputs     *InputsSummary `json:"inputs,omitempty"`    // what the walk found and skipped
	// SetIndexes, when not nil, holds each set's position in the whole
	// plan (a shard's report holds some of its sets); JSONL lines carry
	// it so that merge restores the plan's order. Not part of the JSON.
	SetIndexes []int `json:"-"`
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
	VerdictUnpaired   = "unpaired"    // the only image of its disk: hashed and checked on its own, compared with nothing
	VerdictUnreadable = "unreadable"  // the input could not be read; its problems say why
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
	// Key names the set stably in a batch run (its JSONL order and its
	// shard), e.g. "md:UUID", "none:id-…", "unpaired:PATH", "CASE/…".
	Key string `json:"key,omitempty"`
	// Case is the manifest's case of the set's images, "" when none.
	Case string `json:"case,omitempty"`
	// Grouping says why these images form one set (the metadata, the
	// manifest, or the identity they share).
	Grouping string `json:"grouping,omitempty"`
	// ExitCode is the set's own exit code (0, 4 or 8); a run's is the
	// bitwise OR of its sets'.
	ExitCode   *int       `json:"exit_code,omitempty"`
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

	// Recovered lists the first unreadable ranges of the data area that a
	// repair takes from a member that read them, with the reason; Lost
	// those that no member whose copy the evidence shows current read.
	// The totals count all of them.
	Recovered       []Salvage `json:"recovered"`
	RecoveredRanges int64     `json:"recovered_ranges"`
	RecoveredBytes  int64     `json:"recovered_bytes"`
	Lost            []Salvage `json:"lost"`
	LostRanges      int64     `json:"lost_ranges"`
	LostBytes       int64     `json:"lost_bytes"`
	// FilesWithLostData lists each file or structure with lost bytes once,
	// largest first: the list a technician hands to the user.
	FilesWithLostData         []File `json:"files_with_lost_data"`
	FilesWithLostDataUnlisted int64  `json:"files_with_lost_data_unlisted_bytes"`
}

// Salvage bases: where the copy of an unreadable range comes from.
const (
	SalvageAuthority = "set-authority" // the authoritative member read it
	SalvageBitmap    = "bitmap"        // outside every dirty chunk of the authority's write-intent bitmap
	SalvageInSync    = "in-sync"       // the metadata (or identical data) shows the members in sync
	SalvageStructure = "structure"     // the copy's own structure verifies, on a member not shown older
	SalvageLost      = "lost"          // no copy the evidence vouches for
)

// Salvage is an unreadable range of the data area and its decision.
type Salvage struct {
	VolumeOffset int64    `json:"volume_offset"`
	Length       int64    `json:"length"`
	Unreadable   []string `json:"unreadable"` // members that could not read it
	Source       *string  `json:"source"`     // member a repair copies it from; null when lost
	Basis        string   `json:"basis"`
	Reason       string   `json:"reason"`
	Owners       []Owner  `json:"owners"` // distinct owners through the filesystem (at most 16)
}

// Unreadable is what of one member image could not be read from its disk.
type Unreadable struct {
	Ranges         int64 `json:"ranges"`
	Bytes          int64 `json:"bytes"`      // anywhere in the image
	DataBytes      int64 `json:"data_bytes"` // of which in the data area
	ReadErrorBytes int64 `json:"read_error_bytes"`
	DeclaredBytes  int64 `json:"declared_bytes"`
	// DeclaredBy names what declared ranges unreadable ("ddrescue mapfile
	// m0.img.map"), "" when nothing did.
	DeclaredBy string            `json:"declared_by"`
	List       []UnreadableRange `json:"list"` // the first ranges
}

// Causes of an unreadable range.
const (
	CauseReadError = "read-error"
	CauseDeclared  = "declared"
)

// UnreadableRange is one unreadable run of a member image.
type UnreadableRange struct {
	Offset       int64   `json:"offset"`        // bytes from the start of the image
	VolumeOffset *int64  `json:"volume_offset"` // bytes from the start of the data area; null outside it
	Length       int64   `json:"length"`
	Cause        string  `json:"cause"`
	Owners       []Owner `json:"owners"` // of its data-area bytes, through the filesystem
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
	// Container says what the image was read from when it is not one
	// plain raw file; nil (absent) for a plain raw file or block device.
	Container *Container `json:"container,omitempty"`
	// Unreadable is what of the image could not be read: read errors, and
	// ranges declared unreadable (a ddrescue mapfile).
	Unreadable Unreadable `json:"unreadable"`
}

// Container is what a member image was read from: a split raw set or an
// evidence container (E01, VHD, VHDX, qcow2, VMDK), read as the virtual
// disk it holds. Member.Size and Member.Hashes are the virtual disk's
// (the media's); Files are the evidence files with their own hashes.
type Container struct {
	Format      string  `json:"format"`       // "split raw", "E01", "VHD dynamic", "qcow2 v3", …
	VirtualSize int64   `json:"virtual_size"` // bytes of media
	Files       []Input `json:"files"`        // every file read, in order, with its own size and hashes
	// StoredHashes are the media hashes the container records (EWF hash
	// and digest sections), each compared with the hash mirrorchk computed
	// of the media in its read pass.
	StoredHashes []StoredHash `json:"stored_hashes"`
	Acquisition  []KeyValue   `json:"acquisition"` // case metadata the container records (EWF header)
	// Unreadable are media ranges the acquisition could not read (EWF
	// error2): zeros in the image, not data.
	Unreadable []ByteRange `json:"unreadable"`
	Warnings   []string    `json:"warnings"`
}

// StoredHash is one hash a container records of its media.
type StoredHash struct {
	Algorithm string `json:"algorithm"` // "md5", "sha1"
	Stored    string `json:"stored"`    // lower-case hex
	Computed  string `json:"computed"`  // lower-case hex, "" when not computed
	Status    string `json:"status"`    // "verified", "mismatch", "not-computed"
}

// KeyValue is one named value, in the order the source gives them.
type KeyValue struct {
	Key   string `json:"key"`
	Value string `json:"value"`
}

// ByteRange is a range of bytes.
type ByteRange struct {
	Offset int64 `json:"offset"`
	Length int64 `json:"length"`
}

// Filesystem is one filesystem found in a member's data area.
type Filesystem struct {
	Type      string     `json:"type"`      // "ntfs", "fat12", "fat16", "fat32", "ext2", "ext3", "ext4", "xfs"
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
	FS        string `json:"fs"` // "ntfs", "fat12", "fat16", "fat32", "ext2", "ext3", "ext4", "xfs", or "" outside any filesystem
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
	// DirtyExtents are the runs of consecutive dirty chunks as volume byte
	// ranges, ascending, at most MaxDirtyExtents (the HTML sector map draws
	// them); absent in reports of earlier releases.
	DirtyExtents []Extent `json:"dirty_extents,omitempty"`
}

// MaxDirtyExtents bounds Bitmap.DirtyExtents.
const MaxDirtyExtents = 1000

// Extent is a byte range of the data area.
type Extent struct {
	Offset int64 `json:"offset"`
	Length int64 `json:"length"`
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
	Status  string         `json:"status"` // "not-needed", "planned", "repaired", "refused", "failed", "partial"
	Reason  string         `json:"reason"`
	Source  *string        `json:"source"` // authoritative member copied from
	Outputs []RepairOutput `json:"outputs"`
}

// RepairOutput is one repaired image.
type RepairOutput struct {
	Member string `json:"member"` // the input it repairs
	Path   string `json:"path"`   // the new file; "" in a dry run
	// WrittenAs says the output's format when it differs from the input's:
	// every output is a raw image ("raw image (input was qcow2 v3)").
	WrittenAs       string            `json:"written_as,omitempty"`
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
	// RecoveredBytes are the bytes this output holds from another member
	// where its own input could not be read; LostBytes those left as they
	// are because no copy is vouched for. Mapfile is the ddrescue mapfile
	// written beside it (lost ranges as '-'), "" when none.
	RecoveredBytes int64  `json:"recovered_bytes"`
	LostBytes      int64  `json:"lost_bytes"`
	Mapfile        string `json:"mapfile"`
}
