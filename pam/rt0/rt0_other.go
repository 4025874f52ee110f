//go:build !amd64 && !arm64 && !ppc64le && !s390x && !riscv64

package rt0

// The Go core starts its runtime through an entry written in assembly for
// each architecture (rt0_ARCH.s), which kig_core_start recognises by its
// bytes; this architecture has none yet. ../core_entry.c says how one is
// added.
var _ = theGoCoreHasNoRuntimeEntryForThisArchitecture
