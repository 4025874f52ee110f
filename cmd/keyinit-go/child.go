package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/user"
	"strconv"

	"pam_keyinit_go/cmd/keyinit-go/internal/keyring"
	"pam_keyinit_go/internal/keys"
)

// childCommand is the hidden command "try" runs in a child process to see
// the session keyring it would pass on, without looking at it itself: a
// thread with no session keyring that looks up @s gets its user-session
// keyring installed, which would change what the modules under test see.
const childCommand = "__session-keyring"

// runChild prints @s as this (child) process sees it, as JSON.
func runChild(stdout, stderr io.Writer) int {
	k := keyring.Real{}
	serial, err := k.Resolve(keys.Session)
	if err != nil {
		fmt.Fprintf(stderr, "keyinit-go: look up the session keyring: %v\n", err)
		return exitUsage
	}
	if err := json.NewEncoder(stdout).Encode(keyring.Tree(k, serial, keyring.MaxDepth, userName)); err != nil {
		return exitUsage
	}
	return exitOK
}

// inheritedSessionKeyring is @s as a child of this thread sees it. The
// child is forked from the calling thread (locked in init), so it inherits
// that thread's credentials and keyrings.
func inheritedSessionKeyring() (*keyring.Key, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("find this program to run it as a child: %v", err)
	}
	cmd := exec.Command(self, childCommand)
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("%s %s: %v", self, childCommand, err)
	}
	var key keyring.Key
	if err := json.Unmarshal(out, &key); err != nil {
		return nil, fmt.Errorf("%s %s printed %q: %v", self, childCommand, out, err)
	}
	return &key, nil
}

var userNames = map[uint32]string{}

// userName is the name of uid through NSS, "" if it has none.
func userName(uid uint32) string {
	if n, ok := userNames[uid]; ok {
		return n
	}
	n := ""
	if u, err := user.LookupId(strconv.FormatUint(uint64(uid), 10)); err == nil {
		n = u.Username
	}
	userNames[uid] = n
	return n
}
