//go:build linux

package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/veil-ml/veil/internal/malformed"
	"github.com/veil-ml/veil/internal/modelstore"
)

// These tests run the built command as a separate process: its exit status,
// its peak memory, and its answer to SIGINT.

var (
	binOnce sync.Once
	binPath string
	binErr  error
	binDir  string
)

func TestMain(m *testing.M) {
	if out := os.Getenv(rssEnv); out != "" {
		os.Exit(measureRSS(out, os.Args[1:]))
	}
	code := m.Run()
	if binDir != "" {
		os.RemoveAll(binDir)
	}
	os.Exit(code)
}

// rssEnv makes the test binary a launcher: it runs its arguments as a
// command and writes that command's peak RSS (bytes) and run time (ns) to
// the named file.
//
// Linux's ru_maxrss of a process includes the high-water mark of the memory
// it had before exec. Started straight from this test process (vfork, shared
// memory) a child would inherit the test's own peak; started from a freshly
// exec'd launcher it inherits only the launcher's few megabytes.
const rssEnv = "VEIL_TEST_RSS_OUT"

func measureRSS(out string, args []string) int {
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	cmd.Env = slices.DeleteFunc(os.Environ(), func(e string) bool { return strings.HasPrefix(e, rssEnv+"=") })
	start := time.Now()
	if err := cmd.Start(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 125
	}
	cmd.Wait()
	elapsed := time.Since(start)
	ru := cmd.ProcessState.SysUsage().(*syscall.Rusage)
	if err := os.WriteFile(out, fmt.Appendf(nil, "%d %d", ru.Maxrss<<10, elapsed), 0o644); err != nil { // KiB on Linux
		fmt.Fprintln(os.Stderr, err)
		return 125
	}
	return cmd.ProcessState.ExitCode()
}

// classifyBinary builds tools/classify once per test run.
func classifyBinary(t *testing.T) string {
	t.Helper()
	binOnce.Do(func() {
		if binDir, binErr = os.MkdirTemp("", "veil-classify-test-"); binErr != nil {
			return
		}
		binPath = filepath.Join(binDir, "classify")
		out, err := exec.Command("go", "build", "-o", binPath, ".").CombinedOutput()
		if err != nil {
			binErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	require.NoError(t, binErr)
	return binPath
}

// realModel returns the int8 MobileNetV2 file, skipping without it unless
// VEIL_REQUIRE_MODELS is set.
func realModel(t *testing.T) string {
	t.Helper()
	p, err := modelstore.VeilPath("mobilenet_v2")
	if err != nil {
		if os.Getenv("VEIL_REQUIRE_MODELS") != "" {
			t.Fatal(err)
		}
		t.Skip(err)
	}
	return p
}

type procResult struct {
	status         int
	stdout, stderr string
	elapsed        time.Duration // of the command itself, without the launcher
	maxRSS         int64         // bytes
}

// runClassify runs the binary (through the RSS launcher) with a hang guard
// of one minute.
func runClassify(t *testing.T, args ...string) procResult {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	rssFile := filepath.Join(t.TempDir(), "rss")
	cmd := exec.CommandContext(ctx, os.Args[0], append([]string{classifyBinary(t)}, args...)...)
	cmd.Env = append(os.Environ(), rssEnv+"="+rssFile)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	r := procResult{stdout: out.String(), stderr: errb.String()}
	require.NoError(t, ctx.Err(), "classify %v hung", args)
	if err != nil {
		var ee *exec.ExitError
		require.ErrorAs(t, err, &ee)
	}
	r.status = cmd.ProcessState.ExitCode()
	rss, err := os.ReadFile(rssFile)
	require.NoError(t, err, "launcher: %s", r.stderr)
	_, err = fmt.Sscan(string(rss), &r.maxRSS, &r.elapsed)
	require.NoError(t, err)
	return r
}

// requireNoCrash fails on a Go panic or runtime fault report.
func requireNoCrash(t *testing.T, stderr string) {
	t.Helper()
	for _, s := range []string{"panic:", "goroutine ", "fatal error:", "SIGSEGV"} {
		require.NotContains(t, stderr, s)
	}
}

// TestMalformedTable runs every case of internal/malformed through the
// command, one process per file: a result and status 0, or one line on
// stderr naming the file and what was wrong, and status 1. Then one -r run
// over the whole table checks the SameAs relations.
func TestMalformedTable(t *testing.T) {
	model := realModel(t)
	dir := t.TempDir()
	m, err := malformed.WriteDir(dir)
	require.NoError(t, err)
	t.Run("each", func(t *testing.T) {
		for _, c := range m.Cases {
			t.Run(c.Name, func(t *testing.T) {
				t.Parallel()
				file := filepath.Join(dir, c.File)
				r := runClassify(t, "-model", model, file)
				requireNoCrash(t, r.stderr)
				if c.Expect == malformed.OK {
					require.Equal(t, 0, r.status, "stderr: %s", r.stderr)
					require.Empty(t, r.stderr)
					require.Regexp(t, `^`+regexp.QuoteMeta(file)+`: (\w+ [01]\.\d{4}, ){4}\w+ [01]\.\d{4}\n$`, r.stdout)
					return
				}
				require.Equal(t, 1, r.status, "stdout: %s", r.stdout)
				require.Empty(t, r.stdout)
				require.Regexp(t, `^`+regexp.QuoteMeta(file)+`: [^\n]+\n$`, r.stderr, "one line naming the file")
				require.Regexp(t, m.Patterns[c.Expect], r.stderr, "a %s error", c.Expect)
			})
		}
	})

	r := runClassify(t, "-model", model, "-json", "-r", dir)
	requireNoCrash(t, r.stderr)
	require.Equal(t, 1, r.status)
	lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
	require.Len(t, lines, len(m.Cases), "one line per image file")
	probs := map[string][]float32{} // by case name, in class order
	top := map[string]string{}      // by case name: the most probable class
	var prev string
	failures := 0
	for _, line := range lines {
		var res result
		require.NoError(t, json.Unmarshal([]byte(line), &res))
		require.Greater(t, res.File, prev, "results in path order")
		prev = res.File
		name := strings.TrimSuffix(filepath.Base(res.File), filepath.Ext(res.File))
		c := caseByName(t, m, name)
		if c.Expect != malformed.OK {
			require.Regexp(t, m.Patterns[c.Expect], res.Error, name)
			require.Contains(t, r.stderr, res.File+": "+res.Error+"\n", "reported on stderr")
			failures++
			continue
		}
		require.Empty(t, res.Error, name)
		require.Len(t, res.Predictions, 5, name)
		p := map[string]float32{}
		sum := float32(0)
		for _, pr := range res.Predictions {
			p[pr.ClassName] = pr.Probability
			sum += pr.Probability
		}
		require.InDelta(t, 1, sum, 1e-3, name)
		probs[name] = []float32{p["Drawing"], p["Hentai"], p["Neutral"], p["Porn"], p["Sexy"]}
		top[name] = res.Predictions[0].ClassName // the command ranks them
	}
	require.Equal(t, failures, strings.Count(r.stderr, "\n"), "one stderr line per failure")
	for _, c := range m.Cases {
		if c.SameAs == "" {
			continue
		}
		a, b := probs[c.Name], probs[c.SameAs]
		if c.Tolerance == 0 {
			require.Equal(t, b, a, "%s must classify exactly like %s", c.Name, c.SameAs)
			continue
		}
		require.Equal(t, top[c.SameAs], top[c.Name], "%s: top class differs from %s (%v vs %v)", c.Name, c.SameAs, a, b)
		d := 0.0
		for i := range a {
			d = math.Max(d, math.Abs(float64(a[i]-b[i])))
		}
		t.Logf("%s vs %s: max |Δp| %.4f", c.Name, c.SameAs, d)
		require.LessOrEqual(t, d, c.Tolerance, "%s vs %s", c.Name, c.SameAs)
	}
}

func caseByName(t *testing.T, m malformed.Manifest, name string) malformed.ManifestCase {
	for _, c := range m.Cases {
		if c.Name == name {
			return c
		}
	}
	t.Fatalf("no case %q", name)
	return malformed.ManifestCase{}
}

// TestBombPeakMemory: the command refuses decompression bombs with a peak
// RSS under 100 MB (the real model loaded), and within one second of
// starting. The time is checked with the tiny model: loading MobileNetV2
// takes 0.2-0.5 s on a busy 2-core machine, which is not the bomb's doing.
func TestBombPeakMemory(t *testing.T) {
	model := realModel(t)
	dir := t.TempDir()
	for _, name := range []string{"png_bomb_100000x100000", "jpeg_bomb_65535x65535"} {
		file := writeCase(t, dir, name+".img", name)
		r := runClassify(t, "-model", model, file)
		requireNoCrash(t, r.stderr)
		require.Equal(t, 1, r.status)
		require.Contains(t, r.stderr, file+": decode: image is ")
		t.Logf("%s: MobileNetV2: refused after %v, peak RSS %.1f MB: %s", name, r.elapsed.Round(time.Millisecond), float64(r.maxRSS)/1e6, strings.TrimSpace(r.stderr))
		require.Greater(t, r.maxRSS, int64(0))
		require.Less(t, r.maxRSS, int64(100e6), name)

		r = runClassify(t, "-model", tinyModel, file)
		require.Equal(t, 1, r.status)
		require.Contains(t, r.stderr, file+": decode: image is ")
		t.Logf("%s: tiny model: refused after %v, peak RSS %.1f MB", name, r.elapsed.Round(time.Millisecond), float64(r.maxRSS)/1e6)
		require.Less(t, r.elapsed, time.Second, name)
		require.Less(t, r.maxRSS, int64(100e6), name)
	}
}

// TestSIGINT starts the command on a tree of 200 images with -o, sends
// SIGINT once the first result is written, and checks that it stops with
// status 130, leaving neither the output file nor its temporary file.
func TestSIGINT(t *testing.T) {
	model := realModel(t)
	tree := t.TempDir()
	for i := 0; i < 200; i++ {
		m := image.NewRGBA(image.Rect(0, 0, 96, 64))
		for j := range m.Pix {
			m.Pix[j] = uint8(j*(i+1)) | 0x80
		}
		m.SetRGBA(i%96, i%64, color.RGBA{255, 0, 0, 255})
		var b bytes.Buffer
		require.NoError(t, png.Encode(&b, m))
		p := filepath.Join(tree, fmt.Sprintf("d%d", i%7), fmt.Sprintf("img%03d.png", i))
		require.NoError(t, os.MkdirAll(filepath.Dir(p), 0o755))
		require.NoError(t, os.WriteFile(p, b.Bytes(), 0o644))
	}
	outDir := t.TempDir()
	outFile := filepath.Join(outDir, "results.jsonl")
	cmd := exec.Command(classifyBinary(t), "-model", model, "-json", "-r", "-o", outFile, tree)
	var errb bytes.Buffer
	cmd.Stderr = &errb
	require.NoError(t, cmd.Start())
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()

	// The first result line lands in the temporary file.
	deadline := time.Now().Add(time.Minute)
	for {
		tmps, _ := filepath.Glob(filepath.Join(outDir, ".results.jsonl.tmp-*"))
		if len(tmps) == 1 {
			if b, _ := os.ReadFile(tmps[0]); bytes.Contains(b, []byte("\n")) {
				break
			}
		}
		select {
		case err := <-exited:
			t.Fatalf("classify ended before any result: %v\n%s", err, errb.String())
		default:
		}
		require.True(t, time.Now().Before(deadline), "no result within a minute")
		time.Sleep(5 * time.Millisecond)
	}
	require.NoError(t, cmd.Process.Signal(os.Interrupt))
	sent := time.Now()
	select {
	case <-exited:
	case <-time.After(30 * time.Second):
		cmd.Process.Kill()
		t.Fatal("classify did not stop within 30 s of SIGINT")
	}
	t.Logf("stopped %v after SIGINT", time.Since(sent).Round(time.Millisecond))
	require.Equal(t, exitInterrupted, cmd.ProcessState.ExitCode(), "stderr: %s", errb.String())
	require.Contains(t, errb.String(), "classify: interrupted")
	requireNoCrash(t, errb.String())
	entries, err := os.ReadDir(outDir)
	require.NoError(t, err)
	require.Empty(t, entries, "the output file or its temporary file was left behind")
}
