package report_test

import (
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/mirrorchk/mirrorchk/report"
)

func ExampleReadJSON() {
	doc := `{
	  "schema": "mirrorchk.report/1",
	  "tool": {"name": "mirrorchk", "version": "0.1.0"},
	  "sets": [{"id": "adhoc-1", "metadata": "none", "verdict": "consistent"}],
	  "added_in_a_later_release": true
	}`
	r, err := report.ReadJSON(strings.NewReader(doc))
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, s := range r.Sets {
		fmt.Println(s.ID, s.Metadata, s.Verdict, len(s.Members))
	}

	_, err = report.ReadJSON(strings.NewReader(`{"schema": "mirrorchk.report/2"}`))
	fmt.Println(errors.Is(err, report.ErrSchemaVersion))
	// Output:
	// adhoc-1 none consistent 0
	// true
}

func ExampleWriteJSON() {
	r := &report.Report{
		Tool:      report.Tool{Name: "mirrorchk", Version: "0.1.0"},
		Command:   []string{"mirrorchk", "scan"},
		Generated: "2026-03-01T12:00:00Z",
	}
	if err := report.WriteJSON(os.Stdout, r); err != nil {
		fmt.Println(err)
	}
	// Output:
	// {
	//   "schema": "mirrorchk.report/1",
	//   "tool": {
	//     "name": "mirrorchk",
	//     "version": "0.1.0"
	//   },
	//   "command": [
	//     "mirrorchk",
	//     "scan"
	//   ],
	//   "generated": "2026-03-01T12:00:00Z",
	//   "sector_size": 0,
	//   "sets": [],
	//   "problems": [],
	//   "hives": []
	// }
}
