// Command sha256both is the baseline for bench/scan-vs-cmp.sh: it hashes
// its file arguments concurrently, one goroutine each, with crypto/sha256
// and 4 MiB reads, and prints "digest  path" lines like sha256sum. It shows
// what "hash every member at storage speed" costs with nothing else to do.
package main

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"sync"
)

const readSize = 4 << 20

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: sha256both FILE...")
		os.Exit(2)
	}
	files := os.Args[1:]
	sums := make([]string, len(files))
	errs := make([]error, len(files))
	var wg sync.WaitGroup
	for i, path := range files {
		wg.Go(func() { sums[i], errs[i] = hashFile(path) })
	}
	wg.Wait()
	code := 0
	for i, path := range files {
		if errs[i] != nil {
			fmt.Fprintln(os.Stderr, "sha256both:", errs[i])
			code = 1
			continue
		}
		fmt.Printf("%s  %s\n", sums[i], path)
	}
	os.Exit(code)
}

// hashFile reads path sequentially in readSize pieces. It does not use
// io.Copy, which would hand *os.File's WriteTo a 32 KiB buffer.
func hashFile(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	buf := make([]byte, readSize)
	for {
		n, err := f.Read(buf)
		h.Write(buf[:n])
		if err == io.EOF {
			return hex.EncodeToString(h.Sum(nil)), nil
		}
		if err != nil {
			return "", err
		}
	}
}
