package main

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"

	"pam_keyinit_go/internal/trust"
	"pam_keyinit_go/internal/trust/trusttest"
	"pam_keyinit_go/test/harness"
)

// newTrustLayout is a trusttest.Layout with the built module in it.
func newTrustLayout(t *testing.T) trusttest.Layout {
	t.Helper()
	front, err := os.ReadFile(harness.Module(t))
	if err != nil {
		t.Fatal(err)
	}
	core, err := os.ReadFile(harness.Built(t, "pam_keyinit_go/core.so"))
	if err != nil {
		t.Fatal(err)
	}
	return trusttest.New(t, front, core)
}

// The trust rule is written twice, in C for the front (pam/front/trust.c)
// and in Go for check and migrate (internal/trust). Over the same
// directories, a root host running the real front (keyinit-go try, whose
// helper opens a session as root), "keyinit-go check" and trust.Core must
// agree on whether the core is loaded.
func TestTrustAgreesWithFront(t *testing.T) {
	u := harness.TempUser(t)
	logs := harness.Log(t)
	for _, tc := range trusttest.Cases {
		t.Run(tc.Name, func(t *testing.T) {
			l := newTrustLayout(t)
			tc.Spoil(t, l)
			svc := harness.ConfDirService(t, "session required "+l.Front+" force revoke\n")
			refused := tc.Bad != nil

			goErr := trust.Core(l.Core)
			var r *trust.Refusal
			if goErr != nil && !errors.As(goErr, &r) {
				t.Fatalf("trust.Core: %v; want a refusal or nil", goErr)
			}

			var rep checkReport
			keyinitGoJSON(t, &rep, "check", "--pam-dir", svc.Dir, "--module-dir", l.Mods, svc.Name)
			var untrusted []string
			for _, f := range rep.Findings {
				if f.Code == "untrusted-core" {
					untrusted = append(untrusted, f.Message)
				}
			}

			logs.Collect()
			var tried tryReport
			code := keyinitGoJSON(t, &tried, "try", "--conf-dir", svc.Dir, svc.Name, u.Name)
			refusals := harness.Matching(logs.Collect(), "pam_keyinit_go(", "is not trusted: ")
			frontRefused := len(refusals) > 0
			// Refused or not, the session opens: the plain keyinit in C
			// makes the keyring where the core is not trusted.
			if code != 0 || tried.OpenError != "" {
				t.Errorf("the front: exit %d, open error %q, refusals logged %v; want the session opened", code, tried.OpenError, refusals)
			}

			if frontRefused != refused || (goErr != nil) != refused || (len(untrusted) > 0) != refused {
				t.Errorf("refused: the front %t (%v), trust.Core %t (%v), check %t (%q); want all %t",
					frontRefused, refusals, goErr != nil, goErr, len(untrusted) > 0, untrusted, refused)
			}
			if r != nil && len(refusals) == 1 && !strings.Contains(refusals[0].Text, r.Bad+" must be a root-owned "+r.What+" that group and others cannot write") {
				t.Errorf("the front says %q; trust.Core %q: they name different things to fix", refusals[0].Text, goErr)
			}
			if r != nil && len(untrusted) == 1 && !strings.Contains(untrusted[0], goErr.Error()) {
				t.Errorf("check says %q; want it to say %q", untrusted[0], goErr)
			}
		})
	}
}

// --apply refuses, changing nothing, when a root host would not load the
// Go core of the module directory the migrated lines name.
func TestMigrateRefusesUntrustedCore(t *testing.T) {
	harness.RequireRoot(t)
	l := newTrustLayout(t)
	trusttest.Chmod(t, l.CoreDir, 0o775)
	dir := copyDir(t, "testdata/migrate/debian12")
	refusal(t, dir, fmt.Sprintf("a root host would not load the Go core in %s, where libpam loads modules from: %s must be a root-owned directory that group and others cannot write",
		l.Mods, l.CoreDir), "--module-dir", l.Mods)
	// The plan alone still shows the diff.
	if out, errOut, code := keyinitGo(t, "migrate", "--pam-dir", dir, "--module-dir", l.Mods); code != 0 || !strings.Contains(out, "+++ ") {
		t.Errorf("migrate without --apply: exit %d\n%s\n%s", code, out, errOut)
	}
}
