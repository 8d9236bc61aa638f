package image_test

import (
	"fmt"
	"log"
	"os"
	"path/filepath"

	"github.com/mirrorchk/mirrorchk/image"
)

// A split raw image is opened by its first segment and read as one.
func ExampleOpen() {
	dir, err := os.MkdirTemp("", "image-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	for name, data := range map[string]string{"disk.001": "hello, ", "disk.002": "world"} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(data), 0o444); err != nil {
			log.Fatal(err)
		}
	}

	im, err := image.Open(filepath.Join(dir, "disk.001"))
	if err != nil {
		log.Fatal(err)
	}
	defer im.Close()
	buf := make([]byte, im.Size())
	if _, err := im.ReadAt(buf, 0); err != nil {
		log.Fatal(err)
	}
	fmt.Println(len(im.Segments()), "segments,", im.Size(), "bytes:", string(buf))
	// Output: 2 segments, 12 bytes: hello, world
}
