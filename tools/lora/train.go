package main

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"path/filepath"
	"strings"
	"time"

	"github.com/veil-ml/veil/internal/demoimages"
	"github.com/veil-ml/veil/internal/modelstore"
	"github.com/veil-ml/veil/pkg/infer"
	"github.com/veil-ml/veil/pkg/infer/decode"
	"github.com/veil-ml/veil/pkg/lora"
	"github.com/veil-ml/veil/pkg/lora/train"
)

const trainHelp = `usage: lora train -data DIR -out ADAPTER_DIR [-model NAME] [flags]

Trains a LoRA adapter on the model's dense head with the backbone frozen.
DIR holds one subdirectory per class, named as nsfwjs names them (Drawing,
Hentai, Neutral, Porn, Sexy), with JPEG, PNG, WebP or GIF images; classes
may be missing. A stratified, seeded part (-val) is held out for validation
and early stopping. The backbone runs once per training image and
augmentation (-variants) and once per other image.

-stem Conv_1 also adapts the last 1×1 conv (its input is cached instead of
the features; training is slower). -test and -control report on images never
trained on: before/after confusion, and agreement with the stock model.

Retention: replay images (-replay DIR, any layout, and -replay-generated N
built-in synthetic control images) keep the stock model's answers through a
KL(stock ‖ adapted) term weighted by -retention.

-search tries rank {2,4,8} × alpha {r,2r} × lr {1e-3,3e-3,1e-2} × weight
decay {0,1e-2} and keeps the best validation score (mean of validation
accuracy and replay agreement; ties to the lower validation loss).

The report (stdout) gives accuracy, per-class precision/recall and the
confusion matrix before and after, on the training and validation images,
computed with the float engine on the merged model. The adapter is written
as a PEFT directory (target modules: the head's dense layers).

Examples:
  go run ./tools/lora demo-images -out /tmp/demo
  go run ./tools/lora train -data /tmp/demo/train -out /tmp/fractal -test /tmp/demo/unseen -control /tmp/demo/control
  go run ./tools/lora train -data /tmp/demo/train -out /tmp/fractal_c1 -stem Conv_1
  go run ./tools/lora train -model mobilenet_v2 -data mine -out adapters/wood -search -replay ok_images
  go run ./tools/lora train -data mine -out a -rank 8 -alpha 16 -lr 1e-2 -targets dense_1 -json
`

type agreement struct {
	Images    int     `json:"images"`
	Agreement float64 `json:"agreement"` // adapted vs stock top-1
}

type splitReport struct {
	Images int              `json:"images"`
	Before *train.Confusion `json:"before"`
	After  *train.Confusion `json:"after"`
}

type trainReport struct {
	Model        string       `json:"model"`
	Stem         string       `json:"stem,omitempty"`
	Out          string       `json:"out"`
	Config       train.Config `json:"config"`
	BestEpoch    int          `json:"best_epoch"`
	Epochs       int          `json:"epochs"`
	ValLoss      float64      `json:"val_loss"` // -1 without validation images
	Train        splitReport  `json:"train"`
	Val          splitReport  `json:"val"`
	ReplayImages int          `json:"replay_images"`
	ReplayAgree  float64      `json:"replay_agreement"`  // adapted vs stock top-1 on all replay images; -1 without any
	Test         *splitReport `json:"test,omitempty"`    // -test images
	Control      *agreement   `json:"control,omitempty"` // -control images
	Searched     int          `json:"searched,omitempty"`
	Seconds      float64      `json:"seconds"`
}

func runTrain(args []string, stdout, stderr io.Writer) int {
	fs := newFlags("train", trainHelp, stderr)
	model := fs.String("model", "mobilenet_v2", "model name or TF.js directory")
	data := fs.String("data", "", "training images, DIR/<ClassName>/* (required)")
	out := fs.String("out", "", "output PEFT adapter directory (required)")
	name := fs.String("name", "", "adapter name (default: base name of -out)")
	c := train.DefaultConfig
	fs.IntVar(&c.Rank, "rank", c.Rank, "LoRA rank")
	fs.Float64Var(&c.Alpha, "alpha", c.Alpha, "LoRA alpha (scale = alpha/rank)")
	fs.Float64Var(&c.LR, "lr", c.LR, "AdamW learning rate")
	fs.Float64Var(&c.WeightDecay, "wd", c.WeightDecay, "AdamW weight decay")
	fs.Float64Var(&c.Dropout, "dropout", c.Dropout, "LoRA dropout")
	fs.IntVar(&c.Epochs, "epochs", c.Epochs, "maximum epochs")
	fs.IntVar(&c.MinEpochs, "min-epochs", c.MinEpochs, "epochs before early stopping may keep a model")
	fs.IntVar(&c.Patience, "patience", c.Patience, "early stopping patience in epochs (0: off)")
	fs.IntVar(&c.BatchSize, "batch", c.BatchSize, "batch size")
	fs.Float64Var(&c.Retention, "retention", c.Retention, "weight of the KL retention term on replay images")
	fs.Float64Var(&c.LabelSmooth, "label-smooth", c.LabelSmooth, "label smoothing")
	fs.Uint64Var(&c.Seed, "seed", c.Seed, "random seed (split, augmentation, init, batches)")
	targets := fs.String("targets", "", "comma-separated layers to adapt (default: all dense layers, and the -stem conv)")
	stem := fs.String("stem", "", "also adapt this 1×1 conv before the global pool (Conv_1 in the MobileNetV2 models)")
	testDir := fs.String("test", "", "labelled images never trained on, DIR/<ClassName>/*, to report before/after")
	controlDir := fs.String("control", "", "images never trained on whose stock answers should stay (report agreement)")
	variants := fs.Int("variants", 4, "feature vectors per training image: the image and N-1 augmentations")
	flip := fs.Bool("flip", train.DefaultAugment.Flip, "augment with horizontal flips")
	crop := fs.Float64("crop", train.DefaultAugment.MinCrop, "augment with random crops of at least this fraction of each side (1: none)")
	jitter := fs.Float64("jitter", train.DefaultAugment.Jitter, "augment with brightness/contrast/saturation jitter of this amount")
	valFrac := fs.Float64("val", 0.2, "fraction of each class held out for validation")
	replayDir := fs.String("replay", "", "directory of images whose stock answers must be kept (searched recursively)")
	replayGen := fs.Int("replay-generated", 36, "built-in synthetic control images to replay")
	search := fs.Bool("search", false, "grid search rank, alpha, lr and weight decay on the validation score")
	workers := fs.Int("workers", 0, "goroutines for the backbone and the search (0: all cores)")
	asJSON := fs.Bool("json", false, "print the report as JSON on stdout")
	if code, stop := parse(fs, args); stop {
		return code
	}
	if *data == "" || *out == "" || fs.NArg() != 0 {
		return fail(stderr, "train", usageErr("want -data DIR and -out ADAPTER_DIR and no other arguments"))
	}
	if *variants < 1 || *replayGen < 0 || !(*valFrac >= 0 && *valFrac < 1) {
		return fail(stderr, "train", usageErr("-variants must be ≥ 1, -replay-generated ≥ 0, -val in [0, 1)"))
	}
	if *targets != "" {
		c.Targets = strings.Split(*targets, ",")
	}
	if *name == "" {
		*name = filepath.Base(filepath.Clean(*out))
	}
	start := time.Now()

	net, err := modelstore.LoadNet(*model)
	if err != nil {
		return fail(stderr, "train", err)
	}
	ex, err := train.NewExtractor(net, *stem)
	if err != nil {
		return fail(stderr, "train", err)
	}
	ex.Workers = *workers
	examples, err := train.LoadDir(*data)
	if err != nil {
		return fail(stderr, "train", err)
	}
	paths := make([]string, len(examples))
	labels := make([]int, len(examples))
	counts := make([]int, len(infer.Classes))
	for i, e := range examples {
		paths[i], labels[i] = e.Path, e.Label
		counts[e.Label]++
	}
	var replayPaths []string
	if *replayDir != "" {
		if replayPaths, err = train.ListImages(*replayDir); err != nil {
			return fail(stderr, "train", err)
		}
	}
	gen := generatedControls(*replayGen, net.InputSize)
	nReplay := len(replayPaths) + len(gen)
	files := train.Files(replayPaths, decode.DefaultLimits)
	replay := func(i int) (*decode.RGB, error) {
		if i < len(replayPaths) {
			return files(i)
		}
		return gen[i-len(replayPaths)], nil
	}
	fmt.Fprintf(stderr, "lora train: %s, %d images (%s), %d replay images\n", net.Name, len(examples), classCounts(counts), nReplay)

	prep, err := ex.Prepare(train.Inputs{
		Labelled: train.Files(paths, decode.DefaultLimits), Labels: labels,
		Replay: replay, NReplay: nReplay,
		ValFrac: *valFrac, Variants: *variants,
		Augment: train.Augment{Flip: *flip, MinCrop: *crop, Jitter: *jitter}, Seed: c.Seed,
	}, progressBar(stderr, "backbone"))
	if err != nil {
		return fail(stderr, "train", err)
	}
	d := prep.Data
	fmt.Fprintf(stderr, "lora train: features cached (%d backbone runs, %s); %d train / %d val images, %d / %d replay\n",
		prep.BackboneRuns, time.Since(start).Round(time.Second), len(prep.TrainIdx), len(prep.ValIdx), len(d.ReplayTrain), len(d.ReplayVal))

	var res *train.Result
	searched := 0
	if *search {
		configs := train.DefaultGrid.Configs(c)
		searched = len(configs)
		results, best, err := train.Search(d, configs, *workers, func(done, total int, r *train.Result) {
			if r == nil {
				return
			}
			fmt.Fprintf(stderr, "\rlora train: search %d/%d (last: r=%d alpha=%g lr=%g wd=%g score %.3f)   ",
				done, total, r.Config.Rank, r.Config.Alpha, r.Config.LR, r.Config.WeightDecay, r.Best.Score())
		})
		fmt.Fprintln(stderr)
		if err != nil {
			return fail(stderr, "train", err)
		}
		res = results[best]
		fmt.Fprintf(stderr, "lora train: best of %d: rank %d alpha %g lr %g wd %g (validation score %.3f, loss %.4f)\n",
			len(configs), res.Config.Rank, res.Config.Alpha, res.Config.LR, res.Config.WeightDecay, res.Best.Score(), res.Best.Loss)
	} else {
		res, err = train.Fit(d, c, func(e train.Epoch) {
			if e.Epoch%10 == 0 || e.Epoch == 1 {
				fmt.Fprintf(stderr, "lora train: epoch %3d  train loss %.4f  val loss %.4f  val acc %s  replay agreement %s\n",
					e.Epoch, e.TrainLoss, e.Val.Loss, fmtFrac(e.Val.Accuracy), fmtFrac(e.Val.Agreement))
			}
		})
		if err != nil {
			return fail(stderr, "train", err)
		}
	}
	fmt.Fprintf(stderr, "lora train: kept epoch %d of %d\n", res.BestEpoch, len(res.History))

	ad := res.Model.Adapter(*name)
	ad.Metadata = map[string]string{
		"veil_base_model": net.Name,
		"veil_trained_on": fmt.Sprintf("%d images (%s)", len(examples), classCounts(counts)),
		"veil_config":     mustJSON(res.Config),
	}
	merged, err := train.MergeNet(net, []lora.Weighted{{Adapter: ad, Weight: 1}})
	if err != nil {
		return fail(stderr, "train", err)
	}
	rep := trainReport{Model: net.Name, Stem: *stem, Out: *out, Config: res.Config, BestEpoch: res.BestEpoch, Epochs: len(res.History),
		ValLoss: res.Best.Loss, ReplayImages: nReplay, Searched: searched}
	if rep.Train, err = report(merged, ex.Tail, prep.TrainOrig); err != nil {
		return fail(stderr, "train", err)
	}
	if rep.Val, err = report(merged, ex.Tail, d.Val); err != nil {
		return fail(stderr, "train", err)
	}
	if *testDir != "" {
		tex, err := train.LoadDir(*testDir)
		if err != nil {
			return fail(stderr, "train", err)
		}
		tp, tl := make([]string, len(tex)), make([]int, len(tex))
		for i, e := range tex {
			tp[i], tl[i] = e.Path, e.Label
		}
		f, err := ex.Features(train.Files(tp, decode.DefaultLimits), len(tp), 1, train.Augment{}, 0, progressBar(stderr, "test images"))
		if err != nil {
			return fail(stderr, "train", err)
		}
		r, err := report(merged, ex.Tail, train.NewSamples(ex.Tail, f, tl))
		if err != nil {
			return fail(stderr, "train", err)
		}
		rep.Test = &r
	}
	if *controlDir != "" {
		cp, err := train.ListImages(*controlDir)
		if err != nil {
			return fail(stderr, "train", err)
		}
		f, err := ex.Features(train.Files(cp, decode.DefaultLimits), len(cp), 1, train.Augment{}, 0, progressBar(stderr, "control images"))
		if err != nil {
			return fail(stderr, "train", err)
		}
		cs := train.NewSamples(ex.Tail, f, nil)
		after, err := train.Predict(merged, ex.Tail, cs)
		if err != nil {
			return fail(stderr, "train", err)
		}
		rep.Control = &agreement{Images: len(cs), Agreement: train.Agreement(after, train.StockTop1(cs))}
	}
	allReplay := append(append([]train.Sample(nil), d.ReplayTrain...), d.ReplayVal...)
	pr, err := train.Predict(merged, ex.Tail, allReplay)
	if err != nil {
		return fail(stderr, "train", err)
	}
	rep.ReplayAgree = math.NaN()
	if len(allReplay) > 0 {
		rep.ReplayAgree = train.Agreement(pr, train.StockTop1(allReplay))
	}
	if err := lora.WritePEFT(*out, ad); err != nil {
		return fail(stderr, "train", err)
	}
	rep.Seconds = time.Since(start).Seconds()
	fmt.Fprintf(stderr, "lora train: wrote %s in %s\n", *out, time.Since(start).Round(time.Second))

	if *asJSON {
		for _, v := range []*float64{&rep.ReplayAgree, &rep.ValLoss} {
			if math.IsNaN(*v) {
				*v = -1
			}
		}
		if err := json.NewEncoder(stdout).Encode(rep); err != nil {
			return fail(stderr, "train", err)
		}
		return 0
	}
	fmt.Fprintf(stdout, "%s: adapter %s, rank %d, alpha %g, lr %g, weight decay %g, epoch %d of %d\n\n",
		net.Name, *out, res.Config.Rank, res.Config.Alpha, res.Config.LR, res.Config.WeightDecay, res.BestEpoch, len(res.History))
	for _, s := range []struct {
		name string
		r    splitReport
	}{{"training images", rep.Train}, {"validation images", rep.Val}, {"test images", derefSplit(rep.Test)}} {
		if s.r.Images == 0 {
			continue
		}
		fmt.Fprintf(stdout, "%s, stock model: %s\n", s.name, s.r.Before)
		fmt.Fprintf(stdout, "%s, adapted model: %s\n", s.name, s.r.After)
	}
	if len(allReplay) > 0 {
		fmt.Fprintf(stdout, "replay images: top-1 agreement with the stock model %s (%d images)\n", fmtFrac(rep.ReplayAgree), len(allReplay))
	}
	if rep.Control != nil {
		fmt.Fprintf(stdout, "control images: top-1 agreement with the stock model %s (%d images)\n", fmtFrac(rep.Control.Agreement), rep.Control.Images)
	}
	return 0
}

func derefSplit(r *splitReport) splitReport {
	if r == nil {
		return splitReport{}
	}
	return *r
}

// report computes confusion matrices of the stock and merged models.
func report(merged *infer.Net, tail train.Tail, samples []train.Sample) (splitReport, error) {
	r := splitReport{Images: len(samples)}
	after, err := train.Predict(merged, tail, samples)
	if err != nil {
		return r, err
	}
	labels := train.Labels(samples)
	r.Before = train.NewConfusion(infer.Classes, labels, train.StockTop1(samples))
	r.After = train.NewConfusion(infer.Classes, labels, after)
	return r, nil
}

// generatedControls returns n synthetic control images, cycling through the
// control families, at the model's input size.
func generatedControls(n, size int) []*decode.RGB {
	out := make([]*decode.RGB, n)
	fams := demoimages.Controls
	for i := range out {
		out[i] = fams[i%len(fams)].Generate(uint64(10000+i/len(fams)), size)
	}
	return out
}

func classCounts(counts []int) string {
	var parts []string
	for i, n := range counts {
		if n > 0 {
			parts = append(parts, fmt.Sprintf("%s %d", infer.Classes[i], n))
		}
	}
	return strings.Join(parts, ", ")
}

func fmtFrac(v float64) string {
	if math.IsNaN(v) || v < 0 {
		return "-"
	}
	return fmt.Sprintf("%.1f%%", 100*v)
}

func mustJSON(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return string(b)
}

// progressBar returns a progress callback that redraws one stderr line.
func progressBar(w io.Writer, what string) func(done, total int) {
	start := time.Now()
	return func(done, total int) {
		el := time.Since(start)
		eta := time.Duration(float64(el) / float64(done) * float64(total-done))
		fmt.Fprintf(w, "\rlora train: %s %d/%d  %s elapsed, ~%s left   ", what, done, total, el.Round(time.Second), eta.Round(time.Second))
		if done == total {
			fmt.Fprintln(w)
		}
	}
}
