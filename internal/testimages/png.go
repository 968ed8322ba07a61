package testimages

import (
	"fmt"
	"image"
	"image/png"
	"io"
)

// WritePNG encodes img as an opaque 8-bit RGB PNG.
func WritePNG(w io.Writer, img *Image) error {
	if len(img.Pix) != img.W*img.H*3 {
		return fmt.Errorf("testimages: %s: %d bytes for %dx%d RGB", img.Name, len(img.Pix), img.W, img.H)
	}
	rgba := image.NewNRGBA(image.Rect(0, 0, img.W, img.H))
	for i, j := 0, 0; i < len(img.Pix); i, j = i+3, j+4 {
		rgba.Pix[j], rgba.Pix[j+1], rgba.Pix[j+2], rgba.Pix[j+3] = img.Pix[i], img.Pix[i+1], img.Pix[i+2], 255
	}
	if err := png.Encode(w, rgba); err != nil {
		return fmt.Errorf("testimages: encode %s: %w", img.Name, err)
	}
	return nil
}
