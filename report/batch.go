package report

// Provenance records who ran what, where and when: for a court, the run
// must be reproducible and attributable.
type Provenance struct {
	Version   string   `json:"version"`    // the tool's version
	Revision  string   `json:"revision"`   // VCS revision from the build info, or "unknown revision"
	Modified  bool     `json:"modified"`   // the build's work tree had uncommitted changes
	GoVersion string   `json:"go_version"` // the Go toolchain that built the tool
	Command   []string `json:"command"`    // the full command line
	Cwd       string   `json:"cwd"`        // the working directory
	Host      string   `json:"host"`       // the host name
	User      string   `json:"user"`       // the user name (uid when it has none)
	Start     string   `json:"start"`      // RFC 3339 UTC; varies between runs
	End       string   `json:"end"`        // RFC 3339 UTC; varies between runs
}

// InputsSummary is what a batch run found among its inputs.
type InputsSummary struct {
	Images int `json:"images"` // inputs taken as images (including those that could not be read)
	Sets   int `json:"sets"`   // sets of the whole plan
	// Skipped counts the files not taken as images by reason: "hidden",
	// "not-an-image", "compressed", "segment", "hive", "duplicate".
	Skipped map[string]int `json:"skipped"`
}
