package main

import (
	"fmt"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// replay is a keyring.Kernel that answers from what keyinit-go-try saw in
// one snapshot: the session keyring the helper's thread got is possessed by
// that thread only, so this process could not describe it itself.
type replay map[string]replayAnswer

type replayAnswer struct {
	text  string // a description, or links as space-separated serials
	errno int
}

func replayKey(kind string, serial int) string { return kind + " " + strconv.Itoa(serial) }

// add records a "key" or "links" line (the part after the word).
func (r replay) add(kind, rest string) error {
	errno, serial, text, err := errnoSerial(rest)
	if err != nil {
		return err
	}
	if kind == "key" {
		text = unescape(text)
	}
	r[replayKey(kind, serial)] = replayAnswer{text: text, errno: errno}
	return nil
}

func (r replay) answer(kind string, serial int) (string, error) {
	a, ok := r[replayKey(kind, serial)]
	switch {
	case !ok:
		return "", fmt.Errorf("keyinit-go-try did not report the %s of %d", kind, serial)
	case a.errno != 0:
		return "", errnoErr(a.errno)
	}
	return a.text, nil
}

// Resolve is never needed: the helper reports the serial of @s.
func (r replay) Resolve(special int) (int, error) {
	return 0, fmt.Errorf("keyinit-go-try reports serials, not special ids")
}

func (r replay) Describe(serial int) (string, error) { return r.answer("key", serial) }

func (r replay) Read(serial int) ([]int, error) {
	text, err := r.answer("links", serial)
	if err != nil {
		return nil, err
	}
	var out []int
	for _, f := range strings.Fields(text) {
		n, err := strconv.Atoi(f)
		if err != nil {
			return nil, fmt.Errorf("keyinit-go-try reported link %q of %d", f, serial)
		}
		out = append(out, n)
	}
	return out, nil
}

// errnoErr is the error of a nonzero errno the helper reported, nil for 0.
func errnoErr(errno int) error {
	if errno == 0 {
		return nil
	}
	return unix.Errno(errno)
}
