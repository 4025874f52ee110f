package main

import (
	"errors"
	"fmt"
	"io"

	"github.com/msteinert/pam/v2"
)

// conversation shows modules' messages and refuses prompts.
type conversation struct {
	stderr   io.Writer
	messages []string
}

func (c *conversation) RespondPAM(style pam.Style, msg string) (string, error) {
	switch style {
	case pam.TextInfo, pam.ErrorMsg:
		c.messages = append(c.messages, msg)
		fmt.Fprintf(c.stderr, "keyinit-go try: module says: %s\n", msg)
		return "", nil
	}
	c.messages = append(c.messages, "refused prompt: "+msg)
	fmt.Fprintf(c.stderr, "keyinit-go try: refused a prompt from a module (%q): try answers no prompts\n", msg)
	return "", errors.New("keyinit-go try answers no prompts")
}
