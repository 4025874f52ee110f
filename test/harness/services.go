package harness

import (
	"os"
	"path/filepath"
	"testing"
)

// Service is a temporary PAM service file.
type Service struct {
	Name string
	Dir  string // its directory: /etc/pam.d, or a temp dir for pam_start_confdir
}

// Path is the service file's path.
func (s Service) Path() string { return filepath.Join(s.Dir, s.Name) }

// SystemService writes /etc/pam.d/kig-XXXXXXXX with body, for programs that
// read /etc/pam.d (pamtester, the C host programs); removed at cleanup.
func SystemService(t testing.TB, body string) Service {
	t.Helper()
	RequireRoot(t)
	s := Service{Name: RandomName("kig-"), Dir: "/etc/pam.d"}
	writeService(t, s, body)
	t.Cleanup(func() {
		if err := os.Remove(s.Path()); err != nil {
			t.Errorf("remove %s: %v", s.Path(), err)
		}
	})
	return s
}

// ConfDirService writes a service into a new temporary directory, for
// pam.StartConfDir; the directory goes with the test.
func ConfDirService(t testing.TB, body string) Service {
	t.Helper()
	s := Service{Name: RandomName("kig-"), Dir: t.TempDir()}
	writeService(t, s, body)
	return s
}

func writeService(t testing.TB, s Service, body string) {
	t.Helper()
	if err := os.WriteFile(s.Path(), []byte(body), 0o644); err != nil {
		t.Fatalf("write %s: %v", s.Path(), err)
	}
}
