package imsm

import (
	"bytes"
	"reflect"
	"testing"

	"github.com/mirrorchk/mirrorchk/internal/fixture"
)

func TestFailedSerial(t *testing.T) {
	for _, tt := range []struct{ in, failed, missing string }{
		{"/dev/vdb", "/dev/vdb:0", "dev/vdb:0"},
		{"WD-WCAV12345678", "-WCAV12345678:0", "WCAV12345678:0"},  // 15 characters: 17 with ":0", keep the last 15
		{"S1234567890ABCDE", "34567890ABCDE:0", "4567890ABCDE:0"}, // 16 characters
		{"", ":0", "0"},
	} {
		if got := FailedSerial(tt.in); got != tt.failed {
			t.Errorf("FailedSerial(%q) = %q; want %q", tt.in, got, tt.failed)
		}
		if got := MissingSerial(tt.in); got != tt.missing {
			t.Errorf("MissingSerial(%q) = %q; want %q", tt.in, got, tt.missing)
		}
	}
}

// TestSlot: serials as the guest's mdadm saw them (device names) find their
// entries, and the stale drive's old serial finds the renamed failed entry
// in the fresh MPB.
func TestSlot(t *testing.T) {
	fresh := readMPB(t, fixture.Image(t, bStale, "m0"))
	for _, tt := range []struct {
		serial     string
		disk, slot int
		ok         bool
	}{
		{"/dev/vda", 1, 1, true},
		{"/dev/vdb", 0, 0, true}, // renamed /dev/vdb:0 when it failed
		{"/dev/vdb:0", 0, 0, true},
		{"/dev/vdc", -1, -1, false},
		{"", -1, -1, false},
	} {
		d, s, ok := fresh.Slot(tt.serial)
		if d != tt.disk || s != tt.slot || ok != tt.ok {
			t.Errorf("Slot(%q) = %d, %d, %v; want %d, %d, %v", tt.serial, d, s, ok, tt.disk, tt.slot, tt.ok)
		}
	}
}

// TestBind binds the fixture images to disk entries without serials, and
// with the serials the guest used (MDFX lines: m0 /dev/vda, m1 /dev/vdb).
func TestBind(t *testing.T) {
	size := []int64{16 << 20, 16 << 20}
	load := func(dir string) []*MPB {
		return []*MPB{readMPB(t, fixture.Image(t, dir, "m0")), readMPB(t, fixture.Image(t, dir, "m1"))}
	}

	// Stale member: decided by the MPBs alone.
	b := load(bStale)
	a, ms, err := Bind(b, size, nil)
	if err != nil || a != 0 {
		t.Fatalf("Bind(b) = %d, %v", a, err)
	}
	if ms[0].Disk != 1 || ms[1].Disk != 0 || ms[0].Assumed || ms[1].Assumed {
		t.Errorf("Bind(b) = %+v; want m0 disk 1, m1 disk 0, proven", ms)
	}
	// Order of the inputs does not matter.
	a, ms, err = Bind([]*MPB{b[1], b[0]}, size, nil)
	if err != nil || a != 1 || ms[0].Disk != 0 || ms[1].Disk != 1 || ms[0].Assumed || ms[1].Assumed {
		t.Errorf("Bind(m1, m0) = %d, %+v, %v", a, ms, err)
	}

	// Clean: the MPBs are identical; nothing tells the members apart.
	c := load(aClean)
	a, ms, err = Bind(c, size, nil)
	if err != nil || a != 0 {
		t.Fatalf("Bind(a) = %d, %v", a, err)
	}
	for i, m := range ms {
		if !m.Assumed || !reflect.DeepEqual(m.Candidates, []int{0, 1}) || m.Disk != i {
			t.Errorf("Bind(a)[%d] = %+v; want assumed disk %d of candidates [0 1]", i, m, i)
		}
	}
	// With the serials the guest used, it is decided, and the opposite way
	// round from the input-order assumption.
	_, ms, err = Bind(c, size, []string{"/dev/vda", "/dev/vdb"})
	if err != nil || ms[0].Disk != 1 || ms[1].Disk != 0 || ms[0].Assumed || ms[1].Assumed {
		t.Errorf("Bind(a, serials) = %+v, %v; want m0 disk 1, m1 disk 0", ms, err)
	}
	// One serial known binds the other image by elimination.
	_, ms, err = Bind(c, size, []string{"/dev/vda", ""})
	if err != nil || ms[0].Disk != 1 || ms[1].Disk != 0 || ms[1].Assumed {
		t.Errorf("Bind(a, one serial) = %+v, %v; want m1 disk 0 by elimination", ms, err)
	}
	if _, _, err := Bind(c, size, []string{"nope", ""}); err == nil {
		t.Errorf("Bind with an unknown serial: no error")
	}
	if _, _, err := Bind(c, size, []string{"/dev/vda", "/dev/vda"}); err == nil {
		t.Errorf("Bind with one serial for both images: no error")
	}
}

// mpbWithTotal returns a copy of m with disk entry k's total_blocks set.
func mpbWithTotal(tb testing.TB, m *MPB, k int, total uint32) *MPB {
	tb.Helper()
	raw := bytes.Clone(m.Raw)
	put32(raw, m.Disks[k].Off+diskTotalLo, total)
	put32(raw, offCheckSum, Checksum(raw))
	out, err := Decode(raw, m.Offset)
	if err != nil {
		tb.Fatal(err)
	}
	return out
}

// TestBindSize: when total_blocks tells entries apart, an image of the
// size of only one entry is bound to it.
func TestBindSize(t *testing.T) {
	c := readMPB(t, fixture.Image(t, aClean, "m0"))
	m := mpbWithTotal(t, c, 0, 40000)
	_, ms, err := Bind([]*MPB{m, m}, []int64{16 << 20, 40000 * 512}, nil)
	if err != nil || ms[0].Disk != 1 || ms[1].Disk != 0 || ms[0].Assumed || ms[1].Assumed {
		t.Errorf("Bind by size = %+v, %v; want image 0 disk 1, image 1 disk 0", ms, err)
	}
}

// TestAuthorityErrors: different containers, no good checksum, and two
// different MPBs of the highest generation have no authority.
func TestAuthorityErrors(t *testing.T) {
	a := readMPB(t, fixture.Image(t, aClean, "m0"))
	b := readMPB(t, fixture.Image(t, bStale, "m0"))
	if _, err := Authority([]*MPB{a, b}); err == nil {
		t.Errorf("Authority(a-clean, b-stale): no error for two families")
	}
	bad := readMPB(t, messWith(t, aClean, "m0", func(x []byte) { x[anchor+offGeneration]++ }))
	if _, err := Authority([]*MPB{bad}); err == nil {
		t.Errorf("Authority(bad checksum): no error")
	}
	if i, err := Authority([]*MPB{bad, a}); err != nil || i != 1 {
		t.Errorf("Authority(bad, good) = %d, %v; want 1", i, err)
	}
	twin := readMPB(t, messWith(t, aClean, "m0", func(x []byte) {
		x[anchor+mpbVol+volDirty] = 1
		fixChecksum(x, anchor)
	}))
	if _, err := Authority([]*MPB{a, twin}); err == nil {
		t.Errorf("Authority: no error for two different MPBs of one generation")
	}
	if _, err := Authority([]*MPB{a, nil}); err == nil {
		t.Errorf("Authority with a nil MPB: no error")
	}
}

// TestReserved: the usable size mdadm prints for the fixtures' disks.
func TestReserved(t *testing.T) {
	m := readMPB(t, fixture.Image(t, bStale, "m0"))
	for _, tt := range []struct {
		disk int
		want uint64
	}{{1, 10402}, {0, 10402}, {-1, 10402}, {5, 10402}} {
		if got := m.Reserved(tt.disk); got != tt.want {
			t.Errorf("Reserved(%d) = %d; want %d", tt.disk, got, tt.want)
		}
	}
	// A volume that leaves less room than the default reserve.
	raw := bytes.Clone(m.Raw)
	put32(raw, mpbMap+mapPBALo, 20000)
	put32(raw, mpbMap+mapBPMLo, 10240)
	put32(raw, offCheckSum, Checksum(raw))
	big, err := Decode(raw, m.Offset)
	if err != nil {
		t.Fatal(err)
	}
	// 32768 - (20000 + 8192) = 4576 sectors left after the volume.
	if got := big.Reserved(1); got != 4576 {
		t.Errorf("Reserved with the volume at 20000 = %d; want 4576", got)
	}
}
