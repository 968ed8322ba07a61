package malformed

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/veil-ml/veil/pkg/infer"
	"github.com/veil-ml/veil/pkg/infer/decode"
)

func TestTableShape(t *testing.T) {
	cs := Cases()
	require.GreaterOrEqual(t, len(cs), 30)
	byName := map[string]Case{}
	counts := map[string]int{}
	for _, c := range cs {
		require.NotContains(t, byName, c.Name, "duplicate name")
		byName[c.Name] = c
		counts[c.Expect]++
		require.Contains(t, []string{OK, Format, Unsupported, Limit}, c.Expect, c.Name)
		require.NotEmpty(t, c.About, c.Name)
	}
	for _, c := range cs {
		if c.SameAs != "" {
			require.Equal(t, OK, c.Expect, c.Name)
			require.Equal(t, OK, byName[c.SameAs].Expect, "%s: same_as %s", c.Name, c.SameAs)
		}
	}
	t.Logf("%d cases: %v", len(cs), counts)
}

func TestCasesAreDeterministic(t *testing.T) {
	a, b := Cases(), Cases()
	for i := range a {
		if a[i].Big {
			continue
		}
		require.Equal(t, a[i].Data(), b[i].Data(), a[i].Name)
	}
}

// TestCasesDecode runs every case through the decoder: the expected kind of
// error, with a message that matches its pattern, or pixels that agree with
// the SameAs case.
func TestCasesDecode(t *testing.T) {
	decoded := map[string]*decode.RGB{}
	for _, c := range Cases() {
		t.Run(c.Name, func(t *testing.T) {
			m, err := decode.Decode(c.Data(), decode.Limits{})
			require.Equal(t, c.Expect, Kind(err), "error: %v", err)
			if err != nil {
				require.Nil(t, m)
				require.Regexp(t, Patterns[c.Expect], err.Error())
				for kind, p := range Patterns {
					if kind != c.Expect {
						require.NotRegexp(t, p, err.Error(), "message also matches %s", kind)
					}
				}
				return
			}
			require.Len(t, m.Pix, m.W*m.H*3)
			decoded[c.Name] = m
		})
	}
	for _, c := range Cases() {
		if c.SameAs == "" {
			continue
		}
		a, b := decoded[c.Name], decoded[c.SameAs]
		require.NotNil(t, a, c.Name)
		require.NotNil(t, b, c.SameAs)
		require.Equal(t, [2]int{b.W, b.H}, [2]int{a.W, a.H}, "%s vs %s: size", c.Name, c.SameAs)
		if c.Tolerance == 0 {
			require.True(t, bytes.Equal(a.Pix, b.Pix), "%s: pixels differ from %s", c.Name, c.SameAs)
			continue
		}
		// A picture stored rotated goes through JPEG's rounding on another
		// block grid: close, not equal.
		sum := 0
		for i := range a.Pix {
			sum += absDiff(a.Pix[i], b.Pix[i])
		}
		mean := float64(sum) / float64(len(a.Pix))
		require.Less(t, mean, 1.5, "%s vs %s: mean difference %.2f levels", c.Name, c.SameAs, mean)
	}
}

func absDiff(a, b uint8) int {
	if a > b {
		return int(a - b)
	}
	return int(b - a)
}

// TestCMYKPixels checks the hand-written CMYK encoder and the decoder
// together: the Chromium rule R = C·K/255 on the stored (inverted) samples.
func TestCMYKPixels(t *testing.T) {
	c, _ := ByName("jpeg_cmyk")
	m, err := decode.Decode(c.Data(), decode.Limits{})
	require.NoError(t, err)
	for by := 0; by < m.H/8; by++ {
		for bx := 0; bx < m.W/8; bx++ {
			s := cmykBlock(bx, by)
			want := [3]int{int(s[0]) * int(s[3]) / 255, int(s[1]) * int(s[3]) / 255, int(s[2]) * int(s[3]) / 255}
			i := m.PixOffset(bx*8+3, by*8+3)
			for ch := 0; ch < 3; ch++ {
				d := int(m.Pix[i+ch]) - want[ch]
				require.LessOrEqual(t, d*d, 4, "block (%d,%d) channel %d: got %d want %d", bx, by, ch, m.Pix[i+ch], want[ch])
			}
		}
	}
}

// stub is a Runner that returns fixed probabilities, so the classify path
// runs without a model.
type stub struct{ out []float32 }

func (s stub) Run([]float32) []float32 { return s.out }

func stubClassifier() *infer.Classifier {
	classes := []string{"Drawing", "Hentai", "Neutral", "Porn", "Sexy"}
	return infer.NewClassifier(224, classes, func() infer.Runner { return stub{[]float32{0.1, 0.1, 0.6, 0.1, 0.1}} })
}

// TestCasesClassifyPath checks that Classifier.ClassifyBytes (decode +
// preprocess) gives every case its expected outcome.
func TestCasesClassifyPath(t *testing.T) {
	c := stubClassifier()
	for _, tc := range Cases() {
		p, err := c.ClassifyBytes(tc.Data())
		require.Equal(t, tc.Expect, Kind(err), "%s: %v", tc.Name, err)
		if err == nil {
			require.Len(t, p, 5, tc.Name)
		}
	}
}

// TestBombs feeds the decompression bombs to the classify path: each must be
// refused within a second having allocated far less than 100 MB.
func TestBombs(t *testing.T) {
	c := stubClassifier()
	for _, name := range []string{"png_bomb_100000x100000", "jpeg_bomb_65535x65535", "gif_bomb_65535x65535"} {
		tc, ok := ByName(name)
		require.True(t, ok)
		data := tc.Data()
		runtime.GC()
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		start := time.Now()
		_, err := c.ClassifyBytes(data)
		elapsed := time.Since(start)
		runtime.ReadMemStats(&after)
		require.Equal(t, Limit, Kind(err), "%s: %v", name, err)
		alloc := after.TotalAlloc - before.TotalAlloc
		heapGrowth := int64(after.HeapSys) - int64(before.HeapSys)
		t.Logf("%s: refused in %v, allocated %d bytes, heap grew %d bytes: %v", name, elapsed, alloc, heapGrowth, err)
		require.Less(t, elapsed, time.Second, name)
		require.Less(t, alloc, uint64(100<<20), name)
		require.Less(t, heapGrowth, int64(100<<20), name)
	}
}

func TestWriteDir(t *testing.T) {
	if testing.Short() {
		t.Skip("writes a 64 MiB file")
	}
	dir := t.TempDir()
	m, err := WriteDir(dir)
	require.NoError(t, err)
	raw, err := os.ReadFile(filepath.Join(dir, "manifest.json"))
	require.NoError(t, err)
	var got Manifest
	require.NoError(t, json.Unmarshal(raw, &got))
	require.Equal(t, m, got)
	require.Len(t, got.Cases, len(Cases()))
	for _, p := range got.Patterns {
		regexp.MustCompile(p)
	}
	for _, c := range got.Cases {
		fi, err := os.Stat(filepath.Join(dir, c.File))
		require.NoError(t, err)
		require.Equal(t, int64(c.Size), fi.Size(), c.File)
	}
	left, _ := filepath.Glob(filepath.Join(dir, "*.tmp"))
	require.Empty(t, left)
}
