package main

import (
	"bytes"
	"fmt"
	"image"
	"image/png"
	"io"
	"os"
	"path/filepath"

	"github.com/veil-ml/veil/internal/demoimages"
)

const demoHelp = `usage: lora demo-images -out DIR [-train N] [-unseen N] [-control N] [-size S]

Writes the generated images of the README's LoRA demonstration as PNG:

  DIR/train/Neutral/fractal_*.png    fractal textures to train on (seeds 100…)
  DIR/unseen/Neutral/fractal_*.png   fractal textures never trained on (seeds 500…)
  DIR/control/<family>_*.png         control images of other families (seeds 700…)

The stock MobileNetV2 calls most fractal textures Porn; they are Neutral.

Example:
  go run ./tools/lora demo-images -out /tmp/demo
  go run ./tools/lora train -data /tmp/demo/train -out /tmp/fractal
`

func runDemoImages(args []string, stdout, stderr io.Writer) int {
	fs := newFlags("demo-images", demoHelp, stderr)
	out := fs.String("out", "", "output directory (required)")
	nTrain := fs.Int("train", 40, "training images")
	nUnseen := fs.Int("unseen", 40, "unseen test images")
	nControl := fs.Int("control", 6, "control images per control family")
	size := fs.Int("size", 224, "image side in pixels")
	if code, stop := parse(fs, args); stop {
		return code
	}
	if *out == "" || fs.NArg() != 0 || *nTrain < 0 || *nUnseen < 0 || *nControl < 0 || *size < 8 || *size > 4096 {
		return fail(stderr, "demo-images", usageErr("want -out DIR, counts ≥ 0 and a size in [8, 4096]"))
	}
	type job struct {
		dir, prefix string
		f           demoimages.Family
		first       uint64
		n           int
	}
	jobs := []job{
		{filepath.Join(*out, "train", "Neutral"), "fractal", demoimages.Fractal, 100, *nTrain},
		{filepath.Join(*out, "unseen", "Neutral"), "fractal", demoimages.Fractal, 500, *nUnseen},
	}
	for _, f := range demoimages.Controls {
		jobs = append(jobs, job{filepath.Join(*out, "control"), f.Name, f, 700, *nControl})
	}
	total := 0
	for _, j := range jobs {
		if err := os.MkdirAll(j.dir, 0o755); err != nil {
			return fail(stderr, "demo-images", err)
		}
		for i, im := range demoimages.Generate(j.f, j.first, j.n, *size) {
			rgba := image.NewNRGBA(image.Rect(0, 0, im.W, im.H))
			for p := 0; p < im.W*im.H; p++ {
				copy(rgba.Pix[p*4:p*4+3], im.Pix[p*3:p*3+3])
				rgba.Pix[p*4+3] = 255
			}
			var buf bytes.Buffer
			if err := png.Encode(&buf, rgba); err != nil {
				return fail(stderr, "demo-images", err)
			}
			path := filepath.Join(j.dir, fmt.Sprintf("%s_%03d.png", j.prefix, j.first+uint64(i)))
			if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
				return fail(stderr, "demo-images", err)
			}
			total++
		}
	}
	fmt.Fprintf(stdout, "wrote %d images under %s\n", total, *out)
	return 0
}
