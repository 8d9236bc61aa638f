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
	// Unreadable lists the byte ranges of R known not to have been read
	// from the disk the image was made of (the unfinished blocks of a
	// ddrescue mapfile, an E01 error section), in order and not
	// overlapping. Their bytes are read and hashed as they are, but never
	// compared: a sector touching one is unreadable for this source.
	Unreadable []Extent
}

// Extent is a run of bytes.
type Extent struct {
	Off, Len int64
}

// End is Off+Len.
func (e Extent) End() int64 { return e.Off + e.Len }

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
	// OnUnread, if set, is called for every unreadable range in offset
	// order, those beyond MaxRanges included, from the goroutine that
	// called Diff, interleaved in offset order with OnRange.
	OnUnread func(UnreadRange)
}

// UnreadRange is a run of sectors that some sources could not read (a
// read error that retrying sector by sector did not clear, or a range the
// source declares unreadable), with the same sources unreadable and the
// same grouping of the others throughout. Such sectors are neither equal
// nor different: they are not part of any Range.
type UnreadRange struct {
	Offset, Length int64 // bytes from the start of the data area
	Unreadable     []int // the sources that could not read it, in order
	// Groups partitions the other sources by identical content, as in
	// Range; empty when no source read it.
	Groups [][]int
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
	// and j differ; symmetric, with a zero diagonal. It includes the bytes
	// of unreadable ranges that i and j both read and hold differently
	// (possible with three or more sources), which are in no Range.
	PairBytes [][]int64
	// Hashes[i] maps each requested algorithm to the lower-case hex digest
	// of source i's whole image; the maps are nil when none was requested.
	Hashes []map[string]string
	// Read is the number of bytes read from the sources; holes are not read.
	Read int64

	// Unread are the first MaxRanges unreadable ranges of the data areas;
	// UnreadTotal counts all of them and UnreadBytes their bytes.
	Unread      []UnreadRange
	UnreadTotal int64
	UnreadBytes int64
	// UnreadBy[i] is the number of data-area bytes source i could not read
	// or declares unreadable.
	UnreadBy []int64
	// ReadErrors[i] are the byte ranges of source i's ReaderAt whose reads
	// failed even sector by sector (merged, the first maxReadErrors of
	// them), anywhere in the image; ReadErrorBytes[i] counts all their
	// bytes and ReadErrorRanges[i] all the ranges. A source with read
	// errors has no hashes (Hashes[i] is nil): the image's bytes are not
	// all known.
	ReadErrors      [][]Extent
	ReadErrorBytes  []int64
	ReadErrorRanges []int64
	// FirstReadError[i] is the first error source i returned, nil when none.
	FirstReadError []error
}

// maxReadErrors bounds the read-error ranges kept per source.
const maxReadErrors = 100000

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
// A read that fails (an I/O error, a short read) is retried in halves down
// to the sector size; the sectors that still fail are unreadable for that
// source (DiffResult.ReadErrors, UnreadRange) and the diff goes on. They
// are never taken for zeros and never make a range "differ".
//
// With one source there is nothing to compare: Diff only hashes.
// When ctx is cancelled, Diff stops all its goroutines and returns
// ctx.Err().
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
		PairBytes:       make([][]int64, n),
		Hashes:          make([]map[string]string, n),
		UnreadBy:        make([]int64, n),
		ReadErrors:      make([][]Extent, n),
		ReadErrorBytes:  make([]int64, n),
		ReadErrorRanges: make([]int64, n),
		FirstReadError:  make([]error, n),
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
			i: i, src: s, chunk: cfg.chunk, sector: cfg.sector, dataSize: opt.DataSize,
			zero: zero, done: &done, send: compare,
			free: make(chan []byte, bufDepth),
		}
		if compare {
			r.out = make(chan chunk, bufDepth)
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
		c := newComparator(n, cfg, zero, res, opt.OnRange, opt.OnUnread)
		bufs := make([][]byte, n)
		bad := make([][]Extent, n)
	chunks:
		for off := int64(0); off < opt.DataSize; off += int64(cfg.chunk) {
			for i, r := range readers {
				select {
				case ch := <-r.out:
					bufs[i], bad[i] = ch.buf, ch.bad
				case <-inner.Done():
					failed.Store(true)
					break chunks
				}
			}
			c.compare(off, bufs, bad, int(min(int64(cfg.chunk), opt.DataSize-off)))
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
		res.ReadErrors[i], res.ReadErrorBytes[i], res.ReadErrorRanges[i], res.FirstReadError[i] = r.errs, r.errBytes, r.errRanges, r.firstErr
		if hashing && r.errBytes == 0 {
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
	sector   int
	dataSize int64
	zero     func() []byte
	hashes   []hash.Hash
	send     bool          // hand data-area chunks to the comparator
	out      chan chunk    // data-area chunks
	free     chan []byte   // buffers back from the comparator
	nbuf     int           // buffers allocated, at most bufDepth
	done     *atomic.Int64 // bytes processed over all readers
	read     int64         // bytes read by this reader

	// Known extents, so that HoleFinder is asked once per extent, not once
	// per chunk: [.., dataEnd) holds data, [.., holeEnd) is a hole.
	dataEnd, holeEnd int64

	// Read errors: merged ranges of the ReaderAt (the first maxReadErrors),
	// and the totals.
	errs      []Extent
	errBytes  int64
	errRanges int64
	firstErr  error
	lastErr   error
	unread    int // index of the first Source.Unreadable extent not yet passed
}

// chunk is one data-area chunk handed to the comparator: its bytes (nil
// for a hole: zeros that were not read) and its unreadable ranges, relative
// to the chunk's start, in order.
type chunk struct {
	buf []byte
	bad []Extent
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
			n := int(min(int64(r.chunk), end-off))
			buf, bad, err := r.load(ctx, off, n)
			if err != nil {
				return err
			}
			if !r.send {
				r.recycle(buf)
				continue
			}
			bad = r.known(off, n, bad)
			select {
			case r.out <- chunk{buf, bad}:
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
		buf, _, err := r.load(ctx, off, int(min(int64(r.chunk), hi-off)))
		if err != nil {
			return err
		}
		r.recycle(buf)
	}
	return nil
}

// load returns the n bytes at off, hashed: a buffer, or nil when they lie
// in a hole, and the ranges (relative to off) that could not be read even
// sector by sector; their bytes in the buffer are zeros, hashed as such
// (the source's hashes are then dropped). Only a cancelled ctx is an error.
func (r *reader) load(ctx context.Context, off int64, n int) ([]byte, []Extent, error) {
	if r.inHole(off, off+int64(n)) {
		for _, h := range r.hashes {
			h.Write(r.zero()[:n])
		}
		r.done.Add(int64(n))
		return nil, nil, nil
	}
	buf, err := r.buffer(ctx)
	if err != nil {
		return nil, nil, err
	}
	buf = buf[:n]
	var bad []Extent
	if err := r.readAt(buf, off); err != nil {
		if notMedia(err) {
			r.recycle(buf)
			return nil, nil, err
		}
		if bad, err = r.retry(ctx, buf, off, 0, nil); err != nil {
			r.recycle(buf)
			return nil, nil, err
		}
	}
	for _, h := range r.hashes {
		h.Write(buf)
	}
	r.done.Add(int64(n))
	return buf, bad, nil
}

// notMedia reports whether a read error lies in the source's own
// structure rather than in its media (a damaged container: see
// image.ContainerError): it stops the diff instead of making bytes
// unreadable.
func notMedia(err error) bool {
	var nm interface{ NotMediaError() bool }
	return errors.As(err, &nm) && nm.NotMediaError()
}

// readAt reads all of p at off, or returns the error (a short read is one).
func (r *reader) readAt(p []byte, off int64) error {
	got, err := r.src.R.ReadAt(p, off)
	r.read += int64(got)
	if got == len(p) {
		return nil
	}
	if err == nil || err == io.EOF {
		err = fmt.Errorf("short read, %d of %d bytes (source is %d bytes): %w", got, len(p), r.src.Size, io.ErrUnexpectedEOF)
	}
	r.lastErr = &ReadError{Source: r.i, Name: r.src.Name, Off: off + int64(got), Len: len(p) - got, Err: err}
	return r.lastErr
}

// retry reads p (at off; base is p's offset in the chunk) again in halves,
// down to the sector size, after a failed read of all of it (r.lastErr):
// the sectors that still fail are zeroed, recorded as read errors and
// appended to bad.
func (r *reader) retry(ctx context.Context, p []byte, off int64, base int, bad []Extent) ([]Extent, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if len(p) <= r.sector {
		clear(p)
		r.readError(off, len(p), r.lastErr)
		if k := len(bad) - 1; k >= 0 && bad[k].End() == int64(base) {
			bad[k].Len += int64(len(p))
		} else {
			bad = append(bad, Extent{int64(base), int64(len(p))})
		}
		return bad, nil
	}
	// Halves on a sector boundary, relative to the chunk's start (chunks
	// start on sector boundaries of the ReaderAt's offsets in the data
	// area).
	half := (len(p)/2 + r.sector - 1) / r.sector * r.sector
	if half >= len(p) {
		half = r.sector
	}
	for _, part := range []struct{ lo, hi int }{{0, half}, {half, len(p)}} {
		q := p[part.lo:part.hi]
		if err := r.readAt(q, off+int64(part.lo)); err == nil {
			continue
		} else if notMedia(err) {
			return nil, err
		}
		var err error
		if bad, err = r.retry(ctx, q, off+int64(part.lo), base+part.lo, bad); err != nil {
			return nil, err
		}
	}
	return bad, nil
}

// readError records that the n bytes at off could not be read.
func (r *reader) readError(off int64, n int, err error) {
	if r.firstErr == nil {
		r.firstErr = err
	}
	r.errBytes += int64(n)
	if k := len(r.errs) - 1; k >= 0 && r.errs[k].End() == off {
		r.errs[k].Len += int64(n)
		return
	}
	r.errRanges++
	if len(r.errs) < maxReadErrors {
		r.errs = append(r.errs, Extent{off, int64(n)})
	}
}

// known adds to bad (relative to off, in order) the source's declared
// unreadable ranges that meet [off, off+n), and returns them in order,
// merged.
func (r *reader) known(off int64, n int, bad []Extent) []Extent {
	u := r.src.Unreadable
	for r.unread < len(u) && u[r.unread].End() <= off {
		r.unread++
	}
	end := off + int64(n)
	var add []Extent
	for k := r.unread; k < len(u) && u[k].Off < end; k++ {
		lo, hi := max(u[k].Off, off), min(u[k].End(), end)
		if lo < hi {
			add = append(add, Extent{lo - off, hi - lo})
		}
	}
	if len(add) == 0 {
		return bad
	}
	if len(bad) == 0 {
		return add
	}
	all := append(add, bad...)
	slices.SortFunc(all, func(a, b Extent) int { return cmpInt64(a.Off, b.Off) })
	out := all[:1]
	for _, e := range all[1:] {
		last := &out[len(out)-1]
		if e.Off <= last.End() {
			last.Len = max(last.End(), e.End()) - last.Off
			continue
		}
		out = append(out, e)
	}
	return out
}

func cmpInt64(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
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
// into ranges, and unreadable sectors into unreadable ranges.
type comparator struct {
	sector   int
	block    int
	zero     func() []byte
	res      *DiffResult
	max      int
	onRange  func(Range)
	onUnread func(UnreadRange)

	lab  []int // group of each source in the sector at hand; -1 unreadable
	reps []int // first source of each group

	open       bool // a range is being extended
	start, end int64
	openLab    []int
	openGroups int

	uopen            bool // an unreadable range is being extended
	ustart, uend     int64
	uLab             []int
	uGroups          int
	bad              [][]Extent // per source, the chunk's unreadable ranges
	cur              []int      // per source, the first of bad not yet passed
	readable, unread []bool
}

func newComparator(n int, cfg diffConfig, zero func() []byte, res *DiffResult, onRange func(Range), onUnread func(UnreadRange)) *comparator {
	return &comparator{
		sector:   cfg.sector,
		block:    max(cfg.sector, cmpBlock/cfg.sector*cfg.sector),
		zero:     zero,
		res:      res,
		max:      cfg.maxRanges,
		onRange:  onRange,
		onUnread: onUnread,
		lab:      make([]int, n),
		reps:     make([]int, 0, n),
		openLab:  make([]int, n),
		uLab:     make([]int, n),
		cur:      make([]int, n),
		unread:   make([]bool, n),
	}
}

// compare compares the n-byte chunk at data-area offset base; bufs[i] is
// source i's, nil for zeros, and bad[i] its unreadable ranges.
func (c *comparator) compare(base int64, bufs [][]byte, bad [][]Extent, n int) {
	c.bad = bad
	anyBad := false
	for i, b := range bad {
		c.cur[i] = 0
		anyBad = anyBad || len(b) > 0
	}
	if !anyBad && c.allEqual(bufs, 0, n) {
		c.flush()
		return
	}
	for blo := 0; blo < n; blo += c.block {
		bhi := min(blo+c.block, n)
		blockBad := anyBad && c.anyUnread(blo, bhi)
		if !blockBad && c.allEqual(bufs, blo, bhi) {
			c.flush()
			continue
		}
		for lo := blo; lo < bhi; lo += c.sector {
			hi := min(lo+c.sector, bhi)
			if blockBad && c.anyUnread(lo, hi) {
				c.unreadSector(base, bufs, lo, hi)
				continue
			}
			c.compareSector(base, bufs, lo, hi)
		}
	}
}

// anyUnread sets c.unread to the sources with an unreadable byte in
// [lo, hi) and reports whether there is one. Calls within a chunk must come
// with lo not decreasing.
func (c *comparator) anyUnread(lo, hi int) bool {
	found := false
	for i, b := range c.bad {
		k := c.cur[i]
		for k < len(b) && b[k].End() <= int64(lo) {
			k++
		}
		c.cur[i] = k
		c.unread[i] = k < len(b) && b[k].Off < int64(hi)
		found = found || c.unread[i]
	}
	return found
}

func (c *comparator) compareSector(base int64, bufs [][]byte, lo, hi int) {
	groups := c.partition(bufs, lo, hi, nil)
	if groups == 1 {
		c.flush()
		return
	}
	c.flushUnread()
	start, end := base+int64(lo), base+int64(hi)
	if c.open && c.end == start && slices.Equal(c.lab, c.openLab) {
		c.end = end
		return
	}
	c.flushRange()
	c.open, c.start, c.end, c.openGroups = true, start, end, groups
	copy(c.openLab, c.lab)
}

// unreadSector records a sector some sources (c.unread) could not read.
func (c *comparator) unreadSector(base int64, bufs [][]byte, lo, hi int) {
	c.flushRange()
	groups := c.partition(bufs, lo, hi, c.unread)
	start, end := base+int64(lo), base+int64(hi)
	if c.uopen && c.uend == start && slices.Equal(c.lab, c.uLab) {
		c.uend = end
		return
	}
	c.flushUnread()
	c.uopen, c.ustart, c.uend, c.uGroups = true, start, end, groups
	copy(c.uLab, c.lab)
}

// partition sets c.lab to the group of each source in [lo, hi), numbering
// groups by their first source, and returns the number of groups. Sources
// marked in skip (nil for none) get -1 and no group.
func (c *comparator) partition(bufs [][]byte, lo, hi int, skip []bool) int {
	c.reps = c.reps[:0]
	for i, b := range bufs {
		if skip != nil && skip[i] {
			c.lab[i] = -1
			continue
		}
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

// flush ends the open ranges, if any, and records them.
func (c *comparator) flush() {
	c.flushRange()
	c.flushUnread()
}

// groupsOf turns labels into groups of source indices.
func groupsOf(lab []int, n int) [][]int {
	groups := make([][]int, n)
	all := make([]int, 0, len(lab)) // one allocation for all groups
	for g := range groups {
		from := len(all)
		for i, l := range lab {
			if l == g {
				all = append(all, i)
			}
		}
		groups[g] = all[from:len(all):len(all)]
	}
	return groups
}

// flushRange ends the open differing range, if any, and records it.
func (c *comparator) flushRange() {
	if !c.open {
		return
	}
	c.open = false
	r := Range{Offset: c.start, Length: c.end - c.start, Groups: groupsOf(c.openLab, c.openGroups)}
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

// flushUnread ends the open unreadable range, if any, and records it.
func (c *comparator) flushUnread() {
	if !c.uopen {
		return
	}
	c.uopen = false
	u := UnreadRange{Offset: c.ustart, Length: c.uend - c.ustart, Groups: groupsOf(c.uLab, c.uGroups)}
	for i, l := range c.uLab {
		if l < 0 {
			u.Unreadable = append(u.Unreadable, i)
			c.res.UnreadBy[i] += u.Length
			continue
		}
		// Members that read it and hold different copies differ here,
		// though the range is not a Range (three or more members).
		for j := i + 1; j < len(c.uLab); j++ {
			if lj := c.uLab[j]; lj >= 0 && lj != l {
				c.res.PairBytes[i][j] += u.Length
				c.res.PairBytes[j][i] += u.Length
			}
		}
	}
	res := c.res
	res.UnreadTotal++
	res.UnreadBytes += u.Length
	if len(res.Unread) < c.max {
		res.Unread = append(res.Unread, u)
	}
	if c.onUnread != nil {
		c.onUnread(u)
	}
}
