// Package readahead decompresses in the background the compressed blocks
// (qcow2 clusters, VMDK grains) of the window past a sequential read: the
// diff reads 1 MiB at a time from one goroutine, so while it compares one
// MiB the next is being inflated. The readers of image/qcow2 and
// image/vmdk use it; each keeps its own bounds (its virtual size, its
// block size) and its own decoding, given as a lookup function.
package readahead

import (
	"runtime"
	"sync"
	"sync/atomic"
)

// Bytes bounds how far past a sequential read the compressed blocks are
// decompressed in the background.
const Bytes = 4 << 20

// inflight is one compressed block being decompressed ahead.
type inflight struct {
	claimed atomic.Bool // set by the one read that takes buf
	done    chan struct{}
	buf     []byte // the whole block from bufs, valid after done when err is nil
	err     error
}

// bufs recycles the buffers of blocks decompressed ahead.
var bufs sync.Pool // *[]byte

func getBuf(n int64) []byte {
	if bp, _ := bufs.Get().(*[]byte); bp != nil && int64(cap(*bp)) >= n {
		return (*bp)[:n]
	}
	return make([]byte, n)
}

func putBuf(b []byte) { bufs.Put(&b) }

// Batch is the blocks decompressed ahead for one window, by a key naming
// the block in its reader (the host offset of its compressed data, and
// for VMDK its extent).
type Batch[K comparable] map[K]*inflight

// Take fills p with the bytes of block k from offset from when k was
// decompressed ahead and no other read took it yet, waiting for it, and
// returns true with the decompression's error; it returns false when the
// caller must decompress the block itself. A nil Batch holds nothing.
func (b Batch[K]) Take(k K, p []byte, from int64) (bool, error) {
	f := b[k]
	if f == nil || !f.claimed.CompareAndSwap(false, true) {
		return false, nil
	}
	<-f.done
	if f.err != nil {
		return true, f.err
	}
	copy(p, f.buf[from:])
	putBuf(f.buf)
	return true, nil
}

// Block is one compressed block met in a window.
type Block[K comparable] struct {
	Key    K
	Size   int64              // decompressed bytes
	Decode func([]byte) error // fills a buffer of Size bytes
}

// Lookup returns the length of the piece of the virtual disk at pos and,
// when that piece is a compressed block, ok and the block.
type Lookup[K comparable] func(pos int64) (n int64, b Block[K], ok bool, err error)

// Tracker follows the reads of one disk to find sequential ones. Its
// methods are safe for concurrent use; the zero value is ready.
type Tracker[K comparable] struct {
	mu      sync.Mutex
	lastEnd int64    // end of the last read with compressed blocks
	ahead   Batch[K] // blocks being decompressed ahead of a sequential reader
}

// Next is called by a read of n bytes at off that has compressed blocks.
// It returns the batch started for this window by the previous read (nil
// if none) and, when this read continues the previous one, starts
// decompressing the compressed blocks of the next window: up to
// min(n, Bytes) bytes from off+n, not past size.
func (t *Tracker[K]) Next(off, n, size int64, lookup Lookup[K]) Batch[K] {
	t.mu.Lock()
	cur := t.ahead
	seq := off == t.lastEnd
	t.lastEnd = off + n
	t.ahead = nil
	t.mu.Unlock()
	if !seq {
		return cur
	}
	next := start(off+n, min(off+n+min(n, Bytes), size), lookup)
	t.mu.Lock()
	t.ahead = next
	t.mu.Unlock()
	return cur
}

// start starts decompressing, on up to GOMAXPROCS goroutines, the
// compressed blocks mapping [pos, end). A lookup error stops the window
// there: the read that reaches it reports it.
func start[K comparable](pos, end int64, lookup Lookup[K]) Batch[K] {
	var blocks []Block[K]
	b := Batch[K]{}
	for pos < end {
		n, blk, ok, err := lookup(pos)
		if err != nil {
			break
		}
		if ok && b[blk.Key] == nil {
			b[blk.Key] = &inflight{done: make(chan struct{})}
			blocks = append(blocks, blk)
		}
		pos += n
	}
	if len(blocks) == 0 {
		return nil
	}
	var k atomic.Int64
	for range min(runtime.GOMAXPROCS(0), len(blocks)) {
		go func() {
			for {
				i := int(k.Add(1) - 1)
				if i >= len(blocks) {
					return
				}
				f := b[blocks[i].Key]
				f.buf = getBuf(blocks[i].Size)
				f.err = blocks[i].Decode(f.buf)
				close(f.done)
			}
		}()
	}
	return b
}

// Each calls f(i) for each i in [0, n), the decompressions of one read,
// in parallel on up to GOMAXPROCS goroutines, and returns the error of the
// lowest i that failed. On one goroutine (GOMAXPROCS 1 or n 1) the calls
// run in order on the caller's and stop at the first error.
func Each(n int, f func(i int) error) error {
	if n == 0 {
		return nil
	}
	workers := min(runtime.GOMAXPROCS(0), n)
	if workers == 1 {
		for i := range n {
			if err := f(i); err != nil {
				return err
			}
		}
		return nil
	}
	errs := make([]error, n)
	var mu sync.Mutex
	k := 0
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				mu.Lock()
				i := k
				k++
				mu.Unlock()
				if i >= n {
					return
				}
				errs[i] = f(i)
			}
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}
