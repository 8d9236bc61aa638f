package main

import (
	"bufio"
	"io"
	"os"
	"path/filepath"

	"github.com/mirrorchk/mirrorchk/batch"
	"github.com/mirrorchk/mirrorchk/report"
)

// jsonlStream writes --jsonl while the sets are checked: each set's line
// as soon as it and every set before it in key order are done, the summary
// at the end. A file is written under a temporary name, synced and renamed
// when complete, like --report; "-" is stdout.
type jsonlStream struct {
	path string
	f    *os.File // nil for stdout
	bw   *bufio.Writer
	head *report.Report // plan, shard and tool of every line
	n    int
	// lean drops each set's report once written (nothing else needs it),
	// so memory does not grow with the number of sets.
	lean bool
}

func newJSONLStream(e *env, path string, head *report.Report, lean bool) (*jsonlStream, error) {
	s := &jsonlStream{path: path, head: head, lean: lean}
	var w io.Writer = e.stdout
	if path != "-" {
		f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".mirrorchk-partial-*")
		if err != nil {
			return nil, err
		}
		s.f, w = f, f
	}
	s.bw = bufio.NewWriterSize(w, 1<<16)
	return s, nil
}

// set writes one set's line (called in key order).
func (s *jsonlStream) set(r *batch.SetResult) error {
	if err := report.WriteSetLine(s.bw, s.head, r.Planned.Index, &r.Report); err != nil {
		return err
	}
	s.n++
	if s.lean {
		r.Report = report.Set{Key: r.Report.Key, ID: r.Report.ID, Verdict: r.Report.Verdict, ExitCode: r.Report.ExitCode}
	} else if s.f == nil {
		return s.bw.Flush() // stdout: each line as it comes
	}
	return nil
}

// finish writes the summary line and puts the file in place.
func (s *jsonlStream) finish(rep *report.Report) error {
	if err := report.WriteSummaryLine(s.bw, rep, s.n); err != nil {
		return err
	}
	if err := s.bw.Flush(); err != nil {
		return err
	}
	if s.f == nil {
		return nil
	}
	tmp := s.f.Name()
	err := s.f.Sync()
	if cerr := s.f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Chmod(tmp, 0o644)
	}
	if err == nil {
		err = os.Rename(tmp, s.path)
	}
	s.f = nil
	if err != nil {
		os.Remove(tmp)
		return err
	}
	if d, err := os.Open(filepath.Dir(s.path)); err == nil {
		d.Sync()
		d.Close()
	}
	return nil
}

// abort removes an unfinished file.
func (s *jsonlStream) abort() {
	if s != nil && s.f != nil {
		name := s.f.Name()
		s.f.Close()
		os.Remove(name)
		s.f = nil
	}
}
