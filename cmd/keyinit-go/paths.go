package main

// Where things are on this system: the PAM module directory, files, links.

import (
	"errors"
	"os"
	"path/filepath"
	"runtime"
)

// multiarch is Debian's multiarch triplet of each GOARCH.
var multiarch = map[string]string{
	"amd64": "x86_64-linux-gnu", "arm64": "aarch64-linux-gnu", "386": "i386-linux-gnu",
	"arm": "arm-linux-gnueabihf", "ppc64le": "powerpc64le-linux-gnu", "s390x": "s390x-linux-gnu",
	"riscv64": "riscv64-linux-gnu", "mips64le": "mips64el-linux-gnuabi64", "loong64": "loongarch64-linux-gnu",
}

// systemModuleDir is the directory libpam loads relative module names from:
// the first of the usual places that holds pam_permit.so, which every
// Linux-PAM installation has. "" if none does.
func systemModuleDir() string {
	var dirs []string
	if t, ok := multiarch[runtime.GOARCH]; ok {
		dirs = append(dirs, "/lib/"+t+"/security", "/usr/lib/"+t+"/security")
	}
	dirs = append(dirs, "/lib64/security", "/usr/lib64/security", "/lib/security", "/usr/lib/security")
	for _, d := range dirs {
		if _, err := os.Stat(filepath.Join(d, "pam_permit.so")); err == nil {
			return d
		}
	}
	return ""
}

// defaultModuleDir is systemModuleDir, or an error that says what to do.
func defaultModuleDir() (string, error) {
	if d := systemModuleDir(); d != "" {
		return d, nil
	}
	return "", errors.New("cannot find the PAM module directory (no pam_permit.so in the usual places): pass --module-dir DIR")
}

func fileExists(p string) bool {
	st, err := os.Stat(p)
	return err == nil && !st.IsDir()
}

// realPath is p with symbolic links resolved, or p if that fails. It stays
// relative when p is, so findings keep the paths the admin gave.
func realPath(p string) string {
	r, err := filepath.EvalSymlinks(p)
	if err != nil {
		return p
	}
	return r
}
