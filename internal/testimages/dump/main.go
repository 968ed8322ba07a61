// Command dump writes veil's conformance images as raw RGB files for the
// nsfwjs harness in conformance/.
//
// Usage:
//
//	go run ./internal/testimages/dump -o DIR [-only NAME,...] [-png] [-list]
//
// For each image it writes DIR/NAME.rgb (W*H*3 bytes, row-major RGB) and,
// with -png, DIR/NAME.png; then DIR/index.json, a list of
// {name, w, h, file, sha256}. Examples:
//
//	go run ./internal/testimages/dump -o build/testimages
//	go run ./internal/testimages/dump -o /tmp/ti -only ref_a_224,ref_b -png
package main

import (
	"bufio"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/veil-ml/veil/internal/testimages"
)

// entry is one element of index.json.
type entry struct {
	Name   string `json:"name"`
	W      int    `json:"w"`
	H      int    `json:"h"`
	File   string `json:"file"`
	PNG    string `json:"png,omitempty"`
	SHA256 string `json:"sha256"`
	Large  bool   `json:"large"`
}

func main() {
	flag.Usage = func() {
		fmt.Fprintf(os.Stderr, `usage: dump -o DIR [-only NAME,...] [-png] [-list]

Writes the conformance images as DIR/NAME.rgb (raw row-major RGB bytes) and
DIR/index.json ([{name,w,h,file,sha256,large}]).

Examples:
  go run ./internal/testimages/dump -o build/testimages
  go run ./internal/testimages/dump -o /tmp/ti -only ref_a_224,ref_b -png
  go run ./internal/testimages/dump -list

Flags:
`)
		flag.PrintDefaults()
	}
	out := flag.String("o", "", "output directory (created if missing)")
	only := flag.String("only", "", "comma-separated image names (default: all)")
	withPNG := flag.Bool("png", false, "also write NAME.png")
	list := flag.Bool("list", false, "print the image names and sizes to stdout and exit")
	flag.Parse()
	if flag.NArg() != 0 {
		flag.Usage()
		os.Exit(2)
	}
	specs, err := selectSpecs(*only)
	if err != nil {
		fmt.Fprintln(os.Stderr, "dump:", err)
		os.Exit(2)
	}
	if *list {
		for _, s := range specs {
			fmt.Printf("%s\t%d\t%d\n", s.Name, s.W, s.H)
		}
		return
	}
	if *out == "" {
		fmt.Fprintln(os.Stderr, "dump: -o DIR is required")
		flag.Usage()
		os.Exit(2)
	}
	if err := dump(*out, specs, *withPNG); err != nil {
		fmt.Fprintln(os.Stderr, "dump:", err)
		os.Exit(1)
	}
}

func selectSpecs(only string) ([]testimages.Spec, error) {
	if only == "" {
		return testimages.All(), nil
	}
	var specs []testimages.Spec
	for _, name := range strings.Split(only, ",") {
		s, ok := testimages.ByName(strings.TrimSpace(name))
		if !ok {
			return nil, fmt.Errorf("unknown image %q", name)
		}
		specs = append(specs, s)
	}
	return specs, nil
}

func dump(dir string, specs []testimages.Spec, withPNG bool) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	start := time.Now()
	index := make([]entry, 0, len(specs))
	for _, s := range specs {
		img := s.Make()
		e := entry{Name: img.Name, W: img.W, H: img.H, File: img.Name + ".rgb",
			SHA256: testimages.PixelSHA256(img), Large: s.Large}
		if err := os.WriteFile(filepath.Join(dir, e.File), img.Pix, 0o644); err != nil {
			return err
		}
		if withPNG {
			e.PNG = img.Name + ".png"
			if err := writePNGFile(filepath.Join(dir, e.PNG), img); err != nil {
				return err
			}
		}
		index = append(index, e)
	}
	data, err := json.MarshalIndent(index, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "index.json"), append(data, '\n'), 0o644); err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "dump: wrote %d images to %s in %v\n", len(index), dir, time.Since(start).Round(time.Millisecond))
	return nil
}

func writePNGFile(path string, img *testimages.Image) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	w := bufio.NewWriter(f)
	if err := testimages.WritePNG(w, img); err != nil {
		f.Close()
		return err
	}
	if err := w.Flush(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
