// Package repair writes repaired member images as new files. It never
// opens an input for writing: every output is a new file in the output
// directory, written under a temporary name, synced, re-read and verified,
// and only then renamed to its final name.
//
// Crash ordering: while an output is being written it is named
// ".NAME.mirrorchk-partial-ID" (hidden, saying what it is, and carrying the
// plan's identity). The final name appears only by an atomic link or rename
// after the data is synced and its data area verified, followed by a sync
// of the directory. An interrupted run leaves at most a partial file that
// no one can mistake for a result, never a file with a final name that is
// incomplete; the plan's marker (PrepareOut) lets a rerun of the same plan
// remove what it left and start again.
//
// Unreadable ranges: each output takes every unreadable range that a copy
// is vouched for from that copy; a lost range is left as it is (the
// output's own member's bytes, or nothing where its member could not read
// them either), and a ddrescue-format mapfile NAME.map beside the output
// marks every lost range '-'. The mapfile is published before the image,
// so an image never appears without it.
package repair

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"

	"github.com/mirrorchk/mirrorchk/check"
	"github.com/mirrorchk/mirrorchk/image"
	"github.com/mirrorchk/mirrorchk/image/mapfile"
	"github.com/mirrorchk/mirrorchk/set"
)

// ErrSplitBrain is returned by NewPlan when no member can be shown
// authoritative; the user must name one (--prefer).
var ErrSplitBrain = errors.New("split brain: no member can be shown authoritative; name one with --prefer")

// ErrNoAuthority is returned by NewPlan when the set has no authority for
// another reason (unknown verdict).
var ErrNoAuthority = errors.New("no authoritative member: nothing to repair from")

// ErrMembersMissing is returned by NewPlan when members of the set are not
// among the inputs: no given member can be shown current (a missing one
// may be newer), a member that is not given cannot be written, and metadata
// rewritten from part of the set would describe an array that never was.
var ErrMembersMissing = errors.New("members of the set are missing")

// ErrShortMember is returned by NewPlan when a member image is shorter than
// the set's data area: a repaired copy of it would be short too.
var ErrShortMember = errors.New("a member image is shorter than the set's data area (see the size-mismatch problem); mirrorchk does not extend images")

// ErrMetadata is returned by NewPlan when the set's metadata cannot be
// rewritten to match the repaired data (an untrusted superblock, a member
// with no slot to restore).
var ErrMetadata = errors.New("metadata cannot be brought in sync")

// ErrAmbiguous is returned by NewPlan when two inputs are copies of one
// member, so it is not clear which file a repaired member replaces.
var ErrAmbiguous = errors.New("two inputs are the same member")

// ErrUndecided is returned by NewPlan when some differing bytes have no
// source: the authority's copy fails its own checks there and nothing
// decides between the other copies.
var ErrUndecided = errors.New("some differing ranges have no trustworthy source")

// Plan is what a repair of one set will do.
type Plan struct {
	Result *check.Result
	Source *set.Member // the authoritative member copied from
	// Needed is false when the set is consistent and nothing is written.
	Needed  bool
	Outputs []*Output
	// MetadataNote says why the metadata is not rewritten, or "".
	MetadataNote string
	// LostBytes are the set's lost bytes: a repair leaves them as they are
	// and is not complete.
	LostBytes int64
	// Mapfiles is set when the outputs get a ddrescue mapfile: some member
	// had unreadable bytes.
	Mapfiles bool
}

// Output is one repaired image, planned or written.
type Output struct {
	Member      *set.Member
	Path        string        // final path of the new image
	Ranges      []check.Piece // listed ranges this member receives, each from its own source
	RangesTotal int64         // all ranges it receives, listed or not
	BytesCopied int64         // bytes of its data area that differ from Source
	Patches     []set.Patch   // metadata rewrites

	// Filled in by Write.
	Hashes     map[string]string // of the whole written image
	DataSHA256 string            // of its data area as re-read
	Verified   bool
	// FSProblems are what the filesystem checks find on the written
	// image (warnings and errors, in words); nil when none was looked for.
	FSProblems []string

	// RecoveredBytes are the bytes it takes from another member where its
	// own member could not read them; LostBytes the lost bytes it holds.
	RecoveredBytes, LostBytes int64
	// Mapfile is the path of its ddrescue mapfile once written, else "".
	Mapfile string
}

// NewPlan plans the repair of r's set into outDir. It does not touch the
// file system.
func NewPlan(r *check.Result, outDir string) (*Plan, error) {
	s := r.Set
	p := &Plan{Result: r, Source: r.Authority, LostBytes: r.LostBytes}
	if len(s.Missing) > 0 {
		// Whatever the verdict and --prefer say: nothing is written for a
		// set that is not all there.
		given, declared := s.Given()
		return nil, fmt.Errorf("%w: %d of %d members given (%s not given); no member can be shown current and no metadata is rewritten for part of a set: give every member of the set",
			ErrMembersMissing, given, declared, strings.Join(s.Missing, ", "))
	}
	if r.Verdict == check.Consistent {
		return p, nil
	}
	if r.Authority == nil && s.Adhoc() && r.Diff.Bytes == 0 && r.Diff.UnreadBytes > 0 {
		// The members agree wherever read: any of them is the base, and
		// each unreadable range comes from its own decision.
		for _, m := range s.Members {
			if m.State != set.StateSpare {
				p.Source = m
				break
			}
		}
	}
	if p.Source == nil {
		if r.Verdict == check.SplitBrain {
			return nil, ErrSplitBrain
		}
		return nil, ErrNoAuthority
	}
	for _, pr := range s.Problems {
		switch pr.Code {
		case "size-mismatch":
			return nil, ErrShortMember
		case "duplicate-member":
			return nil, fmt.Errorf("%w: %s", ErrAmbiguous, pr.Message)
		}
	}
	if r.Undecided > 0 {
		return nil, fmt.Errorf("%w: %d bytes (see the ranges with source null); name a member with --prefer", ErrUndecided, r.Undecided)
	}
	if r.SalvageOverflow {
		return nil, fmt.Errorf("%w: too many unreadable ranges to decide each one", ErrUndecided)
	}
	for _, mu := range r.Unread {
		if mu.Bytes > 0 {
			p.Mapfiles = true
		}
	}
	// The metadata is brought in sync from the member the metadata names
	// current even when --prefer takes the data from another: the user
	// chose the data, not a rollback of the array's generation.
	meta := p.Source
	if r.Basis == check.BasisUser && len(s.Fresh) == 1 && s.Fresh[0] != r.Authority && s.Conflict == "" {
		meta = s.Fresh[0]
	}
	patches, err := s.SyncPatches(meta)
	switch {
	case errors.Is(err, set.ErrNoMetadataRepair):
		p.MetadataNote = err.Error()
	case err != nil:
		// Data without matching metadata would not assemble as the
		// report says: refuse rather than write half a repair.
		return nil, fmt.Errorf("%w: %v", ErrMetadata, err)
	}
	idx := map[*set.Member]int{}
	for i, m := range s.Members {
		idx[m] = i
	}
	src := idx[p.Source]
	names := map[string]bool{}
	for i, m := range s.Members {
		if m.State == set.StateSpare {
			continue // a spare holds no slot: nothing to make in sync
		}
		o := &Output{Member: m, Patches: patches[m.Input], BytesCopied: r.Diff.PairBytes[i][src], RangesTotal: r.PairRanges[i][src]}
		if r.PiecePairs != nil {
			o.RangesTotal = r.PiecePairs[i][src] // the report's ranges are pieces
		}
		for _, ov := range r.Overrides {
			// The authority's copy is replaced by another's here.
			from := idx[ov.From]
			before := groupOf(ov.Groups, i) != groupOf(ov.Groups, src)
			after := groupOf(ov.Groups, i) != groupOf(ov.Groups, from)
			switch {
			case before && !after:
				o.BytesCopied -= ov.Length
				o.RangesTotal--
			case !before && after:
				o.BytesCopied += ov.Length
				o.RangesTotal++
			}
		}
		name := outputName(m.Path(), m.Image.Container())
		if names[name] {
			return nil, fmt.Errorf("two members would be written to %s; give the inputs distinct file names", name)
		}
		names[name] = true
		o.Path = filepath.Join(outDir, name)
		for _, pc := range r.Pieces {
			if pc.Source >= 0 && groupOf(pc.Groups, i) != groupOf(pc.Groups, pc.Source) {
				o.Ranges = append(o.Ranges, pc)
			}
		}
		for _, sv := range r.Salvages {
			switch {
			case sv.From < 0:
				o.LostBytes += sv.Length
			case slices.Contains(sv.Unreadable, i):
				o.RecoveredBytes += sv.Length
			}
		}
		p.Outputs = append(p.Outputs, o)
		if o.BytesCopied > 0 || o.RecoveredBytes > 0 || changes(m, o.Patches) {
			p.Needed = true
		}
	}
	return p, nil
}

// changes reports whether any patch would change the member's bytes.
func changes(m *set.Member, ps []set.Patch) bool {
	for _, pt := range ps {
		cur := make([]byte, len(pt.Data))
		if err := image.ReadFull(m.Image, cur, pt.Off); err != nil || !bytes.Equal(cur, pt.Data) {
			return true
		}
	}
	return false
}

func groupOf(groups [][]int, i int) int {
	for g, members := range groups {
		for _, j := range members {
			if j == i {
				return g
			}
		}
	}
	return -1
}

var segSuffix = regexp.MustCompile(`\.[0-9]{3,}$`)

// outputName is the file name of a member's repaired image: its own name;
// for a split raw set the name of the first segment without its number;
// for a container (E01, VHD, qcow2, …), which is always written as a raw
// image, its name with ".img" in place of the container's extension.
func outputName(path string, container bool) string {
	base := filepath.Base(path)
	if container {
		return strings.TrimSuffix(base, filepath.Ext(base)) + ".img"
	}
	if segSuffix.MatchString(base) {
		return segSuffix.ReplaceAllString(base, "") + ".img"
	}
	return base
}

// Options are the settings of Write.
type Options struct {
	Hashes    []string
	ChunkSize int
	Progress  func(done, total int64)
	// PlanID is the plan's identity (Identity), carried by the temporary
	// names; "" for a random one.
	PlanID string
}

// CheckOutDir refuses an output directory that holds one of the inputs or
// already holds a file with an output's name.
func CheckOutDir(outDir string, inputs []string, outputs []string) error {
	di, err := os.Stat(outDir)
	if err != nil {
		return fmt.Errorf("output directory: %w", err)
	}
	if !di.IsDir() {
		return fmt.Errorf("output directory %s is not a directory", outDir)
	}
	for _, in := range inputs {
		abs, err := filepath.Abs(in)
		if err != nil {
			return err
		}
		if real, err := filepath.EvalSymlinks(abs); err == nil {
			abs = real
		}
		pi, err := os.Stat(filepath.Dir(abs))
		if err != nil {
			return err
		}
		if os.SameFile(pi, di) {
			return fmt.Errorf("--out %s contains the input %s; write repaired images to another directory", outDir, in)
		}
	}
	seen := map[string]bool{}
	for _, o := range outputs {
		if seen[o] {
			return fmt.Errorf("two members would be written to %s; give the inputs distinct file names", o)
		}
		seen[o] = true
		if _, err := os.Lstat(o); err == nil {
			return fmt.Errorf("%s already exists; mirrorchk does not overwrite files", o)
		}
	}
	return nil
}

// Write writes every planned output and verifies it. On any error the
// partial file of the output being written is removed; outputs finished
// before it stay.
func Write(ctx context.Context, p *Plan, opt Options) error {
	if !p.Needed {
		return nil
	}
	if opt.ChunkSize <= 0 {
		opt.ChunkSize = 1 << 20
	}
	var total, done int64
	for _, o := range p.Outputs {
		total += o.Member.Image.Size()
	}
	for _, o := range p.Outputs {
		progress := func(n int64) {
			if opt.Progress != nil {
				opt.Progress(done+n, total)
			}
		}
		if err := writeOne(ctx, p, o, opt, progress); err != nil {
			return err
		}
		done += o.Member.Image.Size()
	}
	return nil
}

func writeOne(ctx context.Context, p *Plan, o *Output, opt Options, progress func(int64)) (err error) {
	m, src := o.Member, p.Source
	r := p.Result
	self := idxOf(r.Set, m)
	dataSize := r.Set.DataSize
	f, tmp, err := createPartial(o.Path, opt.PlanID)
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(tmp)
		}
	}()

	// Source data hash while copying; compared with the re-read output.
	srcHash := sha256.New()
	buf := make([]byte, opt.ChunkSize)
	size := m.Image.Size()
	dataEnd := m.DataOffset + dataSize
	var lost []mapfile.Range // image offsets: the output's '-' blocks
	addLost := func(off, n int64) {
		if k := len(lost) - 1; k >= 0 && lost[k].End() >= off {
			lost[k].Len = max(lost[k].End(), off+n) - lost[k].Off
			return
		}
		lost = append(lost, mapfile.Range{Off: off, Len: n})
	}
	for off := int64(0); off < size; {
		if err := ctx.Err(); err != nil {
			return err
		}
		// Pieces: own bytes before the data area, source data, own tail.
		n := int64(len(buf))
		var rd io.ReaderAt = m.Image
		roff := off
		inData := false
		switch {
		case off < m.DataOffset:
			n = min(n, m.DataOffset-off)
		case off < dataEnd:
			n = min(n, dataEnd-off)
			rd, roff = src.Image, src.DataOffset+(off-m.DataOffset)
			inData = true
		}
		n = min(n, size-off)
		b := buf[:n]
		bad := readTolerant(rd, b, roff)
		if inData {
			doff := off - m.DataOffset
			if err := applyOverrides(r.Overrides, b, doff); err != nil {
				return err
			}
			covered, err := applySalvages(r, self, b, doff, func(lo, n int64) { addLost(m.DataOffset+lo, n) })
			if err != nil {
				return err
			}
			for _, e := range bad {
				if !covered(doff+e.Off, e.Len) {
					return fmt.Errorf("%s: bytes %#x to %#x of the data area could not be read, and the scan read them: the disk is getting worse; scan again", src.Path(), doff+e.Off, doff+e.End())
				}
			}
			srcHash.Write(b)
		} else {
			for _, e := range bad {
				addLost(off+e.Off, e.Len) // its own unreadable metadata area: what it is, marked
			}
		}
		if !allZero(b) { // zero chunks stay holes in the new image
			if _, err := f.WriteAt(b, off); err != nil {
				return err
			}
		}
		off += n
		progress(off)
	}
	if err := f.Truncate(size); err != nil {
		return err
	}
	for _, pt := range o.Patches {
		if _, err := f.WriteAt(pt.Data, pt.Off); err != nil {
			return err
		}
	}
	if err := f.Sync(); err != nil {
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}

	// Re-read what was written, as a reader would.
	hashes, dataSum, err := hashFile(tmp, opt.Hashes, m.DataOffset, dataSize, opt.ChunkSize)
	if err != nil {
		return err
	}
	want := hex.EncodeToString(srcHash.Sum(nil))
	if dataSum != want {
		return fmt.Errorf("%s: verification failed: data area sha256 %s, the authoritative data (from %s) has %s", tmp, dataSum, src.Path(), want)
	}
	if p.Mapfiles || len(lost) > 0 {
		// The mapfile first: the image never appears without it.
		mp := o.Path + ".map"
		if err := writeMapfile(mp, opt.PlanID, size, lost, m.Path(), r.LostBytes); err != nil {
			return err
		}
		o.Mapfile = mp
	}
	if err := publish(tmp, o.Path); err != nil {
		return err
	}
	o.Hashes, o.DataSHA256, o.Verified = hashes, dataSum, true
	o.FSProblems = checkOutput(o.Path, m.DataOffset, dataSize, r.Layouts != nil)
	return nil
}

// createPartial creates the temporary file of an output of plan id.
func createPartial(final, id string) (*os.File, string, error) {
	if id == "" {
		dir, name := filepath.Split(final)
		if dir == "" {
			dir = "."
		}
		f, err := os.CreateTemp(dir, "."+name+partialInfix+"*")
		if err != nil {
			return nil, "", err
		}
		return f, f.Name(), nil
	}
	tmp := partialName(final, id)
	f, err := os.OpenFile(tmp, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return nil, "", err
	}
	return f, tmp, nil
}

// writeMapfile writes the ddrescue mapfile of an output through a
// temporary name: lost blocks '-', the rest '+'.
func writeMapfile(path, id string, size int64, lost []mapfile.Range, member string, setLost int64) (err error) {
	f, tmp, err := createPartial(path, id)
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(tmp)
		}
	}()
	var n int64
	for _, l := range lost {
		n += l.Len
	}
	if err := mapfile.Write(f, size, lost,
		fmt.Sprintf("mirrorchk repair of %s: blocks marked '-' are lost (no readable copy the evidence shows current);", member),
		fmt.Sprintf("they hold what %s held there, or nothing where it could not be read either. %d bytes marked.", member, n)); err != nil {
		return err
	}
	if err := f.Sync(); err != nil {
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Chmod(tmp, 0o644); err != nil {
		return err
	}
	return publish(tmp, path)
}

// readTolerant reads b at off from r; where the read fails it retries in
// halves down to 512 bytes, zeroes what still fails and returns those
// ranges, relative to b.
func readTolerant(r io.ReaderAt, b []byte, off int64) []check.Extent {
	if image.ReadFull(r, b, off) == nil {
		return nil
	}
	var bad []check.Extent
	var walk func(lo, hi int)
	walk = func(lo, hi int) {
		if hi-lo <= 512 {
			clear(b[lo:hi])
			if k := len(bad) - 1; k >= 0 && bad[k].End() == int64(lo) {
				bad[k].Len += int64(hi - lo)
			} else {
				bad = append(bad, check.Extent{Off: int64(lo), Len: int64(hi - lo)})
			}
			return
		}
		mid := lo + ((hi-lo)/2+511)/512*512
		if mid >= hi {
			mid = lo + 512
		}
		for _, part := range [][2]int{{lo, mid}, {mid, hi}} {
			if image.ReadFull(r, b[part[0]:part[1]], off+int64(part[0])) != nil {
				walk(part[0], part[1])
			}
		}
	}
	walk(0, len(b))
	return bad
}

// applySalvages writes into b (data-area offset off) every unreadable
// range's decided copy for the output of member self: the copy vouched for,
// or for a lost range self's own bytes as they are (zeros where self could
// not read them either), and reports each lost range to lost. It returns
// whether a data-area range lies entirely in unreadable ranges.
func applySalvages(r *check.Result, self int, b []byte, off int64, lost func(off, n int64)) (func(lo, n int64) bool, error) {
	svs := r.Salvages
	end := off + int64(len(b))
	first := sort.Search(len(svs), func(i int) bool { return svs[i].Offset+svs[i].Length > off })
	i := first
	for ; i < len(svs) && svs[i].Offset < end; i++ {
		sv := svs[i]
		lo, hi := max(off, sv.Offset), min(end, sv.Offset+sv.Length)
		p := b[lo-off : hi-off]
		if sv.From >= 0 {
			from := r.Set.Members[sv.From]
			if err := image.ReadFull(from.Image, p, from.DataOffset+lo); err != nil {
				return nil, fmt.Errorf("%s: reading the copy of an unreadable range that the scan read: %w", from.Path(), err)
			}
			continue
		}
		own := r.Set.Members[self]
		readTolerant(own.Image, p, own.DataOffset+lo) // as it is; zeros where unreadable
		lost(lo, hi-lo)
	}
	covered := func(lo, n int64) bool {
		at := lo
		for k := first; k < i && at < lo+n; k++ {
			sv := svs[k]
			if sv.Offset <= at && sv.Offset+sv.Length > at {
				at = sv.Offset + sv.Length
			}
		}
		return at >= lo+n
	}
	return covered, nil
}

func idxOf(s *set.Set, m *set.Member) int {
	for i, x := range s.Members {
		if x == m {
			return i
		}
	}
	return -1
}

// checkOutput reads the filesystems of a written output, as the check read
// the inputs', and returns what their consistency checks find: a repair
// whose data verifies can still hold a filesystem that does not (a failing
// copy kept where no current copy verified). Nil when no filesystem was
// looked for.
func checkOutput(path string, off, size int64, look bool) []string {
	if !look {
		return nil
	}
	im, err := image.Open(path)
	if err != nil {
		return []string{fmt.Sprintf("not re-read: %v", err)}
	}
	defer im.Close()
	size = min(size, im.Size()-off)
	l, err := check.ReadLayout(io.NewSectionReader(im, off, size), size, 0, check.DefaultOpeners)
	if err != nil {
		return []string{fmt.Sprintf("not re-read: %v", err)}
	}
	out := []string{}
	for _, v := range l.Volumes {
		for _, pr := range v.Vol.Problems() {
			if pr.Severity != "info" {
				out = append(out, fmt.Sprintf("%s %s %s: %s", v.Vol.Type(), pr.Severity, pr.Code, pr.Message))
			}
		}
	}
	return out
}

// publish gives tmp its final name without ever replacing an existing
// file, then syncs the directory so the name survives a crash.
func publish(tmp, final string) error {
	if err := os.Link(tmp, final); err != nil {
		if errors.Is(err, os.ErrExist) {
			return fmt.Errorf("%s already exists; mirrorchk does not overwrite files", final)
		}
		// File systems without hard links: rename, after checking.
		if _, serr := os.Lstat(final); serr == nil {
			return fmt.Errorf("%s already exists; mirrorchk does not overwrite files", final)
		}
		if err := os.Rename(tmp, final); err != nil {
			return err
		}
	} else if err := os.Remove(tmp); err != nil {
		return err
	}
	d, err := os.Open(filepath.Dir(final))
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

func hashFile(path string, algs []string, dataOff, dataSize int64, chunk int) (map[string]string, string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, "", err
	}
	defer f.Close()
	whole, err := check.NewDigests(algs)
	if err != nil {
		return nil, "", err
	}
	data := sha256.New()
	buf := make([]byte, chunk)
	var off int64
	for {
		n, rerr := f.Read(buf)
		if n > 0 {
			b := buf[:n]
			whole.Write(b)
			lo, hi := max(off, dataOff), min(off+int64(n), dataOff+dataSize)
			if lo < hi {
				data.Write(b[lo-off : hi-off])
			}
			off += int64(n)
		}
		if rerr == io.EOF {
			break
		}
		if rerr != nil {
			return nil, "", rerr
		}
	}
	return whole.Sums(), hex.EncodeToString(data.Sum(nil)), nil
}

// applyOverrides replaces the bytes of b (data-area offset off) that a
// range's own evidence takes from another member than the authority.
func applyOverrides(ovs []check.Override, b []byte, off int64) error {
	end := off + int64(len(b))
	i := sort.Search(len(ovs), func(i int) bool { return ovs[i].Offset+ovs[i].Length > off })
	for ; i < len(ovs) && ovs[i].Offset < end; i++ {
		ov := ovs[i]
		lo, hi := max(off, ov.Offset), min(end, ov.Offset+ov.Length)
		if err := image.ReadFull(ov.From.Image, b[lo-off:hi-off], ov.From.DataOffset+lo); err != nil {
			return err
		}
	}
	return nil
}

var zeros = make([]byte, 64<<10)

func allZero(b []byte) bool {
	for len(b) > 0 {
		n := min(len(b), len(zeros))
		if !bytes.Equal(b[:n], zeros[:n]) {
			return false
		}
		b = b[n:]
	}
	return true
}
