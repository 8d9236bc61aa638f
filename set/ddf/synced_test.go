package ddf

import (
	"bytes"
	"slices"
	"strings"
	"testing"

	"github.com/mirrorchk/mirrorchk/internal/fixture"
)

// apply returns a copy of img with the patches written.
func apply(tb testing.TB, img []byte, ps []Patch) []byte {
	tb.Helper()
	out := bytes.Clone(img)
	for _, p := range ps {
		if p.Off < 0 || p.Off+int64(len(p.Data)) > int64(len(out)) {
			tb.Fatalf("patch %s at %#x+%d outside the image", p.What, p.Off, len(p.Data))
		}
		copy(out[p.Off:], p.Data)
	}
	return out
}

func whats(ps []Patch) []string {
	var w []string
	for _, p := range ps {
		w = append(w, p.What)
	}
	return w
}

// TestSyncedStale makes the stale-member fixture's two images an in-sync
// pair, as the repair does after copying the data: the result must read
// back with every CRC good, agree with mdadm --examine, and show both
// disks Online and the volume Optimal and Consistent on both images, with
// the same global metadata as a container mdadm wrote clean (fixture a).
func TestSyncedStale(t *testing.T) {
	img0, img1 := fixture.Image(t, bStale, "m0"), fixture.Image(t, bStale, "m1")
	d0, d1 := readImage(t, img0), readImage(t, img1)
	p1, err := Synced(d1, d0)
	if err != nil {
		t.Fatalf("Synced(stale, fresh): %v", err)
	}
	p0, err := Synced(d0, d0, d1)
	if err != nil {
		t.Fatalf("Synced(fresh, fresh, stale): %v", err)
	}
	// The data section ends 32 MiB from the end; the patches stay out of it.
	for _, p := range append(slices.Clone(p0), p1...) {
		if p.Off < fxSecondary {
			t.Errorf("%s at %#x lies in the data area", p.What, p.Off)
		}
	}
	// The controller and disk data do not change; everything else does (the
	// stale image had seq 0xa, itself Failed and the VD inconsistent; the
	// fresh one marks the stale disk Failed and Missing). The fresh image's
	// anchor stays: an anchor carries no seq, and the time stamp is fresh's.
	want := []string{"primary header", "primary phys_section", "primary virt_section", "primary config_section",
		"secondary header", "secondary phys_section", "secondary virt_section", "secondary config_section", "anchor"}
	for i, ps := range [][]Patch{p0, p1} {
		w := want
		if i == 0 {
			w = want[:len(want)-1]
		}
		if got := whats(ps); !slices.Equal(got, w) {
			t.Errorf("m%d patches %q; want %q", i, got, w)
		}
	}

	out := [2][]byte{apply(t, img0, p0), apply(t, img1, p1)}
	clean := readImage(t, fixture.Image(t, aClean, "m0"))
	var ds [2]*DDF
	for i, img := range out {
		d := readImage(t, img)
		ds[i] = d
		checkHealthy(t, d)
		if d.Seq() != 0xd {
			t.Errorf("m%d: seq %#x; want 0xd (fresh 0xc + 1)", i, d.Seq())
		}
		v := d.Mirrors()[0]
		if v.VD.State != clean.VirtualDisks[0].State || v.VD.InitState != clean.VirtualDisks[0].InitState || v.VD.StateString() != "Optimal, Consistent" {
			t.Errorf("m%d: VD state %#x init %#x; the clean fixture has %#x, %#x", i, v.VD.State, v.VD.InitState, clean.VirtualDisks[0].State, clean.VirtualDisks[0].InitState)
		}
		if v.Config.Seqnum != 5 {
			t.Errorf("m%d: config seqnum %d; want 5 (4 + 1 for the state change)", i, v.Config.Seqnum)
		}
		for j, p := range d.PhysDisks {
			if p.Type != clean.PhysDisks[j].Type || p.State != clean.PhysDisks[j].State || !p.Working() {
				t.Errorf("m%d: disk %08x type %#x state %#x; the clean fixture has %#x, %#x", i, p.RefNo, p.Type, p.State, clean.PhysDisks[j].Type, clean.PhysDisks[j].State)
			}
		}
		for _, mb := range v.Members {
			if !mb.InSync() {
				t.Errorf("m%d: member %08x not in sync", i, mb.RefNo)
			}
		}
		if !bytes.Equal(d.ThisDisk.Raw, [2]*DDF{d0, d1}[i].ThisDisk.Raw) {
			t.Errorf("m%d: disk data changed", i)
		}

		e := runExamine(t, writeTemp(t, "m.img", img))
		compareExamine(t, d, e)
		check(t, "state[0]", "Optimal, Consistent", e.get(t, "state[0]"))
		check(t, "Seq", "0000000d", e.get(t, "Seq"))
		for _, row := range e.pds {
			check(t, "disk "+row.refno, "active/Online", row.typeState)
		}
	}
	// Both images now carry the same global metadata and the same
	// configuration record.
	if !bytes.Equal(ds[0].Active.Raw, ds[1].Active.Raw) || !bytes.Equal(ds[0].Controller.Raw, ds[1].Controller.Raw) ||
		!slices.Equal(ds[0].PhysDisks, ds[1].PhysDisks) || !slices.Equal(ds[0].VirtualDisks, ds[1].VirtualDisks) ||
		!bytes.Equal(ds[0].Configs[0].Raw, ds[1].Configs[0].Raw) {
		t.Errorf("the repaired images' global metadata differ")
	}
	// In sync now: nothing more to write.
	if ps, err := Synced(ds[1], ds[0]); ps != nil || err != nil {
		t.Errorf("Synced again = %q, %v; want nothing", whats(ps), err)
	}
	if ps, err := Synced(ds[0], ds[0], ds[1]); ps != nil || err != nil {
		t.Errorf("Synced again (fresh) = %q, %v; want nothing", whats(ps), err)
	}
}

// TestSyncedClean: a clean pair needs no rewrite.
func TestSyncedClean(t *testing.T) {
	d0, d1 := readImage(t, fixture.Image(t, aClean, "m0")), readImage(t, fixture.Image(t, aClean, "m1"))
	for _, c := range []struct {
		own, fresh *DDF
		others     []*DDF
	}{{d1, d0, nil}, {d0, d0, []*DDF{d1}}, {d0, d1, nil}} {
		if ps, err := Synced(c.own, c.fresh, c.others...); ps != nil || err != nil {
			t.Errorf("Synced = %q, %v; want nothing", whats(ps), err)
		}
	}
}

// TestSyncedRepairsCopy: a member whose secondary copy is damaged gets that
// copy rewritten whole (and nothing else, in a clean set).
func TestSyncedRepairsCopy(t *testing.T) {
	img := messWith(t, aClean, "m1", func(b []byte) { b[fxSecondary+fxPhys*512+200] ^= 1 })
	d1 := readImage(t, img)
	if d1.SecondaryErr == nil {
		t.Fatal("damage not detected")
	}
	d0 := readImage(t, fixture.Image(t, aClean, "m0"))
	ps, err := Synced(d1, d0)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"secondary header", "secondary controller_section", "secondary phys_section", "secondary virt_section", "secondary config_section", "secondary data_section"}
	if got := whats(ps); !slices.Equal(got, want) {
		t.Fatalf("patches %q; want %q", got, want)
	}
	fixed := apply(t, img, ps)
	if !bytes.Equal(fixed, fixture.Image(t, aClean, "m1")) {
		t.Errorf("the rewrite does not restore the image")
	}
}

// TestSyncedRefuses: inputs Synced must not turn into "in sync" metadata.
func TestSyncedRefuses(t *testing.T) {
	fresh := readImage(t, fixture.Image(t, bStale, "m0"))
	stale := readImage(t, fixture.Image(t, bStale, "m1"))
	// The stale-member fixture again, with the volume made RAID0 (prl 0) in
	// both images' configuration records.
	raid0 := func(m string) *DDF {
		return readImage(t, messWith(t, bStale, m, withCRC(both(func(b []byte, h int) { b[h+fxConf*512+67] = LevelRAID0 }))))
	}
	tests := []struct {
		name       string
		own, fresh *DDF
		others     []*DDF
		want       string
	}{
		{"other container", stale, readImage(t, fixture.Image(t, aClean, "m0")), nil, "guid differs"},
		{"failed disk in a RAID0", raid0("m1"), raid0("m0"), nil, "RAID0"},
		{"disk not in the records", readImage(t, messWith(t, bStale, "m1", withCRC(both(func(b []byte, h int) { put32(b, h+fxData*512+32, 0x12345678) })))), fresh, nil, "not in the fresh physical disk records"},
		{"layout differs", readImage(t, messWith(t, bStale, "m1", withCRC(headers(func(b []byte, h int) { put16(b, h+130, 63) })))), fresh, nil, "max_vd_entries differs"},
		{"same disk twice", fresh, fresh, []*DDF{readImage(t, fixture.Image(t, bStale, "m0"))}, "two members"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ps, err := Synced(tt.own, tt.fresh, tt.others...)
			if err == nil || ps != nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Synced = %q, %v; want an error with %q", whats(ps), err, tt.want)
			}
		})
	}
}

// TestSyncedMatchesMdadmClean compares the repaired stale member with the
// member of fixture a, which mdadm wrote for a clean two-disk container,
// byte by byte over all metadata: they may differ only in identifiers
// (GUIDs, refnums), time stamps, seq/seqnum and the CRCs over them.
func TestSyncedMatchesMdadmClean(t *testing.T) {
	img0, img1 := fixture.Image(t, bStale, "m0"), fixture.Image(t, bStale, "m1")
	p1, err := Synced(readImage(t, img1), readImage(t, img0))
	if err != nil {
		t.Fatal(err)
	}
	got, clean := apply(t, img1, p1), fixture.Image(t, aClean, "m1")

	type rng struct{ from, to int }
	hdr := []rng{{4, 8}, {8, 32}, {40, 44}, {44, 48}}                      // crc, guid, seq, timestamp
	phys := []rng{{4, 8}, {64, 64 + 28}, {128, 128 + 28}}                  // crc, entries 0 and 1: guid, refnum
	virt := []rng{{4, 8}, {64, 64 + 24}, {64 + 28, 64 + 30}}               // crc, entry 0: guid, guid_crc
	conf := []rng{{4, 8}, {8, 32}, {32, 36}, {36, 40}, {512, 512 + 4*256}} // crc, guid, timestamp, seqnum, phys_refnum
	data := []rng{{4, 8}, {8, 32}, {32, 36}}                               // crc, guid, refnum
	type region struct {
		name      string
		off, size int
		mask      []rng
	}
	regions := []region{{"anchor", fxAnchor, 512, hdr}}
	for _, c := range []struct {
		name string
		base int
	}{{"primary", fxPrimary}, {"secondary", fxSecondary}} {
		regions = append(regions,
			region{c.name + " header", c.base, 512, hdr},
			region{c.name + " controller", c.base + fxCtrl*512, 512, nil},
			region{c.name + " phys", c.base + fxPhys*512, 128 * 512, phys},
			region{c.name + " virt", c.base + fxVirt*512, 32 * 512, virt},
			region{c.name + " config", c.base + fxConf*512, 455 * 512, conf},
			region{c.name + " disk data", c.base + fxData*512, 512, data},
		)
	}
	for _, r := range regions {
		a, b := bytes.Clone(got[r.off:][:r.size]), bytes.Clone(clean[r.off:][:r.size])
		for _, m := range r.mask {
			clear(a[m.from:m.to])
			clear(b[m.from:m.to])
		}
		if i := firstDiff(a, b); i >= 0 {
			t.Errorf("%s: byte %#x is %#02x; mdadm's clean container has %#02x", r.name, i, a[i], b[i])
		}
	}
}
