package main

import (
	"fmt"
	"io"

	"pam_keyinit_go/cmd/keyinit-go/internal/keyring"
)

// tryReport is what "try" prints; its JSON form is the --json output.
type tryReport struct {
	Service string `json:"service"`
	File    string `json:"file"` // the service file libpam reads
	User    string `json:"user"`
	UID     uint32 `json:"uid"`
	GID     uint32 `json:"gid"`

	Before      *keyring.Key `json:"before"` // @s as a child process saw it before the open
	BeforeError string       `json:"before_error,omitempty"`

	AfterOpen      *keyring.Key `json:"after_open"` // @s of the thread after pam_open_session
	AfterOpenError string       `json:"after_open_error,omitempty"`
	OpenError      string       `json:"open_error,omitempty"`

	AfterClose *keyring.Key `json:"after_close"` // the after_open keyring after pam_close_session
	CloseError string       `json:"close_error,omitempty"`
	EndError   string       `json:"end_error,omitempty"`

	Messages []string        `json:"messages,omitempty"` // what modules said through the conversation
	Verdict  keyring.Verdict `json:"verdict"`
}

func (r *tryReport) writeText(w io.Writer) {
	fmt.Fprintf(w, "service %s (%s), user %s (uid %d, gid %d)\n", r.Service, r.File, r.User, r.UID, r.GID)

	fmt.Fprintln(w, "\nbefore open, as a child process sees it:")
	writeKey(w, r.Before, r.BeforeError)
	if r.Before != nil && r.Before.IsUserSession() {
		fmt.Fprintf(w, "  (keyinit-go has no session keyring of its own: this is the user-session keyring a child gets by looking)\n")
	}

	fmt.Fprintln(w, "\nafter pam_open_session:")
	if r.OpenError != "" {
		fmt.Fprintf(w, "  pam_open_session failed: %s\n", r.OpenError)
	}
	writeKey(w, r.AfterOpen, r.AfterOpenError)

	if r.AfterClose != nil || r.CloseError != "" {
		fmt.Fprintln(w, "\nafter pam_close_session:")
		if r.CloseError != "" {
			fmt.Fprintf(w, "  pam_close_session failed: %s\n", r.CloseError)
		}
		writeKey(w, r.AfterClose, "")
	}
	if r.EndError != "" {
		fmt.Fprintf(w, "\npam_end failed: %s\n", r.EndError)
	}

	mark := "OK"
	if !r.Verdict.OK {
		mark = "NOT OK"
	}
	fmt.Fprintf(w, "\nverdict (%s): %s\n", mark, r.Verdict.Text)
}

func writeKey(w io.Writer, k *keyring.Key, errText string) {
	switch {
	case k != nil:
		keyring.Render(w, *k, "  ")
	case errText != "":
		fmt.Fprintf(w, "  unknown: %s\n", errText)
	default:
		fmt.Fprintln(w, "  unknown")
	}
}
