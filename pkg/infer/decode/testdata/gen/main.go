// Command gen writes the source images for the committed test files in
// pkg/infer/decode/testdata; see ../README.md for the commands that follow.
//
//	go run ./pkg/infer/decode/testdata/gen -o pkg/infer/decode/testdata
package main

import (
	"flag"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"log"
	"os"
	"path/filepath"
)

// pattern is a deterministic picture with smooth gradients and sharp
// saturated edges, so chroma upsampling and colour conversion both matter.
func pattern(x, y, w, h int) color.NRGBA {
	c := color.NRGBA{
		R: uint8(255 * x / (w - 1)),
		G: uint8(255 * y / (h - 1)),
		B: uint8((x*7 + y*13) % 256),
		A: 255,
	}
	switch {
	case x >= 5 && x < 14 && y >= 4 && y < 12:
		c.R, c.G, c.B = 230, 20, 30
	case x >= 20 && x < 31 && y >= 15 && y < 24:
		c.R, c.G, c.B = 10, 40, 220
	case (x/3+y/3)%5 == 0:
		c.R, c.G, c.B = 250, 250, 20
	}
	return c
}

func write(path string, m image.Image) {
	f, err := os.Create(path)
	if err != nil {
		log.Fatal(err)
	}
	if err := png.Encode(f, m); err != nil {
		log.Fatal(err)
	}
	if err := f.Close(); err != nil {
		log.Fatal(err)
	}
}

// writePPM writes the opaque RGB of m as binary PPM, the input cjpeg reads.
func writePPM(path string, m *image.NRGBA) {
	b := m.Bounds()
	buf := []byte(fmt.Sprintf("P6\n%d %d\n255\n", b.Dx(), b.Dy()))
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			c := m.NRGBAAt(x, y)
			buf = append(buf, c.R, c.G, c.B)
		}
	}
	if err := os.WriteFile(path, buf, 0o644); err != nil {
		log.Fatal(err)
	}
}

func main() {
	out := flag.String("o", ".", "output directory")
	flag.Parse()
	const w, h = 37, 29

	opaque := image.NewNRGBA(image.Rect(0, 0, w, h))
	alpha := image.NewNRGBA(image.Rect(0, 0, w, h))
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			c := pattern(x, y, w, h)
			opaque.SetNRGBA(x, y, c)
			// Bands of alpha 0, 128, 255 and a ramp.
			switch {
			case y < 7:
				c.A = 0
			case y < 14:
				c.A = 128
			case y < 21:
				c.A = 255
			default:
				c.A = uint8(255 * x / (w - 1))
			}
			alpha.SetNRGBA(x, y, c)
		}
	}
	write(filepath.Join(*out, "src.png"), opaque)
	write(filepath.Join(*out, "src_alpha.png"), alpha)
	writePPM(filepath.Join(*out, "src.ppm"), opaque)

	// 4x3: chroma only 2 samples wide, where libjpeg-turbo replicates.
	tiny := image.NewNRGBA(image.Rect(0, 0, 4, 3))
	for y := 0; y < 3; y++ {
		for x := 0; x < 4; x++ {
			tiny.SetNRGBA(x, y, pattern(x*9, y*12, w, h))
		}
	}
	writePPM(filepath.Join(*out, "tiny.ppm"), tiny)
}
