package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"strings"

	"github.com/spf13/cobra"

	"github.com/mirrorchk/mirrorchk/batch"
	"github.com/mirrorchk/mirrorchk/report"
)

// planJSON is the output of plan --json.
type planJSON struct {
	Schema   string                `json:"schema"`
	Plan     string                `json:"plan"`
	Shards   int                   `json:"shards"`
	Inputs   *report.InputsSummary `json:"inputs"`
	Sets     []planSet             `json:"sets"`
	Problems []report.Problem      `json:"problems"`
}

type planSet struct {
	Key      string   `json:"key"`
	ID       string   `json:"id"`
	Case     string   `json:"case,omitempty"`
	Metadata string   `json:"metadata"`
	Grouping string   `json:"grouping"`
	Shard    int      `json:"shard"`
	Images   []string `json:"images"`
	Problems []string `json:"problems"`
}

func newPlanCommand(e *env) *cobra.Command {
	var o scanOptions
	var shards int
	cmd := &cobra.Command{
		Use:   "plan [PATH...] [--manifest FILE] [--shards N] [--json]",
		Short: "Print how the inputs are grouped into sets, reading only metadata",
		Long: `plan collects the inputs as scan does (files, directories walked recursively,
--manifest), reads only their set metadata and the identity of images without it,
and prints the sets: their images, why they were grouped, and the shard each falls in
with --shards N. It reads no data: an examiner checks the grouping in seconds before
the long run. The plan hash it prints is the one every shard output carries.`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 && o.manifest == "" {
				return usageError{errors.New("give images, directories or --manifest")}
			}
			return nil
		},
		PreRunE: func(*cobra.Command, []string) error {
			if shards < 1 {
				return usageError{fmt.Errorf("--shards %d: must be at least 1", shards)}
			}
			return o.validate()
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			in, err := batch.Collect(args, o.manifest)
			if err != nil {
				var me *batch.ManifestError
				if errors.As(err, &me) || errors.Is(err, fs.ErrNotExist) {
					return usageError{fmt.Errorf("--manifest: %w", err)}
				}
				return err
			}
			gopt, err := o.groupOptions()
			if err != nil {
				return err
			}
			withhold, _, err := o.withhold()
			if err != nil {
				return err
			}
			plan, err := batch.MakePlan(in, batch.Options{Hives: gopt.Hives, Serials: gopt.Serials, FTMembers: gopt.FTMembers,
				Prefer: o.prefer, Shards: shards, Settings: o.settings(), Withhold: withhold})
			if err != nil {
				return err
			}
			defer plan.Close()
			out := planJSON{Schema: "mirrorchk.plan/1", Plan: plan.Hash, Shards: shards, Inputs: plan.Summary(), Sets: []planSet{}, Problems: []report.Problem{}}
			for _, p := range plan.Problems {
				out.Problems = append(out.Problems, report.Problem{Code: p.Code, Severity: p.Severity, Member: p.Member, Offset: p.Offset, Message: p.Message})
			}
			code := 0
			for _, ps := range plan.Sets {
				s := planSet{Key: ps.Key, ID: ps.ID, Case: ps.Case, Metadata: "none", Grouping: ps.Why, Shard: ps.Shard, Images: []string{}, Problems: []string{}}
				if ps.Set != nil {
					s.Metadata = ps.Set.Format
				}
				for _, i := range ps.Inputs {
					if im := plan.Images[i]; im != nil {
						s.Images = append(s.Images, im.Path())
					} else {
						s.Images = append(s.Images, plan.Inputs[i].Path)
					}
				}
				for _, p := range ps.Problems {
					s.Problems = append(s.Problems, p.Code+": "+p.Message)
				}
				if ps.Err != nil {
					code |= batch.CodeOperation
				}
				out.Sets = append(out.Sets, s)
			}
			e.code = code
			if o.json {
				b, err := json.MarshalIndent(out, "", "  ")
				if err != nil {
					return err
				}
				_, err = e.stdout.Write(append(b, '\n'))
				return err
			}
			var b strings.Builder
			fmt.Fprintf(&b, "plan %s: %d sets from %d images", out.Plan, len(out.Sets), out.Inputs.Images)
			for _, k := range []string{"hidden", "not-an-image", "compressed", "segment", "hive", "duplicate"} {
				if n := out.Inputs.Skipped[k]; n > 0 {
					fmt.Fprintf(&b, ", %d skipped (%s)", n, k)
				}
			}
			fmt.Fprintf(&b, "; %d shard(s)\n", shards)
			for _, s := range out.Sets {
				fmt.Fprintf(&b, "\n%s  [%s]  shard %d/%d\n  %s\n", s.Key, s.Metadata, s.Shard, shards, s.Grouping)
				for _, im := range s.Images {
					fmt.Fprintf(&b, "    %s\n", im)
				}
				for _, p := range s.Problems {
					fmt.Fprintf(&b, "  ! %s\n", p)
				}
			}
			for _, p := range out.Problems {
				fmt.Fprintf(&b, "\n%s %s: %s", p.Severity, p.Code, p.Message)
			}
			if len(out.Problems) > 0 {
				b.WriteString("\n")
			}
			_, err = fmt.Fprint(e.stdout, b.String())
			return err
		},
	}
	o.addFlags(cmd.Flags())
	cmd.Flags().IntVar(&shards, "shards", 1, "show the shard of each set for `N` shards")
	return cmd
}
