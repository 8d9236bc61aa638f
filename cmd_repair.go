package main

import (
	"errors"
	"fmt"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/mirrorchk/mirrorchk/repair"
	"github.com/mirrorchk/mirrorchk/report"
	"github.com/mirrorchk/mirrorchk/scan"
)

type repairOptions struct {
	scanOptions
	out    string
	dryRun bool
}

func newRepairCommand(e *env) *cobra.Command {
	var o repairOptions
	cmd := &cobra.Command{
		Use:   "repair [--dry-run] --out DIR IMAGE...",
		Short: "Write repaired member images as new files (inputs are never modified)",
		Long: `repair scans the images as scan does, then, for every set that needs it, writes one
repaired image per member into DIR: the authoritative member's data with each member's own
metadata brought in sync. Each output is written under a temporary name, synced, re-read and
verified, then renamed. --dry-run only reports the plan. A split-brain set is not repaired
unless --prefer names the authoritative member.

EXIT STATUS
  0 nothing needed, 1 repaired and verified, 4 not repaired, 8 operational error, 16 usage`,
		Args: usageArgs(cobra.MinimumNArgs(1)),
		PreRunE: func(*cobra.Command, []string) error {
			if o.out == "" && !o.dryRun {
				return usageError{errors.New("--out DIR is required (or --dry-run)")}
			}
			return o.validate()
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			run, err := runScan(cmd.Context(), e, o.scanOptions, args, nil)
			if err != nil {
				return err
			}
			defer run.Close()
			rep := runReport(run, e, o.scanOptions)
			code, err := repairSets(cmd, e, o, run, rep)
			if err != nil {
				return err
			}
			if err := emit(e, o.scanOptions, rep); err != nil {
				return err
			}
			e.code = code
			return nil
		},
	}
	o.addFlags(cmd.Flags())
	cmd.Flags().StringVar(&o.out, "out", "", "write repaired images into `DIR` (must not hold an input)")
	cmd.Flags().BoolVar(&o.dryRun, "dry-run", false, "report the plan; write nothing")
	return cmd
}

// repairSets plans, and unless dry-running writes, the repair of every set,
// recording each in the report. It returns the exit code.
func repairSets(cmd *cobra.Command, e *env, o repairOptions, run *scan.Run, rep *report.Report) (int, error) {
	var plans []*repair.Plan
	refused := false
	for i, res := range run.Results {
		p, err := repair.NewPlan(res, o.out)
		switch {
		case errors.Is(err, repair.ErrSplitBrain), errors.Is(err, repair.ErrNoAuthority), errors.Is(err, repair.ErrShortMember), errors.Is(err, repair.ErrUndecided),
			errors.Is(err, repair.ErrMetadata), errors.Is(err, repair.ErrAmbiguous):
			refused = true
			rep.Sets[i].Repair = scan.RepairReport(nil, o.dryRun, "refused", err.Error())
			fmt.Fprintf(e.stderr, "mirrorchk: set %s not repaired: %v\n", res.Set.ID, err)
			plans = append(plans, nil)
			continue
		case err != nil:
			return 0, err
		}
		plans = append(plans, p)
	}
	if !o.dryRun {
		var inputs, outputs []string
		for _, im := range run.Images {
			inputs = append(inputs, im.Segments()...)
		}
		for _, p := range plans {
			if p == nil {
				continue
			}
			for _, out := range p.Outputs {
				outputs = append(outputs, out.Path)
			}
		}
		if err := repair.CheckOutDir(o.out, inputs, outputs); err != nil {
			return 0, usageError{err}
		}
		for _, rf := range []struct{ flag, path string }{{"--report", o.reportFile}, {"--html", o.htmlFile}} {
			if rf.path == "" {
				continue
			}
			rp, _ := filepath.Abs(rf.path)
			for _, out := range outputs {
				if op, _ := filepath.Abs(out); op == rp {
					return 0, usageError{fmt.Errorf("%s %s is also a repaired image's path", rf.flag, rf.path)}
				}
			}
		}
	}
	repaired := false
	bar := newBar(e, o.scanOptions, "repair")
	defer bar.done()
	for i, p := range plans {
		if p == nil {
			continue
		}
		switch {
		case !p.Needed:
			rep.Sets[i].Repair = scan.RepairReport(p, o.dryRun, "not-needed", "the members are consistent")
		case o.dryRun:
			rep.Sets[i].Repair = scan.RepairReport(p, true, "planned", "dry run: nothing written")
		default:
			if bar.pb != nil {
				bar.pb.Reset()
				bar.pb.Describe(barDescription("repair: writing", i, len(plans), p.Result.Set) + " (bytes written in all)")
			}
			if err := repair.Write(cmd.Context(), p, repair.Options{Hashes: run.Hashes, Progress: bar.progress}); err != nil {
				if cmd.Context().Err() != nil {
					// Cancelled: the partial output is gone; the report, if
					// asked for, says what was and was not written.
					rep.Sets[i].Repair = scan.RepairReport(p, false, "failed", "cancelled while writing; the partial output was removed")
					rep.Problems = append(rep.Problems, cancelledProblem())
					if o.reportFile != "" || o.htmlFile != "" || o.json {
						emit(e, o.scanOptions, rep)
					}
				}
				return 0, err
			}
			repaired = true
			rep.Sets[i].Repair = scan.RepairReport(p, false, "repaired", "written and verified")
		}
	}
	switch {
	case refused:
		return exitProblems, nil
	case repaired:
		return exitRepaired, nil
	case o.dryRun && scanCode(rep) != exitOK:
		return exitProblems, nil
	}
	return exitOK, nil
}
