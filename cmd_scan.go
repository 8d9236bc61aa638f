package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"time"

	"github.com/schollz/progressbar/v3"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"golang.org/x/sys/unix"
	"golang.org/x/term"

	"github.com/mirrorchk/mirrorchk/batch"
	"github.com/mirrorchk/mirrorchk/check"
	"github.com/mirrorchk/mirrorchk/example"
	"github.com/mirrorchk/mirrorchk/image"
	"github.com/mirrorchk/mirrorchk/report"
	"github.com/mirrorchk/mirrorchk/scan"
	"github.com/mirrorchk/mirrorchk/set"
)

// scanOptions are the flags shared by scan and repair.
type scanOptions struct {
	json       bool
	reportFile string
	htmlFile   string
	prefer     string
	hash       string
	maxRanges  int
	quiet      bool
	sectorSize int
	example    bool
	serials    []string
	hives      []string
	ftMembers  []string
	manifest   string
	jsonlFile  string
	dfxmlFile  string
	jobs       int
	shard      string
	width      int  // --width; 0: the terminal's, else 100
	allRanges  bool // --max-ranges given: the text lists every range the report holds
	mapfiles   []string
}

func (o *scanOptions) addFlags(fs *pflag.FlagSet) {
	fs.BoolVar(&o.json, "json", false, "write the JSON report to stdout instead of the text report")
	fs.StringVar(&o.reportFile, "report", "", "also write the JSON report to `FILE`")
	fs.StringVar(&o.htmlFile, "html", "", "also write the HTML report to `FILE` (self-contained, no scripts)")
	fs.StringVar(&o.prefer, "prefer", "", "take `IMAGE` as the authoritative member (recorded as basis \"user\")")
	fs.StringVar(&o.hash, "hash", "sha256", "hashes of each input, comma-separated: sha256, sha1, md5, or none")
	fs.IntVar(&o.maxRanges, "max-ranges", 10000, "list at most `N` differing ranges per set (the rest are counted)")
	fs.BoolVar(&o.quiet, "quiet", false, "no progress bar and no text report (the exit code and --report still tell)")
	fs.IntVar(&o.sectorSize, "sector-size", 512, "comparison granularity in bytes")
	fs.StringArrayVar(&o.serials, "serial", nil, "`IMAGE=SERIAL`: the drive serial number of an image (binds IMSM members to disk entries); repeatable")
	fs.StringArrayVar(&o.hives, "hive", nil, "`FILE`: a Windows NT SYSTEM hive (or SYSTEM.ALT) whose \\DISK\\Information describes FT mirror sets; read only; repeatable")
	fs.IntVar(&o.width, "width", 0, "wrap the text report at `N` columns (default: the terminal's width, or 100 when stdout is not a terminal)")
	fs.StringArrayVar(&o.mapfiles, "mapfile", nil, "`IMAGE=MAPFILE`: the GNU ddrescue mapfile of an image: every block not finished ('+') is unreadable; repeatable (IMAGE.map or IMAGE.mapfile beside an image is used when found)")
	fs.StringVar(&o.manifest, "manifest", "", "read the images from `FILE`: CSV with a header, or JSON lines; columns image (required), case, set, hive, member, serial, prefer; paths relative to the manifest's directory")
	fs.StringVar(&o.jsonlFile, "jsonl", "", "also write one JSON line per set, then a summary line, to `FILE` (\"-\": stdout, and no other report there)")
	fs.StringVar(&o.dfxmlFile, "dfxml", "", "also write Digital Forensics XML (DFXML) to `FILE`")
	fs.IntVar(&o.jobs, "jobs", runtime.NumCPU(), "check `N` sets at once")
	fs.StringVar(&o.shard, "shard", "", "`I/N`: check only the sets of shard I of N (0 <= I < N); merge the N outputs with mirrorchk merge")
	fs.StringArrayVar(&o.ftMembers, "member", nil, "`IMAGE=SIGNATURE:OFFSET`: bind a partition image to the NT FT member on the disk with that signature (hex) at that byte offset; repeatable")
}

// hashes parses --hash.
func (o *scanOptions) hashes() ([]string, error) {
	var out []string
	seen := map[string]bool{}
	for _, h := range strings.Split(o.hash, ",") {
		h = strings.ToLower(strings.TrimSpace(h))
		switch h {
		case "none", "":
			continue
		case "sha256", "sha1", "md5":
			if !seen[h] {
				out = append(out, h)
				seen[h] = true
			}
		default:
			return nil, usageError{fmt.Errorf("--hash: unknown algorithm %q (sha256, sha1, md5, none)", h)}
		}
	}
	return out, nil
}

func (o *scanOptions) validate() error {
	if o.sectorSize < 512 || o.sectorSize&(o.sectorSize-1) != 0 || o.sectorSize > 1<<20 {
		return usageError{fmt.Errorf("--sector-size %d: must be a power of two from 512 to 1048576", o.sectorSize)}
	}
	if o.maxRanges < 0 {
		return usageError{fmt.Errorf("--max-ranges %d: must not be negative", o.maxRanges)}
	}
	if o.width != 0 && (o.width < report.MinTextWidth || o.width > 10000) {
		return usageError{fmt.Errorf("--width %d: must be from %d to 10000 columns", o.width, report.MinTextWidth)}
	}
	if o.jobs < 1 {
		return usageError{fmt.Errorf("--jobs %d: must be at least 1", o.jobs)}
	}
	if o.json && o.jsonlFile == "-" {
		return usageError{fmt.Errorf("--json and --jsonl - both write to stdout; give --jsonl a file")}
	}
	if _, _, err := o.shardSpec(); err != nil {
		return err
	}
	_, err := o.hashes()
	return err
}

func newScanCommand(e *env) *cobra.Command {
	var o scanOptions
	cmd := &cobra.Command{
		Use:   "scan [IMAGE|DIR]... [--manifest FILE]",
		Short: "Check the members of mirror sets and report which copy is authoritative",
		Long: `scan groups the images into mirror sets by their metadata (images without metadata
only with copies of the same disk: same size and filesystem identity, or the manifest's
set; else each is "unpaired"), diffs each set's members sector by sector, and reports the
verdict, the authoritative member and its evidence, and every range where the members
differ. Directories are walked recursively. Nothing is written to the inputs.

EXIT STATUS
  the bitwise OR of the sets' codes: 0 consistent, 4 divergence, stale member, unpaired
  image or other problems, 8 an input could not be read (its set only), 16 usage,
  32 cancelled`,
		Args: func(cmd *cobra.Command, args []string) error { return imageArgs(cmd, o, args) },
		PreRunE: func(cmd *cobra.Command, _ []string) error {
			o.allRanges = cmd.Flags().Changed("max-ranges")
			return o.validate()
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			var labels map[string]string
			if o.example {
				var cleanup func()
				var err error
				if args, labels, cleanup, err = extractExample(); err != nil {
					return err
				}
				defer cleanup()
			}
			run, err := runScan(cmd.Context(), e, o, args, labels, false, nil)
			if err != nil {
				return failReport(e, o, run, err)
			}
			defer run.Close()
			rep := run.report(e, o)
			if err := emit(e, o, rep, run.stream); err != nil {
				return err
			}
			e.code = *rep.ExitCode
			return nil
		},
	}
	o.addFlags(cmd.Flags())
	cmd.Flags().BoolVar(&o.example, "example", false, "scan the embedded example: a real md RAID-1 pair with a stale member")
	return cmd
}

// now is the report's clock; tests replace it.
var now = func() time.Time { return time.Now().UTC() }

// batchRun is one run of the batch pipeline: the plan (which owns the open
// images), its results and the report.
type batchRun struct {
	plan    *batch.Plan
	results []*batch.SetResult
	hashes  []string
	start   time.Time
	stream  *jsonlStream // --jsonl written while the sets are checked, or nil
}

func (r *batchRun) Close() {
	r.stream.abort()
	r.plan.Close()
}

// runScan collects the inputs (files, directories, --manifest), groups
// them into sets, and checks the sets (those of --shard) --jobs at a time.
// The returned run owns the open images: the caller closes it.
// beforeCheck, when not nil, is called after the sets are formed and
// before the read pass (repair checks --out there), with the paths of the
// mapfiles used, by image.
func runScan(ctx context.Context, e *env, o scanOptions, paths []string, labels map[string]string, keep bool, beforeCheck func(*batchRun, map[int]string) error) (*batchRun, error) {
	start := now()
	hashes, _ := o.hashes()
	in, err := batch.Collect(paths, o.manifest)
	if err != nil {
		var me *batch.ManifestError
		if errors.As(err, &me) || errors.Is(err, fs.ErrNotExist) {
			return nil, usageError{fmt.Errorf("--manifest: %w", err)}
		}
		return nil, err
	}
	gopt, err := o.groupOptions()
	if err != nil {
		return nil, err
	}
	shard, shards, err := o.shardSpec()
	if err != nil {
		return nil, err
	}
	withhold, known, err := o.withhold()
	if err != nil {
		return nil, err
	}
	plan, err := batch.MakePlan(in, batch.Options{Hives: gopt.Hives, Serials: gopt.Serials, FTMembers: gopt.FTMembers,
		Prefer: o.prefer, Labels: labels, Shards: shards, Settings: o.settings(), Withhold: withhold})
	if err != nil {
		return nil, err
	}
	unread, from, mpaths := known.unread, known.from, known.paths
	setMemoryLimit(min(o.jobs, max(len(plan.Sets), 1))) // at most one job per set runs
	run := &batchRun{plan: plan, hashes: hashes, start: start}
	ok := false
	defer func() {
		if !ok {
			run.Close()
		}
	}()
	if err := o.checkOutputs(plan); err != nil {
		return nil, err
	}
	if beforeCheck != nil {
		if err := beforeCheck(run, mpaths); err != nil {
			return nil, err
		}
	}
	for _, ps := range plan.Sets {
		if ps.Err != nil && (shard < 0 || ps.Shard == shard) {
			fmt.Fprintf(e.stderr, "mirrorchk: %v (reported as an unreadable input; every other set is still scanned)\n", ps.Err)
		}
	}
	ropt := batch.RunOptions{
		Check: scan.CheckOptions{SectorSize: o.sectorSize, MaxRanges: o.maxRanges, Hashes: hashes,
			Unreadable: unread, UnreadableFrom: from},
		Jobs:        o.jobs,
		Shard:       shard,
		KeepResults: keep,
	}
	if o.jsonlFile != "" && !keep {
		head := &report.Report{Plan: plan.Hash, Tool: report.Tool{Name: "mirrorchk", Version: toolVersion()}}
		if shard >= 0 {
			head.Shard = fmt.Sprintf("%d/%d", shard, plan.Shards)
		}
		lean := !o.json && o.reportFile == "" && o.htmlFile == "" && o.dfxmlFile == "" && (o.quiet || o.jsonlFile == "-")
		if run.stream, err = newJSONLStream(e, o.jsonlFile, head, lean); err != nil {
			return nil, fmt.Errorf("--jsonl: %w", err)
		}
		ropt.OnSet = run.stream.set
	}
	bar := newBar(e, o, "scan")
	bar.describe(plan.Sets, shard)
	ropt.Progress = bar.progress
	run.results, err = plan.Run(ctx, ropt)
	bar.done()
	if err != nil {
		// The run, without results, still names its plan, inputs and
		// provenance in the report of the error (a cancelled batch job).
		run.results = nil
		return run, err
	}
	ok = true
	return run, nil
}

// checkOutputs refuses an output file that is an input, a directory, or
// named by two output flags.
func (o *scanOptions) checkOutputs(plan *batch.Plan) error {
	var images []*image.Image
	for _, im := range plan.Images {
		if im != nil {
			images = append(images, im)
		}
	}
	seen := map[string]string{}
	for _, rf := range []struct{ flag, path string }{{"--report", o.reportFile}, {"--html", o.htmlFile}, {"--jsonl", o.jsonlFile}, {"--dfxml", o.dfxmlFile}} {
		if rf.path == "" || rf.path == "-" {
			continue
		}
		if err := checkReportPath(rf.flag, rf.path, images); err != nil {
			return err
		}
		if f, ok := seen[rf.path]; ok {
			return usageError{fmt.Errorf("%s and %s name the same file %s", f, rf.flag, rf.path)}
		}
		seen[rf.path] = rf.flag
	}
	return nil
}

// failReport writes, for an operational error, a complete JSON report
// whose problems carry the error, to stdout with --json and to the
// --report file, so that a batch job always gets a machine-readable
// answer; then it returns err (exit 8 as before). A cancelled run's
// report says so. Usage errors stay one line on stderr.
func failReport(e *env, o scanOptions, run *batchRun, err error) error {
	var ue usageError
	var se *scan.UsageError
	cancelled := errors.Is(err, context.Canceled)
	if errors.As(err, &ue) || errors.As(err, &se) || (!o.json && o.reportFile == "" && !(cancelled && o.htmlFile != "")) {
		return err
	}
	var rep *report.Report
	if run != nil && run.plan != nil {
		rep = run.report(e, o)
	} else {
		rep = (&scan.Run{}).Report(scan.Meta{Tool: report.Tool{Name: "mirrorchk", Version: toolVersion()}, Command: e.argv, Generated: now(), SectorSize: o.sectorSize})
	}
	if cancelled {
		rep.Problems = append(rep.Problems, cancelledProblem())
		code := exitCancelled
		rep.ExitCode = &code
		o.jsonlFile = "" // the shard's lines are not all there: write no JSONL
		if werr := emit(e, o, rep, nil); werr != nil {
			fmt.Fprintf(e.stderr, "mirrorchk: %v\n", werr)
		}
		return err
	}
	rep.Problems = append(rep.Problems, report.Problem{Code: "operational-error", Severity: report.SeverityError, Message: err.Error()})
	code := exitOperation
	rep.ExitCode = &code
	if o.reportFile != "" {
		if werr := writeFileAtomic(o.reportFile, func(f *os.File) error { return report.WriteJSON(f, rep) }); werr != nil {
			fmt.Fprintf(e.stderr, "mirrorchk: --report: %v\n", werr)
		}
	}
	if o.json {
		report.WriteJSON(e.stdout, rep)
	}
	return err
}

// cancelledProblem is the report's note of a run stopped by SIGINT or
// SIGTERM.
func cancelledProblem() report.Problem {
	return report.Problem{Code: report.CodeCancelled, Severity: report.SeverityError,
		Message: "the run was cancelled (SIGINT or SIGTERM) before it finished: sets not listed were not checked, and partial outputs were removed"}
}

// report builds the report model of a run.
func (r *batchRun) report(e *env, o scanOptions) *report.Report {
	shard, _, _ := o.shardSpec()
	prov := provenance(e.argv, r.start)
	rep := r.plan.Report(r.results, scan.Meta{
		Tool:       report.Tool{Name: "mirrorchk", Version: toolVersion()},
		Command:    e.argv,
		Generated:  now(),
		SectorSize: o.sectorSize,
	}, r.hashes, shard, prov)
	prov.End = now().UTC().Format(time.RFC3339Nano)
	return rep
}

// unreadableKnown is what the plan's Withhold found: by image index, the
// ranges known unreadable before reading, where each was declared, and the
// mapfiles used.
type unreadableKnown struct {
	unread      map[int][]check.Extent
	from, paths map[int]string
}

// withhold returns the plan's Withhold function: the unreadable ranges
// known before reading (ddrescue mapfiles given or found beside an image,
// a container's error section), withheld while the plan reads the set
// metadata, so that scan, repair and plan group alike; what it finds is
// left in the returned unreadableKnown.
func (o *scanOptions) withhold() (func([]*image.Image) (map[int][]image.Range, error), *unreadableKnown, error) {
	var given []scan.Mapfile
	for _, kv := range o.mapfiles {
		img, mf, ok := strings.Cut(kv, "=")
		if !ok || img == "" || mf == "" {
			return nil, nil, usageError{fmt.Errorf("--mapfile %q: want IMAGE=MAPFILE", kv)}
		}
		given = append(given, scan.Mapfile{Image: img, Path: mf})
	}
	known := &unreadableKnown{}
	return func(images []*image.Image) (map[int][]image.Range, error) {
		var err error
		if known.unread, known.from, known.paths, err = (&scan.Run{Images: images}).Unreadable(given); err != nil {
			return nil, err
		}
		w := map[int][]image.Range{}
		for i, xs := range known.unread {
			for _, x := range xs {
				w[i] = append(w[i], image.Range{Off: x.Off, Len: x.Len})
			}
		}
		return w, nil
	}, known, nil
}

// settings are the options that change the results: part of the plan's
// hash, so that merge refuses shard outputs of different settings.
func (o *scanOptions) settings() string {
	h, _ := o.hashes()
	return fmt.Sprintf("sector-size=%d hashes=%s max-ranges=%d", o.sectorSize, strings.Join(h, ","), o.maxRanges)
}

// shardSpec parses --shard I/N: shard -1 when not given.
func (o *scanOptions) shardSpec() (shard, shards int, err error) {
	if o.shard == "" {
		return -1, 1, nil
	}
	is, ns, ok := strings.Cut(o.shard, "/")
	i, err1 := strconv.Atoi(is)
	n, err2 := strconv.Atoi(ns)
	if !ok || err1 != nil || err2 != nil || n < 1 || i < 0 || i >= n || n > 1<<20 {
		return 0, 0, usageError{fmt.Errorf("--shard %q: want I/N with 0 <= I < N", o.shard)}
	}
	return i, n, nil
}

// groupOptions parses --serial and --member.
func (o *scanOptions) groupOptions() (scan.GroupOptions, error) {
	g := scan.GroupOptions{Hives: o.hives}
	for _, kv := range o.serials {
		path, serial, ok := strings.Cut(kv, "=")
		if !ok || serial == "" {
			return g, usageError{fmt.Errorf("--serial %q: want IMAGE=SERIAL", kv)}
		}
		g.Serials = append(g.Serials, scan.Serial{Path: path, Serial: serial})
	}
	for _, kv := range o.ftMembers {
		path, spec, ok := strings.Cut(kv, "=")
		sigs, offs, ok2 := strings.Cut(spec, ":")
		if !ok || !ok2 {
			return g, usageError{fmt.Errorf("--member %q: want IMAGE=SIGNATURE:OFFSET (signature in hex, offset in bytes)", kv)}
		}
		sig, err := strconv.ParseUint(strings.TrimPrefix(strings.ToLower(sigs), "0x"), 16, 32)
		if err != nil {
			return g, usageError{fmt.Errorf("--member %q: signature %q is not a 32-bit hex number", kv, sigs)}
		}
		off, err := strconv.ParseInt(offs, 0, 64)
		if err != nil || off < 0 {
			return g, usageError{fmt.Errorf("--member %q: offset %q is not a byte offset", kv, offs)}
		}
		g.FTMembers = append(g.FTMembers, scan.FTMember{Path: path, Signature: uint32(sig), Offset: off})
	}
	return g, nil
}

// checkReportPath refuses a report file (flag --report or --html) that is
// one of the inputs: the report is written by renaming over its path.
func checkReportPath(flag, path string, images []*image.Image) error {
	if path == "" {
		return nil
	}
	fi, err := os.Stat(path)
	if errors.Is(err, fs.ErrNotExist) {
		// A new file cannot be an input; but its directory must take it,
		// said now rather than after hours of reading.
		dir := filepath.Dir(path)
		di, err := os.Stat(dir)
		switch {
		case err != nil:
			return usageError{fmt.Errorf("%s %s: its directory %s does not exist (nothing was read)", flag, path, dir)}
		case !di.IsDir():
			return usageError{fmt.Errorf("%s %s: %s is not a directory (nothing was read)", flag, path, dir)}
		case unix.Access(dir, unix.W_OK|unix.X_OK) != nil:
			return usageError{fmt.Errorf("%s %s: the directory %s is not writable (nothing was read)", flag, path, dir)}
		}
		return nil
	}
	if err != nil {
		var pe *fs.PathError
		if errors.As(err, &pe) {
			err = pe.Err
		}
		return usageError{fmt.Errorf("%s %s: %v (nothing was read)", flag, path, err)}
	}
	for _, im := range images {
		if im.Contains(fi) {
			return usageError{fmt.Errorf("%s %s is the input %s; write the report elsewhere", flag, path, im.Path())}
		}
	}
	if fi.IsDir() {
		return usageError{fmt.Errorf("%s %s is a directory", flag, path)}
	}
	return nil
}

// emit writes the report: JSON or text on stdout (nothing when --jsonl
// is "-"), and the files of --report, --html, --jsonl and --dfxml.
func emit(e *env, o scanOptions, rep *report.Report, stream *jsonlStream) error {
	if o.reportFile != "" {
		if err := writeFileAtomic(o.reportFile, func(f *os.File) error { return report.WriteJSON(f, rep) }); err != nil {
			return fmt.Errorf("--report: %w", err)
		}
	}
	if o.htmlFile != "" {
		if err := writeFileAtomic(o.htmlFile, func(f *os.File) error { return report.WriteHTML(f, rep) }); err != nil {
			return fmt.Errorf("--html: %w", err)
		}
	}
	if o.dfxmlFile != "" {
		if err := writeFileAtomic(o.dfxmlFile, func(f *os.File) error { return report.WriteDFXML(f, rep) }); err != nil {
			return fmt.Errorf("--dfxml: %w", err)
		}
	}
	switch {
	case stream != nil:
		if err := stream.finish(rep); err != nil {
			return fmt.Errorf("--jsonl: %w", err)
		}
		if o.jsonlFile == "-" {
			return nil
		}
	case o.jsonlFile == "":
	case o.jsonlFile == "-":
		return report.WriteJSONL(e.stdout, rep)
	default:
		if err := writeFileAtomic(o.jsonlFile, func(f *os.File) error { return report.WriteJSONL(f, rep) }); err != nil {
			return fmt.Errorf("--jsonl: %w", err)
		}
	}
	switch {
	case o.json:
		return report.WriteJSON(e.stdout, rep)
	case o.quiet:
		return nil
	default:
		topt := report.TextOptions{Width: o.width}
		if topt.Width == 0 {
			topt.Width = report.DefaultTextWidth
			if f, ok := e.stdout.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
				if w, _, err := term.GetSize(int(f.Fd())); err == nil && w >= report.MinTextWidth {
					topt.Width = w
				}
			}
		}
		if o.allRanges {
			topt.MaxRanges = -1 // --max-ranges N: the report holds N, the text lists them
		}
		return report.WriteTextOptions(e.stdout, rep, topt) // the provenance is inside, before the bottom line
	}
}

// writeFileAtomic writes path through a temporary file in the same
// directory that is synced and then renamed, so a reader never sees a
// half-written report under the final name.
func writeFileAtomic(path string, write func(*os.File) error) error {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".mirrorchk-partial-*")
	if err != nil {
		var pe *fs.PathError
		if errors.As(err, &pe) {
			err = pe.Err // the temporary name means nothing to the user
		}
		return fmt.Errorf("cannot write %s: %w", path, err)
	}
	tmp := f.Name()
	if err := write(f); err != nil {
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
	if err := os.Chmod(tmp, 0o644); err != nil {
		os.Remove(tmp)
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return err
	}
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
	return nil
}

// bar draws a progress bar on stderr when stderr is a terminal and the
// user did not ask for quiet or JSON output. During a scan it shows the
// bytes done and the rate of each member (the members are read side by
// side, so that is the speed of one disk) and, in a run of several sets,
// which set it is on and how many remain.
type bar struct {
	pb      *progressbar.ProgressBar
	what    string
	members int64 // divisor: the progress callback counts every member's bytes
}

func newBar(e *env, o scanOptions, what string) *bar {
	b := &bar{what: what, members: 1}
	f, ok := e.stderr.(*os.File)
	if !ok || o.quiet || o.json || !term.IsTerminal(int(f.Fd())) {
		return b
	}
	b.pb = progressbar.NewOptions64(-1,
		progressbar.OptionSetWriter(f),
		progressbar.OptionSetDescription(what),
		progressbar.OptionShowBytes(true),
		progressbar.OptionThrottle(100_000_000),
		progressbar.OptionClearOnFinish(),
	)
	return b
}

// imageArgs checks the image arguments: none with --example, at least one
// unless a manifest names them.
func imageArgs(cmd *cobra.Command, o scanOptions, args []string) error {
	if o.example {
		if len(args) > 0 || o.manifest != "" {
			return usageError{fmt.Errorf("--example takes no images")}
		}
		return nil
	}
	if o.manifest != "" {
		return nil
	}
	return usageArgs(cobra.MinimumNArgs(1))(cmd, args)
}

// extractExample writes the embedded example's images into a temporary
// directory: their paths, their labels in the report ("example/m0.img"),
// and the function that removes them.
func extractExample() (paths []string, labels map[string]string, cleanup func(), err error) {
	dir, err := os.MkdirTemp("", "mirrorchk-example-")
	if err != nil {
		return nil, nil, nil, err
	}
	if paths, err = example.Extract(dir); err != nil {
		os.RemoveAll(dir)
		return nil, nil, nil, err
	}
	labels = map[string]string{}
	for i, p := range paths {
		labels[p] = "example/" + example.Names[i]
	}
	return paths, labels, func() { os.RemoveAll(dir) }, nil
}

// describe labels the bar for the sets a run checks: the members of its
// one set (the figures are then per member), or how many sets it checks
// (the figures are then the bytes of every member of the sets started).
func (b *bar) describe(sets []*batch.PlannedSet, shard int) {
	var mine []*batch.PlannedSet
	for _, ps := range sets {
		if ps.Set != nil && ps.Err == nil && (shard < 0 || ps.Shard == shard) {
			mine = append(mine, ps)
		}
	}
	switch {
	case len(mine) == 1:
		b.onSet(0, 1, mine[0].Set)
	case len(mine) > 1 && b.pb != nil:
		b.pb.Describe(fmt.Sprintf("%s: %d sets, bytes of all their members", b.what, len(mine)))
	}
}

// onSet starts the display of set i of n.
func (b *bar) onSet(i, n int, s *set.Set) {
	b.members = int64(max(len(s.Members), 1))
	if b.pb == nil {
		return
	}
	b.pb.Reset()
	b.pb.Describe(barDescription(b.what, i, n, s))
}

// barDescription is the bar's label: the set it is on, how many remain,
// and that the figures are per member.
func barDescription(what string, i, n int, s *set.Set) string {
	var names []string
	for _, m := range s.Members {
		names = append(names, filepath.Base(m.Path()))
	}
	d := what
	if n > 1 {
		d += fmt.Sprintf(" set %d of %d (%d after this)", i+1, n, n-i-1)
	}
	return d + ": " + strings.Join(names, ", ") + fmt.Sprintf(", per member of %d", len(s.Members))
}

func (b *bar) progress(done, total int64) {
	if b.pb == nil {
		return
	}
	done, total = done/b.members, total/b.members
	if b.pb.GetMax64() != total {
		b.pb.ChangeMax64(total)
	}
	b.pb.Set64(done)
}

func (b *bar) done() {
	if b.pb != nil {
		b.pb.Finish()
		b.pb.Clear()
	}
}

// setMemoryLimit gives the Go runtime a soft memory limit of 96 MiB plus
// 48 MiB for each set checked at once beyond the first, unless the user set
// GOMEMLIMIT: the readers' caches are bounded, and without a limit the
// garbage collector lets the heap grow to twice what is live (an E01 pair
// then peaks at 105 MiB instead of about 75). A soft limit never fails an
// allocation; past it the collector only runs more often.
func setMemoryLimit(jobs int) {
	if os.Getenv("GOMEMLIMIT") != "" {
		return
	}
	debug.SetMemoryLimit(int64(96<<20) + int64(max(jobs, 1)-1)*(48<<20))
}
