package train

import (
	"fmt"

	"github.com/veil-ml/veil/pkg/infer"
	"github.com/veil-ml/veil/pkg/infer/decode"
)

// Inputs are the images a training run learns from.
type Inputs struct {
	Labelled Source // labelled images
	Labels   []int  // their classes; len is the number of labelled images
	Replay   Source // images whose stock answers are to be kept (may be nil)
	NReplay  int

	ValFrac  float64 // fraction of each class (and of the replay images) held out for validation
	Variants int     // feature vectors per training image: the image and Variants−1 augmentations
	Augment  Augment
	Seed     uint64
}

// Prepared is the cached features of a training run, split.
type Prepared struct {
	Data              *Data
	TrainOrig         []Sample // variant 0 of each training image (for reports)
	TrainIdx, ValIdx  []int    // labelled image indices in each split
	ReplayTrainIdx    []int
	ReplayValIdx      []int
	BackboneRuns      int
	TrainImageClasses []int // label of each training image, in TrainIdx order
}

// Prepare splits the images (Split, seeded), runs the backbone over them
// (training images Variants times, the rest once) and builds the samples.
// progress, if not nil, reports backbone runs.
func (e *Extractor) Prepare(in Inputs, progress func(done, total int)) (*Prepared, error) {
	if len(in.Labels) == 0 {
		return nil, fmt.Errorf("train: no labelled images")
	}
	if in.Variants < 1 {
		return nil, fmt.Errorf("train: %d variants per image: want at least 1", in.Variants)
	}
	for i, l := range in.Labels {
		if l < 0 || l >= len(e.Net.Classes) {
			return nil, fmt.Errorf("train: image %d has label %d, model has %d classes", i, l, len(e.Net.Classes))
		}
	}
	p := &Prepared{}
	p.TrainIdx, p.ValIdx = Split(in.Labels, in.ValFrac, in.Seed)
	if in.NReplay > 0 {
		p.ReplayTrainIdx, p.ReplayValIdx = Split(make([]int, in.NReplay), in.ValFrac, in.Seed+1)
	}
	total := len(p.TrainIdx)*in.Variants + len(p.ValIdx) + in.NReplay
	done := 0
	step := func(int, int) {
		done++
		if progress != nil {
			progress(done, total)
		}
	}
	sub := func(src Source, idx []int) Source {
		return func(i int) (*decode.RGB, error) { return src(idx[i]) }
	}
	labelsOf := func(idx []int, variants int) []int {
		var ls []int
		for _, i := range idx {
			for v := 0; v < variants; v++ {
				ls = append(ls, in.Labels[i])
			}
		}
		return ls
	}
	d := &Data{Tail: e.Tail}
	ft, err := e.Features(sub(in.Labelled, p.TrainIdx), len(p.TrainIdx), in.Variants, in.Augment, in.Seed, step)
	if err != nil {
		return nil, err
	}
	d.Train = NewSamples(e.Tail, ft, labelsOf(p.TrainIdx, in.Variants))
	for i := range p.TrainIdx {
		p.TrainOrig = append(p.TrainOrig, d.Train[i*in.Variants])
	}
	fv, err := e.Features(sub(in.Labelled, p.ValIdx), len(p.ValIdx), 1, Augment{}, in.Seed, step)
	if err != nil {
		return nil, err
	}
	d.Val = NewSamples(e.Tail, fv, labelsOf(p.ValIdx, 1))
	if in.NReplay > 0 {
		fr, err := e.Features(in.Replay, in.NReplay, 1, Augment{}, in.Seed, step)
		if err != nil {
			return nil, err
		}
		all := NewSamples(e.Tail, fr, nil)
		for _, i := range p.ReplayTrainIdx {
			d.ReplayTrain = append(d.ReplayTrain, all[i])
		}
		for _, i := range p.ReplayValIdx {
			d.ReplayVal = append(d.ReplayVal, all[i])
		}
	}
	p.Data = d
	p.BackboneRuns = total
	p.TrainImageClasses = labelsOf(p.TrainIdx, 1)
	return p, nil
}

// Predict returns the top-1 class of each sample as the float engine answers
// with net from the tail's input on (net may be a merged copy: the backbone
// is the same).
func Predict(net *infer.Net, tail Tail, samples []Sample) ([]int, error) {
	tn, err := tail.Net(net)
	if err != nil {
		return nil, err
	}
	f := infer.NewFloat(tn)
	out := make([]int, len(samples))
	for i := range samples {
		out[i] = argmax(f.Run(samples[i].Features))
	}
	return out, nil
}

// Labels returns the labels of samples.
func Labels(samples []Sample) []int {
	out := make([]int, len(samples))
	for i := range samples {
		out[i] = samples[i].Label
	}
	return out
}

// StockTop1 returns the stock head's top-1 class of each sample.
func StockTop1(samples []Sample) []int {
	out := make([]int, len(samples))
	for i := range samples {
		out[i] = argmax(samples[i].Base)
	}
	return out
}

// Agreement is the fraction of equal entries of a and b.
func Agreement(a, b []int) float64 {
	if len(a) != len(b) {
		panic(fmt.Sprintf("train: Agreement: lengths %d and %d", len(a), len(b)))
	}
	same := 0
	for i := range a {
		if a[i] == b[i] {
			same++
		}
	}
	return ratio(same, len(a))
}
