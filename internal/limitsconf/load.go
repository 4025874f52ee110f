package limitsconf

import (
	"errors"
	"io/fs"
	"path/filepath"
	"sort"
	"strings"
)

// DefaultFile is pam_limits' main file; the limits.d directory beside it
// holds the others.
const DefaultFile = "/etc/security/limits.conf"

// Loader reads the files a pam_limits.so line reads.
type Loader struct {
	// Main is the main file for lines without conf= (DefaultFile outside
	// tests); pam_limits reads limits.d/*.conf beside it after it.
	Main string
	// ReadFile reads a file and Glob lists a directory's files (os.ReadFile
	// and filepath.Glob outside tests).
	ReadFile func(path string) ([]byte, error)
	Glob     func(pattern string) ([]string, error)
}

// Load returns the entries of the files a pam_limits.so line with args
// reads, in its order: the conf= file alone (pam_limits then skips
// limits.d), or Main and then limits.d/*.conf by name. A missing file has
// no entries: Linux-PAM 1.6 and later read limits.d without limits.conf
// (1.5 sets no limit then), and this reports what some version applies.
// Any other read error comes back: pam_limits then sets no limit at all.
func (l Loader) Load(args []string) ([]Entry, error) {
	if conf, ok := confArg(args); ok {
		return l.parse(conf)
	}
	entries, err := l.parse(l.Main)
	if err != nil {
		return nil, err
	}
	files, err := l.Glob(filepath.Join(filepath.Dir(l.Main), "limits.d", "*.conf"))
	if err != nil {
		return nil, err
	}
	sort.Strings(files) // glob(3) under LC_COLLATE=C, as pam_limits sets it
	for _, f := range files {
		if strings.HasPrefix(filepath.Base(f), ".") {
			continue // glob(3)'s "*" skips dot files; Go's does not
		}
		more, err := l.parse(f)
		if err != nil {
			return nil, err
		}
		entries = append(entries, more...)
	}
	return entries, nil
}

func (l Loader) parse(file string) ([]Entry, error) {
	data, err := l.ReadFile(file)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return Parse(file, data), nil
}

// confArg is pam_limits' conf= argument; the last one counts, as it parses
// its arguments in order.
func confArg(args []string) (conf string, ok bool) {
	for _, a := range args {
		if c, found := strings.CutPrefix(a, "conf="); found {
			conf, ok = c, true
		}
	}
	return conf, ok
}
