package check

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"math"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mirrorchk/mirrorchk/image"
)

// Defaults and fixed sizes of the diff engine.
const (
	defaultSectorSize = 512
	defaultMaxRanges  = 10000
	defaultChunkSize  = 1 << 20

	// bufDepth is the number of chunk buffers per source: one being read,
	// the rest queued for or held by the comparator, so a reader can run
	// up to bufDepth-1 chunks ahead of the slowest source.
	bufDepth = 4

	// cmpBlock is the span the comparator checks at once before it looks
	// at single sectors, so that a chunk with a few differing sectors costs
	// little more than an equal one.
	cmpBlock = 64 << 10

	progressInterval = 100 * time.Millisecond
)

// Source is one member as the diff engine sees it.
type Source struct {
	Name       string      // label for errors, usually the path
	R          io.ReaderAt // the whole image
	Size       int64       // whole image size in bytes
	DataOffset int64       // where this member's data area starts in R
	// Holes, if set, tells which chunks lie in holes: they are not read
	// but compared and hashed as zeros. Holes is only a shortcut: when it
	// fails, the rest of the source is read.
	Holes HoleFinder
}

// HoleFinder reports the holes of a sparse source, in offsets of its
// ReaderAt. Bytes in a hole read as zeros and are not read at all.
// *image.Image satisfies it.
type HoleFinder interface {
	// NextData returns the first offset at or after off that may hold
	// data, or the size when the rest is a hole.
	NextData(off int64) (int64, error)
	// NextHole returns the first offset at or after off in a hole, or the
	// size when there is none.
	NextHole(off int64) (int64, error)
}

// DiffOptions are the settings of one Diff.
type DiffOptions struct {
	// DataSize is the number of bytes of each data area to compare:
	// [DataOffset, DataOffset+DataSize) of every source.
	DataSize int64
	// SectorSize is the comparison granularity, 512 when zero. DataSize need
	// not be a multiple: a last partial sector compares as one sector.
	SectorSize int
	// MaxRanges is the number of ranges DiffResult.Ranges keeps, 10000
	// when zero; when negative it keeps none. The rest are only counted
	// (and passed to OnRange).
	MaxRanges int
	// Hashes names the digests to compute of each whole image (bytes 0 to
	// Size, metadata included) in the same pass: "sha256", "sha1", "md5".
	Hashes []string
	// ChunkSize is the read size, 1 MiB when zero (larger chunks fall out of the CPU cache and run slower from the page cache), rounded down to a
	// multiple of SectorSize.
	ChunkSize int
	// Progress, if set, is called with the bytes processed and the bytes to
	// process over all sources (holes count as processed), from a single
	// goroutine, at most about ten times a second, and once more with
	// done == total when Diff succeeds. It is not called after Diff returns.
	Progress func(done, total int64)
	// OnRange, if set, is called for every differing range in offset
	// order, those beyond MaxRanges included, from the goroutine that
	// called Diff.
	OnRange func(Range)
}

// Range is a run of sectors in which the sources do not all agree, with
// the same grouping of sources throughout.
type Range struct {
	Offset, Length int64 // bytes from the start of the data area
	// Groups partitions the source indices by identical content: each group
	// sorted, groups ordered by their first index; at least two groups.
	Groups [][]int
}

// DiffResult is the outcome of a Diff.
type DiffResult struct {
	Ranges      []Range // the first MaxRanges ranges, in offset order
	RangesTotal int64   // number of ranges, including those not kept
	// Bytes is the total length of all ranges. Ranges are whole sectors,
	// except that a range ending at DataSize ends there.
	Bytes int64
	// PairBytes[i][j] is the number of data-area bytes in which sources i
	// and j differ; symmetric, with a zero diagonal.
	PairBytes [][]int64
	// Hashes[i] maps each requested algorithm to the lower-case hex digest
	// of source i's whole image; the maps are nil when none was requested.
	Hashes []map[string]string
	// Read is the number of bytes read from the sources; holes are not read.
	Read int64
}

// ReadError is a failure to read a source. When the ReaderAt's error is an
// *image.ReadError, which names the file and offset already, its text is
// the error's text.
type ReadError struct {
	Source int    // index into the sources
	Name   string // Source.Name
	Off    int64  // offset in the source's ReaderAt of the first byte not read
	Len    int    // bytes not read
	Err    error
}

func (e *ReadError) Error() string {
	if _, ok := e.Err.(*image.ReadError); ok {
		return e.Err.Error()
	}
	return fmt.Sprintf("%s: read %d bytes at byte %#x: %v", e.Name, e.Len, e.Off, e.Err)
}

func (e *ReadError) Unwrap() error { return e.Err }

// Diff reads every source once, sequentially, and compares their data
// areas sector by sector, grouping the sources by identical content where
// they differ. In the same pass it computes the requested hashes of each
// whole image. Memory use depends on the number of sources, ChunkSize and
// MaxRanges, not on the size of the images or the number of differences.
//
// With one source there is nothing to compare: Diff only hashes.
// An unreadable or short source is a *ReadError. When ctx is cancelled,
// Diff stops all its goroutines and returns ctx.Err().
func Diff(ctx context.Context, srcs []Source, opt DiffOptions) (*DiffResult, error) {
	cfg, err := newDiffConfig(srcs, opt)
	if err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	n := len(srcs)
	res := &DiffResult{
		PairBytes: make([][]int64, n),
		Hashes:    make([]map[string]string, n),
	}
	for i := range res.PairBytes {
		res.PairBytes[i] = make([]int64, n)
	}
	compare := n >= 2 && opt.DataSize > 0
	hashing := len(cfg.hashes) > 0
	if !compare && !hashing {
		return res, nil
	}

	// The contents of a hole: one chunk of zeros, shared and read-only,
	// allocated when the first hole is found.
	zero := sync.OnceValue(func() []byte { return make([]byte, cfg.chunk) })
	var total int64
	for _, s := range srcs {
		if hashing {
			total += s.Size
		} else {
			total += opt.DataSize
		}
	}

	inner, cancel := context.WithCancelCause(ctx)
	var (
		wg      sync.WaitGroup
		done    atomic.Int64
		failed  atomic.Bool
		readers = make([]*reader, n)
	)
	for i, s := range srcs {
		r := &reader{
			i: i, src: s, chunk: cfg.chunk, dataSize: opt.DataSize,
			zero: zero, done: &done, send: compare,
			free: make(chan []byte, bufDepth),
		}
		if compare {
			r.out = make(chan []byte, bufDepth)
		}
		for _, name := range cfg.hashes {
			r.hashes = append(r.hashes, newHash(name))
		}
		readers[i] = r
	}
	stopProgress := startProgress(opt.Progress, &done, total)
	defer func() {
		// Also on a panic in OnRange: no goroutine outlives Diff.
		cancel(nil)
		wg.Wait()
		stopProgress(false)
	}()
	for _, r := range readers {
		wg.Go(func() {
			if err := r.run(inner); err != nil {
				failed.Store(true)
				cancel(err)
			}
		})
	}

	if compare {
		c := newComparator(n, cfg, zero, res, opt.OnRange)
		bufs := make([][]byte, n)
	chunks:
		for off := int64(0); off < opt.DataSize; off += int64(cfg.chunk) {
			for i, r := range readers {
				select {
				case bufs[i] = <-r.out:
				case <-inner.Done():
					failed.Store(true)
					break chunks
				}
			}
			c.compare(off, bufs, int(min(int64(cfg.chunk), opt.DataSize-off)))
			for i, b := range bufs {
				if b != nil {
					readers[i].free <- b[:cap(b)] // never blocks: at most bufDepth exist
				}
			}
		}
		if !failed.Load() {
			c.flush()
		}
	}
	wg.Wait()

	if failed.Load() {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		return nil, context.Cause(inner)
	}
	stopProgress(true)
	for i, r := range readers {
		res.Read += r.read
		if hashing {
			res.Hashes[i] = make(map[string]string, len(r.hashes))
			for j, h := range r.hashes {
				res.Hashes[i][cfg.hashes[j]] = hex.EncodeToString(h.Sum(nil))
			}
		}
	}
	return res, nil
}

// diffConfig is DiffOptions checked, with defaults filled in.
type diffConfig struct {
	sector    int
	chunk     int
	maxRanges int
	hashes    []string
}

func newDiffConfig(srcs []Source, opt DiffOptions) (diffConfig, error) {
	cfg := diffConfig{sector: opt.SectorSize, chunk: opt.ChunkSize, maxRanges: opt.MaxRanges}
	if len(srcs) == 0 {
		return cfg, errors.New("no sources to diff")
	}
	switch {
	case cfg.sector == 0:
		cfg.sector = defaultSectorSize
	case cfg.sector < 0:
		return cfg, fmt.Errorf("invalid sector size %d", cfg.sector)
	}
	switch {
	case cfg.chunk == 0:
		cfg.chunk = defaultChunkSize
	case cfg.chunk < 0:
		return cfg, fmt.Errorf("invalid chunk size %d", cfg.chunk)
	}
	cfg.chunk = max(cfg.sector, cfg.chunk/cfg.sector*cfg.sector)
	var largest int64 // no buffer larger than the largest source needs
	for _, s := range srcs {
		largest = max(largest, s.Size)
	}
	if sectors := (largest + int64(cfg.sector) - 1) / int64(cfg.sector); sectors < int64(cfg.chunk/cfg.sector) {
		cfg.chunk = int(max(1, sectors)) * cfg.sector
	}
	switch {
	case cfg.maxRanges == 0:
		cfg.maxRanges = defaultMaxRanges
	case cfg.maxRanges < 0:
		cfg.maxRanges = 0
	}
	if opt.DataSize < 0 {
		return cfg, fmt.Errorf("invalid data size %d", opt.DataSize)
	}
	for _, s := range srcs {
		switch {
		case s.R == nil:
			return cfg, fmt.Errorf("%s: no reader", s.Name)
		case s.Size < 0:
			return cfg, fmt.Errorf("%s: invalid size %d", s.Name, s.Size)
		case s.DataOffset < 0 || s.DataOffset > s.Size:
			return cfg, fmt.Errorf("%s: data offset %#x outside the image (%d bytes)", s.Name, s.DataOffset, s.Size)
		case opt.DataSize > s.Size-s.DataOffset:
			return cfg, fmt.Errorf("%s: data area of %d bytes at byte %#x does not fit in the image (%d bytes)",
				s.Name, opt.DataSize, s.DataOffset, s.Size)
		}
	}
	var err error
	cfg.hashes, err = hashNames(opt.Hashes)
	return cfg, err
}

// startProgress calls progress every progressInterval from one goroutine
// until the returned stop is called; stop(true) makes a last call first.
// stop waits for the goroutine and may be called more than once.
func startProgress(progress func(done, total int64), done *atomic.Int64, total int64) (stop func(final bool)) {
	if progress == nil {
		return func(bool) {}
	}
	quit := make(chan bool)
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		t := time.NewTicker(progressInterval)
		defer t.Stop()
		for {
			select {
			case <-t.C:
				progress(done.Load(), total)
			case final := <-quit:
				if final {
					progress(done.Load(), total)
				}
				return
			}
		}
	}()
	var once sync.Once
	return func(final bool) {
		once.Do(func() {
			quit <- final
			<-finished
		})
	}
}

// reader reads one source from start to end in chunks: the bytes before
// the data area and after it only to hash them, the data area also to hand
// each chunk to the comparator, in order, through out. A nil chunk is a
// hole: zeros that were not read.
type reader struct {
	i        int
	src      Source
	chunk    int
	dataSize int64
	zero     func() []byte
	hashes   []hash.Hash
	send     bool          // hand data-area chunks to the comparator
	out      chan []byte   // data-area chunks, nil for a hole
	free     chan []byte   // buffers back from the comparator
	nbuf     int           // buffers allocated, at most bufDepth
	done     *atomic.Int64 // bytes processed over all readers
	read     int64         // bytes read by this reader

	// Known extents, so that HoleFinder is asked once per extent, not once
	// per chunk: [.., dataEnd) holds data, [.., holeEnd) is a hole.
	dataEnd, holeEnd int64
}

func (r *reader) run(ctx context.Context) error {
	hashing := len(r.hashes) > 0
	start, end := r.src.DataOffset, r.src.DataOffset+r.dataSize
	if hashing {
		if err := r.hashOnly(ctx, 0, start); err != nil {
			return err
		}
	}
	if r.send || hashing {
		for off := start; off < end; off += int64(r.chunk) {
			if err := ctx.Err(); err != nil {
				return err
			}
			buf, err := r.load(ctx, off, int(min(int64(r.chunk), end-off)))
			if err != nil {
				return err
			}
			if !r.send {
				r.recycle(buf)
				continue
			}
			select {
			case r.out <- buf:
			case <-ctx.Done():
				return ctx.Err()
			}
		}
	}
	if hashing {
		return r.hashOnly(ctx, end, r.src.Size)
	}
	return nil
}

// hashOnly reads [lo, hi) for the hashes alone.
func (r *reader) hashOnly(ctx context.Context, lo, hi int64) error {
	for off := lo; off < hi; off += int64(r.chunk) {
		if err := ctx.Err(); err != nil {
			return err
		}
		buf, err := r.load(ctx, off, int(min(int64(r.chunk), hi-off)))
		if err != nil {
			return err
		}
		r.recycle(buf)
	}
	return nil
}

// load returns the n bytes at off, hashed: a buffer, or nil when they lie
// in a hole.
func (r *reader) load(ctx context.Context, off int64, n int) ([]byte, error) {
	if r.inHole(off, off+int64(n)) {
		for _, h := range r.hashes {
			h.Write(r.zero()[:n])
		}
		r.done.Add(int64(n))
		return nil, nil
	}
	buf, err := r.buffer(ctx)
	if err != nil {
		return nil, err
	}
	buf = buf[:n]
	got, err := r.src.R.ReadAt(buf, off)
	r.read += int64(got)
	if got < n || (err != nil && err != io.EOF) {
		r.recycle(buf)
		if got < n && (err == nil || err == io.EOF) {
			err = fmt.Errorf("short read, %d of %d bytes (source is %d bytes): %w", got, n, r.src.Size, io.ErrUnexpectedEOF)
		}
		return nil, &ReadError{Source: r.i, Name: r.src.Name, Off: off + int64(got), Len: n - got, Err: err}
	}
	for _, h := range r.hashes {
		h.Write(buf)
	}
	r.done.Add(int64(n))
	return buf, nil
}

// buffer returns a free chunk buffer, allocating up to bufDepth of them.
func (r *reader) buffer(ctx context.Context) ([]byte, error) {
	select {
	case b := <-r.free:
		return b, nil
	default:
	}
	if r.nbuf < bufDepth {
		r.nbuf++
		return make([]byte, r.chunk), nil
	}
	select {
	case b := <-r.free:
		return b, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

func (r *reader) recycle(b []byte) {
	if b != nil {
		r.free <- b[:cap(b)]
	}
}

// inHole reports whether [lo, hi) lies entirely in a hole.
func (r *reader) inHole(lo, hi int64) bool {
	h := r.src.Holes
	switch {
	case h == nil || lo < r.dataEnd:
		return false
	case hi <= r.holeEnd:
		return true
	}
	d, err := h.NextData(lo)
	if err != nil || d < lo {
		// Hole reporting is only a shortcut: without it, read everything.
		r.dataEnd = math.MaxInt64
		return false
	}
	if d >= hi {
		r.holeEnd = d
		return true
	}
	e, err := h.NextHole(d)
	if err != nil || e <= d {
		e = math.MaxInt64
	}
	r.dataEnd = e
	return false
}

// comparator compares the sources' chunks and merges differing sectors
// into ranges.
type comparator struct {
	sector  int
	block   int
	zero    func() []byte
	res     *DiffResult
	max     int
	onRange func(Range)

	lab  []int // group of each source in the sector at hand
	reps []int // first source of each group

	open       bool // a range is being extended
	start, end int64
	openLab    []int
	openGroups int
}

func newComparator(n int, cfg diffConfig, zero func() []byte, res *DiffResult, onRange func(Range)) *comparator {
	return &comparator{
		sector:  cfg.sector,
		block:   max(cfg.sector, cmpBlock/cfg.sector*cfg.sector),
		zero:    zero,
		res:     res,
		max:     cfg.maxRanges,
		onRange: onRange,
		lab:     make([]int, n),
		reps:    make([]int, 0, n),
		openLab: make([]int, n),
	}
}

// compare compares the n-byte chunk at data-area offset base; bufs[i] is
// source i's, nil for zeros.
func (c *comparator) compare(base int64, bufs [][]byte, n int) {
	if c.allEqual(bufs, 0, n) {
		c.flush()
		return
	}
	for blo := 0; blo < n; blo += c.block {
		bhi := min(blo+c.block, n)
		if c.allEqual(bufs, blo, bhi) {
			c.flush()
			continue
		}
		for lo := blo; lo < bhi; lo += c.sector {
			c.compareSector(base, bufs, lo, min(lo+c.sector, bhi))
		}
	}
}

func (c *comparator) compareSector(base int64, bufs [][]byte, lo, hi int) {
	groups := c.partition(bufs, lo, hi)
	if groups == 1 {
		c.flush()
		return
	}
	start, end := base+int64(lo), base+int64(hi)
	if c.open && c.end == start && slices.Equal(c.lab, c.openLab) {
		c.end = end
		return
	}
	c.flush()
	c.open, c.start, c.end, c.openGroups = true, start, end, groups
	copy(c.openLab, c.lab)
}

// partition sets c.lab to the group of each source in [lo, hi), numbering
// groups by their first source, and returns the number of groups.
func (c *comparator) partition(bufs [][]byte, lo, hi int) int {
	c.reps = c.reps[:0]
	for i, b := range bufs {
		g := len(c.reps)
		for k, rep := range c.reps {
			if c.equal(bufs[rep], b, lo, hi) {
				g = k
				break
			}
		}
		if g == len(c.reps) {
			c.reps = append(c.reps, i)
		}
		c.lab[i] = g
	}
	return len(c.reps)
}

func (c *comparator) allEqual(bufs [][]byte, lo, hi int) bool {
	for _, b := range bufs[1:] {
		if !c.equal(bufs[0], b, lo, hi) {
			return false
		}
	}
	return true
}

// equal compares a[lo:hi] and b[lo:hi], where nil stands for zeros.
func (c *comparator) equal(a, b []byte, lo, hi int) bool {
	switch {
	case a == nil && b == nil:
		return true
	case a == nil:
		return bytes.Equal(b[lo:hi], c.zero()[:hi-lo])
	case b == nil:
		return bytes.Equal(a[lo:hi], c.zero()[:hi-lo])
	}
	return bytes.Equal(a[lo:hi], b[lo:hi])
}

// flush ends the open range, if any, and records it.
func (c *comparator) flush() {
	if !c.open {
		return
	}
	c.open = false
	r := Range{Offset: c.start, Length: c.end - c.start, Groups: make([][]int, c.openGroups)}
	all := make([]int, 0, len(c.openLab)) // one allocation for all groups
	for g := range r.Groups {
		from := len(all)
		for i, l := range c.openLab {
			if l == g {
				all = append(all, i)
			}
		}
		r.Groups[g] = all[from:len(all):len(all)]
	}
	res := c.res
	res.RangesTotal++
	res.Bytes += r.Length
	for i, li := range c.openLab {
		for j := i + 1; j < len(c.openLab); j++ {
			if li != c.openLab[j] {
				res.PairBytes[i][j] += r.Length
				res.PairBytes[j][i] += r.Length
			}
		}
	}
	if len(res.Ranges) < c.max {
		res.Ranges = append(res.Ranges, r)
	}
	if c.onRange != nil {
		c.onRange(r)
	}
}
