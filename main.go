// Command mirrorchk checks the member images of mirror sets (RAID-1)
// offline: it reads their set metadata, diffs them sector by sector,
// decides which copy is authoritative and why, and can write repaired
// images as new files. Inputs are only ever opened read-only.
//
// This file and the cmd_*.go files are the only code that knows about
// flags and terminals; the work is done by the library packages.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime"
	"runtime/debug"
	"strings"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/mirrorchk/mirrorchk/scan"
)

// version is set at build time with -ldflags "-X main.version=…"; otherwise
// the module version or VCS revision from the build info is used.
var version = ""

// Exit codes, fsck style.
const (
	exitOK        = 0  // scan: members consistent; repair: nothing needed
	exitRepaired  = 1  // repair: repaired and verified
	exitProblems  = 4  // scan: divergence or problems; repair: not repaired
	exitOperation = 8  // operational error: unreadable or invalid input
	exitUsage     = 16 // usage error
	exitCancelled = 32 // cancelled by SIGINT or SIGTERM (fsck's code)
)

// usageError is a command-line mistake (exit 16).
type usageError struct{ error }

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// run executes one command line and returns the exit code.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	env := &env{stdout: stdout, stderr: stderr, argv: append([]string{"mirrorchk"}, args...)}
	root := newRootCommand(env)
	root.SetArgs(args)
	root.SetOut(stdout)
	root.SetErr(stderr)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return env.code
	}
	var ue usageError
	var se *scan.UsageError
	code := exitOperation
	if errors.As(err, &ue) || errors.As(err, &se) || isCobraUsage(err) {
		code = exitUsage
	}
	if errors.Is(err, context.Canceled) {
		err = errors.New("cancelled; partial outputs removed")
		code = exitCancelled
	}
	fmt.Fprintf(stderr, "mirrorchk: %v\n", err)
	return code
}

// env is what every command shares: its streams, its argv for the report
// and the exit code it decided.
type env struct {
	stdout, stderr io.Writer
	argv           []string
	code           int
}

func newRootCommand(e *env) *cobra.Command {
	root := &cobra.Command{
		Use:           "mirrorchk",
		Short:         "chkdsk for mirrors: check and repair RAID-1 member images offline",
		Long:          rootLong,
		SilenceErrors: true,
		SilenceUsage:  true,
	}
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError{err} })
	root.AddCommand(newScanCommand(e), newRepairCommand(e), newPlanCommand(e), newMergeCommand(e), newVersionCommand(e))
	document(root)
	return root
}

func newVersionCommand(e *env) *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the version",
		Args:  usageArgs(cobra.NoArgs),
		RunE: func(*cobra.Command, []string) error {
			v, rev, mod := buildInfo()
			if mod {
				rev += " (modified)"
			}
			fmt.Fprintf(e.stdout, "mirrorchk %s\nrevision %s\n%s\n", v, rev, runtime.Version())
			return nil
		},
	}
}

func toolVersion() string {
	if version != "" {
		return version
	}
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "dev"
	}
	if v := bi.Main.Version; v != "" && v != "(devel)" {
		return v
	}
	for _, s := range bi.Settings {
		if s.Key == "vcs.revision" && len(s.Value) >= 12 {
			return "dev-" + s.Value[:12]
		}
	}
	return "dev"
}

// isCobraUsage tells cobra's own argument errors (unknown command, wrong
// number of arguments) from operational ones.
func isCobraUsage(err error) bool {
	return strings.HasPrefix(err.Error(), "unknown command") || strings.HasPrefix(err.Error(), "unknown flag")
}

// usageArgs marks cobra's argument-count errors as usage errors.
func usageArgs(v cobra.PositionalArgs) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if err := v(cmd, args); err != nil {
			if len(args) == 0 {
				// Say what to give, not cobra's count of arguments.
				eg := ""
				for _, l := range strings.Split(cmd.Example, "\n") {
					if l = strings.TrimSpace(l); l != "" && !strings.HasPrefix(l, "#") {
						eg = "; for example: " + l
						break
					}
				}
				return usageError{fmt.Errorf("no inputs given: usage: %s%s; see '%s --help'", cmd.UseLine(), eg, cmd.CommandPath())}
			}
			return usageError{err}
		}
		return nil
	}
}
