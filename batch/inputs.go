// Package batch runs mirrorchk over many inputs at once: it walks
// directories and reads manifests (inputs.go, manifest.go), groups images
// without set metadata by the evidence that they are copies of one disk
// (identity.go, plan.go), assigns each set to a shard, checks the sets in
// parallel through package scan (run.go), and merges shard outputs
// (merge.go). It knows no flags or terminals.
package batch

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
)

// Input is one image to scan and what the manifest (or the command line)
// says about it.
type Input struct {
	Path     string // as given, or joined to the walked directory / manifest directory
	Case     string // manifest: sets are never formed across cases
	Set      string // manifest: images of one set, for images without set metadata
	Hive     string // manifest: a SYSTEM hive describing the image's NT FT set
	Member   string // manifest: SIGNATURE:OFFSET binding a partition image to an NT FT member
	Serial   string // manifest: the drive serial number (IMSM)
	Prefer   bool   // manifest: the authoritative member of its set
	Explicit bool   // named as a file on the command line
	// Err is set when the input cannot be used at all (a broken symlink,
	// a symlink loop, a directory that cannot be read); it is reported as
	// a problem of that input.
	Err error
}

// Inputs are the images found, in a deterministic order: command-line
// files in the order given, each directory's files in lexical order, each
// manifest's rows in order.
type Inputs struct {
	Images []Input
	// Skipped counts the files not taken as images, by reason: "hidden",
	// "not-an-image", "compressed" (a compressed file or an archive, by its
	// extension), "segment" (a later segment of a split image), "hive" (a
	// registry hive), "duplicate" (reached twice).
	Skipped map[string]int
	// Compressed are the compressed files and archives the walk skipped, by
	// path in walk order: each may hold a member image, so the plan names
	// every one of them (a warning) rather than only counting them.
	Compressed []string
	// Walked is set when a directory or a manifest was given: then images
	// are paired only on evidence, never because the user listed them.
	Walked bool
}

// notImage are file name extensions that are never disk images.
var notImage = map[string]bool{
	".txt": true, ".md": true, ".json": true, ".jsonl": true, ".xml": true, ".html": true, ".htm": true,
	".csv": true, ".log": true, ".pdf": true, ".md5": true, ".sha1": true, ".sha256": true, ".sha512": true,
	".sh": true, ".go": true, ".hivexsh": true, ".hive": true, ".yaml": true, ".yml": true, ".ini": true, ".cfg": true, ".doc": true, ".docx": true,
	".map": true, ".mapfile": true, // GNU ddrescue mapfiles: read beside their image
}

// compressed are the file name extensions of compressed files and
// archives: not read (image.Open refuses them by content), but named in the
// report, since a seized member is sometimes stored compressed.
var compressed = map[string]string{
	".gz": "gunzip -k", ".tgz": "tar -xzf", ".xz": "xz -dk", ".zst": "zstd -d", ".bz2": "bunzip2 -k", ".lz4": "lz4 -d",
	".zip": "unzip", ".tar": "tar -xf", ".7z": "7z x",
}

// laterSegment matches the second and later segments of split raw
// (name.002…) and EWF (name.E02…, name.Ex02…, name.L02…, name.s02…) sets.
var (
	rawSegment = regexp.MustCompile(`^(.*)\.([0-9]{3,})$`)
	ewfSegment = regexp.MustCompile(`(?i)^(.*)\.(e|ex|l|lx|s)([0-9]{2}|[a-z]{2})$`)
)

// laterSegment reports whether name is a segment other than the first of
// a split set whose first segment is in names.
func laterSegment(name string, names map[string]bool) bool {
	if m := rawSegment.FindStringSubmatch(name); m != nil {
		n := strings.TrimLeft(m[2], "0")
		if n == "" {
			return false // .000 is a first segment
		}
		if n == "1" {
			// .001 is the first unless .000 exists.
			return names[m[1]+"."+strings.Repeat("0", len(m[2]))]
		}
		return true
	}
	if m := ewfSegment.FindStringSubmatch(name); m != nil {
		return !strings.EqualFold(m[3], "01")
	}
	return false
}

// Collect gathers the images named by args (files and directories,
// directories walked recursively) and by the manifest (may be "").
func Collect(args []string, manifest string) (*Inputs, error) {
	in := &Inputs{Skipped: map[string]int{}}
	seen := map[fileID]bool{}
	for _, a := range args {
		fi, err := os.Stat(a)
		if err == nil && fi.IsDir() {
			in.Walked = true
			visiting := map[fileID]bool{}
			in.walk(a, seen, visiting)
			continue
		}
		if err == nil {
			if id, ok := idOf(fi); ok {
				seen[id] = true
			}
		}
		in.Images = append(in.Images, Input{Path: a, Explicit: true})
	}
	if manifest != "" {
		in.Walked = true
		rows, err := ReadManifest(manifest)
		if err != nil {
			return nil, err
		}
		in.Images = append(in.Images, rows...)
	}
	return in, nil
}

type fileID struct{ dev, ino uint64 }

// walk adds the images under dir. visiting holds the directories on the
// current path (a symlink back to one is a loop); seen the files already
// taken (two links to one file are one image).
func (in *Inputs) walk(dir string, seen, visiting map[fileID]bool) {
	if fi, err := os.Stat(dir); err == nil {
		if id, ok := idOf(fi); ok {
			if visiting[id] {
				in.Images = append(in.Images, Input{Path: dir, Err: fmt.Errorf("%s: symbolic link loop: the directory is already being walked", dir)})
				return
			}
			visiting[id] = true
			defer delete(visiting, id)
		}
	}
	ents, err := os.ReadDir(dir)
	if err != nil {
		in.Images = append(in.Images, Input{Path: dir, Err: err})
		return
	}
	names := map[string]bool{}
	for _, e := range ents {
		names[e.Name()] = true
	}
	sort.Slice(ents, func(i, j int) bool { return ents[i].Name() < ents[j].Name() })
	for _, e := range ents {
		name := e.Name()
		p := filepath.Join(dir, name)
		if strings.HasPrefix(name, ".") {
			in.Skipped["hidden"]++
			continue
		}
		fi, err := os.Stat(p) // follows symlinks
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) && e.Type()&fs.ModeSymlink != 0 {
				err = fmt.Errorf("%s: broken symbolic link: %w", p, err)
			}
			in.Images = append(in.Images, Input{Path: p, Err: err})
			continue
		}
		if fi.IsDir() {
			in.walk(p, seen, visiting)
			continue
		}
		ext := strings.ToLower(filepath.Ext(name))
		if notImage[ext] {
			in.Skipped["not-an-image"]++
			continue
		}
		if _, ok := compressed[ext]; ok {
			in.Skipped["compressed"]++
			in.Compressed = append(in.Compressed, p)
			continue
		}
		if laterSegment(name, names) {
			in.Skipped["segment"]++
			continue
		}
		if isHive(p) {
			in.Skipped["hive"]++
			continue
		}
		if id, ok := idOf(fi); ok {
			if seen[id] {
				in.Skipped["duplicate"]++
				continue
			}
			seen[id] = true
		}
		in.Images = append(in.Images, Input{Path: p})
	}
}

// isHive reports whether the file starts with a registry hive's "regf".
func isHive(p string) bool {
	f, err := os.Open(p)
	if err != nil {
		return false
	}
	defer f.Close()
	b := make([]byte, 4)
	n, _ := f.Read(b)
	return n == 4 && string(b) == "regf"
}
