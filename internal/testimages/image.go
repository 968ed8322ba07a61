package testimages

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
)

// Image is one deterministic test image: 8-bit RGB, row-major,
// Pix[(y*W+x)*3+c].
type Image struct {
	Name string
	W, H int
	Pix  []uint8 // len W*H*3
}

// Spec describes one image of the conformance set without generating it.
type Spec struct {
	Name  string
	W, H  int
	Large bool // at least ~1 MP; skipped by tests in -short mode and on wasm
	Make  func() *Image
}

// PixelSHA256 returns the lowercase hex SHA-256 of img.Pix. The conformance
// harness records it next to each golden output so that a test can tell
// when an image no longer matches the one nsfwjs saw.
func PixelSHA256(img *Image) string {
	sum := sha256.Sum256(img.Pix)
	return hex.EncodeToString(sum[:])
}

// rgbFunc returns the colour of the pixel at column x, row y.
type rgbFunc func(x, y int) (r, g, b uint8)

// render allocates a w×h image and fills it from f in row-major order.
func render(name string, w, h int, f rgbFunc) *Image {
	if w <= 0 || h <= 0 {
		panic(fmt.Sprintf("testimages: %s: bad size %dx%d", name, w, h))
	}
	img := &Image{Name: name, W: w, H: h, Pix: make([]uint8, w*h*3)}
	i := 0
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			r, g, b := f(x, y)
			img.Pix[i], img.Pix[i+1], img.Pix[i+2] = r, g, b
			i += 3
		}
	}
	return img
}

// largePixels is the pixel count from which an image counts as Large.
const largePixels = 1_000_000

// spec builds a Spec whose Make renders f at w×h.
func spec(name string, w, h int, f rgbFunc) Spec {
	return Spec{
		Name:  name,
		W:     w,
		H:     h,
		Large: w*h >= largePixels,
		Make:  func() *Image { return render(name, w, h, f) },
	}
}

// All returns the full conformance set in its stable order. Each call
// returns a fresh slice; images are generated only when Make is called.
func All() []Spec {
	return []Spec{
		// REFERENCE.md sanity inputs.
		spec("ref_a_224", 224, 224, refA(224)),
		spec("ref_a_299", 299, 299, refA(299)),
		spec("ref_b", 320, 240, refB),

		// Smooth gradients.
		spec("grad_h_grey_256x256", 256, 256, gradHorizontalGrey(256)),
		spec("grad_v_colour_300x200", 300, 200, gradVerticalColour(200)),
		spec("grad_diag_rgb_640x480", 640, 480, gradDiagonalRGB(640, 480)),
		spec("grad_radial_400x400", 400, 400, gradRadial(400, 400)),

		// Checkerboards and stripes at several frequencies.
		spec("checker_1px_224", 224, 224, checker(1, [3]uint8{0, 0, 0}, [3]uint8{255, 255, 255})),
		spec("checker_4px_300x300", 300, 300, checker(4, [3]uint8{20, 20, 20}, [3]uint8{235, 235, 235})),
		spec("checker_16px_512x384", 512, 384, checker(16, [3]uint8{200, 30, 40}, [3]uint8{30, 60, 200})),
		spec("checker_64px_1024x768", 1024, 768, checker(64, [3]uint8{250, 220, 60}, [3]uint8{40, 120, 60})),
		spec("stripes_h_2px_320x240", 320, 240, stripes(0, 1, 2)),
		spec("stripes_v_8px_240x320", 240, 320, stripes(1, 0, 8)),
		spec("stripes_diag_5px_500x500", 500, 500, stripes(1, 1, 5)),
		spec("stripes_rgb_3px_299", 299, 299, stripesRGB(3)),

		// Seeded noise and fractal "photo-like" textures.
		spec("noise_white_224", 224, 224, whiteNoise(101)),
		spec("noise_white_640x427", 640, 427, whiteNoise(102)),
		spec("noise_blocks_8px_320x240", 320, 240, blockNoise(103, 8)),
		spec("noise_value_8px_512", 512, 512, valueNoiseColour(104, 8)),
		spec("noise_value_32px_800x600", 800, 600, valueNoiseColour(105, 32)),
		spec("fractal_grey_640x480", 640, 480, fractalGrey(106, 128)),
		spec("fractal_landscape_1024x683", 1024, 683, fractalLandscape(107, 683)),
		spec("fractal_colour_299", 299, 299, fractalColour(108, 64)),
		spec("fractal_colour_224", 224, 224, fractalColour(109, 64)),

		// Skin-tone-ish smooth blobs.
		spec("skin_blob_480x640", 480, 640, skinBlobs(201, 480, 640, 1)),
		spec("skin_blob_800x600", 800, 600, skinBlobs(202, 800, 600, 2)),
		spec("skin_blob_224", 224, 224, skinBlobs(203, 224, 224, 1)),
		spec("skin_blobs_many_1280x960", 1280, 960, skinBlobs(204, 1280, 960, 7)),
		spec("portrait_like_600x800", 600, 800, portraitLike(205, 600, 800)),

		// Wood-grain-like rings.
		spec("wood_rings_512", 512, 512, woodRings(301, 512, 512)),
		spec("wood_rings_700x400", 700, 400, woodRings(302, 700, 400)),

		// Flat-shaded drawings.
		spec("cartoon_face_512", 512, 512, cartoonFace(512)),
		spec("shapes_640x480", 640, 480, flatShapes(401, 640, 480)),

		// Flat colours.
		spec("flat_black_224", 224, 224, flat(0, 0, 0)),
		spec("flat_white_224", 224, 224, flat(255, 255, 255)),
		spec("flat_grey_300x200", 300, 200, flat(128, 128, 128)),
		spec("flat_red_299", 299, 299, flat(255, 0, 0)),
		spec("flat_skin_400x300", 400, 300, flat(224, 172, 140)),

		// Extreme aspect ratios.
		spec("tiny_1x1", 1, 1, flat(200, 120, 90)),
		spec("aspect_1x500", 1, 500, fractalColour(501, 16)),
		spec("aspect_500x1", 500, 1, fractalColour(502, 16)),
		spec("aspect_3x1000", 3, 1000, gradDiagonalRGB(3, 1000)),
		spec("aspect_2000x7", 2000, 7, stripesRGB(9)),

		// Small, and one pixel away from the model sizes.
		spec("small_5x7", 5, 7, whiteNoise(601)),
		spec("small_16x16", 16, 16, fractalColour(602, 4)),
		spec("near_223x225", 223, 225, fractalColour(603, 32)),
		spec("near_225x224", 225, 224, refA(224)),
		spec("near_298x300", 298, 300, skinBlobs(604, 298, 300, 1)),

		// Large (about 12 MP).
		spec("large_4000x3000", 4000, 3000, largeTexture(701, 4000, 3000)),
		spec("large_3000x4000", 3000, 4000, largeTexture(702, 3000, 4000)),
	}
}

// ByName returns the Spec called name from All.
func ByName(name string) (Spec, bool) {
	for _, s := range All() {
		if s.Name == name {
			return s, true
		}
	}
	return Spec{}, false
}
