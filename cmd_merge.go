package main

import (
	"errors"
	"os"

	"github.com/spf13/cobra"

	"github.com/mirrorchk/mirrorchk/batch"
)

func newMergeCommand(e *env) *cobra.Command {
	var o scanOptions
	cmd := &cobra.Command{
		Use:   "merge OUT.jsonl... [--json | --jsonl FILE | --html FILE | --report FILE | --dfxml FILE]",
		Short: "Combine the JSONL outputs of the shards of one plan into one report",
		Long: `merge reads the --jsonl outputs of shards 0..N-1 of one plan (scan --shard I/N) and
writes the report of the whole plan, as scan without --shard would: text on stdout, or
JSON with --json, and the files of --report, --html, --jsonl and --dfxml. It refuses
outputs of different plans (each line carries the plan's hash), a missing or duplicated
shard, and an incomplete output. Its exit code is the bitwise OR of the sets' codes.`,
		Args: usageArgs(cobra.MinimumNArgs(1)),
		PreRunE: func(*cobra.Command, []string) error {
			if o.json && o.jsonlFile == "-" {
				return usageError{errors.New("--json and --jsonl - both write to stdout; give --jsonl a file")}
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			var shards []batch.Shard
			for _, a := range args {
				f, err := os.Open(a)
				if err != nil {
					return err
				}
				defer f.Close()
				shards = append(shards, batch.Shard{Name: a, R: f})
			}
			rep, err := batch.Merge(shards)
			if err != nil {
				var me *batch.MergeError
				if errors.As(err, &me) {
					return usageError{err}
				}
				return err
			}
			start := now()
			rep.Provenance = provenance(e.argv, start)
			rep.Provenance.End = now().UTC().Format("2006-01-02T15:04:05.999999999Z07:00")
			if err := emit(e, o, rep, nil); err != nil {
				return err
			}
			e.code = *rep.ExitCode
			return nil
		},
	}
	f := cmd.Flags()
	f.BoolVar(&o.json, "json", false, "write the merged JSON report to stdout instead of the text report")
	f.StringVar(&o.reportFile, "report", "", "also write the merged JSON report to `FILE`")
	f.StringVar(&o.htmlFile, "html", "", "also write the merged HTML report to `FILE`")
	f.StringVar(&o.jsonlFile, "jsonl", "", "also write the merged JSON lines to `FILE` (\"-\": stdout, and no other report there)")
	f.StringVar(&o.dfxmlFile, "dfxml", "", "also write the merged DFXML to `FILE`")
	f.BoolVar(&o.quiet, "quiet", false, "no text report")
	return cmd
}
