package set

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"

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
	var (
		problems []Problem
		found    []*mdFound
		fimsm    []*imsmFound
		bare     []int
	)
	for i, im := range images {
		f, ps, err := readMD(im)
		if err != nil {
			return nil, nil, err
		}
		if f != nil {
			problems = append(problems, ps...)
			f.input = i
			found = append(found, f)
			continue
		}
		// No md superblock: firmware RAID metadata at the end of the disk.
		mpb, ips, err := readIMSM(im)
		if err != nil {
			return nil, nil, err
		}
		if mpb != nil {
			fimsm = append(fimsm, &imsmFound{input: i, img: im, mpb: mpb})
			continue
		}
		if len(ips) > 0 {
			problems = append(problems, ips...)
		} else {
			problems = append(problems, ps...)
		}
		bare = append(bare, i)
	}
	if len(found) == 0 && len(fimsm) == 0 {
		s := adhocSet(images)
		for _, p := range problems {
			if p.Code == "unsupported-metadata" {
				s.Unsupported = true
			}
		}
		if s.Unsupported {
			s.Reasons = append(s.Reasons, "the images carry set metadata this release cannot read: differences may lie in metadata areas, so they are listed but not judged")
		}
		return []*Set{s}, problems, nil
	}
	sets := append(groupMD(found), groupIMSM(fimsm)...)
	if len(sets) > 1 {
		problems = append(problems, Problem{Code: "mixed-sets", Severity: Info,
			Message: fmt.Sprintf("the inputs hold %d sets (arrays, or volumes of a container); each is checked on its own", len(sets))})
	}
	for _, i := range bare {
		problems = append(problems, Problem{Code: "not-in-set", Severity: Warning, Member: images[i].Path(),
			Message: fmt.Sprintf("%s has no usable set metadata and was not compared with the other members", images[i].Path())})
	}
	return sets, problems, nil
}

// readMD probes one image for md metadata. It returns nil and problems when
// the image has none that can be used.
func readMD(im *image.Image) (*mdFound, []Problem, error) {
	sbs, err := md.Scan(im, im.Size())
	var fe *md.FormatError
	switch {
	case errors.As(err, &fe):
		return nil, []Problem{{Code: "bad-metadata", Severity: Error, Member: im.Path(), Offset: ptr(fe.Off),
			Message: fmt.Sprintf("%s: %v; the image is not used as a set member", im.Path(), err)}}, nil
	case errors.Is(err, md.ErrNoSuperblock):
		if kind, off, ok, rerr := sniffFirmware(im); rerr != nil {
			return nil, nil, rerr
		} else if ok {
			return nil, []Problem{{Code: "unsupported-metadata", Severity: Warning, Member: im.Path(), Offset: ptr(off),
				Message: fmt.Sprintf("unsupported metadata: %s (found at byte %#x); %s is treated as having no usable metadata", kind, off, im.Path())}}, nil
		}
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

// adhocSet puts every image into one set compared from offset 0.
func adhocSet(images []*image.Image) *Set {
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

// sniffFirmware recognises firmware-RAID metadata that mirrorchk does not
// read yet, so the report can name it instead of saying "no metadata".
func sniffFirmware(r interface {
	io.ReaderAt
	Size() int64
}) (kind string, off int64, ok bool, err error) {
	size := r.Size()
	var sec [512]byte
	// SNIA DDF: anchor header in the last sector, magic 0xDE11DE11 big endian.
	if size >= 512 {
		if err := image.ReadFull(r, sec[:], size-512); err != nil {
			return "", 0, false, err
		}
		if binary.BigEndian.Uint32(sec[0:4]) == 0xDE11DE11 {
			return "ddf", size - 512, true, nil
		}
	}
	// Intel IMSM: MPB signature in the second-to-last 512-byte sector.
	if size >= 1024 {
		if err := image.ReadFull(r, sec[:], size-1024); err != nil {
			return "", 0, false, err
		}
		if bytes.HasPrefix(sec[:], []byte("Intel Raid ISM Cfg Sig. ")) {
			return "imsm", size - 1024, true, nil
		}
	}
	return "", 0, false, nil
}
