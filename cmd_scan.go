package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/schollz/progressbar/v3"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"golang.org/x/term"

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
	width      int  // --width; 0: the terminal's, else 100
	allRanges  bool // --max-ranges given: the text lists every range the report holds
	serials    []string
	hives      []string
	ftMembers  []string
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
	fs.IntVar(&o.width, "width", 0, "wrap the text report at `N` columns (default: the terminal's width, or 100 when stdout is not a terminal)")
	fs.StringArrayVar(&o.serials, "serial", nil, "`IMAGE=SERIAL`: the drive serial number of an image (binds IMSM members to disk entries); repeatable")
	fs.StringArrayVar(&o.hives, "hive", nil, "`FILE`: a Windows NT SYSTEM hive (or SYSTEM.ALT) whose \\DISK\\Information describes FT mirror sets; read only; repeatable")
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
	_, err := o.hashes()
	return err
}

func newScanCommand(e *env) *cobra.Command {
	var o scanOptions
	cmd := &cobra.Command{
		Use:   "scan IMAGE...",
		Short: "Check the members of mirror sets and report which copy is authoritative",
		Long: `scan groups the images into mirror sets by their metadata, diffs each set's members
sector by sector, and reports the verdict, the authoritative member and its evidence,
and every range where the members differ. Nothing is written.

EXIT STATUS
  0 consistent, 4 divergence, stale member or other problems, 8 operational error, 16 usage`,
		Args: func(cmd *cobra.Command, args []string) error {
			if o.example {
				if len(args) > 0 {
					return usageError{fmt.Errorf("--example takes no images")}
				}
				return nil
			}
			return usageArgs(cobra.MinimumNArgs(1))(cmd, args)
		},
		PreRunE: func(cmd *cobra.Command, _ []string) error {
			o.allRanges = cmd.Flags().Changed("max-ranges")
			return o.validate()
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			var labels map[string]string
			if o.example {
				dir, err := os.MkdirTemp("", "mirrorchk-example-")
				if err != nil {
					return err
				}
				defer os.RemoveAll(dir)
				if args, err = example.Extract(dir); err != nil {
					return err
				}
				labels = map[string]string{}
				for i, p := range args {
					labels[p] = "example/" + example.Names[i]
				}
			}
			run, err := runScan(cmd.Context(), e, o, args, labels)
			if err != nil {
				return err
			}
			defer run.Close()
			rep := runReport(run, e, o)
			if err := emit(e, o, rep); err != nil {
				return err
			}
			e.code = scanCode(rep)
			return nil
		},
	}
	o.addFlags(cmd.Flags())
	cmd.Flags().BoolVar(&o.example, "example", false, "scan the embedded example: a real md RAID-1 pair with a stale member")
	return cmd
}

// now is the report's clock; tests replace it.
var now = func() time.Time { return time.Now().UTC() }

// runScan opens the images, groups them into sets and checks each set,
// through package scan. The returned run owns the open images: the caller
// closes it.
func runScan(ctx context.Context, e *env, o scanOptions, paths []string, labels map[string]string) (*scan.Run, error) {
	hashes, _ := o.hashes()
	run, err := scan.Open(paths, labels)
	if err != nil {
		return nil, err
	}
	ok := false
	defer func() {
		if !ok {
			run.Close()
		}
	}()
	prefer := -1
	if o.prefer != "" {
		if prefer, err = run.Find("--prefer", o.prefer); err != nil {
			return nil, err
		}
	}
	for _, rf := range []struct{ flag, path string }{{"--report", o.reportFile}, {"--html", o.htmlFile}} {
		if err := checkReportPath(rf.flag, rf.path, run.Images); err != nil {
			return nil, err
		}
	}
	if o.reportFile != "" && o.reportFile == o.htmlFile {
		return nil, usageError{fmt.Errorf("--report and --html name the same file %s", o.reportFile)}
	}
	gopt, err := o.groupOptions()
	if err != nil {
		return nil, err
	}
	if err := run.Group(gopt); err != nil {
		return nil, err
	}
	bar := newBar(e, o, "scan")
	err = run.Check(ctx, scan.CheckOptions{SectorSize: o.sectorSize, MaxRanges: o.maxRanges, Hashes: hashes, Prefer: prefer,
		Progress: bar.progress, OnSet: bar.onSet})
	bar.done()
	if err != nil {
		if ctx.Err() != nil {
			// Cancelled: the report, if one was asked for, says so and
			// holds the sets checked before.
			rep := runReport(run, e, o)
			rep.Problems = append(rep.Problems, cancelledProblem())
			if o.reportFile != "" || o.htmlFile != "" || o.json {
				emit(e, o, rep)
			}
		}
		return nil, err
	}
	ok = true
	return run, nil
}

// report builds the report model of a run.
func runReport(run *scan.Run, e *env, o scanOptions) *report.Report {
	return run.Report(scan.Meta{
		Tool:       report.Tool{Name: "mirrorchk", Version: toolVersion()},
		Command:    e.argv,
		Generated:  now(),
		SectorSize: o.sectorSize,
	})
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
	if err != nil {
		return nil // a new file cannot be an input
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

// emit writes the report: JSON or text on stdout, and the JSON file.
func emit(e *env, o scanOptions, rep *report.Report) error {
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
		return report.WriteTextOptions(e.stdout, rep, topt)
	}
}

// cancelledProblem is the report's note of a run stopped by SIGINT or
// SIGTERM.
func cancelledProblem() report.Problem {
	return report.Problem{Code: report.CodeCancelled, Severity: report.SeverityError,
		Message: "the run was cancelled (SIGINT or SIGTERM) before it finished: sets not listed were not checked, and partial outputs were removed"}
}

// scanCode is the exit code of a scan: 0 when every set is consistent and
// nothing of warning severity or worse was found, else 4.
func scanCode(rep *report.Report) int {
	bad := func(ps []report.Problem) bool {
		for _, p := range ps {
			if p.Severity != report.SeverityInfo {
				return true
			}
		}
		return false
	}
	if bad(rep.Problems) {
		return exitProblems
	}
	for _, s := range rep.Sets {
		if s.Verdict != report.VerdictConsistent || bad(s.Problems) {
			return exitProblems
		}
	}
	return exitOK
}

// writeFileAtomic writes path through a temporary file in the same
// directory that is synced and then renamed, so a reader never sees a
// half-written report under the final name.
func writeFileAtomic(path string, write func(*os.File) error) error {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".mirrorchk-partial-*")
	if err != nil {
		return err
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
