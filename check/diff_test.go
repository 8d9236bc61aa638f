package check_test

import (
	"bytes"
	"context"
	"crypto/md5"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mirrorchk/mirrorchk/check"
	"github.com/mirrorchk/mirrorchk/image"
)

// randBytes returns n reproducible pseudo-random bytes.
func randBytes(seed uint64, n int) []byte {
	b := make([]byte, n)
	var key [32]byte
	for i := range 8 {
		key[i] = byte(seed >> (8 * i))
	}
	rand.NewChaCha8(key).Read(b)
	return b
}

// member is a test image: data area at off, with garbage around it.
type member struct {
	img []byte
	off int64
}

func (m member) source(name string) check.Source {
	return check.Source{Name: name, R: bytes.NewReader(m.img), Size: int64(len(m.img)), DataOffset: m.off}
}

// members returns n images whose data areas of size bytes are identical,
// at the given offsets, with different random bytes before and tail bytes
// after them.
func members(seed uint64, size int64, offs []int64, tail int64) []member {
	data := randBytes(seed, int(size))
	ms := make([]member, len(offs))
	for i, off := range offs {
		img := randBytes(seed+uint64(i)+1000, int(off+size+tail))
		copy(img[off:], data)
		ms[i] = member{img, off}
	}
	return ms
}

func sources(ms []member) []check.Source {
	srcs := make([]check.Source, len(ms))
	for i, m := range ms {
		srcs[i] = m.source(fmt.Sprintf("m%d.img", i))
	}
	return srcs
}

// checkGoroutines fails t if goroutines started during the test are still
// running when it ends.
func checkGoroutines(t *testing.T) {
	t.Helper()
	before := runtime.NumGoroutine()
	t.Cleanup(func() {
		deadline := time.Now().Add(2 * time.Second)
		for runtime.NumGoroutine() > before && time.Now().Before(deadline) {
			time.Sleep(5 * time.Millisecond)
		}
		if n := runtime.NumGoroutine(); n > before {
			buf := make([]byte, 1<<16)
			buf = buf[:runtime.Stack(buf, true)]
			t.Errorf("%d goroutines leaked:\n%s", n-before, buf)
		}
	})
}

func TestDiff(t *testing.T) {
	const ss = 512
	// edit changes sector sec of source src's data area: to a value shared
	// by all edits with the same val (so sources can agree on a new value).
	type edit struct {
		src, sec int
		val      byte
	}
	type want struct {
		off, len int64
		groups   [][]int
	}
	tests := []struct {
		name     string
		offs     []int64 // data offsets; also the number of sources
		tail     int64
		size     int64 // data size
		chunk    int
		edits    []edit
		want     []want
		wantPair map[[2]int]int64
	}{
		{name: "identical", offs: []int64{0, 0}, size: 64 * ss},
		{name: "identical 3", offs: []int64{0, 4096, 512}, size: 64 * ss},
		{
			name: "one sector", offs: []int64{0, 0}, size: 64 * ss,
			edits: []edit{{1, 5, 1}},
			want:  []want{{5 * ss, ss, [][]int{{0}, {1}}}},
		},
		{
			name: "first and last sector", offs: []int64{0, 0}, size: 64 * ss,
			edits: []edit{{0, 0, 1}, {1, 63, 1}},
			want:  []want{{0, ss, [][]int{{0}, {1}}}, {63 * ss, ss, [][]int{{0}, {1}}}},
		},
		{
			name: "adjacent sectors merge", offs: []int64{0, 0}, size: 64 * ss,
			edits: []edit{{1, 5, 1}, {1, 6, 2}, {0, 7, 3}},
			want:  []want{{5 * ss, 3 * ss, [][]int{{0}, {1}}}},
		},
		{
			name: "gap splits", offs: []int64{0, 0}, size: 64 * ss,
			edits: []edit{{1, 5, 1}, {1, 7, 1}},
			want:  []want{{5 * ss, ss, [][]int{{0}, {1}}}, {7 * ss, ss, [][]int{{0}, {1}}}},
		},
		{
			name: "odd one out", offs: []int64{0, 0, 0}, size: 64 * ss,
			edits: []edit{{1, 3, 1}},
			want:  []want{{3 * ss, ss, [][]int{{0, 2}, {1}}}},
		},
		{
			name: "first one out", offs: []int64{0, 0, 0}, size: 64 * ss,
			edits: []edit{{0, 3, 1}},
			want:  []want{{3 * ss, ss, [][]int{{0}, {1, 2}}}},
		},
		{
			name: "all different", offs: []int64{0, 0, 0}, size: 64 * ss,
			edits: []edit{{1, 3, 1}, {2, 3, 2}},
			want:  []want{{3 * ss, ss, [][]int{{0}, {1}, {2}}}},
		},
		{
			name: "two agree on a new value", offs: []int64{0, 0, 0, 0}, size: 64 * ss,
			edits: []edit{{1, 3, 7}, {3, 3, 7}},
			want:  []want{{3 * ss, ss, [][]int{{0, 2}, {1, 3}}}},
		},
		{
			name: "partition change splits", offs: []int64{0, 0, 0}, size: 64 * ss,
			edits: []edit{{1, 3, 1}, {1, 4, 1}, {2, 5, 1}, {1, 6, 1}, {2, 6, 2}},
			want: []want{
				{3 * ss, 2 * ss, [][]int{{0, 2}, {1}}},
				{5 * ss, ss, [][]int{{0, 1}, {2}}},
				{6 * ss, ss, [][]int{{0}, {1}, {2}}},
			},
		},
		{
			name: "spans chunks", offs: []int64{0, 0}, size: 64 * ss, chunk: 8 * ss,
			edits: []edit{{1, 6, 1}, {1, 7, 1}, {1, 8, 1}, {1, 9, 1}, {1, 15, 1}, {1, 16, 1}, {1, 23, 1}},
			want: []want{
				{6 * ss, 4 * ss, [][]int{{0}, {1}}},
				{15 * ss, 2 * ss, [][]int{{0}, {1}}},
				{23 * ss, ss, [][]int{{0}, {1}}},
			},
		},
		{
			name: "spans many chunks", offs: []int64{0, 0}, size: 64 * ss, chunk: 2 * ss,
			edits: func() (e []edit) {
				for s := 3; s < 40; s++ {
					e = append(e, edit{0, s, byte(s)})
				}
				return e
			}(),
			want: []want{{3 * ss, 37 * ss, [][]int{{0}, {1}}}},
		},
		{
			name: "chunk not a multiple of sector", offs: []int64{0, 0}, size: 64 * ss, chunk: 3*ss + 100,
			edits: []edit{{1, 2, 1}, {1, 3, 1}},
			want:  []want{{2 * ss, 2 * ss, [][]int{{0}, {1}}}},
		},
		{
			name: "partial last sector", offs: []int64{0, 0}, size: 10*ss + 100, tail: 1000,
			edits: []edit{{1, 9, 1}, {1, 10, 1}},
			want:  []want{{9 * ss, ss + 100, [][]int{{0}, {1}}}},
		},
		{
			name: "different data offsets", offs: []int64{1 << 20, 0, 12345}, tail: 4096, size: 64 * ss, chunk: 4096,
			edits: []edit{{0, 10, 1}, {2, 63, 1}},
			want:  []want{{10 * ss, ss, [][]int{{0}, {1, 2}}}, {63 * ss, ss, [][]int{{0, 1}, {2}}}},
		},
		{
			name: "empty data area", offs: []int64{100, 0}, tail: 50, size: 0,
		},
	}
	for ti, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ms := members(uint64(ti), tt.size, tt.offs, tt.tail)
			for _, e := range tt.edits {
				m := ms[e.src]
				lo := m.off + int64(e.sec*ss)
				hi := min(lo+ss, m.off+tt.size)
				copy(m.img[lo:hi], bytes.Repeat([]byte{e.val ^ 0x5a}, ss))
			}
			var seen []check.Range
			res, err := check.Diff(context.Background(), sources(ms), check.DiffOptions{
				DataSize: tt.size, SectorSize: ss, ChunkSize: tt.chunk,
				OnRange: func(r check.Range) { seen = append(seen, r) },
			})
			if err != nil {
				t.Fatal(err)
			}
			var got []want
			for _, r := range res.Ranges {
				got = append(got, want{r.Offset, r.Length, r.Groups})
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("ranges = %v\nwant %v", got, tt.want)
			}
			if !reflect.DeepEqual(seen, res.Ranges) {
				t.Errorf("OnRange saw %v\nwant %v", seen, res.Ranges)
			}
			var bytes int64
			pair := make([][]int64, len(ms))
			for i := range pair {
				pair[i] = make([]int64, len(ms))
			}
			for _, w := range tt.want {
				bytes += w.len
				for gi, g := range w.groups {
					for _, h := range w.groups[gi+1:] {
						for _, i := range g {
							for _, j := range h {
								pair[i][j] += w.len
								pair[j][i] += w.len
							}
						}
					}
				}
			}
			if res.RangesTotal != int64(len(tt.want)) || res.Bytes != bytes {
				t.Errorf("RangesTotal, Bytes = %d, %d; want %d, %d", res.RangesTotal, res.Bytes, len(tt.want), bytes)
			}
			if !reflect.DeepEqual(res.PairBytes, pair) {
				t.Errorf("PairBytes = %v; want %v", res.PairBytes, pair)
			}
			if want := int64(len(ms)) * tt.size; res.Read != want {
				t.Errorf("Read = %d; want %d (the data areas only)", res.Read, want)
			}
			if len(res.Hashes) != len(ms) || res.Hashes[0] != nil {
				t.Errorf("Hashes = %v; want %d nil maps", res.Hashes, len(ms))
			}
		})
	}
}

func TestDiffMaxRanges(t *testing.T) {
	const ss, n = 512, 50
	ms := members(1, 2*n*ss, []int64{0, 0}, 0)
	for i := range n {
		ms[1].img[2*i*ss+7] ^= 1 // every other sector
	}
	for _, max := range []int{10, n, n + 1, -1} {
		var seen []int64
		res, err := check.Diff(context.Background(), sources(ms), check.DiffOptions{
			DataSize: 2 * n * ss, MaxRanges: max, ChunkSize: 4096,
			OnRange: func(r check.Range) { seen = append(seen, r.Offset) },
		})
		if err != nil {
			t.Fatal(err)
		}
		keep := min(n, max)
		if max < 0 {
			keep = 0
		}
		if len(res.Ranges) != keep || res.RangesTotal != n || res.Bytes != n*ss {
			t.Errorf("MaxRanges %d: %d ranges, total %d, %d bytes; want %d, %d, %d",
				max, len(res.Ranges), res.RangesTotal, res.Bytes, keep, n, n*ss)
		}
		if len(seen) != n {
			t.Fatalf("MaxRanges %d: OnRange called %d times; want %d", max, len(seen), n)
		}
		for i, off := range seen {
			if off != int64(2*i*ss) {
				t.Fatalf("MaxRanges %d: OnRange #%d at %d; want %d", max, i, off, 2*i*ss)
			}
		}
		if res.PairBytes[0][1] != n*ss {
			t.Errorf("PairBytes[0][1] = %d; want %d", res.PairBytes[0][1], n*ss)
		}
	}
	// The default keeps 10000.
	res, err := check.Diff(context.Background(), sources(ms), check.DiffOptions{DataSize: 2 * n * ss})
	if err != nil || len(res.Ranges) != n {
		t.Errorf("default MaxRanges: %d ranges, %v; want %d", len(res.Ranges), err, n)
	}
}

// wantHashes computes the digests of img with the standard library.
func wantHashes(img []byte) map[string]string {
	s256, s1, m5 := sha256.Sum256(img), sha1.Sum(img), md5.Sum(img)
	return map[string]string{
		"sha256": hex.EncodeToString(s256[:]),
		"sha1":   hex.EncodeToString(s1[:]),
		"md5":    hex.EncodeToString(m5[:]),
	}
}

func TestDiffHashes(t *testing.T) {
	tests := []struct {
		name   string
		offs   []int64
		tail   int64
		size   int64
		chunk  int
		hashes []string
	}{
		{"data area only", []int64{0, 0}, 0, 100 << 10, 0, []string{"sha256", "sha1", "md5"}},
		{"metadata around", []int64{1 << 20, 8192}, 3*4096 + 17, 300<<10 + 100, 4096, []string{"sha256", "sha1", "md5"}},
		{"one source", []int64{4096}, 4096, 64 << 10, 0, []string{"md5", "sha256"}},
		{"no data area", []int64{12345, 1}, 777, 0, 1024, []string{"sha1"}},
		{"duplicates", []int64{0, 0}, 0, 4096, 0, []string{"sha256", "sha256"}},
	}
	for ti, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ms := members(uint64(ti), tt.size, tt.offs, tt.tail)
			if tt.size > 0 && len(ms) > 1 {
				ms[1].img[ms[1].off+tt.size-1] ^= 0xff
			}
			res, err := check.Diff(context.Background(), sources(ms), check.DiffOptions{DataSize: tt.size, ChunkSize: tt.chunk, Hashes: tt.hashes})
			if err != nil {
				t.Fatal(err)
			}
			var read int64
			for i, m := range ms {
				read += int64(len(m.img))
				want := wantHashes(m.img)
				for k := range want {
					if !slices.Contains(tt.hashes, k) {
						delete(want, k)
					}
				}
				if !reflect.DeepEqual(res.Hashes[i], want) {
					t.Errorf("Hashes[%d] = %v; want %v", i, res.Hashes[i], want)
				}
			}
			if res.Read != read {
				t.Errorf("Read = %d; want %d (whole images)", res.Read, read)
			}
			if len(ms) > 1 && tt.size > 0 && res.RangesTotal != 1 {
				t.Errorf("RangesTotal = %d; want 1", res.RangesTotal)
			}
		})
	}
}

func TestDiffErrors(t *testing.T) {
	ok := member{make([]byte, 8192), 0}
	tests := []struct {
		name string
		srcs []check.Source
		opt  check.DiffOptions
		want string
	}{
		{"no sources", nil, check.DiffOptions{}, "no sources"},
		{"data area too big", []check.Source{ok.source("a"), {Name: "b", R: bytes.NewReader(nil), Size: 8192, DataOffset: 4096}},
			check.DiffOptions{DataSize: 8192}, "b: data area of 8192 bytes at byte 0x1000 does not fit in the image (8192 bytes)"},
		{"data offset outside", []check.Source{{Name: "a", R: bytes.NewReader(nil), Size: 10, DataOffset: 11}}, check.DiffOptions{}, "a: data offset 0xb outside"},
		{"negative data offset", []check.Source{{Name: "a", R: bytes.NewReader(nil), Size: 10, DataOffset: -1}}, check.DiffOptions{}, "outside"},
		{"no reader", []check.Source{{Name: "a", Size: 10}}, check.DiffOptions{}, "a: no reader"},
		{"negative sector", []check.Source{ok.source("a")}, check.DiffOptions{SectorSize: -512}, "invalid sector size -512"},
		{"negative data size", []check.Source{ok.source("a")}, check.DiffOptions{DataSize: -1}, "invalid data size"},
		{"unknown hash", []check.Source{ok.source("a")}, check.DiffOptions{Hashes: []string{"sha512"}}, `unknown hash "sha512"`},
	}
	for _, tt := range tests {
		_, err := check.Diff(context.Background(), tt.srcs, tt.opt)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: error %v; want %q", tt.name, err, tt.want)
		}
	}
}

// failingReader fails every read that reaches byte failAt, like a disk
// with one bad byte there (to: failAt+1), or a file cut short (to: -1).
type failingReader struct {
	r      io.ReaderAt
	failAt int64
	to     int64
	err    error
}

func (f failingReader) ReadAt(p []byte, off int64) (int, error) {
	if off+int64(len(p)) > f.failAt && (f.to < 0 || off < f.to) {
		n, _ := f.r.ReadAt(p[:max(0, f.failAt-off)], off)
		return n, f.err
	}
	return f.r.ReadAt(p, off)
}

// A read error no longer stops the diff: the sectors that still fail
// when read one by one are unreadable for their source, reported with the
// error, and neither equal nor different; the source has no hashes.
func TestDiffReadError(t *testing.T) {
	const size = 1 << 20
	eio := errors.New("input/output error")
	tests := []struct {
		name    string
		src     int // the failing source
		failAt  int64
		err     error
		hashes  []string
		wantBad []check.Extent // read errors of the source, offsets of its ReaderAt
		unread  bool           // inside the data area
		wantIs  error
	}{
		{"data area", 1, 0x41234, eio, nil, []check.Extent{{0x41200, 0x200}}, true, eio},
		{"before data area, hashing", 0, 0x800, eio, []string{"md5"}, []check.Extent{{0x800, 0x200}}, false, eio},
		{"tail, hashing", 2, 4096 + size + 10, eio, []string{"sha1"}, []check.Extent{{4096 + size, 0x200}}, false, eio},
		{"short read", 1, size - 100, io.EOF, nil, []check.Extent{{size - 512, 0x200}}, true, io.ErrUnexpectedEOF},
		{"image error", 0, 0x2000, &image.ReadError{Path: "seg.002", Off: 0x1000, Len: 512, Err: eio}, nil, []check.Extent{{0x2000, 0x200}}, true, eio},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			checkGoroutines(t)
			ms := members(3, size, []int64{4096, 0, 4096}, 8192)
			srcs := sources(ms)
			to := tt.failAt + 1
			if tt.err == io.EOF { // the file ends early: no byte after failAt
				to = -1
			}
			srcs[tt.src].R = failingReader{srcs[tt.src].R, tt.failAt, to, tt.err}
			var unread []check.UnreadRange
			res, err := check.Diff(context.Background(), srcs, check.DiffOptions{DataSize: size, ChunkSize: 64 << 10, Hashes: tt.hashes,
				OnUnread: func(u check.UnreadRange) { unread = append(unread, u) }})
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(res.ReadErrors[tt.src], tt.wantBad) || res.ReadErrorBytes[tt.src] != tt.wantBad[0].Len || res.ReadErrorRanges[tt.src] != 1 {
				t.Errorf("read errors %x (%d bytes, %d ranges); want %x", res.ReadErrors[tt.src], res.ReadErrorBytes[tt.src], res.ReadErrorRanges[tt.src], tt.wantBad)
			}
			if !errors.Is(res.FirstReadError[tt.src], tt.wantIs) {
				t.Errorf("first error %v is not %v", res.FirstReadError[tt.src], tt.wantIs)
			}
			if res.Bytes != 0 || res.RangesTotal != 0 {
				t.Errorf("an unreadable sector differs: %d bytes in %d ranges", res.Bytes, res.RangesTotal)
			}
			if tt.hashes != nil && res.Hashes[tt.src] != nil {
				t.Errorf("hashes of a source with read errors: %v", res.Hashes[tt.src])
			}
			for i := range srcs {
				if i != tt.src && tt.hashes != nil && res.Hashes[i] == nil {
					t.Errorf("source %d lost its hashes", i)
				}
			}
			if !tt.unread {
				if len(unread) != 0 {
					t.Errorf("unreadable data-area ranges %v for an error outside the data area", unread)
				}
				return
			}
			var others []int
			for i := range srcs {
				if i != tt.src {
					others = append(others, i)
				}
			}
			doff := tt.wantBad[0].Off - srcs[tt.src].DataOffset
			want := []check.UnreadRange{{Offset: doff, Length: 512, Unreadable: []int{tt.src}, Groups: [][]int{others}}}
			if !reflect.DeepEqual(unread, want) || !reflect.DeepEqual(res.Unread, want) || res.UnreadBytes != 512 || res.UnreadTotal != 1 || res.UnreadBy[tt.src] != 512 {
				t.Errorf("unread %+v (kept %+v, %d bytes); want %+v", unread, res.Unread, res.UnreadBytes, want)
			}
		})
	}
}

// gateReader blocks every read after the first n until ctx is done, then
// reads normally; it counts reads.
type gateReader struct {
	r     io.ReaderAt
	n     int64
	reads *atomic.Int64
	gate  <-chan struct{}
}

func (g gateReader) ReadAt(p []byte, off int64) (int, error) {
	if g.reads.Add(1) > g.n {
		<-g.gate
	}
	return g.r.ReadAt(p, off)
}

func TestDiffCancel(t *testing.T) {
	checkGoroutines(t)
	ms := members(4, 4<<20, []int64{0, 0}, 0)

	// Cancelled before the start.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := check.Diff(ctx, sources(ms), check.DiffOptions{DataSize: 4 << 20}); err != context.Canceled {
		t.Errorf("cancelled context: error %v; want context.Canceled", err)
	}

	// Cancelled in the middle: reads stall after a few chunks; cancel
	// the context, then let the stalled reads finish. Diff must return
	// ctx.Err() and read nothing more.
	for _, hashes := range [][]string{nil, {"sha256"}} {
		ctx, cancel := context.WithCancel(context.Background())
		var reads atomic.Int64
		srcs := sources(ms)
		for i := range srcs {
			srcs[i].R = gateReader{srcs[i].R, 5, &reads, ctx.Done()}
		}
		errc := make(chan error, 1)
		go func() {
			_, err := check.Diff(ctx, srcs, check.DiffOptions{DataSize: 4 << 20, ChunkSize: 4096, Hashes: hashes})
			errc <- err
		}()
		stalled := int64(5 + len(srcs)) // every source waits in a read
		for reads.Load() < stalled {
			time.Sleep(time.Millisecond)
		}
		cancel()
		select {
		case err := <-errc:
			if err != context.Canceled {
				t.Errorf("hashes %v: error %v; want context.Canceled", hashes, err)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("hashes %v: Diff did not return after cancel", hashes)
		}
		if n := reads.Load(); n > stalled {
			t.Errorf("hashes %v: %d reads; want %d: none after cancel", hashes, n, stalled)
		}
	}
}

func TestDiffProgress(t *testing.T) {
	const size = 8 << 20
	ms := members(5, size, []int64{4096, 0}, 4096)
	srcs := sources(ms)
	for i := range srcs {
		srcs[i].R = slowReader{srcs[i].R, 2 * time.Millisecond}
	}
	var (
		calls, inside atomic.Int64
		mu            sync.Mutex
		last          [2]int64
		returned      atomic.Bool
	)
	start := time.Now()
	res, err := check.Diff(context.Background(), srcs, check.DiffOptions{
		DataSize: size, ChunkSize: 64 << 10, Hashes: []string{"md5"},
		Progress: func(done, total int64) {
			if inside.Add(1) != 1 {
				t.Error("Progress called concurrently")
			}
			if returned.Load() {
				t.Error("Progress called after Diff returned")
			}
			mu.Lock()
			if done < last[0] || total != 2*size+3*4096 || done > total {
				t.Errorf("Progress(%d, %d) after (%d, %d)", done, total, last[0], last[1])
			}
			last = [2]int64{done, total}
			mu.Unlock()
			calls.Add(1)
			inside.Add(-1)
		},
	})
	returned.Store(true)
	elapsed := time.Since(start)
	if err != nil {
		t.Fatal(err)
	}
	if res.RangesTotal != 0 {
		t.Errorf("RangesTotal = %d", res.RangesTotal)
	}
	if last[0] != last[1] {
		t.Errorf("last Progress(%d, %d); want done == total", last[0], last[1])
	}
	// About 130 reads of 2ms each per source: 260ms or more, so a few
	// calls, one per 100ms and a last one, not one per chunk.
	if n, limit := calls.Load(), int64(elapsed/(100*time.Millisecond))+2; n < 2 || n > limit {
		t.Errorf("Progress called %d times in %v; want 2 to %d", n, elapsed, limit)
	}
	time.Sleep(200 * time.Millisecond) // two progress intervals
}

type slowReader struct {
	r io.ReaderAt
	d time.Duration
}

func (s slowReader) ReadAt(p []byte, off int64) (int, error) {
	time.Sleep(s.d)
	return s.r.ReadAt(p, off)
}

// holeSource is a source with declared holes that reads as zeros there,
// and fails the test if it is asked to read a range that lies entirely in
// one of them.
type holeSource struct {
	t     *testing.T
	img   []byte
	holes [][2]int64 // sorted, disjoint, non-adjacent [lo, hi)
	read  *atomic.Int64
}

func (h holeSource) ReadAt(p []byte, off int64) (int, error) {
	for _, x := range h.holes {
		if off >= x[0] && off+int64(len(p)) <= x[1] {
			h.t.Errorf("read [%#x, %#x) inside hole [%#x, %#x)", off, off+int64(len(p)), x[0], x[1])
		}
	}
	h.read.Add(int64(len(p)))
	return bytes.NewReader(h.img).ReadAt(p, off)
}

func (h holeSource) NextData(off int64) (int64, error) {
	for _, x := range h.holes {
		if off < x[0] {
			return off, nil
		}
		if off < x[1] {
			return x[1], nil
		}
	}
	return min(off, int64(len(h.img))), nil
}

func (h holeSource) NextHole(off int64) (int64, error) {
	for _, x := range h.holes {
		if off < x[1] {
			return max(off, x[0]), nil
		}
	}
	return int64(len(h.img)), nil
}

func TestDiffHoleFinder(t *testing.T) {
	const chunk, size = 4096, 64 * 4096
	ms := members(6, size, []int64{0, 0, 0}, 0)
	// check.Source 0: holes over chunks 2-5 and part of 8-9; source 1 has zeros
	// (not holes) over chunks 2-3, source 2 random data there, except in
	// chunk 4, where only sector 3 differs from zero.
	holes := [][2]int64{{2 * chunk, 6 * chunk}, {8*chunk + 1024, 10 * chunk}, {60 * chunk, size}}
	for _, x := range holes {
		clear(ms[0].img[x[0]:x[1]])
		clear(ms[1].img[x[0]:x[1]])
		clear(ms[2].img[x[0]:x[1]])
	}
	ms[2].img[4*chunk+3*512] = 1
	ms[1].img[9*chunk+5] = 1
	var read atomic.Int64
	srcs := sources(ms)
	hs := holeSource{t, ms[0].img, holes, &read}
	srcs[0].R, srcs[0].Holes = hs, hs
	for _, hashes := range [][]string{nil, {"sha256"}} {
		read.Store(0)
		res, err := check.Diff(context.Background(), srcs, check.DiffOptions{DataSize: size, ChunkSize: chunk, Hashes: hashes})
		if err != nil {
			t.Fatal(err)
		}
		want := []check.Range{
			{4*chunk + 3*512, 512, [][]int{{0, 1}, {2}}},
			{9 * chunk, 512, [][]int{{0, 2}, {1}}},
		}
		if !reflect.DeepEqual(res.Ranges, want) {
			t.Errorf("hashes %v: ranges %v; want %v", hashes, res.Ranges, want)
		}
		// Chunks 2-5, 9 and 60-63 of source 0 are not read; chunk 8,
		// partly in a hole, is.
		if want := int64(3*size - 9*chunk); res.Read != want || read.Load() != size-9*chunk {
			t.Errorf("hashes %v: Read = %d, source 0 read %d; want %d, %d", hashes, res.Read, read.Load(), want, size-9*chunk)
		}
		if hashes != nil {
			for i, m := range ms {
				if got, want := res.Hashes[i]["sha256"], wantHashes(m.img)["sha256"]; got != want {
					t.Errorf("sha256 of %d = %s; want %s", i, got, want)
				}
			}
		}
	}
}

// TestDiffSparseImage diffs a sparse file opened through package image
// against a zero-filled file that is not sparse.
func TestDiffSparseImage(t *testing.T) {
	const blk, size = 64 << 10, 8 << 20
	dir := t.TempDir()
	content := make([]byte, size)
	copy(content[blk:], randBytes(7, blk))
	copy(content[40*blk:], randBytes(8, 2*blk))

	sparse := filepath.Join(dir, "sparse.img")
	f, err := os.Create(sparse)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Truncate(size); err != nil {
		t.Fatal(err)
	}
	for _, off := range []int64{blk, 40 * blk, 41 * blk} {
		if _, err := f.WriteAt(content[off:off+blk], off); err != nil {
			t.Fatal(err)
		}
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	full := filepath.Join(dir, "full.img")
	fullContent := bytes.Clone(content)
	fullContent[100*blk+600] = 0xee // one difference, in the sparse file's hole
	if err := os.WriteFile(full, fullContent, 0o644); err != nil {
		t.Fatal(err)
	}

	var srcs []check.Source
	for _, p := range []string{sparse, full} {
		im, err := image.Open(p)
		if err != nil {
			t.Fatal(err)
		}
		defer im.Close()
		srcs = append(srcs, check.Source{Name: p, R: im, Size: im.Size(), Holes: im})
	}
	holes := false
	if d, _ := srcs[0].Holes.NextData(0); d > 0 {
		holes = true
	}
	res, err := check.Diff(context.Background(), srcs, check.DiffOptions{DataSize: size, ChunkSize: blk, Hashes: []string{"sha256", "md5"}})
	if err != nil {
		t.Fatal(err)
	}
	want := []check.Range{{100*blk + 512, 512, [][]int{{0}, {1}}}}
	if !reflect.DeepEqual(res.Ranges, want) {
		t.Errorf("ranges %v; want %v", res.Ranges, want)
	}
	for i, c := range [][]byte{content, fullContent} {
		w := wantHashes(c)
		if res.Hashes[i]["sha256"] != w["sha256"] || res.Hashes[i]["md5"] != w["md5"] {
			t.Errorf("Hashes[%d] = %v; want sha256 %s, md5 %s", i, res.Hashes[i], w["sha256"], w["md5"])
		}
	}
	if holes {
		if want := int64(size + 3*blk); res.Read != want {
			t.Errorf("Read = %d; want %d (the sparse file's 3 data blocks and the full file)", res.Read, want)
		}
	} else {
		t.Log("file system reports no holes: read everything")
	}
}

// TestDiffMemory checks that memory does not grow with the image size:
// the bytes allocated by a diff of 4 sources stay within the chunk
// buffers, whatever the size.
func TestDiffMemory(t *testing.T) {
	const chunk = 128 << 10
	for _, size := range []int64{4 << 20, 32 << 20} {
		ms := members(9, size, []int64{0, 0, 0, 0}, 0)
		ms[1].img[size/2] ^= 1
		srcs := sources(ms)
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		res, err := check.Diff(context.Background(), srcs, check.DiffOptions{DataSize: size, ChunkSize: chunk, Hashes: []string{"sha256"}})
		runtime.ReadMemStats(&after)
		if err != nil {
			t.Fatal(err)
		}
		if res.RangesTotal != 1 {
			t.Errorf("RangesTotal = %d", res.RangesTotal)
		}
		limit := uint64(len(srcs)*4*chunk + 1<<20) // 4 buffers per source
		if got := after.TotalAlloc - before.TotalAlloc; got > limit {
			t.Errorf("%d MiB images: allocated %d bytes; want at most %d", size>>20, got, limit)
		}
	}
}

// naiveDiff is the reference: sector by sector, grouping by comparing
// every source with every group.
func naiveDiff(imgs [][]byte, offs []int64, size int64, ss int) (ranges []check.Range, pair [][]int64) {
	n := len(imgs)
	pair = make([][]int64, n)
	for i := range pair {
		pair[i] = make([]int64, n)
	}
	for lo := int64(0); lo < size; lo += int64(ss) {
		hi := min(lo+int64(ss), size)
		var groups [][]int
	next:
		for i := range n {
			for g := range groups {
				j := groups[g][0]
				if bytes.Equal(imgs[i][offs[i]+lo:offs[i]+hi], imgs[j][offs[j]+lo:offs[j]+hi]) {
					groups[g] = append(groups[g], i)
					continue next
				}
			}
			groups = append(groups, []int{i})
		}
		if len(groups) < 2 {
			continue
		}
		for gi, g := range groups {
			for _, h := range groups[gi+1:] {
				for _, i := range g {
					for _, j := range h {
						pair[i][j] += hi - lo
						pair[j][i] += hi - lo
					}
				}
			}
		}
		if k := len(ranges) - 1; k >= 0 && ranges[k].Offset+ranges[k].Length == lo && reflect.DeepEqual(ranges[k].Groups, groups) {
			ranges[k].Length += hi - lo
			continue
		}
		ranges = append(ranges, check.Range{lo, hi - lo, groups})
	}
	return ranges, pair
}

func TestDiffProperty(t *testing.T) {
	rnd := rand.New(rand.NewPCG(1, 2))
	iters := 400
	if testing.Short() {
		iters = 50
	}
	for it := range iters {
		n := 1 + rnd.IntN(4)
		ss := []int{1, 7, 64, 512, 512, 4096}[rnd.IntN(6)]
		size := rnd.Int64N(48 << 10)
		chunk := []int{0, 1, ss, 3 * ss, 1000, 4096, 5 * 4096}[rnd.IntN(7)]
		maxRanges := rnd.IntN(20) - 2
		var hashes []string
		if rnd.IntN(3) == 0 {
			hashes = []string{"sha256", "md5"}
		}
		base := randBytes(uint64(it), int(size))
		variants := [][]byte{base, randBytes(uint64(it)+7777, int(size)), make([]byte, size)}
		imgs := make([][]byte, n)
		offs := make([]int64, n)
		var holes [][][2]int64
		for i := range n {
			offs[i] = rnd.Int64N(3000)
			img := randBytes(uint64(it*10+i+1), int(offs[i]+size+rnd.Int64N(2000)))
			copy(img[offs[i]:], base)
			imgs[i] = img
		}
		// Differing sectors: each source takes the base, another value
		// or zeros, per sector, in runs.
		nsec := int((size + int64(ss) - 1) / int64(ss))
		for k := rnd.IntN(12); k > 0 && nsec > 0; k-- {
			s0 := rnd.IntN(nsec)
			run := 1 + rnd.IntN(min(nsec-s0, 1+nsec/8))
			lo, hi := int64(s0*ss), min(int64((s0+run)*ss), size)
			for i := range n {
				if v := rnd.IntN(4); v > 0 {
					copy(imgs[i][offs[i]+lo:offs[i]+hi], variants[v-1][lo:hi])
				}
			}
		}
		// Single flipped bytes.
		for k := rnd.IntN(6); k > 0 && size > 0; k-- {
			i := rnd.IntN(n)
			imgs[i][offs[i]+rnd.Int64N(size)] ^= byte(1 + rnd.IntN(255))
		}
		// Holes: zeroed, declared regions in some sources, anywhere.
		holes = make([][][2]int64, n)
		for i := range n {
			if rnd.IntN(2) == 0 {
				continue
			}
			at := int64(0)
			for k := rnd.IntN(4); k > 0; k-- {
				lo := at + rnd.Int64N(int64(len(imgs[i]))/4+1)
				hi := min(lo+1+rnd.Int64N(int64(len(imgs[i]))/3+1), int64(len(imgs[i])))
				if lo >= hi {
					break
				}
				clear(imgs[i][lo:hi])
				holes[i] = append(holes[i], [2]int64{lo, hi})
				at = hi + 1
			}
		}

		wantRanges, wantPair := naiveDiff(imgs, offs, size, ss)
		var read atomic.Int64
		srcs := make([]check.Source, n)
		for i := range n {
			srcs[i] = check.Source{Name: fmt.Sprint("m", i), R: bytes.NewReader(imgs[i]), Size: int64(len(imgs[i])), DataOffset: offs[i]}
			if holes[i] != nil {
				h := holeSource{t, imgs[i], holes[i], &read}
				srcs[i].R, srcs[i].Holes = h, h
			}
		}
		var seen []check.Range
		desc := fmt.Sprintf("#%d: %d sources, sector %d, size %d, chunk %d, max %d, holes %v", it, n, ss, size, chunk, maxRanges, holes)
		res, err := check.Diff(context.Background(), srcs, check.DiffOptions{
			DataSize: size, SectorSize: ss, ChunkSize: chunk, MaxRanges: maxRanges, Hashes: hashes,
			OnRange: func(r check.Range) { seen = append(seen, r) },
		})
		if err != nil {
			t.Fatalf("%s: %v", desc, err)
		}
		if n < 2 {
			wantRanges = nil
		}
		if !reflect.DeepEqual(seen, wantRanges) {
			t.Fatalf("%s:\nranges %v\nwant   %v", desc, seen, wantRanges)
		}
		keep := maxRanges
		if keep == 0 {
			keep = 10000 // the default
		}
		keep = max(0, min(keep, len(wantRanges)))
		if !reflect.DeepEqual(res.Ranges, wantRanges[:keep]) && keep > 0 {
			t.Fatalf("%s: kept ranges %v; want %v", desc, res.Ranges, wantRanges[:keep])
		}
		if len(res.Ranges) != keep {
			t.Fatalf("%s: kept %d ranges; want %d", desc, len(res.Ranges), keep)
		}
		var bytes int64
		for _, r := range wantRanges {
			bytes += r.Length
		}
		if res.RangesTotal != int64(len(wantRanges)) || res.Bytes != bytes {
			t.Fatalf("%s: RangesTotal, Bytes = %d, %d; want %d, %d", desc, res.RangesTotal, res.Bytes, len(wantRanges), bytes)
		}
		if !reflect.DeepEqual(res.PairBytes, wantPair) {
			t.Fatalf("%s: PairBytes %v; want %v", desc, res.PairBytes, wantPair)
		}
		for i := range n {
			if hashes == nil {
				if res.Hashes[i] != nil {
					t.Fatalf("%s: Hashes[%d] = %v; want nil", desc, i, res.Hashes[i])
				}
				continue
			}
			w := wantHashes(imgs[i])
			if res.Hashes[i]["sha256"] != w["sha256"] || res.Hashes[i]["md5"] != w["md5"] {
				t.Fatalf("%s: Hashes[%d] wrong", desc, i)
			}
		}
	}
}

// Three members of a mirror; the second has one stale sector.
func ExampleDiff() {
	m0 := bytes.Repeat([]byte("new "), 1024) // 4 KiB
	m1 := bytes.Clone(m0)
	copy(m1[1024:1536], bytes.Repeat([]byte("old "), 128))
	m2 := bytes.Clone(m0)
	srcs := []check.Source{
		{Name: "m0.img", R: bytes.NewReader(m0), Size: 4096},
		{Name: "m1.img", R: bytes.NewReader(m1), Size: 4096},
		{Name: "m2.img", R: bytes.NewReader(m2), Size: 4096},
	}
	res, err := check.Diff(context.Background(), srcs, check.DiffOptions{DataSize: 4096, Hashes: []string{"md5"}})
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, r := range res.Ranges {
		fmt.Printf("bytes %d-%d: groups %v\n", r.Offset, r.Offset+r.Length-1, r.Groups)
	}
	fmt.Println("m0 and m1 differ in", res.PairBytes[0][1], "bytes")
	fmt.Println("m0, m2 same md5:", res.Hashes[0]["md5"] == res.Hashes[2]["md5"])
	// Output:
	// bytes 1024-1535: groups [[0 2] [1]]
	// m0 and m1 differ in 512 bytes
	// m0, m2 same md5: true
}

// badReader fails, with EIO, every read that meets one of its bad ranges,
// returning the bytes before the first bad byte, as a failing disk does.
type badReader struct {
	r   io.ReaderAt
	bad []check.Extent
}

var errEIO = errors.New("input/output error")

func (b badReader) ReadAt(p []byte, off int64) (int, error) {
	end := off + int64(len(p))
	for _, x := range b.bad {
		if x.Off < end && x.End() > off {
			n, _ := b.r.ReadAt(p[:max(0, x.Off-off)], off)
			return n, errEIO
		}
	}
	return b.r.ReadAt(p, off)
}

// naiveUnread is the sector-by-sector model of Diff with unreadable
// sectors: a sector meeting a source's bad or declared range is unreadable
// for it; the others are grouped by content.
func naiveUnread(imgs [][]byte, offs []int64, size int64, ss int, bad [][]check.Extent) (ranges []check.Range, unread []check.UnreadRange, pair [][]int64) {
	n := len(imgs)
	pair = make([][]int64, n)
	for i := range pair {
		pair[i] = make([]int64, n)
	}
	for lo := int64(0); lo < size; lo += int64(ss) {
		hi := min(lo+int64(ss), size)
		var groups [][]int
		var u []int
	next:
		for i := range n {
			for _, x := range bad[i] {
				if x.Off < offs[i]+hi && x.End() > offs[i]+lo {
					u = append(u, i)
					continue next
				}
			}
			for g := range groups {
				j := groups[g][0]
				if bytes.Equal(imgs[i][offs[i]+lo:offs[i]+hi], imgs[j][offs[j]+lo:offs[j]+hi]) {
					groups[g] = append(groups[g], i)
					continue next
				}
			}
			groups = append(groups, []int{i})
		}
		for gi, g := range groups { // readable copies that differ
			for _, h := range groups[gi+1:] {
				for _, i := range g {
					for _, j := range h {
						pair[i][j] += hi - lo
						pair[j][i] += hi - lo
					}
				}
			}
		}
		if u != nil {
			if groups == nil {
				groups = [][]int{}
			}
			if k := len(unread) - 1; k >= 0 && unread[k].Offset+unread[k].Length == lo && reflect.DeepEqual(unread[k].Groups, groups) && slices.Equal(unread[k].Unreadable, u) {
				unread[k].Length += hi - lo
				continue
			}
			unread = append(unread, check.UnreadRange{Offset: lo, Length: hi - lo, Unreadable: u, Groups: groups})
			continue
		}
		if len(groups) < 2 {
			continue
		}
		if k := len(ranges) - 1; k >= 0 && ranges[k].Offset+ranges[k].Length == lo && reflect.DeepEqual(ranges[k].Groups, groups) &&
			(len(unread) == 0 || unread[len(unread)-1].Offset+unread[len(unread)-1].Length <= ranges[k].Offset) {
			ranges[k].Length += hi - lo
			continue
		}
		ranges = append(ranges, check.Range{Offset: lo, Length: hi - lo, Groups: groups})
	}
	return ranges, unread, pair
}

func TestDiffUnreadProperty(t *testing.T) {
	rnd := rand.New(rand.NewPCG(3, 4))
	for it := range 200 {
		n := 2 + rnd.IntN(3)
		ss := []int{1, 7, 512, 512, 4096}[rnd.IntN(5)]
		size := 1 + rnd.Int64N(40<<10)
		chunk := []int{0, ss, 3 * ss, 4096, 5 * 4096}[rnd.IntN(5)]
		base := randBytes(uint64(it), int(size))
		imgs := make([][]byte, n)
		offs := make([]int64, n)
		bad := make([][]check.Extent, n)      // read errors
		declared := make([][]check.Extent, n) // Source.Unreadable
		all := make([][]check.Extent, n)
		for i := range n {
			offs[i] = rnd.Int64N(2000)
			img := randBytes(uint64(it*10+i+1), int(offs[i]+size+rnd.Int64N(1000)))
			copy(img[offs[i]:], base)
			imgs[i] = img
			for k := rnd.IntN(4); k > 0; k-- { // differing bytes
				imgs[i][offs[i]+rnd.Int64N(size)] ^= 0x55
			}
			at := offs[i]
			for k := rnd.IntN(4); k > 0; k-- {
				lo := at + rnd.Int64N(size/3+1)
				hi := min(lo+1+rnd.Int64N(size/4+1), offs[i]+size)
				if lo >= hi {
					break
				}
				x := check.Extent{Off: lo, Len: hi - lo}
				if rnd.IntN(2) == 0 {
					bad[i] = append(bad[i], x)
				} else {
					declared[i] = append(declared[i], x)
				}
				all[i] = append(all[i], x)
				at = hi + 1
			}
		}
		wantRanges, wantUnread, wantPair := naiveUnread(imgs, offs, size, ss, all)
		srcs := make([]check.Source, n)
		for i := range n {
			srcs[i] = check.Source{Name: fmt.Sprint("m", i), R: badReader{bytes.NewReader(imgs[i]), bad[i]}, Size: int64(len(imgs[i])), DataOffset: offs[i], Unreadable: declared[i]}
		}
		var seen []check.Range
		var seenU []check.UnreadRange
		desc := fmt.Sprintf("#%d: %d sources, sector %d, size %d, chunk %d, bad %v, declared %v", it, n, ss, size, chunk, bad, declared)
		res, err := check.Diff(context.Background(), srcs, check.DiffOptions{DataSize: size, SectorSize: ss, ChunkSize: chunk,
			OnRange: func(r check.Range) { seen = append(seen, r) }, OnUnread: func(u check.UnreadRange) { seenU = append(seenU, u) }})
		if err != nil {
			t.Fatalf("%s: %v", desc, err)
		}
		if !reflect.DeepEqual(seen, wantRanges) {
			t.Fatalf("%s:\nranges %v\nwant   %v", desc, seen, wantRanges)
		}
		if !reflect.DeepEqual(seenU, wantUnread) {
			t.Fatalf("%s:\nunread %v\nwant   %v", desc, seenU, wantUnread)
		}
		if !reflect.DeepEqual(res.PairBytes, wantPair) {
			t.Fatalf("%s: PairBytes %v; want %v", desc, res.PairBytes, wantPair)
		}
		for i := range n {
			// whole sectors of the data area around each bad range
			var want int64
			for lo := int64(0); lo < size; lo += int64(ss) {
				hi := min(lo+int64(ss), size)
				if slices.ContainsFunc(bad[i], func(x check.Extent) bool { return x.Off < offs[i]+hi && x.End() > offs[i]+lo }) {
					want += hi - lo
				}
			}
			if res.ReadErrorBytes[i] != want {
				t.Fatalf("%s: source %d: %d bytes of read errors; want %d", desc, i, res.ReadErrorBytes[i], want)
			}
		}
	}
}
