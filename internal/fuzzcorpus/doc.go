// Package fuzzcorpus keeps the seed corpora of veil's fuzz targets in
// testdata/fuzz/FuzzName/, in the file format of Go's native fuzzing, so
// that `go test` runs them and `go test -fuzz` starts from them.
//
// Seeds are made by code (each package's own valid small inputs), never
// written by hand: a package's TestFuzzCorpus lists them and calls Check.
// With VEIL_WRITE_FUZZ_CORPUS=1 Check writes the files that are missing;
// otherwise the test fails, so the committed corpus holds today's seeds (a
// format change makes new seeds; the old files stay as useful inputs).
// Files it does not know of (crashers the fuzzer found, kept as regression
// inputs) are left alone. Regenerate with
//
//	VEIL_WRITE_FUZZ_CORPUS=1 go test -run TestFuzzCorpus ./...
package fuzzcorpus
