package repair

import (
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/mirrorchk/mirrorchk/set"
)

// Names of what a repair leaves in the output directory while it runs:
// ".NAME.mirrorchk-partial-ID" for an output being written, and
// ".mirrorchk-plan-ID" listing every output of the run, removed when the
// run ends. ID is the plan's identity (Identity).
const (
	partialInfix = ".mirrorchk-partial-"
	planPrefix   = ".mirrorchk-plan-"
)

// Identity is a plan's identity: a short digest of everything that
// decides what a repair writes (the inputs' files as they are, the
// options, the output directory). A rerun of the same command on the same
// inputs has the same identity.
func Identity(parts ...string) string {
	h := sha256.New()
	for _, p := range parts {
		fmt.Fprintf(h, "%d:%s\n", len(p), p)
	}
	return hex.EncodeToString(h.Sum(nil))[:16]
}

// FileIdentity describes a file as it is now, for Identity: its absolute
// path, size, modification time, device and inode.
func FileIdentity(path string) string {
	abs, err := filepath.Abs(path)
	if err != nil {
		abs = path
	}
	fi, err := os.Stat(path)
	if err != nil {
		return abs + " (" + err.Error() + ")"
	}
	id := fmt.Sprintf("%s size=%d mtime=%d", abs, fi.Size(), fi.ModTime().UnixNano())
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		id += fmt.Sprintf(" dev=%d ino=%d", st.Dev, st.Ino)
	}
	return id
}

// OutSpec is one output a repair may write, known before the read pass.
type OutSpec struct {
	Path string // final path
	Need int64  // bytes it may take on disk (an upper bound)
}

// Outputs lists every output the repair of the sets may write into dir
// (every non-spare member of each set), with the space each may take: at
// most the image's size, and no more than the data any member of its set
// holds on disk (outputs are sparse: zeros are not written), plus room
// for its mapfile.
func Outputs(dir string, sets []*set.Set) ([]OutSpec, error) {
	var out []OutSpec
	names := map[string]string{} // output name -> the image path written there
	for _, s := range sets {
		var most int64
		for _, m := range s.Members {
			most = max(most, allocated(m))
		}
		for _, m := range s.Members {
			if m.State == set.StateSpare {
				continue
			}
			name := outputName(m.Path(), m.Image.Container())
			need := min(m.Image.Size(), most) + mapfileRoom
			if prev, ok := names[name]; ok {
				if prev != m.Path() {
					return nil, fmt.Errorf("two members would be written to %s; give the inputs distinct file names", filepath.Join(dir, name))
				}
				// One image in two sets (NT FT: two mirrors on the same
				// disks): one output, if both sets are repaired the plans
				// are refused later.
				for k := range out {
					if out[k].Path == filepath.Join(dir, name) {
						out[k].Need = max(out[k].Need, need)
					}
				}
				continue
			}
			names[name] = m.Path()
			out = append(out, OutSpec{Path: filepath.Join(dir, name), Need: need})
		}
	}
	return out, nil
}

// mapfileRoom is what a mapfile beside an output may take.
const mapfileRoom = 1 << 20

// allocated is the bytes a member's files hold on disk: their allocated
// blocks for regular files, the size for a block device.
func allocated(m *set.Member) int64 {
	var n int64
	for _, p := range m.Image.Segments() {
		fi, err := os.Stat(p)
		if err != nil {
			return m.Image.Size()
		}
		st, ok := fi.Sys().(*syscall.Stat_t)
		if !fi.Mode().IsRegular() || !ok {
			return m.Image.Size()
		}
		n += min(st.Blocks*512, fi.Size())
	}
	return n
}

// OutError is a problem with --out found before the read pass. Space is
// set when the problem is free space (an operational error, not a mistake
// in the command).
type OutError struct {
	Err   error
	Space bool
}

func (e *OutError) Error() string { return e.Err.Error() }
func (e *OutError) Unwrap() error { return e.Err }

func outErr(format string, args ...any) error {
	return &OutError{Err: fmt.Errorf(format, args...)}
}

// Out is an output directory made ready for a repair by PrepareOut.
type Out struct {
	Dir     string
	ID      string
	Created bool     // the directory did not exist and was created
	Removed []string // leftovers of an interrupted run of the same plan, removed
	dryRun  bool
	outputs []OutSpec
}

// PrepareOut checks and readies the output directory before the read
// pass, so that nothing about it fails after minutes of reading:
//
//   - a missing directory is created when its parent exists (not in a dry
//     run, which only checks that it could be);
//   - it must be a directory, writable, and hold none of the inputs;
//   - leftovers of an interrupted run of the same plan (id) are removed: its
//     partial files, and the outputs and mapfiles its marker lists; leftovers
//     of another plan are refused, naming them;
//   - no output or mapfile may exist already;
//   - the file system must have room for every output.
//
// Unless dry-running it then writes the plan's marker, which Out.Done
// removes when the run ends.
func PrepareOut(dir string, inputs []string, outputs []OutSpec, id string, dryRun bool) (*Out, error) {
	o := &Out{Dir: dir, ID: id, dryRun: dryRun, outputs: outputs}
	di, err := os.Stat(dir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		parent := filepath.Dir(filepath.Clean(dir))
		pi, perr := os.Stat(parent)
		if perr != nil || !pi.IsDir() {
			return nil, outErr("--out %s does not exist and its parent %s is not a directory that exists; create it first", dir, parent)
		}
		if err := writable(parent); err != nil {
			return nil, outErr("--out %s cannot be created: %s is not writable (%v)", dir, parent, err)
		}
		if dryRun {
			o.Created = true
			return o, o.checkSpace(parent)
		}
		if err := os.Mkdir(dir, 0o755); err != nil {
			return nil, outErr("--out %s: %v", dir, err)
		}
		syncDir(parent)
		o.Created = true
		if di, err = os.Stat(dir); err != nil {
			return nil, outErr("--out %s: %v", dir, err)
		}
	case err != nil:
		return nil, outErr("--out %s: %v", dir, err)
	}
	if !di.IsDir() {
		return nil, outErr("--out %s is not a directory", dir)
	}
	for _, in := range inputs {
		abs, err := filepath.Abs(in)
		if err != nil {
			return nil, err
		}
		if real, err := filepath.EvalSymlinks(abs); err == nil {
			abs = real
		}
		if pi, err := os.Stat(filepath.Dir(abs)); err == nil && os.SameFile(pi, di) {
			return nil, outErr("--out %s contains the input %s; write repaired images to another directory", dir, in)
		}
	}
	if err := writable(dir); err != nil {
		return nil, outErr("--out %s is not writable: %v", dir, err)
	}
	if err := o.leftovers(); err != nil {
		return nil, err
	}
	for _, out := range outputs {
		for _, p := range []string{out.Path, out.Path + ".map"} {
			if dryRun && slices.Contains(o.Removed, o.rel(p)) {
				continue // an interrupted run's output, which a real run removes
			}
			if _, err := os.Lstat(p); err == nil {
				return nil, outErr("%s already exists; mirrorchk does not overwrite files", p)
			}
		}
	}
	if err := o.checkSpace(dir); err != nil {
		return nil, err
	}
	if dryRun {
		return o, nil
	}
	var b strings.Builder
	fmt.Fprintf(&b, "mirrorchk repair plan %s: these outputs are being written; a rerun of the same command removes them and starts again\n", id)
	for _, out := range outputs {
		fmt.Fprintln(&b, o.rel(out.Path))
	}
	if err := writeSynced(filepath.Join(dir, planPrefix+id), []byte(b.String())); err != nil {
		return nil, outErr("--out %s: %v", dir, err)
	}
	return o, nil
}

// Done removes the plan's marker: the run has ended (written, refused, or
// failed with its partial files removed).
func (o *Out) Done() {
	if o == nil || o.dryRun {
		return
	}
	os.Remove(filepath.Join(o.Dir, planPrefix+o.ID))
	syncDir(o.Dir)
}

// partialName is the temporary name of an output (or its mapfile) of plan id.
func partialName(final, id string) string {
	return filepath.Join(filepath.Dir(final), "."+filepath.Base(final)+partialInfix+id)
}

// rel is the name of path relative to the output directory, as the plan's
// marker lists it: a base name for an output written into --out itself,
// "SET/NAME" for one a walked batch writes into a set's subdirectory.
func (o *Out) rel(path string) string {
	r, err := filepath.Rel(o.Dir, path)
	if err != nil || r == ".." || strings.HasPrefix(r, "../") {
		return filepath.Base(path)
	}
	return filepath.ToSlash(r)
}

// leftovers removes what an interrupted run of this plan left, and refuses
// what another plan left for the same outputs: in --out and in every
// subdirectory this plan writes into.
func (o *Out) leftovers() error {
	ours := map[string]bool{} // relative names of outputs and their mapfiles
	dirs := []string{"."}     // relative directories written into
	for _, out := range o.outputs {
		r := o.rel(out.Path)
		ours[r] = true
		ours[r+".map"] = true
		if d := path.Dir(r); !slices.Contains(dirs, d) {
			dirs = append(dirs, d)
		}
	}
	var foreign, remove []string
	for _, d := range dirs {
		ents, err := os.ReadDir(filepath.Join(o.Dir, filepath.FromSlash(d)))
		if errors.Is(err, fs.ErrNotExist) && d != "." {
			continue // a set's subdirectory not made yet
		}
		if err != nil {
			return outErr("--out %s: %v", o.Dir, err)
		}
		for _, e := range ents {
			name := e.Name()
			relName := path.Join(d, name)
			switch {
			case d == "." && strings.HasPrefix(name, planPrefix) && strings.HasSuffix(name, ".tmp"):
				// A marker being written when the run stopped: it lists
				// nothing that exists yet.
				if strings.TrimSuffix(strings.TrimPrefix(name, planPrefix), ".tmp") == o.ID {
					remove = append(remove, name)
				}
			case d == "." && strings.HasPrefix(name, planPrefix):
				if strings.TrimPrefix(name, planPrefix) == o.ID {
					// Our own marker: the outputs it lists are this plan's,
					// from a run that did not finish.
					listed, err := readPlan(filepath.Join(o.Dir, name))
					if err != nil {
						return outErr("--out %s: %v", o.Dir, err)
					}
					for _, l := range listed {
						for _, p := range []string{l, l + ".map"} {
							if _, err := os.Lstat(filepath.Join(o.Dir, filepath.FromSlash(p))); err == nil {
								remove = append(remove, p)
							}
						}
					}
					remove = append(remove, name)
					continue
				}
				listed, _ := readPlan(filepath.Join(o.Dir, name))
				if slices.ContainsFunc(listed, func(l string) bool { return ours[l] }) {
					foreign = append(foreign, name)
				}
			case strings.HasPrefix(name, ".") && strings.Contains(name, partialInfix):
				base, id, _ := strings.Cut(strings.TrimPrefix(name, "."), partialInfix)
				if !ours[path.Join(d, base)] {
					continue
				}
				if id == o.ID {
					remove = append(remove, relName)
				} else {
					foreign = append(foreign, relName)
				}
			}
		}
	}
	if len(foreign) > 0 {
		sort.Strings(foreign)
		return outErr("--out %s holds what an interrupted repair with other inputs or options left: %s; remove them, or rerun that repair as it was given", o.Dir, strings.Join(foreign, ", "))
	}
	sort.Strings(remove)
	remove = slices.Compact(remove)
	if o.dryRun {
		o.Removed = remove // what a real run would remove
		return nil
	}
	synced := map[string]bool{}
	for _, name := range remove {
		p := filepath.Join(o.Dir, filepath.FromSlash(name))
		if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return outErr("--out %s: removing the leftover %s: %v", o.Dir, name, err)
		}
		o.Removed = append(o.Removed, name)
		synced[filepath.Dir(p)] = true
	}
	for d := range synced {
		syncDir(d)
	}
	return nil
}

// readPlan returns the output names a plan marker lists, relative to its
// directory; a name that would leave the directory is ignored.
func readPlan(file string) ([]string, error) {
	f, err := os.Open(file)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var names []string
	sc := bufio.NewScanner(f)
	first := true
	for sc.Scan() {
		if first {
			first = false
			continue
		}
		l := strings.TrimSpace(sc.Text())
		if l == "" || !fs.ValidPath(l) || l == "." {
			continue
		}
		names = append(names, l)
	}
	return names, sc.Err()
}

// checkSpace refuses a file system without room for every output.
func (o *Out) checkSpace(dir string) error {
	var need int64
	for _, out := range o.outputs {
		need += out.Need
	}
	var st unix.Statfs_t
	if err := unix.Statfs(dir, &st); err != nil {
		return nil // no answer: writing will tell
	}
	avail := int64(st.Bavail) * int64(st.Bsize)
	if avail < need {
		return &OutError{Space: true, Err: fmt.Errorf("--out %s: not enough free space: the %d outputs may take %d bytes (%.1f MiB), the file system has %d bytes (%.1f MiB) free; nothing was written",
			o.Dir, len(o.outputs), need, float64(need)/(1<<20), avail, float64(avail)/(1<<20))}
	}
	return nil
}

// writable reports whether a file can be created in dir.
func writable(dir string) error {
	return unix.Access(dir, unix.W_OK|unix.X_OK)
}

func syncDir(dir string) {
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
}

// writeSynced writes path through a synced temporary file and a rename.
func writeSynced(path string, b []byte) error {
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return err
	}
	if _, err := f.Write(b); err != nil {
		f.Close()
		os.Remove(tmp)
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		os.Remove(tmp)
		return err
	}
	if err := f.Close(); err != nil {
		os.Remove(tmp)
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return err
	}
	syncDir(filepath.Dir(path))
	return nil
}
