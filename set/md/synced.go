package md

import (
	"bytes"
	"fmt"
	"slices"
)

// Synced returns new raw bytes for sb (same length as sb.Raw, to be written
// at sb.Offset) that describe sb as an in-sync, clean member of the array
// whose authoritative member's superblock is fresh, with every superblock in
// members (the members being made in sync; sb and fresh are added if
// missing) restored to its slot:
//
//   - events and utime are fresh's;
//   - 1.x: resync_offset is all ones, feature bit 2 and recovery_offset are
//     cleared, dev_roles are fresh's (sb's max_dev must equal fresh's) with
//     each member's entry set to its slot;
//   - 0.90: state is CLEAN (BITMAP_PRESENT kept), disks[] are fresh's with
//     each member's entry set to {number, major, minor, slot, ACTIVE|SYNC}
//     (a member's own write-mostly and failfast flags kept), this_disk is
//     sb's entry, active/working/nr_disks count the in-sync entries,
//     failed and spare are 0, recovery_cp is 0xffffffff;
//   - the checksum is recomputed.
//
// A member's slot is its own role if that is a slot, else the slot fresh's
// dev_roles/disks[] record for it, else the slot another member's records
// give it. Synced fails if a member's slot cannot be determined, if two
// members or a member and another device claim the same slot, or if the
// superblocks do not describe the same array (uuid, level, raid_disks,
// size, ctime).
func Synced(sb, fresh *Superblock, members []*Superblock) ([]byte, error) {
	if sb == nil || fresh == nil {
		return nil, fmt.Errorf("md: synced: nil superblock")
	}
	all := slices.Clone(members)
	for _, m := range []*Superblock{sb, fresh} {
		if !slices.Contains(all, m) {
			all = append(all, m)
		}
	}
	seen := map[int]*Superblock{}
	for _, m := range all {
		if m == nil {
			return nil, fmt.Errorf("md: synced: nil member")
		}
		if (m.Version == V090) != (fresh.Version == V090) {
			return nil, fmt.Errorf("md: synced: member at byte %#x is version %s, the fresh member %s", m.Offset, m.Version, fresh.Version)
		}
		if err := sameArray(m, fresh); err != nil {
			return nil, err
		}
		if o, dup := seen[m.DevNumber]; dup && o != m {
			return nil, fmt.Errorf("md: synced: two members are device %d", m.DevNumber)
		}
		seen[m.DevNumber] = m
	}
	if sb.Version == V090 {
		return synced090(sb, fresh, all)
	}
	return synced1(sb, fresh, all)
}

// sameArray checks the fields every member of one array shares.
func sameArray(m, fresh *Superblock) error {
	type field struct {
		name      string
		off1      int64
		off090    int64
		got, want any
	}
	for _, f := range []field{
		{"set_uuid", o1SetUUID, o090UUID0, m.UUIDString(), fresh.UUIDString()},
		{"level", o1Level, o090Level, m.Level, fresh.Level},
		{"raid_disks", o1RaidDisks, o090RaidDisks, m.RaidDisks, fresh.RaidDisks},
		{"size", o1Size, o090Size, m.Size, fresh.Size},
		{"ctime", o1CTime, o090CTime, m.CTime.Unix(), fresh.CTime.Unix()},
	} {
		if f.got != f.want {
			off := f.off1
			if m.Version == V090 {
				off = f.off090
			}
			return &FormatError{Off: m.Offset + off, Field: f.name, Value: f.got, Msg: fmt.Sprintf("differs from the fresh member's %v", f.want)}
		}
	}
	if m.SetUUID != fresh.SetUUID {
		return &FormatError{Off: m.Offset + o1SetUUID, Field: "set_uuid", Value: uuidBytes(m.SetUUID), Msg: "differs from the fresh member's " + uuidBytes(fresh.SetUUID)}
	}
	return nil
}

// slotOf returns the data slot of member m.
func slotOf(m, fresh *Superblock, all []*Superblock) (uint16, error) {
	ok := func(r uint16) bool { return r < roleMax && int(r) < fresh.RaidDisks }
	if ok(m.Role) {
		return m.Role, nil
	}
	// The member's own copy may be stale or say faulty; the freshest view
	// wins, then any other member's.
	for _, v := range append([]*Superblock{fresh}, all...) {
		if m.DevNumber < len(v.DevRoles) && ok(v.DevRoles[m.DevNumber]) {
			return v.DevRoles[m.DevNumber], nil
		}
	}
	return 0, fmt.Errorf("md: synced: no slot is recorded for device %d (superblock at byte %#x)", m.DevNumber, m.Offset)
}

// memberSlots returns each member's slot by device number and checks that no
// two members share one.
func memberSlots(fresh *Superblock, all []*Superblock) (map[int]uint16, error) {
	slots := map[int]uint16{}
	owner := map[uint16]int{}
	for _, m := range all {
		s, err := slotOf(m, fresh, all)
		if err != nil {
			return nil, err
		}
		if d, dup := owner[s]; dup && d != m.DevNumber {
			return nil, fmt.Errorf("md: synced: devices %d and %d both claim slot %d", d, m.DevNumber, s)
		}
		owner[s] = m.DevNumber
		slots[m.DevNumber] = s
	}
	return slots, nil
}

func synced1(sb, fresh *Superblock, all []*Superblock) ([]byte, error) {
	if len(fresh.DevRoles) != len(sb.DevRoles) {
		return nil, &FormatError{Off: sb.Offset + o1MaxDev, Field: "max_dev", Value: len(sb.DevRoles), Msg: fmt.Sprintf("differs from the fresh member's %d", len(fresh.DevRoles))}
	}
	if len(sb.Raw) != sb1Header+2*len(sb.DevRoles) || len(fresh.Raw) < sb1Header {
		return nil, fmt.Errorf("md: synced: raw superblock bytes do not match max_dev")
	}
	slots, err := memberSlots(fresh, all)
	if err != nil {
		return nil, err
	}
	roles := slices.Clone(fresh.DevRoles)
	for d, s := range slots {
		if d >= len(roles) {
			return nil, &FormatError{Off: sb.Offset + o1MaxDev, Field: "max_dev", Value: len(roles), Msg: fmt.Sprintf("has no entry for member device %d", d)}
		}
		roles[d] = s
	}
	for d, r := range roles {
		if _, member := slots[d]; member || r >= roleMax {
			continue
		}
		for md, s := range slots {
			if r == s {
				return nil, fmt.Errorf("md: synced: slot %d of device %d is also held by device %d in the fresh member's dev_roles", s, md, d)
			}
		}
	}

	raw := bytes.Clone(sb.Raw)
	le.PutUint64(raw[o1Events:], fresh.Events)
	copy(raw[o1UTime:o1UTime+8], fresh.Raw[o1UTime:])
	le.PutUint64(raw[o1ResyncOffset:], ^uint64(0))
	le.PutUint32(raw[o1FeatureMap:], le.Uint32(raw[o1FeatureMap:])&^FeatureRecoveryOffset)
	le.PutUint64(raw[o1RecoveryOffset:], 0)
	for i, r := range roles {
		le.PutUint16(raw[o1DevRoles+2*i:], r)
	}
	le.PutUint32(raw[o1Csum:], Checksum1(raw))
	return raw, nil
}

func synced090(sb, fresh *Superblock, all []*Superblock) ([]byte, error) {
	if sb.ByteOrder != fresh.ByteOrder {
		return nil, fmt.Errorf("md: synced: superblock at byte %#x and the fresh member's differ in byte order", sb.Offset)
	}
	if len(sb.Raw) != sb090Bytes || len(fresh.Raw) != sb090Bytes {
		return nil, fmt.Errorf("md: synced: raw 0.90 superblock is not %d bytes", sb090Bytes)
	}
	slots, err := memberSlots(fresh, all)
	if err != nil {
		return nil, err
	}
	o := sb.ByteOrder
	raw := bytes.Clone(sb.Raw)
	copy(raw[o090Disks:o090Disks+sb090Disks*o090DiskSize], fresh.Raw[o090Disks:])
	for _, m := range all {
		d := m.ThisDisk
		if d.Number >= sb090Disks || int(d.Number) != m.DevNumber {
			return nil, fmt.Errorf("md: synced: member at byte %#x has this_disk.number %d", m.Offset, d.Number)
		}
		e := raw[o090Disks+int(d.Number)*o090DiskSize:]
		o.PutUint32(e[0:], d.Number)
		o.PutUint32(e[4:], d.Major)
		o.PutUint32(e[8:], d.Minor)
		o.PutUint32(e[12:], uint32(slots[m.DevNumber]))
		o.PutUint32(e[16:], DiskActive|DiskSync|d.State&(DiskWriteMostly|DiskFailFast))
	}
	inSync := 0
	for i := range sb090Disks {
		d := disk090(raw, o090Disks+i*o090DiskSize, o)
		if d.State&(DiskActive|DiskSync|DiskFaulty|DiskRemoved) != DiskActive|DiskSync {
			continue
		}
		inSync++
		if _, member := slots[i]; member {
			continue
		}
		for md, s := range slots {
			if d.RaidDisk == uint32(s) {
				return nil, fmt.Errorf("md: synced: slot %d of device %d is also held by device %d in the fresh member's disks", s, md, i)
			}
		}
	}
	this := o090Disks + int(sb.ThisDisk.Number)*o090DiskSize
	copy(raw[o090ThisDisk:o090ThisDisk+o090DiskSize], raw[this:this+o090DiskSize])

	o.PutUint32(raw[o090State:], o.Uint32(raw[o090State:])&StateBitmapPresent|StateClean)
	for _, f := range []int{o090NrDisks, o090Active, o090Working} {
		o.PutUint32(raw[f:], uint32(inSync))
	}
	o.PutUint32(raw[o090Failed:], 0)
	o.PutUint32(raw[o090Spare:], 0)
	putEvents090(raw, o090Events, o, fresh.Events)
	copy(raw[o090UTime:o090UTime+4], fresh.Raw[o090UTime:])
	o.PutUint32(raw[o090RecoveryCP:], 0xffffffff)
	o.PutUint32(raw[o090Csum:], Checksum090(raw, o))
	return raw, nil
}
