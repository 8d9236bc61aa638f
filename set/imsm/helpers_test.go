package imsm

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/mirrorchk/mirrorchk/internal/fixture"
)

// The IMSM fixtures: 16 MiB members of a two-disk RAID-1 container made by
// mdadm 4.2 on kernel 6.1 in a VM (IMSM_NO_PLATFORM, IMSM_DEVNAME_AS_SERIAL:
// the serials are the guest's device names).
const (
	aClean = "md/md-imsm/a-clean"
	bStale = "md/md-imsm/b-stale-member"
	// anchor is the MPB's offset in the fixtures: 16 MiB - 1024.
	anchor = 16<<20 - 1024
)

var fixtureDirs = []string{aClean, bStale}

// readMPB reads the MPB of img and fails the test on error.
func readMPB(tb testing.TB, img []byte) *MPB {
	tb.Helper()
	m, err := Read(bytes.NewReader(img), int64(len(img)))
	if err != nil {
		tb.Fatalf("Read: %v", err)
	}
	return m
}

// messWith returns a copy of a fixture image changed by fn.
func messWith(tb testing.TB, dir, member string, fn func(b []byte)) []byte {
	tb.Helper()
	b := bytes.Clone(fixture.Image(tb, dir, member))
	fn(b)
	return b
}

func put32(b []byte, off int, v uint32) { binary.LittleEndian.PutUint32(b[off:], v) }

// fixChecksum recomputes the check_sum of the one-sector MPB at off.
func fixChecksum(b []byte, off int) {
	n := int(binary.LittleEndian.Uint32(b[off+offMPBSize:]))
	put32(b, off+offCheckSum, Checksum(b[off:off+n]))
}

// examine is one device's section of mdadm --examine output for IMSM.
type examine struct {
	device string
	header map[string]string // the MPB header lines, plus the bad-block log's
	disks  []exDisk          // in printed order: this disk first, then the others
	vols   []exVol
	text   string
}

type exDisk struct {
	index  int // NN of "DiskNN Serial"
	serial string
	kv     map[string]string
}

type exVol struct {
	name string
	kv   map[string]string
}

var (
	devLine  = regexp.MustCompile(`^(/dev/\S+):$`)
	diskLine = regexp.MustCompile(`^\s*Disk(\d+) Serial : (.*)$`)
	volLine  = regexp.MustCompile(`^\[(.*)\]:$`)
	mdfxDisk = regexp.MustCompile(`^MDFX: disk (/dev/\S+) serial=mdfx-(m\d+)$`)
)

// parseExamine parses every device section of an examine text. Sections
// start at a "/dev/X:" line and end at the next one or at a line that is
// not part of examine output.
func parseExamine(text string) map[string]*examine {
	out := map[string]*examine{}
	var cur *examine
	var kv map[string]string
	var lines []string
	flush := func() {
		if cur != nil {
			cur.text = strings.Join(lines, "\n")
			out[cur.device] = cur
		}
		cur, kv, lines = nil, nil, nil
	}
	for _, line := range strings.Split(text, "\n") {
		if m := devLine.FindStringSubmatch(line); m != nil {
			flush()
			cur = &examine{device: m[1], header: map[string]string{}}
			kv = cur.header
			lines = append(lines, line)
			continue
		}
		if cur == nil {
			continue
		}
		switch {
		case strings.TrimSpace(line) == "" || strings.TrimSpace(line) == "Bad Block Management Log:":
		case diskLine.MatchString(line):
			m := diskLine.FindStringSubmatch(line)
			n, _ := strconv.Atoi(m[1])
			cur.disks = append(cur.disks, exDisk{index: n, serial: m[2], kv: map[string]string{}})
			kv = cur.disks[len(cur.disks)-1].kv
		case volLine.MatchString(line):
			cur.vols = append(cur.vols, exVol{name: volLine.FindStringSubmatch(line)[1], kv: map[string]string{}})
			kv = cur.vols[len(cur.vols)-1].kv
		case strings.Contains(line, " : "):
			k, v, _ := strings.Cut(line, " : ")
			kv[strings.TrimSpace(k)] = strings.TrimSpace(v)
		default:
			flush()
			continue
		}
		lines = append(lines, line)
	}
	flush()
	return out
}

// guestDevices maps each image (m0, m1) to its device in the VM, from the
// MDFX lines of examine-in-guest.txt.
func guestDevices(text string) map[string]string {
	out := map[string]string{}
	for _, line := range strings.Split(text, "\n") {
		if m := mdfxDisk.FindStringSubmatch(line); m != nil {
			out[m[2]] = m[1]
		}
	}
	return out
}

// render is what mdadm 4.2's examine_super_imsm prints for m when the
// examined device is disk entry this (-1: its serial is in no entry), in
// the parsed shape, built from the decoded fields the way super-intel.c
// prints them. Sizes print their sector count only (the human-readable
// part in parentheses is dropped).
func render(m *MPB, this int) examine {
	e := examine{header: map[string]string{
		"Magic":        strings.TrimSpace(Signature),
		"Version":      m.Version,
		"Orig Family":  fmt.Sprintf("%08x", m.OrigFamily),
		"Family":       fmt.Sprintf("%08x", m.Family),
		"Generation":   fmt.Sprintf("%08x", m.Generation),
		"UUID":         m.UUID(),
		"MPB Sectors":  strconv.Itoa(m.Sectors()),
		"Disks":        strconv.Itoa(len(m.Disks)),
		"RAID Devices": strconv.Itoa(len(m.Volumes)),
	}}
	e.header["Creation Time"] = "Unknown"
	if !m.Created.IsZero() {
		e.header["Creation Time"] = m.Created.Format("Mon Jan _2 15:04:05 2006")
	}
	e.header["Attributes"] = "not supported"
	if m.AttributesSupported() {
		e.header["Attributes"] = "All supported"
	}
	e.header["Checksum"] = fmt.Sprintf("%08x incorrect", m.Checksum)
	if m.ChecksumOK() {
		e.header["Checksum"] = fmt.Sprintf("%08x correct", m.Checksum)
	}
	if m.BBMLogSize != 0 {
		p := int(m.Size - m.BBMLogSize)
		e.header["Log Size"] = strconv.Itoa(int(m.BBMLogSize))
		e.header["Signature"] = fmt.Sprintf("%x", binary.LittleEndian.Uint32(m.Raw[p:]))
		e.header["Entry Count"] = strconv.Itoa(int(binary.LittleEndian.Uint32(m.Raw[p+4:])))
	}
	reserved := m.Reserved(this)
	disk := func(i int) exDisk {
		d := m.Disks[i]
		return exDisk{index: i, serial: d.Serial, kv: map[string]string{
			"State":       d.StateString(),
			"Id":          fmt.Sprintf("%08x", d.SCSIID),
			"Usable Size": strconv.FormatUint(d.TotalBlocks-reserved, 10),
		}}
	}
	if this >= 0 {
		e.disks = append(e.disks, disk(this))
	}
	for i := range m.Disks {
		if i != this {
			e.disks = append(e.disks, disk(i))
		}
	}
	for i := range m.Volumes {
		v := &m.Volumes[i]
		mp := v.Maps[0]
		slots := ""
		for s := range mp.DiskOrd {
			if mp.Rebuilding(s) {
				slots += "_"
			} else {
				slots += "U"
			}
		}
		failed := "none"
		if f := mp.Failed(); f >= 0 {
			failed = strconv.Itoa(f)
		}
		thisSlot := "?"
		if s := v.Slot(this); this >= 0 && s >= 0 {
			thisSlot = strconv.Itoa(s)
			if mp.Rebuilding(s) {
				thisSlot += " (out-of-sync)"
			}
		}
		migr := "idle"
		if v.Migrating() {
			migr = [...]string{"initialize", "rebuild", "check", "general migration", "state change", "repair"}[v.MigrationType()%6]
		}
		dirty := "clean"
		if v.Dirty&VolDirty != 0 {
			dirty = "dirty"
		}
		rwh := map[uint8]string{0: "off", 5: "off", 1: "PPL distributed", 2: "PPL journaling drive",
			3: "Multiple distributed PPLs", 4: "Multiple PPLs on journaling drive", 6: "Write-intent bitmap"}[v.RWHPolicy]
		e.vols = append(e.vols, exVol{name: v.Name, kv: map[string]string{
			"Subarray":      strconv.Itoa(i),
			"UUID":          m.VolumeUUID(i),
			"RAID Level":    strconv.Itoa(mp.Level()),
			"Members":       strconv.Itoa(int(mp.NumMembers)),
			"Slots":         "[" + slots + "]",
			"Failed disk":   failed,
			"This Slot":     thisSlot,
			"Sector Size":   strconv.Itoa(SectorSize),
			"Array Size":    strconv.FormatUint(v.Size/SectorSize, 10),
			"Per Dev Size":  strconv.FormatUint(mp.BlocksPerMember, 10),
			"Sector Offset": strconv.FormatUint(mp.PBAOfLBA0, 10),
			"Num Stripes":   strconv.FormatUint(mp.NumDataStripes, 10),
			"Chunk Size":    fmt.Sprintf("%d KiB", mp.BlocksPerStrip/2),
			"Reserved":      strconv.Itoa(int(v.Reserved)),
			"Migrate State": migr,
			"Map State":     mp.StateString(),
			"Dirty State":   dirty,
			"RWH Policy":    rwh,
			"Volume ID":     strconv.Itoa(int(v.VolumeID)),
		}})
	}
	return e
}

// sizeField drops the human-readable part of a size line: "22366 (10.92
// MiB 11.45 MB)" -> "22366".
func sizeField(k, v string) string {
	switch k {
	case "Usable Size", "Per Dev Size":
		if f := strings.Fields(v); len(f) > 0 {
			return f[0]
		}
	}
	return v
}

// compareKV requires got and want to hold the same keys with the same
// values, so that every line mdadm printed is compared.
func compareKV(t *testing.T, what string, got, want map[string]string) {
	t.Helper()
	for k, w := range want {
		g, ok := got[k]
		if !ok {
			t.Errorf("%s: decoded MPB gives no %q (mdadm: %q)", what, k, w)
			continue
		}
		if sizeField(k, g) != sizeField(k, w) {
			t.Errorf("%s %s = %q; mdadm says %q", what, k, sizeField(k, g), sizeField(k, w))
		}
	}
	for k, g := range got {
		if _, ok := want[k]; !ok {
			t.Errorf("%s: mdadm printed no %q line (decoded %q)", what, k, g)
		}
	}
}

// compareExamine compares the rendering of m with mdadm's output.
func compareExamine(t *testing.T, m *MPB, this int, rep *examine) {
	t.Helper()
	got := render(m, this)
	compareKV(t, "header", got.header, rep.header)
	if len(got.disks) != len(rep.disks) {
		t.Fatalf("%d disks decoded; mdadm printed %d:\n%s", len(got.disks), len(rep.disks), rep.text)
	}
	for i, d := range rep.disks {
		g := got.disks[i]
		if g.index != d.index || g.serial != d.serial {
			t.Errorf("disk %d printed as Disk%02d %q; decoded Disk%02d %q", i, d.index, d.serial, g.index, g.serial)
		}
		compareKV(t, fmt.Sprintf("Disk%02d", d.index), g.kv, d.kv)
	}
	if len(got.vols) != len(rep.vols) {
		t.Fatalf("%d volumes decoded; mdadm printed %d", len(got.vols), len(rep.vols))
	}
	for i, v := range rep.vols {
		if got.vols[i].name != v.name {
			t.Errorf("volume %d name %q; mdadm says %q", i, got.vols[i].name, v.name)
		}
		compareKV(t, "["+v.name+"]", got.vols[i].kv, v.kv)
	}
}

// wantFormatError requires err to be a *FormatError for field at byte off.
func wantFormatError(tb testing.TB, err error, field string, off int64) {
	tb.Helper()
	var fe *FormatError
	if !errors.As(err, &fe) {
		tb.Fatalf("error = %v (%T); want *FormatError for %s", err, err, field)
	}
	if fe.Field != field || fe.Off != off {
		tb.Fatalf("FormatError = {Field %q, Off %#x} (%v); want {Field %q, Off %#x}", fe.Field, fe.Off, fe, field, off)
	}
	if !strings.Contains(fe.Error(), fmt.Sprintf("%s at byte %#x", field, off)) {
		tb.Fatalf("error %q does not name the field and offset", fe)
	}
}
