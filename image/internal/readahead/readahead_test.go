package readahead

import (
	"bytes"
	"errors"
	"runtime"
	"sync/atomic"
	"testing"
)

// disk is a virtual disk of 1 KiB pieces; the pieces at multiples of 3 KiB
// are compressed blocks whose content is their index, repeated.
type disk struct {
	size    int64
	decodes atomic.Int64
	fail    int64 // lookup fails at this offset (0: never)
	bad     int64 // the block at this offset fails to decode (0: never)
}

var errDecode = errors.New("decode failed")

func (d *disk) lookup(pos int64) (int64, Block[int64], bool, error) {
	if d.fail != 0 && pos == d.fail {
		return 0, Block[int64]{}, false, errors.New("lookup failed")
	}
	if pos%3072 != 0 {
		return 1024, Block[int64]{}, false, nil
	}
	return 1024, Block[int64]{Key: pos, Size: 1024, Decode: func(b []byte) error {
		d.decodes.Add(1)
		if pos == d.bad {
			return errDecode
		}
		for i := range b {
			b[i] = byte(pos / 3072)
		}
		return nil
	}}, true, nil
}

func TestNext(t *testing.T) {
	d := &disk{size: 64 << 10}
	var tr Tracker[int64]
	// The first read has no batch and starts none: it does not continue
	// a previous one (lastEnd is 0 only for a read at 0).
	if b := tr.Next(4096, 4096, d.size, d.lookup); b != nil {
		t.Fatalf("first read: batch %v, want nil", b)
	}
	// A sequential read gets nothing yet but starts [12K, 16K).
	if b := tr.Next(8192, 4096, d.size, d.lookup); b != nil {
		t.Fatalf("second read: batch %v, want nil", b)
	}
	// The next sequential read gets the blocks at 12K and 15K.
	b := tr.Next(12288, 4096, d.size, d.lookup)
	if len(b) != 2 || b[12288] == nil || b[15360] == nil {
		t.Fatalf("third read: batch keys %v, want 12288 and 15360", keys(b))
	}
	p := make([]byte, 100)
	ok, err := b.Take(12288, p, 1000)
	if !ok || err != nil || !bytes.Equal(p[:24], bytes.Repeat([]byte{4}, 24)) || p[24] != 0 {
		t.Fatalf("Take(12288) = %v, %v, %v", ok, err, p[:30])
	}
	// A block is taken once; a block not in the batch is not taken.
	if ok, _ := b.Take(12288, p, 0); ok {
		t.Error("Take(12288) twice succeeded")
	}
	if ok, _ := b.Take(3072, p, 0); ok {
		t.Error("Take of a block not started succeeded")
	}
	var nb Batch[int64]
	if ok, _ := nb.Take(0, p, 0); ok {
		t.Error("Take from a nil batch succeeded")
	}
	// A read elsewhere gets the pending batch but starts none.
	if b := tr.Next(40960, 1024, d.size, d.lookup); len(b) == 0 {
		t.Error("a non-sequential read did not get the batch started for it")
	}
	if b := tr.Next(0, 1024, d.size, d.lookup); b != nil {
		t.Errorf("after a non-sequential read: batch %v, want nil", keys(b))
	}
}

func TestNextBounds(t *testing.T) {
	// The window stops at size and at Bytes past the read.
	// The read at 0 continues lastEnd 0, so it starts [12K, 20K): the
	// block at 21K is past size.
	d := &disk{size: 20 << 10}
	var tr Tracker[int64]
	tr.Next(0, 12288, d.size, d.lookup)
	b := tr.Next(12288, 12288, d.size, d.lookup)
	if got := keys(b); len(got) != 3 || b[21504] != nil {
		t.Fatalf("window at size %d: keys %v, want 12288, 15360, 18432", d.size, got)
	}
	big := &disk{size: 64 << 20}
	tr = Tracker[int64]{}
	tr.Next(0, 16<<20, big.size, big.lookup)
	b = tr.Next(16<<20, 16<<20, big.size, big.lookup)
	for k := range b {
		if k < 16<<20 || k >= 16<<20+Bytes {
			t.Fatalf("block %d outside [16 MiB, 16 MiB + Bytes)", k)
		}
	}
	if want := (Bytes + 3071) / 3072; len(b) < want-1 || len(b) > want+1 {
		t.Errorf("%d blocks ahead, want about %d", len(b), want)
	}
}

func TestErrors(t *testing.T) {
	// A decode error reaches the read that takes the block; a lookup
	// error ends the window.
	d := &disk{size: 64 << 10, bad: 12288, fail: 18432}
	var tr Tracker[int64]
	tr.Next(0, 12288, d.size, d.lookup)
	b := tr.Next(12288, 12288, d.size, d.lookup)
	if got := keys(b); len(got) != 2 {
		t.Fatalf("keys %v, want 12288 and 15360 (the lookup at 18432 fails)", got)
	}
	if ok, err := b.Take(12288, make([]byte, 10), 0); !ok || err != errDecode {
		t.Fatalf("Take = %v, %v; want true, %v", ok, err, errDecode)
	}
}

func keys(b Batch[int64]) []int64 {
	var k []int64
	for x := range b {
		k = append(k, x)
	}
	return k
}

func TestEach(t *testing.T) {
	errA, errB := errors.New("a"), errors.New("b")
	for _, procs := range []int{1, 4} {
		old := runtime.GOMAXPROCS(procs)
		var calls atomic.Int64
		done := make([]bool, 100)
		err := Each(100, func(i int) error {
			calls.Add(1)
			done[i] = true
			switch i {
			case 30:
				return errA
			case 70:
				return errB
			}
			return nil
		})
		runtime.GOMAXPROCS(old)
		if err != errA {
			t.Errorf("GOMAXPROCS %d: Each = %v, want the error of the lowest index (a)", procs, err)
		}
		if procs == 1 && (calls.Load() != 31 || done[31]) {
			t.Errorf("GOMAXPROCS 1: %d calls, want 31 (stop at the first error)", calls.Load())
		}
		if procs > 1 && calls.Load() != 100 {
			t.Errorf("GOMAXPROCS %d: %d calls, want 100", procs, calls.Load())
		}
	}
	if err := Each(0, func(int) error { t.Fatal("called for n 0"); return nil }); err != nil {
		t.Error(err)
	}
}
