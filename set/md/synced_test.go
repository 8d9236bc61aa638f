package md

import (
	"bytes"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/mirrorchk/mirrorchk/internal/fixture"
)

// TestSynced rewrites both members of each stale-member fixture as in-sync
// members of the array the fresh member (m0) describes, cleans their
// bitmaps, and asks mdadm --examine what it now sees on each copy.
func TestSynced(t *testing.T) {
	for _, fx := range fixtureDirs {
		if strings.Contains(fx.dir, "a-clean") {
			continue
		}
		t.Run(strings.TrimPrefix(fx.dir, "md/"), func(t *testing.T) {
			t.Parallel()
			imgs := [][]byte{fixture.Image(t, fx.dir, "m0"), fixture.Image(t, fx.dir, "m1")}
			m0, m1 := scanOne(t, imgs[0], fx.v), scanOne(t, imgs[1], fx.v)
			if m0.Events <= m1.Events {
				t.Fatalf("fixture: m0 events %d not above m1's %d", m0.Events, m1.Events)
			}
			fresh, members := m0, []*Superblock{m0, m1}
			var synced []*Superblock
			for i, sb := range members {
				size := int64(len(imgs[i]))
				raw, err := Synced(sb, fresh, members)
				if err != nil {
					t.Fatalf("Synced(m%d): %v", i, err)
				}
				if len(raw) != len(sb.Raw) {
					t.Fatalf("Synced(m%d) returned %d bytes; want %d", i, len(raw), len(sb.Raw))
				}
				img := bytes.Clone(imgs[i])
				copy(img[sb.Offset:], raw)
				var oldBitmap *Bitmap
				if sb.HasBitmap {
					b, err := ReadBitmap(bytes.NewReader(imgs[i]), size, sb)
					if err != nil {
						t.Fatal(err)
					}
					clean := b.Clean(fresh.Events)
					if len(clean) != len(b.Raw) {
						t.Fatalf("Clean returned %d bytes; want %d", len(clean), len(b.Raw))
					}
					copy(img[b.Offset:], clean)
					oldBitmap = b
				}

				nsb := scanOne(t, img, fx.v)
				dec, err := Decode(raw, fx.v, sb.Offset, size)
				if err != nil || !reflect.DeepEqual(dec, nsb) {
					t.Fatalf("Decode(Synced) = %+v, %v; want what Scan reads back, %+v", dec, err, nsb)
				}
				if !nsb.ChecksumOK() || !nsb.Clean || nsb.Recovering || nsb.Events != fresh.Events || !nsb.UTime.Equal(fresh.UTime) {
					t.Errorf("m%d after Synced: ChecksumOK %v Clean %v Recovering %v Events %d UTime %v; want true true false %d %v",
						i, nsb.ChecksumOK(), nsb.Clean, nsb.Recovering, nsb.Events, nsb.UTime, fresh.Events, fresh.UTime)
				}
				if nsb.Role != sb.Role || nsb.DevNumber != sb.DevNumber || nsb.DeviceUUID != sb.DeviceUUID || nsb.DataOffset != sb.DataOffset || nsb.DataSize != sb.DataSize {
					t.Errorf("m%d after Synced: role/device fields changed", i)
				}
				for j, m := range members {
					if nsb.DevRoles[m.DevNumber] != uint16(j) {
						t.Errorf("m%d after Synced: DevRoles[%d] = %#x; want slot %d", i, m.DevNumber, nsb.DevRoles[m.DevNumber], j)
					}
				}

				rep := runMdadm(t, "--examine", writeTemp(t, fmt.Sprintf("m%d.img", i), img))
				check(t, "Events", fresh.Events, rep.get(t, "Events"))
				check(t, "State", "clean", rep.get(t, "State"))
				check(t, "Checksum", fmt.Sprintf("%x - correct", nsb.Checksum), rep.get(t, "Checksum"))
				if fx.v == V090 {
					compare090(t, nsb, rep)
					for _, row := range rep.rows {
						if got := strings.Join(row[5:7], " "); got != "active sync" {
							t.Errorf("m%d: mdadm disk row %q; want active sync", i, strings.Join(row, " "))
						}
					}
					check(t, "Active Devices", 2, rep.get(t, "Active Devices"))
					check(t, "Working Devices", 2, rep.get(t, "Working Devices"))
					check(t, "Failed Devices", 0, rep.get(t, "Failed Devices"))
					check(t, "Spare Devices", 0, rep.get(t, "Spare Devices"))
				} else {
					compare1(t, nsb, rep)
					check(t, "Array State", "AA", firstField(rep.get(t, "Array State")))
					check(t, "Device Role", fmt.Sprintf("Active device %d", i), rep.get(t, "Device Role"))
				}

				if oldBitmap != nil {
					b, err := ReadBitmap(bytes.NewReader(img), size, nsb)
					if err != nil {
						t.Fatalf("ReadBitmap after Clean: %v", err)
					}
					if b.DirtyCount() != 0 || b.Events != fresh.Events || b.EventsCleared != fresh.Events || b.State&BitmapStale != 0 {
						t.Errorf("m%d bitmap after Clean: %d dirty, events %d/%d, state %#x", i, b.DirtyCount(), b.Events, b.EventsCleared, b.State)
					}
					// Padding bits past NBits are not the bitmap's to clear.
					last := int64(len(b.Bits)) - 1
					if pad := byte(0xff) << (b.NBits - 8*last); b.Bits[last]&pad != oldBitmap.Bits[last]&pad {
						t.Errorf("m%d: Clean changed padding bits past NBits", i)
					}
					x := runMdadm(t, "--examine-bitmap", writeTemp(t, "bitmap", b.Raw))
					compareBitmap(t, b, x, uuidBytes(b.UUID))
				}
				synced = append(synced, nsb)
			}
			if !slices.Equal(synced[0].DevRoles, synced[1].DevRoles) || synced[0].Events != synced[1].Events {
				t.Errorf("members disagree after Synced: roles %v / %v, events %d / %d", synced[0].DevRoles[:2], synced[1].DevRoles[:2], synced[0].Events, synced[1].Events)
			}
		})
	}
}

// TestSyncedErrors: Synced refuses what it cannot do honestly.
func TestSyncedErrors(t *testing.T) {
	b12, b090 := "md/md-1.2/b-stale-member", "md/md-0.90/b-stale-member"
	m0 := scanOne(t, fixture.Image(t, b12, "m0"), V12)
	m1 := scanOne(t, fixture.Image(t, b12, "m1"), V12)
	other := scanOne(t, fixture.Image(t, c12, "m0"), V12)
	old := scanOne(t, fixture.Image(t, b090, "m0"), V090)
	old1 := scanOne(t, fixture.Image(t, b090, "m1"), V090)

	withRoles := func(sb *Superblock, fn func(r []uint16)) *Superblock {
		c := *sb
		c.DevRoles = slices.Clone(sb.DevRoles)
		fn(c.DevRoles)
		c.Role = c.DevRoles[c.DevNumber]
		return &c
	}
	slot1 := withRoles(m0, func(r []uint16) { r[0] = 1 })          // m0 claims m1's slot
	spare1 := withRoles(m1, func(r []uint16) { r[1] = RoleSpare }) // m1 forgot its own slot
	longer := *m0
	longer.DevRoles = append(slices.Clone(m0.DevRoles), RoleSpare)

	tests := []struct {
		name       string
		sb, fresh  *Superblock
		members    []*Superblock
		field      string // a *FormatError for this field, or "" for a plain error
		off        int64
		errContain string
	}{
		{name: "other array", sb: m1, fresh: other, members: []*Superblock{other, m1}, field: "set_uuid", off: m1.Offset + 16},
		{name: "0.90 with 1.2", sb: old, fresh: m0, members: []*Superblock{m0, old}, errContain: "version"},
		{name: "max_dev differs", sb: m1, fresh: &longer, members: []*Superblock{&longer, m1}, field: "max_dev", off: m1.Offset + 220},
		{name: "no slot for member", sb: spare1, fresh: m0, members: []*Superblock{m0, spare1}, errContain: "no slot"},
		{name: "slot held by another device", sb: m1, fresh: withRoles(m0, func(r []uint16) { r[2] = 1 }), members: []*Superblock{m1}, errContain: "also held by device 2"},
		{name: "two members one slot", sb: m1, fresh: slot1, members: []*Superblock{slot1, m1}, errContain: "both claim slot 1"},
		{name: "0.90 slot held by another disk", sb: old1, fresh: func() *Superblock {
			c := *old
			c.Raw = bytes.Clone(old.Raw)
			// disks[2] = {2, 8, 32, raid_disk 1, active sync}
			for i, v := range []uint32{2, 8, 32, 1, DiskActive | DiskSync} {
				old.ByteOrder.PutUint32(c.Raw[512+2*128+4*i:], v)
			}
			return &c
		}(), members: []*Superblock{old1}, errContain: "also held by device 2"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			raw, err := Synced(tt.sb, tt.fresh, tt.members)
			if err == nil {
				t.Fatalf("Synced succeeded (%d bytes); want an error", len(raw))
			}
			if tt.field != "" {
				wantFormatError(t, err, tt.field, tt.off)
				return
			}
			var fe *FormatError
			if errors.As(err, &fe) || !strings.Contains(err.Error(), tt.errContain) {
				t.Fatalf("Synced error = %v; want a plain error containing %q", err, tt.errContain)
			}
		})
	}
}
