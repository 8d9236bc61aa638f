package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/mirrorchk/mirrorchk/batch"
	"github.com/mirrorchk/mirrorchk/repair"
	"github.com/mirrorchk/mirrorchk/report"
	"github.com/mirrorchk/mirrorchk/scan"
	"github.com/mirrorchk/mirrorchk/set"
)

type repairOptions struct {
	scanOptions
	out    string
	dryRun bool
}

func newRepairCommand(e *env) *cobra.Command {
	var o repairOptions
	cmd := &cobra.Command{
		Use:   "repair [--dry-run] --out DIR [IMAGE|DIR]... [--manifest FILE]",
		Short: "Write repaired member images as new files (inputs are never modified)",
		Long: `repair scans the images as scan does, then, for every set that needs it, writes one
repaired image per member into DIR: the authoritative member's data with each member's own
metadata brought in sync. Each output is written under a temporary name, synced, re-read and
verified, then renamed. --dry-run only reports the plan. A split-brain set is not repaired
unless --prefer names the authoritative member.

DIR is checked before the images are read: it is created when it does not exist (its parent
must), must be writable, hold no input and no output yet, and have room for every output.
An interrupted repair leaves only hidden files carrying the plan's identity; rerunning the
same command removes them and starts again. Unreadable regions (a ddrescue mapfile, read
errors) are taken from a copy the evidence vouches for; what no copy vouches for is lost,
left as it is and marked '-' in NAME.map beside each output.

EXIT STATUS
  0 nothing needed, 1 repaired and verified, 4 not repaired (or not fully: lost data),
  8 operational error (including too little room in DIR), 16 usage, 32 cancelled (partial
  outputs removed)`,
		Args: func(cmd *cobra.Command, args []string) error { return imageArgs(cmd, o.scanOptions, args) },
		PreRunE: func(cmd *cobra.Command, args []string) error {
			if o.out == "" && !o.dryRun {
				return usageError{errors.New("--out DIR is required (or --dry-run)")}
			}
			if err := outsideWalked(o.out, args); err != nil {
				return usageError{err}
			}
			o.allRanges = cmd.Flags().Changed("max-ranges")
			return o.validate()
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			var out *repair.Out
			var labels map[string]string
			if o.example {
				var cleanup func()
				var err error
				if args, labels, cleanup, err = extractExample(); err != nil {
					return err
				}
				defer cleanup()
			}
			run, err := runScan(cmd.Context(), e, o.scanOptions, args, labels, true, func(run *batchRun, mapfiles map[int]string) (err error) {
				out, err = prepareOut(o, run, mapfiles)
				return err
			})
			if err != nil {
				out.Done() // nothing was written
				return failReport(e, o.scanOptions, run, err)
			}
			defer run.Close()
			rep := run.report(e, o.scanOptions)
			code, err := repairSets(cmd, e, o, run, rep, out)
			if err != nil {
				return failReport(e, o.scanOptions, run, err)
			}
			code |= *rep.ExitCode & batch.CodeOperation
			rep.ExitCode = &code
			if err := emit(e, o.scanOptions, rep, nil); err != nil {
				return err
			}
			e.code = code
			return nil
		},
	}
	o.addFlags(cmd.Flags())
	cmd.Flags().StringVar(&o.out, "out", "", "write repaired images into `DIR` (created when missing; must not hold an input or lie inside an input directory)")
	cmd.Flags().BoolVar(&o.dryRun, "dry-run", false, "report the plan; write nothing")
	cmd.Flags().BoolVar(&o.example, "example", false, "repair the embedded example (a real md RAID-1 pair with a stale member) into --out")
	return cmd
}

// outsideWalked refuses an --out inside a directory given as input: the
// repaired images would be walked as evidence by the next run over that
// directory (and taken for members of the very sets they repair).
func outsideWalked(out string, args []string) error {
	if out == "" {
		return nil
	}
	o := resolved(out)
	for _, a := range args {
		if fi, err := os.Stat(a); err != nil || !fi.IsDir() {
			continue
		}
		if rel, err := filepath.Rel(resolved(a), o); err == nil && rel != ".." && !strings.HasPrefix(rel, "../") {
			return fmt.Errorf("--out %s lies inside the input directory %s, which is walked for images: a later run over %s would read the repaired images as evidence; write them outside it", out, a, a)
		}
	}
	return nil
}

// resolved is p made absolute with the symbolic links of its longest
// existing prefix resolved (the rest may not exist yet).
func resolved(p string) string {
	abs, err := filepath.Abs(p)
	if err != nil {
		return filepath.Clean(p)
	}
	rest := ""
	for dir := abs; ; {
		if real, err := filepath.EvalSymlinks(dir); err == nil {
			return filepath.Join(real, rest)
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return abs
		}
		rest = filepath.Join(filepath.Base(dir), rest)
		dir = parent
	}
}

// outDir is the directory of a set's outputs: --out, or in a batch (inputs
// walked from directories) a directory of the set's own inside it, so that
// members of different sets with one file name do not collide.
func outDir(o repairOptions, run *batchRun, ps *batch.PlannedSet) string {
	if run.plan.Walked && o.out != "" {
		return filepath.Join(o.out, ps.DirName())
	}
	return o.out
}

// prepareOut checks everything about --out before the read pass (see
// repair.PrepareOut): a missing directory is created, leftovers of an
// interrupted run of the same command removed; nothing when --out is not
// given (a dry run).
func prepareOut(o repairOptions, run *batchRun, mapfiles map[int]string) (*repair.Out, error) {
	if o.out == "" {
		return nil, nil
	}
	var outs []repair.OutSpec
	for _, ps := range run.plan.Sets {
		if ps.Set == nil || ps.Err != nil || ps.Unpaired {
			continue
		}
		so, err := repair.Outputs(outDir(o, run, ps), []*set.Set{ps.Set})
		if err != nil {
			return nil, usageError{err}
		}
		outs = append(outs, so...)
	}
	for _, rf := range []struct{ flag, path string }{{"--report", o.reportFile}, {"--html", o.htmlFile}, {"--jsonl", o.jsonlFile}, {"--dfxml", o.dfxmlFile}} {
		if rf.path == "" || rf.path == "-" {
			continue
		}
		rp, _ := filepath.Abs(rf.path)
		for _, out := range outs {
			if op, _ := filepath.Abs(out.Path); op == rp || op+".map" == rp {
				return nil, usageError{fmt.Errorf("%s %s is also a repaired image's path", rf.flag, rf.path)}
			}
		}
	}
	var inputs []string
	for _, im := range run.plan.Images {
		if im != nil {
			inputs = append(inputs, im.Segments()...)
		}
	}
	// The plan's identity: everything that decides what is written.
	absOut, _ := filepath.Abs(o.out)
	parts := []string{"mirrorchk repair", absOut, "sector-size " + strconv.Itoa(o.sectorSize), "manifest " + o.manifest}
	for _, p := range inputs {
		parts = append(parts, "input "+repair.FileIdentity(p))
	}
	for _, f := range []struct {
		what  string
		paths []string
	}{{"prefer", []string{o.prefer}}, {"hive", o.hives}} {
		for _, p := range f.paths {
			if p != "" {
				parts = append(parts, f.what+" "+repair.FileIdentity(p))
			}
		}
	}
	parts = append(parts, o.serials...)
	parts = append(parts, o.ftMembers...)
	var maps []string
	for i, m := range mapfiles {
		maps = append(maps, fmt.Sprintf("mapfile %d %s", i, repair.FileIdentity(m)))
	}
	sort.Strings(maps)
	parts = append(parts, maps...)
	out, err := repair.PrepareOut(o.out, inputs, outs, repair.Identity(parts...), o.dryRun)
	var oe *repair.OutError
	if errors.As(err, &oe) && !oe.Space {
		return nil, usageError{err}
	}
	return out, err
}

// repairSets plans, and unless dry-running writes, the repair of every set,
// recording each in the report. It returns the exit code.
func repairSets(cmd *cobra.Command, e *env, o repairOptions, run *batchRun, rep *report.Report, out *repair.Out) (int, error) {
	var plans []*repair.Plan
	refused := false
	for i, r := range run.results {
		res := r.Result
		var why string
		switch {
		case res == nil:
			why = "the input could not be read"
		case r.Planned.Unpaired:
			why = "unpaired: the only image of its disk, so it is neither a source nor a target of repair"
		}
		if why != "" {
			refused = true
			rep.Sets[i].Repair = scan.RepairReport(nil, o.dryRun, "refused", why)
			fmt.Fprintf(e.stderr, "mirrorchk: set %s not repaired: %s\n", rep.Sets[i].ID, why)
			plans = append(plans, nil)
			continue
		}
		p, err := repair.NewPlan(res, outDir(o, run, r.Planned))
		switch {
		case errors.Is(err, repair.ErrSplitBrain), errors.Is(err, repair.ErrNoAuthority), errors.Is(err, repair.ErrShortMember), errors.Is(err, repair.ErrUndecided),
			errors.Is(err, repair.ErrMetadata), errors.Is(err, repair.ErrAmbiguous), errors.Is(err, repair.ErrMembersMissing):
			refused = true
			rep.Sets[i].Repair = scan.RepairReport(nil, o.dryRun, "refused", err.Error())
			fmt.Fprintf(e.stderr, "mirrorchk: set %s not repaired: %v\n", res.Set.ID, err)
			plans = append(plans, nil)
			continue
		case err != nil:
			return 0, err
		}
		if p.Needed && r.Planned.NoSharedIdentity && r.Planned.Prefer < 0 {
			why = "no-shared-identity: nothing shows these images are copies of one disk; name the authoritative one with --prefer"
			refused = true
			rep.Sets[i].Repair = scan.RepairReport(p, o.dryRun, "refused", why)
			fmt.Fprintf(e.stderr, "mirrorchk: set %s not repaired: %s\n", rep.Sets[i].ID, why)
			plans = append(plans, nil)
			continue
		}
		plans = append(plans, p)
	}
	if !o.dryRun {
		seen := map[string]bool{}
		for _, p := range plans {
			if p == nil || !p.Needed {
				continue
			}
			for _, po := range p.Outputs {
				if seen[po.Path] {
					out.Done()
					return 0, usageError{fmt.Errorf("two members would be written to %s; give the inputs distinct file names", po.Path)}
				}
				seen[po.Path] = true
			}
		}
	}
	repaired, lost := false, false
	bar := newBar(e, o.scanOptions, "repair")
	defer bar.done()
	planID := ""
	if out != nil {
		planID = out.ID
	}
	for i, p := range plans {
		if p == nil {
			continue
		}
		lost = lost || p.LostBytes > 0
		switch {
		case !p.Needed && p.LostBytes == 0 && p.MetadataNote != "" && len(metadataLags(p)) > 0:
			// Nothing to copy, but the metadata still records a member
			// out of sync, and it is not rewritten: not "not-needed".
			refused = true
			rep.Sets[i].Repair = scan.RepairReport(p, o.dryRun, "refused",
				fmt.Sprintf("the members hold the same data; only the set metadata is out of sync (%s), and mirrorchk does not rewrite it: %s",
					strings.Join(metadataLags(p), ", "), p.MetadataNote))
			fmt.Fprintf(e.stderr, "mirrorchk: set %s not repaired: only its metadata is out of sync, which mirrorchk does not rewrite for %s\n", rep.Sets[i].ID, p.Result.Set.Format)
		case !p.Needed && p.LostBytes > 0:
			rep.Sets[i].Repair = scan.RepairReport(p, o.dryRun, "not-needed",
				fmt.Sprintf("nothing a copy can restore: %d bytes are lost (see lost)", p.LostBytes))
		case !p.Needed:
			rep.Sets[i].Repair = scan.RepairReport(p, o.dryRun, "not-needed", "the members are consistent")
		case o.dryRun:
			rep.Sets[i].Repair = scan.RepairReport(p, true, "planned", "dry run: nothing written")
		default:
			if bar.pb != nil {
				bar.pb.Reset()
				bar.pb.Describe(barDescription("repair: writing", i, len(plans), p.Result.Set) + " (bytes written in all)")
			}
			if len(p.Outputs) > 0 {
				if err := os.MkdirAll(filepath.Dir(p.Outputs[0].Path), 0o755); err != nil {
					return 0, err
				}
			}
			if err := repair.Write(cmd.Context(), p, repair.Options{Hashes: run.hashes, Progress: bar.progress, PlanID: planID}); err != nil {
				// The set is not repaired: Write removed the partial file,
				// and what it had already published of the set goes too, so
				// that --out holds no half-repaired set and the same command
				// run again starts clean.
				unpublish(p)
				if !repaired {
					out.Done() // nothing published: no leftovers to clean
				}
				if cmd.Context().Err() != nil {
					// Cancelled: the report says what was and was not
					// written (failReport adds the cancellation).
					rep.Sets[i].Repair = scan.RepairReport(p, false, "failed", "cancelled while writing; nothing of this set was kept (the partial output and any output already written were removed)")
				}
				return 0, err
			}
			repaired = true
			if p.LostBytes > 0 {
				rep.Sets[i].Repair = scan.RepairReport(p, false, "partial",
					fmt.Sprintf("written and verified, but not fully repaired: %d bytes are lost, left as they are and marked '-' in each output's mapfile", p.LostBytes))
			} else if lag := metadataLags(p); p.MetadataNote != "" && len(lag) > 0 {
				rep.Sets[i].Repair = scan.RepairReport(p, false, "repaired",
					fmt.Sprintf("the data is written and verified; the set metadata is left as it is (%s), so a scan of the outputs still reports it until the volume manager brings it in sync: %s",
						strings.Join(lag, ", "), p.MetadataNote))
			} else {
				rep.Sets[i].Repair = scan.RepairReport(p, false, "repaired", "written and verified")
			}
		}
	}
	out.Done()
	switch {
	case refused, lost:
		return exitProblems, nil
	case repaired:
		return exitRepaired, nil
	case o.dryRun && batch.RunCode(rep)&batch.CodeProblems != 0:
		return exitProblems, nil
	}
	return exitOK, nil
}

// metadataLags names the members the set metadata records as out of sync
// (stale, faulty, rebuilding), e.g. "m1.img stale".
func metadataLags(p *repair.Plan) []string {
	var lag []string
	for _, m := range p.Result.Set.Members {
		switch m.State {
		case set.StateStale, set.StateFaulty, set.StateRebuilding:
			lag = append(lag, filepath.Base(m.Path())+" "+m.State)
		}
	}
	return lag
}

// unpublish removes the outputs and mapfiles of p that Write published
// before it failed, and forgets what it recorded of them. They are this
// run's own: PrepareOut made sure that none of these names existed.
func unpublish(p *repair.Plan) {
	dirs := map[string]bool{}
	for _, o := range p.Outputs {
		if o.Verified {
			os.Remove(o.Path)
		}
		if o.Mapfile != "" {
			os.Remove(o.Mapfile)
		}
		o.Hashes, o.DataSHA256, o.Verified, o.Mapfile, o.FSProblems = nil, "", false, "", nil
		dirs[filepath.Dir(o.Path)] = true
	}
	for d := range dirs {
		if f, err := os.Open(d); err == nil {
			f.Sync()
			f.Close()
		}
	}
}
