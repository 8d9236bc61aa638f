package imsm

import (
	"bytes"
	"slices"
	"strings"
	"testing"

	"github.com/mirrorchk/mirrorchk/internal/fixture"
)

// syncedImages returns the b-stale-member images with Synced(stale, fresh)
// written over both members' MPBs, and those bytes.
func syncedImages(tb testing.TB) (imgs [][]byte, out []byte) {
	tb.Helper()
	fresh, stale := readMPB(tb, fixture.Image(tb, bStale, "m0")), readMPB(tb, fixture.Image(tb, bStale, "m1"))
	out, err := Synced(stale, fresh)
	if err != nil {
		tb.Fatalf("Synced: %v", err)
	}
	for _, member := range []string{"m0", "m1"} {
		img := bytes.Clone(fixture.Image(tb, bStale, member))
		copy(img[anchor:], out) // one sector: no extended part
		imgs = append(imgs, img)
	}
	return imgs, out
}

// TestSynced rewrites the stale-member fixture's MPBs as mdadm writes a
// healthy mirror's, and compares the result with the MPB mdadm itself wrote
// for the healthy fixture of the same geometry (a-clean): they may differ
// only in the container's identity (family numbers, creation time) and
// hence the checksum. (Both fixtures were created by the same script; the
// clean one's generation happens to be 0x13, the stale one's fresh
// generation plus one.)
func TestSynced(t *testing.T) {
	imgs, out := syncedImages(t)
	fresh := readMPB(t, fixture.Image(t, bStale, "m0"))
	m := readMPB(t, imgs[1])
	if !m.ChecksumOK() || m.Generation != fresh.Generation+1 || len(out) != len(fresh.Raw) {
		t.Fatalf("synced MPB: checksum ok %v, generation %#x (fresh %#x), %d bytes", m.ChecksumOK(), m.Generation, fresh.Generation, len(out))
	}
	for i, d := range m.Disks {
		if d.Failed() || !d.Configured() || d.Serial != []string{"/dev/vdb", "/dev/vda"}[i] {
			t.Errorf("disk %d: %+v", i, d)
		}
	}
	v := m.Volumes[0]
	mp := v.Maps[0]
	if mp.MapState != MapNormal || mp.Failed() != -1 || mp.Rebuilding(0) || mp.Rebuilding(1) || v.Dirty != 0 || v.Migrating() {
		t.Errorf("synced volume: %+v", v)
	}

	clean := readMPB(t, fixture.Image(t, aClean, "m0"))
	identity := func(p int) bool {
		return p >= offCheckSum && p < offCheckSum+4 || p >= offFamily && p < offFamily+4 ||
			p >= offOrigFamily && p < offOrigFamily+4 || p >= offCreationTime && p < offCreationTime+8
	}
	if len(out) != len(clean.Raw) {
		t.Fatalf("synced MPB %d bytes; a-clean's %d", len(out), len(clean.Raw))
	}
	for p := range out {
		if out[p] != clean.Raw[p] && !identity(p) {
			t.Errorf("MPB byte %#x: synced %#02x, mdadm's healthy MPB %#02x", p, out[p], clean.Raw[p])
		}
	}

	// The repaired pair binds like a clean pair, and reads as one.
	a, ms, err := Bind([]*MPB{readMPB(t, imgs[0]), m}, nil, nil)
	if err != nil || a != 0 || !ms[0].Assumed || !slices.Equal(ms[0].Candidates, []int{0, 1}) {
		t.Errorf("Bind(repaired) = %d, %+v, %v", a, ms, err)
	}
}

// TestSyncedHealthy: a healthy MPB comes back with only its generation and
// checksum changed; a dirty but otherwise healthy one is also marked clean.
func TestSyncedHealthy(t *testing.T) {
	c := readMPB(t, fixture.Image(t, aClean, "m0"))
	out, err := Synced(c, c)
	if err != nil {
		t.Fatal(err)
	}
	for p := range out {
		if out[p] != c.Raw[p] && !(p >= offCheckSum && p < offCheckSum+4) && !(p >= offGeneration && p < offGeneration+4) {
			t.Errorf("Synced(clean) changed MPB byte %#x", p)
		}
	}
	stale := readMPB(t, fixture.Image(t, bStale, "m1"))
	out, err = Synced(stale, stale)
	if err != nil {
		t.Fatal(err)
	}
	if m, err := Decode(out, stale.Offset); err != nil || m.Volumes[0].Dirty != 0 || m.Generation != stale.Generation+1 {
		t.Errorf("Synced(stale, stale) = %+v, %v", m, err)
	}
}

// TestSyncedRefuses: what Synced cannot state exactly is an error.
func TestSyncedRefuses(t *testing.T) {
	fresh := readMPB(t, fixture.Image(t, bStale, "m0"))
	stale := readMPB(t, fixture.Image(t, bStale, "m1"))
	clean := readMPB(t, fixture.Image(t, aClean, "m0"))
	mess := func(m *MPB, fn func(raw []byte)) *MPB {
		raw := bytes.Clone(m.Raw)
		fn(raw)
		put32(raw, offMPBSize, uint32(len(raw)))
		put32(raw, offCheckSum, Checksum(raw))
		out, err := Decode(raw, m.Offset)
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	// A rebuild in progress: migr_state 1, type rebuild, a second map.
	migrating := func(raw []byte) {
		raw[mpbVol+volMigrState] = 1
		raw[mpbVol+volMigrType] = MigrRebuild
	}
	mig := fresh.Raw[mpbMap:mpbBytes]
	migr := mess(&MPB{Raw: append(bytes.Clone(fresh.Raw), mig...), Offset: fresh.Offset}, migrating)
	for _, tt := range []struct {
		name       string
		own, fresh *MPB
		want       string
	}{
		{"nil", nil, fresh, "missing"},
		{"families", clean, fresh, "different containers"},
		{"own newer", fresh, stale, "newer"},
		{"own already knows the failure", fresh, fresh, "renamed from"},
		{"bad fresh checksum", stale, readMPB(t, messWith(t, bStale, "m0", func(b []byte) { b[anchor+offGeneration]++ })), "checksum"},
		{"migrating", stale, migr, "migration"},
		{"two failed disks", stale, mess(fresh, func(raw []byte) { put32(raw, headerSize+diskSize+diskStatus, DiskConfigured|DiskFailed) }), "both marked failed"},
		{"RAID-0 degraded", stale, mess(fresh, func(raw []byte) { raw[mpbMap+mapRaidLevel] = 0 }), "only mirrors"},
	} {
		if _, err := Synced(tt.own, tt.fresh); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: Synced = %v; want an error about %q", tt.name, err, tt.want)
		}
	}
}
