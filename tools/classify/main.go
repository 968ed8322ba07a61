// Command classify runs veil's NSFW classifier on image files.
//
//	go run ./tools/classify -model NAME_OR_PATH [-float] [-json] FILE...
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"runtime"
	"strings"

	"github.com/veil-ml/veil/internal/modelstore"
	"github.com/veil-ml/veil/pkg/infer"
)

const usage = `usage: classify [-model NAME_OR_PATH] [-float] [-json] [-top K] FILE...

Classifies images (JPEG, PNG, GIF, WebP) into Drawing, Hentai, Neutral, Porn
and Sexy, entirely on this machine.

NAME is mobilenet_v2 (default), mobilenet_v2_mid or inception_v3. Without
-float the int8 model models/NAME.veil is used (or a .veil PATH); with -float
the float32 engine runs the TF.js model in models/tfjs/NAME (or a directory
PATH holding model.json). ` + "`make models`" + ` prepares both.

With -json, each file gives one line on stdout:
  {"file":"a.png","predictions":[{"className":"Neutral","probability":0.93},...]}
or {"file":"b.txt","error":"..."}. The exit status is 1 if any file failed,
2 for bad usage.

Examples:
  go run ./tools/classify photo.jpg
  go run ./tools/classify -model inception_v3 -json *.png
  go run ./tools/classify -float -model mobilenet_v2_mid img.webp

Flags:
`

type result struct {
	File        string             `json:"file"`
	Predictions []infer.Prediction `json:"predictions,omitempty"`
	Error       string             `json:"error,omitempty"`
}

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("classify", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, usage); fs.PrintDefaults() }
	model := fs.String("model", "mobilenet_v2", "model name or path")
	float := fs.Bool("float", false, "run the float32 engine on the TF.js model")
	asJSON := fs.Bool("json", false, "one JSON object per file on stdout")
	top := fs.Int("top", 0, "print only the K most probable classes (0: all)")
	if err := fs.Parse(args); err != nil {
		if err == flag.ErrHelp {
			return 0
		}
		return 2
	}
	files := fs.Args()
	if len(files) == 0 {
		fmt.Fprintln(stderr, "classify: no image files given")
		fs.Usage()
		return 2
	}

	c, err := load(*model, *float)
	if err != nil {
		fmt.Fprintf(stderr, "classify: %v\n", err)
		return 1
	}

	// Workers classify in parallel; results print in input order, each as
	// soon as it and those before it are done.
	results := make([]result, len(files))
	done := make([]chan struct{}, len(files))
	for i := range done {
		done[i] = make(chan struct{})
	}
	next := make(chan int, len(files))
	for i := range files {
		next <- i
	}
	close(next)
	for w := 0; w < min(runtime.GOMAXPROCS(0), len(files)); w++ {
		go func() {
			for i := range next {
				results[i] = classifyFile(c, files[i], *top)
				close(done[i])
			}
		}()
	}

	status := 0
	enc := json.NewEncoder(stdout)
	for i := range results {
		<-done[i]
		r := results[i]
		if r.Error != "" {
			status = 1
		}
		if *asJSON {
			if err := enc.Encode(r); err != nil {
				fmt.Fprintf(stderr, "classify: %v\n", err)
				return 1
			}
			continue
		}
		if r.Error != "" {
			fmt.Fprintf(stderr, "%s: %s\n", r.File, r.Error)
			continue
		}
		var parts []string
		for _, p := range r.Predictions {
			parts = append(parts, fmt.Sprintf("%s %.4f", p.ClassName, p.Probability))
		}
		fmt.Fprintf(stdout, "%s: %s\n", r.File, strings.Join(parts, ", "))
	}
	return status
}

func classifyFile(c *infer.Classifier, file string, top int) result {
	data, err := os.ReadFile(file)
	if err != nil {
		return result{File: file, Error: err.Error()}
	}
	probs, err := c.ClassifyBytes(data)
	if err != nil {
		return result{File: file, Error: err.Error()}
	}
	return result{File: file, Predictions: infer.TopK(probs, c.Classes, top)}
}

func load(model string, float bool) (*infer.Classifier, error) {
	if float {
		net, err := modelstore.LoadNet(model)
		if err != nil {
			return nil, err
		}
		return infer.NewFloatClassifier(net), nil
	}
	return modelstore.LoadClassifier(model)
}
