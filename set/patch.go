package set

import (
	"errors"
	"fmt"

	"github.com/mirrorchk/mirrorchk/set/md"
)

// Patch is a metadata rewrite for a repaired image: Data replaces the bytes
// at Off of the member's image in the repaired copy.
type Patch struct {
	Off     int64
	Data    []byte
	Changes []string // field by field, "events 15 -> 20"
}

// ErrNoMetadataRepair means the set's format gives no way to rewrite its
// metadata that can be shown to be right; repair then copies data only.
var ErrNoMetadataRepair = errors.New("metadata not rewritten")

// SyncPatches returns, for each member, the metadata rewrites that make its
// repaired image an in-sync member of a clean set whose current copy is
// auth. The map is keyed by Member.Input.
func (s *Set) SyncPatches(auth *Member) (map[int][]Patch, error) {
	if s.Adhoc() {
		return nil, fmt.Errorf("%w: the images have no set metadata; the data is repaired", ErrNoMetadataRepair)
	}
	switch s.Format {
	case "imsm":
		return s.imsmPatches(auth)
	case "ddf":
		return s.ddfPatches(auth)
	case "ftdisk":
		return nil, fmt.Errorf("%w: the NT FT configuration lives in the SYSTEM hive's \\DISK\\Information, which is not one of the images and is never written (Disk Administrator/ftdisk clears the orphan state when recovery is run); the MBR partition types are left as they are (mirrorchk cannot show which type NT writes for a member of a healthy set, e.g. 0xC7 -> 0x87); the data is repaired", ErrNoMetadataRepair)
	case "ldm":
		return nil, fmt.Errorf("%w: the LDM database is left as is (mirrorchk cannot show that a rewrite is exactly what Windows writes for a healthy mirror); the data is repaired", ErrNoMetadataRepair)
	}
	if auth.MD == nil {
		return nil, fmt.Errorf("%s has no md superblock to copy the array state from", auth.Path())
	}
	// Spares hold no slot and get no output; every other member must have
	// a superblock that can be trusted to rewrite.
	var sbs []*md.Superblock
	var ms []*Member
	for _, m := range s.Members {
		if m.State == StateSpare {
			continue
		}
		if !m.Trusted {
			return nil, fmt.Errorf("%s: superblock not trusted (bad checksum), so it cannot be rewritten", m.Path())
		}
		sbs = append(sbs, m.MD)
		ms = append(ms, m)
	}
	out := map[int][]Patch{}
	for _, m := range ms {
		raw, err := md.Synced(m.MD, auth.MD, sbs)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", m.Path(), err)
		}
		nsb, err := md.Decode(raw, m.MD.Version, m.MD.Offset, m.Image.Size())
		if err != nil {
			return nil, fmt.Errorf("%s: rewritten superblock does not decode: %w", m.Path(), err)
		}
		out[m.Input] = append(out[m.Input], Patch{Off: m.MD.Offset, Data: raw, Changes: mdChanges(m.MD, nsb)})
		if m.Bitmap != nil {
			b := m.Bitmap
			out[m.Input] = append(out[m.Input], Patch{Off: b.Offset, Data: b.Clean(auth.MD.Events), Changes: []string{
				fmt.Sprintf("bitmap events %d -> %d", b.Events, auth.MD.Events),
				fmt.Sprintf("bitmap events_cleared %d -> %d", b.EventsCleared, auth.MD.Events),
				fmt.Sprintf("bitmap dirty chunks %d -> 0 (the members hold identical data)", b.DirtyCount()),
			}})
		}
	}
	return out, nil
}

// mdChanges lists the superblock fields that differ between a and b.
func mdChanges(a, b *md.Superblock) []string {
	var c []string
	add := func(field string, x, y any) {
		if fmt.Sprint(x) != fmt.Sprint(y) {
			c = append(c, fmt.Sprintf("%s %v -> %v", field, x, y))
		}
	}
	add("events", a.Events, b.Events)
	add("utime", a.UTime.UTC().Format("2006-01-02T15:04:05Z"), b.UTime.UTC().Format("2006-01-02T15:04:05Z"))
	add("clean", a.Clean, b.Clean)
	add("state", fmt.Sprintf("%#x", a.State), fmt.Sprintf("%#x", b.State))
	add("array state", mdArrayState(a), mdArrayState(b))
	add("role", roleName(a.Role), roleName(b.Role))
	add("recovering", a.Recovering, b.Recovering)
	if a.Version == md.V090 {
		add("nr_disks", a.NrDisks, b.NrDisks)
		add("active_disks", a.ActiveDisks, b.ActiveDisks)
		add("working_disks", a.WorkingDisks, b.WorkingDisks)
		add("failed_disks", a.FailedDisks, b.FailedDisks)
		add("spare_disks", a.SpareDisks, b.SpareDisks)
		for i := range a.Disks {
			if i < len(b.Disks) && a.Disks[i] != b.Disks[i] {
				c = append(c, fmt.Sprintf("disks[%d].state %#x -> %#x", i, a.Disks[i].State, b.Disks[i].State))
			}
		}
	} else {
		for i := range a.DevRoles {
			if i < len(b.DevRoles) && a.DevRoles[i] != b.DevRoles[i] {
				c = append(c, fmt.Sprintf("dev_roles[%d] %#04x -> %#04x", i, a.DevRoles[i], b.DevRoles[i]))
			}
		}
	}
	add("sb_csum", fmt.Sprintf("%#08x", a.Checksum), fmt.Sprintf("%#08x", b.Checksum))
	return c
}
