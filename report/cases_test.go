package report

import "fmt"

// The golden cases, built as Report literals. Numbers follow the md fixtures
// in testdata/md: 64 MiB images, data offset 1 MiB (md 1.2) so the data area
// is 63 MiB, 512-byte sectors, a 64 KiB bitmap chunk, events 20 against 15.

const (
	imageSize = 64 << 20
	mdOffset  = 1 << 20
	mdData    = imageSize - mdOffset
)

var tool = Tool{Name: "mirrorchk", Version: "0.1.0"}

const generated = "2026-03-01T12:00:00Z"

func u64(v uint64) *uint64 { return &v }
func i64(v int64) *int64   { return &v }
func str(s string) *string { return &s }
func boolp(b bool) *bool   { return &b }

// sha returns a made-up 64-digit hex digest whose digits start with seed.
func sha(seed string) string {
	const hex = "0123456789abcdef"
	b := []byte(seed)
	for i := len(b); i < 64; i++ {
		b = append(b, hex[(i*7+len(seed))%16])
	}
	return string(b)
}

type goldenCase struct {
	name string
	doc  string // what is special about it
	r    func() *Report
}

// sourced fills the source basis of ranges written before ranges had one:
// the set authority where a source is named, none where it is not.
func sourced(f func() *Report) func() *Report {
	fill := func(rs []Range) {
		for i := range rs {
			switch {
			case rs[i].SourceBasis != "":
			case rs[i].Source != nil:
				rs[i].SourceBasis, rs[i].SourceReason = "set-authority", *rs[i].Source+" is the set's authoritative member"
			default:
				rs[i].SourceBasis, rs[i].SourceReason = "none", "no evidence says which copy is right"
			}
		}
	}
	return func() *Report {
		r := f()
		for i := range r.Sets {
			fill(r.Sets[i].Divergence.Ranges)
			if rp := r.Sets[i].Repair; rp != nil {
				for j := range rp.Outputs {
					fill(rp.Outputs[j].Ranges)
				}
			}
		}
		return r
	}
}

var cases = []goldenCase{
	{"clean", "two md 1.2 members with equal events and identical data; nil problem slices", sourced(clean)},
	{"stale-bitmap", "m1 stale (events 15 < 20); 3 differing ranges, all inside the fresh member's dirty bitmap chunks", sourced(staleBitmap)},
	{"split-brain", "md 0.90, both members at events 31, each recording the other faulty; no authority; members share a base name", sourced(splitBrain)},
	{"three-way", "3 members; m2 is the odd one out, plus one range above resync_offset where all three differ", sourced(threeWay)},
	{"truncated", "1500 differing ranges, 4 listed; bitmap does not cover them all", sourced(truncated)},
	{"repair-dry-run", "stale member, repair --dry-run: a plan and no output file", sourced(repairDryRun)},
	{"repair-written", "stale member repaired into a new file and verified", sourced(repairWritten)},
	{"duplicate-input", "the same image given twice: a top-level problem", sourced(duplicateInput)},
	{"no-metadata", "two raw images without metadata, one split into segments; paths with a space, '&' and non-ASCII", sourced(noMetadata)},
	{"ft-q197366", "NT FT mirror from a SYSTEM hive: the registry orphans the shadow, the filesystems say the shadow was written last (KB Q197366); no authority", sourced(ftQ197366)},
	{"filesystem", "bare NTFS pair: authority from filesystem evidence, owners per range, one torn MFT record taken by structure, owners that differ between members", sourced(filesystem)},
}

func clean() *Report {
	return &Report{
		Schema:     Schema,
		Tool:       tool,
		Command:    []string{"mirrorchk", "scan", "--hash", "sha256", "m0.img", "m1.img"},
		Generated:  generated,
		SectorSize: 512,
		Sets: []Set{{
			ID:        "3f2a9c4e:7b1d4e0a:9c2f5d6e:7f8a9b0c",
			Name:      "host:home",
			Metadata:  "md-1.2",
			Level:     "raid1",
			Verdict:   VerdictConsistent,
			DataSize:  mdData,
			RaidDisks: 2,
			Members: []Member{
				{
					Path: "m0.img", Size: imageSize, Hashes: map[string]string{"sha256": sha("3b1f")},
					Role: "0", State: StateActive, Generation: u64(18),
					DataOffset: mdOffset, DataSize: mdData, Authoritative: true,
					Evidence: []string{"md 1.2 superblock at 0x1000, checksum ok", "events 18, state clean, array state AA"},
				},
				{
					Path: "m1.img", Size: imageSize, Hashes: map[string]string{"sha256": sha("9e04")},
					Role: "1", State: StateActive, Generation: u64(18),
					DataOffset: mdOffset, DataSize: mdData,
					Evidence: []string{"md 1.2 superblock at 0x1000, checksum ok", "events 18, state clean, array state AA"},
				},
			},
			Authority: Authority{
				Member: str("m0.img"),
				Basis:  BasisSetMetadata,
				Reasons: []string{
					"all members have events 18 and record each other active",
					"the data areas are identical; m0.img is the first given",
				},
			},
		}},
	}
}

func staleBitmap() *Report {
	const m0, m1 = "/evidence/case-17/m0.img", "/evidence/case-17/m1.img"
	return &Report{
		Schema:     Schema,
		Tool:       tool,
		Command:    []string{"mirrorchk", "scan", "--hash", "sha256,md5", m0, m1},
		Generated:  generated,
		SectorSize: 512,
		Sets: []Set{{
			ID:        "5d9b0f4e:3c2a4b1e:9f001234:567890ab",
			Name:      "host:data",
			Metadata:  "md-1.2",
			Level:     "raid1",
			Verdict:   VerdictDiverged,
			DataSize:  mdData,
			RaidDisks: 2,
			Members: []Member{
				{
					Path: m0, Size: imageSize,
					Hashes: map[string]string{"sha256": sha("a0c1"), "md5": sha("77e2")[:32]},
					Role:   "0", State: StateActive, Generation: u64(20),
					DataOffset: mdOffset, DataSize: mdData, Authoritative: true,
					Evidence: []string{
						"md 1.2 superblock at 0x1000, checksum ok",
						"events 20, array state A. (records slot 1 as faulty)",
						"internal bitmap at 0x2000: events 20, events_cleared 15, 6 of 1008 chunks dirty",
					},
				},
				{
					Path: m1, Size: imageSize,
					Hashes: map[string]string{"sha256": sha("c4d5"), "md5": sha("0f9e")[:32]},
					Role:   "1", State: StateStale, Generation: u64(15),
					DataOffset: mdOffset, DataSize: mdData,
					Evidence: []string{
						"md 1.2 superblock at 0x1000, checksum ok",
						"events 15, state clean, array state AA",
						"internal bitmap at 0x2000: all 1008 chunks dirty (not used: member is stale)",
					},
				},
			},
			Authority: Authority{
				Member: str(m0),
				Basis:  BasisSetMetadata,
				Reasons: []string{
					"m0.img has events 20, m1.img has events 15 (more than 1 behind)",
					"m0.img's superblock records slot 1 (m1.img) as faulty",
					"every differing range lies in a dirty chunk of m0.img's bitmap",
				},
			},
			Divergence: Divergence{
				Bytes:       270336,
				RangesTotal: 3,
				Ranges: []Range{
					{VolumeOffset: 0x400000, Length: 4096, Agree: [][]string{{m0}, {m1}}, Source: str(m0)},
					{VolumeOffset: 0x1000000, Length: 135168, Agree: [][]string{{m0}, {m1}}, Source: str(m0)},
					{VolumeOffset: 0x2000000, Length: 131072, Agree: [][]string{{m0}, {m1}}, Source: str(m0)},
				},
			},
			Bitmap: &Bitmap{
				Member: m0, ChunkSize: 65536, Chunks: 1008, DirtyChunks: 6,
				Events: 20, EventsCleared: 15, CoversAll: boolp(true),
				DirtyExtents: []Extent{{0x400000, 65536}, {0x1000000, 196608}, {0x2000000, 131072}},
			},
			Problems: []Problem{
				{Code: "stale-member", Severity: SeverityError, Member: m1, Offset: i64(0x1000),
					Message: "events 15 lag the authoritative member's 20"},
				{Code: "metadata-disagrees", Severity: SeverityWarning, Member: m1, Offset: i64(0x1000),
					Message: "its superblock records all members active; m0.img records it faulty"},
			},
		}},
	}
}

func splitBrain() *Report {
	const a, b = "left/disk.img", "right/disk.img"
	return &Report{
		Schema:     Schema,
		Tool:       tool,
		Command:    []string{"mirrorchk", "scan", a, b},
		Generated:  generated,
		SectorSize: 512,
		Sets: []Set{{
			ID:        "a1b2c3d4:e5f60718:293a4b5c:6d7e8f90",
			Metadata:  "md-0.90",
			Level:     "raid1",
			Verdict:   VerdictSplitBrain,
			DataSize:  imageSize - 64<<10,
			RaidDisks: 2,
			Members: []Member{
				{
					Path: a, Size: imageSize, Role: "0", State: StateActive, Generation: u64(31),
					DataSize: imageSize - 64<<10,
					Evidence: []string{"md 0.90 superblock at 0x3ff0000, checksum ok", "events 31, records slot 1 faulty"},
				},
				{
					Path: b, Size: imageSize, Role: "1", State: StateActive, Generation: u64(31),
					DataSize: imageSize - 64<<10,
					Evidence: []string{"md 0.90 superblock at 0x3ff0000, checksum ok", "events 31, records slot 0 faulty"},
				},
			},
			Authority: Authority{
				Basis: BasisNone,
				Reasons: []string{
					"both members have events 31",
					"each member's superblock records the other as faulty: both ran degraded",
				},
			},
			Divergence: Divergence{
				Bytes:       8192 + 65536,
				RangesTotal: 2,
				Ranges: []Range{
					{VolumeOffset: 0x8000, Length: 8192, Agree: [][]string{{a}, {b}}},
					{VolumeOffset: 0x1230000, Length: 65536, Agree: [][]string{{a}, {b}}},
				},
			},
			Problems: []Problem{
				{Code: "split-brain", Severity: SeverityError,
					Message: "both members were written independently; no member can be shown authoritative"},
			},
		}},
	}
}

func threeWay() *Report {
	return &Report{
		Schema:     Schema,
		Tool:       tool,
		Command:    []string{"mirrorchk", "scan", "m0.img", "m1.img", "m2.img"},
		Generated:  generated,
		SectorSize: 512,
		Sets: []Set{{
			ID:        "0badc0de:11112222:33334444:55556666",
			Name:      "host:root",
			Metadata:  "md-1.2",
			Level:     "raid1",
			Verdict:   VerdictDiverged,
			DataSize:  mdData,
			RaidDisks: 3,
			Members: []Member{
				{Path: "m0.img", Size: imageSize, Hashes: map[string]string{"sha256": sha("0000")},
					Role: "0", State: StateActive, Generation: u64(57), DataOffset: mdOffset, DataSize: mdData,
					Authoritative: true, Evidence: []string{"events 57, array state AA., resync_offset 0x2000000"}},
				{Path: "m1.img", Size: imageSize, Hashes: map[string]string{"sha256": sha("1111")},
					Role: "1", State: StateActive, Generation: u64(57), DataOffset: mdOffset, DataSize: mdData,
					Evidence: []string{"events 57, array state AA., resync_offset 0x2000000"}},
				{Path: "m2.img", Size: imageSize, Hashes: map[string]string{"sha256": sha("2222")},
					Role: "2", State: StateStale, Generation: u64(40), DataOffset: mdOffset, DataSize: mdData,
					Evidence: []string{"events 40, array state AAA"}},
			},
			Authority: Authority{
				Member: str("m0.img"),
				Basis:  BasisSetMetadata,
				Reasons: []string{
					"m0.img and m1.img have events 57, m2.img has events 40",
					"m0.img and m1.img agree everywhere below resync_offset; m0.img is the first given",
				},
			},
			Divergence: Divergence{
				Bytes:       4096 + 1024 + 512,
				RangesTotal: 3,
				Ranges: []Range{
					{VolumeOffset: 0x200000, Length: 4096, Agree: [][]string{{"m0.img", "m1.img"}, {"m2.img"}}, Source: str("m0.img")},
					{VolumeOffset: 0x800400, Length: 1024, Agree: [][]string{{"m0.img", "m1.img"}, {"m2.img"}}, Source: str("m0.img")},
					{VolumeOffset: 0x3000000, Length: 512, Agree: [][]string{{"m0.img"}, {"m1.img"}, {"m2.img"}}, Source: str("m0.img")},
				},
			},
			Problems: []Problem{
				{Code: "stale-member", Severity: SeverityError, Member: "m2.img", Offset: i64(0x1000),
					Message: "events 40 lag the authoritative member's 57"},
				{Code: "unclean-shutdown", Severity: SeverityInfo,
					Message: "the array was not clean; differences above resync_offset 0x2000000 are expected"},
			},
		}},
	}
}

func truncated() *Report {
	r := staleBitmap()
	r.Command = []string{"mirrorchk", "scan", "--max-ranges", "4", "/evidence/case-17/m0.img", "/evidence/case-17/m1.img"}
	s := &r.Sets[0]
	m0, m1 := s.Members[0].Path, s.Members[1].Path
	s.Divergence = Divergence{Bytes: 1500 * 4096, RangesTotal: 1500, Truncated: true}
	for i := range int64(4) {
		s.Divergence.Ranges = append(s.Divergence.Ranges, Range{
			VolumeOffset: 0x10000 * i * 3, Length: 4096, Agree: [][]string{{m0}, {m1}}, Source: str(m0),
		})
	}
	s.Bitmap.CoversAll = boolp(false)
	s.Bitmap.Uncovered = []int64{0x30000, 0x90000}
	s.Authority.Reasons = s.Authority.Reasons[:2]
	s.Problems = append(s.Problems, Problem{
		Code: "bitmap-uncovered", Severity: SeverityWarning, Member: m0,
		Message: "2 differing ranges lie outside the bitmap's dirty chunks: the bitmap cannot be trusted",
	})
	return r
}

func repairDryRun() *Report {
	r := staleBitmap()
	r.Command = []string{"mirrorchk", "repair", "--dry-run", "--out", "/out", "/evidence/case-17/m0.img", "/evidence/case-17/m1.img"}
	s := &r.Sets[0]
	m0, m1 := s.Members[0].Path, s.Members[1].Path
	s.Repair = &Repair{
		DryRun: true,
		Status: "planned",
		Reason: "m1.img is stale; copy 3 ranges from m0.img and bring its superblock up to date",
		Source: str(m0),
		Outputs: []RepairOutput{{
			Member:          m1,
			Ranges:          s.Divergence.Ranges,
			RangesTotal:     3,
			BytesCopied:     270336,
			MetadataChanges: []string{"events 15 -> 20", "dev_roles: slot 1 active", "sb_csum recomputed"},
		}},
	}
	return r
}

func repairWritten() *Report {
	r := repairDryRun()
	r.Command = []string{"mirrorchk", "repair", "--out", "/out", "/evidence/case-17/m0.img", "/evidence/case-17/m1.img"}
	rp := r.Sets[0].Repair
	rp.DryRun = false
	rp.Status = "repaired"
	o := &rp.Outputs[0]
	o.Path = "/out/m1.repaired.img"
	o.Hashes = map[string]string{"sha256": sha("5e5e"), "md5": sha("6f6f")[:32]}
	o.DataSHA256 = sha("7a7a")
	o.Verified = true
	return r
}

func duplicateInput() *Report {
	r := clean()
	r.Command = []string{"mirrorchk", "scan", "m0.img", "m1.img", "m0.img"}
	r.Problems = []Problem{{
		Code: "duplicate-input", Severity: SeverityError, Member: "m0.img",
		Message: "given twice (arguments 1 and 3); the second is ignored",
	}}
	return r
}

func noMetadata() *Report {
	const a, b = "/mnt/evidence/disk 1.img", "/mnt/evidence/d\u00edsk&2.img"
	return &Report{
		Schema:     Schema,
		Tool:       tool,
		Command:    []string{"mirrorchk", "scan", a, b},
		Generated:  generated,
		SectorSize: 512,
		Sets: []Set{{
			ID:       "adhoc-1",
			Metadata: "none",
			Verdict:  VerdictConsistent,
			DataSize: 32 << 20,
			Members: []Member{
				{Path: a, Segments: []string{"/mnt/evidence/disk 1.img.001", "/mnt/evidence/disk 1.img.002"},
					Size: 32 << 20, Hashes: map[string]string{"sha256": sha("dd01")}, State: StateUnknown,
					DataSize: 32 << 20, Evidence: []string{"no set metadata found"}},
				{Path: b, Size: 32 << 20, Hashes: map[string]string{"sha256": sha("dd01")}, State: StateUnknown,
					DataSize: 32 << 20, Evidence: []string{"no set metadata found"}},
			},
			Authority: Authority{
				Basis:   BasisNone,
				Reasons: []string{"no member has set metadata; the images are identical, so none is needed"},
			},
			Problems: []Problem{
				{Code: "no-metadata", Severity: SeverityInfo, Member: a, Message: "no recognised set metadata"},
				{Code: "no-metadata", Severity: SeverityInfo, Member: b, Message: "no recognised set metadata"},
			},
		}},
	}
}

func filesystem() *Report {
	const a, b = "/cases/m0.img", "/cases/m1.img"
	fsys := func(ev ...string) []Filesystem {
		return []Filesystem{{Type: "ntfs", Offset: 0, Size: 32 << 20, Evidence: ev}}
	}
	return &Report{
		Schema:     Schema,
		Tool:       tool,
		Command:    []string{"mirrorchk", "scan", a, b},
		Generated:  generated,
		SectorSize: 512,
		Sets: []Set{{
			ID:       "adhoc-1",
			Metadata: "none",
			Verdict:  VerdictDiverged,
			DataSize: 32 << 20,
			Members: []Member{
				{Path: a, Size: 32 << 20, Hashes: map[string]string{"sha256": sha("f0")}, State: StateActive, DataSize: 32 << 20,
					Authoritative: true, Evidence: []string{"no set metadata found"}, PartitionTable: "none",
					Filesystems: fsys("dirty flag clear", "$LogFile current LSN 5245121", "highest record LSN 5245090", "61 files and directories")},
				{Path: b, Size: 32 << 20, Hashes: map[string]string{"sha256": sha("f1")}, State: StateStale, DataSize: 32 << 20,
					Evidence: []string{"no set metadata found"}, PartitionTable: "none",
					Filesystems: fsys("dirty flag clear", "$LogFile current LSN 5160002", "highest record LSN 5159870", "52 files and directories")},
			},
			Authority: Authority{
				Member: str(a),
				Basis:  BasisFilesystem,
				Reasons: []string{"the members differ and the set metadata does not say which is current; the filesystem evidence names /cases/m0.img: " +
					"NTFS $LogFile current LSN: /cases/m0.img 5245121, /cases/m1.img 5160002"},
			},
			Divergence: Divergence{Bytes: 9216, RangesTotal: 3, Ranges: []Range{
				{VolumeOffset: 0x4000 + 90*1024, Length: 1024, Agree: [][]string{{a}, {b}}, Source: str(a), SourceBasis: "structure",
					SourceReason: "/cases/m1.img's copy fails: $MFT record 90: update sequence mismatch in 512-byte block 1; /cases/m0.img's copy verifies: $MFT record 90: fixups hold",
					Owner:        &Owner{FS: "ntfs", Structure: "$MFT record 90", Path: "/docs/report.txt", Record: i64(90), Cluster: i64(26)}, Owners: []MemberOwner{}},
				{VolumeOffset: 0x200000, Length: 4096, Agree: [][]string{{a}, {b}}, Source: str(a), SourceBasis: "set-authority",
					SourceReason: "/cases/m0.img is the set's authoritative member",
					Owner:        &Owner{FS: "ntfs", Structure: "file data", Path: "/new/added.bin", Record: i64(112), Cluster: i64(512)},
					Owners: []MemberOwner{
						{Member: a, Owner: Owner{FS: "ntfs", Structure: "file data", Path: "/new/added.bin", Record: i64(112), Cluster: i64(512)}},
						{Member: b, Owner: Owner{FS: "ntfs", Structure: "free space", Cluster: i64(512)}},
					}},
				{VolumeOffset: 0x300000, Length: 4096, Agree: [][]string{{a}, {b}}, Source: str(a), SourceBasis: "set-authority",
					SourceReason: "/cases/m0.img is the set's authoritative member",
					Owner:        &Owner{FS: "ntfs", Structure: "$Bitmap", Record: i64(6), Cluster: i64(768)}, Owners: []MemberOwner{}},
			}},
			Files: []File{
				{Path: "/new/added.bin", FS: "ntfs", Bytes: 4096, Structures: []string{"file data", "free space"}},
				{Path: "", FS: "ntfs", Bytes: 4096, Structures: []string{"$Bitmap"}},
				{Path: "/docs/report.txt", FS: "ntfs", Bytes: 1024, Structures: []string{"$MFT record"}},
			},
			Problems: []Problem{
				{Code: "stale-member", Severity: SeverityError, Member: b, Message: "/cases/m1.img differs from the authoritative /cases/m0.img in 9216 bytes"},
				{Code: "ntfs-torn-record", Severity: SeverityError, Member: b, Offset: i64(0x4000 + 90*1024 + 1022),
					Message: "ntfs: $MFT record 90: update sequence mismatch in 512-byte block 1"},
			},
		}},
	}
}

func ftQ197366() *Report {
	const a, b, hive = "/case/disk0.img", "/case/disk1.img", "/case/SYSTEM"
	fat := func(latest string, files int) []Filesystem {
		return []Filesystem{{Type: "fat16", Offset: 0, Size: 8193024, Evidence: []string{"dirty flag clear", "latest timestamp " + latest, fmt.Sprintf("%d files and directories", files)}}}
	}
	return &Report{
		Schema:     Schema,
		Tool:       tool,
		Command:    []string{"mirrorchk", "scan", "--hive", hive, a, b},
		Generated:  generated,
		SectorSize: 512,
		Hives:      []Input{{Path: hive, Size: 8192, Hashes: map[string]string{"sha256": sha("hive")}}},
		Sets: []Set{{
			ID:        "ft-mirror-0",
			Name:      "D:",
			Metadata:  "ftdisk",
			Level:     "raid1",
			Verdict:   VerdictSplitBrain,
			DataSize:  8193024,
			RaidDisks: 2,
			Members: []Member{
				{Path: a, Size: 9437184, Hashes: map[string]string{"sha256": sha("d0")}, Role: "0", State: StateActive, DataOffset: 32256, DataSize: 8193024,
					Evidence:       []string{"bound by MBR disk signature 0x1C7A3B52 and the partition at byte 32256 (8193024 bytes)", "\\DISK\\Information: FtState=Healthy", "MBR partition type 0x87 (NTFS/HPFS (FT member))"},
					PartitionTable: "none", Filesystems: fat("2026-11-28T08:00:00Z", 3)},
				{Path: b, Size: 9437184, Hashes: map[string]string{"sha256": sha("d1")}, Role: "1", State: StateStale, DataOffset: 32256, DataSize: 8193024,
					Evidence:       []string{"bound by MBR disk signature 0x5D0E9F11 and the partition at byte 32256 (8193024 bytes)", "\\DISK\\Information: FtState=Orphaned", "MBR partition type 0x87 (NTFS/HPFS (FT member))"},
					PartitionTable: "none", Filesystems: fat("2026-11-30T08:00:00Z", 4)},
			},
			Authority: Authority{Basis: BasisNone, Reasons: []string{
				"the Healthy member is authoritative; /case/disk1.img is Orphaned (FtState=Orphaned)",
				"the registry names /case/disk0.img as current but the filesystem evidence names /case/disk1.img (latest timestamp in the directory entries: /case/disk0.img 2026-11-28T08:00:00Z, /case/disk1.img 2026-11-30T08:00:00Z): they disagree, as in KB Q197366; no member is taken (use --prefer)",
			}},
			Divergence: Divergence{Bytes: 2048, RangesTotal: 2, Ranges: []Range{
				{VolumeOffset: 2048, Length: 512, Agree: [][]string{{a}, {b}}, SourceBasis: "none", SourceReason: "no evidence says which copy is right",
					Owner: &Owner{FS: "fat16", Structure: "FAT 1", Record: nil}, Owners: []MemberOwner{}},
				{VolumeOffset: 66048, Length: 1536, Agree: [][]string{{a}, {b}}, SourceBasis: "none", SourceReason: "no evidence says which copy is right",
					Owners: []MemberOwner{
						{Member: a, Owner: Owner{FS: "fat16", Structure: "free space", Cluster: i64(3)}},
						{Member: b, Owner: Owner{FS: "fat16", Structure: "file data", Path: "/late.txt", Cluster: i64(3)}},
					}, Owner: &Owner{FS: "fat16", Structure: "free space", Cluster: i64(3)}},
			}},
			Files: []File{{Path: "/late.txt", FS: "fat16", Bytes: 1536, Structures: []string{"file data"}}, {FS: "fat16", Bytes: 1536, Structures: []string{"free space"}}, {FS: "fat16", Bytes: 512, Structures: []string{"FAT 1"}}},
			Problems: []Problem{
				{Code: "stale-member", Severity: SeverityError, Member: b, Message: "/case/disk1.img is stale: \\DISK\\Information: FT member 1 (disk 0x5D0E9F11, partition at 32256) FtState=Orphaned"},
				{Code: "ft-orphan-newer", Severity: SeverityError, Member: b, Message: "the registry names /case/disk0.img as current, but the filesystem evidence points at /case/disk1.img (state stale): latest timestamp in the directory entries"},
			},
		}},
	}
}
