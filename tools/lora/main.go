// Command lora trains, inspects, resizes, prunes and combines LoRA adapters
// for veil's nsfwjs models.
//
//	go run ./tools/lora train -model NAME -data DIR -out ADAPTER_DIR [flags]
//	go run ./tools/lora inspect|resize|prune|combine [flags] ADAPTER...
//	go run ./tools/lora demo-images -out DIR
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/veil-ml/veil/pkg/lora"
)

const usage = `usage: lora COMMAND [flags] [args]

Commands:
  train        train an adapter on labelled images (DIR/<ClassName>/*.jpg|png|webp)
  inspect      print an adapter's layers, ranks, scales and singular values
  resize       reduce ranks by SVD (fixed, sv_ratio, sv_fro, sv_cumulative)
  prune        drop factor entries by magnitude or at random (DARE)
  combine      combine adapters (linear, cat, svd, ties, dare_linear, dare_ties, magnitude_prune)
  demo-images  write the generated images of the README's demonstration

Adapters are PEFT directories (adapter_config.json + adapter_model.safetensors)
or kohya .safetensors files; outputs ending in .safetensors are written in
kohya format, anything else as a PEFT directory.

Run "lora COMMAND -h" for a command's flags and examples. Exit status: 0 on
success, 1 on failure, 2 for bad usage. Progress and errors go to stderr,
reports to stdout (JSON with -json).
`

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// commands maps a command name to its implementation.
var commands = map[string]func(args []string, stdout, stderr io.Writer) int{
	"train":       runTrain,
	"inspect":     runInspect,
	"resize":      runResize,
	"prune":       runPrune,
	"combine":     runCombine,
	"demo-images": runDemoImages,
}

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	switch args[0] {
	case "-h", "-help", "--help", "help":
		fmt.Fprint(stdout, usage)
		return 0
	}
	cmd, ok := commands[args[0]]
	if !ok {
		fmt.Fprintf(stderr, "lora: unknown command %q\n\n%s", args[0], usage)
		return 2
	}
	return cmd(args[1:], stdout, stderr)
}

// errUsage marks an error in the command line (exit status 2).
var errUsage = errors.New("usage")

// newFlags makes a flag set whose -h prints help with examples.
func newFlags(name, help string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("lora "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(stderr, help)
		fmt.Fprintln(stderr, "\nFlags:")
		fs.PrintDefaults()
	}
	return fs
}

// parse parses flags, returning the exit status to use if it should stop.
func parse(fs *flag.FlagSet, args []string) (int, bool) {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0, true
		}
		return 2, true
	}
	return 0, false
}

// fail prints err for command name and returns its exit status.
func fail(stderr io.Writer, name string, err error) int {
	if errors.Is(err, errUsage) {
		fmt.Fprintf(stderr, "lora %s: %s\n", name, strings.TrimSuffix(strings.TrimPrefix(err.Error(), "usage: "), ": usage"))
		return 2
	}
	fmt.Fprintf(stderr, "lora %s: %v\n", name, err)
	return 1
}

func usageErr(format string, args ...any) error {
	return fmt.Errorf("%w: %s", errUsage, fmt.Sprintf(format, args...))
}

// readAdapter reads a PEFT directory or a kohya .safetensors file.
func readAdapter(path string) (*lora.Adapter, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if st.IsDir() {
		return lora.ReadPEFT(path)
	}
	return lora.ReadKohya(path)
}

// writeAdapter writes kohya format to a .safetensors path, PEFT otherwise.
func writeAdapter(path string, a *lora.Adapter) error {
	if strings.EqualFold(filepath.Ext(path), ".safetensors") {
		return lora.WriteKohya(path, a)
	}
	return lora.WritePEFT(path, a)
}

// parseWeighted parses "PATH" or "PATH:WEIGHT" (the weight after the last colon).
func parseWeighted(arg string) (string, float64, error) {
	if i := strings.LastIndex(arg, ":"); i > 0 {
		if w, err := strconv.ParseFloat(arg[i+1:], 64); err == nil {
			return arg[:i], w, nil
		}
	}
	return arg, 1, nil
}
