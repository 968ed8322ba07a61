package decode

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// FuzzDecode checks that no input panics, that every error is typed, and
// that a decoded image agrees with DecodeConfig. Seeds: every image in
// testdata, small generated images, and the handcrafted headers.
func FuzzDecode(f *testing.F) {
	entries, err := os.ReadDir("testdata")
	if err != nil {
		f.Fatal(err)
	}
	for _, e := range entries {
		ext := filepath.Ext(e.Name())
		if strings.Contains(".jpg.png.gif.webp", ext) && ext != "" && !e.IsDir() {
			b, err := os.ReadFile(filepath.Join("testdata", e.Name()))
			if err != nil {
				f.Fatal(err)
			}
			f.Add(b)
		}
	}
	for _, b := range smallImages(f) {
		f.Add(b)
	}
	f.Add(pngHeader(3, 2))
	f.Add(jpegHeader(3, 2))
	f.Add(gifHeader(3, 2))
	f.Add(webpVP8XHeader(3, 2))
	f.Fuzz(func(t *testing.T, data []byte) {
		// Small limits keep each input fast; limit errors are typed too.
		checkDecode(t, data, Limits{MaxPixels: 1 << 20, MaxWidth: 4096, MaxHeight: 4096})
	})
}
