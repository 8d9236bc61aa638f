package set

import (
	"fmt"
	"strings"

	"github.com/mirrorchk/mirrorchk/image"
	"github.com/mirrorchk/mirrorchk/set/imsm"
)

// imsmPatches rewrites every member's MPB to the one a rebuild of the
// stale member into its old slot ends in (imsm.Synced), and zeroes the
// migration record in the last sector as mdadm's write_super_imsm does.
func (s *Set) imsmPatches(auth *Member) (map[int][]Patch, error) {
	// The MPB is shared by every volume of the container: rewriting it for
	// one volume's repair would declare the others in sync too.
	if n := len(auth.IMSM.Volumes); n != 1 {
		return nil, fmt.Errorf("%w: the container holds %d volumes and one MPB describes them all; mirrorchk rewrites it only for a single-volume container, so only the data is repaired", ErrNoMetadataRepair, n)
	}
	own := auth.IMSM
	stale := 0
	for _, m := range s.Members {
		if !m.Trusted || m.State == StateUnknown {
			return nil, fmt.Errorf("%w: %s: MPB not trusted or its place unknown, so the MPBs are left as they are and only the data is repaired", ErrNoMetadataRepair, m.Path())
		}
		if m != auth && (m.State == StateStale || m.IMSM.Generation < auth.IMSM.Generation) {
			own = m.IMSM
			stale++
		}
	}
	if stale > 1 {
		return nil, fmt.Errorf("%w: %d stale members, and the MPB rewrite restores one failed entry; only the data is repaired", ErrNoMetadataRepair, stale)
	}
	raw, err := imsm.Synced(own, auth.IMSM)
	if err != nil {
		return nil, fmt.Errorf("%w: %v; only the data is repaired", ErrNoMetadataRepair, err)
	}
	out := map[int][]Patch{}
	for _, m := range s.Members {
		nm, err := imsm.Decode(raw, m.IMSM.Offset)
		if err != nil {
			return nil, fmt.Errorf("%s: rewritten MPB does not decode: %w", m.Path(), err)
		}
		changes := imsmChanges(m.IMSM, nm)
		ps, err := imsmPlace(m.Image, m.IMSM.Offset, raw)
		if err != nil {
			return nil, err
		}
		ps[0].Changes = changes
		if assumedBinding(m) {
			ps[0].Changes = append(ps[0].Changes, "note: which disk-table entry this image is was assumed (no --serial); with every entry active after the rewrite a later scan may show the members' roles the other way round, which for a mirror changes nothing: both slots hold the same data")
		}
		mig := Patch{Off: m.Image.Size() - 512, Data: make([]byte, 512)}
		cur := make([]byte, 512)
		if err := image.ReadFull(m.Image, cur, mig.Off); err != nil {
			return nil, err
		}
		if !allZero(cur) {
			mig.Changes = []string{"migration record (last sector) zeroed, as mdadm's write_super_imsm does"}
		}
		out[m.Input] = append(ps, mig)
	}
	return out, nil
}

// imsmPlace lays raw out as the MPB sits on disk: its first sector at the
// anchor, the rest in the sectors just before it. Bytes of those sectors
// past mpb_size keep what the member holds.
func imsmPlace(im *image.Image, anchor int64, raw []byte) ([]Patch, error) {
	n := (int64(len(raw)) + 511) / 512
	if anchor-(n-1)*512 < 0 {
		return nil, fmt.Errorf("%s: an MPB of %d sectors does not fit before the anchor at byte %#x", im.Path(), n, anchor)
	}
	buf := make([]byte, n*512)
	// On disk: extended sectors [anchor-(n-1)*512, anchor), then the anchor.
	ext := anchor - (n-1)*512
	if err := image.ReadFull(im, buf[:(n-1)*512], ext); err != nil {
		return nil, err
	}
	if err := image.ReadFull(im, buf[(n-1)*512:], anchor); err != nil {
		return nil, err
	}
	anchorSec := buf[(n-1)*512:]
	copy(anchorSec, raw[:min(512, len(raw))])
	if len(raw) > 512 {
		copy(buf[:(n-1)*512], raw[512:])
	}
	ps := []Patch{{Off: anchor, Data: anchorSec}}
	if n > 1 {
		ps = append(ps, Patch{Off: ext, Data: buf[:(n-1)*512]})
	}
	return ps, nil
}

// imsmChanges lists what a rewrite changes in an MPB, field by field.
func imsmChanges(a, b *imsm.MPB) []string {
	var c []string
	add := func(field string, x, y any) {
		if fmt.Sprint(x) != fmt.Sprint(y) {
			c = append(c, fmt.Sprintf("%s %v -> %v", field, x, y))
		}
	}
	add("generation_num", a.Generation, b.Generation)
	for i := range a.Disks {
		if i < len(b.Disks) {
			add(fmt.Sprintf("disk %d serial", i), fmt.Sprintf("%q", a.Disks[i].Serial), fmt.Sprintf("%q", b.Disks[i].Serial))
			add(fmt.Sprintf("disk %d state", i), a.Disks[i].StateString(), b.Disks[i].StateString())
		}
	}
	for v := range a.Volumes {
		if v >= len(b.Volumes) {
			break
		}
		va, vb := a.Volumes[v], b.Volumes[v]
		add(fmt.Sprintf("volume %q map state", va.Name), va.Maps[0].StateString(), vb.Maps[0].StateString())
		add(fmt.Sprintf("volume %q failed disk", va.Name), va.Maps[0].Failed(), vb.Maps[0].Failed())
		add(fmt.Sprintf("volume %q dirty", va.Name), va.Dirty, vb.Dirty)
		for i := range va.Maps[0].DiskOrd {
			if i < len(vb.Maps[0].DiskOrd) {
				add(fmt.Sprintf("volume %q slot %d out of sync", va.Name, i), va.Maps[0].Rebuilding(i), vb.Maps[0].Rebuilding(i))
			}
		}
	}
	add("check_sum", fmt.Sprintf("%#08x", a.Checksum), fmt.Sprintf("%#08x", b.Checksum))
	return c
}

func allZero(b []byte) bool {
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}

// assumedBinding reports whether m's disk-table entry was assumed rather
// than shown by the MPBs or --serial (imsmset.go says so in the evidence).
func assumedBinding(m *Member) bool {
	for _, e := range m.Evidence {
		if strings.Contains(e, "(assumed:") {
			return true
		}
	}
	return false
}
