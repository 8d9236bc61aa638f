package main

import (
	"os"
	"os/user"
	"runtime"
	"runtime/debug"
	"strconv"
	"time"

	"github.com/mirrorchk/mirrorchk/report"
)

// unknownRevision is what the report says when the build carries no VCS
// stamp (go build -buildvcs=false, or outside a checkout).
const unknownRevision = "unknown revision"

// buildInfo is the tool's version and VCS revision from the build info.
func buildInfo() (version, revision string, modified bool) {
	revision = unknownRevision
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return toolVersion(), revision, false
	}
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			if s.Value != "" {
				revision = s.Value
			}
		case "vcs.modified":
			modified = s.Value == "true"
		}
	}
	return toolVersion(), revision, modified
}

// provenance records the run for the report: version, revision, command
// line, working directory, host, user and start time (End is set when
// the run ends).
func provenance(argv []string, start time.Time) *report.Provenance {
	v, rev, mod := buildInfo()
	p := &report.Provenance{Version: v, Revision: rev, Modified: mod, GoVersion: runtime.Version(),
		Command: argv, Start: start.UTC().Format(time.RFC3339Nano)}
	p.Cwd, _ = os.Getwd()
	p.Host, _ = os.Hostname()
	if u, err := user.Current(); err == nil && u.Username != "" {
		p.User = u.Username
	} else {
		p.User = "uid " + strconv.Itoa(os.Getuid())
	}
	return p
}
