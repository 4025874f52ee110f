package pamconf

import (
	"fmt"
	"io/fs"
	"os"
	"path"
	"reflect"
	"strings"
	"testing"

	"pam_keyinit_go/internal/limitsconf"
	"pam_keyinit_go/internal/runtimefloor"
)

const (
	before = "session required pam_limits.so\nsession optional pam_keyinit_go.so force revoke\n"
	after  = "session optional pam_keyinit_go.so force revoke\nsession required pam_limits.so\n"
)

// limitFindings checks service "login" with file text pamd, reading the
// limits files from files (pam_limits' main file is /sec/limits.conf).
func limitFindings(t *testing.T, pamd string, files map[string]string) []Finding {
	t.Helper()
	read := func(p string) ([]byte, error) {
		if p == "/pam.d/login" {
			return []byte(pamd), nil
		}
		if s, ok := files[p]; ok {
			return []byte(s), nil
		}
		if p == "/sec/unreadable.conf" {
			return nil, os.ErrPermission
		}
		return nil, fs.ErrNotExist
	}
	glob := func(pattern string) ([]string, error) {
		var out []string
		for p := range files {
			if ok, _ := path.Match(pattern, p); ok {
				out = append(out, p)
			}
		}
		return out, nil
	}
	svc, bad := Loader{Dir: "/pam.d", ReadFile: read}.Load("login", "/pam.d/login")
	if len(bad) != 0 {
		t.Fatalf("load: %v", bad)
	}
	c := Checker{Limits: &limitsconf.Loader{Main: "/sec/limits.conf", ReadFile: read, Glob: glob}}
	return c.runtimeLimits(svc)
}

func TestRuntimeLimits(t *testing.T) {
	as := fmt.Sprint(runtimefloor.AddressSpaceLimitKiB())
	data := fmt.Sprint(runtimefloor.DataLimitKiB())
	for _, tc := range []struct {
		name  string
		pamd  string
		files map[string]string
		want  string   // "file:line code", "" for no finding
		parts []string // what its message says
	}{
		{"as before", before, map[string]string{"/sec/limits.conf": "# x\nalice hard as 600000\n"},
			"/sec/limits.conf:2 low-limit", []string{"service login: pam_limits.so (/pam.d/login:1) runs before pam_keyinit_go.so",
				"the hard as limit of alice to 600000 KiB", "below the " + as + " KiB the module needs", "refuses to start its Go runtime (one log line)", "the session gets no keyring",
				"raise as to at least " + as + " KiB for alice"}},
		{"data from limits.d", before, map[string]string{"/sec/limits.conf": "", "/sec/limits.d/20-staff.conf": "@staff soft data 50000\n"},
			"/sec/limits.d/20-staff.conf:1 low-limit", []string{"the soft data limit of @staff to 50000 KiB", "at least " + data + " KiB for @staff"}},
		// glibc sizes thread stacks from the limit the process started with,
		// before pam_limits: a stack item changes nothing for the module.
		{"stack", before, map[string]string{"/sec/limits.conf": "* - stack 128\nbob hard stack 100000000\n"}, "", nil},
		{"required keyinit line", "session required pam_limits.so\nsession required pam_keyinit_go.so force revoke\n",
			map[string]string{"/sec/limits.conf": "alice hard as 600000\n"},
			"/sec/limits.conf:1 low-limit", []string{`under control "required" the session fails to open`}},
		{"as after", after, map[string]string{"/sec/limits.conf": "alice hard as 600000\nalice soft stack 128\n"},
			"/sec/limits.conf:1 low-limit-after", []string{"runs after pam_keyinit_go.so", "the hard as limit of alice to 600000 KiB",
				"later memory mappings fail", "raise as to at least " + as + " KiB for alice"}},
		{"conf= names the file", strings.Replace(before, "pam_limits.so", "pam_limits.so conf=/sec/other.conf", 1),
			map[string]string{"/sec/limits.conf": "alice hard as 600000\n", "/sec/other.conf": "\neve hard data 1000\n"},
			"/sec/other.conf:2 low-limit", []string{"pam_limits.so (/pam.d/login:1)", "data limit of eve"}},
		{"unreadable", strings.Replace(before, "pam_limits.so", "pam_limits.so conf=/sec/unreadable.conf", 1), map[string]string{},
			"/pam.d/login:1 low-limit", []string{"cannot read the limits pam_limits.so sets", "permission denied"}},
		{"unlimited", before, map[string]string{"/sec/limits.conf": "alice hard as unlimited\nalice - data -1\n@staff soft stack infinity\n"}, "", nil},
		{"above the floor", before, map[string]string{"/sec/limits.conf": "alice hard as " + as + "\n* - data 20000000\n* soft stack 8192\n"}, "", nil},
		{"no pam_limits", "session optional pam_keyinit_go.so\n", map[string]string{"/sec/limits.conf": "alice hard as 600000\n"}, "", nil},
		{"pam_limits ignores", before, map[string]string{"/sec/limits.conf": "%admins hard as 1\nalice hard nofile 1\nalice -\ndave hard as\n"}, "", nil},
		{"C module", "session required pam_limits.so\nsession optional pam_keyinit.so force revoke\n", map[string]string{"/sec/limits.conf": "alice hard as 600000\n"}, "", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fs := limitFindings(t, tc.pamd, tc.files)
			var got []string
			for _, f := range fs {
				got = append(got, fmt.Sprintf("%s %s", f.Pos, f.Code))
				if f.Severity != Warning || f.Service != "login" || strings.Contains(f.Message, "\n") {
					t.Errorf("%v: want a one-line warning for service login", f)
				}
			}
			var want []string
			if tc.want != "" {
				want = []string{tc.want}
			}
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("findings %q; want %q (%v)", got, want, fs)
			}
			for _, p := range tc.parts {
				if !strings.Contains(fs[0].Message, p) {
					t.Errorf("message %q does not say %q", fs[0].Message, p)
				}
			}
		})
	}
}
