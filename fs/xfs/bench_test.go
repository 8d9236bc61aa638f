package xfs

import (
	"testing"
)

// BenchmarkOpen: superblock, every AG's headers and the log head.
func BenchmarkOpen(b *testing.B) {
	s := fixture(b)
	b.ReportAllocs()
	for b.Loop() {
		openImg(b, s.V5)
	}
}

// BenchmarkOwners10Metadata maps 10 ranges in AG structures and free
// space spread over all AGs: only those AGs' B+trees are read.
func BenchmarkOwners10Metadata(b *testing.B) {
	s := fixture(b)
	b.ReportAllocs()
	for b.Loop() {
		v := openImg(b, s.V5)
		step := v.Size() / 10
		for k := int64(0); k < 10; k++ {
			v.Owners(k*step, 4096)
		}
	}
}

// BenchmarkOwnersFile maps one range of file data: the first such range
// runs the inode walk (every inode chunk, extent B+tree and directory
// block, no file data) of the 1,550-inode fixture.
func BenchmarkOwnersFile(b *testing.B) {
	s := fixture(b)
	v0 := openImg(b, s.V5)
	w := v0.ensureWalk()
	var off int64
	for _, c := range w.claims {
		if c.kind == kData {
			off, _ = v0.fsbOff(c.fsb)
			break
		}
	}
	b.ReportAllocs()
	for b.Loop() {
		v := openImg(b, s.V5)
		if ex := v.Owners(off, 4096); ex[0].Owner.Path == "" {
			b.Fatal(ex)
		}
	}
}

// BenchmarkOwnersWhole maps every byte of the 300 MiB filesystem and
// judges its metadata.
func BenchmarkOwnersWhole(b *testing.B) {
	s := fixture(b)
	b.ReportAllocs()
	for b.Loop() {
		v := openImg(b, s.V5)
		v.Owners(0, v.Size())
	}
}

// BenchmarkOwnersFileRmap maps one range of file data on the rmapbt
// fixture: the owner comes from the AG's rmap records, the path from the
// directory tree; no inode walk.
func BenchmarkOwnersFileRmap(b *testing.B) {
	s := fixture(b)
	v0 := openImg(b, s.V5R)
	w := v0.ensureWalk()
	var off int64
	for _, c := range w.claims {
		if c.kind == kData {
			off, _ = v0.fsbOff(c.fsb)
			break
		}
	}
	b.ReportAllocs()
	for b.Loop() {
		v := openImg(b, s.V5R)
		if ex := v.Owners(off, 4096); ex[0].Owner.Path == "" || v.walk != nil {
			b.Fatal(ex)
		}
	}
}
