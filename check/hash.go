package check

import (
	"crypto/md5"
	"crypto/sha1"
	"crypto/sha256"
	"fmt"
	"hash"
)

// newHash returns a new hash for an algorithm DiffOptions.Hashes accepts,
// or nil for any other name.
func newHash(name string) hash.Hash {
	switch name {
	case "sha256":
		return sha256.New()
	case "sha1":
		return sha1.New()
	case "md5":
		return md5.New()
	}
	return nil
}

// hashNames checks names and returns them without duplicates, in order.
func hashNames(names []string) ([]string, error) {
	var out []string
	for _, n := range names {
		if newHash(n) == nil {
			return nil, fmt.Errorf("unknown hash %q (want sha256, sha1 or md5)", n)
		}
		dup := false
		for _, m := range out {
			dup = dup || m == n
		}
		if !dup {
			out = append(out, n)
		}
	}
	return out, nil
}
