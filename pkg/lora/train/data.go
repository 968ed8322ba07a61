package train

import (
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/veil-ml/veil/pkg/infer"
	"github.com/veil-ml/veil/pkg/infer/decode"
)

// ImageExts are the file extensions LoadDir and ListImages take (lower case).
var ImageExts = []string{".jpg", ".jpeg", ".png", ".webp", ".gif"}

// Example is one labelled image file.
type Example struct {
	Path  string
	Label int // index into infer.Classes
}

// LoadDir lists a training directory laid out as DIR/<ClassName>/<image>,
// with nsfwjs class names (Drawing, Hentai, Neutral, Porn, Sexy; any case).
// Files whose extension is not in ImageExts, and hidden files, are ignored;
// a subdirectory that is not a class name is an error. Examples are sorted
// by path.
func LoadDir(dir string) ([]Example, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("train: %w", err)
	}
	var out []Example
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), ".") {
			continue
		}
		if !e.IsDir() {
			continue
		}
		label := classIndex(e.Name())
		if label < 0 {
			return nil, fmt.Errorf("train: %s: directory %q is not a class (want one of %s)", dir, e.Name(), strings.Join(infer.Classes, ", "))
		}
		files, err := ListImages(filepath.Join(dir, e.Name()))
		if err != nil {
			return nil, err
		}
		for _, f := range files {
			out = append(out, Example{Path: f, Label: label})
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("train: %s: no images in <class>/ subdirectories (%s)", dir, strings.Join(ImageExts, " "))
	}
	return out, nil
}

// ListImages returns the image files under dir, recursively, sorted.
func ListImages(dir string) ([]string, error) {
	var out []string
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if strings.HasPrefix(d.Name(), ".") && p != dir {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		if !d.IsDir() && slices.Contains(ImageExts, strings.ToLower(filepath.Ext(p))) {
			out = append(out, p)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("train: %w", err)
	}
	slices.Sort(out)
	return out, nil
}

func classIndex(name string) int {
	for i, c := range infer.Classes {
		if strings.EqualFold(c, name) {
			return i
		}
	}
	return -1
}

// Files is a Source that reads and decodes image files within limits.
func Files(paths []string, lim decode.Limits) Source {
	return func(i int) (*decode.RGB, error) {
		data, err := os.ReadFile(paths[i])
		if err != nil {
			return nil, fmt.Errorf("train: %w", err)
		}
		img, err := decode.Decode(data, lim)
		if err != nil {
			return nil, fmt.Errorf("train: %s: %w", paths[i], err)
		}
		return img, nil
	}
}

// Split divides sample indices 0..len(labels)-1 into training and
// validation sets, per class (stratified): each class with n ≥ 2 samples
// gives round(valFrac·n) of them, at least 1 and at most n−1, to validation,
// chosen by a stream seeded with seed. Both lists are sorted.
func Split(labels []int, valFrac float64, seed uint64) (train, val []int) {
	if !(valFrac >= 0 && valFrac < 1) {
		panic(fmt.Sprintf("train: Split: validation fraction %g is not in [0, 1)", valFrac))
	}
	rng := rand.New(rand.NewPCG(seed, 0x73706c6974))
	byClass := map[int][]int{}
	var classes []int
	for i, l := range labels {
		if _, ok := byClass[l]; !ok {
			classes = append(classes, l)
		}
		byClass[l] = append(byClass[l], i)
	}
	slices.Sort(classes)
	for _, c := range classes {
		idx := byClass[c]
		rng.Shuffle(len(idx), func(i, j int) { idx[i], idx[j] = idx[j], idx[i] })
		nv := 0
		if valFrac > 0 && len(idx) >= 2 {
			nv = min(max(1, int(math.Round(valFrac*float64(len(idx))))), len(idx)-1)
		}
		val = append(val, idx[:nv]...)
		train = append(train, idx[nv:]...)
	}
	slices.Sort(train)
	slices.Sort(val)
	return train, val
}
