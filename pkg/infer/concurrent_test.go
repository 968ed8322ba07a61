package infer_test

import (
	"os"
	"runtime"
	"sync"
	"testing"

	"github.com/veil-ml/veil/internal/malformed"
	"github.com/veil-ml/veil/internal/modelstore"
	"github.com/veil-ml/veil/pkg/infer"
	"github.com/veil-ml/veil/pkg/veilfile"
)

// TestConcurrentClassifyMatchesSerial classifies images from many
// goroutines with the real int8 MobileNetV2, through one shared Classifier
// (its runner pool) and through a Classifier per goroutine, and requires
// every answer to equal the serial one bit for bit.
func TestConcurrentClassifyMatchesSerial(t *testing.T) {
	if runtime.GOOS == "js" || testing.Short() {
		t.Skip("slow under js/wasm and in -short mode")
	}
	path, err := modelstore.VeilPath("mobilenet_v2")
	if err != nil {
		if os.Getenv("VEIL_REQUIRE_MODELS") != "" {
			t.Fatal(err)
		}
		t.Skip(err)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	q, _, err := veilfile.Read(data)
	if err != nil {
		t.Fatal(err)
	}
	var images [][]byte
	for _, name := range []string{"png_rgb", "png_palette", "png_gray8", "png_rgba_alpha", "jpeg_rgb", "jpeg_cmyk", "gif_still", "png_1x10000"} {
		c, ok := malformed.ByName(name)
		if !ok {
			t.Fatal(name)
		}
		images = append(images, c.Data())
	}
	shared := infer.NewInt8Classifier(q)
	want := make([][]float32, len(images))
	for i, img := range images {
		if want[i], err = shared.ClassifyBytes(img); err != nil {
			t.Fatal(err)
		}
	}

	check := func(t *testing.T, goroutines, calls int, classifier func(g int) *infer.Classifier) {
		var wg sync.WaitGroup
		errs := make(chan string, goroutines*calls)
		for g := range goroutines {
			wg.Add(1)
			go func() {
				defer wg.Done()
				c := classifier(g)
				for k := range calls {
					i := (g*calls + k) % len(images)
					got, err := c.ClassifyBytes(images[i])
					if err != nil {
						errs <- err.Error()
						continue
					}
					for j := range got {
						if got[j] != want[i][j] {
							errs <- "goroutine answered differently from the serial run"
							break
						}
					}
				}
			}()
		}
		wg.Wait()
		close(errs)
		for e := range errs {
			t.Error(e)
		}
	}
	t.Run("shared", func(t *testing.T) {
		check(t, 16, 2, func(int) *infer.Classifier { return shared })
	})
	t.Run("own", func(t *testing.T) {
		check(t, 4, 2, func(int) *infer.Classifier { return infer.NewInt8Classifier(q) })
	})
}
