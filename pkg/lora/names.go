package lora

import (
	"fmt"
	"slices"
	"strings"
)

// underscored replaces the path separators "." and "/" with "_", as kohya module names do.
func underscored(s string) string {
	return strings.NewReplacer(".", "_", "/", "_").Replace(s)
}

// ResolveLayer returns the model layer, among layers, that the adapter module name refers to:
// the layer of equal name if there is one, else the longest layer n such that module, with
// "." and "/" as "_", equals n (likewise rewritten) or ends in "_" + n. It fails naming a few
// similar layers if nothing matches, and if two layers match equally well.
func ResolveLayer(module string, layers []string) (string, error) {
	if slices.Contains(layers, module) {
		return module, nil
	}
	m := underscored(module)
	best, tie := "", ""
	for _, n := range layers {
		u := underscored(n)
		if u == "" || (m != u && !strings.HasSuffix(m, "_"+u)) {
			continue
		}
		switch {
		case len(n) > len(best):
			best, tie = n, ""
		case len(n) == len(best):
			tie = n
		}
	}
	if tie != "" {
		return "", fmt.Errorf("lora: layer %q matches both %q and %q", module, best, tie)
	}
	if best == "" {
		return "", fmt.Errorf("lora: layer %q is not in the model%s", module, similarHint(module, layers))
	}
	return best, nil
}

// similarHint lists up to three layer names closest to name by edit distance.
func similarHint(name string, layers []string) string {
	if len(layers) == 0 {
		return " (the model has no layers)"
	}
	type cand struct {
		name string
		dist int
	}
	cs := make([]cand, len(layers))
	for i, n := range layers {
		cs[i] = cand{n, editDistance(underscored(name), underscored(n))}
	}
	slices.SortFunc(cs, func(a, b cand) int {
		if a.dist != b.dist {
			return a.dist - b.dist
		}
		return strings.Compare(a.name, b.name)
	})
	var names []string
	for i := 0; i < len(cs) && i < 3; i++ {
		names = append(names, cs[i].name)
	}
	return " (similar: " + strings.Join(names, ", ") + ")"
}

// editDistance is the Levenshtein distance between a and b, in bytes.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			c := prev[j-1]
			if a[i-1] != b[j-1] {
				c++
			}
			cur[j] = min(c, prev[j]+1, cur[j-1]+1)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
