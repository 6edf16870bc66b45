// Command ferry is Ferry's single binary: server, administration CLI and
// client. See the README and docs/cli.md.
package main

import (
	"context"
	"os"
	"runtime/debug"

	"github.com/ferrymft/ferry/internal/cli"
)

// gcPercent is the garbage collector's target when GOGC is not set. An SSH
// transfer allocates a fresh buffer for every packet it receives (inside
// golang.org/x/crypto/ssh), about 1 GiB per GiB uploaded; with Go's default
// of 100 and a live heap of a few MB the collector ran ~280 times per GiB
// and took a quarter of the server's CPU. At 400 it runs ~50 times; the
// heap stays small (tens of MB) because that garbage dies young.
const gcPercent = 400

func main() {
	if _, ok := os.LookupEnv("GOGC"); !ok {
		debug.SetGCPercent(gcPercent)
	}
	os.Exit(cli.Main(context.Background(), os.Args[1:], os.Stdin, os.Stdout, os.Stderr, os.Getenv))
}
