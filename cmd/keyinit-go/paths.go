package main

// Where things are on this system: the PAM module directory, files, links.

import (
	"fmt"
	"os"
	"path/filepath"

	"pam_keyinit_go/internal/pamdir"
)

// defaultModuleDir is where libpam loads modules from, or an error that
// says what to do.
func defaultModuleDir() (string, error) {
	d, err := pamdir.ModuleDir()
	if err != nil {
		return "", fmt.Errorf("%w: pass --module-dir DIR", err)
	}
	return d, nil
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
