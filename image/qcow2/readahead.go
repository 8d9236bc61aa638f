package qcow2

import "github.com/mirrorchk/mirrorchk/image/internal/readahead"

// batch is the clusters decompressed ahead for one window, by host offset
// of their compressed data.
type batch = readahead.Batch[int64]

// readAhead is called by a read of n bytes at off that has compressed
// clusters. It returns the batch started for this window by the previous
// read (nil if none) and, when this read continues the previous one,
// starts decompressing the compressed clusters of the next window, within
// the virtual size.
func (d *Disk) readAhead(off, n int64) batch {
	return d.ahead.Next(off, n, d.size, func(pos int64) (int64, readahead.Block[int64], bool, error) {
		pc, err := d.lookup(pos)
		if err != nil || pc.kind != kCompressed {
			return pc.n, readahead.Block[int64]{}, false, err
		}
		return pc.n, readahead.Block[int64]{Key: pc.host, Size: d.cluster, Decode: func(b []byte) error { return d.decode(b, pc) }}, true, nil
	})
}
