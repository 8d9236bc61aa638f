package ddf

import (
	"errors"
	"fmt"
	"io"
	"slices"
)

// Limits on what Read will read, from mdadm's load_section.
const (
	// maxSectionSectors caps every section Read loads (512 KiB), as
	// mdadm's load_section refuses sections longer than 1024 sectors.
	maxSectionSectors = 1024
	// maxPrimaryElements caps max_primary_element_entries (the largest
	// value the DDF specification lists).
	maxPrimaryElements = 4096
	// searchSectors is how far from the end Read looks for a primary or
	// secondary header when the anchor is unusable: 32 MiB, the area mdadm
	// reserves (its secondary header sits exactly 32 MiB from the end).
	searchSectors = 65536
	// searchChunk is the read size of that search.
	searchChunk = 1 << 20
)

// phys_section and virt_section lengths mdadm accepts (load_section check).
var listSectionLengths = []uint32{2, 8, 32, 128, 512}

// DDF is the DDF metadata of one disk image, read from the copy mdadm
// would use.
type DDF struct {
	Size int64 // image size in bytes

	// Anchor is the header in the last sector; nil when that sector holds
	// no usable anchor (AnchorErr says why) and the primary and secondary
	// headers were found by searching the last 32 MiB instead. mdadm 4.2
	// does not search: it rejects such an image.
	Anchor    *Header
	AnchorErr error

	// Primary and Secondary are the headers found where the anchor (or the
	// search) places them; nil when none could be decoded there. PrimaryErr
	// and SecondaryErr say why a copy is not usable (nil: usable). A copy
	// is usable when its header has a good CRC, agrees with the anchor, and
	// every section it points to is in the image, has its magic and a good
	// CRC.
	Primary, Secondary       *Header
	PrimaryErr, SecondaryErr error

	// Active is the copy the rest was decoded from (Primary or Secondary),
	// chosen among the usable copies as mdadm's load_ddf_headers chooses:
	// the primary, unless the secondary has a higher seq and its open flag
	// clear, or the same seq with its open flag clear and the primary's
	// set. ActiveReason says which and why, in words.
	Active       *Header
	ActiveReason string

	Controller Controller

	PhysUsed, PhysMax uint16     // used_pdes (a counter), max_pdes
	PhysDisks         []PhysDisk // entries whose refnum is not 0xffffffff

	VirtPopulated, VirtMax uint16        // populated_vdes (a counter), max_vdes
	VirtualDisks           []VirtualDisk // entries whose GUID is not all 0xff

	Configs      []Config // vd_config records of this disk, in section order
	SpareRecords int      // spare assignment records (not decoded)

	ThisDisk DiskData // which physical disk this image is

	copies [2]*copyData // primary, secondary: usable copies, for Synced
}

// copyData is one usable copy (primary or secondary) with its raw sections.
type copyData struct {
	hdr     *Header
	lba     uint64
	ctrl    *Controller
	phys    *physRecords
	virt    *virtRecords
	configs []Config
	spares  int
	disk    *DiskData

	physRaw, virtRaw, confRaw []byte
}

// Read finds and decodes the DDF metadata of an image of size bytes.
//
// It reads the anchor from the last whole sector; if that is unusable it
// searches the last 32 MiB for primary and secondary headers that sit where
// they say they sit. It then loads both copies, checks every CRC, and uses
// the copy mdadm would use. A copy with a problem is recorded (PrimaryErr,
// SecondaryErr) and the other copy used; Read fails with a *FormatError only
// when no copy is usable, and with ErrNoDDF when no DDF header is found at
// all. Errors from r are returned as they are (wrapped), never read as
// zeros.
func Read(r io.ReaderAt, size int64) (*DDF, error) {
	if size < 0 {
		return nil, fmt.Errorf("ddf: negative image size %d", size)
	}
	sectors := uint64(size) / SectorSize
	if sectors < 2 {
		return nil, ErrNoDDF
	}
	d := &DDF{Size: size}
	anchorOff := int64(sectors-1) * SectorSize
	buf := make([]byte, headerBytes)
	if err := readFull(r, buf, anchorOff); err != nil {
		return nil, err
	}
	hasMagic := be.Uint32(buf) == HeaderMagic
	tmpl, aerr := checkAnchor(buf, anchorOff)
	if aerr == nil {
		d.Anchor = tmpl
	} else {
		d.AnchorErr = aerr
		found, err := search(r, sectors)
		if err != nil {
			return nil, err
		}
		if found == nil {
			if !hasMagic {
				return nil, ErrNoDDF
			}
			return nil, aerr
		}
		tmpl = found
	}

	var (
		pc, sc     *copyData
		pErr, sErr error
		err        error
	)
	d.Primary, pc, pErr, err = loadCopy(r, sectors, tmpl, TypePrimary)
	if err != nil {
		return nil, err
	}
	d.Secondary, sc, sErr, err = loadCopy(r, sectors, tmpl, TypeSecondary)
	if err != nil {
		return nil, err
	}
	d.PrimaryErr, d.SecondaryErr = pErr, sErr

	var act *copyData
	switch {
	case pc != nil && sc != nil:
		p, s := pc.hdr, sc.hdr
		switch {
		case p.Seq < s.Seq && s.OpenFlag == 0:
			act, d.ActiveReason = sc, fmt.Sprintf("secondary: its seq %#x is higher than the primary's %#x", s.Seq, p.Seq)
		case p.Seq == s.Seq && p.OpenFlag != 0 && s.OpenFlag == 0:
			act, d.ActiveReason = sc, fmt.Sprintf("secondary: same seq %#x, but the primary's open flag is set (an update was cut short)", s.Seq)
		case p.Seq == s.Seq:
			act, d.ActiveReason = pc, fmt.Sprintf("primary: both copies are usable, seq %#x", p.Seq)
		default:
			act, d.ActiveReason = pc, fmt.Sprintf("primary: seq %#x, secondary %#x", p.Seq, s.Seq)
		}
	case pc != nil:
		act, d.ActiveReason = pc, fmt.Sprintf("primary: the secondary copy is not usable (%v)", sErr)
	case sc != nil:
		act, d.ActiveReason = sc, fmt.Sprintf("secondary: the primary copy is not usable (%v)", pErr)
	default:
		return nil, errors.Join(pErr, sErr)
	}
	if d.Anchor == nil {
		d.ActiveReason += fmt.Sprintf("; the anchor is unusable (%v): the headers were found by searching the last 32 MiB", d.AnchorErr)
	}
	d.copies = [2]*copyData{pc, sc}
	d.Active = act.hdr
	d.Controller = *act.ctrl
	d.PhysUsed, d.PhysMax, d.PhysDisks = act.phys.used, act.phys.max, act.phys.disks
	d.VirtPopulated, d.VirtMax, d.VirtualDisks = act.virt.populated, act.virt.max, act.virt.disks
	d.Configs, d.SpareRecords = act.configs, act.spares
	d.ThisDisk = *act.disk
	return d, nil
}

// checkAnchor decodes and checks the anchor sector.
func checkAnchor(buf []byte, off int64) (*Header, error) {
	if be.Uint32(buf) != HeaderMagic {
		return nil, &FormatError{Off: off, Field: "anchor.magic", Value: fmt.Sprintf("%#08x", be.Uint32(buf)), Msg: fmt.Sprintf("is not %#x: the last sector holds no anchor", HeaderMagic)}
	}
	h, err := decodeHeader(buf, off)
	if err != nil {
		return nil, err
	}
	if !h.CRCOK() {
		return nil, &FormatError{Off: off + hCRC, Field: "anchor.crc", Value: fmt.Sprintf("%#08x", h.CRC), Msg: fmt.Sprintf("computed %#08x", h.ComputedCRC)}
	}
	if h.Revision != Revision0 && h.Revision != Revision2 {
		return nil, &FormatError{Off: off + hRevision, Field: "anchor.revision", Value: fmt.Sprintf("%q", h.Revision), Msg: fmt.Sprintf("is neither %s nor %s", Revision0, Revision2)}
	}
	// Like mdadm, the anchor's type byte is not checked.
	return h, nil
}

// search looks through the last 32 MiB (less the anchor sector) for a
// primary or secondary header with a good CRC, a known revision, and the
// LBA of its own type pointing at itself. It returns the one with the
// highest seq (the primary on a tie), or nil.
func search(r io.ReaderAt, sectors uint64) (*Header, error) {
	start := uint64(0)
	if sectors-1 > searchSectors {
		start = sectors - 1 - searchSectors
	}
	var best *Header
	buf := make([]byte, min(searchChunk, (sectors-1-start)*SectorSize))
	for s := start; s < sectors-1; {
		n := min(uint64(searchChunk/SectorSize), sectors-1-s)
		b := buf[:n*SectorSize]
		if err := readFull(r, b, int64(s)*SectorSize); err != nil {
			return nil, err
		}
		for i := range n {
			sec := b[i*SectorSize:][:SectorSize]
			if be.Uint32(sec) != HeaderMagic {
				continue
			}
			h, err := decodeHeader(sec, int64(s+i)*SectorSize)
			if err != nil || !h.CRCOK() || (h.Revision != Revision0 && h.Revision != Revision2) {
				continue
			}
			if !(h.Type == TypePrimary && h.PrimaryLBA == s+i) && !(h.Type == TypeSecondary && h.SecondaryLBA == s+i) {
				continue
			}
			if best == nil || h.Seq > best.Seq || (h.Seq == best.Seq && h.Type == TypePrimary && best.Type != TypePrimary) {
				best = h
			}
		}
		s += n
	}
	return best, nil
}

// loadCopy loads the primary or secondary copy (typ) that tmpl (the anchor,
// or a header found by the search) points to. It returns the header if one
// could be decoded there, the copy if it is usable, else the FormatError
// that makes it unusable; err is an I/O error.
func loadCopy(r io.ReaderAt, sectors uint64, tmpl *Header, typ uint8) (h *Header, c *copyData, bad, err error) {
	lba, lbaField, name := tmpl.PrimaryLBA, int64(hPrimaryLBA), "primary_lba"
	if typ == TypeSecondary {
		lba, lbaField, name = tmpl.SecondaryLBA, hSecondaryLBA, "secondary_lba"
	}
	if lba == ^uint64(0) {
		return nil, nil, &FormatError{Off: tmpl.Offset + lbaField, Field: name, Value: "0xffffffffffffffff", Msg: "(no " + headerTypeName(typ) + " copy)"}, nil
	}
	if lba >= sectors-1 {
		return nil, nil, &FormatError{Off: tmpl.Offset + lbaField, Field: name, Value: lba, Msg: fmt.Sprintf("is not before the anchor sector %d", sectors-1)}, nil
	}
	off := int64(lba) * SectorSize
	buf := make([]byte, headerBytes)
	if err := readFull(r, buf, off); err != nil {
		return nil, nil, nil, err
	}
	h, bad = decodeHeader(buf, off)
	if bad != nil {
		return nil, nil, bad, nil
	}
	if !h.CRCOK() {
		return h, nil, &FormatError{Off: off + hCRC, Field: "crc", Value: fmt.Sprintf("%#08x", h.CRC), Msg: fmt.Sprintf("computed %#08x", h.ComputedCRC)}, nil
	}
	if h.Type != typ {
		return h, nil, &FormatError{Off: off + hType, Field: "type", Value: h.Type, Msg: fmt.Sprintf("is not %d (%s)", typ, headerTypeName(typ))}, nil
	}
	// As mdadm's load_ddf_header: guid, revision, both LBAs and every byte
	// after the type must equal the anchor's.
	for _, rg := range [][2]int{{hGUID, hSeq}, {hPrimaryLBA, hType}, {hPad2, headerBytes}} {
		if i := firstDiff(h.Raw[rg[0]:rg[1]], tmpl.Raw[rg[0]:rg[1]]); i >= 0 {
			at := rg[0] + i
			return h, nil, &FormatError{Off: off + int64(at), Field: headerField(at), Msg: fmt.Sprintf("differs from the %s header at byte %#x", tmpl.TypeString(), tmpl.Offset)}, nil
		}
	}
	if bad = checkGeometry(h, lba, sectors); bad != nil {
		return h, nil, bad, nil
	}
	c, bad, err = loadSections(r, h, lba)
	return h, c, bad, err
}

// firstDiff returns the first index where a and b differ, or -1.
func firstDiff(a, b []byte) int {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return i
		}
	}
	if len(a) != len(b) {
		return min(len(a), len(b))
	}
	return -1
}

// checkGeometry checks the header's counts and section table against the
// image (sectors long) before anything is allocated from them.
func checkGeometry(h *Header, lba, sectors uint64) error {
	if m := h.MaxPrimaryElementEntries; m == 0 || m > maxPrimaryElements {
		return &FormatError{Off: h.Offset + hMaxPrimElem, Field: "max_primary_element_entries", Value: m, Msg: fmt.Sprintf("is not 1..%d", maxPrimaryElements)}
	}
	if need := cRefs + 12*int(h.MaxPrimaryElementEntries); int(h.ConfigRecordLen)*SectorSize < need {
		return &FormatError{Off: h.Offset + hConfigRecLen, Field: "config_record_len", Value: h.ConfigRecordLen, Msg: fmt.Sprintf("sectors cannot hold %d slots (%d bytes)", h.MaxPrimaryElementEntries, need)}
	}
	for _, k := range []SectionKind{SecController, SecPhys, SecVirt, SecConfig, SecDiskData} {
		s := h.Sections[k]
		offField := h.Offset + sectionField(k)
		if s.Length == 0 {
			return &FormatError{Off: offField + 4, Field: k.String() + "_length", Value: s.Length, Msg: "the section is required"}
		}
		if s.Length > maxSectionSectors {
			return &FormatError{Off: offField + 4, Field: k.String() + "_length", Value: s.Length, Msg: fmt.Sprintf("sectors exceeds the %d-sector cap (mdadm's load_section refuses it too)", maxSectionSectors)}
		}
		if (k == SecPhys || k == SecVirt) && !slices.Contains(listSectionLengths, s.Length) {
			return &FormatError{Off: offField + 4, Field: k.String() + "_length", Value: s.Length, Msg: "sectors is not 2, 8, 32, 128 or 512 (mdadm refuses it)"}
		}
		// The section must lie in the image, before the anchor sector.
		if uint64(s.Offset) >= sectors || uint64(s.Length) > sectors-1-lba || uint64(s.Offset) > sectors-1-lba-uint64(s.Length) {
			return &FormatError{Off: offField, Field: k.String() + "_offset", Value: s.Offset, Msg: fmt.Sprintf("+ %d sectors from sector %d runs past the anchor sector %d", s.Length, lba, sectors-1)}
		}
	}
	return nil
}

// loadSections reads and checks the sections of a copy whose header h at
// lba passed checkGeometry.
// It returns the copy, or the FormatError that makes it unusable; err is an
// I/O error.
func loadSections(r io.ReaderAt, h *Header, lba uint64) (c *copyData, bad, err error) {
	c = &copyData{hdr: h, lba: lba}
	at := func(k SectionKind) int64 { return int64(lba+uint64(h.Sections[k].Offset)) * SectorSize }
	read := func(k SectionKind, n int64) ([]byte, error) {
		b := make([]byte, n)
		return b, readFull(r, b, at(k))
	}
	crcErr := func(field string, off int64, stored, computed uint32) error {
		return &FormatError{Off: off + crcOff, Field: field, Value: fmt.Sprintf("%#08x", stored), Msg: fmt.Sprintf("computed %#08x", computed)}
	}

	raw, err := read(SecController, controllerBytes)
	if err != nil {
		return nil, nil, err
	}
	if c.ctrl, err = decodeController(raw, at(SecController)); err != nil {
		return nil, err, nil
	}
	if c.ctrl.CRC != c.ctrl.ComputedCRC {
		return nil, crcErr("controller.crc", at(SecController), c.ctrl.CRC, c.ctrl.ComputedCRC), nil
	}

	if c.physRaw, err = read(SecPhys, int64(h.Sections[SecPhys].Length)*SectorSize); err != nil {
		return nil, nil, err
	}
	if c.phys, err = decodePhys(c.physRaw, at(SecPhys)); err != nil {
		return nil, err, nil
	}
	if c.phys.crc != c.phys.computedCRC {
		return nil, crcErr("phys.crc", at(SecPhys), c.phys.crc, c.phys.computedCRC), nil
	}

	if c.virtRaw, err = read(SecVirt, int64(h.Sections[SecVirt].Length)*SectorSize); err != nil {
		return nil, nil, err
	}
	if c.virt, err = decodeVirt(c.virtRaw, at(SecVirt)); err != nil {
		return nil, err, nil
	}
	if c.virt.crc != c.virt.computedCRC {
		return nil, crcErr("virt.crc", at(SecVirt), c.virt.crc, c.virt.computedCRC), nil
	}

	if c.confRaw, err = read(SecConfig, int64(h.Sections[SecConfig].Length)*SectorSize); err != nil {
		return nil, nil, err
	}
	recLen := int(h.ConfigRecordLen) * SectorSize
	for i := 0; (i+1)*recLen <= len(c.confRaw); i++ {
		rec := c.confRaw[i*recLen:][:recLen]
		off := at(SecConfig) + int64(i*recLen)
		switch be.Uint32(rec) {
		case ConfigMagic:
			cf, err := decodeConfig(rec, off, i, int(h.MaxPrimaryElementEntries))
			if err != nil {
				return nil, err, nil
			}
			if !cf.CRCOK() {
				return nil, crcErr("vd_config.crc", off, cf.CRC, cf.ComputedCRC), nil
			}
			c.configs = append(c.configs, *cf)
		case SpareMagic:
			c.spares++
		}
		// Anything else is unused (0xff) or vendor-unique, as for mdadm.
	}

	if raw, err = read(SecDiskData, diskDataBytes); err != nil {
		return nil, nil, err
	}
	if c.disk, err = decodeDiskData(raw, at(SecDiskData)); err != nil {
		return nil, err, nil
	}
	if c.disk.CRC != c.disk.ComputedCRC {
		return nil, crcErr("disk_data.crc", at(SecDiskData), c.disk.CRC, c.disk.ComputedCRC), nil
	}
	return c, nil, nil
}

// readFull reads len(p) bytes at off; a short read is an error, never zeros.
func readFull(r io.ReaderAt, p []byte, off int64) error {
	n, err := r.ReadAt(p, off)
	if n == len(p) {
		return nil
	}
	if err == nil || err == io.EOF {
		err = io.ErrUnexpectedEOF
	}
	return fmt.Errorf("ddf: read %d bytes at byte %#x: %w", len(p), off, err)
}
