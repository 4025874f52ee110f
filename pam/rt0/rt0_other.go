//go:build !amd64

package rt0

// The Go core starts its runtime through an entry written in assembly for
// each architecture (rt0_amd64.s); this one has none yet.
var _ = theGoCoreHasNoRuntimeEntryForThisArchitecture
