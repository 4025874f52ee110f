package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
)

// newFlags makes a flag set that prints help (with its flags) to stdout on
// request and errors to stderr.
func newFlags(name, help string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), help)
		fmt.Fprintln(fs.Output(), "\nOptions:")
		fs.PrintDefaults()
	}
	return fs
}

// parseArgs parses flags wherever they are ("try sshd alice --json" works)
// and returns the other arguments. help is true for -h/--help, which has
// then been printed to stdout.
func parseArgs(fs *flag.FlagSet, args []string, stdout io.Writer) (pos []string, help bool, err error) {
	var rest []string // after "--": all positional
	for i, a := range args {
		if a == "--" {
			args, rest = args[:i], args[i+1:]
			break
		}
	}
	for {
		out := fs.Output()
		fs.SetOutput(io.Discard)
		err := fs.Parse(args)
		fs.SetOutput(out)
		if errors.Is(err, flag.ErrHelp) {
			fs.SetOutput(stdout)
			fs.Usage()
			fs.SetOutput(out)
			return nil, true, nil
		}
		if err != nil {
			return nil, false, err
		}
		if fs.NArg() == 0 {
			return append(pos, rest...), false, nil
		}
		pos = append(pos, fs.Arg(0))
		args = fs.Args()[1:]
	}
}

// usageError prints what was wrong and how to get help; it returns exitUsage.
func usageError(stderr io.Writer, cmd string, err error) int {
	fmt.Fprintf(stderr, "keyinit-go %s: %v\nRun \"keyinit-go %s --help\" for usage.\n", cmd, err, cmd)
	return exitUsage
}
