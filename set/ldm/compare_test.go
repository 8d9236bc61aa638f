package ldm

import "testing"

// vol3c2 is the slot of Volume3's second plex, component Volume3-02.
const vol3c2 = 18

// compState is the byte offset of the 6-byte state text of a component
// record in slot n whose id is one byte and whose name is 10 bytes
// ("Volume3-01"): record data, id (length byte + 1), name (1 + 10), state
// length byte.
func compState(vm int64, n int) int64 { return slot(vm, n) + recData + 2 + 11 + 1 }

// TestCompare: the two mirrored disks' databases say the same (they are
// byte-identical apart from each disk's PRIVHEADs); changing one field of
// one copy is reported as that record and field, with both values, in
// either argument order.
func TestCompare(t *testing.T) {
	a, _ := readImage(t, loadImage(t, mirroredMBR))
	b, _ := readImage(t, loadImage(t, mirroredGPT))
	if d := Compare(a, b); d != nil {
		t.Fatalf("unchanged copies: %v", d)
	}
	for _, name := range imageNames {
		o, _ := readImage(t, loadImage(t, name))
		if d := Compare(a, o); d != nil {
			t.Errorf("%s: %v", name, d)
		}
	}
	tests := []struct {
		name string
		mess func(b []byte)
		want string // Difference.String with the MBR disk's copy first
	}{
		{"plex state", func(b []byte) {
			off := compState(gptVMDB, vol3c2)
			if string(b[off:off+6]) != "ACTIVE" {
				t.Fatalf("no ACTIVE at %#x: %q", off, b[off:off+6])
			}
			copy(b[off:], "STALE!")
		}, `component Volume3-02 (id 19): component.state "ACTIVE" / "STALE!"`},
		{"partition start", func(b []byte) { b[slot(gptVMDB, d6p1)+recData+30]++ },
			`partition Disk6-01 (id 20): partition.start 0x5e / 0x5f`},
		{"record flags", func(b []byte) { b[slot(gptVMDB, vol3)+0x12] ^= 0x40 },
			`volume Volume3 (id 16): VBLK.flags 0x2 / 0x42`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, _ := readImage(t, messWith(t, mirroredGPT, tt.mess))
			d := Compare(a, b)
			if d == nil || d.String() != tt.want {
				t.Fatalf("Compare = %v, want %s", d, tt.want)
			}
			r := Compare(b, a)
			if r == nil || r.Kind != d.Kind || r.ID != d.ID || r.Field != d.Field || r.A != d.B || r.B != d.A {
				t.Errorf("reversed: %+v, want %+v with the values swapped", r, d)
			}
		})
	}
	// A copy without the disk records of another copy: the first record
	// present in one only is named.
	c := *a
	c.Disks = c.Disks[:len(c.Disks)-1]
	last := a.Disks[len(a.Disks)-1]
	if d := Compare(a, &c); d == nil || d.Kind != "disk" || d.A != "present" || d.B != "absent" {
		t.Errorf("missing disk record %s: %+v", last.Name, d)
	}
}
