// Command nexusquant runs a GGUF language model, compresses its KV cache with
// the NexusQuant pipeline and measures what the compression costs.
//
// main only hands the command line to package cli, which also opens the log.
package main

import (
	"os"

	"nexusquant/cli"
)

func main() {
	os.Exit(cli.Main(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}
