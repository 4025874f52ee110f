package test

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"pam_keyinit_go/test/harness"
)

// TestReadmeAgreesWithManPage: the README's "Differences from pam_keyinit"
// and "What the module does to the process that loads it" are summaries of
// the manual page, which is the reference: each point the README makes (its
// bold lead) is a point of the page, and each point of the page's lists is
// in the README, so neither can gain or lose one alone.
func TestReadmeAgreesWithManPage(t *testing.T) {
	root := harness.RepoRoot(t)
	readme, err := os.ReadFile(filepath.Join(root, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	page, _ := renderMan(t, filepath.Join(root, "doc", "pam_keyinit_go.8"))
	roff, err := os.ReadFile(filepath.Join(root, "doc", "pam_keyinit_go.8"))
	if err != nil {
		t.Fatal(err)
	}
	flat := normalise(page)
	for _, sec := range []struct{ readme, manStart, manEnd string }{
		{"## Differences from pam_keyinit", "this module:\n", ".SH \"THE PROCESS THAT LOADS THE MODULE\""},
		{"## What the module does to the process that loads it", ".SH \"THE PROCESS THAT LOADS THE MODULE\"", ".SH OPTIONS"},
	} {
		body := markdownSection(string(readme), sec.readme)
		leads := regexp.MustCompile(`\*\*([^*]+)\*\*`).FindAllStringSubmatch(body, -1)
		if len(leads) < 5 {
			t.Fatalf("README section %q has %d bold points; want its list", sec.readme, len(leads))
		}
		readmeLeads := map[string]bool{}
		for _, l := range leads {
			lead := normalise(l[1])
			readmeLeads[lead] = true
			if !strings.Contains(flat, lead) {
				t.Errorf("README %q says %q, which the manual page does not", sec.readme, l[1])
			}
		}
		// The page's points: the .B line after each .TP in that part.
		part := string(roff)
		part = part[strings.Index(part, sec.manStart):]
		part = part[:strings.Index(part, sec.manEnd)]
		for _, m := range regexp.MustCompile(`\.TP\n\.B ([^\n]+)\n`).FindAllStringSubmatch(part, -1) {
			lead := normalise(strings.ReplaceAll(m[1], `\-`, "-"))
			found := false
			for r := range readmeLeads {
				if strings.Contains(r, strings.TrimSuffix(lead, ".")) {
					found = true
				}
			}
			if !found {
				t.Errorf("the manual page's point %q is missing from README %q", m[1], sec.readme)
			}
		}
	}
}

// markdownSection is the text under a "## " heading, up to the next one.
func markdownSection(doc, heading string) string {
	i := strings.Index(doc, heading+"\n")
	if i < 0 {
		return ""
	}
	rest := doc[i+len(heading):]
	if j := strings.Index(rest, "\n## "); j >= 0 {
		rest = rest[:j]
	}
	return rest
}

// normalise lowercases s, drops backquotes and folds whitespace, so that a
// phrase matches whatever the line breaks of the rendered page.
func normalise(s string) string {
	s = strings.ToLower(strings.ReplaceAll(s, "`", ""))
	s = strings.ReplaceAll(s, "\u2010", "-")
	return strings.Join(strings.Fields(s), " ")
}
