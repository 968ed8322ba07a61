package train

import (
	"fmt"
	"math/rand/v2"
	"runtime"
	"sync"
	"sync/atomic"

	"github.com/veil-ml/veil/pkg/infer"
	"github.com/veil-ml/veil/pkg/infer/decode"
)

// Augment describes the random changes made to training images before the
// backbone sees them. The zero value changes nothing.
type Augment struct {
	Flip    bool    // mirror left-right with probability 1/2
	MinCrop float64 // crop a square-ish window whose sides are in [MinCrop, 1] of the image's; 0 or 1: no crop
	Jitter  float64 // brightness, contrast and saturation factors in [1−Jitter, 1+Jitter]
}

// DefaultAugment is a mild augmentation that keeps nsfwjs's view of the image.
var DefaultAugment = Augment{Flip: true, MinCrop: 0.75, Jitter: 0.2}

// Apply writes the S×S×3 model input for img into dst, changed by a random
// draw from rng: crop, then Preprocess (resize to S), flip, colour jitter.
func (a Augment) Apply(dst []float32, img *decode.RGB, s int, rng *rand.Rand) {
	pix, w, h := img.Pix, img.W, img.H
	if a.MinCrop > 0 && a.MinCrop < 1 {
		fw := a.MinCrop + (1-a.MinCrop)*rng.Float64()
		fh := fw * (0.9 + 0.2*rng.Float64())
		cw, ch := max(1, min(w, int(fw*float64(w)+0.5))), max(1, min(h, int(fh*float64(h)+0.5)))
		x0, y0 := rng.IntN(w-cw+1), rng.IntN(h-ch+1)
		crop := make([]uint8, cw*ch*3)
		for y := 0; y < ch; y++ {
			copy(crop[y*cw*3:(y+1)*cw*3], pix[((y0+y)*w+x0)*3:])
		}
		pix, w, h = crop, cw, ch
	}
	infer.Preprocess(dst, pix, w, h, s)
	if a.Flip && rng.IntN(2) == 1 {
		for y := 0; y < s; y++ {
			row := dst[y*s*3 : (y+1)*s*3]
			for l, r := 0, s-1; l < r; l, r = l+1, r-1 {
				for c := 0; c < 3; c++ {
					row[l*3+c], row[r*3+c] = row[r*3+c], row[l*3+c]
				}
			}
		}
	}
	if a.Jitter > 0 {
		jitter(dst[:s*s*3], a.Jitter, rng)
	}
}

// jitter scales brightness, then contrast around the mean, then saturation
// around each pixel's grey, clamping to [0, 1].
func jitter(x []float32, j float64, rng *rand.Rand) {
	f := func() float64 { return 1 - j + 2*j*rng.Float64() }
	bright, contrast, sat := f(), f(), f()
	mean := 0.0
	for _, v := range x {
		mean += float64(v)
	}
	mean = mean * bright / float64(len(x))
	for p := 0; p < len(x); p += 3 {
		var c [3]float64
		for k := range c {
			c[k] = (float64(x[p+k])*bright-mean)*contrast + mean
		}
		grey := 0.299*c[0] + 0.587*c[1] + 0.114*c[2]
		for k := range c {
			x[p+k] = float32(min(1, max(0, grey+(c[k]-grey)*sat)))
		}
	}
}

// Extractor computes what samples cache, the tail's input, with a Net's
// frozen backbone.
type Extractor struct {
	Net      *infer.Net
	Backbone *infer.Net // Net up to the tail's input
	Tail     Tail
	Workers  int // goroutines, each with its own infer.Float; 0 means GOMAXPROCS
}

// NewExtractor splits net into backbone and head (see infer.SplitHead). If
// stem is not empty it names a 1×1 conv to train with the head (see
// NewStem); the backbone then stops at that conv's input.
func NewExtractor(net *infer.Net, stem string) (*Extractor, error) {
	bb, head, err := infer.SplitHead(net)
	if err != nil {
		return nil, err
	}
	e := &Extractor{Net: net, Backbone: bb, Tail: Tail{Head: head, Input: net.Ops[head[0].Op].In[0]}}
	if stem != "" {
		st, err := NewStem(net, stem)
		if err != nil {
			return nil, err
		}
		if e.Backbone, err = net.Slice(0, st.Input); err != nil {
			return nil, err
		}
		e.Tail.Stem, e.Tail.Input = st, st.Input
	}
	return e, nil
}

// Source yields image i of a set, decoding it on demand.
type Source func(i int) (*decode.RGB, error)

// Images is a Source over decoded images.
func Images(imgs []*decode.RGB) Source {
	return func(i int) (*decode.RGB, error) { return imgs[i], nil }
}

// Features runs the backbone over n images from src, variants times each:
// variant 0 unchanged, the others augmented by aug with a stream seeded by
// (seed, image, variant). It returns n·variants vectors, image i's variant v
// at i·variants + v. progress, if not nil, is called after each backbone run
// (from any goroutine, one call at a time).
func (e *Extractor) Features(src Source, n, variants int, aug Augment, seed uint64, progress func(done, total int)) ([][]float32, error) {
	if variants < 1 {
		panic(fmt.Sprintf("train: Features: %d variants", variants))
	}
	workers := e.Workers
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	workers = max(1, min(workers, n))
	out := make([][]float32, n*variants)
	errs := make([]error, n)
	var next, done atomic.Int64
	var mu sync.Mutex
	var wg sync.WaitGroup
	s := e.Net.InputSize
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			f := infer.NewFloat(e.Backbone)
			x := make([]float32, s*s*3)
			for {
				i := int(next.Add(1) - 1)
				if i >= n {
					return
				}
				img, err := src(i)
				if err == nil && (img == nil || img.W <= 0 || img.H <= 0 || len(img.Pix) != img.W*img.H*3) {
					err = fmt.Errorf("train: image %d is empty or malformed", i)
				}
				if err != nil {
					errs[i] = err
					continue
				}
				for v := 0; v < variants; v++ {
					if v == 0 {
						infer.Preprocess(x, img.Pix, img.W, img.H, s)
					} else {
						aug.Apply(x, img, s, rand.New(rand.NewPCG(seed, uint64(i)<<16|uint64(v))))
					}
					out[i*variants+v] = append([]float32(nil), f.Run(x)...)
					if progress != nil {
						d := int(done.Add(1))
						mu.Lock()
						progress(d, n*variants)
						mu.Unlock()
					}
				}
			}
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return nil, err
		}
	}
	return out, nil
}
