// Command serve is the small static file server behind `make run`: it serves
// veil's page from one directory and the int8 model files from another, with
// the headers a page that must never talk to anyone else needs.
//
//	go run ./tools/serve -dir web -models models -addr 127.0.0.1:8080
//
// What it guarantees (tested in handler_test.go):
//   - Only GET and HEAD. Paths are resolved inside their directory with
//     os.Root, so "..", absolute paths and symlinks that leave it are refused.
//   - From -dir, only the file types in contentTypes (others are 404, as are
//     hidden files and directories other than "/"). No directory listings.
//   - Under /models/, only NAME.veil directly inside -models.
//   - Every response carries a Content-Security-Policy whose connect-src is
//     'self': the page can fetch from its own origin and nowhere else.
//   - Cache-Control: no-cache plus an ETag, so a rebuilt wasm or model is
//     picked up at once while an unchanged one costs a 304.
//   - Model responses carry Repr-Digest (RFC 9530), the file's SHA-256,
//     which the page hands to the engine to validate its IndexedDB copy.
//   - Text and WebAssembly go gzipped to a client that accepts it (Vary:
//     Accept-Encoding, an ETag of their own), compressed once per version
//     of the file: veil.wasm is 5.1 MB, 1.4 MB gzipped. Models are sent as
//     they are (their tensors are deflated already).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"
)

const usage = `usage: serve [-dir DIR] [-models DIR] [-addr HOST:PORT] [-quiet]

Serves veil's page (DIR, default web) and its int8 models (/models/NAME.veil
from the models directory) with strict security headers. Prints the page's
URL on stdout once it listens; logs requests on stderr.

Examples:
  go run ./tools/serve
  go run ./tools/serve -addr 127.0.0.1:0          # any free port
  PORT=9000 make run

Flags:
`

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, usage); fs.PrintDefaults() }
	dir := fs.String("dir", "web", "directory holding the page")
	models := fs.String("models", "models", "directory holding NAME.veil model files")
	addr := fs.String("addr", "127.0.0.1:8080", "address to listen on (port 0: any free port)")
	quiet := fs.Bool("quiet", false, "do not log requests")
	if err := fs.Parse(args); err != nil {
		if err == flag.ErrHelp {
			return 0
		}
		return 2
	}
	if fs.NArg() != 0 {
		fmt.Fprintf(stderr, "serve: unexpected argument %q\n", fs.Arg(0))
		fs.Usage()
		return 2
	}

	h, err := NewHandler(*dir, *models)
	if err != nil {
		fmt.Fprintf(stderr, "serve: %v\n", err)
		return 1
	}
	var handler http.Handler = h
	if !*quiet {
		handler = logRequests(h, stderr)
	}

	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		fmt.Fprintf(stderr, "serve: %v\n", err)
		return 1
	}
	srv := &http.Server{
		Handler:           handler,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
	}
	fmt.Fprintf(stdout, "http://%s/\n", ln.Addr())
	if f, ok := stdout.(*os.File); ok {
		f.Sync() // the e2e test reads this line through a pipe
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		fmt.Fprintf(stderr, "serve: %v\n", err)
		return 1
	case <-ctx.Done():
	}
	shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdown); err != nil && !errors.Is(err, http.ErrServerClosed) {
		fmt.Fprintf(stderr, "serve: %v\n", err)
		return 1
	}
	return 0
}

// statusWriter remembers the status code for the request log.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	w.status = code
	w.ResponseWriter.WriteHeader(code)
}

func logRequests(next http.Handler, log io.Writer) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w, status: http.StatusOK}
		next.ServeHTTP(sw, r)
		fmt.Fprintf(log, "serve: %s %s %d %v\n", r.Method, r.URL.Path, sw.status, time.Since(start).Round(time.Microsecond))
	})
}
