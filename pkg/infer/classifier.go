package infer

import (
	"fmt"
	"sort"
	"sync"

	"github.com/veil-ml/veil/pkg/infer/decode"
)

// Runner runs one preprocessed S×S×3 input through a network and returns the
// class probabilities (owned by the runner until its next Run). *Float and
// the int8 executor are Runners; a Runner need not be safe for concurrent use.
type Runner interface {
	Run(input []float32) []float32
}

// Prediction is one class and its probability, as nsfwjs returns them.
type Prediction struct {
	ClassName   string  `json:"className"`
	Probability float32 `json:"probability"`
}

// Classifier turns images into class probabilities. It is safe for
// concurrent use: each call borrows a Runner and an input buffer from a free
// list. Not a sync.Pool: that drops its items at every GC, and a runner
// (an int8 engine with its packed weights) is costly to make again.
type Classifier struct {
	Size    int      // model input size S
	Classes []string // output classes, in output order
	Limits  decode.Limits

	newRunner func() Runner
	mu        sync.Mutex
	free      []*slot // runners not in use; as many as calls ever ran at once
}

type slot struct {
	r     Runner
	input []float32 // the preprocessed image; nil for an rgbRunner
}

// rgbRunner is a Runner that preprocesses an RGB image itself, as Int8 does
// row by row into its quantized input: the classifier then keeps no float
// image for it.
type rgbRunner interface {
	LoadRGB(w, h int, rows RowSource)
	RunLoaded() []float32
}

// NewClassifier makes a Classifier whose runners come from newRunner.
func NewClassifier(size int, classes []string, newRunner func() Runner) *Classifier {
	return &Classifier{Size: size, Classes: classes, Limits: decode.DefaultLimits, newRunner: newRunner}
}

// NewFloatClassifier classifies with the float32 reference engine.
func NewFloatClassifier(net *Net) *Classifier {
	return NewClassifier(net.InputSize, net.Classes, func() Runner { return NewFloat(net) })
}

// NewInt8Classifier classifies with the int8 engine.
// Its runners share one copy of the packed weights, made by the first; from
// then on it holds no reference to q.
func NewInt8Classifier(q *QNet) *Classifier { return newInt8Classifier(q, false) }

// NewInt8ClassifierOwning is NewInt8Classifier for a caller that hands q
// over, as a model loader does: packing then releases each conv's raw
// weights from q as it goes (the peak memory holds one copy of the weights,
// not two), so q must not be used again.
func NewInt8ClassifierOwning(q *QNet) *Classifier { return newInt8Classifier(q, true) }

func newInt8Classifier(q *QNet, owning bool) *Classifier {
	var (
		once sync.Once
		w    *Int8Weights
	)
	return NewClassifier(q.InputSize, q.Classes, func() Runner {
		once.Do(func() { w, q = packInt8(q, owning), nil })
		if w == nil {
			panic("infer: int8 classifier: its model failed to pack")
		}
		return NewInt8Packed(w)
	})
}

func (c *Classifier) get() *slot {
	c.mu.Lock()
	if n := len(c.free); n > 0 {
		s := c.free[n-1]
		c.free = c.free[:n-1]
		c.mu.Unlock()
		return s
	}
	c.mu.Unlock()
	s := &slot{r: c.newRunner()}
	if _, ok := s.r.(rgbRunner); !ok {
		s.input = make([]float32, c.Size*c.Size*3)
	}
	return s
}

// Warm makes a runner now, if none is free, so that the first call does
// not (for the int8 engine: packs the weights and plans the buffers).
func (c *Classifier) Warm() { c.put(c.get()) }

func (c *Classifier) put(s *slot) {
	c.mu.Lock()
	c.free = append(c.free, s)
	c.mu.Unlock()
}

// ClassifyRGB returns the probabilities, in class order, for an 8-bit RGB
// image of w×h pixels (pix[(y*w+x)*3+c]).
func (c *Classifier) ClassifyRGB(pix []uint8, w, h int) ([]float32, error) {
	if w <= 0 || h <= 0 || len(pix) != w*h*3 {
		return nil, fmt.Errorf("infer: RGB image %dx%d needs %d bytes, have %d", w, h, max(w*h*3, 0), len(pix))
	}
	p, err := c.PrepareRGB(w, h, pixRows(pix, w))
	if err != nil {
		return nil, err
	}
	return p.Run()
}

// Prepared is an image preprocessed into a runner of its Classifier, which
// it holds until Run or Release.
type Prepared struct {
	c *Classifier
	s *slot
}

// PrepareRGB preprocesses a w×h RGB image now, reading it row by row from
// rows, so that it need not be held whole, and Run classifies it later:
// the wasm module reads a canvas's pixels during its classify call (the
// caller may reuse them once it returns) and runs the network afterwards.
// Run (or Release) must be called once; until then the runner is taken.
func (c *Classifier) PrepareRGB(w, h int, rows RowSource) (*Prepared, error) {
	if w <= 0 || h <= 0 {
		return nil, fmt.Errorf("infer: RGB image %dx%d", w, h)
	}
	s := c.get()
	if r, ok := s.r.(rgbRunner); ok {
		r.LoadRGB(w, h, rows)
	} else {
		preprocessRows(s.input, rows, w, h, c.Size)
	}
	return &Prepared{c: c, s: s}, nil
}

// Run classifies the prepared image and gives its runner back.
func (p *Prepared) Run() ([]float32, error) {
	if p.s == nil {
		return nil, fmt.Errorf("infer: Prepared.Run after Run or Release")
	}
	defer p.Release()
	var out []float32
	if r, ok := p.s.r.(rgbRunner); ok {
		out = r.RunLoaded()
	} else {
		out = p.s.r.Run(p.s.input)
	}
	if len(out) != len(p.c.Classes) {
		return nil, fmt.Errorf("infer: model gave %d outputs for %d classes", len(out), len(p.c.Classes))
	}
	return append([]float32(nil), out...), nil
}

// Release gives the runner back without running (when reading the image
// failed); Run and Release after it do nothing.
func (p *Prepared) Release() {
	if p.s != nil {
		p.c.put(p.s)
		p.s = nil
	}
}

// ClassifyBytes decodes an encoded image (JPEG, PNG, GIF, WebP) within the
// classifier's Limits and classifies it.
func (c *Classifier) ClassifyBytes(data []byte) ([]float32, error) {
	img, err := decode.Decode(data, c.Limits)
	if err != nil {
		return nil, err
	}
	return c.ClassifyRGB(img.Pix, img.W, img.H)
}

// TopK returns the k most probable classes, most probable first; ties keep
// class order. k <= 0 or k > len(probs) means all.
func TopK(probs []float32, classes []string, k int) []Prediction {
	p := make([]Prediction, len(probs))
	for i, v := range probs {
		p[i] = Prediction{ClassName: classes[i], Probability: v}
	}
	sort.SliceStable(p, func(i, j int) bool { return p[i].Probability > p[j].Probability })
	if k > 0 && k < len(p) {
		p = p[:k]
	}
	return p
}
