package main

import (
	"bytes"
	"slices"
	"strings"
	"testing"

	"pam_keyinit_go/cmd/keyinit-go/internal/keyring"
)

// The report format of keyinit-go-try, with the escapes, messages and an
// error: what parseHelper makes of it is what "try" prints.
func TestParseHelperReport(t *testing.T) {
	report := strings.Join([]string{
		`start 0 Success`,
		`conv info two\nlines and a \\`,
		`conv prompt Password: `,
		`open 14 Cannot make/remove an entry for the specified session`,
		`session 0 7`,
		`snapshot open`,
		`key 0 7 keyring;1001;1001;3f030000;we\\ird\nname`,
		`links 0 7 8 9`,
		`key 0 8 keyring;1001;1001;1f3f0000;_uid.1001`,
		`links 13 8`,
		`key 128 9`,
		`end 0 Success`,
	}, "\n") + "\n"
	var stderr bytes.Buffer
	rep, err := parseHelper(strings.NewReader(report), &stderr)
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"two\nlines and a \\", "refused prompt: Password: "}; !slices.Equal(rep.messages, want) {
		t.Errorf("messages %q; want %q", rep.messages, want)
	}
	if !strings.Contains(stderr.String(), `refused a prompt from a module ("Password: ")`) {
		t.Errorf("stderr %q does not show the refused prompt", stderr.String())
	}
	if got := rep.calls["open"].failure(); got != "Cannot make/remove an entry for the specified session (PAM code 14)" {
		t.Errorf("open failure %q", got)
	}
	if rep.calls["close"] != nil || rep.session != 7 || rep.sessionErr != nil {
		t.Errorf("close %+v, session %d (%v); want no close, 7", rep.calls["close"], rep.session, rep.sessionErr)
	}
	tree := keyring.Tree(rep.afterOpen, 7, keyring.MaxDepth, nil)
	if tree.Name != "we\\ird\nname" || len(tree.Links) != 2 {
		t.Fatalf("tree %+v; want the unescaped name and 2 links", tree)
	}
	if l := tree.Links[0]; l.Name != "_uid.1001" || l.Error != "cannot read its links: permission denied" {
		t.Errorf("link 8: %+v; want _uid.1001 whose links cannot be read (EACCES)", l)
	}
	if l := tree.Links[1]; !l.Revoked {
		t.Errorf("link 9: %+v; want revoked (EKEYREVOKED)", l)
	}
	if _, err := parseHelper(strings.NewReader("key 0 7 x\n"), &stderr); err == nil {
		t.Error("a key line outside a snapshot was accepted")
	}
}
