// Package example holds the embedded example for `mirrorchk scan
// --example`: the two members of a real md RAID-1 array (metadata 1.2,
// internal write-intent bitmap) written by a Linux 6.1 kernel, in which
// member m1 was failed and removed and 6 bitmap chunks were written
// afterwards. They are the fixture testdata/md/md-1.2/c-stale-member-bitmap.
package example

import (
	"embed"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/klauspost/compress/zstd"
)

//go:embed m0.img.zst m1.img.zst
var files embed.FS

// Names are the member file names, in order.
var Names = []string{"m0.img", "m1.img"}

// Extract decompresses the example members into dir and returns their
// paths in order.
func Extract(dir string) ([]string, error) {
	var paths []string
	for _, n := range Names {
		in, err := files.Open(n + ".zst")
		if err != nil {
			return nil, err
		}
		dst := filepath.Join(dir, strings.TrimSuffix(n, ".zst"))
		if err := unzstd(in, dst); err != nil {
			in.Close()
			return nil, err
		}
		in.Close()
		paths = append(paths, dst)
	}
	return paths, nil
}

func unzstd(in io.Reader, dst string) error {
	dec, err := zstd.NewReader(in)
	if err != nil {
		return err
	}
	defer dec.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o444)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, dec); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}
