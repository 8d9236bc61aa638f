package md

import (
	"bytes"
	"testing"

	"github.com/mirrorchk/mirrorchk/internal/fixture"
)

// TestTruncatedImage: a 1.2 member cut short inside its data area (an
// interrupted acquisition) still yields its superblock, with Missing saying
// how much of the data area lies past the end; a 1.0 layout cannot.
func TestTruncatedImage(t *testing.T) {
	img := fixture.Image(t, "md/md-1.2/b-stale-member", "m1")
	for _, cut := range []int64{512, 1 << 20, 6 << 20} {
		short := img[:int64(len(img))-cut]
		sbs, err := Scan(bytes.NewReader(short), int64(len(short)))
		if err != nil {
			t.Fatalf("cut %d: %v", cut, err)
		}
		sb := sbs[0]
		// The fixture's data area ends at the end of the image.
		if sb.Missing != cut || sb.DataOffset+sb.DataSize != int64(len(img)) {
			t.Errorf("cut %d: Missing %d, data %d+%d", cut, sb.Missing, sb.DataOffset, sb.DataSize)
		}
	}
	// Cut into the data offset itself: nothing left to compare, an error.
	short := img[:8192+512]
	if _, err := Scan(bytes.NewReader(short), int64(len(short))); err == nil {
		t.Errorf("image cut before its data offset: no error")
	}
	whole := scanOne(t, img, V12)
	if whole.Missing != 0 {
		t.Errorf("whole image: Missing %d", whole.Missing)
	}
}
