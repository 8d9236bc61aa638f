package set

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/mirrorchk/mirrorchk/fs/part"
	"github.com/mirrorchk/mirrorchk/image"
	"github.com/mirrorchk/mirrorchk/set/ftdisk"
)

// NT 4.0 / Windows 2000 basic-disk FT mirror sets ("ftdisk"). The set
// configuration and each member's state live in the registry value
// SYSTEM\DISK\Information, not on the disks; the disks carry only their MBR
// signature and, in the partition type, the FT-member bit (0x80) and the
// "set broken" marking (both high bits, 0xC0). So an FT set is formed from
// a hive (--hive, read-only) and bound to the input images by disk
// signature, partition offset and length (shared/docs/windows-metadata.md
// section 1).
//
// Rules, each cited in the report where it is used:
//
//   - Authority (ntdskreg.h FT_PARTITION_STATE comment): an Orphaned member
//     stays orphaned until recovery and receives no writes: it is stale. A
//     Regenerating or Initializing member is being rewritten from the other
//     member: its data is incomplete, stale for authority. With every member
//     Healthy the registry records no authority: the data decides.
//   - MBR marking (ftFTBit, ftBroken): a partition the registry lists as an
//     FT member whose type lacks 0x80 is "ft-mbr-not-ft". 0xC0 marks the set
//     broken (ftdisk's FtpMarkMirrorPartitionType sets it on the remaining
//     member of a broken mirror), so it is consistent with a set that has an
//     orphan; when the registry shows the set FtStateOk with every member
//     Healthy it is "ft-mbr-broken-but-healthy" (a KB Q197366 disagreement).
//   - Mark on the orphan (ftMarkOnOrphan): ftdisk marks the remaining,
//     written member; 0xC0 on the Orphaned member while the Healthy one
//     lacks it is "ft-mbr-mark-on-orphan": the MBRs and the registry point
//     at different disks.
//   - Swapped states (ftSwapped): a failed disk orphans the members on that
//     disk. When two mirror sets lie on the same two disks and one set
//     orphans its member on disk X while the other orphans its member on
//     disk Y, the registry blames both disks: either both disks failed at
//     different times, or the states were swapped between the sets (KB
//     Q197366). "ft-states-swapped" names both readings; the data decides.

// HiveInput is one SYSTEM hive given with --hive. Data is the whole file,
// read by the caller through a read-only open.
type HiveInput struct {
	Path string
	Data []byte
}

// FTBinding binds a partition image to the FT member at Offset on the disk
// with Signature (--member IMAGE=SIGNATURE:OFFSET).
type FTBinding struct {
	Signature uint32
	Offset    int64
}

// FTMember is what the registry and the MBR say about one FT member.
type FTMember struct {
	Hive      string            // path of the hive the set was read from
	Set       *ftdisk.FtSet     // the FT_DESCRIPTION
	Partition *ftdisk.Partition // its DISK_PARTITION
	// Binding is how the image was matched: "mbr" (whole-disk image, MBR
	// signature and partition entry), "flag" (--member), "assumed"
	// (partition image of the member's length with a boot sector).
	Binding string
	// MBRType is the partition type byte in the image's MBR, 0 for a
	// partition image or when the MBR has no entry at the member's offset.
	MBRType byte
	// MBREntry is the byte offset of that type byte in the image (in the
	// MBR or an extended boot record), 0 when MBRType is 0.
	MBREntry int64
}

const (
	ftFTBit  = 0x80 // PARTITION_NTFT (ntdddisk.h)
	ftBroken = 0xC0 // VALID_NTFT: both high bits, FT set marked broken
)

// ftRule is cited in the reasons of every ftdisk decision.
const ftRule = "NT FT rule (ntdskreg.h FT_PARTITION_STATE): an Orphaned member receives no writes until the user starts recovery, so it is stale; a Regenerating or Initializing member is being rebuilt from the other and is not current; the Healthy member is authoritative; with every member Healthy the registry records no authority"

// ftHive is one decoded hive.
type ftHive struct {
	in    HiveInput
	hive  *ftdisk.Hive
	raw   []byte
	di    *ftdisk.DiskInformation
	dirty bool
}

// ftDisk is what an image's MBR says.
type ftDisk struct {
	ok    bool // 0x55AA and a partition table
	sig   uint32
	parts []mbrPart
	boot  bool // looks like a FAT/NTFS boot sector instead (partition image)
	oem   string
	// hidden is the boot sector's hidden-sectors field (BPB 0x1C): the
	// partition's start sector as the formatter recorded it.
	hidden uint32
}

type mbrPart struct {
	typ        byte
	off, len   int64
	entryOff   int64 // byte offset of the entry's type byte in the image
	logical    bool
	entryIndex int
}

// readFTHives opens and decodes every hive; it returns the one to use (nil
// when none holds an FT configuration) and the problems found.
func readFTHives(hives []HiveInput) (*ftHive, []Problem) {
	h, ps, _, _ := readFTHivesDoubt(hives)
	return h, ps
}

// readFTHivesDoubt is readFTHives that also says why the chosen hive cannot
// be followed alone: two hives that disagree with nothing (a dirty base
// block) to tell which was written last; rivals are those other hives.
// Which hive is used never depends on the order of the hives: a clean one
// before a dirty one, and of equals the one whose \DISK\Information value
// sorts first byte by byte (an arbitrary but fixed choice: the member
// states they disagree on are then taken from neither, see ftDisputed).
func readFTHivesDoubt(hives []HiveInput) (*ftHive, []Problem, string, []*ftHive) {
	var ps []Problem
	hp := func(code, sev string, in HiveInput, off *int64, format string, a ...any) {
		ps = append(ps, Problem{Code: code, Severity: sev, Member: in.Path, Offset: off, Message: fmt.Sprintf(format, a...)})
	}
	var ok []*ftHive
	for _, in := range hives {
		h, err := ftdisk.OpenHive(in.Data)
		if err != nil {
			hp("hive-unreadable", Error, in, nil, "hive %s: %v; its FT configuration is not used", in.Path, err)
			continue
		}
		fh := &ftHive{in: in, hive: h, dirty: h.Base.Dirty()}
		for _, f := range h.Findings {
			switch f.Field {
			case "sequence":
				hp("hive-dirty", Warning, in, ptr(f.Off), "hive %s: base block %s (regf primary/secondary sequence numbers at 0x04/0x08)", in.Path, f.Msg)
			case "checksum":
				hp("hive-checksum", Warning, in, ptr(f.Off), "hive %s: base-block checksum (XOR of the first 127 dwords, at 0x1FC) %s", in.Path, f.Msg)
			default:
				hp("hive-damaged", Warning, in, ptr(f.Off), "hive %s: %s", in.Path, f)
			}
		}
		raw, err := h.DiskInformation()
		switch {
		case errors.Is(err, ftdisk.ErrKeyNotFound), errors.Is(err, ftdisk.ErrValueNotFound):
			hp("hive-no-ft-config", Warning, in, nil, "hive %s has no \\DISK\\Information value (%v): it describes no FT sets", in.Path, err)
			continue
		case err != nil:
			hp("hive-damaged", Error, in, nil, "hive %s: the \\DISK\\Information value cannot be read (%v): the hive is damaged or cut short, and its FT configuration is unknown", in.Path, err)
			continue
		}
		di, err := ftdisk.DecodeDiskInformation(raw)
		if err != nil {
			hp("hive-bad-ft-config", Error, in, nil, "hive %s: \\DISK\\Information cannot be decoded: %v; its FT configuration is not used", in.Path, err)
			continue
		}
		for _, f := range di.Findings {
			hp("ft-registry-inconsistent", Warning, in, ptr(f.Off), "hive %s: \\DISK\\Information %s", in.Path, f)
		}
		fh.raw, fh.di = raw, di
		ok = append(ok, fh)
	}
	if len(ok) == 0 {
		return nil, ps, "", nil
	}
	doubt := ""
	var rivals []*ftHive
	use := ok[0]
	for _, h := range ok[1:] {
		if use.dirty && !h.dirty || use.dirty == h.dirty && bytes.Compare(h.raw, use.raw) < 0 {
			use = h
		}
	}
	for _, h := range ok {
		if h == use || bytes.Equal(h.raw, use.raw) {
			continue
		}
		why := fmt.Sprintf("both hives' sequence numbers match and checksums are right, so nothing says which was written last: %s is used for the layout (its value sorts first), and a member state they disagree on is taken from neither", use.in.Path)
		switch {
		case !use.dirty && h.dirty:
			why = fmt.Sprintf("%s is used: its base-block sequence numbers match (%d = %d) and its checksum is right, while %s is dirty (sequence %d / %d), so its last write may not have completed", use.in.Path, use.hive.Base.Seq1, use.hive.Base.Seq2, h.in.Path, h.hive.Base.Seq1, h.hive.Base.Seq2)
		case use.dirty:
			why = fmt.Sprintf("both hives are dirty, so nothing says which was written last: %s is used for the layout (its value sorts first), and a member state they disagree on is taken from neither", use.in.Path)
		}
		diff := ""
		if d := ftDiffer(use.di, h.di); len(d) > 0 {
			diff = " (" + strings.Join(d, "; ") + ")"
		}
		ps = append(ps, Problem{Code: "hive-disagree", Severity: Warning, Member: h.in.Path,
			Message: fmt.Sprintf("hives %s and %s hold different \\DISK\\Information values%s; %s", use.in.Path, h.in.Path, diff, why)})
		if use.dirty == h.dirty {
			doubt = fmt.Sprintf("hives %s and %s disagree%s and nothing shows which was written last", use.in.Path, h.in.Path, diff)
			rivals = append(rivals, h)
		}
	}
	return use, ps, doubt, rivals
}

// ftDisputed says, when the rival hives record another FtState for
// partition p than the hive used (or do not list it), what each records;
// "" when they all agree.
func ftDisputed(h *ftHive, rivals []*ftHive, p *ftdisk.Partition) string {
	says := []string{fmt.Sprintf("%s: FtState=%v", h.in.Path, p.FtState)}
	differ := false
	for _, r := range rivals {
		st := "not listed"
		for _, d := range r.di.Disks {
			for _, q := range d.Partitions {
				if q.Signature == p.Signature && q.StartingOffset == p.StartingOffset {
					st = fmt.Sprintf("FtState=%v", q.FtState)
				}
			}
		}
		differ = differ || st != fmt.Sprintf("FtState=%v", p.FtState)
		says = append(says, fmt.Sprintf("%s: %s", r.in.Path, st))
	}
	if !differ {
		return ""
	}
	return strings.Join(says, ", ")
}

// ftDiffer lists how b's configuration differs from a's: the header's
// DirtyShutdown, partitions by disk signature and offset, set states.
func ftDiffer(a, b *ftdisk.DiskInformation) []string {
	var out []string
	if a.DirtyShutdown != b.DirtyShutdown {
		out = append(out, fmt.Sprintf("DirtyShutdown %v / %v", a.DirtyShutdown, b.DirtyShutdown))
	}
	type key struct {
		sig uint32
		off int64
	}
	bp := map[key]*ftdisk.Partition{}
	for _, d := range b.Disks {
		for _, p := range d.Partitions {
			bp[key{p.Signature, p.StartingOffset}] = p
		}
	}
	seen := map[key]bool{}
	for _, d := range a.Disks {
		for _, p := range d.Partitions {
			k := key{p.Signature, p.StartingOffset}
			seen[k] = true
			q := bp[k]
			switch {
			case q == nil:
				out = append(out, fmt.Sprintf("%s only in the first", ftPartName(p)))
			case p.FtState != q.FtState || p.FtType != q.FtType || p.FtGroup != q.FtGroup || p.FtMember != q.FtMember || p.Length != q.Length:
				out = append(out, fmt.Sprintf("%s: %v group %d member %d FtState=%v, %d bytes / %v group %d member %d FtState=%v, %d bytes",
					ftPartName(p), p.FtType, p.FtGroup, p.FtMember, p.FtState, p.Length, q.FtType, q.FtGroup, q.FtMember, q.FtState, q.Length))
			case p.DriveLetter != q.DriveLetter || p.AssignDriveLetter != q.AssignDriveLetter:
				out = append(out, fmt.Sprintf("%s: drive letter %s (assign %v) / %s (assign %v)", ftPartName(p), letterOf(p), p.AssignDriveLetter, letterOf(q), q.AssignDriveLetter))
			}
		}
	}
	var extra []string
	for k, q := range bp {
		if !seen[k] {
			extra = append(extra, fmt.Sprintf("%s only in the second", ftPartName(q)))
		}
	}
	sort.Strings(extra)
	out = append(out, extra...)
	if len(a.FtSets) == len(b.FtSets) {
		for i := range a.FtSets {
			if a.FtSets[i].VolumeState != b.FtSets[i].VolumeState {
				out = append(out, fmt.Sprintf("FT set %d FtVolumeState=%v / %v", i, a.FtSets[i].VolumeState, b.FtSets[i].VolumeState))
			}
		}
	} else {
		out = append(out, fmt.Sprintf("%d / %d FT sets", len(a.FtSets), len(b.FtSets)))
	}
	return out
}

// readFTDisk reads the MBR (and the extended-partition chain) of an image.
func readFTDisk(im *image.Image) (*ftDisk, error) {
	d := &ftDisk{}
	if im.Size() < 512 {
		return d, nil
	}
	b := make([]byte, 512)
	if err := image.ReadFull(im, b, 0); err != nil {
		return nil, err
	}
	if b[510] != 0x55 || b[511] != 0xAA {
		return d, nil
	}
	if (b[0] == 0xEB || b[0] == 0xE9) && (string(b[3:7]) == "NTFS" || string(b[54:57]) == "FAT" || string(b[82:87]) == "FAT32") {
		d.boot, d.oem = true, strings.TrimRight(string(b[3:11]), " \x00")
		d.hidden = binary.LittleEndian.Uint32(b[0x1C:])
		return d, nil
	}
	d.ok = true
	d.sig = binary.LittleEndian.Uint32(b[440:])
	// The partitions, logical ones through the extended boot records, as
	// fs/part reads them for the filesystem check too.
	t, err := part.Read(im, im.Size(), 512)
	if err != nil {
		return nil, err
	}
	if t.Kind != part.MBR {
		return d, nil
	}
	for _, q := range t.Partitions {
		if q.Extended() {
			continue
		}
		d.parts = append(d.parts, mbrPart{typ: q.MBRType, off: q.Start, len: q.Size, entryOff: q.EntryOff, logical: q.Index > 4, entryIndex: q.Index})
	}
	return d, nil
}

// hiddenNote compares a partition image's boot-sector hidden sectors with
// the member's start sector.
func hiddenNote(d *ftDisk, p *ftdisk.Partition) string {
	if int64(d.hidden)*512 == p.StartingOffset {
		return fmt.Sprintf("; its boot sector's hidden sectors (BPB 0x1C) = %d, the member's start sector", d.hidden)
	}
	return fmt.Sprintf("; its boot sector's hidden sectors (BPB 0x1C) = %d, not the member's start sector %d (formatted elsewhere, or not this member)", d.hidden, p.StartingOffset/512)
}

func (d *ftDisk) partAt(off, n int64) *mbrPart {
	for i := range d.parts {
		if d.parts[i].off == off && d.parts[i].len == n {
			return &d.parts[i]
		}
	}
	return nil
}

func ftPartName(p *ftdisk.Partition) string {
	return fmt.Sprintf("disk 0x%08X, partition at %d", p.Signature, p.StartingOffset)
}

// ftMemberLabel is "FT member 1 (disk 0x5D0E9F11, partition at 32256)".
func ftMemberLabel(p *ftdisk.Partition) string {
	return fmt.Sprintf("FT member %d (%s)", p.FtMember, ftPartName(p))
}

// groupFT forms the FT mirror sets the hives describe from the images.
// used marks the images an FT set (of any type) took: the other readers
// skip them.
func groupFT(images []*image.Image, opt Options) (sets []*Set, problems []Problem, used map[int]bool, err error) {
	used = map[int]bool{}
	if len(opt.Hives) == 0 {
		return nil, nil, used, nil
	}
	h, ps, doubt, rivals := readFTHivesDoubt(opt.Hives)
	problems = append(problems, ps...)
	if h == nil {
		return nil, problems, used, nil
	}
	defer func() {
		for _, s := range sets {
			if doubt != "" && s.Doubt == "" {
				s.Doubt = doubt
			}
			if s.Doubt != "" {
				s.Reasons = append(s.Reasons, "the registry's choice is in doubt: "+s.Doubt+"; where the members differ, the filesystems decide, or no member is taken")
			}
		}
	}()
	di := h.di
	disks := make([]*ftDisk, len(images))
	for i, im := range images {
		if disks[i], err = readFTDisk(im); err != nil {
			return nil, nil, nil, err
		}
	}
	known := map[uint32]bool{}
	for _, d := range di.Disks {
		known[d.Signature] = true
	}
	type binding struct {
		input   int
		dataOff int64
		how     string
		mp      *mbrPart
		note    string
	}
	bind := map[*ftdisk.Partition][]binding{}
	var members []*ftdisk.Partition // every FT member of every set, in set order
	for _, s := range di.FtSets {
		for _, m := range s.Members {
			if m.Partition != nil {
				members = append(members, m.Partition)
			}
		}
	}
	// 1. --member flags and whole-disk images.
	for _, p := range members {
		for i, d := range disks {
			if b, ok := opt.FTMembers[i]; ok {
				if b.Signature == p.Signature && b.Offset == p.StartingOffset {
					bd := binding{input: i, how: "flag", note: fmt.Sprintf("bound by --member %s=0x%08X:%d", images[i].Path(), b.Signature, b.Offset)}
					if d.ok {
						// A whole disk after all: the member is read at
						// the offset given, whatever signature the MBR
						// now carries (a re-signed or replaced disk is
						// why one binds by hand).
						bd.dataOff, bd.mp = p.StartingOffset, d.partAt(p.StartingOffset, p.Length)
						bd.note += fmt.Sprintf("; the image is a whole disk (MBR signature 0x%08X at byte 440), so the member is read at byte %d", d.sig, p.StartingOffset)
						if d.sig != p.Signature {
							bd.note += fmt.Sprintf("; its signature is not the registry's 0x%08X", p.Signature)
							problems = append(problems, Problem{Code: "ft-signature-differs", Severity: Warning, Member: images[i].Path(), Offset: ptr(int64(440)),
								Message: fmt.Sprintf("%s is bound by --member to the FT member on disk 0x%08X, but its MBR signature is 0x%08X: the disk was re-signed or replaced since the registry was written", images[i].Path(), p.Signature, d.sig)})
						}
					} else if d.boot {
						bd.note += hiddenNote(d, p)
					}
					bind[p] = append(bind[p], bd)
				}
				continue
			}
			if !d.ok || d.sig != p.Signature {
				continue
			}
			bd := binding{input: i, dataOff: p.StartingOffset, how: "mbr"}
			if mp := d.partAt(p.StartingOffset, p.Length); mp != nil {
				bd.mp = mp
				bd.note = fmt.Sprintf("bound by MBR: disk signature 0x%08X at byte 440 and partition entry %d at sector %d, %d sectors", d.sig, mp.entryIndex, mp.off/512, mp.len/512)
			} else {
				bd.note = fmt.Sprintf("bound by MBR disk signature 0x%08X at byte 440; the MBR has no partition entry at byte %d of %d bytes", d.sig, p.StartingOffset, p.Length)
			}
			bind[p] = append(bind[p], bd)
		}
	}
	taken := map[int]bool{}
	for _, bs := range bind {
		for _, b := range bs {
			taken[b.input] = true
		}
	}
	// 2. Partition images assumed by size and boot sector: only when one
	// image and one unbound member of that length remain.
	for _, p := range members {
		if len(bind[p]) > 0 {
			continue
		}
		same := 0
		for _, q := range members {
			if len(bind[q]) == 0 && q.Length == p.Length {
				same++
			}
		}
		var cands []int
		for i, d := range disks {
			if !taken[i] && d.boot && images[i].Size() == p.Length {
				if _, flagged := opt.FTMembers[i]; !flagged {
					cands = append(cands, i)
				}
			}
		}
		switch {
		case len(cands) == 1 && same == 1:
			i := cands[0]
			bind[p] = append(bind[p], binding{input: i, how: "assumed",
				note: fmt.Sprintf("assumed binding: partition image of exactly %d bytes (the member's length) with a %q boot sector; no disk signature to prove it (bind it with --member IMAGE=SIGNATURE:OFFSET)", p.Length, disks[i].oem) + hiddenNote(disks[i], p)})
			taken[i] = true
		case len(cands) > 0:
			var names []string
			for _, i := range cands {
				names = append(names, images[i].Path())
			}
			problems = append(problems, Problem{Code: "ft-binding-ambiguous", Severity: Warning,
				Message: fmt.Sprintf("%s could be %s (partition images of %d bytes) but size alone cannot tell which member each is; bind them with --member IMAGE=SIGNATURE:OFFSET", strings.Join(names, ", "), ftMemberLabel(p), p.Length)})
		}
	}
	for i, d := range disks {
		if _, ok := opt.FTMembers[i]; ok && !taken[i] {
			b := opt.FTMembers[i]
			problems = append(problems, Problem{Code: "ft-binding-unmatched", Severity: Warning, Member: images[i].Path(),
				Message: fmt.Sprintf("--member %s=0x%08X:%d names no FT member of %s's \\DISK\\Information", images[i].Path(), b.Signature, b.Offset, h.in.Path)})
		}
		if d.ok && !taken[i] && known[d.sig] {
			problems = append(problems, Problem{Code: "ft-not-a-member", Severity: Info, Member: images[i].Path(),
				Message: fmt.Sprintf("%s is disk 0x%08X of %s's \\DISK\\Information but holds no member of an FT set", images[i].Path(), d.sig, h.in.Path)})
		}
	}

	for _, fs := range di.FtSets {
		onInput := false
		for _, m := range fs.Members {
			if m.Partition != nil && len(bind[m.Partition]) > 0 {
				onInput = true
				for _, b := range bind[m.Partition] {
					used[b.input] = true
				}
			}
		}
		if !onInput {
			continue
		}
		group := -1
		if len(fs.Members) > 0 && fs.Members[0].Partition != nil {
			group = int(fs.Members[0].Partition.FtGroup)
		}
		if fs.Type != ftdisk.Mirror {
			problems = append(problems, Problem{Code: "not-a-mirror", Severity: Info,
				Message: fmt.Sprintf("FT set %v group %d (%d members, %s) is a %v: not a mirror, not checked", fs.Type, group, len(fs.Members), ftLetter(fs), fs.Type)})
			continue
		}
		s := &Set{ID: fmt.Sprintf("ft-mirror-%d", group), Name: ftLetter(fs), Format: "ftdisk", Level: "raid1",
			RaidDisks: len(fs.Members), ResyncFrom: -1}
		s.Reasons = append(s.Reasons, ftRule, fmt.Sprintf("configuration: %s, \\DISK\\Information (hive sequence %d/%d): FT_DESCRIPTION at value byte %d, FtVolumeState=%v",
			h.in.Path, h.hive.Base.Seq1, h.hive.Base.Seq2, fs.Off, fs.VolumeState))
		if h.dirty {
			s.Reasons = append(s.Reasons, fmt.Sprintf("%s is dirty (sequence %d / %d, checksum stored 0x%08X, computed 0x%08X) and no clean hive with this configuration was given: its \\DISK\\Information is used, but its last write may be incomplete",
				h.in.Path, h.hive.Base.Seq1, h.hive.Base.Seq2, h.hive.Base.Checksum, h.hive.Base.ComputedChecksum))
		}
		if di.DirtyShutdown {
			s.Reasons = append(s.Reasons, "DISK_CONFIG_HEADER.DirtyShutdown=1: the system was not shut down cleanly; with every member Healthy the registry does not say which copy is newer")
			s.problem("ft-dirty-shutdown", Info, nil, nil, "\\DISK\\Information DISK_CONFIG_HEADER.DirtyShutdown=1 (byte 8 of the value): the FT sets were not shut down cleanly; the members' data may differ in the last writes")
		}
		var healthy, notCurrent, disputed []*Member
		var missingHealthy []string
		for _, fm := range fs.Members {
			p := fm.Partition
			if p == nil {
				s.problem("bad-metadata", Error, nil, nil, "FT_MEMBER_DESCRIPTION at value byte %d of %s points at no DISK_PARTITION (OffsetToPartitionInfo %d)", fm.Off, s.Name, fm.OffsetToPartitionInfo)
				continue
			}
			bs := bind[p]
			if len(bs) == 0 {
				s.problem("member-missing", Warning, nil, nil, "%s of %s, FtState=%v, is not among the inputs (no image with MBR signature 0x%08X and a partition at byte %d, and no --member binding)",
					ftMemberLabel(p), s.Name, p.FtState, p.Signature, p.StartingOffset)
				s.Missing = append(s.Missing, fmt.Sprintf("%s (FtState=%v)", ftMemberLabel(p), p.FtState))
				if p.FtState == ftdisk.Healthy {
					missingHealthy = append(missingHealthy, ftMemberLabel(p))
				}
				continue
			}
			for k, b := range bs {
				if k > 0 {
					s.problem("duplicate-member", Error, nil, nil, "%s and %s both match %s: two copies of one disk, not two members", images[bs[0].input].Path(), images[b.input].Path(), ftMemberLabel(p))
				}
			}
			b := bs[0]
			im := images[b.input]
			if b.dataOff < 0 || p.Length <= 0 || b.dataOff >= im.Size() {
				// The registry's StartingOffset/Length are read as they
				// are; garbage there must not reach the diff.
				s.problem("ft-bad-partition", Error, nil, nil, "\\DISK\\Information places %s at byte %d, %d bytes long, which does not lie in %s (%d bytes): the member is not compared",
					ftMemberLabel(p), p.StartingOffset, p.Length, im.Path(), im.Size())
				continue
			}
			if dup := memberOf(s, b.input); dup != nil {
				s.problem("duplicate-member", Error, dup, nil, "%s holds two members of %s (%s and %s): a mirror's members lie on different disks",
					dup.Path(), s.Name, ftMemberLabel(dup.FT.Partition), ftMemberLabel(p))
				continue
			}
			// One registry describes every member: there is no per-member
			// generation (Generation nil); the states are the evidence.
			m := &Member{Input: b.input, Image: im, Role: strconv.Itoa(int(p.FtMember)), DataOffset: b.dataOff, DataSize: p.Length,
				Trusted: true, FT: &FTMember{Hive: h.in.Path, Set: fs, Partition: p, Binding: b.how}}
			if b.mp != nil {
				m.FT.MBRType, m.FT.MBREntry = b.mp.typ, b.mp.entryOff
			}
			m.addEvidence("%s", b.note)
			m.addEvidence("\\DISK\\Information (%s): %s of %s, group %d, DISK_PARTITION at value byte %d: FtState=%v, %d bytes at byte %d, FtLength %d, LogicalNumber %d, drive letter %s (AssignDriveLetter=%v)",
				h.in.Path, ftMemberLabel(p), s.Name, p.FtGroup, p.Off, p.FtState, p.Length, p.StartingOffset, p.FtLength, p.LogicalNumber, letterOf(p), p.AssignDriveLetter)
			if b.how == "assumed" {
				s.problem("ft-binding-assumed", Info, m, nil, "%s is taken as %s only because it is a partition image of that member's length (%d bytes) with a boot sector; confirm with --member %s=%08X:%d",
					m.Path(), ftMemberLabel(p), p.Length, m.Path(), p.Signature, p.StartingOffset)
			}
			if b.how == "mbr" && b.mp == nil {
				s.problem("ft-mbr-no-partition", Warning, m, nil, "%s: the MBR (signature 0x%08X) has no partition entry at byte %d of %d bytes where \\DISK\\Information puts %s; the registry's offset is used",
					m.Path(), p.Signature, p.StartingOffset, p.Length, ftMemberLabel(p))
			}
			dispute := ftDisputed(h, rivals, p)
			switch {
			case dispute != "":
				// Hives of equal standing disagree: neither is followed.
				m.State = StateUnknown
				m.addEvidence("the hives disagree about %s and nothing shows which was written last (%s): its state is taken from neither", ftMemberLabel(p), dispute)
				disputed = append(disputed, m)
			case p.FtState == ftdisk.Healthy:
				m.State = StateActive
				healthy = append(healthy, m)
			case p.FtState == ftdisk.Orphaned:
				m.State = StateStale
				m.addEvidence("FtState=Orphaned: ftdisk stopped writing to this member; it stays orphaned until recovery is started in Disk Administrator")
			case p.FtState == ftdisk.Regenerating:
				m.State = StateStale
				m.addEvidence("FtState=Regenerating: the member was being rebuilt from the other; its data is not complete, so it is stale for authority (a rebuild, not a failure)")
			case p.FtState == ftdisk.Initializing:
				m.State = StateStale
				m.addEvidence("FtState=Initializing: the mirror was being created and this member was being copied to; its data is not complete")
			default:
				m.State = StateUnknown
				s.problem("bad-metadata", Warning, m, nil, "%s: %s has FtState=%v, which ftdisk keeps internal (\"should never be seen\" in the registry); not used as evidence", m.Path(), ftMemberLabel(p), p.FtState)
			}
			if m.State == StateStale {
				notCurrent = append(notCurrent, m)
				s.problem("stale-member", Error, m, nil, "%s is stale: \\DISK\\Information: %s FtState=%v", m.Path(), ftMemberLabel(p), p.FtState)
			}
			if di.DirtyShutdown {
				m.addEvidence("DISK_CONFIG_HEADER.DirtyShutdown=1")
			}
			ftMBREvidence(s, m, fs)
			s.Members = append(s.Members, m)
		}
		ftVolumeStateCheck(s, fs)
		ftMarkOnOrphan(s)
		switch {
		case len(healthy) == 1 && len(notCurrent) > 0:
			s.Fresh = healthy
			var why []string
			for _, m := range notCurrent {
				why = append(why, fmt.Sprintf("\\DISK\\Information: %s FtState=%v", ftMemberLabel(m.FT.Partition), m.FT.Partition.FtState))
			}
			s.Reasons = append(s.Reasons, fmt.Sprintf("%s (%s) is the only Healthy member; %s", healthy[0].Path(), ftMemberLabel(healthy[0].FT.Partition), strings.Join(why, "; ")))
		case len(healthy) > 1:
			s.FTAllHealthy = len(notCurrent) == 0
			if m := ftSurvivorMark(s, healthy, missingHealthy); m != nil {
				s.Fresh = []*Member{m}
				break
			}
			s.Fresh = healthy
			s.Reasons = append(s.Reasons, "the registry shows every member Healthy: it records no authority; the data decides")
		case len(healthy) == 1 && len(missingHealthy) > 0:
			s.Reasons = append(s.Reasons, fmt.Sprintf("%s is Healthy but %s, also Healthy, is not among the inputs: the registry alone does not show the given copy current", healthy[0].Path(), strings.Join(missingHealthy, ", ")))
			s.Fresh = healthy
		case len(healthy) == 1 && len(s.Members) > 1:
			// The other member's state is none the registry defines as
			// current or stale: the Healthy one is current, but say so.
			s.Fresh = healthy
			var others []string
			for _, m := range s.Members {
				if m != healthy[0] {
					others = append(others, fmt.Sprintf("%s FtState=%v", m.Path(), m.FT.Partition.FtState))
				}
			}
			s.Reasons = append(s.Reasons, fmt.Sprintf("%s is the only member whose state is Healthy (%s)", healthy[0].Path(), strings.Join(others, "; ")))
		case len(healthy) == 1:
			s.Fresh = healthy
			s.Reasons = append(s.Reasons, fmt.Sprintf("%s is the only member given and it is Healthy", healthy[0].Path()))
		case len(disputed) > 0:
			var names []string
			for _, m := range disputed {
				names = append(names, m.Path())
			}
			s.Reasons = append(s.Reasons, fmt.Sprintf("the hives disagree about the state of %s and no member is Healthy in all of them: no authority from the registry", strings.Join(names, ", ")))
		case len(missingHealthy) > 0:
			s.Reasons = append(s.Reasons, fmt.Sprintf("the Healthy member (%s) is not among the inputs; the members given are not current by the registry's account, so no authority", strings.Join(missingHealthy, ", ")))
		default:
			s.Reasons = append(s.Reasons, "no member is Healthy in \\DISK\\Information (at most one member may be Orphaned, so the registry contradicts itself): no authority from the registry")
			s.problem("ft-no-healthy-member", Error, nil, nil, "\\DISK\\Information shows no Healthy member of %s (FtVolumeState=%v): the registry names no current copy", s.Name, fs.VolumeState)
		}
		sortFresh(s)
		s.DataSize = memberDataSize(s)
		s.DataSize = shortest(s)
		sets = append(sets, s)
	}
	ftSwapped(di, sets)
	return sets, problems, used, nil
}

// ftMBREvidence holds the MBR partition type of a whole-disk member against
// the registry.
func ftMBREvidence(s *Set, m *Member, fs *ftdisk.FtSet) {
	p := m.FT.Partition
	if m.FT.MBRType == 0 {
		// Bound through an MBR entry (by signature, or a whole disk named
		// by --member) or not: only a partition image has none.
		if m.FT.Binding != "mbr" {
			m.addEvidence("partition image: no MBR partition type to compare with the registry")
		}
		return
	}
	t := m.FT.MBRType
	desc := "FT member (0x80 set)"
	if t&ftBroken == ftBroken {
		desc = "FT member of a set marked broken (0xC0 set)"
	} else if t&ftFTBit == 0 {
		desc = "not an FT member (0x80 clear)"
	}
	m.addEvidence("MBR partition type 0x%02X (byte %d): %s, base type 0x%02X", t, m.FT.MBREntry, desc, t&^ftBroken)
	// Every member Healthy is what matters: a 0xC0 mark says a member
	// failed, whatever FtVolumeState says (its disagreement with the
	// member states is ft-state-inconsistent).
	setHealthy := true
	for _, x := range fs.Members {
		if x.Partition != nil && x.Partition.FtState != ftdisk.Healthy {
			setHealthy = false
		}
	}
	switch {
	case t&ftFTBit == 0:
		s.problem("ft-mbr-not-ft", Warning, m, ptr(m.FT.MBREntry), "%s: MBR partition type 0x%02X lacks the FT bit 0x80, but \\DISK\\Information lists %s as a member of %s (FtType=%v): the disk and the registry disagree",
			m.Path(), t, ftMemberLabel(p), s.Name, p.FtType)
	case t&ftBroken == ftBroken && setHealthy:
		s.problem("ft-mbr-broken-but-healthy", Warning, m, ptr(m.FT.MBREntry), "%s: MBR partition type 0x%02X marks the FT set broken (0xC0), but \\DISK\\Information shows %s FtVolumeState=%v with every member Healthy (%s FtState=%v): the MBR and the registry disagree (KB Q197366); the data decides",
			m.Path(), t, s.Name, fs.VolumeState, ftMemberLabel(p), p.FtState)
	case t&ftBroken == ftBroken:
		m.addEvidence("the 0xC0 marking agrees with the registry: the set has a member that is not Healthy")
	}
}

// ftSurvivorMark: with every member Healthy in the registry, ftdisk's 0xC0
// mark on exactly one member's MBR partition type (0x86/0x87 -> 0xC6/0xC7,
// written by FtpMarkMirrorPartitionType on the member that went on alone)
// says which member received the later writes: it is taken as current
// (the other is stale), citing the MBR entries. The registry's own
// disagreement stays a warning (ft-mbr-broken-but-healthy), and where the
// filesystem evidence names the other member the check calls it a split
// brain (ft-orphan-newer). It returns nil when the marks do not single out
// one member: not every member given and bound through its MBR, or zero
// or several marked.
func ftSurvivorMark(s *Set, healthy []*Member, missing []string) *Member {
	if len(missing) > 0 || len(healthy) != len(s.Members) || len(healthy) < 2 {
		return nil
	}
	var marked, unmarked []*Member
	for _, m := range healthy {
		switch {
		case m.FT.MBRType == 0 || m.FT.MBRType&ftFTBit == 0:
			return nil
		case m.FT.MBRType&ftBroken == ftBroken:
			marked = append(marked, m)
		default:
			unmarked = append(unmarked, m)
		}
	}
	if len(marked) != 1 {
		return nil
	}
	m := marked[0]
	var others []string
	for _, o := range unmarked {
		o.State = StateStale
		o.addEvidence("MBR partition type 0x%02X (byte %d) lacks the 0xC0 mark that ftdisk writes on the member that went on alone, which %s carries: it missed the later writes", o.FT.MBRType, o.FT.MBREntry, m.Path())
		s.problem("stale-member", Error, o, ptr(o.FT.MBREntry), "%s is stale: the registry shows every member Healthy, but the MBR partition type of %s is 0x%02X (byte %d), marked 0xC0 by ftdisk as the member that went on alone, and %s's is 0x%02X", o.Path(), m.Path(), m.FT.MBRType, m.FT.MBREntry, o.Path(), o.FT.MBRType)
		others = append(others, fmt.Sprintf("%s has 0x%02X (byte %d)", o.Path(), o.FT.MBRType, o.FT.MBREntry))
	}
	m.addEvidence("MBR partition type 0x%02X carries ftdisk's 0xC0 survivor mark: this member received the writes made after the set broke", m.FT.MBRType)
	s.Reasons = append(s.Reasons, fmt.Sprintf("the registry shows every member Healthy, but only %s's MBR partition type carries ftdisk's 0xC0 survivor mark (0x%02X at byte %d; %s): ftdisk marks the member that went on alone (FtpMarkMirrorPartitionType), so it received the later writes and is current",
		m.Path(), m.FT.MBRType, m.FT.MBREntry, strings.Join(others, "; ")))
	return m
}

// ftMarkOnOrphan: ftdisk marks the remaining (written) member of a broken
// mirror with 0xC0 (FtpMarkMirrorPartitionType); the orphan's disk had
// failed and was not written. A 0xC0 mark on the Orphaned member while the
// Healthy member's type lacks it points at the other disk than the
// registry does.
func ftMarkOnOrphan(s *Set) {
	var healthy, orphan *Member
	for _, m := range s.Members {
		if m.FT.MBRType == 0 {
			return
		}
		switch m.FT.Partition.FtState {
		case ftdisk.Healthy:
			healthy = m
		case ftdisk.Orphaned:
			orphan = m
		}
	}
	if healthy == nil || orphan == nil || orphan.FT.MBRType&ftBroken != ftBroken || healthy.FT.MBRType&ftBroken == ftBroken {
		return
	}
	s.problem("ft-mbr-mark-on-orphan", Warning, orphan, ptr(orphan.FT.MBREntry), "%s: MBR partition type 0x%02X marks the set broken on the member \\DISK\\Information calls Orphaned (%s), while the Healthy member %s has type 0x%02X: ftdisk marks the remaining, written member, so the MBRs point at the other disk than the registry does (KB Q197366); the data decides",
		orphan.Path(), orphan.FT.MBRType, ftMemberLabel(orphan.FT.Partition), healthy.Path(), healthy.FT.MBRType)
	s.Doubt = fmt.Sprintf("the MBR marks %s, which the registry calls Orphaned, as the remaining member of a broken set (type 0x%02X), not %s", orphan.Path(), orphan.FT.MBRType, healthy.Path())
}

// ftVolumeStateCheck compares FtVolumeState with the member states.
func ftVolumeStateCheck(s *Set, fs *ftdisk.FtSet) {
	orphans := 0
	for _, x := range fs.Members {
		if x.Partition != nil && x.Partition.FtState == ftdisk.Orphaned {
			orphans++
		}
	}
	switch {
	case fs.VolumeState == ftdisk.FtStateOk && orphans > 0:
		s.problem("ft-state-inconsistent", Warning, nil, nil, "%s: FtVolumeState=FtStateOk but %d member(s) have FtState=Orphaned: the registry contradicts itself", s.Name, orphans)
	case fs.VolumeState == ftdisk.FtHasOrphan && orphans == 0:
		s.problem("ft-state-inconsistent", Warning, nil, nil, "%s: FtVolumeState=FtHasOrphan but no member has FtState=Orphaned: the registry contradicts itself", s.Name)
	case orphans > 1:
		s.problem("ft-state-inconsistent", Warning, nil, nil, "%s: %d members have FtState=Orphaned; ftdisk orphans at most one member of a set", s.Name, orphans)
	}
}

// ftSwapped applies the swapped-states rule (see the file comment): for two
// mirror sets on the same two disks, each orphaning exactly one member, on
// different disks.
func ftSwapped(di *ftdisk.DiskInformation, sets []*Set) {
	type orphan struct {
		fs    *ftdisk.FtSet
		disks [2]uint32 // sorted signatures of the two members' disks
		on    *ftdisk.Partition
	}
	var orphans []orphan
	for _, fs := range di.FtSets {
		if fs.Type != ftdisk.Mirror || len(fs.Members) != 2 || fs.Members[0].Partition == nil || fs.Members[1].Partition == nil {
			continue
		}
		a, b := fs.Members[0].Partition, fs.Members[1].Partition
		if a.Signature == b.Signature {
			continue
		}
		var on *ftdisk.Partition
		n := 0
		for _, p := range []*ftdisk.Partition{a, b} {
			if p.FtState == ftdisk.Orphaned || p.FtState == ftdisk.Regenerating {
				on, n = p, n+1
			}
		}
		if n != 1 {
			continue
		}
		d := [2]uint32{a.Signature, b.Signature}
		if d[0] > d[1] {
			d[0], d[1] = d[1], d[0]
		}
		orphans = append(orphans, orphan{fs: fs, disks: d, on: on})
	}
	setOf := func(fs *ftdisk.FtSet) *Set {
		for _, s := range sets {
			for _, m := range s.Members {
				if m.FT != nil && m.FT.Set == fs {
					return s
				}
			}
		}
		return nil
	}
	for i := range orphans {
		for j := range orphans {
			x, y := orphans[i], orphans[j]
			if i == j || x.disks != y.disks || x.on.Signature == y.on.Signature {
				continue
			}
			s := setOf(x.fs)
			if s == nil {
				continue
			}
			s.problem("ft-states-swapped", Warning, nil, nil,
				"%s orphans its member on disk 0x%08X (%s FtState=%v) while %s on the same two disks orphans its member on disk 0x%08X (%s FtState=%v): a failed disk orphans the members on that disk, so either both disks failed at different times, or the states were swapped between the sets (KB Q197366); the registry is not trusted alone here, compare each set's data",
				ftSetName(x.fs), x.on.Signature, ftMemberLabel(x.on), x.on.FtState, ftSetName(y.fs), y.on.Signature, ftMemberLabel(y.on), y.on.FtState)
			s.Reasons = append(s.Reasons, fmt.Sprintf("warning: the orphan states of %s and %s look swapped (ft-states-swapped): the registry's authority for this set is doubtful", ftSetName(x.fs), ftSetName(y.fs)))
			s.Doubt = fmt.Sprintf("the orphan states of %s and %s look swapped between the sets (ft-states-swapped)", ftSetName(x.fs), ftSetName(y.fs))
		}
	}
}

func ftSetName(fs *ftdisk.FtSet) string {
	g := -1
	if len(fs.Members) > 0 && fs.Members[0].Partition != nil {
		g = int(fs.Members[0].Partition.FtGroup)
	}
	return fmt.Sprintf("mirror %s (group %d)", ftLetter(fs), g)
}

// ftLetter is the set's drive letter ("D:"): the member with
// AssignDriveLetter first, else any member's letter, else "".
func ftLetter(fs *ftdisk.FtSet) string {
	var ps []*ftdisk.Partition
	for _, m := range fs.Members {
		if m.Partition != nil {
			ps = append(ps, m.Partition)
		}
	}
	sort.SliceStable(ps, func(i, j int) bool { return ps[i].AssignDriveLetter && !ps[j].AssignDriveLetter })
	for _, p := range ps {
		if l := letterOf(p); l != "none" {
			return l
		}
	}
	return ""
}

func letterOf(p *ftdisk.Partition) string {
	c := p.DriveLetter
	if (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') {
		return strings.ToUpper(string(rune(c))) + ":"
	}
	return "none"
}
