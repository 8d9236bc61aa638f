package imsm

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math"
)

// Synced returns the MPB that both members of a repaired mirror should
// hold: fresh's MPB as mdadm would write it after the stale member own had
// been rebuilt into its old slot. own is the stale member's MPB, fresh the
// authoritative one (see Authority); Synced(fresh, fresh) normalises a
// healthy MPB.
//
// What it changes, and the mdadm code each change follows:
//
//   - The entry fresh marks failed gets its serial and scsi_id back from
//     own's disk table (undoing mark_failure's ":0" rename and
//     mark_missing's shift and scsi_id ~0) and the status CONFIGURED_DISK
//     without FAILED_DISK, as a member's entry has when mdadm writes it
//     (add_to_super_imsm_volume).
//   - In every RAID-1 volume's map: IMSM_ORD_REBUILD cleared in
//     disk_ord_tbl, map_state NORMAL, failed_disk_num 0xff (imsm_set_disk
//     and end_migration at the end of a rebuild), and the volume clean
//     (dirty 0, as imsm_set_array_state writes it once the array is
//     consistent; after the repair both members hold the same data).
//   - generation_num is fresh's plus one and check_sum is recomputed, as
//     write_super_imsm does on every write. Not fresh's generation: a
//     different MPB with the same generation as a copy still on the fresh
//     member would leave mdadm's imsm_thunderdome to pick whichever it
//     loads first.
//
// write_super_imsm writes the same buffer to every member not marked
// failed, so the returned bytes belong on every member of the repaired
// set, the fresh one included (a clean set's images carry identical MPBs);
// they go at the anchor (Offset) and, past the first 512 bytes, in the
// sectors before it. write_super_imsm also zeroes the last sector (the
// migration record) when no volume is in a general migration, which
// Synced requires.
//
// What is not mdadm's: mdadm re-adding the stale drive would first take it
// as a new spare (its serial no longer matches the renamed entry), give it
// a new index, drop the failed entry (imsm_delete) and write several
// generations while rebuilding, so its final disk table can be ordered
// differently and its generation higher. Synced keeps fresh's table order,
// the state a rebuild into the old slot ends in. It refuses what it cannot
// state exactly: a volume that is migrating (rebuild or reshape in
// progress), a non-mirror volume that is not normal, more than one failed
// entry, a failed entry that own's table cannot restore, MPBs of different
// containers, or an own MPB newer than fresh.
func Synced(own, fresh *MPB) ([]byte, error) {
	if own == nil || fresh == nil {
		return nil, fmt.Errorf("imsm: synced: missing MPB")
	}
	// Work from Raw alone, so that the offsets used below are the ones
	// Decode checked.
	var err error
	if fresh, err = Decode(fresh.Raw, fresh.Offset); err != nil {
		return nil, fmt.Errorf("imsm: synced: fresh MPB: %w", err)
	}
	if own, err = Decode(own.Raw, own.Offset); err != nil {
		return nil, fmt.Errorf("imsm: synced: stale MPB: %w", err)
	}
	switch {
	case !fresh.ChecksumOK():
		return nil, fmt.Errorf("imsm: synced: the fresh MPB's checksum is bad")
	case !own.ChecksumOK():
		return nil, fmt.Errorf("imsm: synced: the stale MPB's checksum is bad")
	case own.FamilyID() != fresh.FamilyID():
		return nil, fmt.Errorf("imsm: synced: the MPBs belong to different containers (family %08x, %08x)", own.FamilyID(), fresh.FamilyID())
	case own.Generation > fresh.Generation:
		return nil, fmt.Errorf("imsm: synced: the stale MPB (generation %#x) is newer than the fresh one (%#x)", own.Generation, fresh.Generation)
	case fresh.Generation == math.MaxUint32:
		return nil, fmt.Errorf("imsm: synced: generation %#x cannot be incremented", fresh.Generation)
	}
	for i := range fresh.Volumes {
		v := &fresh.Volumes[i]
		if v.Migrating() {
			return nil, fmt.Errorf("imsm: synced: volume %d (%q) is in a migration (type %d)", i, v.Name, v.MigrationType())
		}
		if !v.Mirror() && !normal(v) {
			return nil, fmt.Errorf("imsm: synced: volume %d (%q) is RAID-%d and %s: only mirrors are repaired",
				i, v.Name, v.Maps[0].Level(), v.Maps[0].StateString())
		}
	}

	out := bytes.Clone(fresh.Raw)
	failed := -1
	for k, d := range fresh.Disks {
		if !d.Failed() {
			continue
		}
		if failed >= 0 {
			return nil, fmt.Errorf("imsm: synced: disks %d and %d are both marked failed", failed, k)
		}
		failed = k
	}
	if failed >= 0 {
		d := fresh.Disks[failed]
		j := restoreSource(d.Serial, own, failed)
		if j < 0 {
			return nil, fmt.Errorf("imsm: synced: disk %d (%q) is marked failed and the stale MPB has no disk whose serial it was renamed from", failed, d.Serial)
		}
		src := own.Disks[j]
		copy(out[d.Off:d.Off+serialLen], own.Raw[src.Off:src.Off+serialLen])
		binary.LittleEndian.PutUint32(out[d.Off+diskSCSIID:], src.SCSIID)
		binary.LittleEndian.PutUint32(out[d.Off+diskStatus:], d.Status&^DiskFailed|DiskConfigured)
	}
	for i := range fresh.Volumes {
		v := &fresh.Volumes[i]
		if !v.Mirror() {
			continue
		}
		mp := v.Maps[0]
		for s := range mp.DiskOrd {
			k := mp.DiskIndex(s)
			if fresh.Disks[k].Failed() && k != failed {
				return nil, fmt.Errorf("imsm: synced: volume %d slot %d is failed disk %d", i, s, k)
			}
			binary.LittleEndian.PutUint32(out[mp.Off+mapOrd+4*s:], uint32(k))
		}
		out[mp.Off+mapState] = MapNormal
		out[mp.Off+mapFailedDiskNum] = failedDiskNone
		out[v.Off+devVol+volDirty] = 0
	}
	binary.LittleEndian.PutUint32(out[offGeneration:], fresh.Generation+1)
	binary.LittleEndian.PutUint32(out[offCheckSum:], Checksum(out))

	m, err := Decode(out, fresh.Offset)
	if err != nil {
		return nil, fmt.Errorf("imsm: synced: the result does not decode: %w", err)
	}
	if !m.ChecksumOK() {
		return nil, fmt.Errorf("imsm: synced: the result's checksum is bad")
	}
	return out, nil
}

// normal reports whether a volume's current map is normal with every member
// in sync.
func normal(v *Volume) bool {
	mp := v.Maps[0]
	if mp.MapState != MapNormal {
		return false
	}
	for s := range mp.DiskOrd {
		if mp.Rebuilding(s) {
			return false
		}
	}
	return true
}

// restoreSource finds the entry of own whose serial mdadm renamed to
// serial when it failed the drive, preferring index k.
func restoreSource(serial string, own *MPB, k int) int {
	match := func(d Disk) bool {
		return d.Serial != "" && !d.Failed() && (FailedSerial(d.Serial) == serial || MissingSerial(d.Serial) == serial)
	}
	if k < len(own.Disks) && match(own.Disks[k]) {
		return k
	}
	for j, d := range own.Disks {
		if match(d) {
			return j
		}
	}
	return -1
}
