package scan

import (
	"cmp"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"slices"

	"github.com/mirrorchk/mirrorchk/check"
	"github.com/mirrorchk/mirrorchk/image/mapfile"
)

// Mapfile is a GNU ddrescue mapfile given for an image (--mapfile
// IMAGE=MAPFILE).
type Mapfile struct{ Image, Path string }

// maxMapfile bounds a mapfile read: ddrescue writes about 40 bytes per
// block, so this is millions of blocks.
const maxMapfile = 256 << 20

// Unreadable reads the ddrescue mapfile of every image: the one given for
// it, else IMAGE.map or IMAGE.mapfile beside it when one exists. It
// returns, by image index, the ranges the mapfile does not show read
// (every block whose status is not '+'), and where each list came from.
// A mapfile that does not parse, or that describes more bytes than its
// image holds, is an error naming it; a given mapfile for a path that is
// not an input, or that does not exist, is a UsageError.
func (r *Run) Unreadable(given []Mapfile) (map[int][]check.Extent, map[int]string, map[int]string, error) {
	paths := map[int]string{}
	how := map[int]string{}
	for _, g := range given {
		i, err := r.Find("--mapfile", g.Image)
		if err != nil {
			return nil, nil, nil, err
		}
		if _, dup := paths[i]; dup {
			return nil, nil, nil, usage("--mapfile names %s twice", g.Image)
		}
		if _, err := os.Stat(g.Path); err != nil {
			return nil, nil, nil, usage("--mapfile: %w", err)
		}
		paths[i], how[i] = g.Path, "ddrescue mapfile "+g.Path+" (--mapfile)"
	}
	for i, im := range r.Images {
		if _, ok := paths[i]; ok || im == nil {
			continue
		}
		for _, suffix := range []string{".map", ".mapfile"} {
			p := im.Segments()[0] + suffix
			fi, err := os.Stat(p)
			if errors.Is(err, fs.ErrNotExist) {
				continue
			}
			if err != nil {
				return nil, nil, nil, fmt.Errorf("%s: %w", p, err)
			}
			if fi.Mode().IsRegular() {
				paths[i], how[i] = p, "ddrescue mapfile "+p+" (found beside the image)"
				break
			}
		}
	}
	out := map[int][]check.Extent{}
	for i, p := range paths {
		rs, err := readMapfile(p, r.Images[i].Size())
		if err != nil {
			return nil, nil, nil, err
		}
		for _, x := range rs {
			out[i] = append(out[i], check.Extent{Off: x.Off, Len: x.Len})
		}
	}
	// What an acquisition recorded as unreadable (EWF error2) is zeros in
	// the image, not data: the same as a ddrescue mapfile's bad blocks.
	for i, im := range r.Images {
		if im == nil {
			continue
		}
		u := im.Info().Unreadable
		if len(u) == 0 {
			continue
		}
		src := fmt.Sprintf("the %s error section (%d ranges the acquisition could not read)", im.Info().Format, len(u))
		if how[i] != "" {
			how[i] += "; " + src
		} else {
			how[i] = src
		}
		for _, x := range u {
			out[i] = append(out[i], check.Extent{Off: x.Off, Len: x.Len})
		}
		out[i] = mergeExtents(out[i])
	}
	return out, how, paths, nil
}

// mergeExtents sorts extents and merges those that overlap or touch.
func mergeExtents(xs []check.Extent) []check.Extent {
	slices.SortFunc(xs, func(a, b check.Extent) int { return cmp.Compare(a.Off, b.Off) })
	var out []check.Extent
	for _, x := range xs {
		if x.Len <= 0 {
			continue
		}
		if k := len(out) - 1; k >= 0 && x.Off <= out[k].Off+out[k].Len {
			out[k].Len = max(out[k].Len, x.Off+x.Len-out[k].Off)
			continue
		}
		out = append(out, x)
	}
	return out
}

func readMapfile(path string, size int64) ([]mapfile.Range, error) {
	f, err := os.Open(path) // read-only: a mapfile is evidence too
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if fi, err := f.Stat(); err == nil && fi.Size() > maxMapfile {
		return nil, fmt.Errorf("%s: %d bytes, over %d: not a ddrescue mapfile", path, fi.Size(), maxMapfile)
	}
	m, err := mapfile.Parse(f, path)
	if err != nil {
		return nil, err
	}
	return m.Unreadable(path, size)
}
