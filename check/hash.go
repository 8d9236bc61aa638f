package check

import (
	"crypto/md5"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/hex"
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

// Digests feeds every write to several hash algorithms at once: the
// whole-image hashes that repair computes of what it wrote, by the same
// names and rules as DiffOptions.Hashes.
type Digests struct {
	names []string
	hs    []hash.Hash
}

// NewDigests returns Digests for the named algorithms ("sha256", "sha1",
// "md5"; duplicates dropped).
func NewDigests(names []string) (*Digests, error) {
	names, err := hashNames(names)
	if err != nil {
		return nil, err
	}
	d := &Digests{names: names}
	for _, n := range names {
		d.hs = append(d.hs, newHash(n))
	}
	return d, nil
}

// Write adds p to every digest.
func (d *Digests) Write(p []byte) {
	for _, h := range d.hs {
		h.Write(p)
	}
}

// Sums returns algorithm → lower-case hex.
func (d *Digests) Sums() map[string]string {
	m := make(map[string]string, len(d.hs))
	for i, h := range d.hs {
		m[d.names[i]] = hex.EncodeToString(h.Sum(nil))
	}
	return m
}
