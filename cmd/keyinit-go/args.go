package main

// The command line of one command, the same way for every command: its flag
// set, --help, the positional arguments and usage errors.

import (
	"errors"
	"flag"
	"fmt"
	"io"
)

// cmdline is one command's command line and where it prints.
type cmdline struct {
	name           string
	flags          *flag.FlagSet
	stdout, stderr io.Writer
}

// newCmdline makes the flag set of command d. Its help, on request, is the
// command's help text and options.
func newCmdline(d commandDoc, stdout, stderr io.Writer) *cmdline {
	fs := flag.NewFlagSet(d.name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	help := d.helpText()
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), help)
		fmt.Fprintln(fs.Output(), "\nOptions:")
		fs.PrintDefaults()
	}
	return &cmdline{name: d.name, flags: fs, stdout: stdout, stderr: stderr}
}

// jsonFlag adds --json: try, check and status print their report as JSON.
func (c *cmdline) jsonFlag() *bool {
	return c.flags.Bool("json", false, "print a JSON report instead of text")
}

// parse parses args and, with check (nil: any are fine), judges the
// positional arguments. When ok is false the command ends with code:
// exitOK after --help (printed to stdout), exitUsage after a usage error
// (said on stderr).
func (c *cmdline) parse(args []string, check func(pos []string) error) (pos []string, code int, ok bool) {
	pos, help, err := c.split(args)
	switch {
	case help:
		return nil, exitOK, false
	case err != nil:
		return nil, c.fail(err), false
	}
	if check != nil {
		if err := check(pos); err != nil {
			return nil, c.fail(err), false
		}
	}
	return pos, exitOK, true
}

// split parses flags wherever they are ("try sshd alice --json" works) and
// returns the other arguments. help is true for -h/--help, which has then
// been printed to stdout.
func (c *cmdline) split(args []string) (pos []string, help bool, err error) {
	fs := c.flags
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
			fs.SetOutput(c.stdout)
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

// fail prints what was wrong and how to get help; it returns exitUsage.
func (c *cmdline) fail(err error) int {
	fmt.Fprintf(c.stderr, "keyinit-go %s: %v\nRun \"keyinit-go %s --help\" for usage.\n", c.name, err, c.name)
	return exitUsage
}
