package imsm

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"strings"
)

// FailedSerial returns the serial mdadm writes into the disk entry of a
// member it marks failed (mark_failure): serial with ":0" appended, keeping
// the last 15 characters when that is too long.
func FailedSerial(serial string) string {
	if i := strings.IndexByte(serial, 0); i >= 0 {
		serial = serial[:i]
	}
	if len(serial) > serialLen {
		serial = serial[:serialLen]
	}
	s := serial + ":0"
	if len(s) >= serialLen {
		s = s[len(s)-serialLen+1:]
	}
	return s
}

// MissingSerial returns the serial of a member mdadm marks missing
// (mark_missing): FailedSerial shifted left by one character.
func MissingSerial(serial string) string {
	s := FailedSerial(serial)
	if s == "" {
		return s
	}
	return s[1:]
}

// Slot finds the disk-table entry of the drive with the given serial and
// that entry's slot in the first volume's current map. It matches the
// serial exactly (16 bytes, as mdadm's serialcmp), and failing that an
// entry marked failed whose serial is the one mdadm gives a failed or
// missing drive (FailedSerial, MissingSerial). slot is -1 when the disk is
// in no volume (a spare) or the MPB has no volumes; ok is false when no
// entry matches.
func (m *MPB) Slot(serial string) (disk, slot int, ok bool) {
	serial = trimSerial(serial)
	disk = -1
	for i, d := range m.Disks {
		if d.Serial == serial {
			disk = i
			break
		}
	}
	if disk < 0 && serial != "" {
		f, g := FailedSerial(serial), MissingSerial(serial)
		for i, d := range m.Disks {
			if d.Failed() && (d.Serial == f || d.Serial == g) {
				disk = i
				break
			}
		}
	}
	if disk < 0 {
		return -1, -1, false
	}
	slot = -1
	if len(m.Volumes) > 0 {
		slot = m.Volumes[0].Slot(disk)
	}
	return disk, slot, true
}

// trimSerial cuts a serial as mdadm stores it: at most 16 bytes, up to NUL.
func trimSerial(s string) string {
	if len(s) > serialLen {
		s = s[:serialLen]
	}
	if i := strings.IndexByte(s, 0); i >= 0 {
		s = s[:i]
	}
	return s
}

// Authority returns the index of the authoritative MPB among the MPBs of
// one container's members: the one with the highest generation_num among
// those whose checksum is good (mdadm refuses the others on load, and its
// imsm_thunderdome lets the higher generation win). It is an error when the
// MPBs belong to different containers (family numbers differ, as in
// compare_super_imsm), when no checksum is good, or when two different MPBs
// carry the highest generation (no winner; mdadm would take whichever it
// loaded first).
func Authority(mpbs []*MPB) (int, error) {
	best := -1
	for i, m := range mpbs {
		if m == nil {
			return -1, fmt.Errorf("imsm: image %d has no MPB", i)
		}
		if m.FamilyID() != mpbs[0].FamilyID() {
			return -1, fmt.Errorf("imsm: images 0 and %d belong to different containers (family %08x, %08x)",
				i, mpbs[0].FamilyID(), m.FamilyID())
		}
		if !m.ChecksumOK() {
			continue
		}
		if best < 0 || m.Generation > mpbs[best].Generation {
			best = i
		}
	}
	if best < 0 {
		return -1, errors.New("imsm: no image has an MPB with a good checksum")
	}
	for i, m := range mpbs {
		if i != best && m.ChecksumOK() && m.Generation == mpbs[best].Generation && !bytes.Equal(m.Raw, mpbs[best].Raw) {
			return -1, fmt.Errorf("imsm: images %d and %d hold different MPBs of the same generation %#x", best, i, m.Generation)
		}
	}
	return best, nil
}

// Member ties one image to an entry of the authoritative disk table.
type Member struct {
	Disk       int    // entry in the authoritative MPB's disk table, or -1
	Candidates []int  // entries the on-disk evidence allows, ascending
	Assumed    bool   // Disk was chosen by input order among Candidates, not proven
	Basis      string // what decided it, for the report
}

// Bind finds, for each image, its entry in the disk table of the
// authoritative MPB (see Authority), from the images' MPBs, their sizes in
// bytes (sizes may be nil) and the drives' serials where the user knows
// them (serials may be nil; "" means unknown). It returns the index of the
// authoritative MPB and one Member per image. An image whose entry the
// evidence does not decide is given the lowest candidate not taken by
// another image, in input order, with Assumed set; Disk is -1 only when no
// candidate is left.
func Bind(mpbs []*MPB, sizes []int64, serials []string) (int, []Member, error) {
	a, err := Authority(mpbs)
	if err != nil {
		return -1, nil, err
	}
	auth := mpbs[a]
	ms := make([]Member, len(mpbs))
	for i, m := range mpbs {
		if i < len(serials) && serials[i] != "" {
			d, _, ok := auth.Slot(serials[i])
			if !ok {
				return -1, nil, fmt.Errorf("imsm: serial %q of image %d is in no disk entry of the authoritative MPB", serials[i], i)
			}
			for j := range i {
				if ms[j].Basis == "serial given" && ms[j].Disk == d {
					return -1, nil, fmt.Errorf("imsm: images %d and %d are both given disk entry %d by serial", j, i, d)
				}
			}
			ms[i] = Member{Disk: d, Candidates: []int{d}, Basis: "serial given"}
			continue
		}
		var why []string
		cand := make([]int, len(auth.Disks))
		for k := range cand {
			cand[k] = k
		}
		keep := func(f func(k int) bool) []int {
			var out []int
			for _, k := range cand {
				if f(k) {
					out = append(out, k)
				}
			}
			return out
		}
		switch {
		case !m.ChecksumOK():
			why = append(why, "own MPB has a bad checksum")
		case bytes.Equal(m.Raw, auth.Raw):
			cand = keep(func(k int) bool { return !auth.Disks[k].Failed() })
			why = append(why, fmt.Sprintf("holds the authoritative MPB (generation %#x), which mdadm writes only to members it does not mark failed", auth.Generation))
		case m.Generation < auth.Generation:
			if f := keep(func(k int) bool { return auth.Disks[k].Failed() }); len(f) > 0 {
				cand = f
				why = append(why, fmt.Sprintf("own MPB lags (generation %#x < %#x): it missed a write to every member not marked failed", m.Generation, auth.Generation))
				if r := keep(func(k int) bool { return renamedFrom(auth.Disks[k].Serial, m) }); len(r) > 0 && len(r) < len(cand) {
					cand = r
					why = append(why, "its own disk table holds the serial the failed entry was renamed from")
				}
			} else {
				why = append(why, fmt.Sprintf("own MPB lags (generation %#x < %#x) but no entry is marked failed", m.Generation, auth.Generation))
			}
		}
		if i < len(sizes) {
			sectors := uint64(sizes[i] / SectorSize)
			if s := keep(func(k int) bool { return auth.Disks[k].TotalBlocks == sectors }); len(s) > 0 && len(s) < len(cand) {
				cand = s
				why = append(why, "total_blocks matches the image size")
			}
		}
		ms[i] = Member{Disk: -1, Candidates: cand, Basis: strings.Join(why, "; ")}
	}
	eliminate(ms)
	assume(ms)
	return a, ms, nil
}

// renamedFrom reports whether serial s of a failed entry is the renamed
// serial of some entry in m's own disk table.
func renamedFrom(s string, m *MPB) bool {
	for _, d := range m.Disks {
		if d.Serial != "" && (FailedSerial(d.Serial) == s || MissingSerial(d.Serial) == s) {
			return true
		}
	}
	return false
}

// eliminate binds images whose candidates are narrowed to one entry and
// removes that entry from the other images' candidates, until nothing
// changes. Two images left with the same single entry both stay unbound.
func eliminate(ms []Member) {
	done := make([]bool, len(ms))
	for changed := true; changed; {
		changed = false
		for i := range ms {
			if done[i] || len(ms[i].Candidates) != 1 {
				continue
			}
			k := ms[i].Candidates[0]
			clash := false
			for j := range ms {
				if j != i && len(ms[j].Candidates) == 1 && ms[j].Candidates[0] == k {
					clash = true
				}
			}
			if clash {
				continue
			}
			ms[i].Disk = k
			done[i], changed = true, true
			for j := range ms {
				if j == i || len(ms[j].Candidates) < 2 {
					continue
				}
				if x := slices.Index(ms[j].Candidates, k); x >= 0 {
					ms[j].Candidates = slices.Delete(slices.Clone(ms[j].Candidates), x, x+1)
					ms[j].Basis = joinBasis(ms[j].Basis, fmt.Sprintf("entry %d belongs to image %d", k, i))
				}
			}
		}
	}
	for i := range ms {
		if ms[i].Disk < 0 && len(ms[i].Candidates) == 1 {
			ms[i].Basis = joinBasis(ms[i].Basis, fmt.Sprintf("another image fits only entry %d too", ms[i].Candidates[0]))
		}
	}
}

// assume gives each undecided image the lowest candidate not yet taken, in
// input order.
func assume(ms []Member) {
	taken := map[int]bool{}
	for _, m := range ms {
		if m.Disk >= 0 {
			taken[m.Disk] = true
		}
	}
	for i := range ms {
		if ms[i].Disk >= 0 {
			continue
		}
		for _, k := range ms[i].Candidates {
			if !taken[k] {
				taken[k] = true
				ms[i].Disk = k
				ms[i].Assumed = true
				ms[i].Basis = joinBasis(ms[i].Basis, fmt.Sprintf("the MPBs do not say which of entries %v it is: entry %d assumed by input order", ms[i].Candidates, k))
				break
			}
		}
	}
}

func joinBasis(a, b string) string {
	if a == "" {
		return b
	}
	return a + "; " + b
}

// Reserved returns the number of sectors at the end of disk entry disk that
// mdadm counts as metadata reserve when it prints "Usable Size"
// (imsm_reserved_sectors via get_extents): 2210+8192 sectors, or less when
// the disk's last volume leaves less room, but never less than the MPB; a
// failed entry or one outside the table gets the full reserve. Usable size
// is TotalBlocks minus this.
func (m *MPB) Reserved(disk int) uint64 {
	reservation := uint64(ReservedSectors)
	if disk < 0 || disk >= len(m.Disks) || m.Disks[disk].Failed() {
		return reservation
	}
	var lastStart, lastSize uint64
	member := false
	for i := range m.Volumes {
		v := &m.Volumes[i]
		if v.Slot(disk) < 0 {
			continue
		}
		mp := v.Maps[0]
		size := mp.NumDataStripes * uint64(mp.BlocksPerStrip)
		if l := mp.Level(); l == 1 || l == 10 {
			size *= 2
		}
		if !member || mp.PBAOfLBA0 >= lastStart {
			lastStart, lastSize = mp.PBAOfLBA0, size
		}
		member = true
	}
	if member {
		// mdadm's unsigned arithmetic, wrapping included.
		remainder := (m.Disks[disk].TotalBlocks - (lastStart + lastSize)) &^ 1
		if minimum := uint64(m.Sectors()); remainder < minimum {
			remainder = minimum
		}
		if reservation > remainder {
			reservation = remainder
		}
	}
	return reservation
}
