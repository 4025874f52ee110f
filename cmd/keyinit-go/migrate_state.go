package main

// What "migrate --apply" records so that "--revert" can undo it exactly.

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// manifest is STATE/manifest.json. Each file's bytes before and after are
// kept in STATE/files/, named by the sha256 of its path.
type manifest struct {
	Version int            `json:"version"`
	Files   []manifestFile `json:"files"`
}

type manifestFile struct {
	Path   string `json:"path"`   // absolute, symbolic links resolved
	Before string `json:"before"` // sha256 of the original
	After  string `json:"after"`  // sha256 of what --apply wrote
}

const manifestVersion = 1

func sha256Hex(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

func manifestPath(stateDir string) string { return filepath.Join(stateDir, "manifest.json") }

// keptFile is where the original (".orig") or the migrated (".new") bytes
// of path are kept.
func keptFile(stateDir, path, ext string) string {
	return filepath.Join(stateDir, "files", sha256Hex([]byte(path))[:16]+ext)
}

// loadManifest returns an empty manifest when none is recorded.
func loadManifest(stateDir string) (manifest, error) {
	m := manifest{Version: manifestVersion}
	b, err := os.ReadFile(manifestPath(stateDir))
	if errors.Is(err, fs.ErrNotExist) {
		return m, nil
	}
	if err != nil {
		return m, err
	}
	if err := json.Unmarshal(b, &m); err != nil {
		return m, fmt.Errorf("%s: %v", manifestPath(stateDir), err)
	}
	if m.Version != manifestVersion {
		return m, fmt.Errorf("%s: version %d; this keyinit-go reads version %d", manifestPath(stateDir), m.Version, manifestVersion)
	}
	return m, nil
}

func (m manifest) find(path string) int {
	for i, f := range m.Files {
		if f.Path == path {
			return i
		}
	}
	return -1
}

// saveManifest writes the manifest atomically, or removes it (and the
// kept files) when it records nothing.
func saveManifest(stateDir string, m manifest) error {
	if len(m.Files) == 0 {
		if err := os.RemoveAll(filepath.Join(stateDir, "files")); err != nil {
			return err
		}
		if err := os.Remove(manifestPath(stateDir)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
		return nil
	}
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return err
	}
	return writeNew(manifestPath(stateDir), append(b, '\n'))
}

// keep records the bytes of a file before and after its migration.
func keep(stateDir string, mg migration) error {
	if err := os.MkdirAll(filepath.Join(stateDir, "files"), 0o700); err != nil {
		return err
	}
	if err := writeNew(keptFile(stateDir, mg.path, ".orig"), mg.before); err != nil {
		return err
	}
	return writeNew(keptFile(stateDir, mg.path, ".new"), mg.after)
}
