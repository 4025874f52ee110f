package limitsconf

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func osLoader(main string) Loader {
	return Loader{Main: main, ReadFile: os.ReadFile, Glob: filepath.Glob}
}

// limits.conf first, then limits.d's *.conf files by name, no dot files;
// conf= names a file read alone.
func TestLoadOrder(t *testing.T) {
	for _, tc := range []struct {
		main string
		args []string
		want []string
	}{
		{"testdata/limits.conf", nil, []string{"testdata/limits.conf", "testdata/limits.d/10-early.conf", "testdata/limits.d/20-late.conf"}},
		{"testdata/limits.conf", []string{"debug", "conf=testdata/limits.conf", "conf=testdata/other.conf"}, []string{"testdata/other.conf"}},
		{"testdata/no-such.conf", nil, []string{"testdata/limits.d/10-early.conf", "testdata/limits.d/20-late.conf"}},
		{"testdata/limits.conf", []string{"conf=testdata/no-such.conf"}, nil},
	} {
		entries, err := osLoader(tc.main).Load(tc.args)
		if err != nil {
			t.Fatalf("%s %q: %v", tc.main, tc.args, err)
		}
		var files []string
		for _, e := range entries {
			if n := len(files); n == 0 || files[n-1] != e.File {
				files = append(files, e.File)
			}
		}
		if !reflect.DeepEqual(files, tc.want) {
			t.Errorf("%s %q: files %q; want %q", tc.main, tc.args, files, tc.want)
		}
	}
}

// A file that exists but cannot be read is an error: pam_limits then sets
// no limit, and the caller cannot say what it would have set.
func TestLoadReadError(t *testing.T) {
	l := osLoader("testdata/limits.conf")
	l.ReadFile = func(p string) ([]byte, error) {
		if strings.HasSuffix(p, "20-late.conf") {
			return nil, os.ErrPermission
		}
		return os.ReadFile(p)
	}
	if es, err := l.Load(nil); err == nil || es != nil {
		t.Errorf("Load = %d entries, %v; want none and an error", len(es), err)
	}
}
