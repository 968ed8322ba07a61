// Command classify runs veil's NSFW classifier on image files.
//
//	go run ./tools/classify -model NAME_OR_PATH [-float] [-json] [-r] [-o FILE] FILE_OR_DIR...
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"strings"

	"github.com/veil-ml/veil/internal/modelstore"
	"github.com/veil-ml/veil/pkg/infer"
)

const usage = `usage: classify [-model NAME_OR_PATH] [-float] [-json] [-top K] [-r] [-o FILE] FILE_OR_DIR...

Classifies images (JPEG, PNG, GIF, WebP) into Drawing, Hentai, Neutral, Porn
and Sexy, entirely on this machine.

NAME is mobilenet_v2 (default), mobilenet_v2_mid or inception_v3. Without
-float the int8 model models/NAME.veil is used (or a .veil PATH); with -float
the float32 engine runs the TF.js model in models/tfjs/NAME (or a directory
PATH holding model.json). ` + "`make models`" + ` prepares both.

With -json, each file gives one line on stdout:
  {"file":"a.png","predictions":[{"className":"Neutral","probability":0.93},...]}
or {"file":"b.txt","error":"..."}. A file that fails is also reported on
stderr as "FILE: reason", and classify goes on with the next one.

With -r, a directory argument is walked and every image file in it (by
extension: .jpg .jpeg .jpe .jfif .png .gif .webp) is classified, in path
order. With -o FILE the results go to FILE instead of stdout; FILE appears
only when the run completes, so an interrupted run (Ctrl-C) leaves no partial
file. Ctrl-C stops at once with exit status 130.

The exit status is 0 if every file was classified, 1 if any failed, 2 for
bad usage, 130 when interrupted.

Examples:
  go run ./tools/classify photo.jpg
  go run ./tools/classify -model inception_v3 -json *.png
  go run ./tools/classify -float -model mobilenet_v2_mid img.webp
  go run ./tools/classify -r -json -o results.jsonl ~/Pictures

Flags:
`

type result struct {
	File        string             `json:"file"`
	Predictions []infer.Prediction `json:"predictions,omitempty"`
	Error       string             `json:"error,omitempty"`
}

// exitInterrupted is the shell's status for a process ended by SIGINT.
const exitInterrupted = 130

func main() {
	// The handler stays for the whole run: a second Ctrl-C must not kill the
	// process before it has removed its temporary output file.
	ctx, _ := signal.NotifyContext(context.Background(), os.Interrupt)
	os.Exit(run(ctx, os.Args[1:], os.Stdout, os.Stderr))
}

// run is the command; ctx is cancelled by Ctrl-C.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("classify", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, usage); fs.PrintDefaults() }
	model := fs.String("model", "mobilenet_v2", "model name or path")
	float := fs.Bool("float", false, "run the float32 engine on the TF.js model")
	asJSON := fs.Bool("json", false, "one JSON object per file on stdout")
	top := fs.Int("top", 0, "print only the K most probable classes (0: all)")
	recurse := fs.Bool("r", false, "classify every image file under directory arguments")
	outFile := fs.String("o", "", "write the results to `FILE` (complete or not at all) instead of stdout")
	if err := fs.Parse(args); err != nil {
		if err == flag.ErrHelp {
			return 0
		}
		return 2
	}
	if fs.NArg() == 0 {
		fmt.Fprintln(stderr, "classify: no image files given")
		fs.Usage()
		return 2
	}
	interrupted := func() int {
		fmt.Fprintln(stderr, "classify: interrupted")
		return exitInterrupted
	}

	files, walkErrs := inputs(ctx, fs.Args(), *recurse)
	if ctx.Err() != nil {
		return interrupted()
	}
	c, err := load(*model, *float)
	if err != nil {
		fmt.Fprintf(stderr, "classify: %v\n", err)
		return 1
	}

	out := stdout
	var tmp *os.File
	if *outFile != "" {
		// Written beside the destination and renamed at the end, so FILE
		// is either absent or complete.
		tmp, err = os.CreateTemp(filepath.Dir(*outFile), "."+filepath.Base(*outFile)+".tmp-*")
		if err != nil {
			fmt.Fprintf(stderr, "classify: %v\n", err)
			return 1
		}
		defer func() {
			if tmp != nil {
				tmp.Close()
				os.Remove(tmp.Name())
			}
		}()
		out = tmp
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
				if ctx.Err() != nil {
					return
				}
				results[i] = files[i].classify(c, *top)
				close(done[i])
			}
		}()
	}

	status := 0
	for _, e := range walkErrs {
		fmt.Fprintf(stderr, "%s: %v\n", e.path, e.err)
		status = 1
	}
	enc := json.NewEncoder(out)
	for i := range results {
		if ctx.Err() != nil {
			return interrupted()
		}
		select {
		case <-done[i]:
		case <-ctx.Done():
			return interrupted()
		}
		r := results[i]
		if r.Error != "" {
			status = 1
			fmt.Fprintf(stderr, "%s: %s\n", r.File, r.Error)
		}
		if *asJSON {
			if err := enc.Encode(r); err != nil {
				fmt.Fprintf(stderr, "classify: %v\n", err)
				return 1
			}
			continue
		}
		if r.Error != "" {
			continue
		}
		var parts []string
		for _, p := range r.Predictions {
			parts = append(parts, fmt.Sprintf("%s %.4f", p.ClassName, p.Probability))
		}
		if _, err := fmt.Fprintf(out, "%s: %s\n", r.File, strings.Join(parts, ", ")); err != nil {
			fmt.Fprintf(stderr, "classify: %v\n", err)
			return 1
		}
	}
	if tmp != nil {
		if err := finish(tmp, *outFile); err != nil {
			fmt.Fprintf(stderr, "classify: %v\n", err)
			return 1
		}
		tmp = nil
	}
	return status
}

// finish makes the temporary output file tmp the complete file name.
func finish(tmp *os.File, name string) error {
	if err := tmp.Chmod(0o644); err != nil {
		return err
	}
	if err := tmp.Sync(); err != nil {
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp.Name(), name); err != nil {
		os.Remove(tmp.Name())
		return err
	}
	return nil
}

// input is one file to classify, or an argument that cannot be one.
type input struct {
	path string
	err  error // why it cannot be classified (a directory without -r)
}

func (in input) classify(c *infer.Classifier, top int) result {
	if in.err != nil {
		return result{File: in.path, Error: in.err.Error()}
	}
	return classifyFile(c, in.path, top)
}

// walkError is a directory entry the walk could not read.
type walkError struct {
	path string
	err  error
}

// imageExts are the file name extensions -r picks up.
var imageExts = map[string]bool{".jpg": true, ".jpeg": true, ".jpe": true, ".jfif": true, ".png": true, ".gif": true, ".webp": true}

// inputs expands the arguments: files as given, and with recurse every
// image file under a directory, in lexical path order (so the output order
// is the same on every run).
func inputs(ctx context.Context, args []string, recurse bool) ([]input, []walkError) {
	var (
		files []input
		errs  []walkError
	)
	for _, a := range args {
		fi, err := os.Stat(a)
		if err != nil || !fi.IsDir() {
			files = append(files, input{path: a}) // a missing file fails when read
			continue
		}
		if !recurse {
			files = append(files, input{path: a, err: fmt.Errorf("is a directory (use -r to classify the images in it)")})
			continue
		}
		filepath.WalkDir(a, func(p string, d fs.DirEntry, err error) error {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			if err != nil {
				errs = append(errs, walkError{p, err})
				return nil // WalkDir skips what it could not read
			}
			if !d.IsDir() && imageExts[strings.ToLower(filepath.Ext(p))] {
				files = append(files, input{path: p})
			}
			return nil
		})
	}
	return files, errs
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
