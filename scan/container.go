package scan

import (
	"fmt"
	"slices"
	"strings"

	"github.com/mirrorchk/mirrorchk/image"
	"github.com/mirrorchk/mirrorchk/report"
)

// withStored adds to the run's hash algorithms those a container records
// of its media (EWF: MD5, SHA-1), so that the stored hashes are verified in
// the same read pass. With no hashing asked for (--hash none) nothing is
// added and the stored hashes are reported as not computed.
func withStored(algs []string, images []*image.Image) []string {
	if len(algs) == 0 {
		return algs
	}
	out := slices.Clone(algs)
	for _, im := range images {
		for _, a := range []string{"md5", "sha1"} {
			if _, ok := im.Info().StoredHashes[a]; ok && !slices.Contains(out, a) {
				out = append(out, a)
			}
		}
	}
	return out
}

// hashContainerFiles hashes the evidence files of every container image
// (their own bytes, as forensic practice records them beside the media
// hashes). Raw and split raw images are not read twice: their media hash
// covers their files in order.
func hashContainerFiles(images []*image.Image, algs []string) error {
	if len(algs) == 0 {
		return nil
	}
	for _, im := range images {
		if !im.Container() || im.FileHashes() != nil {
			continue
		}
		if _, err := im.HashFiles(algs); err != nil {
			return err
		}
	}
	return nil
}

// containerReport describes what a member image was read from, or nil for
// one plain raw file. media are the hashes computed of its media.
func containerReport(im *image.Image, media map[string]string) *report.Container {
	info := im.Info()
	segs := im.Segments()
	if !im.Container() && len(segs) < 2 {
		return nil
	}
	c := &report.Container{
		Format:       info.Format,
		VirtualSize:  im.Size(),
		Files:        []report.Input{},
		StoredHashes: []report.StoredHash{},
		Acquisition:  []report.KeyValue{},
		Unreadable:   []report.ByteRange{},
		Warnings:     append([]string{}, info.Warnings...),
	}
	if hs := im.FileHashes(); hs != nil {
		for _, f := range hs {
			c.Files = append(c.Files, report.Input{Path: f.Path, Size: f.Size, Hashes: f.Hashes})
		}
	} else {
		for _, p := range segs {
			c.Files = append(c.Files, report.Input{Path: p, Hashes: map[string]string{}})
		}
		for i, sz := range im.SegmentSizes() {
			c.Files[i].Size = sz
		}
	}
	for _, a := range []string{"md5", "sha1", "sha256"} {
		stored, ok := info.StoredHashes[a]
		if !ok {
			continue
		}
		sh := report.StoredHash{Algorithm: a, Stored: stored, Computed: media[a], Status: "not-computed"}
		switch {
		case sh.Computed == "":
		case sh.Computed == stored:
			sh.Status = "verified"
		default:
			sh.Status = "mismatch"
		}
		c.StoredHashes = append(c.StoredHashes, sh)
	}
	for _, kv := range info.Acquisition {
		c.Acquisition = append(c.Acquisition, report.KeyValue{Key: kv.Key, Value: kv.Value})
	}
	for _, r := range info.Unreadable {
		c.Unreadable = append(c.Unreadable, report.ByteRange{Offset: r.Off, Length: r.Len})
	}
	return c
}

// containerProblems are the findings about what a member was read from: a
// stored hash that does not match the media (error: the evidence is not
// what was acquired, though it is still scanned), and the container's
// warnings.
func containerProblems(m report.Member) []report.Problem {
	c := m.Container
	if c == nil {
		return nil
	}
	var out []report.Problem
	for _, h := range c.StoredHashes {
		if h.Status == "mismatch" {
			out = append(out, report.Problem{Code: "stored-hash-mismatch", Severity: report.SeverityError, Member: m.Path,
				Message: fmt.Sprintf("the %s the %s records of its media is %s, but the media read hashes to %s: the image is not what was acquired (scanned all the same)",
					strings.ToUpper(h.Algorithm), c.Format, h.Stored, h.Computed)})
		}
	}
	for _, w := range c.Warnings {
		out = append(out, report.Problem{Code: "container-warning", Severity: report.SeverityWarning, Member: m.Path, Message: w})
	}
	return out
}

// writtenAs says in what format a member's repaired image is written when
// that is not the input's: always raw.
func writtenAs(im *image.Image) string {
	if !im.Container() {
		return ""
	}
	return "raw image (input was " + im.Info().Format + ")"
}
