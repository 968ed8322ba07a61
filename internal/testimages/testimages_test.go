package testimages

import (
	"bytes"
	"image/png"
	"runtime"
	"sync"
	"testing"
)

// skipLarge reports whether the ~12 MP images should be left out: they are
// cheap natively but slow under js/wasm.
func skipLarge() bool { return testing.Short() || runtime.GOOS == "js" }

// made summarises one generated image, so that each test does not
// regenerate the whole set.
type made struct {
	name   string
	w, h   int
	bytes  int
	sha256 string
}

var (
	madeMu    sync.Mutex
	madeCache = map[string]made{}
)

// generate returns the summary of s.Make(), generating it once per test binary.
func generate(s Spec) made {
	madeMu.Lock()
	defer madeMu.Unlock()
	if m, ok := madeCache[s.Name]; ok {
		return m
	}
	img := s.Make()
	m := made{name: img.Name, w: img.W, h: img.H, bytes: len(img.Pix), sha256: PixelSHA256(img)}
	madeCache[s.Name] = m
	return m
}

func TestAllNamesUniqueAndFound(t *testing.T) {
	seen := map[string]bool{}
	specs := All()
	if len(specs) < 44 {
		t.Errorf("All has %d images, want at least 44", len(specs))
	}
	for _, s := range specs {
		if seen[s.Name] {
			t.Errorf("duplicate image name %q", s.Name)
		}
		seen[s.Name] = true
		got, ok := ByName(s.Name)
		if !ok || got.Name != s.Name || got.W != s.W || got.H != s.H {
			t.Errorf("ByName(%q) = %+v, %v", s.Name, got, ok)
		}
	}
	if _, ok := ByName("no_such_image"); ok {
		t.Error(`ByName("no_such_image") found an image`)
	}
}

func TestAllOrderStable(t *testing.T) {
	a, b := All(), All()
	for i := range a {
		if a[i].Name != b[i].Name {
			t.Fatalf("All()[%d] is %q then %q", i, a[i].Name, b[i].Name)
		}
	}
}

func TestDimensions(t *testing.T) {
	for _, s := range All() {
		t.Run(s.Name, func(t *testing.T) {
			if s.Large != (s.W*s.H >= largePixels) {
				t.Errorf("Large = %v for %dx%d", s.Large, s.W, s.H)
			}
			if s.Large && skipLarge() {
				t.Skip("large image")
			}
			m := generate(s)
			if m.name != s.Name || m.w != s.W || m.h != s.H {
				t.Errorf("Make() = %q %dx%d, want %q %dx%d", m.name, m.w, m.h, s.Name, s.W, s.H)
			}
			if m.bytes != s.W*s.H*3 {
				t.Errorf("len(Pix) = %d, want %d", m.bytes, s.W*s.H*3)
			}
		})
	}
}

// TestCoverage checks that the set keeps the shapes the conformance tests
// rely on: model sizes exactly, resize in both directions, extreme aspects.
func TestCoverage(t *testing.T) {
	has := func(w, h int) bool {
		for _, s := range All() {
			if s.W == w && s.H == h {
				return true
			}
		}
		return false
	}
	for _, wh := range [][2]int{{224, 224}, {299, 299}, {1, 1}, {1, 500}, {500, 1}, {3, 1000}, {2000, 7}, {5, 7}, {16, 16}, {4000, 3000}, {3000, 4000}} {
		if !has(wh[0], wh[1]) {
			t.Errorf("no %dx%d image", wh[0], wh[1])
		}
	}
}

func TestDeterministic(t *testing.T) {
	for _, s := range All() {
		if s.Large && skipLarge() {
			continue
		}
		if a, b := generate(s).sha256, PixelSHA256(s.Make()); a != b {
			t.Errorf("%s: two calls gave %s and %s", s.Name, a, b)
		}
	}
}

// pinnedSHA256 are pixel hashes recorded on linux/amd64. A mismatch on any
// platform means a generator is not bit-exact and the goldens are stale.
var pinnedSHA256 = map[string]string{
	"ref_a_224":                  "cc2bc00f2b3dfd2cbe06d81d60d3fea1d63e5bb35aceecafd479c76c2d77e189",
	"ref_a_299":                  "e1dd00a389dad6bbef5d98acaaef363fb92451ea7f9006de44beb9826efbfa81",
	"ref_b":                      "e25113bc6990614e927f9b9b2404b4d216011c11c807d518fc27a5e78922c35f",
	"noise_white_224":            "2f2c0073ec7ffd2889de5ec7d1bae1f4d210852a72ae932339d51897debd6147",
	"fractal_landscape_1024x683": "0dbeeb72a403ddbdbf7207f0ae96da8273c8409b3060ca7771b2c085e1bb22c7",
	"fractal_colour_224":         "2483ee85587fa23a52f31c155e5d1e993c86e8f4aa9da50597e7082baee6b749",
	"skin_blob_224":              "675a8e1bad46b7fa275fe33e289b775c50d2723dfdd022e8630af37c20926aee",
	"portrait_like_600x800":      "87327aae1679e217e866f4951b8e0dd95911d14001f456bc39364968c82c7aa5",
	"wood_rings_512":             "5622fa274b281780cabebb48680e33b6faabdf43d239f8e11a40fc0ea5145f27",
	"cartoon_face_512":           "5f5f5f6566286bf49a28e901ff9e09d5ecb4e837e67652bf7eacb99b309a1f88",
	"shapes_640x480":             "138d91bb0d0e9a13fffa2ca06fbeb25440480c1ec51dc6c6217c69b1275933ae",
	"aspect_2000x7":              "8c9432bb4f1ef1f266413ce65336752cd0c0d200a774437c58016fd53afc4512",
	"small_5x7":                  "5ef3f520aeaf75fdd907f31ce739a89cfee4a49ed2ba656b055fda611fb3cc74",
	"large_4000x3000":            "e4c425f9739f8b85832c84feb8feb35ba67a03a50eb65ed2a62b0c5e2030edcc",
}

func TestPixelHashes(t *testing.T) {
	for name, want := range pinnedSHA256 {
		s, ok := ByName(name)
		if !ok {
			t.Errorf("pinned image %q not in All", name)
			continue
		}
		if s.Large && skipLarge() {
			continue
		}
		if got := generate(s).sha256; got != want {
			t.Errorf("%s: pixel sha256 %s, want %s", name, got, want)
		}
	}
}

// TestReferenceInputs rebuilds REFERENCE.md inputs A and B straight from
// their published formulas.
func TestReferenceInputs(t *testing.T) {
	for _, tc := range []struct {
		name string
		w, h int
		pix  func(x, y, c int) int
	}{
		{"ref_a_224", 224, 224, refAFormula(224)},
		{"ref_a_299", 299, 299, refAFormula(299)},
		{"ref_b", 320, 240, func(x, y, c int) int { return (5*x + 3*y + 80*c + x*y/16) % 256 }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, ok := ByName(tc.name)
			if !ok {
				t.Fatalf("%s missing", tc.name)
			}
			img := s.Make()
			if img.W != tc.w || img.H != tc.h {
				t.Fatalf("size %dx%d, want %dx%d", img.W, img.H, tc.w, tc.h)
			}
			for y := 0; y < tc.h; y++ {
				for x := 0; x < tc.w; x++ {
					for c := 0; c < 3; c++ {
						if got, want := int(img.Pix[(y*tc.w+x)*3+c]), tc.pix(x, y, c); got != want {
							t.Fatalf("(x=%d, y=%d, c=%d) = %d, want %d", x, y, c, got, want)
						}
					}
				}
			}
		})
	}
}

func refAFormula(s int) func(x, y, c int) int {
	return func(x, y, c int) int {
		switch c {
		case 0:
			return 255 * x / (s - 1)
		case 1:
			return 255 * y / (s - 1)
		}
		return 255 * (x + y) / (2 * (s - 1))
	}
}

func TestIsqrt(t *testing.T) {
	for n := 0; n < 100_000; n++ {
		r := isqrt(n)
		if r*r > n || (r+1)*(r+1) <= n {
			t.Fatalf("isqrt(%d) = %d", n, r)
		}
	}
	for _, n := range []int{1 << 30, 1<<30 - 1, 2_147_395_599, 2_147_395_600, 1<<31 - 1} {
		r := int64(isqrt(n))
		if r*r > int64(n) || (r+1)*(r+1) <= int64(n) {
			t.Errorf("isqrt(%d) = %d", n, r)
		}
	}
}

func TestValueNoiseRange(t *testing.T) {
	for _, cell := range []int{2, 7, 32, 256} {
		for y := 0; y < 300; y += 3 {
			for x := 0; x < 300; x += 5 {
				if v := valueNoise(42, x, y, cell); v < 0 || v > 255 {
					t.Fatalf("valueNoise(cell %d, %d, %d) = %d", cell, x, y, v)
				}
			}
		}
	}
}

func TestWritePNGRoundTrip(t *testing.T) {
	s, _ := ByName("small_5x7")
	img := s.Make()
	var buf bytes.Buffer
	if err := WritePNG(&buf, img); err != nil {
		t.Fatal(err)
	}
	dec, err := png.Decode(&buf)
	if err != nil {
		t.Fatal(err)
	}
	if b := dec.Bounds(); b.Dx() != img.W || b.Dy() != img.H {
		t.Fatalf("decoded %v, want %dx%d", b, img.W, img.H)
	}
	for y := 0; y < img.H; y++ {
		for x := 0; x < img.W; x++ {
			r, g, b, a := dec.At(x, y).RGBA()
			p := img.Pix[(y*img.W+x)*3:]
			if uint8(r>>8) != p[0] || uint8(g>>8) != p[1] || uint8(b>>8) != p[2] || a != 0xffff {
				t.Fatalf("(%d,%d) = %d %d %d %d, want %v", x, y, r>>8, g>>8, b>>8, a>>8, p[:3])
			}
		}
	}
	if err := WritePNG(&buf, &Image{Name: "bad", W: 2, H: 2, Pix: make([]uint8, 5)}); err == nil {
		t.Error("WritePNG accepted a short Pix")
	}
}
