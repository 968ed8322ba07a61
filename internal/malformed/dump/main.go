// Command dump writes the malformed-input table (internal/malformed) as
// files plus manifest.json, for the JavaScript tests and for trying
// tools/classify by hand.
//
// Usage:
//
//	go run ./internal/malformed/dump -o build/malformed
//	go run ./internal/malformed/dump -list
package main

import (
	"flag"
	"fmt"
	"os"

	"github.com/veil-ml/veil/internal/malformed"
)

func main() {
	flag.Usage = func() {
		fmt.Fprint(os.Stderr, `usage: dump -o DIR | -list

Writes every case of veil's malformed-input table into DIR, and
DIR/manifest.json: {patterns: {kind: regexp}, cases: [{name, file, expect,
same_as, tolerance, about, size}]}. expect is ok, format, unsupported or limit.

Examples:
  go run ./internal/malformed/dump -o build/malformed
  go run ./internal/malformed/dump -list

Flags:
`)
		flag.PrintDefaults()
	}
	out := flag.String("o", "", "output directory (created if missing)")
	list := flag.Bool("list", false, "print the cases and exit")
	flag.Parse()
	if *list {
		for _, c := range malformed.Cases() {
			fmt.Printf("%-28s %-11s %s\n", c.File(), c.Expect, c.About)
		}
		return
	}
	if *out == "" || flag.NArg() > 0 {
		flag.Usage()
		os.Exit(2)
	}
	m, err := malformed.WriteDir(*out)
	if err != nil {
		fmt.Fprintf(os.Stderr, "dump: %v\n", err)
		os.Exit(1)
	}
	fmt.Fprintf(os.Stderr, "dump: %d cases in %s\n", len(m.Cases), *out)
}
