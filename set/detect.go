package set

import (
	"errors"
	"fmt"

	"github.com/mirrorchk/mirrorchk/image"
	"github.com/mirrorchk/mirrorchk/set/md"
)

// Group reads the metadata of every image and groups the images into sets.
// Images of different arrays become separate sets. An image without usable
// metadata is reported in the returned problems; when no image has usable
// metadata, all images form one ad-hoc set (Format "none") compared from
// offset 0.
//
// The error is for failures to read an image, not for bad metadata: bad
// metadata is a Problem, so one broken member does not hide the others.
func Group(images []*image.Image) ([]*Set, []Problem, error) {
	return GroupWith(images, Options{})
}

// Options are what the user knows that the images do not say.
type Options struct {
	// Serials gives drive serial numbers by image index (IMSM binds an
	// image to its disk-table entry by serial; an image file has none).
	Serials map[int]string
	// Hives are SYSTEM hives (--hive) whose \DISK\Information describes
	// NT 4.0 / 2000 FT sets (set/ftset.go).
	Hives []HiveInput
	// FTMembers binds partition images, by image index, to FT members
	// (--member IMAGE=SIGNATURE:OFFSET).
	FTMembers map[int]FTBinding
}

// GroupWith is Group with what the user knows about the images.
func GroupWith(images []*image.Image, opt Options) ([]*Set, []Problem, error) {
	g, err := GroupAll(images, opt)
	if err != nil {
		return nil, nil, err
	}
	for _, i := range g.Bare {
		if e := g.Failed[i]; e != nil {
			return nil, nil, e
		}
	}
	if len(g.Sets) == 0 && len(g.FTUsed) == 0 {
		return []*Set{AdhocSet(images)}, g.Problems, nil
	}
	for _, i := range g.Bare {
		g.Problems = append(g.Problems, Problem{Code: "not-in-set", Severity: Warning, Member: images[i].Path(),
			Message: fmt.Sprintf("%s has no usable set metadata and was not compared with the other members", images[i].Path())})
	}
	return g.Sets, g.Problems, nil
}

// Grouping is what GroupAll found: the sets formed from metadata, and the
// images that joined none.
type Grouping struct {
	Sets     []*Set
	Problems []Problem
	// Bare are the indices of the images without usable set metadata (and
	// of those that could not be read: see Failed), in input order.
	Bare []int
	// Failed holds, by image index, the read error of an image whose
	// metadata could not be read at all (an I/O error, not bad metadata).
	// Such an image is also in Bare; it joins no set.
	Failed map[int]error
	// FTUsed marks the images bound to an NT FT set by a hive.
	FTUsed map[int]bool
}

// GroupAll reads the metadata of every image and forms the sets the
// metadata describes. Unlike GroupWith it forms no ad-hoc set: images
// without metadata are returned in Bare for the caller to group by other
// evidence (package batch). An image that cannot be read costs only
// itself (Failed); the error is for a failure that concerns every image
// (a hive that cannot be decoded).
func GroupAll(images []*image.Image, opt Options) (*Grouping, error) {
	var (
		problems []Problem
		found    []*mdFound
		fimsm    []*imsmFound
		fddf     []*ddfFound
		fldm     []*ldmFound
		bare     []int
		failed   = map[int]error{}
	)
	ftsets, ftps, ftUsed, err := groupFT(images, opt)
	if err != nil {
		return nil, err
	}
	problems = append(problems, ftps...)
	for i, im := range images {
		if ftUsed[i] {
			continue // bound to an FT set by the hive
		}
		if err := probe(im, i, &problems, &found, &fimsm, &fddf, &fldm); err != nil {
			failed[i] = err
			bare = append(bare, i)
		} else if !inAny(i, found, fimsm, fddf, fldm) {
			bare = append(bare, i)
		}
	}
	g := &Grouping{Bare: bare, Failed: failed, FTUsed: ftUsed}
	if len(found) == 0 && len(fimsm) == 0 && len(fddf) == 0 && len(fldm) == 0 && len(ftUsed) == 0 {
		g.Problems = problems
		return g, nil
	}
	sets := append(append(groupMD(found), groupIMSM(fimsm, opt.Serials)...), groupDDF(fddf)...)
	lsets, lps := groupLDM(fldm)
	sets, problems = append(sets, lsets...), append(problems, lps...)
	sets = append(sets, ftsets...)
	for _, s := range sets {
		withholdMissing(s)
	}
	if len(sets) > 1 {
		problems = append(problems, Problem{Code: "mixed-sets", Severity: Info,
			Message: fmt.Sprintf("the inputs hold %d sets (arrays, or volumes of a container); each is checked on its own", len(sets))})
	}
	g.Sets, g.Problems = sets, problems
	return g, nil
}

func inAny(i int, found []*mdFound, fimsm []*imsmFound, fddf []*ddfFound, fldm []*ldmFound) bool {
	for _, f := range found {
		if f.input == i {
			return true
		}
	}
	for _, f := range fimsm {
		if f.input == i {
			return true
		}
	}
	for _, f := range fddf {
		if f.input == i {
			return true
		}
	}
	for _, f := range fldm {
		if f.input == i {
			return true
		}
	}
	return false
}

// probe reads one image's metadata, appending what it finds to the lists
// of its format. An error means the image could not be read.
func probe(im *image.Image, i int, problemsp *[]Problem, foundp *[]*mdFound, fimsmp *[]*imsmFound, fddfp *[]*ddfFound, fldmp *[]*ldmFound) error {
	problems := *problemsp
	defer func() { *problemsp = problems }()
	{
		// Each reader either finds its metadata, finds none, or finds it
		// damaged (a bad-metadata problem). Damage seen by one reader is
		// kept even when a later reader succeeds: it is then a warning
		// about leftover metadata, not a reason to drop the image.
		var damaged []Problem
		used := func(ps []Problem) {
			for _, p := range ps {
				p.Severity = Warning
				p.Message += " (another format's metadata on the image is used)"
				problems = append(problems, p)
			}
		}
		// A read error while probing (a failing disk) is no reason to stop:
		// the format's metadata is taken as unreadable on this image, said
		// as a problem, and the other formats are probed.
		unreadable := func(format string, err error) {
			problems = append(problems, Problem{Code: "metadata-unreadable", Severity: Error, Member: im.Path(),
				Message: fmt.Sprintf("%s: the %s metadata could not be read (%v): the image is not grouped by it", im.Path(), format, err)})
		}
		f, ps, err := readMD(im)
		if err != nil {
			if isContainerError(err) {
				return err // the input itself is damaged: its set is unreadable
			}
			unreadable("md", err)
			f, ps = nil, nil
		}
		if f != nil {
			problems = append(problems, ps...)
			f.input = i
			*foundp = append(*foundp, f)
			return nil
		}
		for _, p := range ps {
			if p.Code == "bad-metadata" {
				damaged = append(damaged, p)
			}
		}
		// No md superblock: firmware RAID and Windows metadata.
		mpb, ips, err := readIMSM(im)
		if err != nil {
			if isContainerError(err) {
				return err // the input itself is damaged: its set is unreadable
			}
			unreadable("IMSM", err)
			mpb, ips = nil, nil
		}
		if mpb != nil {
			used(damaged)
			*fimsmp = append(*fimsmp, &imsmFound{input: i, img: im, mpb: mpb})
			return nil
		}
		damaged = append(damaged, ips...)
		lf, lps, err := readLDM(im)
		if err != nil {
			if isContainerError(err) {
				return err // the input itself is damaged: its set is unreadable
			}
			unreadable("LDM", err)
			lf, lps = nil, nil
		}
		if lf != nil {
			used(damaged)
			lf.input = i
			*fldmp = append(*fldmp, lf)
			return nil
		}
		damaged = append(damaged, lps...)
		d, dps, err := readDDF(im)
		if err != nil {
			if isContainerError(err) {
				return err // the input itself is damaged: its set is unreadable
			}
			unreadable("DDF", err)
			d, dps = nil, nil
		}
		if d != nil {
			used(damaged)
			*fddfp = append(*fddfp, &ddfFound{input: i, img: im, d: d})
			return nil
		}
		damaged = append(damaged, dps...)
		if len(damaged) > 0 {
			problems = append(problems, damaged...)
		} else {
			problems = append(problems, ps...) // no-metadata
		}
		return nil
	}
}

// readMD probes one image for md metadata. It returns nil and problems when
// the image has none that can be used.
func readMD(im *image.Image) (*mdFound, []Problem, error) {
	sbs, err := md.Scan(im, im.Size())
	var fe *md.FormatError
	switch {
	case errors.As(err, &fe):
		return nil, unusable(im, fe.Off, err), nil
	case errors.Is(err, md.ErrNoSuperblock):
		return nil, []Problem{{Code: "no-metadata", Severity: Info, Member: im.Path(),
			Message: fmt.Sprintf("%s has no recognised set metadata", im.Path())}}, nil
	case err != nil:
		return nil, nil, err // I/O: the image cannot be read
	}
	f := &mdFound{img: im, sb: sbs[0]}
	var ps []Problem
	for _, other := range sbs[1:] {
		ps = append(ps, Problem{Code: "multiple-superblocks", Severity: Warning, Member: im.Path(), Offset: ptr(other.Offset),
			Message: fmt.Sprintf("%s also holds an md %s superblock at byte %#x (array %s); the %s superblock at byte %#x is used",
				im.Path(), other.Version, other.Offset, other.UUIDString(), f.sb.Version, f.sb.Offset)})
	}
	if f.sb.HasBitmap && f.sb.ChecksumOK() {
		bm, err := md.ReadBitmap(im, im.Size(), f.sb)
		if err != nil {
			if errors.As(err, &fe) {
				ps = append(ps, Problem{Code: "bad-metadata", Severity: Warning, Member: im.Path(), Offset: ptr(fe.Off),
					Message: fmt.Sprintf("%s: write-intent bitmap unreadable: %v", im.Path(), err)})
			} else {
				return nil, nil, err
			}
		}
		f.bitmap = bm
	}
	return f, ps, nil
}

// AdhocSet puts every image into one set compared from offset 0: the
// set of images without metadata (Format "none").
func AdhocSet(images []*image.Image) *Set {
	s := &Set{ID: "adhoc-1", Format: FormatNone, ResyncFrom: -1}
	for i, im := range images {
		m := &Member{Input: i, Image: im, State: StateUnknown, DataSize: im.Size()}
		m.addEvidence("no set metadata: the whole image (%d bytes) is the data area", im.Size())
		s.Members = append(s.Members, m)
	}
	s.DataSize = shortest(s)
	s.Reasons = append(s.Reasons, "no member has set metadata, so nothing records which copy is current")
	return s
}

// shortest returns the comparable data size of s and reports every member
// whose image ends before the set's data area does. An md set's data area
// is the reference superblock's; an ad-hoc set's is the longest image.
func shortest(s *Set) int64 {
	want := s.DataSize
	if s.Adhoc() {
		want = 0
		for _, m := range s.Members {
			want = max(want, m.Image.Size())
		}
	}
	n := want
	for _, m := range s.Members {
		avail := max(m.Image.Size()-m.DataOffset, 0)
		if avail < want {
			s.problem("size-mismatch", Error, m, ptr(m.Image.Size()),
				"%s is %d bytes short: its data area ends at byte %d of %d expected; the missing tail is not compared",
				m.Path(), want-avail, m.Image.Size(), m.DataOffset+want)
			n = min(n, avail)
		}
	}
	return n
}

// unusable is the problem for an image whose metadata could not be
// decoded: it names the field and offset, and the image joins no set.
func unusable(im *image.Image, off int64, err error) []Problem {
	return []Problem{{Code: "bad-metadata", Severity: Error, Member: im.Path(), Offset: ptr(off),
		Message: fmt.Sprintf("%s: %v; the image is not used as a set member", im.Path(), err)}}
}

// isContainerError reports whether err lies in a container's own structure
// (image.ContainerError: the input cannot be read as a whole), not in its
// media.
func isContainerError(err error) bool {
	var ce *image.ContainerError
	return errors.As(err, &ce)
}
