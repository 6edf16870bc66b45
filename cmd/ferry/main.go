// Command ferry is Ferry's single binary: server, administration CLI and
// client. See the README and docs/cli.md.
package main

import (
	"context"
	"os"

	"github.com/ferrymft/ferry/internal/cli"
)

func main() {
	os.Exit(cli.Main(context.Background(), os.Args[1:], os.Stdin, os.Stdout, os.Stderr, os.Getenv))
}
