// Package scan is mirrorchk's scan pipeline as a library: it opens the
// inputs read-only, groups them into sets by their metadata, checks each
// set, and builds the report model. The command line (package main) and
// the batch layer (package batch) both call it; neither knows how a set is
// formed or checked, and this package knows no flags or terminals.
//
// A Run owns the images it opened from Open until Close: every later
// stage works on them, and Close is the one place they are closed.
package scan

import (
	"context"
	"fmt"
	"io"
	"os"

	"github.com/mirrorchk/mirrorchk/check"
	"github.com/mirrorchk/mirrorchk/image"
	"github.com/mirrorchk/mirrorchk/set"
	"github.com/mirrorchk/mirrorchk/set/ftdisk"
)

// UsageError is a mistake in what the caller asked for (an image given
// twice, an option naming a file that is not an input): the command line
// reports it as a usage error, not as unreadable input.
type UsageError struct{ Err error }

func (e *UsageError) Error() string { return e.Err.Error() }
func (e *UsageError) Unwrap() error { return e.Err }

func usage(format string, args ...any) error {
	return &UsageError{fmt.Errorf(format, args...)}
}

// Run is one scan: the open images, the sets formed from them, and the
// check of each set. Its stages are called in order: Open, Group, Check,
// then Report; Close releases the images whatever stage was reached.
type Run struct {
	Images   []*image.Image
	Sets     []*set.Set
	Results  []*check.Result // one per set, in the order of Sets
	Problems []set.Problem   // not tied to one set
	Hives    []set.HiveInput
	Hashes   []string // algorithms of the input hashes
}

// Open opens every path read-only (labels, when not nil, renames an image
// in the report: the embedded example's temporary files). Two paths naming
// the same file are a UsageError. On error nothing stays open.
func Open(paths []string, labels map[string]string) (r *Run, err error) {
	r = &Run{}
	defer func() {
		if err != nil {
			r.Close()
			r = nil
		}
	}()
	for _, p := range paths {
		im, err := image.Open(p)
		if err != nil {
			return r, err
		}
		if l, ok := labels[p]; ok {
			im.Relabel(l)
		}
		r.Images = append(r.Images, im)
	}
	for i, a := range r.Images {
		for _, b := range r.Images[i+1:] {
			if a.SameFile(b) {
				return r, usage("%s and %s are the same image given twice", a.Path(), b.Path())
			}
		}
	}
	return r, nil
}

// Close closes every image the run opened. It may be called more than once.
func (r *Run) Close() {
	if r == nil {
		return
	}
	for _, im := range r.Images {
		im.Close()
	}
	r.Images = nil
}

// Find returns the index of the image that is the file at path, or a
// UsageError naming the option (what) that gave it.
func (r *Run) Find(what, path string) (int, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return -1, usage("%s: %w", what, err)
	}
	found := -1
	for i, im := range r.Images {
		if im != nil && im.Contains(fi) {
			found = i
		}
	}
	if found < 0 {
		return -1, usage("%s %s is not one of the images given", what, path)
	}
	return found, nil
}

// GroupOptions are what the user knows that the images do not say.
type GroupOptions struct {
	// Serials gives drive serial numbers by image path (IMSM).
	Serials []Serial
	// Hives are the SYSTEM hives to read (NT FT), by path.
	Hives []string
	// FTMembers binds partition images to NT FT members.
	FTMembers []FTMember
}

// Serial is the drive serial number of one image.
type Serial struct{ Path, Serial string }

// FTMember binds the partition image at Path to the NT FT member on the
// disk with MBR signature Signature at byte offset Offset.
type FTMember struct {
	Path      string
	Signature uint32
	Offset    int64
}

// Group reads the hives and every image's metadata and forms the sets.
func (r *Run) Group(opt GroupOptions) error {
	serials := map[int]string{}
	for _, s := range opt.Serials {
		i, err := r.Find("--serial", s.Path)
		if err != nil {
			return err
		}
		serials[i] = s.Serial
	}
	hives, err := ReadHives(opt.Hives, r.Images)
	if err != nil {
		return err
	}
	members := map[int]set.FTBinding{}
	for _, m := range opt.FTMembers {
		fi, err := os.Stat(m.Path)
		if err != nil {
			return usage("--member: %w", err)
		}
		found := false
		for i, im := range r.Images {
			if im.Contains(fi) {
				if _, dup := members[i]; dup {
					return usage("--member names %s twice: an image is one member", m.Path)
				}
				members[i], found = set.FTBinding{Signature: m.Signature, Offset: m.Offset}, true
			}
		}
		if !found {
			return usage("--member %s is not one of the images given", m.Path)
		}
	}
	if len(members) > 0 && len(hives) == 0 {
		return usage("--member needs --hive: the binding refers to the hive's FT members")
	}
	sets, problems, err := set.GroupWith(r.Images, set.Options{Serials: serials, Hives: hives, FTMembers: members})
	if err != nil {
		return err
	}
	r.Sets, r.Problems, r.Hives = sets, problems, hives
	return nil
}

// maxHive bounds a SYSTEM hive read into memory.
const maxHive = 1 << 30

// ReadHives reads the SYSTEM hives at paths (opened read-only: a hive is
// evidence too). A hive that cannot be read, or that is one of images, is
// a UsageError.
func ReadHives(paths []string, images []*image.Image) ([]set.HiveInput, error) {
	var hives []set.HiveInput
	for _, p := range paths {
		b, err := readHive(p, images)
		if err != nil {
			return nil, usage("--hive: %w", err)
		}
		// A file that is not a hive at all is the user's mistake, like an
		// unreadable one: the scan must not go on without the FT
		// configuration asked for. (A damaged but readable hive is a
		// problem in the report.)
		if _, err := ftdisk.OpenHive(b); err != nil {
			return nil, usage("--hive: %s: %w", p, err)
		}
		hives = append(hives, set.HiveInput{Path: p, Data: b})
	}
	return hives, nil
}

func readHive(p string, images []*image.Image) ([]byte, error) {
	f, err := os.Open(p) // O_RDONLY
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	for _, im := range images {
		if im != nil && im.Contains(fi) {
			return nil, fmt.Errorf("%s is also given as an image", p)
		}
	}
	if fi.Size() > maxHive {
		return nil, fmt.Errorf("%s is %d bytes, over 1 GiB: not a SYSTEM hive", p, fi.Size())
	}
	b, err := io.ReadAll(io.LimitReader(f, maxHive+1))
	if err != nil {
		return nil, err
	}
	if len(b) > maxHive {
		return nil, fmt.Errorf("%s grew past 1 GiB while being read: not a SYSTEM hive", p)
	}
	return b, nil
}

// CheckOptions are the settings of the check of every set.
type CheckOptions struct {
	SectorSize int
	// MaxRanges lists at most this many differing ranges per set; 0 lists
	// none (the rest are counted either way).
	MaxRanges int
	Hashes    []string
	// Prefer is the index in Images of the member the user names as
	// authoritative, or -1.
	Prefer int
	// Progress, when not nil, is told the bytes done of the set being
	// checked and its total.
	Progress func(done, total int64)
	// OnSet, when not nil, is told before each set is checked: its index
	// among the n sets of the run (for a progress display).
	OnSet func(i, n int, s *set.Set)
	// Unreadable gives, by image index, the image ranges known unreadable
	// (Run.Unreadable: ddrescue mapfiles), and UnreadableFrom where each
	// list comes from.
	Unreadable     map[int][]check.Extent
	UnreadableFrom map[int]string
}

// Check diffs and decides every set, in order. It stops at the first set
// whose check fails (a read error, or ctx cancelled).
func (r *Run) Check(ctx context.Context, opt CheckOptions) error {
	r.Hashes = opt.Hashes
	r.Results = nil
	for i, s := range r.Sets {
		if opt.OnSet != nil {
			opt.OnSet(i, len(r.Sets), s)
		}
		res, err := CheckSet(ctx, s, r.Images, opt)
		if err != nil {
			return err
		}
		r.Results = append(r.Results, res)
	}
	return nil
}

// CheckSet checks one set of images.
func CheckSet(ctx context.Context, s *set.Set, images []*image.Image, opt CheckOptions) (*check.Result, error) {
	maxRanges := opt.MaxRanges
	if maxRanges == 0 {
		maxRanges = -1 // the engine reads 0 as its default; the user means none
	}
	// A container's own files are hashed besides its media, and the hashes
	// it stores of its media are computed in the same read pass.
	var ims []*image.Image
	for _, m := range s.Members {
		ims = append(ims, m.Image)
	}
	if err := hashContainerFiles(ims, opt.Hashes); err != nil {
		return nil, err
	}
	copt := check.Options{SectorSize: opt.SectorSize, MaxRanges: maxRanges, Hashes: withStored(opt.Hashes, ims), Progress: opt.Progress,
		Unreadable: opt.Unreadable, UnreadableFrom: opt.UnreadableFrom}
	for _, m := range s.Members {
		if opt.Prefer >= 0 && opt.Prefer < len(images) && m.Image == images[opt.Prefer] {
			copt.Prefer = m
		}
	}
	return check.Check(ctx, s, copt)
}
