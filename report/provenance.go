package report

import (
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
)

// WriteProvenanceText writes the run's provenance and batch summary as
// text: who ran what, where and when, the plan, the shard and the exit
// code. Nothing when the report has none. WriteText includes it before
// its closing summary and bottom line.
func WriteProvenanceText(w io.Writer, rep *Report) error {
	p := rep.Provenance
	if p == nil && rep.Inputs == nil {
		return nil
	}
	var b strings.Builder
	b.WriteString("\nProvenance\n")
	if p != nil {
		fmt.Fprintf(&b, "  tool:      %s %s (%s%s, %s)\n", rep.Tool.Name, p.Version, p.Revision, map[bool]string{true: ", modified", false: ""}[p.Modified], p.GoVersion)
		fmt.Fprintf(&b, "  command:   %s\n", commandLine(p.Command))
		fmt.Fprintf(&b, "  directory: %s\n", pathText(p.Cwd))
		fmt.Fprintf(&b, "  host:      %s, user %s\n", text(p.Host), text(p.User))
		fmt.Fprintf(&b, "  start:     %s\n  end:       %s\n", p.Start, p.End)
	}
	if in := rep.Inputs; in != nil {
		fmt.Fprintf(&b, "  inputs:    %s, %s", count(int64(in.Images), "image", "images"), count(int64(in.Sets), "set", "sets"))
		var ks []string
		for k := range in.Skipped {
			ks = append(ks, k)
		}
		sort.Strings(ks)
		for _, k := range ks {
			fmt.Fprintf(&b, ", %d skipped (%s)", in.Skipped[k], k)
		}
		b.WriteString("\n")
	}
	if rep.Plan != "" {
		fmt.Fprintf(&b, "  plan:      %s", rep.Plan)
		if rep.Shard != "" {
			fmt.Fprintf(&b, ", shard %s", rep.Shard)
		}
		b.WriteString("\n")
	}
	if rep.ExitCode != nil {
		fmt.Fprintf(&b, "  exit code: %d (bitwise OR of the sets' codes)\n", *rep.ExitCode)
		for _, s := range rep.Sets {
			if s.Key == "" || s.ExitCode == nil {
				continue
			}
			fmt.Fprintf(&b, "    %d  %-12s %s (%s)\n", *s.ExitCode, s.Verdict, s.Key, s.ID)
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// provenanceKVs are the HTML header's rows for the provenance and the
// batch summary; none when the report has none.
func provenanceKVs(r *Report) []htmlKV {
	var kv []htmlKV
	if p := r.Provenance; p != nil {
		rev := p.Revision
		if p.Modified {
			rev += " (modified)"
		}
		kv = append(kv,
			htmlKV{"Version", orDash(htmlText(p.Version))},
			htmlKV{"Revision", orDash(htmlText(rev))},
			htmlKV{"Built with", orDash(htmlText(p.GoVersion))},
			htmlKV{"Command line", orDash(htmlCommand(p.Command))},
			htmlKV{"Working directory", orDash(htmlPath(p.Cwd))},
			htmlKV{"Host", orDash(htmlText(p.Host))},
			htmlKV{"User", orDash(htmlText(p.User))},
			htmlKV{"Start (UTC)", orDash(htmlText(p.Start))},
			htmlKV{"End (UTC)", orDash(htmlText(p.End))},
		)
	}
	if r.Plan != "" {
		plan := r.Plan
		if r.Shard != "" {
			plan += ", shard " + r.Shard
		}
		kv = append(kv, htmlKV{"Plan", htmlText(plan)})
	}
	if r.ExitCode != nil {
		kv = append(kv, htmlKV{"Exit code", strconv.Itoa(*r.ExitCode) + " (bitwise OR of the sets' codes)"})
	}
	return kv
}
