package train

import (
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"slices"
	"sync"
)

// Sample is one cached backbone output with what the adapted tail should answer.
type Sample struct {
	Features []float32 // the tail's input: head input [In], or stem input [Pixels, In]
	Label    int       // class index; -1 for a replay sample
	Base     []float64 // the stock model's probabilities (the replay target)
	z0       []float64 // without a stem: the first head layer's h·W + b, cached
	zc       []float32 // with a stem: its conv's X·W + b, cached
}

// Data is what Fit learns from: labelled samples (Train, Val) and replay
// samples (ReplayTrain, ReplayVal) whose stock answers are to be kept.
type Data struct {
	Tail                   Tail
	Train, Val             []Sample
	ReplayTrain, ReplayVal []Sample
}

// NewSamples makes samples from backbone outputs and labels (nil labels:
// replay samples, Label −1), fills in the caches and the stock answers.
func NewSamples(tail Tail, feats [][]float32, labels []int) []Sample {
	base := stockModel(tail)
	p := base.newPass()
	out := make([]Sample, len(feats))
	for i, f := range feats {
		s := Sample{Features: f, Label: -1}
		if labels != nil {
			s.Label = labels[i]
		}
		if tail.Stem != nil {
			s.zc = tail.Stem.convOut(f)
		}
		s.Base = slices.Clone(base.forward(p, &s, 0, nil))
		if tail.Stem == nil {
			s.z0 = slices.Clone(p.z[0])
		}
		out[i] = s
	}
	return out
}

// stockModel is the tail without adapters.
func stockModel(tail Tail) *Model {
	m, err := NewModel(tail, nil, 1, 1, rand.New(rand.NewPCG(0, 0)))
	if err != nil {
		panic(err.Error())
	}
	if m.Stem != nil {
		m.Stem.Rank = 0
	}
	for i := range m.Layers {
		m.Layers[i].Rank = 0
	}
	return m
}

// Config holds the hyperparameters of one training run.
type Config struct {
	Targets     []string `json:"targets,omitempty"` // layers to adapt; empty: all head layers (and the stem)
	Rank        int      `json:"rank"`
	Alpha       float64  `json:"alpha"`
	LR          float64  `json:"lr"`           // AdamW learning rate
	WeightDecay float64  `json:"weight_decay"` // AdamW decoupled weight decay
	Dropout     float64  `json:"dropout"`      // LoRA dropout on the dense layers, in [0, 1)
	Epochs      int      `json:"epochs"`       // maximum epochs
	MinEpochs   int      `json:"min_epochs"`   // epochs trained before a model may be kept or training stopped
	Patience    int      `json:"patience"`     // then stop after this many epochs without a better validation loss; 0: never
	BatchSize   int      `json:"batch_size"`
	Retention   float64  `json:"retention"`    // weight of KL(stock ‖ adapted) on replay samples
	LabelSmooth float64  `json:"label_smooth"` // cross-entropy target: 1−ε on the label, ε/(K−1) elsewhere
	Seed        uint64   `json:"seed"`
}

// DefaultConfig is a reasonable starting point for a few dozen images.
var DefaultConfig = Config{Rank: 4, Alpha: 8, LR: 3e-3, WeightDecay: 1e-2, Dropout: 0.1,
	Epochs: 200, MinEpochs: 10, Patience: 25, BatchSize: 16, Retention: 1, Seed: 1}

func (c Config) validate() error {
	switch {
	case c.Rank < 1:
		return fmt.Errorf("train: rank %d must be at least 1", c.Rank)
	case !(c.Alpha > 0) || math.IsInf(c.Alpha, 0):
		return fmt.Errorf("train: alpha %g must be positive", c.Alpha)
	case !(c.LR > 0) || math.IsInf(c.LR, 0):
		return fmt.Errorf("train: learning rate %g must be positive", c.LR)
	case !(c.WeightDecay >= 0) || math.IsInf(c.WeightDecay, 0):
		return fmt.Errorf("train: weight decay %g must be non-negative", c.WeightDecay)
	case !(c.Dropout >= 0 && c.Dropout < 1):
		return fmt.Errorf("train: dropout %g must be in [0, 1)", c.Dropout)
	case c.Epochs < 1:
		return fmt.Errorf("train: epochs %d must be at least 1", c.Epochs)
	case c.BatchSize < 1:
		return fmt.Errorf("train: batch size %d must be at least 1", c.BatchSize)
	case c.Patience < 0:
		return fmt.Errorf("train: patience %d must be non-negative", c.Patience)
	case c.MinEpochs < 0 || c.MinEpochs > c.Epochs:
		return fmt.Errorf("train: minimum epochs %d must be in [0, epochs %d]", c.MinEpochs, c.Epochs)
	case !(c.Retention >= 0) || math.IsInf(c.Retention, 0):
		return fmt.Errorf("train: retention %g must be non-negative", c.Retention)
	case !(c.LabelSmooth >= 0 && c.LabelSmooth < 1):
		return fmt.Errorf("train: label smoothing %g must be in [0, 1)", c.LabelSmooth)
	}
	return nil
}

// Epoch reports one epoch of training.
type Epoch struct {
	Epoch     int
	TrainLoss float64
	Val       Eval // all NaN without validation samples
}

// Eval scores a model on the validation samples.
type Eval struct {
	Loss      float64 // mean cross entropy + Retention·mean KL
	Accuracy  float64 // top-1 on labelled samples (NaN if none)
	Agreement float64 // top-1 agreement with the stock head on replay samples (NaN if none)
}

// Score is the validation score Search maximises: the mean of Accuracy and
// Agreement (whichever exist), so keeping old answers counts as much as
// fixing new ones.
func (e Eval) Score() float64 {
	s, n := 0.0, 0
	for _, v := range []float64{e.Accuracy, e.Agreement} {
		if !math.IsNaN(v) {
			s += v
			n++
		}
	}
	if n == 0 {
		return math.NaN()
	}
	return s / float64(n)
}

// Result is a trained model and how it got there.
type Result struct {
	Config    Config
	Model     *Model
	BestEpoch int  // epoch whose model is kept (1-based)
	Best      Eval // its validation scores
	History   []Epoch
}

// Fit trains LoRA factors on d.Head with cfg. Each epoch goes through the
// labelled training samples in a shuffled order, in batches; each batch also
// takes the next BatchSize replay samples (cycling). From epoch MinEpochs
// on, the model of the epoch with the lowest validation loss is kept (the
// last one without validation samples): a few dozen replay images are too
// few for the validation KL of the first, largest steps to mean much.
// progress, if not nil, is called after each epoch.
func Fit(d *Data, cfg Config, progress func(Epoch)) (*Result, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	if len(d.Train) == 0 {
		return nil, fmt.Errorf("train: no labelled training samples")
	}
	rng := rand.New(rand.NewPCG(cfg.Seed, 0x6c6f7261))
	m, err := NewModel(d.Tail, cfg.Targets, cfg.Rank, cfg.Alpha, rng)
	if err != nil {
		return nil, err
	}
	opt := newAdamW(m, cfg.LR, cfg.WeightDecay)
	p := m.newPass()
	nc := m.Layers[len(m.Layers)-1].Out
	target := make([]float64, nc)
	order := make([]int, len(d.Train))
	for i := range order {
		order[i] = i
	}
	replay := make([]int, len(d.ReplayTrain))
	for i := range replay {
		replay[i] = i
	}
	rng.Shuffle(len(replay), func(i, j int) { replay[i], replay[j] = replay[j], replay[i] })
	ri := 0
	res := &Result{Config: cfg, Model: m.Clone(), Best: Eval{Loss: math.Inf(1)}}
	haveVal := len(d.Val)+len(d.ReplayVal) > 0
	sinceBest := 0
	for ep := 1; ep <= cfg.Epochs; ep++ {
		rng.Shuffle(len(order), func(i, j int) { order[i], order[j] = order[j], order[i] })
		total, count := 0.0, 0
		for start := 0; start < len(order); start += cfg.BatchSize {
			batch := order[start:min(start+cfg.BatchSize, len(order))]
			p.zeroGrad()
			w := 1 / float64(len(batch))
			for _, i := range batch {
				s := &d.Train[i]
				probs := m.forward(p, s, cfg.Dropout, rng)
				labelTarget(target, s.Label, cfg.LabelSmooth)
				total += crossEntropy(target, probs)
				count++
				m.backward(p, s, target, w)
			}
			if len(replay) > 0 && cfg.Retention > 0 {
				n := min(cfg.BatchSize, len(replay))
				w := cfg.Retention / float64(n)
				for k := 0; k < n; k++ {
					s := &d.ReplayTrain[replay[ri]]
					if ri++; ri == len(replay) {
						ri = 0
						rng.Shuffle(len(replay), func(i, j int) { replay[i], replay[j] = replay[j], replay[i] })
					}
					probs := m.forward(p, s, cfg.Dropout, rng)
					total += cfg.Retention * float64(len(batch)) / float64(n) * kl(s.Base, probs)
					m.backward(p, s, s.Base, w)
				}
			}
			opt.step(m, p.grad)
		}
		e := Epoch{Epoch: ep, TrainLoss: total / float64(count), Val: Eval{Loss: math.NaN(), Accuracy: math.NaN(), Agreement: math.NaN()}}
		if haveVal {
			e.Val = Evaluate(m, d.Val, d.ReplayVal, cfg.Retention)
		}
		res.History = append(res.History, e)
		if progress != nil {
			progress(e)
		}
		if ep < cfg.MinEpochs {
			continue
		}
		if !haveVal || e.Val.Loss < res.Best.Loss {
			res.Model, res.BestEpoch, res.Best, sinceBest = m.Clone(), ep, e.Val, 0
		} else if sinceBest++; cfg.Patience > 0 && sinceBest >= cfg.Patience {
			break
		}
	}
	return res, nil
}

// Evaluate scores m on labelled and replay samples (see Eval).
func Evaluate(m *Model, labelled, replay []Sample, retention float64) Eval {
	p := m.newPass()
	nc := m.Layers[len(m.Layers)-1].Out
	target := make([]float64, nc)
	e := Eval{Accuracy: math.NaN(), Agreement: math.NaN()}
	if len(labelled) > 0 {
		ce, right := 0.0, 0
		for i := range labelled {
			s := &labelled[i]
			probs := m.forward(p, s, 0, nil)
			labelTarget(target, s.Label, 0)
			ce += crossEntropy(target, probs)
			if argmax(probs) == s.Label {
				right++
			}
		}
		e.Loss += ce / float64(len(labelled))
		e.Accuracy = float64(right) / float64(len(labelled))
	}
	if len(replay) > 0 {
		d, same := 0.0, 0
		for i := range replay {
			s := &replay[i]
			probs := m.forward(p, s, 0, nil)
			d += kl(s.Base, probs)
			if argmax(probs) == argmax(s.Base) {
				same++
			}
		}
		e.Loss += retention * d / float64(len(replay))
		e.Agreement = float64(same) / float64(len(replay))
	}
	return e
}

// Grid is a hyperparameter search space; Search tries every combination.
// Alpha is given as multiples of the rank (alpha = AlphaPerRank·rank).
type Grid struct {
	Ranks        []int
	AlphaPerRank []float64
	LRs          []float64
	WeightDecays []float64
}

// DefaultGrid is rank {2,4,8} × alpha {r, 2r} × lr {1e-3, 3e-3, 1e-2} × wd {0, 1e-2}.
var DefaultGrid = Grid{Ranks: []int{2, 4, 8}, AlphaPerRank: []float64{1, 2}, LRs: []float64{1e-3, 3e-3, 1e-2}, WeightDecays: []float64{0, 1e-2}}

// Configs lists the grid's configurations, each base with its fields replaced.
func (g Grid) Configs(base Config) []Config {
	var cs []Config
	for _, r := range g.Ranks {
		for _, a := range g.AlphaPerRank {
			for _, lr := range g.LRs {
				for _, wd := range g.WeightDecays {
					c := base
					c.Rank, c.Alpha, c.LR, c.WeightDecay = r, a*float64(r), lr, wd
					cs = append(cs, c)
				}
			}
		}
	}
	return cs
}

// Search fits every configuration (in parallel, workers goroutines, 0 means
// GOMAXPROCS) and returns all results in configs order and the index of the
// best: the highest validation Score, ties to the lower validation loss, then
// to the earlier config. It needs validation samples.
func Search(d *Data, configs []Config, workers int, progress func(done, total int, r *Result)) ([]*Result, int, error) {
	if len(d.Val)+len(d.ReplayVal) == 0 {
		return nil, -1, fmt.Errorf("train: search needs validation samples")
	}
	if len(configs) == 0 {
		return nil, -1, fmt.Errorf("train: search: no configurations")
	}
	for _, c := range configs {
		if err := c.validate(); err != nil {
			return nil, -1, err
		}
	}
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	results := make([]*Result, len(configs))
	errs := make([]error, len(configs))
	jobs := make(chan int)
	var mu sync.Mutex
	done := 0
	var wg sync.WaitGroup
	for w := 0; w < min(workers, len(configs)); w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range jobs {
				results[i], errs[i] = Fit(d, configs[i], nil)
				mu.Lock()
				done++
				if progress != nil {
					progress(done, len(configs), results[i])
				}
				mu.Unlock()
			}
		}()
	}
	for i := range configs {
		jobs <- i
	}
	close(jobs)
	wg.Wait()
	best := -1
	for i, r := range results {
		if errs[i] != nil {
			return nil, -1, errs[i]
		}
		if best < 0 || better(r.Best, results[best].Best) {
			best = i
		}
	}
	return results, best, nil
}

// better reports whether a beats b: higher score, then lower loss.
func better(a, b Eval) bool {
	sa, sb := a.Score(), b.Score()
	if sa != sb {
		return sa > sb
	}
	return a.Loss < b.Loss
}

// labelTarget writes the (smoothed) one-hot target of label into t.
func labelTarget(t []float64, label int, eps float64) {
	off := 0.0
	if len(t) > 1 {
		off = eps / float64(len(t)-1)
	}
	for i := range t {
		t[i] = off
	}
	t[label] = 1 - eps
}

// crossEntropy is −Σ t·log p, with p floored to avoid log 0.
func crossEntropy(t, p []float64) float64 {
	s := 0.0
	for i, v := range t {
		if v > 0 {
			s -= v * math.Log(math.Max(p[i], 1e-300))
		}
	}
	return s
}

// kl is KL(t ‖ p) = Σ t·log(t/p).
func kl(t, p []float64) float64 {
	s := 0.0
	for i, v := range t {
		if v > 0 {
			s += v * (math.Log(v) - math.Log(math.Max(p[i], 1e-300)))
		}
	}
	return s
}

func argmax[T float32 | float64](p []T) int {
	best := 0
	for i, v := range p {
		if v > p[best] {
			best = i
		}
	}
	return best
}

// adamW is Adam with decoupled weight decay (Loshchilov & Hutter), as PyTorch's
// AdamW: θ ← θ − lr·(m̂/(√v̂ + ε) + wd·θ).
type adamW struct {
	lr, wd, b1, b2, eps float64
	t                   int
	m, v                *Model // moments, shaped like the factors
}

func newAdamW(m *Model, lr, wd float64) *adamW {
	o := &adamW{lr: lr, wd: wd, b1: 0.9, b2: 0.999, eps: 1e-8, m: m.Clone(), v: m.Clone()}
	for _, z := range []*Model{o.m, o.v} {
		if z.Stem != nil {
			clear(z.Stem.A)
			clear(z.Stem.B)
		}
		for i := range z.Layers {
			clear(z.Layers[i].A)
			clear(z.Layers[i].B)
		}
	}
	return o
}

func (o *adamW) step(m, grad *Model) {
	o.t++
	c1 := 1 - math.Pow(o.b1, float64(o.t))
	c2 := 1 - math.Pow(o.b2, float64(o.t))
	upd := func(theta, g, mm, vv []float64) {
		for i := range theta {
			mm[i] = o.b1*mm[i] + (1-o.b1)*g[i]
			vv[i] = o.b2*vv[i] + (1-o.b2)*g[i]*g[i]
			theta[i] -= o.lr * (mm[i]/c1/(math.Sqrt(vv[i]/c2)+o.eps) + o.wd*theta[i])
		}
	}
	if m.Stem != nil && m.Stem.Rank > 0 {
		upd(m.Stem.A, grad.Stem.A, o.m.Stem.A, o.v.Stem.A)
		upd(m.Stem.B, grad.Stem.B, o.m.Stem.B, o.v.Stem.B)
	}
	for i := range m.Layers {
		l := &m.Layers[i]
		if l.Rank == 0 {
			continue
		}
		upd(l.A, grad.Layers[i].A, o.m.Layers[i].A, o.v.Layers[i].A)
		upd(l.B, grad.Layers[i].B, o.m.Layers[i].B, o.v.Layers[i].B)
	}
}
