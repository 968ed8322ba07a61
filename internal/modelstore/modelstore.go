// Package modelstore finds and loads veil's models for the native tools:
// a model is named (mobilenet_v2, mobilenet_v2_mid, inception_v3) and found
// under the models directory that `make models` fills, or given as a path.
package modelstore

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/veil-ml/veil/pkg/infer"
	"github.com/veil-ml/veil/pkg/infer/tfjs"
)

// Names are the models nsfwjs ships, by veil's name.
var Names = []string{"mobilenet_v2", "mobilenet_v2_mid", "inception_v3"}

// Dir is the models directory: $VEIL_MODELS, or "models" under the working
// directory or the nearest parent holding go.mod.
func Dir() string {
	if d := os.Getenv("VEIL_MODELS"); d != "" {
		return d
	}
	wd, err := os.Getwd()
	if err != nil {
		return "models"
	}
	for d := wd; ; d = filepath.Dir(d) {
		if _, err := os.Stat(filepath.Join(d, "go.mod")); err == nil {
			return filepath.Join(d, "models")
		}
		if filepath.Dir(d) == d {
			return "models"
		}
	}
}

func isName(s string) bool {
	for _, n := range Names {
		if s == n {
			return true
		}
	}
	return false
}

// TFJSDir resolves a model name or a directory holding model.json.
func TFJSDir(nameOrPath string) (string, error) {
	dir := nameOrPath
	if isName(nameOrPath) {
		dir = filepath.Join(Dir(), "tfjs", nameOrPath)
	} else if strings.HasSuffix(nameOrPath, "model.json") {
		dir = filepath.Dir(nameOrPath)
	}
	if _, err := os.Stat(filepath.Join(dir, "model.json")); err != nil {
		if isName(nameOrPath) {
			return "", fmt.Errorf("model %s: %s/model.json not found (run `make models`)", nameOrPath, dir)
		}
		if errors.Is(err, os.ErrNotExist) {
			return "", fmt.Errorf("model %q: not a model name (%s) nor a directory with model.json", nameOrPath, strings.Join(Names, ", "))
		}
		return "", fmt.Errorf("model %q: %w", nameOrPath, err)
	}
	return dir, nil
}

// LoadNet loads a float Net from a model name or TF.js directory.
func LoadNet(nameOrPath string) (*infer.Net, error) {
	dir, err := TFJSDir(nameOrPath)
	if err != nil {
		return nil, err
	}
	m, err := tfjs.Load(dir)
	if err != nil {
		return nil, err
	}
	name := nameOrPath
	if !isName(name) {
		name = filepath.Base(dir)
	}
	return infer.Build(m, name)
}

// VeilPath resolves a model name or a path to a .veil file.
func VeilPath(nameOrPath string) (string, error) {
	p := nameOrPath
	if isName(nameOrPath) {
		p = filepath.Join(Dir(), nameOrPath+".veil")
	}
	if _, err := os.Stat(p); err != nil {
		if isName(nameOrPath) {
			return "", fmt.Errorf("model %s: %s not found (run `make models`)", nameOrPath, p)
		}
		return "", fmt.Errorf("model %q: not a model name (%s) nor a .veil file: %w", nameOrPath, strings.Join(Names, ", "), err)
	}
	return p, nil
}
