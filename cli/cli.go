// Package cli implements nexusquant's commands. Each command lives in its own
// file (cmd_*.go), parses its flags with the standard flag package, and writes
// human-readable text or, with --json, one JSON document to stdout. Errors go
// to stderr as one line naming the file or value at fault; the exit status is
// 0 on success, 1 on a runtime error and 2 on a usage error.
package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/debug"
	"sort"
	"strings"
	"syscall"
)

// command is one subcommand.
type command struct {
	name    string
	summary string
	run     func(env *Env, args []string) error
}

// Env carries the process streams into a command, so commands are testable.
type Env struct {
	// Ctx is cancelled when the user interrupts (Ctrl-C, SIGTERM); every
	// command's work runs under it.
	Ctx            context.Context
	Stdin          io.Reader
	Stdout, Stderr io.Writer
	Log            *slog.Logger
}

// usageError marks an error caused by the command line (exit status 2).
type usageError struct{ err error }

func (u usageError) Error() string { return u.err.Error() }
func (u usageError) Unwrap() error { return u.err }

func usagef(format string, args ...any) error { return usageError{fmt.Errorf(format, args...)} }

var commands = map[string]*command{}

func register(c *command) { commands[c.name] = c }

// Main runs the command line args (without the program name) and returns the
// process exit status.
func Main(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return MainContext(ctx, args, stdin, stdout, stderr)
}

// MainContext is Main under ctx: cancelling it interrupts the command,
// which then exits with status 130 and one line saying what was interrupted.
func MainContext(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	logger, closeLog := openLog()
	defer closeLog()
	env := &Env{Ctx: ctx, Stdin: stdin, Stdout: stdout, Stderr: stderr, Log: logger}

	if len(args) > 0 && (args[0] == "-h" || args[0] == "--help" || args[0] == "help") {
		if len(args) > 1 && args[0] == "help" && commands[args[1]] != nil {
			args = []string{args[1], "-h"} // help CMD: that command's flags
		} else {
			printUsage(stdout)
			return 0
		}
	}
	if len(args) > 0 && (args[0] == "--version" || args[0] == "version") {
		fmt.Fprintln(stdout, "nexusquant", Version())
		return 0
	}
	// No command, or flags first: the explorer (nexusquant --model M …).
	if len(args) == 0 || strings.HasPrefix(args[0], "-") {
		args = append([]string{"tui"}, args...)
	}
	c, ok := commands[args[0]]
	if !ok {
		fmt.Fprintf(stderr, "nexusquant: unknown command %q\n\n", args[0])
		printUsage(stderr)
		return 2
	}
	logger.Info("command", "name", c.name, "args", args[1:])
	err := c.run(env, args[1:])
	switch {
	case err != nil && ctx.Err() != nil:
		logger.Info("command interrupted", "name", c.name, "err", err)
		fmt.Fprintf(stderr, "nexusquant %s: interrupted\n", c.name)
		return 130
	case err == nil:
		return 0
	case errors.Is(err, flag.ErrHelp):
		return 0
	default:
		logger.Error("command failed", "name", c.name, "err", err)
		fmt.Fprintf(stderr, "nexusquant %s: %v\n", c.name, err)
		var u usageError
		if errors.As(err, &u) {
			return 2
		}
		return 1
	}
}

func printUsage(w io.Writer) {
	fmt.Fprintln(w, "nexusquant — run a GGUF model, compress its KV cache, measure the cost")
	fmt.Fprintln(w, "\nUsage: nexusquant [tui flags]          the explorer (on the embedded demo without --model)")
	fmt.Fprintln(w, "       nexusquant <command> [flags]   (nexusquant <command> -h for its flags)")
	fmt.Fprintln(w, "\nCommands:")
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(w, "  %-11s %s\n", n, commands[n].summary)
	}
}

// openLog opens the log file: $NEXUSQUANT_LOG if set ("-" for stderr, "off" to
// disable), else nexusquant.log in the user cache directory. Failing to open it
// never stops a command.
func openLog() (*slog.Logger, func()) {
	discard := func() (*slog.Logger, func()) { return slog.New(slog.NewTextHandler(io.Discard, nil)), func() {} }
	path := os.Getenv("NEXUSQUANT_LOG")
	switch path {
	case "off":
		return discard()
	case "-":
		return slog.New(slog.NewTextHandler(os.Stderr, nil)), func() {}
	case "":
		dir, err := os.UserCacheDir()
		if err != nil {
			return discard()
		}
		path = filepath.Join(dir, "nexusquant", "nexusquant.log")
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return discard()
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return discard()
	}
	return slog.New(slog.NewTextHandler(f, nil)), func() { f.Close() }
}

// newFlags makes a flag set for a command whose errors are returned, not printed
// and exited on.
func newFlags(env *Env, name, usage string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(env.Stderr)
	fs.Usage = func() {
		fmt.Fprintf(env.Stderr, "Usage: nexusquant %s %s\n\nFlags:\n", name, usage)
		fs.PrintDefaults()
	}
	return fs
}

// parse parses args, turning flag errors into usage errors and rejecting
// stray positional arguments. -h prints the command's usage; a bad flag
// gives one line that says where the flags are listed, not the whole usage
// around the error twice.
func parse(fs *flag.FlagSet, args []string) error {
	usage, out := fs.Usage, fs.Output()
	fs.Usage = func() {}
	fs.SetOutput(io.Discard)
	err := fs.Parse(args)
	fs.Usage = usage
	fs.SetOutput(out)
	switch {
	case errors.Is(err, flag.ErrHelp):
		usage()
		return err
	case err != nil:
		return usagef("%v (nexusquant %s -h lists the flags)", err, fs.Name())
	case fs.NArg() > 0:
		return usagef("unexpected argument %q", strings.Join(fs.Args(), " "))
	}
	return nil
}

// exactUsage documents --exact, shared by the commands that run the model.
const exactUsage = "compute as llama.cpp's CPU backend does, operation for operation (float16 KV cache, no flash attention); 5 to 30 times slower, for parity checks"

// Version is the module version the binary was built from ("devel" plus the
// VCS revision when built from a checkout).
func Version() string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "unknown"
	}
	v := bi.Main.Version
	if v == "" || v == "(devel)" {
		v = "devel"
	}
	for _, st := range bi.Settings {
		if st.Key == "vcs.revision" && len(st.Value) >= 12 {
			v += " " + st.Value[:12]
		}
		if st.Key == "vcs.modified" && st.Value == "true" {
			v += "+dirty"
		}
	}
	return v + " " + bi.GoVersion
}
