// Package rt0 holds the Go core's .init_array entry, kig_core_rt0, which
// the link names with -E (Makefile) in place of the runtime's own entry.
//
// A c-shared Go library starts its runtime from .init_array, that is at
// dlopen, with the argv glibc hands constructors: the host's own, whose
// environment block the runtime reads its settings from (GOMAXPROCS,
// GODEBUG, GOTRACEBACK: the caller's, in a setuid host) and whose auxiliary
// vector it reads and writes (it overwrites the AT_RANDOM bytes). Called by
// ld.so, kig_core_rt0 does nothing; called by the core's kig_core_start
// (../core_entry.c) with the front's own argv, environment and auxiliary
// vector, it enters the runtime's library entry with them. The runtime then
// never reads nor writes the host's, and it starts only once the front has
// checked that it can run to the end (../front/preflight.c). Before that,
// kig_core_start asks it, with another value, for the address of the
// runtime's signal table, which it edits so that the runtime's threads
// keep every signal blocked (../runtime_guard.c).
package rt0
