package qcow2

import (
	"runtime"
	"sync"
	"sync/atomic"
)

// aheadBytes bounds how far past a sequential read the compressed clusters
// are decompressed in the background (the diff reads 1 MiB at a time from
// one goroutine: while it compares one MiB, the next is being inflated).
const aheadBytes = 4 << 20

// inflight is one compressed cluster being decompressed ahead.
type inflight struct {
	claimed atomic.Bool // set by the one read that takes buf
	done    chan struct{}
	buf     []byte // the whole cluster from bufs, valid after done when err is nil
	err     error
}

// bufs recycles the buffers of clusters decompressed ahead.
var bufs sync.Pool // *[]byte

func getBuf(n int64) []byte {
	if bp, _ := bufs.Get().(*[]byte); bp != nil && int64(cap(*bp)) >= n {
		return (*bp)[:n]
	}
	return make([]byte, n)
}

func putBuf(b []byte) { bufs.Put(&b) }

// batch is the clusters decompressed ahead for one window, by host offset
// of their compressed data.
type batch map[int64]*inflight

// readAhead is called by a read of n bytes at off that has compressed
// clusters. It returns the batch started for this window by the previous
// read (nil if none) and, when this read continues the previous one,
// starts decompressing the compressed clusters of the next window.
func (d *Disk) readAhead(off, n int64) batch {
	d.mu.Lock()
	cur := d.ahead
	seq := off == d.lastEnd
	d.lastEnd = off + n
	d.ahead = nil
	d.mu.Unlock()
	if !seq {
		return cur
	}
	next := d.startBatch(off+n, min(n, aheadBytes))
	d.mu.Lock()
	d.ahead = next
	d.mu.Unlock()
	return cur
}

// startBatch starts decompressing, on up to GOMAXPROCS goroutines, the
// compressed clusters mapping [start, start+n). A lookup error stops the
// window there: the read that reaches it reports it.
func (d *Disk) startBatch(start, n int64) batch {
	end := min(start+n, d.size)
	var pcs []piece
	b := batch{}
	for pos := start; pos < end; {
		pc, err := d.lookup(pos)
		if err != nil {
			break
		}
		if pc.kind == kCompressed && b[pc.host] == nil {
			b[pc.host] = &inflight{done: make(chan struct{})}
			pcs = append(pcs, pc)
		}
		pos += pc.n
	}
	if len(pcs) == 0 {
		return nil
	}
	var k atomic.Int64
	for range min(runtime.GOMAXPROCS(0), len(pcs)) {
		go func() {
			for {
				i := int(k.Add(1) - 1)
				if i >= len(pcs) {
					return
				}
				f := b[pcs[i].host]
				f.buf = getBuf(d.cluster)
				f.err = d.decode(f.buf, pcs[i])
				close(f.done)
			}
		}()
	}
	return b
}
