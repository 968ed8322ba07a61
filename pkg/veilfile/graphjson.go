package veilfile

import (
	"strconv"

	"github.com/veil-ml/veil/internal/jsonscan"
)

// The JSON metadata entries are read with jsonscan, not encoding/json: in
// the browser, encoding/json's reflection made V8 recompile its decoder
// during every load (see package jsonscan). Write still uses encoding/json.
// Unknown keys are skipped; fixed-size arrays must have their exact length.

// decodeJSON reads one JSON document from text with read, naming entry in
// errors.
func decodeJSON(entry, text string, read func(s *jsonscan.Scanner) error) error {
	s := jsonscan.New([]byte(text))
	err := read(s)
	if err == nil {
		err = s.End()
	}
	if err != nil {
		return formatErr("%s: %v", entry, err)
	}
	return nil
}

// decodeGraph reads the "veil.graph" entry.
func decodeGraph(text string) (graphJSON, error) {
	var g graphJSON
	err := decodeJSON("veil.graph", text, func(s *jsonscan.Scanner) error {
		return s.Object(func(key string) error {
			switch key {
			case "input_affine":
				g.InputAffine = g.InputAffine[:0]
				return s.Array(func(int) error {
					var a [2]float32
					err := floats(s, a[:])
					g.InputAffine = append(g.InputAffine, a)
					return err
				})
			case "tensors":
				g.Tensors = g.Tensors[:0]
				return s.Array(func(int) error {
					var t [3]int
					err := ints(s, t[:])
					g.Tensors = append(g.Tensors, t)
					return err
				})
			case "ops":
				g.Ops = g.Ops[:0]
				return s.Array(func(int) error {
					op, err := decodeOpJSON(s)
					g.Ops = append(g.Ops, op)
					return err
				})
			case "output":
				return intValue(s, &g.Output)
			}
			return s.Skip()
		})
	})
	return g, err
}

func decodeOpJSON(s *jsonscan.Scanner) (opJSON, error) {
	var o opJSON
	err := s.Object(func(key string) (err error) {
		switch key {
		case "kind":
			o.Kind, err = s.String()
		case "name":
			o.Name, err = s.String()
		case "act":
			o.Act, err = s.String()
		case "in":
			o.In = o.In[:0]
			err = s.Array(func(int) error {
				var v int
				err := intValue(s, &v)
				o.In = append(o.In, v)
				return err
			})
		case "out":
			err = intValue(s, &o.Out)
		case "window":
			err = ints(s, o.Window[:])
		case "pad":
			err = ints(s, o.Pad[:])
		default:
			err = s.Skip()
		}
		return err
	})
	return o, err
}

// decodeClasses reads the "veil.classes" entry: an array of strings.
func decodeClasses(text string) ([]string, error) {
	var classes []string
	err := decodeJSON("veil.classes", text, func(s *jsonscan.Scanner) error {
		return s.Array(func(int) error {
			c, err := s.String()
			classes = append(classes, c)
			return err
		})
	})
	return classes, err
}

// decodeAdapters reads the "veil.adapters" entry: null, or an array of
// {"path", "sha256", "weight"}.
func decodeAdapters(text string) ([]Adapter, error) {
	var adapters []Adapter
	err := decodeJSON("veil.adapters", text, func(s *jsonscan.Scanner) error {
		if s.Null() {
			return nil
		}
		return s.Array(func(int) error {
			var a Adapter
			err := s.Object(func(key string) (err error) {
				switch key {
				case "path":
					a.Path, err = s.String()
				case "sha256":
					a.SHA256, err = s.String()
				case "weight":
					a.Weight, err = s.Float(64)
				default:
					err = s.Skip()
				}
				return err
			})
			adapters = append(adapters, a)
			return err
		})
	})
	return adapters, err
}

// intValue reads an integer that fits in an int.
func intValue(s *jsonscan.Scanner, v *int) error {
	n, err := s.Int()
	if err != nil {
		return err
	}
	if int64(int(n)) != n {
		return s.Fail("integer " + strconv.FormatInt(n, 10) + " does not fit in an int")
	}
	*v = int(n)
	return nil
}

// ints reads an array of exactly len(dst) integers.
func ints(s *jsonscan.Scanner, dst []int) error {
	return fixedArray(s, dst, "integers", func() (int, error) {
		var v int
		err := intValue(s, &v)
		return v, err
	})
}

// floats reads an array of exactly len(dst) float32 numbers.
func floats(s *jsonscan.Scanner, dst []float32) error {
	return fixedArray(s, dst, "numbers", func() (float32, error) {
		v, err := s.Float(32)
		return float32(v), err
	})
}

// fixedArray reads an array of exactly len(dst) values, each with read.
func fixedArray[T any](s *jsonscan.Scanner, dst []T, what string, read func() (T, error)) error {
	n := 0
	err := s.Array(func(i int) error {
		if i >= len(dst) {
			return s.Fail("want " + strconv.Itoa(len(dst)) + " " + what + ", found more")
		}
		n++
		var err error
		dst[i], err = read()
		return err
	})
	if err == nil && n != len(dst) {
		return s.Fail("want " + strconv.Itoa(len(dst)) + " " + what + ", found " + strconv.Itoa(n))
	}
	return err
}
