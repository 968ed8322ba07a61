package train

import (
	"encoding/json"
	"fmt"
	"math"
	"strings"
)

// Confusion is a confusion matrix: M[true][predicted] counts samples.
type Confusion struct {
	Classes []string `json:"classes"`
	M       [][]int  `json:"matrix"` // [true class][predicted class]
}

// NewConfusion counts (label, prediction) pairs over the classes.
func NewConfusion(classes []string, labels, preds []int) *Confusion {
	if len(labels) != len(preds) {
		panic(fmt.Sprintf("train: NewConfusion: %d labels, %d predictions", len(labels), len(preds)))
	}
	c := &Confusion{Classes: classes, M: make([][]int, len(classes))}
	for i := range c.M {
		c.M[i] = make([]int, len(classes))
	}
	for i, l := range labels {
		c.M[l][preds[i]]++
	}
	return c
}

// Total is the number of samples counted.
func (c *Confusion) Total() int {
	n := 0
	for _, row := range c.M {
		for _, v := range row {
			n += v
		}
	}
	return n
}

// Accuracy is the fraction on the diagonal (NaN when empty).
func (c *Confusion) Accuracy() float64 {
	d := 0
	for i := range c.M {
		d += c.M[i][i]
	}
	return ratio(d, c.Total())
}

// Precision of class k: right predictions of k over all predictions of k (NaN if none).
func (c *Confusion) Precision(k int) float64 {
	col := 0
	for i := range c.M {
		col += c.M[i][k]
	}
	return ratio(c.M[k][k], col)
}

// Recall of class k: right predictions of k over samples of k (NaN if none).
func (c *Confusion) Recall(k int) float64 {
	row := 0
	for _, v := range c.M[k] {
		row += v
	}
	return ratio(c.M[k][k], row)
}

func ratio(a, b int) float64 {
	if b == 0 {
		return math.NaN()
	}
	return float64(a) / float64(b)
}

// String renders accuracy, per-class precision and recall, and the matrix
// (rows: true class, columns: predicted).
func (c *Confusion) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "accuracy %s (%d samples)\n", pct(c.Accuracy()), c.Total())
	fmt.Fprintf(&b, "%-10s %9s %9s   %s\n", "true\\pred", "precision", "recall", strings.Join(padAll(c.Classes, 7), " "))
	for k, name := range c.Classes {
		cells := make([]string, len(c.M[k]))
		for j, v := range c.M[k] {
			cells[j] = fmt.Sprintf("%7d", v)
		}
		fmt.Fprintf(&b, "%-10s %9s %9s   %s\n", name, pct(c.Precision(k)), pct(c.Recall(k)), strings.Join(cells, " "))
	}
	return b.String()
}

func pct(v float64) string {
	if math.IsNaN(v) {
		return "-"
	}
	return fmt.Sprintf("%.1f%%", 100*v)
}

func padAll(ss []string, w int) []string {
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = fmt.Sprintf("%*s", w, s)
	}
	return out
}

// MarshalJSON adds the accuracy and per-class precision and recall (null
// where undefined) to the classes and matrix.
func (c *Confusion) MarshalJSON() ([]byte, error) {
	num := func(v float64) *float64 {
		if math.IsNaN(v) {
			return nil
		}
		return &v
	}
	out := struct {
		Classes   []string   `json:"classes"`
		M         [][]int    `json:"matrix"`
		Accuracy  *float64   `json:"accuracy"`
		Precision []*float64 `json:"precision"`
		Recall    []*float64 `json:"recall"`
	}{Classes: c.Classes, M: c.M, Accuracy: num(c.Accuracy())}
	for k := range c.Classes {
		out.Precision = append(out.Precision, num(c.Precision(k)))
		out.Recall = append(out.Recall, num(c.Recall(k)))
	}
	return json.Marshal(out)
}
