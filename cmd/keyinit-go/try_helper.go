package main

// "try" runs its PAM transaction in keyinit-go-try (tryhelper/), a C
// program: a Go module loaded into this Go program would give two Go
// runtimes in one process. This file finds the helper, runs it and parses
// its line report (the format is described in tryhelper/keyinit-go-try.c).

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"

	"pam_keyinit_go/cmd/keyinit-go/internal/keyring"
)

const helperName = "keyinit-go-try"

// installedHelper is where "make install" puts the helper; the Makefile
// sets it at link time (-X), so the install path is written only there.
var installedHelper string

// helperPath is the helper next to this executable (the build tree), else
// the installed one.
func helperPath() (string, error) {
	var tried []string
	if self, err := os.Executable(); err == nil {
		tried = append(tried, filepath.Join(filepath.Dir(self), helperName))
	}
	if installedHelper != "" {
		tried = append(tried, installedHelper)
	}
	for _, p := range tried {
		if fileExists(p) {
			return p, nil
		}
	}
	return "", fmt.Errorf("cannot find its helper %s (looked at %v): reinstall keyinit-go", helperName, tried)
}

type helperOptions struct{ confDir, tty, rhost string }

// pamResult is one PAM call as the helper reported it.
type pamResult struct {
	code int
	text string // pam_strerror's
}

// failure is "" for success, else the error as keyinit-go always wrote it.
func (p *pamResult) failure() string {
	if p == nil || p.code == 0 {
		return ""
	}
	return fmt.Sprintf("%s (PAM code %d)", p.text, p.code)
}

// helperReport is what the helper saw.
type helperReport struct {
	calls                 map[string]*pamResult // by the report's word: start, item, open, close, end
	messages              []string
	session               int   // @s of the helper's thread after the open
	sessionErr            error // why it could not be looked up
	afterOpen, afterClose replay
}

func runHelper(service, user string, o helperOptions, stderr io.Writer) (*helperReport, error) {
	path, err := helperPath()
	if err != nil {
		return nil, err
	}
	args := []string{"--depth", strconv.Itoa(keyring.MaxDepth)}
	for flag, v := range map[string]string{"--conf-dir": o.confDir, "--tty": o.tty, "--rhost": o.rhost} {
		if v != "" {
			args = append(args, flag, v)
		}
	}
	cmd := exec.Command(path, append(args, "--", service, user)...)
	var helperErr bytes.Buffer
	cmd.Stderr = io.MultiWriter(stderr, &helperErr)
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("run %s: %v", path, err)
	}
	rep, perr := parseHelper(out, stderr)
	io.Copy(io.Discard, out)
	if err := cmd.Wait(); err != nil {
		return nil, fmt.Errorf("%s: %v %s", path, err, strings.TrimSpace(helperErr.String()))
	}
	if perr != nil {
		return nil, fmt.Errorf("%s: %v", path, perr)
	}
	start, item := rep.calls["start"], rep.calls["item"]
	switch {
	case start == nil || rep.calls["end"] == nil && start.code == 0:
		return nil, fmt.Errorf("%s: incomplete report", path)
	case start.code != 0:
		return nil, fmt.Errorf("pam_start(%q, %q): %s", service, user, start.text)
	case item != nil:
		return nil, fmt.Errorf("pam_set_item: %s", item.text)
	case rep.calls["open"] == nil:
		return nil, fmt.Errorf("%s: incomplete report (no open)", path)
	}
	return rep, nil
}

// parseHelper reads the report, and shows modules' messages on stderr as
// they come.
func parseHelper(r io.Reader, stderr io.Writer) (*helperReport, error) {
	rep := &helperReport{calls: map[string]*pamResult{}, afterOpen: replay{}, afterClose: replay{}}
	var snap replay
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 16<<20)
	for sc.Scan() {
		line := sc.Text()
		word, rest, _ := strings.Cut(line, " ")
		var err error
		switch word {
		case "start", "item", "open", "close", "end":
			var p *pamResult
			if p, err = parsePAM(rest); err == nil {
				rep.calls[word] = p
			}
		case "conv":
			style, text, _ := strings.Cut(rest, " ")
			rep.conv(style, unescape(text), stderr)
		case "session":
			var errno, serial int
			if errno, serial, rest, err = errnoSerial(rest); err == nil {
				rep.session, rep.sessionErr = serial, errnoErr(errno)
			}
		case "snapshot":
			snap = map[string]replay{"open": rep.afterOpen, "close": rep.afterClose}[rest]
			if snap == nil {
				err = fmt.Errorf("unknown snapshot")
			}
		case "key", "links":
			if snap == nil {
				err = fmt.Errorf("outside a snapshot")
				break
			}
			err = snap.add(word, rest)
		default:
			err = fmt.Errorf("unknown line")
		}
		if err != nil {
			return rep, fmt.Errorf("bad report line %q: %v", line, err)
		}
	}
	return rep, sc.Err()
}

// conv shows and keeps a module's message, as keyinit-go always did.
func (rep *helperReport) conv(style, text string, stderr io.Writer) {
	if style == "prompt" {
		rep.messages = append(rep.messages, "refused prompt: "+text)
		fmt.Fprintf(stderr, "keyinit-go try: refused a prompt from a module (%q): try answers no prompts\n", text)
		return
	}
	rep.messages = append(rep.messages, text)
	fmt.Fprintf(stderr, "keyinit-go try: module says: %s\n", text)
}

func parsePAM(rest string) (*pamResult, error) {
	c, text, _ := strings.Cut(rest, " ")
	code, err := strconv.Atoi(c)
	if err != nil {
		return nil, err
	}
	return &pamResult{code: code, text: unescape(text)}, nil
}

// errnoSerial parses "ERRNO SERIAL[ REST]".
func errnoSerial(s string) (errno, serial int, rest string, err error) {
	f := strings.SplitN(s, " ", 3)
	if len(f) < 2 {
		return 0, 0, "", fmt.Errorf("want ERRNO SERIAL")
	}
	if errno, err = strconv.Atoi(f[0]); err != nil {
		return
	}
	if serial, err = strconv.Atoi(f[1]); err != nil {
		return
	}
	if len(f) == 3 {
		rest = f[2]
	}
	return
}

// unescape undoes the helper's escapes: \\ for a backslash, \n for a newline.
func unescape(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+1 < len(s) {
			i++
			if s[i] == 'n' {
				b.WriteByte('\n')
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}
